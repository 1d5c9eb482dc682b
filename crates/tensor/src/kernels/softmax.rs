//! Numerically stable `softmax` and `log_softmax` along one axis.

use crate::element::Element;
use crate::layout::{check_axis, resolve_axis, Axis};
use crate::tensor::Tensor;

use rayon::prelude::*;

/// `e^x` as softmax uses it: libm's for f64, the vectorising f32 one
/// (2 ulp, `kernels::approx`) for f32.
#[inline(always)]
fn exp_lane<T: Element>(x: T) -> T {
    x.exp_vectorised()
}

/// Writes `e^(x − max)` of one contiguous lane into `y` (a pass that
/// vectorises); returns `(max, Σ e^(x − max))`. The maximum and the sum
/// run over independent lanes (`reduce::lane_max`, `lane_sum`): chained
/// one element at a time they took most of a 64-wide softmax.
#[inline(always)]
fn shifted_exp_lane<T: Element>(x: &[T], y: &mut [T]) -> (T, T) {
    super::wide::wide(
        #[inline(always)]
        || {
            let m = super::reduce::lane_max(x);
            for (y, &x) in y.iter_mut().zip(x) {
                *y = exp_lane(x - m);
            }
            (m, super::reduce::lane_sum(y))
        },
    )
}

/// Softmax of one contiguous lane into `y`: the shifted exponentials,
/// then one division each by their sum.
#[inline(always)]
fn softmax_lane<T: Element>(x: &[T], y: &mut [T]) {
    let (_, z) = shifted_exp_lane(x, y);
    super::wide::wide(
        #[inline(always)]
        || {
            for y in y.iter_mut() {
                *y = *y / z;
            }
        },
    );
}

/// Log-softmax of one contiguous lane into `y` (`y` holds `e^(x − max)`
/// in between).
#[inline(always)]
fn log_softmax_lane<T: Element>(x: &[T], y: &mut [T]) {
    let (m, z) = shifted_exp_lane(x, y);
    // (x − max) − ln z: both terms small, where x − (max + ln z) would
    // lose the digits of a large max
    let lz = z.ln();
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x - m) - lz;
    }
}

impl<T: Element> Tensor<T> {
    /// Applies `f(lane, out)` to every lane along `axis` of a contiguous
    /// copy: `lane` and `out` are read/written with stride `inner`. When
    /// `axis` is the last one, `dense(lane, out)` runs instead on plain
    /// slices, lanes shared across threads when the tensor is large.
    fn per_lane(
        &self,
        axis: usize,
        f: impl Fn(&[T], &mut [T], usize, usize),
        dense: impl Fn(&[T], &mut [T]) + Sync,
    ) -> Self {
        let shape = self.shape();
        if self.numel() == 0 {
            // an empty axis (or an empty tensor): nothing to normalise,
            // the result is as empty as the input (PyTorch returns it too)
            return Tensor::zeros(shape);
        }
        let c = self.contiguous();
        let src = c.as_slice().expect("contiguous");
        let outer: usize = shape[..axis].iter().product();
        let r = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        // every lane is written in full by `f`
        let mut out = crate::pool::overwritable(src.len());
        if inner == 1 {
            let rows_per = super::PAR_CHUNK.div_ceil(r).max(1) * r;
            if super::parallel(src.len()) {
                out.par_chunks_mut(rows_per)
                    .zip(src.par_chunks(rows_per))
                    .for_each(|(o, s)| {
                        o.chunks_mut(r)
                            .zip(s.chunks(r))
                            .for_each(|(o, s)| dense(s, o))
                    });
            } else {
                out.chunks_mut(r)
                    .zip(src.chunks(r))
                    .for_each(|(o, s)| dense(s, o));
            }
            return Tensor::from_parts(out, shape);
        }
        super::wide::wide(
            #[inline(always)]
            || {
                for o in 0..outer {
                    let block = o * r * inner;
                    for j in 0..inner {
                        f(&src[block + j..], &mut out[block + j..], r, inner);
                    }
                }
            },
        );
        Tensor::from_parts(out, shape)
    }

