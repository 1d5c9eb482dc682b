//! Convolution with stride 1 computed directly, for inputs with few
//! channels (the first layer of an image model: 1 or 3 channels).
//!
//! Unfolding such an input multiplies it by the window's size (LeNet's
//! first layer: 25 columns per pixel, 5 MB for a batch of 64) and the
//! product then has only `C·kh·kw` inner terms, too few for gemm to pay
//! for reading them. Here each output row is a sum of shifted input rows
//! scaled by the weights, read from a zero-padded copy of one image:
//!
//! - forward (and the input's gradient, the same with the weight flipped):
//!   a block of 16 output columns of 8 output channels is 8 vector
//!   accumulators, and each tap of the window adds one shifted input
//!   vector times 8 broadcast weights;
//! - the weight's gradient: a block of 4 output channels by 4 taps is 16
//!   accumulators over every output position, each step adding 4 input
//!   vectors times 4 gradient vectors (two multiply-adds per load).
//!
//! No columns are written and nothing is packed. In W6 (LeNet-5, batch
//! 64) this made the step 0.85× as long as unfolding and gemm (Zen 4, 1
//! and 2 threads): the 5 MB of columns no longer pass through the caches
//! twice. Both run inside `wide::wide` (AVX-512 or AVX2
//! with FMA) with fused multiply-adds, exact-rounded on every path.
//!
//! What the compiler needs to keep the accumulators in registers, each
//! learned by measuring (see the functions): arrays of at most 4 rows of
//! 16 lanes (with 8 rows it vectorised across the rows, with gathers,
//! 40× slower); operands copied into locals; and no loop of one or two
//! iterations inside the loop they live across (the sums were stored
//! back after every multiply-add).

use super::wide::wide;
use crate::{Element, Tensor};
use rayon::prelude::*;

/// Output columns per block: one AVX-512 register of f32.
const LANES: usize = 16;
/// Output channels per block: 8 accumulators of `LANES` (16 registers
/// of f64).
const OUTS: usize = 8;
/// Output channels per [`quad`] (two per block).
const QUAD: usize = OUTS / 2;
/// Images per partial sum of the weight's gradient: the partials are
/// added in order, so the sum is the same whatever the thread count.
const RUN: usize = 8;

/// The shapes of one stride-1 convolution of an image with `c` channels
/// of `h × w` into `o` channels of `oh × ow`, and of its padded copy.
#[derive(Clone, Copy, Debug)]
struct Geo {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: [usize; 2],
    pad: [usize; 2],
    oh: usize,
    ow: usize,
    /// the padded copy: `hp` rows of `wp`, wide enough that a block of
    /// `LANES` starting at any output column and tap stays inside
    hp: usize,
    wp: usize,
}

impl Geo {
    /// `None` when the window does not fit or an extent overflows.
    fn new(c: usize, [h, w]: [usize; 2], o: usize, k: [usize; 2], pad: [usize; 2]) -> Option<Self> {
        if k[0] == 0 || k[1] == 0 {
            return None;
        }
        let hp = h.checked_add(pad[0].checked_mul(2)?)?;
        let wfull = w.checked_add(pad[1].checked_mul(2)?)?;
        let oh = (hp + 1).checked_sub(k[0])?;
        let ow = (wfull + 1).checked_sub(k[1])?;
        let wp = ow
            .div_ceil(LANES)
            .checked_mul(LANES)?
            .checked_add(k[1] - 1)?;
        // every scratch buffer below is at most one of these
        c.max(o.div_ceil(OUTS) * OUTS)
            .checked_mul(hp.max(oh))?
            .checked_mul(wp)?
            .checked_add(LANES)?;
        o.div_ceil(OUTS)
            .checked_mul(OUTS)?
            .checked_mul(c.checked_mul(k[0])?.checked_mul(k[1])?.div_ceil(QUAD))?
            .checked_mul(QUAD * LANES)?;
        Some(Geo {
            c,
            h,
            w,
            o,
            k,
            pad,
            oh,
            ow,
            hp,
            wp,
        })
    }

    /// Elements of one image's padded copy.
    fn padded_len(&self) -> usize {
        self.c * self.hp * self.wp
    }

    /// Output channels rounded up to whole blocks.
    fn outs(&self) -> usize {
        self.o.div_ceil(OUTS) * OUTS
    }

