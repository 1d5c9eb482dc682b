//! The scalar types a [`Tensor`](crate::Tensor) can hold.

use num_traits::Float;
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// The data type of a tensor's elements, as a value (for files and messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// A floating-point element type: implemented for `f32` and `f64`.
///
/// f64 matters: gradient checks run in f64 so that finite differences are
/// accurate to many digits.
pub trait Element: Float + Sum + Default + Send + Sync + Debug + Display + 'static {
    /// The dtype tag of this element type.
    const DTYPE: DType;

    /// Converts an `f64` constant into this type (rounding for `f32`).
    fn of_f64(v: f64) -> Self;

    /// Converts to `f64` exactly (for `f32`) or trivially.
    fn as_f64(self) -> f64;

    /// Converts a count or an index into this type.
    fn of_usize(v: usize) -> Self;

    /// The pool of large free buffers of this type (see `pool`).
    #[doc(hidden)]
    fn free_list() -> &'static crate::pool::FreeList<Self>;
    /// The error function (from `libm`, the Rust port of musl's, accurate
    /// to the last bit or so: what PyTorch's exact GELU needs).
    fn erf(self) -> Self;
}

impl Element for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
    const DTYPE: DType = DType::F32;
    #[inline]
    fn of_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn of_usize(v: usize) -> Self {
        v as f32
    }
    fn free_list() -> &'static crate::pool::FreeList<Self> {
        static LIST: crate::pool::FreeList<f32> = std::sync::Mutex::new(Vec::new());
        &LIST
    }
}

impl Element for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
    const DTYPE: DType = DType::F64;
    #[inline]
    fn of_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn of_usize(v: usize) -> Self {
        v as f64
    }
    fn free_list() -> &'static crate::pool::FreeList<Self> {
        static LIST: crate::pool::FreeList<f64> = std::sync::Mutex::new(Vec::new());
        &LIST
    }
}