    /// Softmax's backward at its output `y` (this tensor) for the
    /// incoming gradient `g`: `y·(g − Σ g·y)` along `axis`, one pass over
    /// each row when `axis` is the last.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let y = Tensor::<f64>::from_vec(vec![0.25, 0.75], &[1, 2]).unwrap();
    /// let g = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[1, 2]).unwrap();
    /// // Σ g·y = 2.5: [0.25·(1 − 2.5), 0.75·(3 − 2.5)]
    /// assert_eq!(y.softmax_backward(&g, -1).to_vec(), vec![-0.375, 0.375]);
    /// ```
    ///
    /// # Panics
    /// When `axis` is out of range or `g`'s shape differs from this one's.
    #[track_caller]
    pub fn softmax_backward(&self, g: &Self, axis: impl Axis) -> Self {
        let axis = resolve_axis("softmax_backward", self.shape(), axis);
        check_axis("softmax_backward", self.shape(), axis);
        assert_eq!(
            self.shape(),
            g.shape(),
            "softmax_backward: gradient shape differs from the output's, called at {}",
            std::panic::Location::caller()
        );
        if axis + 1 != self.rank() {
            return self * &(g - &(g * self).sum(axis, true));
        }
        self.rows_map(
            Some(g),
            #[inline(always)]
            |y, g, dx| {
                let dot = super::reduce::lane_sum_zip(
                    y,
                    g,
                    #[inline(always)]
                    |y, g| g * y,
                );
                for ((d, &y), &g) in dx.iter_mut().zip(y).zip(g) {
                    *d = y * (g - dot);
                }
            },
        )
    }

    /// `exp(x - max) / sum(exp(x - max))` along `axis`: finite for any
    /// finite input (±1e4 included). PyTorch: `softmax(dim)`. In f32 the
    /// exponentials are the vectorising `exp` (within 2 ulp of libm's).
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let t = Tensor::<f64>::from_vec(vec![1e4, 0.0], &[2]).unwrap();
    /// assert_eq!(t.softmax(0).to_vec(), vec![1.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn softmax(&self, axis: impl Axis) -> Self {
        let axis = resolve_axis("softmax", self.shape(), axis);
        check_axis("softmax", self.shape(), axis);
        self.per_lane(
            axis,
            |x, y, r, s| {
                let m = (0..r).fold(T::neg_infinity(), |m, k| m.max(x[k * s]));
                let mut z = T::zero();
                for k in 0..r {
                    let e = exp_lane(x[k * s] - m);
                    y[k * s] = e;
                    z = z + e;
                }
                for k in 0..r {
                    y[k * s] = y[k * s] / z;
                }
            },
            softmax_lane,
        )
    }

    /// `x - max - log(sum(exp(x - max)))` along `axis`: finite for any finite
    /// input. PyTorch: `log_softmax(dim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn log_softmax(&self, axis: impl Axis) -> Self {
        let axis = resolve_axis("log_softmax", self.shape(), axis);
        check_axis("log_softmax", self.shape(), axis);
        self.per_lane(
            axis,
            |x, y, r, s| {
                let m = (0..r).fold(T::neg_infinity(), |m, k| m.max(x[k * s]));
                let z = (0..r).fold(T::zero(), |z, k| z + exp_lane(x[k * s] - m));
                let lz = z.ln();
                for k in 0..r {
                    y[k * s] = (x[k * s] - m) - lz;
                }
            },
            log_softmax_lane,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn stable_at_large_logits() {
        let t = Tensor::<f32>::from_vec(vec![1e4, -1e4, 0.0, 3.0, 1.0, 2.0], &[2, 3]).unwrap();
        let s = t.softmax(1).to_vec();
        assert!(s.iter().all(|v| v.is_finite()));
        assert_eq!(s[0], 1.0);
        let ls = t.log_softmax(1).to_vec();
        assert!(ls.iter().all(|v| v.is_finite()));
        assert_eq!(ls[1], -2e4);
        let col = t.softmax(0).sum(0, false).to_vec();
        assert!(col.iter().all(|v| (v - 1.0).abs() < 1e-6));
    }

    #[test]
    fn empty_axes_give_empty_results() {
        for shape in [[0usize, 3], [3, 0]] {
            let t = Tensor::<f32>::zeros(&shape);
            for axis in 0..2 {
                assert_eq!(t.softmax(axis).shape(), &shape);
                assert_eq!(t.log_softmax(axis).shape(), &shape);
            }
        }
    }
}
