//! Elementwise functions of two (or three) tensors with NumPy broadcasting.

use super::{map_in_place, piece, zip_strided, PAR_CHUNK, PAR_MIN};
use crate::element::Element;
use crate::layout::{broadcast_shapes, same_shape};
use crate::layout::{row_repeat, run_repeat};
use crate::tensor::Tensor;
use std::sync::Arc;

/// The broadcast shape of two operands, or a panic naming the op, both
/// shapes and the caller's line.
#[track_caller]
pub(crate) fn broadcast_or_panic(op: &str, a: &[usize], b: &[usize]) -> crate::layout::Dims {
    match broadcast_shapes(a, b) {
        Some(s) => {
            // two existing shapes can broadcast to one too large to exist
            // (`[2^40, 1]` with `[1, 2^40]`)
            if !same_shape(a, b) {
                crate::layout::numel_or_panic(op, &s);
            }
            s
        }
        None => panic!(
            "{op}: shapes {a:?} and {b:?} cannot be broadcast together, called at {}",
            std::panic::Location::caller()
        ),
    }
}

/// `f(a[i], b[i])` into a new vector (equal lengths), across threads,
/// each chunk a vectorised loop.
fn zip_slices<T: Element, F: Fn(T, T) -> T + Sync + Send>(a: &[T], b: &[T], f: F) -> Vec<T> {
    // every element is written below
    let mut out = crate::pool::overwritable(a.len());
    super::par_pieces(&mut out, PAR_CHUNK, &|i, o| {
        let (a, b) = (
            piece(a, i, PAR_CHUNK, o.len()),
            piece(b, i, PAR_CHUNK, o.len()),
        );
        super::wide::wide(
            #[inline(always)]
            || {
                for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                    *o = f(x, y);
                }
            },
        )
    });
    out
}

/// `a[i] = f(a[i], b[i])`, vectorised.
#[inline]
fn zip_in_place<T: Element, F: Fn(T, T) -> T>(a: &mut [T], b: &[T], f: &F) {
    super::wide::wide(
        #[inline(always)]
        || {
            for (x, &y) in a.iter_mut().zip(b) {
                *x = f(*x, y);
            }
        },
    )
}

impl<T: Element> Tensor<T> {
    /// `f(a, b)` elementwise with NumPy broadcasting; `op` names the op in
    /// the panic message.
    ///
    /// Fast paths: same-shape dense operands, and one operand holding a
    /// single element; everything else (bias rows, columns, strided views)
    /// goes through the row-walking strided kernel.
    ///
    /// # Panics
    /// When the shapes cannot be broadcast together.
    #[track_caller]
    pub fn zip_with<F>(&self, other: &Self, op: &str, f: F) -> Self
    where
        F: Fn(T, T) -> T + Sync + Send,
    {
        let shape = broadcast_or_panic(op, self.shape(), other.shape());
        if let (Some(a), Some(b)) = (self.as_slice(), other.as_slice()) {
            if same_shape(self.shape(), other.shape()) {
                // large: written in place inside the AVX-512 region, on
                // every thread count (on one thread the loop below ran
                // outside it; W5 1 thread 104 -> 89 ms, median of 8)
                if a.len() >= PAR_MIN {
                    return Tensor::from_parts(zip_slices(a, b, f), &shape);
                }
                if a.len() <= crate::pool::INLINE {
                    let mut buf = [T::zero(); crate::pool::INLINE];
                    for ((o, &x), &y) in buf.iter_mut().zip(a).zip(b) {
                        *o = f(x, y);
                    }
                    let out = crate::pool::Buf::from_buf_and_len(buf, a.len());
                    return Tensor::from_buf(out, &shape);
                }
                // memory-bound: pushed straight into an empty buffer (a
                // vectorised loop through a stack block measured slower,
                // its extra copy costing more than the lanes gained)
                let mut out = crate::pool::take(a.len());
                out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
                return Tensor::from_parts(out, &shape);
            }
        }
        let n: usize = shape.iter().product();
        if let (Some(a), Some(b)) = (self.as_slice(), other.as_slice()) {
            let repeat = row_repeat(self.shape(), other.shape())
                .filter(|&m| same_shape(&shape, self.shape()) && m > 1);
            if let Some(m) = repeat.filter(|_| n >= PAR_MIN) {
                // a large tensor against one row (a layer norm's weight and
                // bias): whole rows per piece, in place inside the AVX-512
                // region (the strided walk below, with its zero fill, took
                // most of a W7 layer norm)
                let mut out = crate::pool::overwritable(n);
                let rows = (PAR_CHUNK / m).max(1) * m;
                super::par_pieces(&mut out, rows, &|i, o| {
                    let src = piece(a, i, rows, o.len());
                    super::wide::wide(
                        #[inline(always)]
                        || {
                            for (orow, arow) in o.chunks_exact_mut(m).zip(src.chunks_exact(m)) {
                                for ((o, &x), &y) in orow.iter_mut().zip(arow).zip(b) {
                                    *o = f(x, y);
                                }
                            }
                        },
                    )
                });
                return Tensor::from_parts(out, &shape);
            }
            if let Some(m) = repeat {
                // a bias row: each row of `a` against the one row of `b`
                let mut out = crate::pool::take(n);
                for row in a.chunks_exact(m) {
                    out.extend(row.iter().zip(b).map(|(&x, &y)| f(x, y)));
                }
                return Tensor::from_parts(out, &shape);
            }
            // a per-channel operand (a conv bias), on either side
            if let Some(runs) =
                run_repeat(&shape, other.shape()).filter(|_| same_shape(&shape, self.shape()))
            {
                return Tensor::from_parts(zip_runs(a, b, runs, &f), &shape);
            }
            if let Some(runs) =
                run_repeat(&shape, self.shape()).filter(|_| same_shape(&shape, other.shape()))
            {
                return Tensor::from_parts(zip_runs(b, a, runs, &|y, x| f(x, y)), &shape);
            }
        }
        if let Some(y) = other.single_value().filter(|_| self.numel() == n) {
            return self.map(|x| f(x, y)).reshaped_view(&shape);
        }
        if let Some(x) = self.single_value().filter(|_| other.numel() == n) {
            return other.map(|y| f(x, y)).reshaped_view(&shape);
        }
        let la = self.layout.broadcast_to(&shape).expect("shape checked");
        let lb = other.layout.broadcast_to(&shape).expect("shape checked");
        let out = zip_strided(
            [(&self.data[..], &la), (&other.data[..], &lb)],
            &shape,
            |[x, y]| f(x, y),
        );
        Tensor::from_parts(out, &shape)
    }

