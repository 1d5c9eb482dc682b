"""The cases: random inputs and edge values for every op."""
from reference import *
E = [0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8, 0.5, -0.5, 3.0, -3.0, 30.0, -30.0, 700.0, -700.0, 1e4, -1e4]
SP = [np.inf, -np.inf, np.nan]
for op in ["neg","exp","log","sqrt","abs","recip","sigmoid","tanh","relu","sin","cos","erf","softplus","gelu","gelu_tanh","square"]:
    add(op+"_rand", op, [], [R(3, 4)])
    add(op+"_pos", op, [], [R(7, lo=0.1, hi=5)])
    add(op+"_edge", op, [], [E], hvp=False)
    add(op+"_spec", op, [], [SP], hvp=False)
for pp in [0, 1, 2, 0.5, -1, 3, 2.5, -2, 1.5]:
    add(f"powf_{pp}", "powf", [pp], [[0.0, -0.0, 1.5, -2.0, 4.0, -1e-3, 1e-3]], hvp=(pp not in (0.5,2.5,1.5)))
for n in [0, 1, 2, 3, -1, -2, 5]:
    add(f"powi_{n}", "powi", [n], [[0.0, 1.5, -2.0, 4.0, -1e-3]])
add("clamp_edges", "clamp", [-1, 2], [[-1.0, 2.0, -1.5, 2.5, 0.0, -0.999999, np.nan]], hvp=False)
add("clamp_rand", "clamp", [-0.5, 0.5], [R(10)])
add("clamp_eq", "clamp", [0.3, 0.3], [[0.3, 0.2, 0.4]], hvp=False)
shapes = [((2,3),(3,)), ((2,1),(1,3)), ((),(2,2)), ((2,2),()), ((4,1,3),(2,1)), ((0,3),(3,)), ((2,3),(2,3))]
for op in ["add","sub","mul","div","maximum","minimum"]:
    for sa, sb in shapes:
        add(f"{op}_{sa}_{sb}", op, [], [R(*sa), R(*sb)])
    add(op+"_ties", op, [], [[1.0, 2.0, -0.0, 0.0, np.inf, np.nan, 3.0], [1.0, 3.0, 0.0, -0.0, np.inf, 1.0, np.nan]], hvp=False)
