"""PyTorch itself as the reference (run.py --torch): every op of the
crosscheck example written with torch's own functions in float64, the
gradient and the Hessian-vector product by torch.autograd. Conventions
are then torch's by construction (checked with torch 2.15)."""
import numpy as np, torch
import torch.nn.functional as F
import torch.nn.attention
torch.set_default_dtype(torch.float64)

def ref(op, ps, xs, masks):
    if op.startswith("T_"): return ref(op[2:], ps, [xs[0].transpose(-1, -2)] + list(xs[1:]), masks)
    if op.startswith("N_"): return ref(op[2:], ps, [xs[0][1:]] + list(xs[1:]), masks)
    a = xs[0]
    b = xs[1] if len(xs) > 1 else None
    dm = lambda s: tuple(int(v) for v in s.split("x") if v)
    ints = lambda v: torch.tensor([int(i) for i in v], dtype=torch.long)
    P = ps
    ax = lambda i: int(P[i])
    kd = lambda i: P[i] == "1"
    if op == "index_select": return torch.index_select(a, int(P[0]), ints(P[1:]))
    if op == "gather": return torch.gather(a, int(P[0]), ints(P[2:]).reshape(dm(P[1])))
    if op == "scatter_add": return torch.zeros(dm(P[1])).scatter_add(int(P[0]), ints(P[2:]).reshape(a.shape), a)
    if op == "index_add": return torch.zeros(dm(P[1])).index_add(int(P[0]), ints(P[2:]), a)
    if op == "cross_entropy": return F.cross_entropy(a, ints(P))
    if op == "linear": return F.linear(a, b, xs[2] if len(xs) > 2 else None)
    if op == "nll": return F.nll_loss(a, ints(P))
    if op == "ce_opts":
        ign = int(P[0]) if int(P[0]) >= 0 else -100
        return F.cross_entropy(a, ints(P[3:]), ignore_index=ign, label_smoothing=float(P[1]),
                               reduction=["mean", "sum", "none"][int(P[2])])
    if op == "l1": return F.l1_loss(a, b, reduction="none")
    if op == "smooth_l1": return F.smooth_l1_loss(a, b, reduction="none", beta=float(P[0]))
    if op == "huber": return F.huber_loss(a, b, reduction="none", delta=float(P[0]))
    if op == "where": return torch.where(masks[0] != 0, a, b)
    if op == "concat": return torch.cat(xs, int(P[0]))
    if op == "stack": return torch.stack(xs, int(P[0]))
    if op == "permute": return a.permute(*[int(v) for v in P])
    if op == "matmul_sum": y = a @ b; return y.sum(tuple(range(y.ndim - 2)))
    if op == "sum_to": return a.sum_to_size(dm(P[0]))
    if op == "broadcast_to": return a.broadcast_to(dm(P[0]))
    if op == "neg": return -a
    if op in ("exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "sigmoid", "relu", "erf"): return getattr(torch, op)(a)
    if op == "recip": return torch.reciprocal(a)
    if op == "softplus": return F.softplus(a)
    if op == "silu": return F.silu(a)
    if op == "log1p": return torch.log1p(a)
    if op == "expm1": return torch.expm1(a)
    if op == "leaky_relu": return F.leaky_relu(a, float(P[0]))
    if op == "elu": return F.elu(a, float(P[0]))
    if op == "gelu": return F.gelu(a)
    if op == "gelu_tanh": return F.gelu(a, approximate="tanh")
    if op == "square": return a * a
    if op == "powf": return torch.pow(a, float(P[0]))
    if op == "powi": return torch.pow(a, int(P[0]))
    if op == "clamp": return a.clamp(float(P[0]), float(P[1]))
    if op == "add": return a + b
    if op == "sub": return a - b
    if op == "mul": return a * b
    if op == "div": return a / b
    if op == "pow": return torch.pow(a, b)
    if op == "maximum": return torch.maximum(a, b)
    if op == "minimum": return torch.minimum(a, b)
    if op == "sum": return a.sum(ax(0), keepdim=kd(1))
    if op == "mean": return a.mean(ax(0), keepdim=kd(1))
    if op == "max": return a.max(ax(0), keepdim=kd(1)).values
    if op == "min": return a.min(ax(0), keepdim=kd(1)).values
    if op == "sum_all": return a.sum()
    if op == "mean_all": return a.mean()
    if op == "max_all": return a.max()
    if op == "min_all": return a.min()
    if op == "logsumexp": return torch.logsumexp(a, ax(0), keepdim=kd(1))
    if op == "softmax": return F.softmax(a, ax(0))
    if op == "log_softmax": return F.log_softmax(a, ax(0))
    if op == "matmul": return a @ b
    if op == "bce": return F.binary_cross_entropy(a, b, reduction="none")
    if op == "bce_logits": return F.binary_cross_entropy_with_logits(a, b, reduction="none")
    if op == "mse": return F.mse_loss(a, b, reduction="mean" if P[0] == "1" else "sum")
    i = [int(float(v)) for v in P] if op in ("conv2d", "conv1d", "max_pool2d", "avg_pool2d") else None
    if op == "conv2d": return F.conv2d(a, b, xs[2] if len(xs) > 2 else None, i[0:2], i[2:4], i[4:6], i[6])
    if op == "conv1d": return F.conv1d(a, b, xs[2] if len(xs) > 2 else None, i[0], i[1], i[2], i[3])
    if op == "max_pool2d": return F.max_pool2d(a, i[0:2], i[2:4], i[4:6], i[6:8])
    if op == "avg_pool2d": return F.avg_pool2d(a, i[0:2], i[2:4], i[4:6])
    if op == "adaptive": return F.adaptive_avg_pool2d(a, 1)
    if op == "layer_norm":
        dims = int(P[0])
        return F.layer_norm(a, a.shape[a.ndim - dims:], xs[1] if len(xs) > 1 else None, xs[2] if len(xs) > 2 else None, float(P[1]))
    if op in ("sdpa", "causal_sdpa"):
        # the math kernel: the fused CPU kernels have no second derivative
        mask = (masks[0] == 0) if op == "sdpa" and P[0] == "1" else None
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            return F.scaled_dot_product_attention(a, b, xs[2], attn_mask=mask, is_causal=op == "causal_sdpa")
    if op == "masked_fill": return a.masked_fill(masks[0] != 0, float(P[0]))
    raise ValueError(op)

def torch_eval(op, ps, ins, masks, dtype=torch.float64):
    """As run.py's jax_eval, by torch.autograd, in `dtype` (float32 for
    run.py --f32: PyTorch's own float32 error, next to the float64 truth);
    results as float64 arrays."""
    t = lambda a: torch.tensor(np.asarray(a, np.float64)).to(dtype)
    out = lambda a: a.detach().to(torch.float64).numpy(force=True)
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # the tensors `ref` makes (scatter_add's zeros)
    try:
        xs = [t(x).requires_grad_(True) for x in ins]
        ms = [t(m) for m in masks]
        y = ref(op, ps, xs, ms)
    finally:
        torch.set_default_dtype(before)
    def grads(cot, create=False):
        if not y.requires_grad: return [torch.zeros_like(x) for x in xs]
        gs = torch.autograd.grad(y, xs, t(cot).reshape(y.shape), allow_unused=True, create_graph=create, retain_graph=True)
        return [torch.zeros_like(x) if g is None else g for g in gs]
    def hvps(cot, vs):
        gs = grads(cot, True)
        s = sum((g * t(v)).sum() for g, v in zip(gs, vs) if g.requires_grad)
        if not torch.is_tensor(s) or not s.requires_grad: return [np.zeros(x.shape) for x in xs]
        hs = torch.autograd.grad(s, xs, allow_unused=True)
        return [np.zeros(x.shape) if h is None else out(h) for h, x in zip(hs, xs)]
    return out(y), lambda cot: [out(g) for g in grads(cot)], hvps