    /// As [`Tensor::zip_with`], but writes the result into `self`'s buffer
    /// when `self` owns it alone and already has the output's shape: no
    /// allocation, no fresh pages to fault in.
    #[track_caller]
    pub fn zip_with_owned<F>(mut self, other: &Self, op: &str, f: F) -> Self
    where
        F: Fn(T, T) -> T + Sync + Send,
    {
        // equal shapes (an optimizer's update, a gradient accumulating)
        // need no broadcast shape built: ~110 instructions of a tiny op
        let same = same_shape(self.shape(), other.shape());
        if !same
            && !same_shape(
                &broadcast_or_panic(op, self.shape(), other.shape()),
                self.shape(),
            )
        {
            return self.zip_with(other, op, f);
        }
        if self.is_unique_dense() {
            if let Some(b) = other.as_slice().filter(|_| same) {
                let a = Arc::get_mut(&mut self.data).expect("checked unique");
                if super::parallel(a.len()) {
                    super::par_pieces(a, PAR_CHUNK, &|i, ca| {
                        zip_in_place(ca, piece(b, i, PAR_CHUNK, ca.len()), &f)
                    });
                } else {
                    zip_in_place(a, b, &f);
                }
                return self;
            }
            if let Some(y) = other.single_value() {
                let a = Arc::get_mut(&mut self.data).expect("checked unique");
                map_in_place(a, |x| f(x, y));
                return self;
            }
            if let Some(b) = other.as_slice() {
                if let Some(m) =
                    row_repeat(self.shape(), other.shape()).filter(|_| self.numel() < PAR_MIN)
                {
                    let a = Arc::get_mut(&mut self.data).expect("checked unique");
                    for row in a.chunks_exact_mut(m) {
                        zip_in_place(row, b, &f);
                    }
                    return self;
                }
            }
        }
        self.zip_with(other, op, f)
    }

    /// The value when every element is the same stored element (one
    /// element, or a scalar broadcast with all strides 0).
    pub(crate) fn single_value(&self) -> Option<T> {
        let n = self.numel();
        (n > 0 && (n == 1 || self.strides().iter().all(|&s| s == 0)))
            .then(|| self.data[self.layout.offset])
    }

