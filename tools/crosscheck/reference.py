"""JAX references for every op the crosscheck example runs, with PyTorch's
conventions where they differ from JAX's, and the case list helpers."""
import jax, jax.numpy as jnp, numpy as np, subprocess, sys, math
jax.config.update("jax_enable_x64", True)
from jax import lax
rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)

def fmt(a):
    a = np.asarray(a, dtype=np.float64)
    return " ".join(str(d) for d in a.shape) + " : " + " ".join(repr(float(v)) for v in a.ravel())

# ---------- references with PyTorch conventions ----------
@jax.custom_jvp
def t_abs(x): return jnp.abs(x)
t_abs.defjvps(lambda g, ans, x: g * jnp.sign(x))
@jax.custom_jvp
def t_relu(x): return jnp.maximum(x, 0.0)
t_relu.defjvps(lambda g, ans, x: g * (x > 0))
def t_clamp(lo, hi):
    @jax.custom_jvp
    def f(x): return jnp.minimum(jnp.maximum(x, lo), hi)
    # PyTorch 2.15: 1 strictly inside, 0 on the bounds
    f.defjvps(lambda g, ans, x: g * ((x > lo) & (x < hi)))
    return f
def t_softplus(x): return jnp.logaddexp(x, 0.0)
@jax.custom_jvp
def t_silu(x): return x / (1.0 + jnp.exp(-x))
# PyTorch's silu_backward: σ·(1 + x·(1 − σ)) (autodiff of x/(1 + e⁻ˣ) gives ∞/∞ at −800)
t_silu.defjvps(lambda g, ans, x: g * jax.nn.sigmoid(x) * (1.0 + x * (1.0 - jax.nn.sigmoid(x))))
# PyTorch's sgn: 0 at 0 and at NaN
t_sgn = lambda z: jnp.where(z > 0, 1.0, jnp.where(z < 0, -1.0, 0.0))
@jax.custom_jvp
def t_l1(z): return jnp.abs(z)
t_l1.defjvps(lambda g, ans, z: g * t_sgn(z))
def t_smooth_l1(beta):
    if beta == 0.0: return t_l1
    @jax.custom_jvp
    def f(z): return jnp.where(jnp.abs(z) < beta, 0.5 * z * z / beta, jnp.abs(z) - 0.5 * beta)
    # PyTorch's smooth_l1_backward: z < −β ? −g : z > β ? g : g·z/β
    f.defjvps(lambda g, ans, z: g * jnp.where(z < -beta, -1.0, jnp.where(z > beta, 1.0, z / beta)))
    return f
def t_huber(delta):
    @jax.custom_jvp
    def f(z): return jnp.where(jnp.abs(z) < delta, 0.5 * z * z, delta * (jnp.abs(z) - 0.5 * delta))
    # PyTorch's huber_backward: z < −δ ? −g·δ : z > δ ? g·δ : g·z
    f.defjvps(lambda g, ans, z: g * jnp.where(z < -delta, -delta, jnp.where(z > delta, delta, z)))
    return f
def t_leaky_relu(slope):
    @jax.custom_jvp
    def f(x): return jnp.where(x > 0, x, x * slope)
    # PyTorch: x > 0 ? g : g·slope (the slope at 0 and at NaN)
    f.defjvps(lambda g, ans, x: g * jnp.where(x > 0, 1.0, slope))
    return f
def t_elu(alpha):
    @jax.custom_jvp
    def f(x): return jnp.where(x > 0, x, alpha * jnp.expm1(x))
    # PyTorch: x <= 0 ? g·alpha·eˣ : g (alpha at 0, 1 at NaN); eˣ of x
    # masked to 0 where x > 0, so that its second order has no 0·∞
    f.defjvps(lambda g, ans, x: g * jnp.where(x <= 0, alpha * jnp.exp(jnp.where(x <= 0, x, 0.0)), 1.0))
    return f
def t_bce(p, t):
    return -(t * jnp.maximum(jnp.log(p), -100.0) + (1 - t) * jnp.maximum(jnp.log1p(-p), -100.0))
def t_bce_logits(x, t): return jnp.maximum(x, 0) - x * t + jnp.log1p(jnp.exp(-jnp.abs(x)))
def first_arg_reduce(x, axis, keepdim, is_max):
    idx = jnp.argmax(x, axis=axis) if is_max else jnp.argmin(x, axis=axis)
    v = jnp.take_along_axis(x, jnp.expand_dims(idx, axis), axis=axis)
    return v if keepdim else jnp.squeeze(v, axis)
