"""Runs every case of cases.py through mnemon (the crosscheck example) and
JAX — or, with --torch, PyTorch itself — and prints the ones that differ.
With --f32 (PyTorch only), every case in float32: the inputs rounded to
it, mnemon's f32 kernels against the float64 truth, each error against
PyTorch's own float32 error.
Usage: run.py SEED [BINARY] [--torch] [--f32]."""
import sys
F32 = "--f32" in sys.argv
TORCH = "--torch" in sys.argv or F32
sys.argv = [a for a in sys.argv if a not in ("--torch", "--f32")]
from reference import *
import cases as C  # noqa: registers the cases

def jax_eval(op, ps, ins, masks):
    """The reference's output, and functions giving its vector-Jacobian
    product for a cotangent and the Hessian-vector product through it."""
    xs = [jnp.asarray(x) for x in ins]; ms = [jnp.asarray(m) for m in masks]
    f = lambda *a: ref(op, ps, list(a), ms)
    y, vjp = jax.vjp(f, *xs)
    def hvps(cot, vs):
        def gdot(*a):
            _, vj = jax.vjp(f, *a); g = vj(jnp.asarray(cot))
            return sum((gi * vi).sum() for gi, vi in zip(g, vs))
        return jax.grad(gdot, argnums=tuple(range(len(xs))))(*xs)
    return np.asarray(y), lambda cot: vjp(jnp.asarray(cot)), hvps
if TORCH:
    from torch_reference import torch_eval as evaluate
else:
    evaluate = jax_eval
r32 = (lambda a: np.asarray(a, np.float64).astype(np.float32).astype(np.float64)) if F32 else (lambda a: a)
if F32:
    cases[:] = [(n, op, ps, [r32(x) for x in ins], [r32(m) for m in masks], hvp) for n, op, ps, ins, masks, hvp in cases]
inp = []
for name, op, ps, ins, masks, hvp in cases:
    try: shp = np.shape(ref(op, ps, [jnp.asarray(x) for x in ins], [jnp.asarray(m) for m in masks]))
    except Exception: shp = ()
    cot = r32(rng.standard_normal(shp))
    inp.append(f"case {name} {op} {' '.join(ps)}\n" + "".join(f"in {fmt(x)}\n" for x in ins) + "".join(f"mask {fmt(m)}\n" for m in masks) + f"cot {fmt(cot)}\n" + ("".join(f"v {fmt(r32(rng.standard_normal(x.shape)))}\n" for x in ins) if hvp else "") + "end\n")
binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/examples/crosscheck"
pr = subprocess.run([binary] + (["--f32"] if F32 else []), input="".join(inp), capture_output=True, text=True)
out = pr.stdout
if pr.returncode:
    print(pr.stderr[-3000:])
res = {}
for blk in out.split("end\n"):
    if not blk.strip(): continue
    ls = blk.strip().split("\n"); nm = ls[0].split()[1]; d = {}
    for l in ls[1:]:
        if l == "panic": d["panic"] = True; continue
        k, rest = l.split(" ", 1)
        if k in ("grad", "hvp"): i, rest = rest.split(" ", 1); k = f"{k}{i}"
        sh, vals = rest.split(":")
        d[k] = np.array([float(v) for v in vals.split()], dtype=np.float64).reshape([int(s) for s in sh.split()])
    res[nm] = d
def close(a, b, in_scale=0.0):
    """`a` against `b` to 1e-9 of `b`'s largest entry, plus 1e-13 of
    `in_scale` (for Hessian-vector products: the largest input, capped at
    1e6 — a second-order entry of saturated probabilities, or one that is
    exactly 0, is float64 rounding noise of that size in every library)."""
    a = np.asarray(a, np.float64); b = np.asarray(b, np.float64)
    if a.shape != b.shape: return f"shape {a.shape} vs {b.shape}"
    if a.size == 0: return None
    na, nb = np.isnan(a), np.isnan(b)
    if (na != nb).any(): return f"nan mismatch at {np.argwhere(na != nb)[:3].tolist()}"
    fa = np.isfinite(a) & np.isfinite(b)
    if ((~np.isfinite(a)) & ~na != (~np.isfinite(b)) & ~nb).any() or (a[~fa & ~na] != b[~fa & ~nb]).any(): return "inf mismatch"
    scale = max(np.abs(b[fa]).max(initial=0), 1e-300)
    err = np.abs(a[fa] - b[fa]).max(initial=0)
    return None if err <= 1e-9 * scale + 1e-13 * in_scale + 1e-300 else f"err {err:.3g} (scale {scale:.3g})"
