//! Fused scaled dot-product attention and its backward.
//!
//! One head at a time (heads shared across threads): the head's scores
//! `q·kᵀ`, their scaled, masked softmax in place while the block is in
//! cache, and the weighted sum of values. The composed version wrote the
//! scaled queries, the scores, the masked scores and the weights as four
//! separate tensors, each a pass over memory.
//!
//! The products run in register tiles of 4 query rows (`kernels::tile`),
//! each over the keys its rows reach: from the first key the mask allows
//! any of them to the last. Under a causal mask that is half the work of
//! the full products (and of the softmax), and the backward finds the
//! same reach from the weights, which are exactly 0 wherever the mask
//! forbids.

use super::attention_rows::{
    padded_bias, rows_reaching, run_dot, runs, union, weights_block, weights_reach,
};
use super::tile::{product_rows, width, zeros, Padded, Strided, ROWS};
use crate::element::Element;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The extents of one attention call: `heads` (the product of the leading
/// axes), query and key lengths, the query/key and value widths, and
/// `hpg`, the heads per group of the outputs' layout (see [`heads_inner`]).
#[derive(Clone, Copy)]
struct Extents {
    heads: usize,
    lq: usize,
    lk: usize,
    d: usize,
    dv: usize,
    hpg: usize,
}

impl Extents {
    /// The groups of heads the outputs are written by (one task each).
    fn groups(&self) -> usize {
        self.heads / self.hpg
    }
}

/// The heads per group of a call's outputs: the last leading axis's
/// extent `H` when every input holds that axis inside its rows (strides
/// ordered `[.., L, H, d]`, as the split heads of a `[B, L, H·d]`
/// projection are), else 1.
///
/// With `H`, each output is written in that order too, `[.., L, H, w]`,
/// and returned as its `[.., H, L, w]` view (as PyTorch's fused attention
/// returns its output): a multi-head layer's merge of the heads, and the
/// gradients' way back to `[B, L, H·d]`, are then views instead of
/// copies (1 % of a W7 step). One task per group of `H` heads, so only
/// when there are at least as many groups as threads.
fn heads_inner<T: Element>(ts: [&Tensor<T>; 3], heads: usize) -> usize {
    let r = ts[0].rank();
    if r < 3 {
        return 1;
    }
    let h = ts[0].shape()[r - 3];
    // an empty input's strides say nothing of its order (and a group of
    // heads with no rows has no room for its heads' columns)
    let inside = |t: &Tensor<T>| t.numel() > 0 && t.strides()[r - 3] < t.strides()[r - 2];
    let groups = heads.checked_div(h).unwrap_or(0);
    if h > 1 && ts.iter().all(|t| inside(t)) && groups >= rayon::current_num_threads() {
        h
    } else {
        1
    }
}

/// `buf` (written in groups of `e.hpg` heads, `[.., L, hpg, w]`) as a
/// tensor of `shape` (`[.., H, L, w]`).
fn grouped<T: Element>(buf: Vec<T>, shape: &[usize], hpg: usize) -> Tensor<T> {
    if hpg == 1 {
        return Tensor::from_parts(buf, shape);
    }
    let r = shape.len();
    let mut stored = shape.to_vec();
    stored.swap(r - 3, r - 2);
    Tensor::from_parts(buf, &stored).transpose(r - 3, r - 2)
}

/// A tensor's storage, its offset for each head, and its row and column
/// strides: what the products read a head's matrix from.
struct Heads<'a, T> {
    data: &'a [T],
    lead: &'a [usize],
    lead_strides: &'a [usize],
    offset: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Element> Heads<'a, T> {
    fn of(t: &'a Tensor<T>) -> Self {
        let l = &t.layout;
        let r = l.shape.len();
        Heads {
            data: &t.data,
            lead: &l.shape[..r - 2],
            lead_strides: &l.strides[..r - 2],
            offset: l.offset,
            rs: l.strides[r - 2],
            cs: l.strides[r - 1],
        }
    }

    /// Head `i`'s matrix (row-major order over the leading axes), as
    /// `(storage, offset, row stride, column stride)`.
    fn head(&self, i: usize) -> Strided<'a, T> {
        let off = super::matmul::batch_offset(self.lead, self.lead_strides, self.offset, i);
        (self.data, off, self.rs, self.cs)
    }
}

