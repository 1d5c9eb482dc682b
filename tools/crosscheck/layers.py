"""Random layers written by PyTorch, for `examples/layer_crosscheck.rs`.

    python3 tools/crosscheck/layers.py SEED DIR

For each case (a new draw of sizes and options per seed) it writes
`DIR/NNN_KIND.safetensors`, the layer's `state_dict` under PyTorch's names
(before the forward pass: batch norm's running statistics as they were),
and `DIR/NNN_KIND.io.safetensors`: the input (`input.x`, or `input.idx`
for an embedding), an attention mask (`mask`, 1 where a key is
forbidden) where the case has one, a cotangent `cot` and a direction
`v`, and what
PyTorch computes in float64 — `output`, the gradient of `sum(output·cot)`
for the input (`grad.input`) and for every parameter (`grad.NAME`), the
Hessian-vector product `∂/∂x ⟨grad.input, v⟩` (`hvp.input`, second order
through the layer), and for batch norm in training the running statistics
after the pass (`after.NAME`). The case's kind and options are the io
file's metadata (`cfg`: `kind=conv2d in=2 k=3,1 ...`), read by the Rust
side to build the same layer before loading the state by name.
"""
import copy
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn.attention import SDPBackend, sdpa_kernel

torch.set_default_dtype(torch.float64)
seed = int(sys.argv[1])
out_dir = sys.argv[2]
# also PyTorch's float32 results, for mnemon's f32 kernels (compared with
# the float64 truth, each error against PyTorch's own in float32)
F32 = "--f32" in sys.argv[3:]
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(1000 + seed)
torch.manual_seed(seed)


def ri(lo, hi):
    return int(rng.integers(lo, hi + 1))


def randn(*shape):
    return torch.tensor(rng.standard_normal(shape))


def shuffle_params(m):
    # torch's initialisations leave some parameters at 0 or 1 (biases,
    # norms' affine maps, running statistics): draw every one anew
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if t.dtype != torch.float64:
                continue
            r = randn(*t.shape)
            if "running_var" in name:
                r = r.abs() + 0.5
            t.copy_(r)


def causal(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)


def random_mask(lq, lk):
    # every row keeps at least one key: PyTorch's MultiheadAttention gives
    # NaN for a row with every key masked (mnemon 0, as its SDPA does)
    m = torch.tensor(rng.random((lq, lk)) < 0.4)
    for i in range(lq):
        if m[i].all():
            m[i, ri(0, lk - 1)] = False
    return m


count = 0


def cfg_text(cfg):
    def val(v):
        if isinstance(v, bool):
            return str(int(v))
        if isinstance(v, (list, tuple)):
            return ",".join(str(x) for x in v)
        return v if isinstance(v, str) else repr(v)
    return " ".join(f"{k}={val(v)}" for k, v in cfg.items())


def derive(module, x, run, hvp, draw):
    """Output, gradients (input, then every parameter), Hessian-vector
    product through the input's gradient, buffers after: the values
    `case` writes, by their names. `draw(shape)` gives the cotangent and
    the direction (drawn once, for the float64 pass)."""
    out = {}
    params = dict(module.named_parameters())
    if x.is_floating_point():
        x = x.detach().clone().requires_grad_(True)
    # the math kernel of attention: PyTorch's fused CPU kernel has no
    # second derivative ("derivative for ..._flash_attention_for_cpu_backward
    # is not implemented")
    with sdpa_kernel(SDPBackend.MATH):
        y = run(module, x)
    cot = draw("cot", y.shape).to(y.dtype)
    wrt = ([x] if x.requires_grad else []) + list(params.values())
    grads = torch.autograd.grad((y * cot).sum(), wrt, create_graph=True, allow_unused=True)
    grads = [g if g is not None else torch.zeros_like(w) for g, w in zip(grads, wrt)]
    out["output"] = y
    if x.requires_grad:
        out["grad.input"] = grads[0]
        v = draw("v", x.shape).to(x.dtype)
        if hvp:
            h = None
            if grads[0].requires_grad:
                (h,) = torch.autograd.grad((grads[0] * v).sum(), x, allow_unused=True)
            out["hvp.input"] = h if h is not None else torch.zeros_like(x)
        grads = grads[1:]
    for (name, _), g in zip(params.items(), grads):
        out["grad." + name] = g
    for name, b in module.named_buffers():
        if b.is_floating_point():
            out["after." + name] = b
    return {k: v.detach().to(torch.float64).clone().contiguous() for k, v in out.items()}