def close32(a, t32, b, in_scale):
    """mnemon's float32 `a` against the float64 truth `b`: where PyTorch's
    float32 `t32` is not finite (overflow, NaN), the same; elsewhere an
    error above 8 times PyTorch's own plus 1e-6 of the largest entry or
    input (float32 rounds what an op computes from its inputs)."""
    a, t32, b = (np.asarray(v, np.float64) for v in (a, t32, b))
    if a.shape != b.shape: return f"shape {a.shape} vs {b.shape}"
    if a.size == 0: return None
    odd = ~np.isfinite(t32)
    if ((a[odd] != t32[odd]) & ~(np.isnan(a[odd]) & np.isnan(t32[odd]))).any(): return "non-finite mismatch with PyTorch's float32"
    if (~np.isfinite(a[~odd])).any(): return "non-finite where PyTorch's float32 is finite"
    fa = ~odd & np.isfinite(b)
    theirs = np.abs(t32[fa] - b[fa]).max(initial=0)
    mine = np.abs(a[fa] - b[fa]).max(initial=0)
    scale = max(np.abs(b[fa]).max(initial=0), in_scale)
    return None if mine <= 8 * theirs + 1e-6 * scale + 1e-30 else f"err {mine:.3g} vs PyTorch float32's {theirs:.3g} (scale {scale:.3g})"
if F32:
    from torch_reference import torch_eval
    import torch

bad = 0
for (name, op, ps, ins, masks, hvp), text in zip(cases, inp):
    r = res.get(name, {})
    if not r: print(f"{name}: no result from mnemon"); bad += 1; continue
    try:
        y, vjp, hvps = evaluate(op, ps, ins, masks)
    except Exception as e:
        if "panic" not in r: print(f"{name}: reference error {type(e).__name__} but mnemon gave a result"); bad += 1
        continue
    if "panic" in r: print(f"{name}: mnemon panicked; the reference gives {np.asarray(y).ravel()[:6]}"); bad += 1; continue
    cotv = np.array([float(v) for v in text.split("cot ")[1].split("\n")[0].split(":")[1].split()]).reshape(np.shape(y))
    vs = [np.array([float(v) for v in seg.split("\n")[0].split(":")[1].split()]).reshape(x.shape) for seg, x in zip(text.split("\nv ")[1:], ins)]
    finite = [np.abs(v[np.isfinite(v)]).max(initial=0) for v in [np.asarray(x, np.float64) for x in ins] + [cotv] + vs]
    in_scale = max(finite, default=0)
    if F32:
        y32, vjp32, hvps32 = torch_eval(op, ps, ins, masks, torch.float32)
        cmp = lambda m, want, want32, second=False: close32(m, want32, want, in_scale)
    else:
        y32, vjp32, hvps32 = y, vjp, hvps
        cmp = lambda m, want, _, second=False: close(m, want, min(in_scale, 1e6) if second else 0.0)
    msgs = []
    e = cmp(r["out"], y, y32)
    if e: msgs.append(f"out {e}: mn {r['out'].ravel()[:8]} ref {np.asarray(y).ravel()[:8]}")
    gs = vjp(cotv)
    for i, (g, g32) in enumerate(zip(gs, vjp32(cotv) if F32 else gs)):
        e = cmp(r[f"grad{i}"], g, g32)
        if e: msgs.append(f"grad{i} {e}: mn {r[f'grad{i}'].ravel()[:16]} ref {np.asarray(g).ravel()[:16]}")
    if hvp and "hvp0" in r:
        hs = hvps(cotv, vs)
        for i, (h, h32) in enumerate(zip(hs, hvps32(cotv, vs) if F32 else hs)):
            e = cmp(r[f"hvp{i}"], h, h32, True)
            if e: msgs.append(f"hvp{i} {e}: mn {r[f'hvp{i}'].ravel()[:6]} ref {np.asarray(h).ravel()[:6]}")
    if msgs: bad += 1; print(f"== {name}:"); [print("   ", m) for m in msgs]
print(f"{len(cases)} cases, {bad} differ")