/// Checks `q: [.., Lq, d]`, `k: [.., Lk, d]`, `v: [.., Lk, dv]` with the
/// same leading axes (no broadcasting here), naming the shapes.
#[track_caller]
fn extents<T: Element>(op: &str, q: &Tensor<T>, k: &Tensor<T>, v: &Tensor<T>) -> Extents {
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    let r = qs.len();
    let fits = r >= 2
        && ks.len() == r
        && vs.len() == r
        && qs[..r - 2] == ks[..r - 2]
        && qs[..r - 2] == vs[..r - 2]
        && qs[r - 1] == ks[r - 1]
        && ks[r - 2] == vs[r - 2];
    assert!(
        fits,
        "{op}: q {qs:?}, k {ks:?} and v {vs:?} do not fit ([.., Lq, d], [.., Lk, d], [.., Lk, dv]), called at {}",
        std::panic::Location::caller()
    );
    let heads = qs[..r - 2].iter().product();
    Extents {
        heads,
        lq: qs[r - 2],
        lk: ks[r - 2],
        d: qs[r - 1],
        dv: vs[r - 1],
        hpg: heads_inner([q, k, v], heads),
    }
}

/// `n` consecutive blocks of `size` elements at the start of `buf` (empty
/// blocks when `size` is 0, where `chunks_mut` would give none).
fn blocks<T>(buf: &mut [T], size: usize, n: usize) -> Vec<&mut [T]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = buf;
    for _ in 0..n {
        let (block, tail) = std::mem::take(&mut rest).split_at_mut(size);
        out.push(block);
        rest = tail;
    }
    out
}

/// Runs `f(head, block)` for every head, across threads when there is
/// more than one head, more than one thread and enough work.
fn each_head<B: Send>(blocks: Vec<B>, work: usize, f: impl Fn(usize, B) + Sync + Send) {
    if blocks.len() > 1 && rayon::current_num_threads() > 1 && work >= super::PAR_MIN {
        blocks
            .into_par_iter()
            .enumerate()
            .for_each(|(i, b)| f(i, b));
    } else {
        blocks.into_iter().enumerate().for_each(|(i, b)| f(i, b));
    }
}