def write(kind, cfg, state, io):
    global count
    if F32:
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        cfg = dict(cfg, dtype="f32")
    stem = os.path.join(out_dir, f"{count:03d}_{kind}")
    save_file(state, stem + ".safetensors")
    save_file({k: v.contiguous() for k, v in io.items()}, stem + ".io.safetensors",
              metadata={"cfg": cfg_text(dict(kind=kind, **cfg))})
    count += 1


def case(kind, cfg, module, x, run, hvp=True, mask=None, extra=None):
    """Runs `run(module, x)`, its gradients and Hessian-vector product, and
    writes the two files (with `--f32`, PyTorch's float32 results too)."""
    state = {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}
    m32 = copy.deepcopy(module).float() if F32 else None
    io = {}
    if x.is_floating_point():
        io["input.x"] = x.detach().clone()
    else:
        io["input.idx"] = x.clone()
    if mask is not None:
        io["mask"] = mask.to(torch.float64)
    io.update(extra or {})

    def draw(name, shape):
        if name not in io:
            io[name] = randn(*shape)
        return io[name]
    io.update(derive(module, x, run, hvp, draw))
    if F32:
        x32 = x.float() if x.is_floating_point() else x
        io.update({"torch32." + k: v for k, v in derive(m32, x32, run, hvp, draw).items()})
    write(kind, cfg, state, io)


def forward(m, x):
    return m(x)


for i in range(6):
    lead = [ri(1, 3) for _ in range(ri(0, 2))]
    n_in, n_out, bias = ri(1, 6), ri(1, 6), bool(i % 2)
    m = torch.nn.Linear(n_in, n_out, bias=bias)
    shuffle_params(m)
    case("linear", {"in": n_in, "out": n_out, "bias": bias}, m, randn(*lead, n_in), forward)

def conv2d_case(bias, chans, k_max, size, batch, padded):
    """A random Conv2d: `chans` channels a group, kernels up to `k_max`,
    an input of `size` (at least one window; with `padded`, counting the
    padding) and a batch up to `batch`."""
    g = ri(1, 3)
    cin, cout = g * ri(*chans), g * ri(*chans)
    k, s, p, d = [ri(1, k_max), ri(1, k_max)], [ri(1, 2), ri(1, 2)], [ri(0, 2), ri(0, 2)], [ri(1, 2), ri(1, 2)]
    span = [d[j] * (k[j] - 1) + 1 - (2 * p[j] if padded else 0) for j in range(2)]
    h, w = max(ri(*size), span[0]), max(ri(*size), span[1])
    m = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
    shuffle_params(m)
    cfg = {"in": cin, "out": cout, "k": k, "stride": s, "padding": p, "dilation": d, "groups": g, "bias": bias}
    case("conv2d", cfg, m, randn(ri(1, batch), cin, h, w), forward)


for i in range(8):
    conv2d_case(bool(i % 2), (1, 2), 3, (1, 7), 2, True)

for i in range(6):
    g = ri(1, 3)
    cin, cout = g * ri(1, 2), g * ri(1, 2)
    k, s, p, d = ri(1, 4), ri(1, 3), ri(0, 3), ri(1, 2)
    n = max(ri(1, 9), d * (k - 1) + 1 - 2 * p)
    bias = bool(i % 2)
    m = torch.nn.Conv1d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
    shuffle_params(m)
    cfg = {"in": cin, "out": cout, "k": k, "stride": s, "padding": p, "dilation": d, "groups": g, "bias": bias}
    case("conv1d", cfg, m, randn(ri(1, 2), cin, n), forward)

# large enough for gemm (past the small-product loops), the weight
# transposed first (rows >= 64, in >= 256), and the product split
for i in range(3):
    n_in, n_out = [ri(200, 300), ri(20, 70), ri(3, 9)][i], ri(5, 40)
    m = torch.nn.Linear(n_in, n_out, bias=bool(i % 2))
    shuffle_params(m)
    case("linear", {"in": n_in, "out": n_out, "bias": bool(i % 2)}, m, randn(ri(60, 130), n_in), forward)
for i in range(3):
    conv2d_case(bool(i % 2), (3, 8), 5, (8, 20), 3, False)

for i in range(6):
    shape = [ri(1, 3) for _ in range(ri(1, 3))]
    shape[-1] = max(shape[-1], 3)
    dims = ri(1, len(shape))
    norm = shape[len(shape) - dims:]
    eps = 10.0 ** -ri(1, 6)
    m = torch.nn.LayerNorm(norm, eps=eps)
    shuffle_params(m)
    case("layer_norm", {"shape": norm, "eps": eps}, m, randn(*shape) * 10.0 ** ri(-2, 2), forward)

