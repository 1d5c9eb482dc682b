//! The `Tensor` type: shared immutable storage plus a strided layout.

use crate::element::Element;
use crate::error::TensorError;
use crate::layout::{Layout, RowWalker};
use crate::pool::Storage;
use std::sync::Arc;

/// An n-dimensional array of `T` (`f32` by default).
///
/// Storage is shared and immutable (`Arc<Vec<T>>`), so `clone()` is O(1) and
/// views (`transpose`, `narrow`, `broadcast_to`, ...) copy nothing. Every op
/// returns a new tensor.
///
/// ```
/// use mnemon_tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let b = a.transpose(0, 1); // a view: no copy
/// assert_eq!((&a + &b).to_vec(), vec![2.0, 5.0, 5.0, 8.0]);
/// ```
#[derive(Clone)]
pub struct Tensor<T: Element = f32> {
    pub(crate) data: Arc<Storage<T>>,
    pub(crate) layout: Layout,
}

impl<T: Element> Tensor<T> {
    /// Wraps a dense row-major buffer; the caller guarantees the length.
    pub(crate) fn from_parts(data: Vec<T>, shape: &[usize]) -> Self {
        Self::from_buf(crate::pool::Buf::from_vec(data), shape)
    }

    /// As [`Tensor::from_parts`] for a buffer that may hold its elements
    /// inline.
    pub(crate) fn from_buf(data: crate::pool::Buf<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(Some(data.len()), crate::layout::checked_numel(shape));
        Tensor {
            data: Arc::new(Storage::new(data)),
            layout: Layout::contiguous(shape),
        }
    }

    pub(crate) fn with_layout(&self, layout: Layout) -> Self {
        Tensor {
            data: self.data.clone(),
            layout,
        }
    }