    /// Taps of the window per input channel.
    fn taps(&self) -> usize {
        self.k[0] * self.k[1]
    }
}

/// `[N, C, H, W]` and `[O, C, kh, kw]` of a convolution's operands, or a
/// panic naming `op` and both shapes.
#[track_caller]
fn operands(op: &str, x: &[usize], w: &[usize], pad: [usize; 2]) -> (usize, Geo) {
    let geo = (x.len() == 4 && w.len() == 4 && x[1] == w[1])
        .then(|| Geo::new(x[1], [x[2], x[3]], w[0], [w[2], w[3]], pad))
        .flatten();
    match geo {
        Some(g) => (x[0], g),
        None => panic!(
            "{op}: input {x:?} and weight {w:?} with padding {pad:?} do not fit ([N, C, H, W] and [O, C, kh, kw], the window inside the padded input), called at {}",
            std::panic::Location::caller()
        ),
    }
}

/// Copies one image `[C, H, W]` into `dst` (`[C, hp, wp]`) with zeros
/// around it.
fn pad_image<T: Element>(x: &[T], g: &Geo, dst: &mut [T]) {
    dst.fill(T::zero());
    if g.h * g.w == 0 {
        return; // only padding
    }
    for (ci, plane) in x.chunks_exact(g.h * g.w).enumerate() {
        for (r, row) in plane.chunks_exact(g.w).enumerate() {
            let at = (ci * g.hp + g.pad[0] + r) * g.wp + g.pad[1];
            dst[at..at + g.w].copy_from_slice(row);
        }
    }
}

/// The weights in blocks of `OUTS` output channels, tap by tap:
/// `[O/OUTS][C][kh][kw][OUTS]`, zero for the channels past `o`;
/// `weight(out, in, i, j)` reads the weight.
fn pack_weights<T: Element>(g: &Geo, weight: impl Fn(usize, usize, usize, usize) -> T) -> Vec<T> {
    let mut packed = vec![T::zero(); g.outs() * g.c * g.taps()];
    for (at, p) in packed.iter_mut().enumerate() {
        let (o, rest) = (at % OUTS, at / OUTS);
        let (tap, rest) = (rest % g.taps(), rest / g.taps());
        let (ci, ob) = (rest % g.c, rest / g.c);
        let out = ob * OUTS + o;
        if out < g.o {
            *p = weight(out, ci, tap / g.k[1], tap % g.k[1]);
        }
    }
    packed
}

/// One image's output `[O, oh, ow]` from its padded copy and the packed
/// weights, block by block.
fn forward_image<T: Element>(xp: &[T], g: &Geo, packed: &[T], y: &mut [T]) {
    let per_block = g.c * g.taps() * OUTS;
    for (ob, wb) in packed.chunks_exact(per_block).enumerate() {
        let live = (g.o - ob * OUTS).min(OUTS);
        let out = &mut y[ob * OUTS * g.oh * g.ow..][..live * g.oh * g.ow];
        for oy in 0..g.oh {
            if g.ow.div_ceil(LANES) == 2 {
                // rows of 17 to 32 outputs (LeNet's 28): both blocks at
                // once, each tap's weights loaded once for both
                wide(
                    #[inline(always)]
                    || forward_row2(xp, g, wb, out, oy),
                );
                continue;
            }
            for ox in (0..g.ow).step_by(LANES) {
                // each block in a function of its own compiled for wide
                // vectors, its accumulators in registers
                wide(
                    #[inline(always)]
                    || forward_block(xp, g, wb, out, (oy, ox)),
                );
            }
        }
    }
}