for i in range(10):
    c = ri(1, 4)
    rank = [2, 3, 4][i % 3]
    shape = [ri(1, 3), c] + [ri(1, 4) for _ in range(rank - 2)]
    if shape[0] * int(np.prod(shape[2:])) == 1:
        shape[0] = 2
    training = i % 4 != 3
    m = (torch.nn.BatchNorm2d if rank == 4 else torch.nn.BatchNorm1d)(c, eps=10.0 ** -ri(2, 5), momentum=float(rng.choice([0.1, 0.3])))
    shuffle_params(m)
    m.train(training)
    cfg = {"channels": c, "eps": m.eps, "momentum": m.momentum, "training": training}
    case("batch_norm", cfg, m, randn(*shape) * 3.0 + 1.0, forward)

for i in range(4):
    num, dim = ri(1, 6), ri(1, 4)
    m = torch.nn.Embedding(num, dim)
    shuffle_params(m)
    shape = [ri(1, 3) for _ in range(ri(1, 2))]
    idx = torch.tensor(rng.integers(0, num, size=shape), dtype=torch.int64)
    case("embedding", {"num": num, "dim": dim}, m, idx, forward)

for i in range(8):
    heads, hd = ri(1, 3), ri(1, 4)
    e = heads * hd
    b, l = ri(1, 2), ri(1, 6)
    m = torch.nn.MultiheadAttention(e, heads, batch_first=True)
    shuffle_params(m)
    mask = [None, causal(l), random_mask(l, l)][i % 3]
    cfg = {"embed": e, "heads": heads}

    def attend(m, x, mask=mask):
        return m(x, x, x, attn_mask=mask, need_weights=False)[0]
    case("mha", cfg, m, randn(b, l, e), attend, mask=mask)

for i in range(4):
    # longer sequences and wider heads: the attention kernels' runs of 16
    # keys, blocks of 4 query rows and their remainders
    heads, hd = ri(1, 3), ri(5, 20)
    e, b, l = heads * hd, ri(1, 2), ri(15, 40)
    m = torch.nn.MultiheadAttention(e, heads, batch_first=True)
    shuffle_params(m)
    mask = [None, causal(l), random_mask(l, l), causal(l)][i]

    def attend(m, x, mask=mask):
        return m(x, x, x, attn_mask=mask, need_weights=False)[0]
    case("mha", {"embed": e, "heads": heads}, m, randn(b, l, e), attend, mask=mask)

