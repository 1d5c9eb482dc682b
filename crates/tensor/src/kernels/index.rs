//! Joining and indexing: `concat`, `stack`, `index_select`, `gather`,
//! `one_hot`, and their adjoints `index_add` and `scatter_add` (which the
//! tape needs for gradients).

use crate::element::Element;
use crate::error::TensorError;
use crate::layout::{check_axis, Dims, Layout, RowWalker};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The element count of `shape` when a tensor of it may exist (and its
/// bytes be addressed), else [`TensorError::ShapeTooLarge`] for `op`.
fn fits<T: Element>(op: &'static str, shape: &[usize]) -> Result<usize, TensorError> {
    crate::layout::checked_numel(shape)
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .ok_or_else(|| TensorError::ShapeTooLarge {
            op,
            shape: shape.to_vec(),
        })
}

fn check_indices(
    op: &'static str,
    axis: usize,
    size: usize,
    indices: &[usize],
) -> Result<(), TensorError> {
    // the largest index first, in a loop that vectorises (a search that
    // stops at the first bad one does not: 2 % of a W6 step, whose
    // max-pool backward scatters 75,000 indices) — inside `wide`, as the
    // baseline build has no vector maximum of 64-bit integers and ran it
    // one index at a time; the culprit only then
    let largest = super::wide::wide(
        #[inline(always)]
        || indices.iter().fold(0, |m, &i| m.max(i)),
    );
    if indices.is_empty() || largest < size {
        return Ok(());
    }
    match indices.iter().find(|&&i| i >= size) {
        Some(&index) => Err(TensorError::IndexOutOfRange {
            op,
            axis,
            index,
            size,
        }),
        None => Ok(()),
    }
}

impl<T: Element> Tensor<T> {
    /// Joins tensors along an existing `axis`; all other axes must agree.
    /// PyTorch: `torch.cat`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let a = Tensor::<f32>::ones(&[1, 2]);
    /// let b = Tensor::<f32>::zeros(&[2, 2]);
    /// assert_eq!(Tensor::concat(&[a, b], 0).to_vec(), vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// When `tensors` is empty, the axis is out of range, or the other axes
    /// differ (the message names the shapes and the caller's line).
    #[track_caller]
    // Offsets bounded: `o·w + w` ≤ a part's element count (o < outer,
    // w = its axis size · inner), and the output's count is checked above.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn concat(tensors: &[Tensor<T>], axis: usize) -> Self {
        let loc = std::panic::Location::caller();
        assert!(
            !tensors.is_empty(),
            "concat: no tensors given, called at {loc}"
        );
        let first = tensors[0].shape();
        check_axis("concat", first, axis);
        for t in tensors {
            let same = t.rank() == first.len()
                && (0..first.len()).all(|d| d == axis || t.shape()[d] == first[d]);
            assert!(
                same,
                "concat: shapes {first:?} and {:?} differ outside axis {axis}, called at {loc}",
                t.shape()
            );
        }
        let total = tensors
            .iter()
            .try_fold(0usize, |acc, t| acc.checked_add(t.shape()[axis]))
            .unwrap_or(usize::MAX);
        let mut shape: Dims = first.into();
        shape[axis] = total;
        let n = crate::layout::numel_or_panic("concat", &shape);
        let outer: usize = first[..axis].iter().product();
        let inner: usize = first[axis + 1..].iter().product();
        let parts: Vec<Tensor<T>> = tensors.iter().map(|t| t.contiguous()).collect();
        let mut out = crate::pool::take(n);
        for o in 0..outer {
            for p in &parts {
                let w = p.shape()[axis] * inner;
                out.extend_from_slice(&p.as_slice().expect("contiguous")[o * w..(o + 1) * w]);
            }
        }
        Tensor::from_parts(out, &shape)
    }

    /// Joins same-shaped tensors along a new `axis`. PyTorch: `torch.stack`.
    ///
    /// # Panics
    /// When `tensors` is empty, shapes differ, or `axis > rank`.
    #[track_caller]
    pub fn stack(tensors: &[Tensor<T>], axis: usize) -> Self {
        let loc = std::panic::Location::caller();
        assert!(
            !tensors.is_empty(),
            "stack: no tensors given, called at {loc}"
        );
        for t in tensors {
            assert!(
                t.shape() == tensors[0].shape(),
                "stack: shapes {:?} and {:?} differ, called at {loc}",
                tensors[0].shape(),
                t.shape()
            );
        }
        let parts: Vec<Tensor<T>> = tensors.iter().map(|t| t.unsqueeze(axis)).collect();
        Self::concat(&parts, axis)
    }

    /// The slices at `indices` along `axis`, in that order (repeats allowed).
    /// PyTorch: `index_select`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let emb = Tensor::<f32>::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]).unwrap();
    /// assert_eq!(emb.index_select(0, &[2, 0]).unwrap().to_vec(), vec![4.0, 5.0, 0.0, 1.0]);
    /// ```
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] naming the first index too large;
    /// [`TensorError::ShapeTooLarge`] when the result could not exist.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    // Offsets bounded: `(o·r + i)·inner + inner` ≤ the source's element
    // count, as o < outer and every index i < r (checked first).
    #[allow(clippy::arithmetic_side_effects)]
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Self, TensorError> {
        check_axis("index_select", self.shape(), axis);
        let r = self.shape()[axis];
        check_indices("index_select", axis, r, indices)?;
        let mut shape: Dims = self.shape().into();
        shape[axis] = indices.len();
        let n = fits::<T>("index_select", &shape)?;
        let outer: usize = self.shape()[..axis].iter().product();
        let inner: usize = self.shape()[axis + 1..].iter().product();
        let c = self.contiguous();
        let src = c.as_slice().expect("contiguous");
        let mut out = crate::pool::take(n);
        for o in 0..outer {
            for &i in indices {
                let start = (o * r + i) * inner;
                out.extend_from_slice(&src[start..start + inner]);
            }
        }
        Ok(Tensor::from_parts(out, &shape))
    }

    /// The adjoint of [`Tensor::index_select`]: a zero tensor of `shape`
    /// into which each slice of `self` along `axis` is added at its index.
    /// PyTorch: `index_add`.
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] for an index too large;
    /// [`TensorError::IndexShapeMismatch`] when `self` does not have `shape`
    /// with `indices.len()` along `axis`; [`TensorError::ShapeTooLarge`]
    /// when `shape` could not exist.
    // Offsets bounded as in `index_select`, on both sides: indices are
    // checked against `r`, and `shape` against `checked_numel`.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn index_add(
        &self,
        axis: usize,
        indices: &[usize],
        shape: &[usize],
    ) -> Result<Self, TensorError> {
        let n = fits::<T>("index_add", shape)?;
        let mut expect: Dims = shape.into();
        if axis >= shape.len() || {
            expect[axis] = indices.len();
            expect[..] != *self.shape()
        } {
            return Err(TensorError::IndexShapeMismatch {
                op: "index_add",
                shape: shape.to_vec(),
                index_shape: self.shape().to_vec(),
            });
        }
        let r = shape[axis];
        check_indices("index_add", axis, r, indices)?;
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let c = self.contiguous();
        let src = c.as_slice().expect("contiguous");
        let mut out = crate::pool::zeroed(n);
        for o in 0..outer {
            for (p, &i) in indices.iter().enumerate() {
                let s = &src[(o * indices.len() + p) * inner..][..inner];
                let d = &mut out[(o * r + i) * inner..][..inner];
                d.iter_mut().zip(s).for_each(|(d, &s)| *d = *d + s);
            }
        }
        Ok(Tensor::from_parts(out, shape))
    }

    /// Checks a gather/scatter index tensor against `shape` and returns a
    /// layout that walks `shape`'s storage over `index_shape`, with the
    /// indexed axis' stride set aside (returned second).
    fn gather_layout(
        op: &'static str,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
        index_shape: &[usize],
    ) -> Result<(Layout, usize), TensorError> {
        fits::<T>(op, shape)?;
        let count = fits::<T>(op, index_shape)?;
        let fits = index_shape.len() == shape.len()
            && axis < shape.len()
            && indices.len() == count
            && (0..shape.len()).all(|d| d == axis || index_shape[d] <= shape[d]);
        if !fits {
            return Err(TensorError::IndexShapeMismatch {
                op,
                shape: shape.to_vec(),
                index_shape: index_shape.to_vec(),
            });
        }
        check_indices(op, axis, shape[axis], indices)?;
        let dense = Layout::contiguous(shape);
        let mut walk = Layout::contiguous(index_shape);
        walk.strides = dense.strides.clone();
        let axis_stride = walk.strides[axis];
        walk.strides[axis] = 0;
        Ok((walk, axis_stride))
    }

    /// `out[i][j] = self[i][indices[i][j]]` (for `axis = 1`; likewise for any
    /// axis): picks one element along `axis` per index. `indices` is laid out
    /// row-major in `index_shape`, which has this tensor's rank and is no
    /// larger on the other axes. PyTorch: `torch.gather`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let logp = Tensor::<f32>::from_vec(vec![0.1, 0.2, 0.3, 0.4], &[2, 2]).unwrap();
    /// let picked = logp.gather(1, &[1, 0], &[2, 1]).unwrap();
    /// assert_eq!(picked.to_vec(), vec![0.2, 0.3]);
    /// ```
    ///
    /// # Errors
    /// [`TensorError::IndexShapeMismatch`] or [`TensorError::IndexOutOfRange`].
    // Offsets bounded: the walk runs over `index_shape` (no larger than
    // the source on every other axis) with the source's dense strides and
    // each index < the axis size, so every offset is a source element's.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn gather(
        &self,
        axis: usize,
        indices: &[usize],
        index_shape: &[usize],
    ) -> Result<Self, TensorError> {
        let (walk, astride) =
            Self::gather_layout("gather", self.shape(), axis, indices, index_shape)?;
        let c = self.contiguous();
        let src = c.as_slice().expect("contiguous");
        let mut out = crate::pool::take(indices.len());
        if !indices.is_empty() {
            let last = *index_shape.last().unwrap_or(&1);
            let step = *walk.strides.last().unwrap_or(&0);
            let mut rows = RowWalker::new(index_shape, [&walk], 0);
            for row in indices.chunks(last.max(1)) {
                let [base] = rows.next_row();
                for (j, &ix) in row.iter().enumerate() {
                    out.push(src[base + j * step + ix * astride]);
                }
            }
        }
        Ok(Tensor::from_parts(out, index_shape))
    }

    /// The adjoint of [`Tensor::gather`]: a zero tensor of `shape` into which
    /// each element of `self` (shaped `index_shape`) is added at the place
    /// gather would have read it from. PyTorch: `scatter_add`.
    ///
    /// # Errors
    /// As [`Tensor::gather`], and [`TensorError::IndexShapeMismatch`] when
    /// `self` does not have `index_shape`.
    // Offsets bounded as in `gather`, into the output of `shape`.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn scatter_add(
        &self,
        axis: usize,
        indices: &[usize],
        index_shape: &[usize],
        shape: &[usize],
    ) -> Result<Self, TensorError> {
        let (walk, astride) =
            Self::gather_layout("scatter_add", shape, axis, indices, index_shape)?;
        if self.shape() != index_shape {
            return Err(TensorError::IndexShapeMismatch {
                op: "scatter_add",
                shape: self.shape().to_vec(),
                index_shape: index_shape.to_vec(),
            });
        }
        // read in place when dense (a max-pool's gradient is), else copied
        let dense = self.contiguous();
        let vals = dense.as_slice().expect("contiguous");
        let total = fits::<T>("scatter_add", shape)?;
        if let ([rows, width], [index_rows, per], 1) = (shape, index_shape, axis) {
            if super::parallel(total) && index_rows == rows && *per > 0 && *width > 0 {
                // rows of a matrix (a max-pool's gradient, one row per
                // image plane): each row is its own, so blocks of rows are
                // zeroed and filled in parallel, every row in index order
                // as below (the same sums)
                let (width, per) = (*width, *per);
                let block = (super::PAR_CHUNK / width).max(1);
                let mut out = crate::pool::overwritable(total);
                let pieces = out
                    .par_chunks_mut(block * width)
                    .zip(indices.par_chunks(block * per));
                pieces
                    .zip(vals.par_chunks(block * per))
                    .for_each(|((dst, ix), v)| {
                        dst.fill(T::zero());
                        let rows = dst.chunks_mut(width).zip(ix.chunks(per)).zip(v.chunks(per));
                        for ((drow, irow), vrow) in rows {
                            for (&i, &x) in irow.iter().zip(vrow) {
                                drow[i] = drow[i] + x;
                            }
                        }
                    });
                debug_assert_eq!(out.len(), rows * width);
                return Ok(Tensor::from_parts(out, shape));
            }
        }
        let mut out = crate::pool::zeroed(total);
        if !indices.is_empty() {
            let last = *index_shape.last().unwrap_or(&1);
            let step = *walk.strides.last().unwrap_or(&0);
            let mut rows = RowWalker::new(index_shape, [&walk], 0);
            for (row, vrow) in indices.chunks(last.max(1)).zip(vals.chunks(last.max(1))) {
                let [base] = rows.next_row();
                for (j, (&ix, &v)) in row.iter().zip(vrow).enumerate() {
                    let d = &mut out[base + j * step + ix * astride];
                    *d = *d + v;
                }
            }
        }
        Ok(Tensor::from_parts(out, shape))
    }

    /// Rows of the identity: shape `[indices.len(), classes]` with a 1 at
    /// each index. PyTorch: `one_hot`.
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] when an index is `>= classes`;
    /// [`TensorError::ShapeTooLarge`] when the result could not exist.
    // Offsets bounded: `r·classes + i` < `len·classes`, checked above.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn one_hot(indices: &[usize], classes: usize) -> Result<Self, TensorError> {
        check_indices("one_hot", 1, classes, indices)?;
        let n = fits::<T>("one_hot", &[indices.len(), classes])?;
        let mut out = crate::pool::zeroed(n);
        for (r, &i) in indices.iter().enumerate() {
            out[r * classes + i] = T::one();
        }
        Ok(Tensor::from_parts(out, &[indices.len(), classes]))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Tensor, TensorError};

    #[test]
    fn gather_and_scatter_are_adjoint() {
        let t = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[3, 4]).unwrap();
        let g = t.gather(0, &[2, 0, 1, 1], &[1, 4]).unwrap();
        assert_eq!(g.to_vec(), vec![8., 1., 6., 7.]);
        let s = Tensor::<f64>::ones(&[1, 4])
            .scatter_add(0, &[2, 0, 1, 1], &[1, 4], &[3, 4])
            .unwrap();
        assert_eq!(
            s.to_vec(),
            vec![0., 1., 0., 0., 0., 0., 1., 1., 1., 0., 0., 0.]
        );
        let err = t.gather(1, &[4], &[1, 1]).unwrap_err();
        assert_eq!(
            err,
            TensorError::IndexOutOfRange {
                op: "gather",
                axis: 1,
                index: 4,
                size: 4
            }
        );
        assert!(t.gather(1, &[0, 0], &[1, 1]).is_err());
    }

    #[test]
    fn index_add_inverts_select() {
        let t = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[3, 2]).unwrap();
        let sel = t.index_select(0, &[1, 1, 2]).unwrap();
        assert_eq!(sel.to_vec(), vec![2., 3., 2., 3., 4., 5.]);
        let back = sel.index_add(0, &[1, 1, 2], &[3, 2]).unwrap();
        assert_eq!(back.to_vec(), vec![0., 0., 4., 6., 4., 5.]);
        assert!(t
            .index_select(0, &[3])
            .unwrap_err()
            .to_string()
            .contains("index 3 is out of range"));
    }

    #[test]
    fn stack_and_one_hot() {
        let a = Tensor::<f32>::from_vec(vec![1., 2.], &[2]).unwrap();
        let b = Tensor::<f32>::from_vec(vec![3., 4.], &[2]).unwrap();
        assert_eq!(
            Tensor::stack(&[a.clone(), b.clone()], 1).to_vec(),
            vec![1., 3., 2., 4.]
        );
        assert_eq!(Tensor::stack(&[a, b], 0).shape(), &[2, 2]);
        assert_eq!(
            Tensor::<f32>::one_hot(&[1, 0], 3).unwrap().to_vec(),
            vec![0., 1., 0., 1., 0., 0.]
        );
    }
}