/// [`forward_block`] for both blocks of a row of 17 to 32 outputs: 16
/// accumulators, each tap two input vectors times 8 broadcast weights.
#[inline(always)]
fn forward_row2<T: Element>(xp: &[T], g: &Geo, wb: &[T], out: &mut [T], oy: usize) {
    let zero = [[T::zero(); LANES]; QUAD];
    let (mut lo0, mut hi0, mut lo1, mut hi1) = (zero, zero, zero, zero);
    let kw = g.k[1];
    for ci in 0..g.c {
        for i in 0..g.k[0] {
            let row = &xp[(ci * g.hp + oy + i) * g.wp..][..kw - 1 + 2 * LANES];
            let taps = &wb[(ci * g.k[0] + i) * kw * OUTS..][..kw * OUTS];
            for j in 0..kw {
                let (mut v0, mut v1) = ([T::zero(); LANES], [T::zero(); LANES]);
                v0.copy_from_slice(&row[j..j + LANES]);
                v1.copy_from_slice(&row[j + LANES..j + 2 * LANES]);
                let mut wt = [T::zero(); OUTS];
                wt.copy_from_slice(&taps[j * OUTS..j * OUTS + OUTS]);
                quad(&mut lo0, &wt[..QUAD], &v0);
                quad(&mut hi0, &wt[QUAD..], &v0);
                quad(&mut lo1, &wt[..QUAD], &v1);
                quad(&mut hi1, &wt[QUAD..], &v1);
            }
        }
    }
    store_block(out, g, (oy, 0), [lo0, hi0]);
    store_block(out, g, (oy, LANES), [lo1, hi1]);
}

/// The block of `LANES` output columns from `ox` of row `oy` for the
/// (up to) `OUTS` output channels of `out` (`[live, oh, ow]`), from their
/// packed weights `wb`.
#[inline(always)]
fn forward_block<T: Element>(xp: &[T], g: &Geo, wb: &[T], out: &mut [T], (oy, ox): (usize, usize)) {
    // two separate arrays of `QUAD` rows, not one of `OUTS` split: over
    // all 8 rows at once the compiler vectorised across the rows, with
    // gathers (40× slower), as it does for `tile`'s 8-row tiles
    let (mut lo, mut hi) = ([[T::zero(); LANES]; QUAD], [[T::zero(); LANES]; QUAD]);
    let kw = g.k[1];
    for ci in 0..g.c {
        for i in 0..g.k[0] {
            let row = &xp[(ci * g.hp + oy + i) * g.wp + ox..][..kw - 1 + LANES];
            let taps = &wb[(ci * g.k[0] + i) * kw * OUTS..][..kw * OUTS];
            for j in 0..kw {
                // the operands copied into locals first: the compiler then
                // keeps them in registers (see `tile`)
                let mut v = [T::zero(); LANES];
                v.copy_from_slice(&row[j..j + LANES]);
                let mut wt = [T::zero(); OUTS];
                wt.copy_from_slice(&taps[j * OUTS..j * OUTS + OUTS]);
                quad(&mut lo, &wt[..QUAD], &v);
                quad(&mut hi, &wt[QUAD..], &v);
            }
        }
    }
    store_block(out, g, (oy, ox), [lo, hi]);
}

/// Stores a block's sums (`[lo, hi]`: output channels 0–3 and 4–7 of the
/// block) at row `oy`, column `ox` of the (up to) `OUTS` channels of
/// `out` (`[live, oh, ow]`).
#[inline(always)]
fn store_block<T: Element>(
    out: &mut [T],
    g: &Geo,
    (oy, ox): (usize, usize),
    sums: [[[T; LANES]; QUAD]; 2],
) {
    let plane = g.oh * g.ow;
    let (at, n) = (oy * g.ow + ox, (g.ow - ox).min(LANES));
    let live = out.len() / plane.max(1);
    for (o, a) in sums.iter().flatten().enumerate() {
        if o >= live {
            break;
        }
        let dst = &mut out[o * plane..][..plane];
        // a whole block when it stays in this channel: what it writes
        // past the row is written later
        match dst.get_mut(at..at + LANES) {
            Some(d) => {
                let d: &mut [T; LANES] = d.try_into().expect("LANES");
                *d = *a;
            }
            None => {
                for (l, &v) in a.iter().enumerate() {
                    if l < n {
                        dst[at + l] = v;
                    }
                }
            }
        }
    }
}