    /// A tensor of `shape` holding `data` in row-major order.
    ///
    /// # Errors
    /// [`TensorError::ShapeTooLarge`] when the shape's element count does
    /// not fit in `isize` (see [`checked_numel`](crate::checked_numel));
    /// [`TensorError::LengthMismatch`] when `data.len()` is not the product
    /// of `shape`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self, TensorError> {
        let expected =
            crate::layout::checked_numel(shape).ok_or_else(|| TensorError::ShapeTooLarge {
                op: "from_vec",
                shape: shape.to_vec(),
            })?;
        if data.len() != expected {
            return Err(TensorError::LengthMismatch {
                shape: shape.to_vec(),
                expected,
                got: data.len(),
            });
        }
        Ok(Self::from_parts(data, shape))
    }

    /// A tensor of `shape` holding a copy of `data`.
    ///
    /// # Errors
    /// As [`Tensor::from_vec`].
    pub fn from_slice(data: &[T], shape: &[usize]) -> Result<Self, TensorError> {
        Self::from_vec(data.to_vec(), shape)
    }

    /// A rank-0 tensor (shape `[]`) holding one value.
    pub fn scalar(value: T) -> Self {
        Self::from_buf(smallvec::smallvec![value], &[])
    }

    /// A tensor of `shape` filled with `value`.
    ///
    /// # Panics
    /// When the shape is too large to exist (see
    /// [`checked_numel`](crate::checked_numel)); use [`Tensor::try_full`]
    /// for a shape that comes from outside the program.
    #[track_caller]
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::filled("full", shape, value)
    }

    /// As [`Tensor::full`], for a shape from outside the program.
    ///
    /// ```
    /// use mnemon_tensor::{Tensor, TensorError};
    /// assert_eq!(Tensor::<f32>::try_full(&[2], 1.5).unwrap().to_vec(), vec![1.5, 1.5]);
    /// let err = Tensor::<f32>::try_full(&[1 << 32, 1 << 32], 0.0).unwrap_err();
    /// assert!(matches!(err, TensorError::ShapeTooLarge { .. }));
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeTooLarge`] when the shape is too large to exist.
    pub fn try_full(shape: &[usize], value: T) -> Result<Self, TensorError> {
        match crate::layout::checked_numel(shape) {
            Some(_) => Ok(Self::filled("try_full", shape, value)),
            None => Err(TensorError::ShapeTooLarge {
                op: "try_full",
                shape: shape.to_vec(),
            }),
        }
    }

    #[track_caller]
    fn filled(op: &str, shape: &[usize], value: T) -> Self {
        let n = crate::layout::numel_or_panic(op, shape);
        let mut v = crate::pool::take_buf(n);
        v.resize(n, value);
        Self::from_buf(v, shape)
    }

    /// A tensor of `shape` filled with zeros.
    ///
    /// # Panics
    /// As [`Tensor::full`].
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        Self::filled("zeros", shape, T::zero())
    }

    /// A tensor of `shape` filled with ones.
    ///
    /// # Panics
    /// As [`Tensor::full`].
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Self {
        Self::filled("ones", shape, T::one())
    }

    /// `[start, start + step, ...]` up to but excluding `end` (NumPy's `arange`).
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// assert_eq!(Tensor::<f32>::arange(0.0, 2.0, 0.5).to_vec(), vec![0.0, 0.5, 1.0, 1.5]);
    /// ```
    ///
    /// # Panics
    /// When `step` is zero or not finite, `start` or `end` is not finite,
    /// or the range would hold more elements than fit in `isize`
    /// (`arange(0, 1e30, 1e-30)`): never a silently empty or short tensor.
    #[track_caller]
    pub fn arange(start: T, end: T, step: T) -> Self {
        let loc = std::panic::Location::caller();
        assert!(
            step != T::zero() && step.is_finite() && start.is_finite() && end.is_finite(),
            "arange: start, end and step must be finite and step non-zero, got {start}, {end}, {step}, called at {loc}"
        );
        let count = ((end - start) / step).ceil().as_f64();
        // an empty range (end before start, for the step's sign) is empty
        let count = if count > 0.0 { count } else { 0.0 };
        assert!(
            count < isize::MAX as f64 && count.is_finite(),
            "arange: {start}..{end} by {step} holds {count:e} elements, more than fit in isize, called at {loc}"
        );
        let n = count as usize;
        let data: Vec<T> = (0..n).map(|i| start + step * T::of_usize(i)).collect();
        let len = data.len();
        Self::from_parts(data, &[len])
    }

    /// `n` evenly spaced values from `start` to `end`, both included.
    pub fn linspace(start: T, end: T, n: usize) -> Self {
        let data: Vec<T> = match n {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / T::of_usize(n - 1);
                (0..n)
                    .map(|i| {
                        if i == n - 1 {
                            end
                        } else {
                            start + step * T::of_usize(i)
                        }
                    })
                    .collect()
            }
        };
        Self::from_parts(data, &[n])
    }

    /// The `n × n` identity matrix.
    ///
    /// # Panics
    /// When `n × n` elements do not fit in `isize`.
    #[track_caller]
    pub fn eye(n: usize) -> Self {
        let mut data = vec![T::zero(); crate::layout::numel_or_panic("eye", &[n, n])];
        for i in 0..n {
            data[i * n + i] = T::one();
        }
        Self::from_parts(data, &[n, n])
    }

    /// The shape: one size per axis; `[]` for a scalar.
    pub fn shape(&self) -> &[usize] {
        &self.layout.shape
    }

    /// The strides, in elements, of each axis in the storage.
    pub fn strides(&self) -> &[usize] {
        &self.layout.strides
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.layout.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> crate::DType {
        T::DTYPE
    }

    /// True when the elements are dense and in row-major order.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// The elements in row-major order, when the tensor is contiguous.
    #[inline]
    pub fn as_slice(&self) -> Option<&[T]> {
        let n = self.layout.dense_len()?;
        if n == 0 {
            // whatever its offset says, an empty view holds nothing
            return Some(&[]);
        }
        Some(&self.data[self.layout.offset..self.layout.offset + n])
    }

    /// A contiguous tensor with the same values (O(1) if already contiguous).
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            self.clone()
        } else {
            Self::from_parts(self.to_vec(), self.shape())
        }
    }

    /// The elements in row-major (logical) order.
    pub fn to_vec(&self) -> Vec<T> {
        if let Some(s) = self.as_slice() {
            let mut v = crate::pool::take(s.len());
            v.extend_from_slice(s);
            return v;
        }
        let n = self.numel();
        if n == 0 {
            return Vec::new();
        }
        // fewer, longer rows: axes the view steps through as one are merged
        // (a head merge [B, L, H, D] becomes rows of D, a transpose a plane)
        let (dims, [layout]) = crate::layout::coalesce(self.shape(), [&self.layout]);
        let r = dims.len(); // ≥ 1: some extent exceeds 1, or it was contiguous
        let (last, step) = (dims[r - 1], layout.strides[r - 1]);
        if r >= 2 && step != 1 && layout.strides[r - 2] == 1 {
            return self.transposed_to_vec(&dims, &layout);
        }
        let mut out = crate::pool::take(n);
        let mut walk = RowWalker::new(&dims, [&layout], 0);
        for _ in 0..n / last {
            let [base] = walk.next_row();
            if step == 1 {
                out.extend_from_slice(&self.data[base..base + last]);
            } else if step == 0 {
                out.resize(out.len() + last, self.data[base]); // broadcast
            } else {
                out.extend(self.data[base..].iter().step_by(step).take(last));
            }
        }
        out
    }

    /// `to_vec` of a coalesced view whose last two axes `[a, b]` are a
    /// transpose (strides `[1, s]`): each plane in 8×8 tiles (see
    /// `kernels::transpose`), instead of one strided read per element.
    fn transposed_to_vec(&self, dims: &[usize], layout: &Layout) -> Vec<T> {
        let r = dims.len();
        let (a, b, s) = (dims[r - 2], dims[r - 1], layout.strides[r - 1]);
        let n = self.numel();
        let mut out = crate::pool::overwritable(n);
        let planes = Layout {
            shape: dims[..r - 1].into(),
            strides: layout.strides[..r - 1].into(),
            offset: layout.offset,
        };
        let mut walk = RowWalker::new(&planes.shape, [&planes], 0);
        for plane in out.chunks_exact_mut(a * b) {
            let [base] = walk.next_row();
            // plane[i·b + j] = data[base + i + j·s]
            crate::kernels::transpose::transpose_into(&self.data[base..], s, plane, b, (a, b));
        }
        out
    }

    /// Consumes the tensor and returns its elements in row-major order,
    /// reusing the buffer without a copy when this tensor owns it alone.
    pub fn into_vec(self) -> Vec<T> {
        let n = self.numel();
        if self.layout.offset == 0 && self.data.len() == n && self.is_contiguous() {
            match Arc::try_unwrap(self.data) {
                Ok(s) => s.into_buf().into_vec(),
                Err(shared) => shared.to_vec(),
            }
        } else {
            self.to_vec()
        }
    }

    /// The one value of a rank-0 or one-element tensor.
    ///
    /// # Panics
    /// When the tensor holds more or fewer than one element.
    #[track_caller]
    pub fn item(&self) -> T {
        assert!(
            self.numel() == 1,
            "item: tensor of shape {:?} holds {} elements, not one, called at {}",
            self.shape(),
            self.numel(),
            std::panic::Location::caller()
        );
        self.data[self.layout.offset]
    }

    /// Converts every element to another element type.
    pub fn cast<U: Element>(&self) -> Tensor<U> {
        let v = self
            .to_vec()
            .into_iter()
            .map(|x| U::of_f64(x.as_f64()))
            .collect();
        Tensor::from_parts(v, self.shape())
    }

    /// True when both tensors have the same shape and the same values.
    pub fn all_close(&self, other: &Self, rtol: f64, atol: f64) -> bool {
        self.shape() == other.shape()
            && self.to_vec().iter().zip(other.to_vec()).all(|(&a, b)| {
                let (a, b) = (a.as_f64(), b.as_f64());
                (a - b).abs() <= atol + rtol * b.abs() || (a.is_nan() && b.is_nan()) || a == b
            })
    }

    /// True when no other tensor shares this tensor's storage, so an op may
    /// write the result into it.
    pub(crate) fn is_unique_dense(&mut self) -> bool {
        self.layout.offset == 0
            && self.layout.dense_len() == Some(self.data.len())
            && Arc::get_mut(&mut self.data).is_some()
    }

    /// An identifier of this tensor's storage buffer: equal for tensors
    /// (views) that share storage.
    pub fn storage_id(&self) -> usize {
        Arc::as_ptr(&self.data) as usize
    }

    /// The bytes of element storage this tensor keeps alive.
    pub fn storage_bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<T>()
    }
}

