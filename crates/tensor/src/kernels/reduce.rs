//! Reductions: over one axis (with `keepdim`) or over all elements, and
//! `sum_to`, the inverse of broadcasting.
//!
//! Sums are deterministic: a dense run is cut into fixed chunks of
//! [`SUM_CHUNK`] elements whatever the thread count; each chunk is summed
//! with fixed lanes, and the partial sums are added in order, so the result
//! is bit-identical with 1 or 2 `RAYON_NUM_THREADS`.

use crate::element::Element;
use crate::layout::check_axis;
use crate::layout::{resolve_axis, Axis};
use crate::tensor::Tensor;
use crate::views::reduced_shape;
use rayon::prelude::*;

/// Elements per chunk of a deterministic sum.
pub const SUM_CHUNK: usize = 1 << 13;
const LANES: usize = 32;

/// Sum of a short run with `LANES` independent accumulators (vectorises).
#[inline(always)]
pub(crate) fn lane_sum<T: Element>(xs: &[T]) -> T {
    lane_sum_by(
        xs,
        #[inline(always)]
        |x| x,
    )
}

/// `Σ f(x)` over a short run, in the order of [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_sum_by<T: Element>(xs: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = acc[i] + f(c[i]);
        }
    }
    chunks
        .remainder()
        .iter()
        .fold(fold_lanes(acc), |a, &x| a + f(x))
}

/// `Σ f(a, b)` over two runs of one length, in the order of [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_sum_zip<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] = acc[i] + f(x[i], y[i]);
        }
    }
    let rest = ca.remainder().iter().zip(cb.remainder());
    rest.fold(fold_lanes(acc), |s, (&x, &y)| s + f(x, y))
}

/// The lanes of [`lane_sum`] added pairwise, halving each step.
#[inline(always)]
fn fold_lanes<T: Element>(acc: [T; LANES]) -> T {
    halving(acc, |a, b| a + b)
}

/// The `N` lanes of `v` (a power of two) combined by `f` pairwise, lane
/// `i` with lane `i + N/2`, halving each step: log2 N dependent steps (as
/// vector shuffles) where a running fold takes N − 1, always in the same
/// order.
#[inline(always)]
pub(crate) fn halving<T: Copy, const N: usize>(mut v: [T; N], f: impl Fn(T, T) -> T) -> T {
    let mut width = N / 2;
    while width > 0 {
        for i in 0..width {
            v[i] = f(v[i], v[i + width]);
        }
        width /= 2;
    }
    v[0]
}

/// The largest element of a slice (NaNs skipped, as `f32::max` does;
/// `-∞` for an empty one or one of NaNs), over `LANES` independent maxima
/// updated by a plain comparison (`x > m`, false for a NaN `x`), which
/// compiles to vector max instructions — `f32::max`'s NaN rules and one
/// running maximum (every comparison chained on the last) do not.
#[inline(always)]
pub(crate) fn lane_max<T: Element>(xs: &[T]) -> T {
    let bigger = |m: T, x: T| if x > m { x } else { m };
    let mut acc = [T::neg_infinity(); LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = bigger(acc[i], c[i]);
        }
    }
    // a maximum is the same in any order, and no lane holds a NaN
    let top = halving(acc, bigger);
    chunks.remainder().iter().fold(top, |m, &x| bigger(m, x))
}

/// Deterministic sum of a dense slice (fixed chunking, parallel when long).
pub(crate) fn det_sum<T: Element>(xs: &[T]) -> T {
    if xs.len() <= SUM_CHUNK {
        return lane_sum(xs);
    }
    let partials: Vec<T> = if super::parallel(xs.len()) {
        xs.par_chunks(SUM_CHUNK).map(lane_sum).collect()
    } else {
        xs.chunks(SUM_CHUNK).map(lane_sum).collect()
    };
    partials.into_iter().fold(T::zero(), |a, x| a + x)
}

/// Panics naming `op` when `axis` is empty but the result would not be.
#[track_caller]
fn non_empty_axis(op: &str, shape: &[usize], axis: usize) {
    let (outer, r, inner) = split3(shape, axis);
    assert!(
        r > 0 || outer * inner == 0,
        "{op}: axis {axis} of shape {shape:?} is empty, called at {}",
        std::panic::Location::caller()
    );
}