add("div_zero", "div", [], [[1.0, -1.0, 0.0, 2.0], [0.0, 0.0, 0.0, -0.0]], hvp=False)
add("pow_rand", "pow", [], [R(5, lo=0.2, hi=3), R(5)])
add("pow_edges", "pow", [], [[0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 0.0], [2.0, 0.0, 0.5, 2.0, 3.0, 0.0, -1.0]], hvp=False)
add("pow_bcast", "pow", [], [R(2, 3, lo=0.5, hi=2), R(3)])
tie = [[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [-1.0, np.nan, 2.0, np.nan]]
for op in ["sum","mean","max","min","logsumexp"]:
    for axv in [0, 1, -1, -2]:
        for k in [0, 1]:
            add(f"{op}_{axv}_{k}", op, [axv, k], [R(3, 4)])
    add(f"{op}_3d", op, [1, 0], [R(2, 3, 4)])
    add(f"{op}_ties", op, [-1, 0], [tie], hvp=False)
    add(f"{op}_empty0", op, [0, 0], [np.zeros((0, 3))], hvp=False)
    add(f"{op}_emptykeep", op, [1, 1], [np.zeros((2, 0))], hvp=False)
    add(f"{op}_len1", op, [1, 0], [R(3, 1)])
for op in ["sum_all","mean_all","max_all","min_all"]:
    add(op, op, [], [R(3, 4)])
    add(op+"_ties", op, [], [[[1.0, 3.0], [3.0, -1.0]]], hvp=False)
    add(op+"_nan", op, [], [[[1.0, np.nan], [3.0, np.nan]]], hvp=False)
    add(op+"_inf", op, [], [[[np.inf, 1.0], [-np.inf, 2.0]]], hvp=False)
    add(op+"_empty", op, [], [np.zeros((0, 2))], hvp=False)
inf_rows = [[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0], [1e308, 1e308, -1e308]]
for op in ["softmax","log_softmax","logsumexp"]:
    ps = [1] if op != "logsumexp" else [1, 0]
    add(op+"_inf", op, ps, [inf_rows], hvp=False)
    add(op+"_big", op, ps, [R(3, 5) * 1e3])
    if op != "logsumexp":
        for axv in [0, 1, -1, 2]:
            add(f"{op}_ax{axv}", op, [axv], [R(2, 3, 4)])
for sa, sb in [((3,),(3,)), ((2,3),(3,)), ((3,),(3,4)), ((2,3),(3,4)), ((2,1,3,4),(5,4,2)), ((2,0),(0,3)), ((0,3),(3,2)), ((5,4,3),(3,)), ((1,),(1,1))]:
    add(f"matmul_{sa}_{sb}", "matmul", [], [R(*sa), R(*sb)])
add("bce_rand", "bce", [], [R(6, lo=0.05, hi=0.95), R(6, lo=0, hi=1)])
add("bce_edges", "bce", [], [[0.0, 1.0, 0.0, 1.0, 1e-50, 1 - 1e-16], [1.0, 0.0, 0.0, 1.0, 0.5, 0.3]], hvp=False)
add("bce_logits_rand", "bce_logits", [], [R(6), R(6, lo=0, hi=1)])
add("bce_logits_edges", "bce_logits", [], [[800.0, -800.0, 0.0, 40.0, -40.0], [0.3, 0.7, 0.5, 1.0, 0.0]], hvp=False)
add("mse_mean", "mse", [1], [R(3, 2), R(3, 2)])
add("mse_sum", "mse", [0], [R(3, 2), R(3, 2)])
import itertools
convs = [
 ((1,1,5,5),(1,1,3,3),True,(1,1,0,0,1,1,1)),
 ((2,3,7,6),(4,3,3,2),True,(2,1,1,0,1,1,1)),
 ((1,4,8,8),(4,2,3,3),False,(1,1,2,2,2,2,2)),
 ((2,6,5,7),(6,1,3,3),True,(1,2,1,3,1,2,6)),
 ((1,2,4,4),(2,2,5,5),True,(3,3,2,2,1,1,1)),
 ((1,1,3,3),(1,1,1,1),False,(2,2,0,0,1,1,1)),
 ((1,2,3,3),(3,2,3,3),True,(1,1,4,4,1,1,1)),
 ((2,2,6,6),(2,2,2,2),True,(3,3,0,0,3,3,1)),
]
for i, (sx, sw, bias, ps) in enumerate(convs):
    ins = [R(*sx), R(*sw)] + ([R(sw[0])] if bias else [])
    add(f"conv2d_{i}", "conv2d", list(ps), ins)
conv1 = [((2,3,9),(4,3,3),True,(1,0,1,1)), ((1,4,10),(6,2,2),False,(2,3,2,2)), ((1,2,5),(2,1,3),True,(3,1,1,2)), ((1,1,4),(1,1,4),True,(1,0,1,1))]
for i, (sx, sw, bias, ps) in enumerate(conv1):
    ins = [R(*sx), R(*sw)] + ([R(sw[0])] if bias else [])
    add(f"conv1d_{i}", "conv1d", list(ps), ins)
pools = [((2,2,6,6),(2,2,2,2,0,0,1,1)), ((1,3,7,5),(3,2,2,1,1,1,1,1)), ((1,1,5,5),(3,3,1,1,1,1,1,1)), ((1,1,8,8),(3,3,2,2,1,1,2,2)), ((2,1,4,4),(4,4,4,4,2,2,1,1)), ((1,1,6,6),(2,2,3,3,0,0,1,1))]
for i, (sx, ps) in enumerate(pools):
    add(f"max_pool2d_{i}", "max_pool2d", list(ps), [R(*sx)], hvp=False)
    if ps[6] == 1:
        add(f"avg_pool2d_{i}", "avg_pool2d", list(ps), [R(*sx)])
add("max_pool2d_ties", "max_pool2d", [2,2,1,1,0,0,1,1], [np.round(R(1,2,4,4))], hvp=False)
add("max_pool2d_const", "max_pool2d", [3,3,2,2,1,1,1,1], [np.full((1,1,5,5), 2.0)], hvp=False)
add("max_pool2d_negpad", "max_pool2d", [2,2,2,2,1,1,1,1], [-np.abs(R(1,1,4,4)) - 5], hvp=False)
add("adaptive", "adaptive", [], [R(2, 3, 4, 5)])
add("ln_plain", "layer_norm", [1, 1e-5], [R(3, 5)])
add("ln_affine", "layer_norm", [1, 1e-5], [R(2, 3, 4), R(4), R(4)])
add("ln_2dims", "layer_norm", [2, 1e-5], [R(2, 3, 4), R(3, 4), R(3, 4)])
add("ln_const", "layer_norm", [1, 1e-5], [[[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]], hvp=True)
add("ln_one", "layer_norm", [1, 1e-5], [R(3, 1)])
add("ln_bigeps", "layer_norm", [1, 10.0], [R(2, 6)])
add("ln_large", "layer_norm", [1, 1e-5], [R(2, 6) * 1e6 + 1e8], hvp=False)
add("sdpa_nomask", "sdpa", [0], [R(2, 3, 4), R(2, 5, 4), R(2, 5, 2)])
add("sdpa_causal", "causal_sdpa", [], [R(2, 2, 4, 3), R(2, 2, 4, 3), R(2, 2, 4, 3)])
add("sdpa_mask", "sdpa", [1], [R(3, 4), R(3, 4), R(3, 2)], masks=[[[0, 1, 0], [1, 1, 0], [0, 0, 0]]])
add("sdpa_fullmask", "sdpa", [1], [R(2, 4), R(2, 4), R(2, 2)], masks=[[[1, 1], [0, 1]]])
add("sdpa_fullmask_b", "sdpa", [1], [R(2, 3, 4), R(2, 3, 4), R(2, 3, 2)], masks=[[[1], [0], [1]]])
add("masked_fill", "masked_fill", [-1e9], [R(3, 3)], masks=[[[0, 1, 0], [1, 0, 0], [0, 0, 1]]])
add("masked_fill_bcast", "masked_fill", [2.5], [R(2, 3, 3)], masks=[[0, 1, 1]])

add("index_select_dup", "index_select", [1, 2, 0, 2, 2], [R(3, 4)])
add("index_select_empty", "index_select", [0], [R(3, 4)])
add("gather_dup", "gather", [1, "2x3", 0, 0, 3, 1, 1, 1], [R(2, 4)])
add("gather_ax0", "gather", [0, "1x3", 2, 0, 1], [R(3, 3)])
add("scatter_add_dup", "scatter_add", [1, "2x5", 0, 0, 4, 1, 1, 1], [R(2, 3)])
add("index_add_dup", "index_add", [0, "4x2", 3, 3, 0], [R(3, 2)])
add("ce", "cross_entropy", [0, 2, 1], [R(3, 4)])
add("ce_big", "cross_entropy", [0, 2, 1], [R(3, 4) * 1e4], hvp=False)
add("ce_neginf", "cross_entropy", [0, 1], [[[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]]], hvp=False)
add("linear_b", "linear", [], [R(4, 3), R(5, 3), R(5)])
add("linear_3d", "linear", [], [R(2, 4, 3), R(5, 3)])
add("where", "where", [], [R(2, 3), R(3)], masks=[[[1, 0, 1], [0, 0, 1]]])
add("concat1", "concat", [1], [R(2, 3), R(2, 1), R(2, 0)])
add("stack0", "stack", [0], [R(2, 3), R(2, 3)])
add("stack2", "stack", [2], [R(2, 3), R(2, 3)])
add("permute", "permute", [2, 0, 1], [R(2, 3, 4)])
add("matmul_sum", "matmul_sum", [], [R(3, 2, 4), R(3, 4, 5)])
add("sum_to", "sum_to", ["3x1"], [R(2, 3, 4)])
add("broadcast_to", "broadcast_to", ["2x3x4"], [R(3, 1)])
for op, ps, ins in [("softmax", [0], [R(3, 4)]), ("log_softmax", [1], [R(3, 4)]), ("logsumexp", [0, 0], [R(3, 4)]),
                    ("max", [1, 0], [R(3, 4)]), ("sum", [0, 1], [R(3, 4)]), ("matmul", [], [R(3, 4), R(3, 2)]),
                    ("layer_norm", [1, 1e-5], [R(3, 4)]), ("exp", [], [R(3, 4)]), ("mul", [], [R(3, 4), R(4, 3)]),
                    ("gelu", [], [R(3, 4)]), ("relu", [], [R(3, 4)]), ("sigmoid", [], [R(3, 4)]), ("cross_entropy", [0, 1, 2, 0], [R(3, 4)]),
                    ("linear", [], [R(3, 4), R(2, 3), R(2)]), ("mse", [1], [R(3, 4), R(4, 3)]), ("conv2d", [1,1,0,0,1,1,1], [R(1, 1, 4, 5), R(2, 1, 2, 2)])]:
    add("T_" + op, "T_" + op, ps, ins, hvp=(op not in ("max", "relu")))
    add("N_" + op, "N_" + op, ps, [np.concatenate([R(1, *np.shape(ins[0])[1:]), ins[0]])] + ins[1:], hvp=(op not in ("max", "relu")))

# Random hyper-parameters, a new draw for every seed: the windowed ops over
# strides, paddings, dilations and groups the fixed cases above do not
# name, attention over random shapes and masks (dead rows included), and
# layer norm and matmul over random shapes.
def ri(lo, hi):
    return int(rng.integers(lo, hi + 1))
def fits(n, k, s, p, d):
    return n + 2 * p - d * (k - 1) - 1 >= 0
for i in range(24):
    g = ri(1, 3); cin = g * ri(1, 2); cout = g * ri(1, 2)
    k = (ri(1, 4), ri(1, 4)); s = (ri(1, 3), ri(1, 3)); p = (ri(0, 3), ri(0, 3)); d = (ri(1, 3), ri(1, 2))
    h, w = ri(1, 9), ri(1, 9)
    if not (fits(h, k[0], s[0], p[0], d[0]) and fits(w, k[1], s[1], p[1], d[1])):
        continue
    bias = bool(rng.integers(0, 2))
    ins = [R(ri(1, 2), cin, h, w), R(cout, cin // g, *k)] + ([R(cout)] if bias else [])
    add(f"fuzz_conv2d_{i}", "conv2d", [s[0], s[1], p[0], p[1], d[0], d[1], g], ins)
for i in range(16):
    g = ri(1, 3); cin = g * ri(1, 2); cout = g * ri(1, 3)
    k, s, p, d, n = ri(1, 5), ri(1, 3), ri(0, 4), ri(1, 3), ri(1, 12)
    if not fits(n, k, s, p, d):
        continue
    bias = bool(rng.integers(0, 2))
    ins = [R(ri(1, 2), cin, n), R(cout, cin // g, k)] + ([R(cout)] if bias else [])
    add(f"fuzz_conv1d_{i}", "conv1d", [s, p, d, g], ins)
def padding_alone(n, k, s, p, d):
    # some window whose taps all fall in the padding (see max_pool2d_padonly)
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    return any(all(not 0 <= o * s - p + t * d < n for t in range(k)) for o in range(out))
for i in range(24):
    k = (ri(1, 4), ri(1, 4)); s = (ri(1, 4), ri(1, 4)); d = (ri(1, 2), ri(1, 2))
    # PyTorch's limit: padding at most half the kernel
    p = (ri(0, k[0] // 2), ri(0, k[1] // 2))
    h, w = ri(1, 9), ri(1, 9)
    if not (fits(h, k[0], s[0], p[0], d[0]) and fits(w, k[1], s[1], p[1], d[1])):
        continue
    if padding_alone(h, k[0], s[0], p[0], d[0]) or padding_alone(w, k[1], s[1], p[1], d[1]):
        continue
    x = R(ri(1, 2), ri(1, 3), h, w)
    if i % 3 == 0:
        x = np.round(x)  # ties
    add(f"fuzz_max_pool2d_{i}", "max_pool2d", [k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]], [x], hvp=False)
    if d == (1, 1) and p[0] <= k[0] // 2 and p[1] <= k[1] // 2:
        add(f"fuzz_avg_pool2d_{i}", "avg_pool2d", [k[0], k[1], s[0], s[1], p[0], p[1], 1, 1], [x])
for i in range(12):
    lead = [ri(1, 2) for _ in range(ri(0, 2))]
    lq, lk, dk, dv = ri(1, 7), ri(1, 7), ri(1, 5), ri(1, 4)
    m = (rng.random((lq, lk)) < 0.4).astype(np.float64)
    if i % 4 == 0:
        m[ri(0, lq - 1)] = 1.0  # a row with every key masked
    q, k_, v = R(*lead, lq, dk), R(*lead, lk, dk), R(*lead, lk, dv)
    add(f"fuzz_sdpa_{i}", "sdpa", [1], [q, k_, v], masks=[m])
    if lq == lk:
        add(f"fuzz_causal_sdpa_{i}", "causal_sdpa", [], [q, k_, v])
for i in range(8):
    # rows of at least 3 elements: over one, x − mean is exactly 0 (and so
    # are the gradients) in mnemon, rounding noise of 1e-15 in PyTorch; over
    # two, x̂ = ±1 whatever x, so the gradient is ~eps/σ² and cancels: both
    # libraries' values are then rounding-limited (checked against 60-digit
    # mpmath: each within 5e-8 relative, so 1e-9 apart is not to be had)
    shape = [ri(1, 4) for _ in range(ri(1, 3))]
    dims = ri(1, len(shape))
    shape[-1] = max(shape[-1], 3)
    tail = shape[len(shape) - dims:]
    ins = [R(*shape) * 10.0 ** ri(-3, 3)] + ([R(*tail), R(*tail)] if i % 2 else [])
    add(f"fuzz_ln_{i}", "layer_norm", [dims, 10.0 ** -ri(1, 6)], ins)
for i in range(10):
    m_, k_, n_ = ri(1, 5), ri(1, 5), ri(1, 5)
    la = [ri(1, 3) for _ in range(ri(0, 2))]
    lb = [1 if rng.random() < 0.5 else x for x in la][ri(0, len(la)):] if la else []
    add(f"fuzz_matmul_{i}", "matmul", [], [R(*la, m_, k_), R(*lb, k_, n_)])
for i in range(12):
    # reductions and softmaxes over a random axis of a random shape (size-1
    # and, for sums, empty axes among them), ties from rounding
    shape = [ri(1, 4) for _ in range(ri(1, 3))]
    axis = ri(-len(shape), len(shape) - 1)
    x = R(*shape)
    if i % 3 == 0:
        x = np.round(x)
    for op in ["sum", "mean", "max", "min", "logsumexp"]:
        add(f"fuzz_{op}_{i}", op, [axis, i % 2], [x], hvp=op not in ("max", "min") or i % 3 != 0)
    for op in ["softmax", "log_softmax"]:
        add(f"fuzz_{op}_{i}", op, [axis], [x])
    if i % 4 == 1:
        shape[axis] = 0
        add(f"fuzz_sum_empty_{i}", "sum", [axis, 0], [np.zeros(shape)], hvp=False)
for i in range(6):
    n, c = ri(1, 5), ri(1, 6)
    add(f"fuzz_ce_{i}", "cross_entropy", [ri(0, c - 1) for _ in range(n)], [R(n, c) * 10.0 ** ri(-1, 2)])
# (last, so that the draws above stay as they were) a dilated window over
# a one-wide input reads columns −1 and 1: padding alone, −∞ with no
# gradient (PyTorch's backward sends it to an element it does not hold)
add("max_pool2d_padonly", "max_pool2d", [1,2,1,1,0,1,1,2], [R(1,1,2,1)], hvp=False)
# Longer axes (after the fixed case above, so that earlier draws stay):
# the f32 kernels' vector runs of 8 and 16 and their remainders, the
# attention tiles' blocks of 4 query rows and runs of 16 keys
for i in range(8):
    shape = [ri(1, 3), ri(17, 70)] if i % 2 else [ri(17, 40), ri(1, 3), ri(5, 9)]
    axis = 1 if i % 2 else 0
    # scales to 10: saturated probabilities (×100) make second-order
    # entries rounding noise (see `logsumexp_big` in the README)
    x = R(*shape) * 10.0 ** ri(-1, 1)
    for op in ["sum", "max", "logsumexp"]:
        add(f"fuzz_long_{op}_{i}", op, [axis, 0], [x], hvp=op != "max")
    for op in ["softmax", "log_softmax"]:
        add(f"fuzz_long_{op}_{i}", op, [axis], [x])
for i in range(4):
    lq, lk, dk, dv = ri(5, 40), ri(5, 40), ri(3, 40), ri(3, 40)
    m = (rng.random((lq, lk)) < 0.3).astype(np.float64)
    m[ri(0, lq - 1)] = 1.0  # a dead row
    q, k_, v = R(2, lq, dk), R(2, lk, dk), R(2, lk, dv)
    add(f"fuzz_long_sdpa_{i}", "sdpa", [1], [q, k_, v], masks=[m])
    n = ri(17, 40)
    add(f"fuzz_long_causal_sdpa_{i}", "causal_sdpa", [], [R(2, n, dk), R(2, n, dk), R(2, n, dv)])
for i in range(3):
    n = ri(17, 100)
    add(f"fuzz_long_ln_{i}", "layer_norm", [1, 1e-5], [R(3, n) * 3.0 + 1.0, R(n), R(n)])
    add(f"fuzz_long_gelu_{i}", "gelu", [], [R(n) * 3.0])
    add(f"fuzz_long_sigmoid_{i}", "sigmoid", [], [R(n) * 5.0])
# SiLU, log1p, expm1, the leaky ReLU and ELU (after the cases above, so
# that their draws stay): random, positive, edge and special values, at
# several slopes and alphas (0 and negative slopes too), strided views
for op in ["silu", "log1p", "expm1"]:
    add(op + "_rand", op, [], [R(3, 4)])
    add(op + "_pos", op, [], [R(7, lo=0.1, hi=5)])
    add(op + "_edge", op, [], [E + [-1.0, -0.999]], hvp=False)
    add(op + "_spec", op, [], [SP], hvp=False)
    add("T_" + op, "T_" + op, [], [R(3, 4)])
for op, ps in [("leaky_relu", [0.01, 0.2, 0.0, -0.5, 1.5]), ("elu", [1.0, 0.5, 2.0, 0.0])]:
    for v in ps:
        add(f"{op}_{v}_rand", op, [v], [R(3, 4)])
        add(f"{op}_{v}_edge", op, [v], [E], hvp=False)
        add(f"{op}_{v}_spec", op, [v], [SP], hvp=False)
    add("T_" + op, "T_" + op, [ps[1]], [R(3, 4)])
# The L1, smooth L1 and Huber losses (per element, against a target) at
# several β and δ: random, around the seams |d| = β, and special values;
# then NLL over random batches (after the cases above, so their draws stay)
add("l1_rand", "l1", [], [R(3, 4), R(3, 4)])
add("l1_ties", "l1", [], [[0.0, 1.0, -2.0, np.inf, np.nan, 3.0], [0.0, 1.0, -2.0, 1.0, 1.0, np.nan]], hvp=False)
for op, ks in [("smooth_l1", [1.0, 0.5, 2.0, 0.0]), ("huber", [1.0, 0.25, 3.0])]:
    for k in ks:
        add(f"{op}_{k}_rand", op, [k], [R(3, 4) * 2.0, R(3, 4)])
        seams = [k, -k, 0.999 * k, -1.001 * k, 0.0, -0.0, 1e300, -np.inf, np.inf, np.nan]
        add(f"{op}_{k}_seams", op, [k], [seams, np.zeros(len(seams))], hvp=False)
        add(f"{op}_{k}_target", op, [k], [np.zeros(4), [k, -2.0 * k, 0.3 * k, -0.5 * k]], hvp=False)
for i in range(4):
    n, c = ri(1, 5), ri(1, 6)
    add(f"nll_{i}", "nll", [ri(0, c - 1) for _ in range(n)], [R(n, c)])
# cross_entropy_with: ignore_index (rows of padding, any id) and label
# smoothing, every reduction
for i in range(8):
    n, c = ri(1, 6), ri(1, 6)
    ign = [-1, 9, 0][i % 3]
    t = [ri(0, c - 1) for _ in range(n)]
    if ign >= 0:
        t = [ign if rng.random() < 0.4 else v for v in t]
    eps = [0.0, 0.1, 0.5, 1.0][i % 4]
    add(f"ce_opts_{i}", "ce_opts", [ign, eps, i % 3] + t, [R(n, c) * 3.0])