/// Adds one image's share of the weight's gradient to `acc`
/// (`[outs/QUAD][taps/QUAD][QUAD outputs][QUAD taps][LANES]`, lanes summed
/// at the end), from its padded copy and its output gradient padded to
/// whole blocks (`[outs, oh, owp]`, zeros past `o` and `ow`): a block of
/// 4 output channels by 4 taps at a time, 16 accumulators that each
/// iteration updates from 4 gradient rows and 4 input rows (one load per
/// two multiply-adds; one output by one tap was load-bound at a third of
/// the speed).
fn weight_grad_image<T: Element>(xp: &[T], gp: &[T], g: &Geo, acc: &mut [T]) {
    let tap_blocks = (g.c * g.taps()).div_ceil(QUAD);
    for (blk, a) in acc.chunks_exact_mut(QUAD * QUAD * LANES).enumerate() {
        let (oq, tq) = (blk / tap_blocks, blk % tap_blocks);
        match g.ow.div_ceil(LANES) {
            1 => wide(
                #[inline(always)]
                || weight_grad_rows::<T, 1>(xp, gp, g, (oq, tq), a),
            ),
            2 => wide(
                #[inline(always)]
                || weight_grad_rows::<T, 2>(xp, gp, g, (oq, tq), a),
            ),
            _ => wide(
                #[inline(always)]
                || weight_grad_block(xp, gp, g, (oq, tq), a),
            ),
        }
    }
}

/// [`weight_grad_block`] for rows of `NB` blocks (`ow ≤ NB·LANES`): a
/// row at a time with its blocks unrolled, so every bound and the mask of
/// the last block are known when compiling (the general loop spent ~100
/// instructions on them per 16 multiply-adds).
#[inline(always)]
fn weight_grad_rows<T: Element, const NB: usize>(
    xp: &[T],
    gp: &[T],
    g: &Geo,
    (oq, tq): (usize, usize),
    a: &mut [T],
) {
    let owp = NB * LANES;
    let from = tap_starts(g, tq);
    let [mut a0, mut a1, mut a2, mut a3] = load_sums(a);
    let ld = g.oh * owp;
    let gb = &gp[oq * QUAD * ld..][..QUAD * ld];
    let tail = g.ow - (NB - 1) * LANES; // lanes of the last block
    for oy in 0..g.oh {
        let x0 = &xp[from[0] + oy * g.wp..][..owp];
        let x1 = &xp[from[1] + oy * g.wp..][..owp];
        let x2 = &xp[from[2] + oy * g.wp..][..owp];
        let x3 = &xp[from[3] + oy * g.wp..][..owp];
        let g0 = &gb[oy * owp..][..owp];
        let g1 = &gb[ld + oy * owp..][..owp];
        let g2 = &gb[2 * ld + oy * owp..][..owp];
        let g3 = &gb[3 * ld + oy * owp..][..owp];
        for b in 0..NB {
            let at = b * LANES;
            let mut xv = [[T::zero(); LANES]; QUAD];
            for (v, r) in xv.iter_mut().zip([x0, x1, x2, x3]) {
                v.copy_from_slice(&r[at..at + LANES]);
                if b == NB - 1 && tail < LANES {
                    // lanes past the output read input no window reads
                    // there; 0 · ∞ would make a NaN of nothing
                    *v = T::keep_first(v, tail);
                }
            }
            let mut gv = [[T::zero(); LANES]; QUAD];
            for (v, r) in gv.iter_mut().zip([g0, g1, g2, g3]) {
                v.copy_from_slice(&r[at..at + LANES]);
            }
            quad_rows(&mut a0, &xv, &gv[0]);
            quad_rows(&mut a1, &xv, &gv[1]);
            quad_rows(&mut a2, &xv, &gv[2]);
            quad_rows(&mut a3, &xv, &gv[3]);
        }
    }
    store_sums(a, [a0, a1, a2, a3]);
}

/// Block `(oq, tq)` of one image: output channels `4·oq..` by taps
/// `4·tq..` (taps past the last repeat it; the caller drops them).
#[inline(always)]
fn weight_grad_block<T: Element>(
    xp: &[T],
    gp: &[T],
    g: &Geo,
    (oq, tq): (usize, usize),
    a: &mut [T],
) {
    let owp = g.ow.div_ceil(LANES) * LANES;
    let from = tap_starts(g, tq);
    let [mut a0, mut a1, mut a2, mut a3] = load_sums(a);
    let ld = g.oh * owp; // between the gradient's channels
    let gb = &gp[oq * QUAD * ld..][..QUAD * ld];
    // one loop over every block of every row (nested loops, the inner
    // one of 1 or 2 blocks, left the sums stored back after each
    // multiply-add)
    let nb = owp / LANES;
    let (mut oy, mut ox) = (0, 0);
    for _ in 0..g.oh * nb {
        let mut xv = [[T::zero(); LANES]; QUAD];
        for (v, &f) in xv.iter_mut().zip(&from) {
            let at = f + oy * g.wp + ox;
            v.copy_from_slice(&xp[at..at + LANES]);
            if ox + LANES > g.ow {
                // lanes past the output read input no window reads
                // there; 0 · ∞ would make a NaN of nothing
                *v = T::keep_first(v, g.ow - ox);
            }
        }
        let gv = rows(&gb[oy * owp + ox..], ld);
        quad_rows(&mut a0, &xv, &gv[0]);
        quad_rows(&mut a1, &xv, &gv[1]);
        quad_rows(&mut a2, &xv, &gv[2]);
        quad_rows(&mut a3, &xv, &gv[3]);
        ox += LANES;
        if ox >= owp {
            (oy, ox) = (oy + 1, 0);
        }
    }
    store_sums(a, [a0, a1, a2, a3]);
}