/// `(outer, r, inner)`: the tensor seen as `[outer, r, inner]` around `axis`.
fn split3(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

#[inline]
fn max_fold<T: Element>(a: T, x: T) -> T {
    if a.is_nan() || x.is_nan() {
        T::nan()
    } else if x > a {
        x
    } else {
        a
    }
}

#[inline]
fn min_fold<T: Element>(a: T, x: T) -> T {
    if a.is_nan() || x.is_nan() {
        T::nan()
    } else if x < a {
        x
    } else {
        a
    }
}

impl<T: Element> Tensor<T> {
    /// Reduces `axis` with `fold` starting from `init` (or, for sums, the
    /// deterministic lane sum), on a contiguous copy seen as [outer, r, inner].
    fn reduce_axis(
        &self,
        axis: usize,
        keepdim: bool,
        init: T,
        fold: fn(T, T) -> T,
        is_sum: bool,
    ) -> Self {
        let c = self.contiguous();
        let src = c.as_slice().expect("contiguous");
        let (outer, r, inner) = split3(self.shape(), axis);
        let shape = reduced_shape(self.shape(), axis, keepdim);
        let mut out = vec![init; outer * inner];
        let big = super::parallel(src.len());
        if inner == 1 {
            let row = |(o, slot): (usize, &mut T)| {
                let xs = &src[o * r..(o + 1) * r];
                *slot = if is_sum {
                    det_sum(xs)
                } else {
                    xs.iter().fold(init, |a, &x| fold(a, x))
                };
            };
            if big {
                out.par_iter_mut()
                    .enumerate()
                    .with_min_len(64)
                    .for_each(row);
            } else {
                out.iter_mut().enumerate().for_each(row);
            }
        } else {
            for o in 0..outer {
                let block = &src[o * r * inner..(o + 1) * r * inner];
                let acc = &mut out[o * inner..(o + 1) * inner];
                let cols = |(j, acc): (usize, &mut [T])| {
                    let w = acc.len();
                    for k in 0..r {
                        let xs = &block[k * inner + j..k * inner + j + w];
                        acc.iter_mut().zip(xs).for_each(|(a, &x)| *a = fold(*a, x));
                    }
                };
                const COLS: usize = 1024;
                if big && inner > COLS {
                    acc.par_chunks_mut(COLS)
                        .enumerate()
                        .for_each(|(i, a)| cols((i * COLS, a)));
                } else {
                    cols((0, acc));
                }
            }
        }
        Tensor::from_parts(out, &shape)
    }

    /// Sum of all elements, as a rank-0 tensor. Deterministic (fixed
    /// chunking). PyTorch: `sum()`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let t = Tensor::<f32>::arange(1.0, 5.0, 1.0);
    /// assert_eq!(t.sum_all().item(), 10.0);
    /// assert_eq!(t.sum_all().shape(), &[] as &[usize]);
    /// ```
    pub fn sum_all(&self) -> Self {
        Tensor::scalar(self.sum_value())
    }

    /// `Σ (self − other)²` over the elements of two tensors of one shape,
    /// as a rank-0 tensor: the sum of squares of the MSE loss in one
    /// pass. Each difference is rounded, then squared, then summed in
    /// [`Tensor::sum_all`]'s order: the bits of
    /// `(self − other).square().sum_all()`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![1., 2., 3.], &[3]).unwrap();
    /// let b = Tensor::from_vec(vec![1., 0., 6.], &[3]).unwrap();
    /// assert_eq!(a.sum_squared_diff(&b).item(), 13.0); // 0 + 4 + 9
    /// ```
    ///
    /// # Panics
    /// When the shapes differ (naming both and the caller's line).
    #[track_caller]
    pub fn sum_squared_diff(&self, other: &Self) -> Self {
        assert!(
            crate::layout::same_shape(self.shape(), other.shape()),
            "sum_squared_diff: shapes {:?} and {:?} differ, called at {}",
            self.shape(),
            other.shape(),
            std::panic::Location::caller()
        );
        let sq = |a: T, b: T| {
            let d = a - b;
            d * d
        };
        // up to one chunk: no buffer of squares at all (a loss over a few
        // elements then costs one allocation, its result)
        if let (Some(a), Some(b)) = (self.as_slice(), other.as_slice()) {
            if a.len() <= SUM_CHUNK {
                return Tensor::scalar(lane_sum_zip(a, b, sq));
            }
        }
        Tensor::scalar(self.zip_with(other, "sum_squared_diff", sq).sum_value())
    }

    /// The sum of all elements (what [`Tensor::sum_all`] holds).
    fn sum_value(&self) -> T {
        if let Some(s) = super::fuse::fused_sum(self) {
            return s;
        }
        match self.as_slice() {
            Some(xs) => det_sum(xs),
            None => det_sum(self.contiguous().as_slice().expect("contiguous")),
        }
    }

    /// Mean of all elements, as a rank-0 tensor (NaN when empty).
    pub fn mean_all(&self) -> Self {
        let n = T::of_usize(self.numel());
        if let Some(s) = super::fuse::fused_sum(self) {
            return Tensor::scalar(s / n);
        }
        let c = self.contiguous();
        Tensor::scalar(det_sum(c.as_slice().expect("contiguous")) / n)
    }

    /// Largest element, as a rank-0 tensor (NaN propagates; -inf when empty).
    pub fn max_all(&self) -> Self {
        Tensor::scalar(self.to_vec().into_iter().fold(T::neg_infinity(), max_fold))
    }

    /// Smallest element, as a rank-0 tensor (NaN propagates; +inf when empty).
    pub fn min_all(&self) -> Self {
        Tensor::scalar(self.to_vec().into_iter().fold(T::infinity(), min_fold))
    }

    /// Sum over `axis`; `keepdim` keeps it with size 1. PyTorch: `sum(dim, keepdim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn sum(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("sum", self.shape(), axis);
        check_axis("sum", self.shape(), axis);
        self.reduce_axis(axis, keepdim, T::zero(), |a, x| a + x, true)
    }

    /// Mean over `axis`. PyTorch: `mean(dim, keepdim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn mean(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("mean", self.shape(), axis);
        check_axis("mean", self.shape(), axis);
        let n = T::of_usize(self.shape()[axis]);
        self.sum(axis, keepdim).map_owned(|x| x / n)
    }

    /// Maximum over `axis` (NaN propagates). PyTorch: `amax(dim, keepdim)`.
    ///
    /// # Panics
    /// When `axis` is out of range, or empty while the other axes are not
    /// (a maximum of nothing has no value; PyTorch raises too).
    #[track_caller]
    pub fn max(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("max", self.shape(), axis);
        check_axis("max", self.shape(), axis);
        non_empty_axis("max", self.shape(), axis);
        self.reduce_axis(axis, keepdim, T::neg_infinity(), max_fold, false)
    }

    /// Minimum over `axis` (NaN propagates). PyTorch: `amin(dim, keepdim)`.
    ///
    /// # Panics
    /// As [`Tensor::max`].
    #[track_caller]
    pub fn min(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("min", self.shape(), axis);
        check_axis("min", self.shape(), axis);
        non_empty_axis("min", self.shape(), axis);
        self.reduce_axis(axis, keepdim, T::infinity(), min_fold, false)
    }

    /// Index of the first maximum over `axis`, as indices in a `usize`
    /// vector laid out like the reduced shape (a NaN counts as the maximum,
    /// as in PyTorch).
    ///
    /// # Panics
    /// When `axis` is out of range or the axis is empty.
    #[track_caller]
    pub fn argmax_indices(&self, axis: usize) -> Vec<usize> {
        check_axis("argmax", self.shape(), axis);
        non_empty_axis("argmax", self.shape(), axis);
        let (outer, r, inner) = split3(self.shape(), axis);
        let c = self.contiguous();
        let src = c.as_slice().expect("contiguous");
        let mut out = vec![0usize; outer * inner];
        for o in 0..outer {
            for j in 0..inner {
                let mut best = src[o * r * inner + j];
                let mut bi = 0;
                for k in 1..r {
                    let x = src[(o * r + k) * inner + j];
                    if !best.is_nan() && (x > best || x.is_nan()) {
                        best = x;
                        bi = k;
                    }
                }
                out[o * inner + j] = bi;
            }
        }
        out
    }

    /// Index of the first maximum over `axis`, as a tensor of
    /// (exactly representable) float indices. PyTorch: `argmax(dim, keepdim)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let t = Tensor::<f32>::from_vec(vec![1.0, 9.0, 3.0, 7.0, 2.0, 0.0], &[2, 3]).unwrap();
    /// assert_eq!(t.argmax(1, false).to_vec(), vec![1.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// When `axis` is out of range or the axis is empty.
    #[track_caller]
    pub fn argmax(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("argmax", self.shape(), axis);
        let idx = self.argmax_indices(axis);
        let shape = reduced_shape(self.shape(), axis, keepdim);
        Tensor::from_parts(idx.into_iter().map(T::of_usize).collect(), &shape)
    }

    /// Sums this tensor down to `shape`, the inverse of broadcasting `shape`
    /// up to this tensor's shape: leading axes are summed away and axes where
    /// `shape` has size 1 are summed with keepdim.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let g = Tensor::<f32>::ones(&[4, 3]);
    /// assert_eq!(g.sum_to(&[3]).to_vec(), vec![4.0, 4.0, 4.0]);
    /// assert_eq!(g.sum_to(&[4, 1]).to_vec(), vec![3.0; 4]);
    /// assert_eq!(g.sum_to(&[]).item(), 12.0);
    /// ```
    ///
    /// # Panics
    /// When `shape` does not broadcast to this tensor's shape.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        // `shape` broadcasts to ours: aligned at the right, each extent
        // equal or 1 (checked on the slices: no layout built)
        let ok = shape.len() <= self.rank()
            && shape
                .iter()
                .rev()
                .zip(self.shape().iter().rev())
                .all(|(&s, &d)| s == d || s == 1);
        assert!(
            ok,
            "sum_to: shape {shape:?} does not broadcast to {:?}, called at {}",
            self.shape(),
            std::panic::Location::caller()
        );
        if shape.iter().all(|&d| d == 1) {
            return Tensor::from_buf(smallvec::smallvec![self.sum_value()], shape);
        }
        if let (Some(m), Some(src)) = (
            crate::layout::row_repeat(self.shape(), shape),
            self.as_slice(),
        ) {
            // summing leading axes only: add the rows in order, each
            // thread owning a band of columns (the same order of additions
            // for every element, whatever the thread count); the output is
            // inline up to a few elements, with no buffer of its own
            let mut out = crate::pool::Buf::from_elem(T::zero(), m);
            // the row loop inside `wide` (one dispatch per band, not per
            // row: W7's bias gradients have rows of 128 to 512)
            let add_rows = |(band, o): (usize, &mut [T])| {
                let start = band * super::PAR_CHUNK;
                super::wide::wide(
                    #[inline(always)]
                    || {
                        for row in src.chunks_exact(m) {
                            for (o, &x) in o.iter_mut().zip(&row[start..]) {
                                *o = *o + x;
                            }
                        }
                    },
                );
            };
            if super::parallel(src.len()) && m > super::PAR_CHUNK {
                out.par_chunks_mut(super::PAR_CHUNK)
                    .enumerate()
                    .for_each(add_rows);
            } else {
                out.chunks_mut(super::PAR_CHUNK)
                    .enumerate()
                    .for_each(add_rows);
            }
            return Tensor::from_buf(out, shape);
        }
        if let Some(src) = self.as_slice() {
            return Tensor::from_parts(sum_dense_to(src, self.shape(), shape), shape);
        }
        let lead = self.rank() - shape.len();
        let mut t = self.clone();
        for _ in 0..lead {
            t = t.sum(0, false);
        }
        for (i, &d) in shape.iter().enumerate() {
            if d == 1 && t.shape()[i] != 1 {
                t = t.sum(i, true);
            }
        }
        t
    }
}