for i in range(4):
    # width 3 or more: a layer norm over one element gives x̂ = 0 exactly
    # in mnemon and rounding noise of 1e-15 in PyTorch (see cases.py)
    heads = ri(1, 2)
    hd = max(ri(1, 4), -(-3 // heads))
    d, ff = heads * hd, ri(1, 8)
    b, l = ri(1, 2), ri(1, 5)
    m = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    shuffle_params(m)
    m.eval()  # dropout 0 either way; eval skips torch's fast-path checks
    m.train()
    mask = [None, causal(l)][i % 2]
    cfg = {"d": d, "heads": heads, "ff": ff}

    def enc(m, x, mask=mask):
        return m(x, src_mask=mask)
    case("encoder", cfg, m, randn(b, l, d), enc, mask=mask)

for i in range(4):
    n_in, hidden = ri(1, 4), ri(1, 4)
    m = torch.nn.GRU(n_in, hidden, batch_first=True)
    shuffle_params(m)

    def states(m, x):
        return m(x)[0]
    case("gru", {"in": n_in, "hidden": hidden}, m, randn(ri(1, 2), ri(1, 4), n_in), states)

# empty batches: every layer passes them through (PyTorch's shapes)
m = torch.nn.Linear(3, 2)
shuffle_params(m)
case("linear", {"in": 3, "out": 2, "bias": True}, m, randn(0, 3), forward)
m = torch.nn.Conv2d(2, 4, (2, 3), padding=(1, 0), groups=2)
shuffle_params(m)
cfg = {"in": 2, "out": 4, "k": [2, 3], "stride": [1, 1], "padding": [1, 0], "dilation": [1, 1], "groups": 2, "bias": True}
case("conv2d", cfg, m, randn(0, 2, 3, 3), forward)
m = torch.nn.LayerNorm([4])
shuffle_params(m)
case("layer_norm", {"shape": [4], "eps": 1e-5}, m, randn(0, 4), forward)
m = torch.nn.Embedding(3, 2)
shuffle_params(m)
case("embedding", {"num": 3, "dim": 2}, m, torch.zeros(2, 0, dtype=torch.int64), forward)
m = torch.nn.GRU(2, 3, batch_first=True)
shuffle_params(m)
case("gru", {"in": 2, "hidden": 3}, m, randn(0, 2, 2), lambda m, x: m(x)[0])


# Losses over every reduction: a module-less case (an empty state), the
# target `input.t` (or the classes, `input.idx`)
class Loss(torch.nn.Module):
    def __init__(self, f, t):
        super().__init__()
        self.f = f
        # a buffer, so that `.float()` converts it; not in the state
        self.register_buffer("t", t, persistent=False)

    def forward(self, x):
        return self.f(x, self.t)


F = torch.nn.functional
for i in range(12):
    name = ["mse", "bce", "bce_logits", "ce"][i % 4]
    reduction = ["mean", "sum", "none"][(i // 4) % 3]
    n, c = ri(0, 4) if i % 5 == 0 else ri(1, 4), ri(1, 5)
    cfg = {"loss": name, "reduction": reduction}
    if name == "ce":
        classes = torch.tensor(rng.integers(0, c, size=n), dtype=torch.int64)
        m = Loss(lambda x, t: F.cross_entropy(x, t, reduction=reduction), classes)
        x = randn(n, c) * 3.0
        case("loss", cfg, m, x, forward, extra={"input.idx": classes})
        continue
    if name == "bce":
        x = torch.tensor(rng.uniform(0.05, 0.95, size=(n, c)))
        t = torch.tensor(rng.uniform(0.0, 1.0, size=(n, c)))
        f = lambda x, t: F.binary_cross_entropy(x, t, reduction=reduction)
    elif name == "bce_logits":
        x, t = randn(n, c) * 3.0, torch.tensor(rng.uniform(0.0, 1.0, size=(n, c)))
        f = lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction)
    else:
        x, t = randn(n, c), randn(n, c)
        f = lambda x, t: F.mse_loss(x, t, reduction=reduction)
    case("loss", cfg, Loss(f, t), x, forward, extra={"input.t": t})

# Optimizers and schedules: a few params (the state file, named "0",
# "1", ...), six steps of random gradients (a param with none at some
# step is skipped, as PyTorch skips a `None` grad), the params after each.
def schedule(opt, kind, lr, total):
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=lr / 10)
    if kind == "warmup":
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / 2, total_iters=1)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - 2, eta_min=0.0)
        return torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[2])
    return None


for i in range(12):
    params = [torch.nn.Parameter(randn(*[ri(1, 3) for _ in range(ri(0, 2))])) for _ in range(ri(1, 3))]
    lr = float(rng.choice([0.01, 0.1, 0.5]))
    wd = float(rng.choice([0.0, 0.0, 0.01, 0.3]))
    kind = ["sgd", "adam", "adamw"][i % 3]
    cfg = {"kind": "optim", "opt": kind, "lr": lr, "wd": wd, "steps": 6}
    if kind == "sgd":
        mu = float(rng.choice([0.0, 0.9]))
        nesterov = mu > 0 and bool(rng.integers(0, 2))
        def make(ps):
            return torch.optim.SGD(ps, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd)
        cfg.update(momentum=mu, nesterov=nesterov)
    else:
        b1, b2, eps = float(rng.choice([0.9, 0.5])), float(rng.choice([0.999, 0.9])), float(rng.choice([1e-8, 1e-3]))
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        def make(ps):
            return cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        cfg.update(beta1=b1, beta2=b2, eps=eps)
    clip = float(rng.choice([0.0, 0.5, 5.0]))
    cfg["clip"] = clip
    sched_kind = ["none", "step", "cosine", "warmup"][ri(0, 3)]
    cfg["schedule"] = sched_kind
    opt = make(params)
    sched = schedule(opt, sched_kind, lr, 6)
    state = {str(j): p.detach().clone() for j, p in enumerate(params)}
    io = {}
    grads = [[None if k > 0 and rng.random() < 0.2 else randn(*p.shape) for p in params] for k in range(6)]

    def steps(params, opt, sched, prefix):
        for k in range(6):
            for j, p in enumerate(params):
                g = grads[k][j]
                # a copy: clipping scales the grad in place
                p.grad = None if g is None else g.to(p.dtype, copy=True)
                if g is not None:
                    io[f"grad.{k}.{j}"] = g
            if clip > 0:
                torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
            opt.step()
            if sched is not None:
                sched.step()
            for j, p in enumerate(params):
                io[f"{prefix}after.{k}.{j}"] = p.detach().to(torch.float64).clone()
    steps(params, opt, sched, "")
    if F32:
        p32 = [torch.nn.Parameter(state[str(j)].float()) for j in range(len(params))]
        opt32 = make(p32)
        steps(p32, opt32, schedule(opt32, sched_kind, lr, 6), "torch32.")
    write("optim", {k: v for k, v in cfg.items() if k != "kind"}, state, io)