/// Where the input rows of taps `4·tq..` start in the padded copy (row
/// `oy` adds `oy·wp`; taps past the last repeat it).
#[inline(always)]
fn tap_starts(g: &Geo, tq: usize) -> [usize; QUAD] {
    let all = g.c * g.taps();
    let mut from = [0; QUAD];
    for (t, f) in from.iter_mut().enumerate() {
        let tap = (tq * QUAD + t).min(all - 1);
        let (ci, k) = (tap / g.taps(), tap % g.taps());
        *f = (ci * g.hp + k / g.k[1]) * g.wp + k % g.k[1];
    }
    from
}

/// A block's sums from `a`: one array of 4 taps per output channel (see
/// `forward_block`).
#[inline(always)]
fn load_sums<T: Element>(a: &[T]) -> [[[T; LANES]; QUAD]; QUAD] {
    let mut acc = [[[T::zero(); LANES]; QUAD]; QUAD];
    for (s, a) in acc.iter_mut().flatten().zip(a.chunks_exact(LANES)) {
        s.copy_from_slice(a);
    }
    acc
}

/// A block's sums back into `a`.
#[inline(always)]
fn store_sums<T: Element>(a: &mut [T], acc: [[[T; LANES]; QUAD]; QUAD]) {
    for (s, a) in acc.iter().flatten().zip(a.chunks_exact_mut(LANES)) {
        a.copy_from_slice(s);
    }
}

/// `acc[r] += w[r] · v` for the `QUAD` rows of `acc`.
#[inline(always)]
fn quad<T: Element>(acc: &mut [[T; LANES]; QUAD], w: &[T], v: &[T; LANES]) {
    for (a, &w) in acc.iter_mut().zip(w) {
        for (a, &x) in a.iter_mut().zip(v) {
            *a = w.mul_add(x, *a);
        }
    }
}

/// `QUAD` rows of `LANES` from `d`, `ld` apart, copied into locals.
#[inline(always)]
fn rows<T: Element>(d: &[T], ld: usize) -> [[T; LANES]; QUAD] {
    let mut out = [[T::zero(); LANES]; QUAD];
    for (r, o) in out.iter_mut().enumerate() {
        o.copy_from_slice(&d[r * ld..r * ld + LANES]);
    }
    out
}

/// `acc[r] += d[r] ⊙ v` for the `QUAD` rows of `acc`.
#[inline(always)]
fn quad_rows<T: Element>(acc: &mut [[T; LANES]; QUAD], d: &[[T; LANES]; QUAD], v: &[T; LANES]) {
    for (a, d) in acc.iter_mut().zip(d) {
        for ((a, &x), &d) in a.iter_mut().zip(v).zip(d) {
            *a = d.mul_add(x, *a);
        }
    }
}

/// Runs `f(i, piece)` on each `per`-long piece of `out`, in parallel when
/// the work (`work` multiply-adds) is large and there is more than one.
fn each_image<T: Element>(
    out: &mut [T],
    per: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if per == 0 {
        return;
    }
    if super::parallel(work) && out.len() > per {
        out.par_chunks_mut(per)
            .enumerate()
            .for_each(|(i, p)| f(i, p));
    } else {
        out.chunks_mut(per).enumerate().for_each(|(i, p)| f(i, p));
    }
}