/// `src` (dense, of shape `from`) summed down to `to` (which broadcasts to
/// `from`) in one pass in memory order: the axes merged into runs that are
/// all kept or all summed, a summed innermost run added up with
/// [`lane_sum`], a kept one added element by element into its output row.
/// Single-threaded, so the order of additions never depends on threads.
fn sum_dense_to<T: Element>(src: &[T], from: &[usize], to: &[usize]) -> Vec<T> {
    // (extent, kept) per axis of `from`, adjacent axes of one kind merged
    let lead = from.len() - to.len();
    let mut runs: Vec<(usize, bool)> = Vec::new();
    for (i, &d) in from.iter().enumerate() {
        let kept = i >= lead && to[i - lead] == d;
        if d == 1 {
            continue; // joins any run
        }
        match runs.last_mut() {
            Some((e, k)) if *k == kept => *e *= d,
            _ => runs.push((d, kept)),
        }
    }
    let m: usize = to.iter().product();
    let mut out = vec![T::zero(); m];
    if src.is_empty() {
        return out;
    }
    // output stride of each run: kept runs in row-major order, summed 0
    let mut ostride = vec![0usize; runs.len()];
    let mut acc = 1;
    for (i, &(e, kept)) in runs.iter().enumerate().rev() {
        if kept {
            ostride[i] = acc;
            acc *= e;
        }
    }
    walk_runs(src, &mut out, &runs, &ostride, 0, 0);
    out
}