# The RNN (tanh) and LSTM beside the GRU (last, so that the draws above
# stay as they were): PyTorch's parameter names and layout, so the state
# loads by name; longer sequences for the vanishing and saturating paths,
# and an empty batch
for i in range(6):
    kind = ["rnn", "lstm"][i % 2]
    n_in, hidden = ri(1, 4), ri(1, 5)
    m = (torch.nn.RNN if kind == "rnn" else torch.nn.LSTM)(n_in, hidden, batch_first=True)
    shuffle_params(m)
    x = randn(ri(1, 3), ri(1, 4) if i < 4 else ri(10, 20), n_in) * [1.0, 3.0][i % 3 == 2]
    case(kind, {"in": n_in, "hidden": hidden}, m, x, lambda m, x: m(x)[0])
for kind in ["rnn", "lstm"]:
    m = (torch.nn.RNN if kind == "rnn" else torch.nn.LSTM)(2, 3, batch_first=True)
    shuffle_params(m)
    case(kind, {"in": 2, "hidden": 3}, m, randn(0, 2, 2), lambda m, x: m(x)[0])

# From a given state (`rnn(x, h0)`, `lstm(x, (h0, c0))`; PyTorch's shape
# [layers · directions, batch, hidden]): the output is every state, then
# h_n (and c_n), flattened into one vector; stacked and bidirectional
# layers among them
RNNS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
for i in range(9):
    kind = ["rnn", "lstm", "gru"][i % 3]
    n_in, hidden, b = ri(1, 4), ri(1, 5), ri(1, 3)
    layers, bi = (1, False) if i < 3 else (ri(1, 3), bool(rng.integers(0, 2)))
    m = RNNS[kind](n_in, hidden, num_layers=layers, bidirectional=bi, batch_first=True)
    shuffle_params(m)
    k = layers * (1 + bi)
    h0, c0 = randn(k, b, hidden), randn(k, b, hidden)
    x = randn(b, 0 if i in (0, 2) else ri(1, 6), n_in)

    def run_state(m, x, kind=kind, h0=h0, c0=c0):
        if x.shape[1] == 0:  # PyTorch rejects a sequence of no steps
            last = [h0.to(x.dtype)] + ([c0.to(x.dtype)] if kind == "lstm" else [])
            return torch.cat([x.reshape(-1) * 0.0] + [t.reshape(-1) for t in last])
        if kind == "lstm":
            out, (hn, cn) = m(x, (h0.to(x.dtype), c0.to(x.dtype)))
            last = [hn, cn]
        else:
            out, hn = m(x, h0.to(x.dtype))
            last = [hn]
        return torch.cat([out.reshape(-1)] + [t.reshape(-1) for t in last])
    cfg = {"in": n_in, "hidden": hidden, "layers": layers, "bidirectional": bi}
    case(kind + "_state", cfg, m, x, run_state, extra={"input.h0": h0, "input.c0": c0})
# stacked and bidirectional, from zeros, over longer sequences
for i in range(6):
    kind = ["rnn", "lstm", "gru"][i % 3]
    n_in, hidden, layers = ri(1, 4), ri(1, 4), ri(2, 3)
    m = RNNS[kind](n_in, hidden, num_layers=layers, bidirectional=i >= 3, batch_first=True)
    shuffle_params(m)
    cfg = {"in": n_in, "hidden": hidden, "layers": layers, "bidirectional": i >= 3}
    case(kind, cfg, m, randn(ri(1, 2), ri(5, 12), n_in), lambda m, x: m(x)[0])
# group norm over 2-D to 4-D inputs, 1 to all channels per group (last, so
# that the draws above stay)
for i in range(8):
    groups, per = ri(1, 3), ri(1, 3)
    c = groups * per
    shape = [ri(1, 3), c] + [ri(1, 4) for _ in range(i % 3)]
    if per * int(np.prod(shape[2:])) == 1:
        shape.append(2)  # one element per group: x − mean is rounding noise
    m = torch.nn.GroupNorm(groups, c, eps=10.0 ** -ri(2, 6))
    shuffle_params(m)
    case("group_norm", {"groups": groups, "channels": c, "eps": m.eps}, m, randn(*shape) * 10.0 ** ri(-1, 1) + 1.0, forward)

print(f"{count} cases in {out_dir}")
