//! Fused scaled dot-product attention and its backward.
//!
//! One head at a time (heads shared across threads): the head's scores
//! `q·kᵀ`, their scaled, masked softmax in place while the block is in
//! cache, and the weighted sum of values. The composed version wrote the
//! scaled queries, the scores, the masked scores and the weights as four
//! separate tensors, each a pass over memory.

use super::matmul::gemm_into;
use super::reduce::{lane_max, lane_sum, lane_sum_zip};
use crate::element::Element;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The extents of one attention call: `heads` (the product of the leading
/// axes), query and key lengths, and the query/key and value widths.
#[derive(Clone, Copy)]
struct Extents {
    heads: usize,
    lq: usize,
    lk: usize,
    d: usize,
    dv: usize,
}

/// A tensor's storage, its offset for each head, and its row and column
/// strides: what [`gemm_into`] reads a head's matrix from.
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
    /// `(storage, offset, row stride, column stride)`; `transposed` swaps
    /// the strides (the matrix read as its transpose).
    fn head(&self, i: usize, transposed: bool) -> (&'a [T], usize, usize, usize) {
        let off = super::matmul::batch_offset(self.lead, self.lead_strides, self.offset, i);
        if transposed {
            (self.data, off, self.cs, self.rs)
        } else {
            (self.data, off, self.rs, self.cs)
        }
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
    Extents {
        heads: qs[..r - 2].iter().product(),
        lq: qs[r - 2],
        lk: ks[r - 2],
        d: qs[r - 1],
        dv: vs[r - 1],
    }
}

/// The mask as an additive bias over `[Lq, Lk]` (0 where allowed, −∞
/// where masked) and, per query row, whether every key is masked.
#[track_caller]
fn bias_of<T: Element>(mask: &Tensor<T>, lq: usize, lk: usize) -> (Vec<T>, Vec<bool>) {
    assert!(
        mask.rank() <= 2,
        "attention: mask of shape {:?} must broadcast to [Lq, Lk] = [{lq}, {lk}] from at most 2 axes, called at {}",
        mask.shape(),
        std::panic::Location::caller()
    );
    let m = mask.broadcast_to(&[lq, lk]).unwrap_or_else(|_| {
        panic!(
            "attention: mask of shape {:?} does not broadcast to [Lq, Lk] = [{lq}, {lk}], called at {}",
            mask.shape(),
            std::panic::Location::caller()
        )
    });
    let bias: Vec<T> = m
        .to_vec()
        .into_iter()
        .map(|x| {
            if x != T::zero() {
                T::neg_infinity()
            } else {
                T::zero()
            }
        })
        .collect();
    let dead = (0..lq)
        .map(|i| lk > 0 && bias[i * lk..(i + 1) * lk].iter().all(|&b| b != T::zero()))
        .collect();
    (bias, dead)
}

/// One row of weights in place: `softmax(s·scale + bias)`; a row whose
/// every key is masked (`dead`) becomes zeros, as PyTorch's SDPA gives.
#[inline(always)]
fn weights_row<T: Element>(s: &mut [T], bias: Option<&[T]>, dead: bool, scale: T) {
    if dead {
        s.iter_mut().for_each(|x| *x = T::zero());
        return;
    }
    match bias {
        Some(b) => s.iter_mut().zip(b).for_each(|(x, &b)| *x = *x * scale + b),
        None => s.iter_mut().for_each(|x| *x = *x * scale),
    }
    let m = lane_max(s);
    s.iter_mut().for_each(|x| *x = (*x - m).exp_vectorised());
    let z = lane_sum(s);
    s.iter_mut().for_each(|x| *x = *x / z);
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
        let bias = mask.map(|m| bias_of(m, e.lq, e.lk));
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
        let wbs = blocks(&mut w, e.lq * e.lk, e.heads);
        let ybs = blocks(&mut y, e.lq * e.dv, e.heads);
        let blocks: Vec<_> = wbs.into_iter().zip(ybs).collect();
        let work = (e.heads * e.lq * e.lk).saturating_mul(e.d + e.dv);
        each_head(blocks, work, |i, (wb, yb)| {
            gemm_into(
                wb,
                (e.lq, e.lk, e.d),
                qh.head(i, false),
                kh.head(i, true),
                false,
            );
            super::wide::wide(
                #[inline(always)]
                || {
                    for (r, row) in wb.chunks_mut(e.lk).enumerate() {
                        let (b, dead) = match &bias {
                            Some((b, dead)) => (Some(&b[r * e.lk..(r + 1) * e.lk]), dead[r]),
                            None => (None, false),
                        };
                        weights_row(row, b, dead, scale);
                    }
                },
            );
            gemm_into(
                yb,
                (e.lq, e.dv, e.lk),
                (wb, 0, e.lk, 1),
                vh.head(i, false),
                false,
            );
        });
        (
            Tensor::from_parts(y, &y_shape),
            Tensor::from_parts(w, &w_shape),
        )
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
        let (weights, g) = (weights.contiguous(), g.contiguous());
        let (w, g) = (
            weights.as_slice().expect("contiguous"),
            g.as_slice().expect("contiguous"),
        );
        // every block below is written in full
        let mut dq = crate::pool::overwritable(self.numel());
        let mut dk = crate::pool::overwritable(k.numel());
        let mut dv = crate::pool::overwritable(v.numel());
        let (qh, kh, vh) = (Heads::of(self), Heads::of(k), Heads::of(v));
        let dqs = blocks(&mut dq, e.lq * e.d, e.heads);
        let dks = blocks(&mut dk, e.lk * e.d, e.heads);
        let dvs = blocks(&mut dv, e.lk * e.dv, e.heads);
        let blocks: Vec<_> = dqs.into_iter().zip(dks).zip(dvs).collect();
        let work = (e.heads * e.lq * e.lk).saturating_mul(e.d + e.dv);
        each_head(blocks, work, |i, ((dqb, dkb), dvb)| {
            if e.lq == 0 || e.lk == 0 {
                // nothing to attend to, or nothing attending: zero gradients
                dqb.iter_mut()
                    .chain(dkb)
                    .chain(dvb)
                    .for_each(|x| *x = T::zero());
                return;
            }
            let w = &w[i * e.lq * e.lk..(i + 1) * e.lq * e.lk];
            let g = (g, i * e.lq * e.dv, e.dv, 1);
            gemm_into(dvb, (e.lk, e.dv, e.lq), (w, 0, 1, e.lk), g, false);
            let mut ds = vec![T::zero(); e.lq * e.lk];
            gemm_into(&mut ds, (e.lq, e.lk, e.dv), g, vh.head(i, true), false);
            super::wide::wide(
                #[inline(always)]
                || {
                    for (row, wr) in ds.chunks_mut(e.lk).zip(w.chunks(e.lk)) {
                        let dot = lane_sum_zip(
                            wr,
                            row,
                            #[inline(always)]
                            |w, d| w * d,
                        );
                        for (d, &w) in row.iter_mut().zip(wr) {
                            *d = scale * (w * (*d - dot));
                        }
                    }
                },
            );
            gemm_into(
                dqb,
                (e.lq, e.d, e.lk),
                (&ds, 0, e.lk, 1),
                kh.head(i, false),
                false,
            );
            gemm_into(
                dkb,
                (e.lk, e.d, e.lq),
                (&ds, 0, 1, e.lk),
                qh.head(i, false),
                false,
            );
        });
        (
            Tensor::from_parts(dq, self.shape()),
            Tensor::from_parts(dk, k.shape()),
            Tensor::from_parts(dv, v.shape()),
        )
    }
}