    /// A contiguous tensor viewed with another shape of the same size.
    pub(crate) fn reshaped_view(self, shape: &[usize]) -> Self {
        if same_shape(self.shape(), shape) {
            self
        } else {
            self.reshape(shape).expect("same element count")
        }
    }

    /// `a + b` with broadcasting. PyTorch: `add`.
    #[track_caller]
    pub fn add(&self, other: &Self) -> Self {
        self.zip_fused(other, "add", |a, b| a + b)
    }

    /// `a + b` for two owned tensors: the sum is written into whichever
    /// buffer is unshared, dense and already of the result's shape (a
    /// gradient accumulating several contributions, for instance), else
    /// into a new one.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let a = Tensor::<f32>::ones(&[3]).broadcast_to(&[2, 3]).unwrap(); // a view
    /// let b = Tensor::<f32>::full(&[2, 3], 2.0);                        // owned alone
    /// assert_eq!(a.add_owned(b).to_vec(), vec![3.0; 6]);
    /// ```
    #[track_caller]
    pub fn add_owned(mut self, mut other: Self) -> Self {
        let shape = broadcast_or_panic("add", self.shape(), other.shape());
        if self.is_deferred() || other.is_deferred() {
            // a contribution still to compute joins its chain; two
            // computed ones are added at once, in place
            return self.zip_fused_owned(&other, "add", |a, b| a + b);
        }
        let self_fits = same_shape(&shape, self.shape()) && self.is_unique_dense();
        if !self_fits && same_shape(&shape, other.shape()) && other.is_unique_dense() {
            return other.zip_with_owned(&self, "add", |b, a| a + b);
        }
        self.zip_with_owned(&other, "add", |a, b| a + b)
    }

    /// `a - b` with broadcasting. PyTorch: `sub`.
    #[track_caller]
    pub fn sub(&self, other: &Self) -> Self {
        self.zip_fused(other, "sub", |a, b| a - b)
    }

    /// `a * b` with broadcasting. PyTorch: `mul`.
    #[track_caller]
    pub fn mul(&self, other: &Self) -> Self {
        self.zip_fused(other, "mul", |a, b| a * b)
    }

    /// `a / b` with broadcasting. PyTorch: `div`.
    #[track_caller]
    pub fn div(&self, other: &Self) -> Self {
        self.zip_fused(other, "div", |a, b| a / b)
    }

    /// The larger of `a` and `b`, elementwise with broadcasting (NaN wins).
    /// PyTorch: `maximum`.
    #[track_caller]
    pub fn maximum(&self, other: &Self) -> Self {
        self.zip_fused(
            other,
            "maximum",
            |a, b| if a.is_nan() || a >= b { a } else { b },
        )
    }

    /// The smaller of `a` and `b`, elementwise with broadcasting (NaN wins).
    /// PyTorch: `minimum`.
    #[track_caller]
    pub fn minimum(&self, other: &Self) -> Self {
        self.zip_fused(
            other,
            "minimum",
            |a, b| if a.is_nan() || a <= b { a } else { b },
        )
    }

    /// `a^b` elementwise with broadcasting; integer-valued exponents give
    /// the real result for negative bases. PyTorch: `pow`.
    #[track_caller]
    pub fn pow(&self, other: &Self) -> Self {
        self.zip_fused(other, "pow", |a, b| a.powf(b))
    }

    /// Mask (1 where true, 0 where false) of `a > b`. PyTorch: `gt`.
    #[track_caller]
    pub fn gt(&self, other: &Self) -> Self {
        self.zip_fused(other, "gt", |a, b| mask(a > b))
    }

    /// Mask of `a < b`. PyTorch: `lt`.
    #[track_caller]
    pub fn lt(&self, other: &Self) -> Self {
        self.zip_fused(other, "lt", |a, b| mask(a < b))
    }

    /// Mask of `a >= b`. PyTorch: `ge`.
    #[track_caller]
    pub fn ge(&self, other: &Self) -> Self {
        self.zip_fused(other, "ge", |a, b| mask(a >= b))
    }

    /// Mask of `a <= b`. PyTorch: `le`.
    #[track_caller]
    pub fn le(&self, other: &Self) -> Self {
        self.zip_fused(other, "le", |a, b| mask(a <= b))
    }

    /// Mask of `a == b` (a tensor, as PyTorch's `eq`; `==` on two tensors
    /// is the `PartialEq` comparison of whole tensors).
    #[track_caller]
    pub fn eq(&self, other: &Self) -> Self {
        self.zip_fused(other, "eq", |a, b| mask(a == b))
    }