/// Adds the block of `src` spanned by `runs[depth..]` into `out` at `o`.
fn walk_runs<T: Element>(
    src: &[T],
    out: &mut [T],
    runs: &[(usize, bool)],
    ostride: &[usize],
    depth: usize,
    o: usize,
) {
    let (e, kept) = runs[depth];
    if depth + 1 == runs.len() {
        if kept {
            let dst = &mut out[o..o + e];
            dst.iter_mut().zip(src).for_each(|(d, &x)| *d = *d + x);
        } else {
            out[o] = out[o] + lane_sum(src);
        }
        return;
    }
    let block = src.len() / e;
    for (i, part) in src.chunks_exact(block).enumerate() {
        walk_runs(part, out, runs, ostride, depth + 1, o + i * ostride[depth]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_max_skips_nans_and_finds_the_max_anywhere() {
        assert_eq!(lane_max::<f32>(&[]), f32::NEG_INFINITY);
        assert_eq!(lane_max(&[f32::NAN, f32::NAN]), f32::NEG_INFINITY);
        for n in [1usize, 31, 32, 33, 64, 100] {
            for at in 0..n {
                let mut xs: Vec<f32> = (0..n).map(|i| -(i as f32)).collect();
                xs[at] = 7.0;
                xs[(at + 1) % n] = if n > 1 { f32::NAN } else { 7.0 };
                assert_eq!(lane_max(&xs), 7.0, "n {n}, max at {at}");
            }
        }
    }

    #[test]
    fn axis_reductions() {
        let t = Tensor::<f64>::from_vec(vec![1., 5., 3., 4., 2., 6.], &[2, 3]).unwrap();
        assert_eq!(t.sum(0, false).to_vec(), vec![5., 7., 9.]);
        assert_eq!(t.sum(1, true).shape(), &[2, 1]);
        assert_eq!(t.sum(1, true).to_vec(), vec![9., 12.]);
        assert_eq!(t.max(1, false).to_vec(), vec![5., 6.]);
        assert_eq!(t.min(0, false).to_vec(), vec![1., 2., 3.]);
        assert_eq!(t.mean(0, false).to_vec(), vec![2.5, 3.5, 4.5]);
        assert_eq!(t.argmax_indices(0), vec![1, 0, 1]);
        assert_eq!(t.t().sum(0, false).to_vec(), vec![9., 12.]);
        assert!(t.max_all().item() == 6.0 && t.min_all().item() == 1.0);
        let e = Tensor::<f64>::zeros(&[0, 3]);
        assert_eq!(e.sum(0, false).to_vec(), vec![0., 0., 0.]);
        assert_eq!(e.sum_all().item(), 0.0);
    }

    #[test]
    fn nan_propagates_through_max() {
        let t = Tensor::<f64>::from_vec(vec![1., f64::NAN, 3.], &[3]).unwrap();
        assert!(t.max(0, false).item().is_nan());
        assert_eq!(t.argmax_indices(0), vec![1]);
    }

    #[test]
    fn long_sums_are_accurate_and_chunk_independent() {
        let n = 3 * SUM_CHUNK + 17;
        let v: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let expect: f64 = v.iter().sum();
        let t = Tensor::from_vec(v, &[n]).unwrap();
        assert_eq!(t.sum_all().item(), expect);
    }
}