impl<T: Element> Tensor<T> {
    /// 2-D convolution (cross-correlation) with stride 1, dilation 1 and
    /// zero `padding`, of an `[N, C, H, W]` input with an `[O, C, kh, kw]`
    /// weight: `[N, O, oh, ow]`, computed directly (see the module).
    /// The same values as unfolding and one matrix product, up to the
    /// order of the sums; fastest when `C·kh·kw` is small.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f32>::arange(0.0, 9.0, 1.0).reshape(&[1, 1, 3, 3]).unwrap();
    /// let w = Tensor::ones(&[1, 1, 2, 2]);
    /// assert_eq!(x.conv2d_stride1(&w, [0, 0]).to_vec(), vec![8.0, 12.0, 20.0, 24.0]);
    /// ```
    ///
    /// # Panics
    /// When the shapes do not fit (naming both).
    #[track_caller]
    pub fn conv2d_stride1(&self, weight: &Self, padding: [usize; 2]) -> Self {
        let (n, g) = operands("conv2d_stride1", self.shape(), weight.shape(), padding);
        let wv = weight.contiguous();
        let ws = wv.as_slice().expect("contiguous");
        let packed = pack_weights(&g, |o, c, i, j| {
            ws[((o * g.c + c) * g.k[0] + i) * g.k[1] + j]
        });
        self.conv_with_packed("conv2d_stride1", n, &g, &packed)
    }