    /// Mask of `a != b`. PyTorch: `ne`.
    #[track_caller]
    pub fn ne(&self, other: &Self) -> Self {
        self.zip_fused(other, "ne", |a, b| mask(a != b))
    }

    /// `a` where `mask` is non-zero, `b` elsewhere; all three broadcast
    /// together. PyTorch: `torch.where(mask, a, b)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let m = Tensor::<f32>::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    /// let r = Tensor::where_(&m, &Tensor::ones(&[2]), &Tensor::zeros(&[2, 1]));
    /// assert_eq!(r.to_vec(), vec![1.0, 0.0, 1.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// When the three shapes cannot be broadcast together.
    #[track_caller]
    pub fn where_(mask: &Self, a: &Self, b: &Self) -> Self {
        let s = broadcast_or_panic("where", a.shape(), b.shape());
        let shape = broadcast_or_panic("where", mask.shape(), &s);
        let lm = mask.layout.broadcast_to(&shape).expect("shape checked");
        let la = a.layout.broadcast_to(&shape).expect("shape checked");
        let lb = b.layout.broadcast_to(&shape).expect("shape checked");
        let out = zip_strided(
            [
                (&mask.data[..], &lm),
                (&a.data[..], &la),
                (&b.data[..], &lb),
            ],
            &shape,
            |[m, x, y]| if m != T::zero() { x } else { y },
        );
        Tensor::from_parts(out, &shape)
    }
}

#[inline]
fn mask<T: Element>(c: bool) -> T {
    if c {
        T::one()
    } else {
        T::zero()
    }
}

/// `f(a, b[k % period])` over each run `k` of `run` elements of `a` (a
/// per-channel bias against `[N, C, H, W]`, see `run_repeat`): one pass,
/// each run inside the AVX-512 region when it is long enough to pay for
/// entering it (the general strided walk, with its zero fill first, was
/// 1.6 % of a W6 step for LeNet's two conv biases).
fn zip_runs<T: Element, F>(a: &[T], b: &[T], (period, run): (usize, usize), f: &F) -> Vec<T>
where
    F: Fn(T, T) -> T + Sync + Send,
{
    let mut out = crate::pool::take(a.len());
    for (k, src) in a.chunks_exact(run).enumerate() {
        let y = b[k % period];
        if run >= 64 {
            super::wide::wide(
                #[inline(always)]
                || out.extend(src.iter().map(|&x| f(x, y))),
            );
        } else {
            out.extend(src.iter().map(|&x| f(x, y)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn broadcasting_values() {
        let a = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let row = Tensor::<f64>::from_vec(vec![10., 20., 30.], &[3]).unwrap();
        let col = Tensor::<f64>::from_vec(vec![100., 200.], &[2, 1]).unwrap();
        assert_eq!(a.add(&row).to_vec(), vec![11., 22., 33., 14., 25., 36.]);
        assert_eq!(
            a.add(&col).to_vec(),
            vec![101., 102., 103., 204., 205., 206.]
        );
        assert_eq!(
            a.t().mul(&col.t()).to_vec(),
            vec![100., 800., 200., 1000., 300., 1200.]
        );
        let s = Tensor::<f64>::scalar(2.0);
        assert_eq!(s.sub(&row).to_vec(), vec![-8., -18., -28.]);
        assert_eq!(
            a.gt(&Tensor::scalar(3.0)).to_vec(),
            vec![0., 0., 0., 1., 1., 1.]
        );
        let one = Tensor::<f64>::from_vec(vec![5.0], &[1, 1]).unwrap();
        assert_eq!(row.add(&one).shape(), &[1, 3]);
    }

    #[test]
    fn owned_zip_reuses_buffer() {
        let a = Tensor::<f32>::ones(&[1000]);
        let p = a.data.as_ptr();
        let b = Tensor::<f32>::ones(&[1000]);
        let c = a.zip_with_owned(&b, "add", |x, y| x + y);
        assert_eq!(c.data.as_ptr(), p);
        assert!(c.to_vec().iter().all(|&v| v == 2.0));
    }

    #[test]
    fn shape_mismatch_message_names_op_shapes_and_line() {
        let a = Tensor::<f32>::zeros(&[2, 3]);
        let b = Tensor::<f32>::zeros(&[4]);
        let err = std::panic::catch_unwind(|| a.add(&b)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("add: shapes [2, 3] and [4] cannot be broadcast"),
            "{msg}"
        );
        assert!(msg.contains(file!()), "{msg}");
    }
}
