//! Layer normalization over the last axis, forward and backward, each one
//! pass over the rows: a row stays in L1 while its mean, variance and
//! outputs are computed (the composed ops made ~7 passes forward and more
//! backward over the whole tensor). With a weight and a bias the affine
//! map is applied in the same pass, and its backward gives the weight's
//! and bias's gradients from that pass too (with `mul` and `add` they
//! took two passes forward and three backward: ~2 % of a W7 step).

use super::reduce::{lane_sum, lane_sum_by, lane_sum_zip};
use super::wide::wide;
use crate::element::Element;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The mean and `1/√(σ² + eps)` of one row: the biased variance from the
/// centered squares (two passes over the row, not `E[x²] − μ²`).
#[inline(always)]
fn row_stats<T: Element>(x: &[T], eps: T) -> (T, T) {
    let n = T::of_usize(x.len());
    let mu = lane_sum(x) / n;
    let var = lane_sum_by(
        x,
        #[inline(always)]
        |v| (v - mu) * (v - mu),
    ) / n;
    (mu, T::one() / (var + eps).sqrt())
}

impl<T: Element> Tensor<T> {
    /// Runs `f(row, out)` over the rows of the last axis of this tensor
    /// (and of `other`'s, when given, same shape), in parallel over blocks
    /// of rows when the tensor is large. Each row is independent, so the
    /// result does not depend on the thread count.
    pub(crate) fn rows_map(
        &self,
        other: Option<&Self>,
        f: impl Fn(&[T], &[T], &mut [T]) + Sync,
    ) -> Self {
        let shape = self.shape();
        let n = *shape.last().unwrap_or(&1);
        if self.numel() == 0 || n == 0 {
            return Tensor::zeros(shape);
        }
        let x = self.contiguous();
        let o = other.map(|o| o.contiguous());
        let xs = x.as_slice().expect("contiguous");
        let os = o.as_ref().map_or(xs, |o| o.as_slice().expect("contiguous"));
        let mut out = crate::pool::overwritable(xs.len());
        let per = super::PAR_CHUNK.div_ceil(n).max(1) * n;
        let block = |((d, x), o): ((&mut [T], &[T]), &[T])| {
            for ((d, x), o) in d.chunks_mut(n).zip(x.chunks(n)).zip(o.chunks(n)) {
                wide(
                    #[inline(always)]
                    || f(x, o, d),
                );
            }
        };
        if super::parallel(xs.len()) {
            let chunks = out.par_chunks_mut(per).zip(xs.par_chunks(per));
            chunks.zip(os.par_chunks(per)).for_each(block);
        } else {
            let chunks = out.chunks_mut(per).zip(xs.chunks(per));
            chunks.zip(os.chunks(per)).for_each(block);
        }
        Tensor::from_parts(out, shape)
    }