impl<T: Element> Tensor<T> {
    /// Scaled dot-product attention of the queries `self: [.., Lq, d]`
    /// over `k: [.., Lk, d]` and `v: [.., Lk, dv]` (same leading axes):
    /// returns `(softmax(q·kᵀ·scale + bias)·v, the weights)`, the weights
    /// of shape `[.., Lq, Lk]`. `mask` (at most 2 axes, broadcast to
    /// `[Lq, Lk]`) is non-zero where attention is forbidden; a query row
    /// with every key masked gets weights and output 0 (PyTorch's SDPA).
    /// In f32 the exponentials are the vectorising `exp`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let q = Tensor::<f64>::ones(&[1, 2, 1]);
    /// let k = Tensor::from_vec(vec![0.0, 2.0f64.ln()], &[1, 2, 1]).unwrap();
    /// let v = Tensor::from_vec(vec![3.0, 6.0], &[1, 2, 1]).unwrap();
    /// let mask = Tensor::from_vec(vec![0.0, 1.0, 0.0, 0.0], &[2, 2]).unwrap();
    /// let (y, w) = q.attention(&k, &v, Some(&mask), 1.0);
    /// // row 0 sees key 0 only; row 1 weighs the keys 1 : 2
    /// assert_eq!(w.to_vec()[..2], [1.0, 0.0]);
    /// assert!((y.to_vec()[1] - 5.0).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// When the shapes do not fit, naming them and the caller's line.
    #[track_caller]
    pub fn attention(&self, k: &Self, v: &Self, mask: Option<&Self>, scale: T) -> (Self, Self) {
        let e = extents("attention", self, k, v);
        let (bias, reaches) = padded_bias(mask, e.lq, e.lk);
        let lead = &self.shape()[..self.rank() - 2];
        let w_shape = [lead, &[e.lq, e.lk]].concat();
        let y_shape = [lead, &[e.lq, e.dv]].concat();
        let (nw, ny) = (
            crate::layout::numel_or_panic("attention", &w_shape),
            crate::layout::numel_or_panic("attention", &y_shape),
        );
        if e.lk == 0 {
            // no key to attend to: no weights, and outputs that sum nothing
            return (Tensor::zeros(&y_shape), Tensor::zeros(&w_shape));
        }
        // every block below is written in full
        let (mut w, mut y) = (crate::pool::overwritable(nw), crate::pool::overwritable(ny));
        let (qh, kh, vh) = (Heads::of(self), Heads::of(k), Heads::of(v));
        let (hpg, groups) = (e.hpg, e.groups());
        let wbs = blocks(&mut w, hpg * e.lq * e.lk, groups);
        let ybs = blocks(&mut y, hpg * e.lq * e.dv, groups);
        let blocks: Vec<_> = wbs.into_iter().zip(ybs).collect();
        let work = (e.heads * e.lq * e.lk).saturating_mul(e.d + e.dv);
        // a group's output rows hold its heads side by side
        let ldy = hpg * e.dv;
        each_head(blocks, work, |gi, (wg, yg)| {
            for h in 0..hpg {
                let i = gi * hpg + h;
                let wb = &mut wg[h * e.lq * e.lk..(h + 1) * e.lq * e.lk];
                let yb = &mut yg[h * e.dv..];
                super::wide::wide(
                    #[inline(always)]
                    || {
                        let kt = Padded::transposed(kh.head(i), e.lk, e.d);
                        let vp = Padded::of(vh.head(i), e.lk, e.dv);
                        let q = qh.head(i);
                        let ld = width(e.lk);
                        let mut s = zeros(ROWS, ld);
                        for i0 in (0..e.lq).step_by(ROWS) {
                            let n = ROWS.min(e.lq - i0);
                            let keys = union(&reaches[i0..i0 + n]);
                            let qb = (q.0, q.1 + i0 * q.2, q.2, q.3);
                            product_rows(&mut s, ld, n, qb, &kt, runs(&keys), 0..e.d);
                            let rows = i0..i0 + n;
                            weights_block(
                                &mut wb[i0 * e.lk..(i0 + n) * e.lk],
                                &mut s,
                                (&bias, i0),
                                &reaches[rows],
                                scale,
                                (e.lk, ld),
                            );
                            let wr = (&wb[..], i0 * e.lk, e.lk, 1);
                            let yr = &mut yb[i0 * ldy..];
                            product_rows(yr, ldy, n, wr, &vp, 0..e.dv, keys);
                        }
                    },
                );
            }
        });
        (grouped(y, &y_shape, hpg), Tensor::from_parts(w, &w_shape))
    }

