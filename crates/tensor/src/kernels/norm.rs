//! Layer normalization over the last axis, forward and backward, each one
//! pass over the rows: a row stays in L1 while its mean, variance and
//! outputs are computed (the composed ops made ~7 passes forward and more
//! backward over the whole tensor).

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
        let eps = T::of_f64(eps);
        self.rows_map(
            None,
            #[inline(always)]
            |x, _, y| {
                let (mu, inv) = row_stats(x, eps);
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = (x - mu) * inv;
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
}