    /// The gradient of [`Tensor::conv2d_stride1`] with respect to its
    /// input, for an output gradient `self` (`[N, O, oh, ow]`): a
    /// stride-1 convolution of it, padded by `k − 1 − padding`, with the
    /// weight's channels swapped and its window flipped. `size` is the
    /// input's `[H, W]`.
    ///
    /// # Panics
    /// When the shapes do not fit, or `padding` exceeds `k − 1` (the
    /// adjoint would crop).
    #[track_caller]
    pub fn conv2d_stride1_input_grad(
        &self,
        weight: &Self,
        padding: [usize; 2],
        size: [usize; 2],
    ) -> Self {
        let ws = weight.shape();
        let s = self.shape();
        let fits = ws.len() == 4
            && s.len() == 4
            && s[1] == ws[0]
            && padding[0] < ws[2].max(1)
            && padding[1] < ws[3].max(1)
            && Geo::new(ws[1], size, ws[0], [ws[2], ws[3]], padding)
                .is_some_and(|g| [g.oh, g.ow] == [s[2], s[3]]);
        if !fits {
            panic!(
                "conv2d_stride1_input_grad: gradient {s:?}, weight {ws:?}, padding {padding:?} and input size {size:?} do not fit, called at {}",
                std::panic::Location::caller()
            );
        }
        let back = [ws[2] - 1 - padding[0], ws[3] - 1 - padding[1]];
        let flipped = [ws[1], ws[0], ws[2], ws[3]];
        let (n, g) = operands("conv2d_stride1_input_grad", s, &flipped, back);
        let wv = weight.contiguous();
        let wd = wv.as_slice().expect("contiguous");
        let (kh, kw) = (g.k[0], g.k[1]);
        // out channel `c` of the adjoint reads weight [o = in, c, flipped]
        let packed = pack_weights(&g, |c, o, i, j| {
            wd[((o * g.o + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)]
        });
        self.conv_with_packed("conv2d_stride1_input_grad", n, &g, &packed)
    }

    /// The convolution of `self` (`[N, C, H, W]`) with packed weights.
    fn conv_with_packed(&self, op: &str, n: usize, g: &Geo, packed: &[T]) -> Self {
        let shape = [n, g.o, g.oh, g.ow];
        let total = crate::layout::numel_or_panic(op, &shape);
        if total == 0 || g.c * g.taps() == 0 {
            // no output, or no inner term (no input channel): zeros
            return Tensor::from_parts(crate::pool::zeroed(total), &shape);
        }
        let x = self.contiguous();
        let xs = x.as_slice().expect("contiguous");
        let mut out = crate::pool::overwritable(total);
        let work = total.saturating_mul(g.c * g.taps());
        let image = g.c * g.h * g.w;
        each_image(&mut out, g.o * g.oh * g.ow, work, |b, y| {
            let mut xp = vec![T::zero(); g.padded_len()];
            pad_image(&xs[b * image..][..image], g, &mut xp);
            forward_image(&xp, g, packed, y);
        });
        Tensor::from_parts(out, &shape)
    }

    /// The gradient of [`Tensor::conv2d_stride1`] with respect to its
    /// weight, `[O, C, kh, kw]`, for the input `self` and the output
    /// gradient `grad` (`[N, O, oh, ow]`): `Σ_b,y,x grad · input` shifted
    /// by each tap. The batch is summed in fixed runs of images, added in
    /// order: the same result whatever the thread count.
    ///
    /// # Panics
    /// When the shapes do not fit.
    #[track_caller]
    pub fn conv2d_stride1_weight_grad(
        &self,
        grad: &Self,
        kernel: [usize; 2],
        padding: [usize; 2],
    ) -> Self {
        let gs = grad.shape();
        let wshape = [
            gs.get(1).copied().unwrap_or(0),
            self.shape().get(1).copied().unwrap_or(0),
            kernel[0],
            kernel[1],
        ];
        let (n, g) = operands("conv2d_stride1_weight_grad", self.shape(), &wshape, padding);
        if gs != [n, g.o, g.oh, g.ow] {
            panic!(
                "conv2d_stride1_weight_grad: gradient {gs:?} does not fit input {:?} with kernel {kernel:?} and padding {padding:?}, called at {}",
                self.shape(),
                std::panic::Location::caller()
            );
        }
        if g.o * g.c * g.taps() == 0 || n * g.oh * g.ow == 0 {
            // no weight, or nothing summed over: zeros
            return Tensor::from_parts(vec![T::zero(); g.o * g.c * g.taps()], &wshape);
        }
        let x = self.contiguous();
        let gr = grad.contiguous();
        let (xs, gsl) = (
            x.as_slice().expect("contiguous"),
            gr.as_slice().expect("contiguous"),
        );
        let owp = g.ow.div_ceil(LANES) * LANES;
        let (image, plane) = (g.c * g.h * g.w, g.oh * g.ow);
        let (outs, taps) = (
            g.o.div_ceil(QUAD) * QUAD,
            (g.c * g.taps()).div_ceil(QUAD) * QUAD,
        );
        let acc_len = outs * taps * LANES;
        let run = |r: usize| {
            let mut acc = vec![T::zero(); acc_len];
            // room for the last row's block to read past its end
            let mut xp = vec![T::zero(); g.padded_len() + LANES];
            // rows of whole blocks from a 64-byte boundary: no load of
            // the gradient splits across two cache lines
            let len = outs * g.oh * owp;
            let mut gp_buf = vec![T::zero(); len + LANES];
            let off = gp_buf.as_ptr().align_offset(64).min(LANES);
            let gp = &mut gp_buf[off..off + len];
            for b in r * RUN..((r + 1) * RUN).min(n) {
                pad_image(&xs[b * image..][..image], &g, &mut xp);
                for (o, src) in gsl[b * g.o * plane..][..g.o * plane]
                    .chunks_exact(plane)
                    .enumerate()
                {
                    for (oy, row) in src.chunks_exact(g.ow).enumerate() {
                        gp[(o * g.oh + oy) * owp..][..g.ow].copy_from_slice(row);
                    }
                }
                weight_grad_image(&xp, gp, &g, &mut acc);
            }
            acc
        };
        let runs = n.div_ceil(RUN);
        let work = n.saturating_mul(plane).saturating_mul(g.o * g.c * g.taps());
        let parts: Vec<Vec<T>> = if super::parallel(work) && runs > 1 {
            (0..runs).into_par_iter().map(run).collect()
        } else {
            (0..runs).map(run).collect()
        };
        let mut total = vec![T::zero(); acc_len];
        for p in &parts {
            total.iter_mut().zip(p).for_each(|(t, &v)| *t = *t + v);
        }
        // lanes summed pairwise; [oq][tq][o][t] to [O, C·kh·kw]
        let all = g.c * g.taps();
        let mut out = vec![T::zero(); g.o * all];
        for (at, lanes) in total.chunks_exact(LANES).enumerate() {
            let (t, o, tq, oq) = (
                at % QUAD,
                at / QUAD % QUAD,
                at / (QUAD * QUAD) % (taps / QUAD),
                at / (QUAD * taps),
            );
            let (out_c, tap) = (oq * QUAD + o, tq * QUAD + t);
            if out_c < g.o && tap < all {
                let l: [T; LANES] = lanes.try_into().expect("LANES");
                out[out_c * all + tap] = super::reduce::halving(l, |a, b| a + b);
            }
        }
        Tensor::from_parts(out, &wshape)
    }
}