    /// The backward of [`Tensor::attention`] at the queries `self`, keys
    /// `k`, values `v` and the weights it returned, for the incoming
    /// gradient `g` (the output's shape): `(∂q, ∂k, ∂v)` with
    /// `∂v = wᵀ·g`, `∂s = scale · w ⊙ (g·vᵀ − Σ_row w ⊙ g·vᵀ)`,
    /// `∂q = ∂s·k`, `∂k = ∂sᵀ·q` per head (masked and dead places have
    /// weight 0, so no gradient flows through them).
    ///
    /// # Panics
    /// When the shapes do not fit, naming them and the caller's line.
    #[track_caller]
    pub fn attention_backward(
        &self,
        k: &Self,
        v: &Self,
        weights: &Self,
        g: &Self,
        scale: T,
    ) -> (Self, Self, Self) {
        let e = extents("attention_backward", self, k, v);
        let lead = &self.shape()[..self.rank() - 2];
        let fits = weights.shape() == [lead, &[e.lq, e.lk]].concat()
            && g.shape() == [lead, &[e.lq, e.dv]].concat();
        assert!(
            fits,
            "attention_backward: weights {:?} or gradient {:?} do not fit q {:?} and v {:?}, called at {}",
            weights.shape(),
            g.shape(),
            self.shape(),
            v.shape(),
            std::panic::Location::caller()
        );
        // the gradient read in place, strided (the permuted view of the
        // gradient of `[B, L, H·d]` a multi-head layer hands back)
        let weights = weights.contiguous();
        let w = weights.as_slice().expect("contiguous");
        let gh = Heads::of(g);
        // every block below is written in full
        let mut dq = crate::pool::overwritable(self.numel());
        let mut dk = crate::pool::overwritable(k.numel());
        let mut dv = crate::pool::overwritable(v.numel());
        let (qh, kh, vh) = (Heads::of(self), Heads::of(k), Heads::of(v));
        let (hpg, groups) = (e.hpg, e.groups());
        let dqs = blocks(&mut dq, hpg * e.lq * e.d, groups);
        let dks = blocks(&mut dk, hpg * e.lk * e.d, groups);
        let dvs = blocks(&mut dv, hpg * e.lk * e.dv, groups);
        let blocks: Vec<_> = dqs.into_iter().zip(dks).zip(dvs).collect();
        let work = (e.heads * e.lq * e.lk).saturating_mul(e.d + e.dv);
        // a group's gradient rows hold its heads side by side
        let (ldd, ldv) = (hpg * e.d, hpg * e.dv);
        each_head(blocks, work, |gi, ((dqg, dkg), dvg)| {
            for h in 0..hpg {
                let i = gi * hpg + h;
                let (dqb, dkb) = (&mut dqg[h * e.d..], &mut dkg[h * e.d..]);
                let dvb = &mut dvg[h * e.dv..];
                super::wide::wide(
                    #[inline(always)]
                    || {
                        let (lq, lk, d, dv) = (e.lq, e.lk, e.d, e.dv);
                        let w = &w[i * lq * lk..(i + 1) * lq * lk];
                        // the keys each row reaches: its weights are exactly 0
                        // past them (masked, or a dead row)
                        // a loop, not `map` and `collect`, so that the
                        // search is inlined here, inside `wide`
                        let mut reaches = Vec::with_capacity(lq);
                        for r in 0..lq {
                            reaches.push(weights_reach(&w[r * lk..(r + 1) * lk]));
                        }
                        let g = gh.head(i);
                        let gp = Padded::of(g, lq, dv);
                        let vt = Padded::transposed(vh.head(i), lk, dv);
                        let kp = Padded::of(kh.head(i), lk, d);
                        let qp = Padded::of(qh.head(i), lq, d);
                        // ∂s = scale · w ⊙ (g·vᵀ − Σ_row w ⊙ g·vᵀ), 0 past the reach
                        let mut ds = zeros(lq, lk);
                        let ld = width(lk);
                        let mut s = zeros(ROWS, ld);
                        for i0 in (0..lq).step_by(ROWS) {
                            let n = ROWS.min(lq - i0);
                            let keys = union(&reaches[i0..i0 + n]);
                            let gb = (g.0, g.1 + i0 * g.2, g.2, g.3);
                            product_rows(&mut s, ld, n, gb, &vt, runs(&keys), 0..dv);
                            for r in 0..n {
                                let ks = reaches[i0 + r].clone();
                                if ks.is_empty() {
                                    continue;
                                }
                                // over whole runs (w is 0 past `ks`), up to the row's end
                                let span = runs(&ks);
                                let span = span.start..span.end.min(lk);
                                let at = (i0 + r) * lk;
                                let wr = &w[at + span.start..at + span.end];
                                let sr = &s[r * ld + span.start..r * ld + span.end];
                                let dot = run_dot(wr, sr);
                                let out = &mut ds[at + span.start..at + span.end];
                                for ((o, &w), &d) in out.iter_mut().zip(wr).zip(sr) {
                                    *o = scale * (w * (d - dot));
                                }
                            }
                            // ∂q = ∂s·k over the same keys
                            let dsb = (&ds[..], i0 * lk, lk, 1);
                            let dqr = &mut dqb[i0 * ldd..];
                            product_rows(dqr, ldd, n, dsb, &kp, 0..d, keys);
                        }
                        // ∂v = wᵀ·g and ∂k = ∂sᵀ·q, by blocks of keys over the
                        // rows that reach them (none: zeros)
                        for j0 in (0..lk).step_by(ROWS) {
                            let n = ROWS.min(lk - j0);
                            let rows = rows_reaching(&reaches, j0..j0 + n);
                            let wt = (w, j0, 1, lk);
                            let dvr = &mut dvb[j0 * ldv..];
                            product_rows(dvr, ldv, n, wt, &gp, 0..dv, rows.clone());
                            let dst = (&ds[..], j0, 1, lk);
                            product_rows(&mut dkb[j0 * ldd..], ldd, n, dst, &qp, 0..d, rows);
                        }
                    },
                );
            }
        });
        (
            grouped(dq, self.shape(), hpg),
            grouped(dk, k.shape(), hpg),
            grouped(dv, v.shape(), hpg),
        )
    }
}