def conv2d(x, w, b, s, pd, d, g):
    y = lax.conv_general_dilated(x, w, window_strides=s, padding=[(pd[0], pd[0]), (pd[1], pd[1])],
        rhs_dilation=d, feature_group_count=g, dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y if b is None else y + b[None, :, None, None]
def conv1d(x, w, b, s, pd, d, g):
    y = lax.conv_general_dilated(x, w, window_strides=(s,), padding=[(pd, pd)], rhs_dilation=(d,),
        feature_group_count=g, dimension_numbers=("NCH", "OIH", "NCH"))
    return y if b is None else y + b[None, :, None]
def patches(x, k, s, pd, d, fill):
    n, c, h, w = x.shape
    xp = jnp.pad(x, ((0,0),(0,0),(pd[0],pd[0]),(pd[1],pd[1])), constant_values=fill)
    oh = (h + 2*pd[0] - d[0]*(k[0]-1) - 1)//s[0] + 1
    ow = (w + 2*pd[1] - d[1]*(k[1]-1) - 1)//s[1] + 1
    taps = []
    for i in range(k[0]):
        for j in range(k[1]):
            taps.append(xp[:, :, i*d[0]: i*d[0] + s[0]*(oh-1)+1: s[0], j*d[1]: j*d[1] + s[1]*(ow-1)+1: s[1]])
    return jnp.stack(taps, -1)  # n c oh ow K
def max_pool(x, k, s, pd, d):
    P = patches(x, k, s, pd, d, -jnp.inf)
    idx = jnp.argmax(P, -1)  # first max in raster order
    return jnp.take_along_axis(P, idx[..., None], -1)[..., 0]
def avg_pool(x, k, s, pd, d):
    return patches(x, k, s, pd, d, 0.0).mean(-1)
def layer_norm(x, dims, w, b, eps):
    ax = tuple(range(x.ndim - dims, x.ndim))
    m = x.mean(ax, keepdims=True); v = ((x - m) ** 2).mean(ax, keepdims=True)
    y = (x - m) / jnp.sqrt(v + eps)
    if w is not None: y = y * w
    if b is not None: y = y + b
    return y
def sdpa(q, k, v, mask):
    s = q @ jnp.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if mask is None: return jax.nn.softmax(s, -1) @ v
    m = jnp.broadcast_to(mask != 0, s.shape)
    dead = m.all(-1, keepdims=True)
    s = jnp.where(m & ~dead, -jnp.inf, s)
    return jnp.where(dead, 0.0, jax.nn.softmax(s, -1)) @ v

def ref(op, ps, xs, masks):
    if op.startswith("T_"): return ref(op[2:], ps, [jnp.swapaxes(xs[0], -1, -2)] + list(xs[1:]), masks)
    if op.startswith("N_"): return ref(op[2:], ps, [xs[0][1:]] + list(xs[1:]), masks)
    a = xs[0]
    dm = lambda s: tuple(int(v) for v in s.split("x") if v)
    if op == "index_select": return jnp.take(a, jnp.array([int(v) for v in ps[1:]], dtype=int), axis=int(ps[0]))
    if op == "gather": return jnp.take_along_axis(a, jnp.array([int(v) for v in ps[2:]], dtype=int).reshape(dm(ps[1])), axis=int(ps[0]))
    if op == "scatter_add":
        ax_ = int(ps[0]); ix = np.array([int(v) for v in ps[2:]]).reshape(a.shape)
        out = jnp.zeros(dm(ps[1])); grid = list(np.indices(a.shape)); grid[ax_] = ix
        return out.at[tuple(grid)].add(a)
    if op == "index_add":
        ax_ = int(ps[0]); ix = jnp.array([int(v) for v in ps[2:]], dtype=int)
        out = jnp.zeros(dm(ps[1])); sl = [slice(None)] * a.ndim; sl[ax_] = ix
        return out.at[tuple(sl)].add(a)
    if op == "cross_entropy":
        t = jnp.array([int(v) for v in ps], dtype=int)
        return -jnp.take_along_axis(jax.nn.log_softmax(a, -1), t[:, None], -1).mean()
    if op == "nll":
        t = jnp.array([int(v) for v in ps], dtype=int)
        return -jnp.take_along_axis(a, t[:, None], -1).mean()
    if op == "ce_opts":
        ign, eps, red = int(ps[0]), float(ps[1]), int(ps[2])
        t = np.array([int(v) for v in ps[3:]]); keep = t != ign
        lp = jax.nn.log_softmax(a, -1)
        nll = -jnp.take_along_axis(lp, jnp.array(np.where(keep, t, 0))[:, None], -1)[:, 0]
        rows = jnp.where(jnp.array(keep), (1 - eps) * nll - eps / a.shape[1] * lp.sum(-1), 0.0)
        return [rows.sum() / keep.sum(), rows.sum(), rows][red]
    if op == "l1": return t_l1(a - xs[1])
    if op == "smooth_l1": return t_smooth_l1(float(ps[0]))(a - xs[1])
    if op == "huber": return t_huber(float(ps[0]))(a - xs[1])
    if op == "linear": return a @ xs[1].T + (xs[2] if len(xs) > 2 else 0.0)
    if op == "where": return jnp.where(masks[0] != 0, a, xs[1])
    if op == "concat": return jnp.concatenate(xs, int(ps[0]))
    if op == "stack": return jnp.stack(xs, int(ps[0]))
    if op == "permute": return jnp.transpose(a, [int(v) for v in ps])
    if op == "matmul_sum": return (a @ xs[1]).sum(tuple(range((a @ xs[1]).ndim - 2)))
    if op == "sum_to":
        sh = dm(ps[0]); lead = a.ndim - len(sh)
        y = a.sum(tuple(range(lead)))
        return y.sum(tuple(i for i, d in enumerate(sh) if d == 1 and y.shape[i] != 1), keepdims=True)
    if op == "broadcast_to": return jnp.broadcast_to(a, dm(ps[0]))
    P = ps
    ax = lambda i: int(P[i])
    kd = lambda i: P[i] == "1"
    if op == "neg": return -a
    if op in ("exp", "log", "sqrt", "sin", "cos", "tanh"): return getattr(jnp, op)(a)
    if op == "abs": return t_abs(a)
    if op == "recip": return 1.0 / a
    if op == "sigmoid": return jax.nn.sigmoid(a)
    if op == "relu": return t_relu(a)
    if op == "erf": return jax.scipy.special.erf(a)
    if op == "softplus": return t_softplus(a)
    if op == "silu": return t_silu(a)
    if op == "log1p": return jnp.log1p(a)
    if op == "expm1": return jnp.expm1(a)
    if op == "leaky_relu": return t_leaky_relu(float(P[0]))(a)
    if op == "elu": return t_elu(float(P[0]))(a)
    if op == "gelu": return jax.nn.gelu(a, approximate=False)
    if op == "gelu_tanh": return jax.nn.gelu(a, approximate=True)
    if op == "square": return a * a
    if op == "powf": return a ** float(P[0])
    if op == "powi": return lax.integer_pow(a, int(P[0]))
    if op == "clamp": return t_clamp(float(P[0]), float(P[1]))(a)
    b = xs[1] if len(xs) > 1 else None
    if op == "add": return a + b
    if op == "sub": return a - b
    if op == "mul": return a * b
    if op == "div": return a / b
    if op == "pow": return a ** b
    if op == "maximum": return jnp.maximum(a, b)
    if op == "minimum": return jnp.minimum(a, b)
    if op == "sum": return a.sum(ax(0), keepdims=kd(1))
    if op == "mean": return a.mean(ax(0), keepdims=kd(1))
    if op == "max": return first_arg_reduce(a, ax(0), kd(1), True)
    if op == "min": return first_arg_reduce(a, ax(0), kd(1), False)
    if op == "sum_all": return a.sum()
    if op == "mean_all": return a.mean()
    if op == "max_all": return a.max()
    if op == "min_all": return a.min()
    if op == "logsumexp": return jax.nn.logsumexp(a, ax(0), keepdims=kd(1))
    if op == "softmax": return jax.nn.softmax(a, ax(0))
    if op == "log_softmax": return jax.nn.log_softmax(a, ax(0))
    if op == "matmul": return a @ b
    if op == "bce": return t_bce(a, b)
    if op == "bce_logits": return t_bce_logits(a, b)
    if op == "mse": d = (a - b) ** 2; return d.mean() if P[0] == "1" else d.sum()
    if op == "conv2d":
        i = [int(v) for v in P]; return conv2d(a, b, xs[2] if len(xs) > 2 else None, i[0:2], i[2:4], i[4:6], i[6])
    if op == "conv1d":
        i = [int(v) for v in P]; return conv1d(a, b, xs[2] if len(xs) > 2 else None, i[0], i[1], i[2], i[3])
    if op in ("max_pool2d", "avg_pool2d"):
        i = [int(v) for v in P]
        return (max_pool if op == "max_pool2d" else avg_pool)(a, i[0:2], i[2:4], i[4:6], i[6:8])
    if op == "adaptive": return a.mean((2, 3), keepdims=True)
    if op == "layer_norm": return layer_norm(a, int(P[0]), xs[1] if len(xs) > 1 else None, xs[2] if len(xs) > 2 else None, float(P[1]))
    if op == "sdpa": return sdpa(a, xs[1], xs[2], masks[0] if P[0] == "1" else None)
    if op == "causal_sdpa":
        n = a.shape[-2]; return sdpa(a, xs[1], xs[2], jnp.triu(jnp.ones((n, n)), 1))
    if op == "masked_fill": return jnp.where(masks[0] != 0, float(P[0]), a)
    raise ValueError(op)

cases = []
def add(name, op, ps, ins, masks=(), hvp=True):
    name = name.replace(" ", "").replace("(", "").replace(")", "").replace(",", "x")
    cases.append((name, op, [str(p) for p in ps], [np.asarray(x, np.float64) for x in ins], [np.asarray(m, np.float64) for m in masks], hvp))

def R(*s, lo=None, hi=None):
    if lo is None: return rng.standard_normal(s)
    return rng.uniform(lo, hi, s)