impl<T: Element> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.to_vec() == other.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors() {
        let t = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.strides(), &[3, 1]);
        let err = Tensor::<f32>::from_vec(vec![1., 2.], &[3]).unwrap_err();
        assert_eq!(
            err,
            TensorError::LengthMismatch {
                shape: vec![3],
                expected: 3,
                got: 2
            }
        );
        assert!(err.to_string().contains("3 elements, but 2"));
        assert_eq!(Tensor::<f64>::scalar(2.5).shape(), &[] as &[usize]);
        assert_eq!(Tensor::<f64>::scalar(2.5).item(), 2.5);
        assert_eq!(
            Tensor::<f64>::linspace(0.0, 1.0, 5).to_vec(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(Tensor::<f64>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(Tensor::<f64>::zeros(&[0, 3]).numel(), 0);
        assert_eq!(
            Tensor::<f32>::arange(0.0, 3.0, 1.0).to_vec(),
            vec![0.0, 1.0, 2.0]
        );
    }

    #[test]
    fn into_vec_reuses_unique_buffer() {
        let t = Tensor::<f32>::ones(&[crate::pool::INLINE + 1]);
        let p = t.data.as_ptr();
        let v = t.into_vec();
        assert_eq!(v.as_ptr(), p);
    }

    #[test]
    fn tiny_tensors_hold_their_elements_inline() {
        let t = Tensor::<f64>::scalar(2.0).map(|x| x + 1.0);
        assert!(!t.data.spilled());
        assert_eq!(t.item(), 3.0);
        let n = crate::pool::INLINE;
        let most = Tensor::<f64>::ones(&[n]).map(|x| x * 2.0);
        assert!(!most.data.spilled());
        assert_eq!(most.into_vec(), vec![2.0; n]);
        let big = Tensor::<f64>::ones(&[n + 1]).map(|x| x * 2.0);
        assert!(big.data.spilled());
        assert_eq!(big.into_vec(), vec![2.0; n + 1]);
    }
}