    /// Each row of the last axis normalized: `(x − μ)/√(σ² + eps)` with the
    /// row's mean and biased variance. PyTorch: `F.layer_norm(x,
    /// x.shape[-1:], eps=eps)` without weight and bias.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0, 4.0, 8.0], &[2, 2]).unwrap();
    /// assert_eq!(x.layer_norm_last(0.0).to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// // a constant row has no variance: with eps > 0 it normalizes to 0
    /// let c = Tensor::<f64>::from_vec(vec![5.0, 5.0], &[1, 2]).unwrap();
    /// assert_eq!(c.layer_norm_last(1e-5).to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn layer_norm_last(&self, eps: f64) -> Self {
        self.normalized_rows(eps, None)
    }

    /// Each row normalized, then `· w + b` when `affine` holds `(w, b)`.
    fn normalized_rows(&self, eps: f64, affine: Option<(&[T], &[T])>) -> Self {
        let eps = T::of_f64(eps);
        self.rows_map(
            None,
            #[inline(always)]
            |x, _, y| {
                let (mu, inv) = row_stats(x, eps);
                match affine {
                    None => {
                        for (y, &x) in y.iter_mut().zip(x) {
                            *y = (x - mu) * inv;
                        }
                    }
                    Some((ws, bs)) => {
                        for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(ws).zip(bs) {
                            *y = ((x - mu) * inv) * w + b;
                        }
                    }
                }
            },
        )
    }

    /// The gradient of [`Tensor::layer_norm_last`] at this input for the
    /// incoming gradient `g` (same shape): per row, with `x̂` the
    /// normalized row, `(g − mean(g) − x̂·mean(g·x̂)) / √(σ² + eps)`.
    ///
    /// # Panics
    /// When `g`'s shape differs from this tensor's.
    #[track_caller]
    pub fn layer_norm_last_backward(&self, g: &Self, eps: f64) -> Self {
        assert_eq!(
            self.shape(),
            g.shape(),
            "layer_norm backward: gradient shape differs from the input's, called at {}",
            std::panic::Location::caller()
        );
        let eps = T::of_f64(eps);
        self.rows_map(
            Some(g),
            #[inline(always)]
            |x, g, dx| {
                let n = T::of_usize(x.len());
                let (mu, inv) = row_stats(x, eps);
                let mean_g = lane_sum(g) / n;
                let dot = lane_sum_zip(
                    x,
                    g,
                    #[inline(always)]
                    |x, g| g * ((x - mu) * inv),
                );
                let mean_gx = dot / n;
                for ((d, &x), &g) in dx.iter_mut().zip(x).zip(g) {
                    *d = ((g - mean_g) - ((x - mu) * inv) * mean_gx) * inv;
                }
            },
        )
    }
    /// [`Tensor::layer_norm_last`] then `· weight + bias` (each `[n]`, the
    /// last axis), in one pass: the same roundings as the three ops one
    /// after another. PyTorch: `F.layer_norm(x, x.shape[-1:], weight,
    /// bias, eps)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[1, 2]).unwrap();
    /// let w = Tensor::from_vec(vec![2.0, 3.0], &[2]).unwrap();
    /// let b = Tensor::from_vec(vec![0.5, 0.5], &[2]).unwrap();
    /// assert_eq!(x.layer_norm_last_affine(&w, &b, 0.0).to_vec(), vec![-1.5, 3.5]);
    /// ```
    ///
    /// # Panics
    /// When `weight` or `bias` is not `[n]` for this tensor's last axis.
    #[track_caller]
    pub fn layer_norm_last_affine(&self, weight: &Self, bias: &Self, eps: f64) -> Self {
        let (w, b) = affine_params("layer_norm", self, weight, bias);
        let (ws, bs) = (w.as_slice().expect("dense"), b.as_slice().expect("dense"));
        self.normalized_rows(eps, Some((ws, bs)))
    }

    /// The gradients of [`Tensor::layer_norm_last_affine`] at this input
    /// and `weight` for the incoming gradient `g` (this tensor's shape):
    /// `(∂x, ∂weight, ∂bias)` with `∂x` the normalization's gradient for
    /// `g·weight`, `∂weight = Σ_rows g·x̂` and `∂bias = Σ_rows g`, in one
    /// pass over the rows. The sums add each block of rows in order, then
    /// the blocks in order: the result does not depend on the thread
    /// count.
    ///
    /// # Panics
    /// When `g`'s shape differs from this tensor's, or `weight` is not
    /// `[n]` for its last axis.
    #[track_caller]
    pub fn layer_norm_last_affine_backward(
        &self,
        weight: &Self,
        g: &Self,
        eps: f64,
    ) -> (Self, Self, Self) {
        assert_eq!(
            self.shape(),
            g.shape(),
            "layer_norm backward: gradient shape differs from the input's, called at {}",
            std::panic::Location::caller()
        );
        let (w, _) = affine_params("layer_norm backward", self, weight, weight);
        let ws = w.as_slice().expect("dense");
        let n = ws.len();
        let shape = self.shape();
        if self.numel() == 0 || n == 0 {
            return (
                Tensor::zeros(shape),
                Tensor::zeros(&[n]),
                Tensor::zeros(&[n]),
            );
        }
        let eps = T::of_f64(eps);
        let (x, g) = (self.contiguous(), g.contiguous());
        let (xs, gs) = (x.as_slice().expect("dense"), g.as_slice().expect("dense"));
        let mut dx = crate::pool::overwritable(xs.len());
        let per = super::PAR_CHUNK.div_ceil(n).max(1) * n;
        // one block of rows: its ∂x, and its sums of g·x̂ and g
        let block = |((d, x), g): ((&mut [T], &[T]), &[T])| {
            let mut sums = vec![T::zero(); 2 * n];
            let (sw, sb) = sums.split_at_mut(n);
            for ((d, x), g) in d.chunks_mut(n).zip(x.chunks(n)).zip(g.chunks(n)) {
                wide(
                    #[inline(always)]
                    || affine_row_backward((x, g, ws), d, (sw, sb), eps),
                );
            }
            sums
        };
        let parts: Vec<Vec<T>> = if super::parallel(xs.len()) {
            let chunks = dx.par_chunks_mut(per).zip(xs.par_chunks(per));
            chunks.zip(gs.par_chunks(per)).map(block).collect()
        } else {
            let chunks = dx.chunks_mut(per).zip(xs.chunks(per));
            chunks.zip(gs.chunks(per)).map(block).collect()
        };
        let mut sums = vec![T::zero(); 2 * n];
        for p in &parts {
            for (s, &v) in sums.iter_mut().zip(p) {
                *s = *s + v;
            }
        }
        let db = sums.split_off(n);
        (
            Tensor::from_parts(dx, shape),
            Tensor::from_parts(sums, &[n]),
            Tensor::from_parts(db, &[n]),
        )
    }
}

/// One row of the affine layer norm's backward: `d` gets `∂x` (the
/// normalization's gradient for `g·w`), and `g·x̂` and `g` are added
/// into the block's sums `sw` and `sb`.
#[inline(always)]
fn affine_row_backward<T: Element>(
    (x, g, w): (&[T], &[T], &[T]),
    d: &mut [T],
    (sw, sb): (&mut [T], &mut [T]),
    eps: T,
) {
    let n = T::of_usize(x.len());
    let (mu, inv) = row_stats(x, eps);
    for (((((d, &x), &g), &w), sw), sb) in d.iter_mut().zip(x).zip(g).zip(w).zip(sw).zip(sb) {
        *d = g * w;
        *sw = *sw + g * ((x - mu) * inv);
        *sb = *sb + g;
    }
    // as `layer_norm_last_backward` with `g·w` (held in `d`) as its `g`
    let mean_g = lane_sum(d) / n;
    let dot = lane_sum_zip(
        x,
        d,
        #[inline(always)]
        |x, g| g * ((x - mu) * inv),
    );
    let mean_gx = dot / n;
    for (d, &x) in d.iter_mut().zip(x) {
        *d = ((*d - mean_g) - ((x - mu) * inv) * mean_gx) * inv;
    }
}

/// `weight` and `bias` checked to be `[n]` for `x`'s last axis, dense.
#[track_caller]
fn affine_params<T: Element>(
    op: &str,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    let n = x.shape().last().copied();
    let fits = n.is_some_and(|n| w.shape() == [n] && b.shape() == [n]);
    assert!(
        fits,
        "{op}: weight {:?} and bias {:?} are not [n] for input {:?}, called at {}",
        w.shape(),
        b.shape(),
        x.shape(),
        std::panic::Location::caller()
    );
    (w.contiguous(), b.contiguous())
}
