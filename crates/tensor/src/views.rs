//! Views: ops that change how storage is read, copying nothing.

use crate::element::Element;
use crate::error::TensorError;
use crate::layout::{check_axis, contiguous_strides, Dims, Layout};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// Swaps axes `a` and `b` (a view). PyTorch: `transpose(a, b)`.
    ///
    /// # Panics
    /// When an axis is out of range.
    #[track_caller]
    pub fn transpose(&self, a: usize, b: usize) -> Self {
        check_axis("transpose", self.shape(), a);
        check_axis("transpose", self.shape(), b);
        let mut l = self.layout.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        self.with_layout(l)
    }

    /// The transpose of a matrix: swaps the last two axes (a view).
    ///
    /// # Panics
    /// When the rank is below 2.
    #[track_caller]
    pub fn t(&self) -> Self {
        let r = self.rank();
        assert!(
            r >= 2,
            "t: needs rank >= 2, got shape {:?}, called at {}",
            self.shape(),
            std::panic::Location::caller()
        );
        self.transpose(r - 2, r - 1)
    }

    /// Reorders the axes: axis `i` of the result is axis `dims[i]` of `self`.
    ///
    /// # Panics
    /// When `dims` is not a permutation of `0..rank`.
    #[track_caller]
    pub fn permute(&self, dims: &[usize]) -> Self {
        let r = self.rank();
        let mut seen = vec![false; r];
        let ok = dims.len() == r
            && dims
                .iter()
                .all(|&d| d < r && !std::mem::replace(&mut seen[d], true));
        assert!(
            ok,
            "permute: {dims:?} is not a permutation of the axes of shape {:?}, called at {}",
            self.shape(),
            std::panic::Location::caller()
        );
        let l = Layout {
            shape: dims.iter().map(|&d| self.layout.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.layout.strides[d]).collect(),
            offset: self.layout.offset,
        };
        self.with_layout(l)
    }

    /// The same elements in `shape` (row-major order): a view whenever the
    /// strides allow one (as PyTorch's `view`: a contiguous tensor always,
    /// a narrowed or permuted one when the axes merged or split are laid
    /// out one after another in memory), a copy otherwise.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let t = Tensor::<f32>::arange(0.0, 12.0, 1.0).reshape(&[2, 6]).unwrap();
    /// // columns 2..6 of each row, split into [2, 2, 2]: still a view
    /// let v = t.narrow(1, 2, 4).reshape(&[2, 2, 2]).unwrap();
    /// assert_eq!(v.storage_id(), t.storage_id());
    /// assert_eq!(v.to_vec(), vec![2.0, 3.0, 4.0, 5.0, 8.0, 9.0, 10.0, 11.0]);
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeTooLarge`] when `shape` is too large to exist;
    /// [`TensorError::ReshapeMismatch`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        if crate::layout::same_shape(shape, self.shape()) {
            // the same shape: the same view (`linear` reshapes its 2-D
            // input to 2-D on every call; W4: 1 % of a step)
            return Ok(self.clone());
        }
        let Some(n) = crate::layout::checked_numel(shape) else {
            return Err(TensorError::ShapeTooLarge {
                op: "reshape",
                shape: shape.to_vec(),
            });
        };
        if n != self.numel() {
            return Err(TensorError::ReshapeMismatch {
                from: self.shape().to_vec(),
                to: shape.to_vec(),
            });
        }
        if let Some(strides) = view_strides(&self.layout.shape, &self.layout.strides, shape) {
            return Ok(self.with_layout(Layout {
                shape: shape.into(),
                strides,
                offset: self.layout.offset,
            }));
        }
        let base = self.contiguous();
        let l = Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: base.layout.offset,
        };
        Ok(base.with_layout(l))
    }

    /// The tensor as one axis of `numel` elements.
    pub fn flatten(&self) -> Self {
        self.reshape(&[self.numel()])
            .expect("flatten keeps the element count")
    }

    /// Elements `start..start + len` along `axis` (a view). PyTorch: `narrow`.
    ///
    /// # Panics
    /// When the axis or the range is out of bounds (checked without
    /// wrapping: `narrow(1, usize::MAX, 2)` panics).
    #[track_caller]
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        check_axis("narrow", self.shape(), axis);
        let size = self.shape()[axis];
        let end = start.checked_add(len);
        if !matches!(end, Some(e) if e <= size) {
            panic!(
                "narrow: range {start}..{start}+{len} is out of bounds for axis {axis} of shape {:?}, called at {}",
                self.shape(),
                std::panic::Location::caller()
            );
        }
        let mut l = self.layout.clone();
        l.shape[axis] = len;
        if l.shape.contains(&0) {
            // an empty view reads nothing: offset 0, always inside the
            // storage (`start · stride` is not when the storage is empty,
            // as a step of an empty batch's sequence is, or when `start`
            // is the axis's end in a view that does not start at 0)
            l.offset = 0;
        } else {
            // start < size here, and no axis is empty, so the new offset is
            // one this view could already reach: inside the storage
            l.offset += start * l.strides[axis];
        }
        self.with_layout(l)
    }

    /// Removes `axis` if its size is 1 (otherwise returns the tensor as is,
    /// like PyTorch's `squeeze(dim)`).
    ///
    /// # Panics
    /// When the axis is out of range.
    #[track_caller]
    pub fn squeeze(&self, axis: usize) -> Self {
        check_axis("squeeze", self.shape(), axis);
        if self.shape()[axis] != 1 {
            return self.clone();
        }
        let mut l = self.layout.clone();
        l.shape.remove(axis);
        l.strides.remove(axis);
        self.with_layout(l)
    }

    /// Inserts an axis of size 1 at position `axis` (`0..=rank`).
    ///
    /// # Panics
    /// When `axis > rank`.
    #[track_caller]
    pub fn unsqueeze(&self, axis: usize) -> Self {
        assert!(
            axis <= self.rank(),
            "unsqueeze: axis {axis} is out of range for shape {:?}, called at {}",
            self.shape(),
            std::panic::Location::caller()
        );
        let mut l = self.layout.clone();
        // the stride of a size-1 axis is never used to step; saturating
        // keeps a broadcast view's huge extents from wrapping here
        let stride = if axis < l.shape.len() {
            l.strides[axis].saturating_mul(l.shape[axis])
        } else {
            1
        };
        l.shape.insert(axis, 1);
        l.strides.insert(axis, stride);
        self.with_layout(l)
    }

    /// The tensor broadcast to `shape` (a view with stride 0 on the
    /// broadcast axes). NumPy rules: align trailing axes; size 1 stretches.
    ///
    /// # Errors
    /// [`TensorError::BroadcastMismatch`] when the shapes are incompatible;
    /// [`TensorError::ShapeTooLarge`] when `shape` is too large to exist.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self, TensorError> {
        if crate::layout::checked_numel(shape).is_none() {
            return Err(TensorError::ShapeTooLarge {
                op: "broadcast_to",
                shape: shape.to_vec(),
            });
        }
        match self.layout.broadcast_to(shape) {
            Some(l) => Ok(self.with_layout(l)),
            None => Err(TensorError::BroadcastMismatch {
                from: self.shape().to_vec(),
                to: shape.to_vec(),
            }),
        }
    }
}

/// The shape after removing (or keeping as size 1) `axis`.
pub(crate) fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Dims {
    let mut s: Dims = shape.into();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

/// Strides that show the elements of a tensor with `shape`/`strides` in
/// `new` shape (same count) without moving any, when there are such.
///
/// The old axes fall into runs laid out one after another in memory (axis
/// `d`'s stride is axis `d+1`'s stride times its size; size-1 axes join
/// any run). Each run is one block of evenly spaced elements, so any run of
/// new axes with the same element count can index it, with strides built
/// up from the run's innermost stride. A new axis that would straddle two
/// runs has no single stride: then there is no view.
fn view_strides(shape: &[usize], strides: &[usize], new: &[usize]) -> Option<crate::layout::Dims> {
    let mut out: crate::layout::Dims = new.iter().map(|_| 0).collect();
    if shape.contains(&0) {
        // no elements: any strides do
        return Some(contiguous_strides(new));
    }
    // walk both shapes from the innermost axis out, one old run at a time
    let mut next_new = new.len();
    let mut d = shape.len();
    while d > 0 {
        let base = strides[d - 1];
        let mut run = 1usize;
        // extend the run outwards while the next axis continues it
        loop {
            d -= 1;
            run = run.checked_mul(shape[d])?;
            if d == 0 || (shape[d - 1] != 1 && strides[d - 1] != run.checked_mul(base)?) {
                break;
            }
        }
        // new axes (innermost first) cover exactly `run` elements
        let mut covered = 1usize;
        while next_new > 0 && (covered < run || new[next_new - 1] == 1) {
            next_new -= 1;
            out[next_new] = covered.checked_mul(base)?;
            covered = covered.checked_mul(new[next_new])?;
        }
        if covered != run {
            return None;
        }
    }
    // leftover new axes can only be of size 1 (the counts are equal)
    while next_new > 0 {
        next_new -= 1;
        out[next_new] = 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn t23() -> Tensor<f64> {
        Tensor::from_vec((0..6).map(|x| x as f64).collect(), &[2, 3]).unwrap()
    }

    #[test]
    fn views_read_the_right_elements() {
        let t = t23();
        assert_eq!(t.transpose(0, 1).to_vec(), vec![0., 3., 1., 4., 2., 5.]);
        assert_eq!(t.narrow(1, 1, 2).to_vec(), vec![1., 2., 4., 5.]);
        assert_eq!(t.unsqueeze(1).shape(), &[2, 1, 3]);
        assert_eq!(t.unsqueeze(2).squeeze(2).shape(), &[2, 3]);
        assert_eq!(t.permute(&[1, 0]).to_vec(), t.t().to_vec());
        let b = Tensor::<f64>::from_vec(vec![1., 2.], &[2, 1])
            .unwrap()
            .broadcast_to(&[2, 3])
            .unwrap();
        assert_eq!(b.to_vec(), vec![1., 1., 1., 2., 2., 2.]);
        // reshape of a non-contiguous view copies, in logical order
        assert_eq!(
            t.t().reshape(&[6]).unwrap().to_vec(),
            vec![0., 3., 1., 4., 2., 5.]
        );
        assert!(t.reshape(&[4]).is_err());
        assert!(t.broadcast_to(&[3, 3]).is_err());
    }

    #[test]
    fn views_share_storage() {
        let t = t23();
        let v = t.transpose(0, 1);
        assert!(std::sync::Arc::ptr_eq(&t.data, &v.data));
        let n = t.narrow(0, 1, 1);
        assert!(std::sync::Arc::ptr_eq(&t.data, &n.data));
    }

    #[test]
    #[should_panic(expected = "narrow: range 2..2+2 is out of bounds for axis 0 of shape [2, 3]")]
    fn narrow_out_of_range_panics() {
        t23().narrow(0, 2, 2);
    }
}
