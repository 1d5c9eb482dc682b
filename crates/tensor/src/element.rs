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
    /// The standard normal CDF `Φ(x) = ½(1 + erf(x/√2))`: f64 through
    /// libm's `erf`; f32 by a branch-free approximation that vectorises
    /// (within 1e-7 of the true value, see `kernels::approx`).
    fn normal_cdf(self) -> Self;
    /// The standard normal density `e^(−x²/2)/√(2π)`: f64 through libm's
    /// `exp`, f32 by a branch-free `exp` that vectorises (2 ulp).
    fn normal_pdf(self) -> Self;
    /// `e^x`: f64 through libm; f32 by the branch-free `exp` that
    /// vectorises (within 2 ulp of libm's, subnormals and overflow
    /// included; see `kernels::approx`).
    fn exp_vectorised(self) -> Self;
    /// One 8×8 tile of a transpose, `dst[c·ld_dst + r] = src[r·ld_src +
    /// c]` (see `kernels::transpose`): by loops, in registers for f32.
    #[doc(hidden)]
    #[inline]
    fn transpose_tile(src: &[Self], ld_src: usize, dst: &mut [Self], ld_dst: usize) {
        crate::kernels::transpose::tile_by_loops(src, ld_src, dst, ld_dst)
    }
    /// `d[i] += s[i]` for the first `len` lanes of a chunk of `N ≤ 32`,
    /// the others left as they were (they add −0, which changes no value,
    /// −0 included), without a branch: the lanes are masked by bits
    /// loaded from a table, which vectorises where a comparison per lane
    /// did not (see `kernels::window`'s fold).
    ///
    /// # Panics
    /// When `len` or `N` exceeds 32.
    #[doc(hidden)]
    fn add_first<const N: usize>(d: &mut [Self; N], s: &[Self; N], len: usize);
    /// The first `len` lanes of a chunk of `N ≤ 32`, the others +0,
    /// masked as in [`Element::add_first`].
    ///
    /// # Panics
    /// When `len` or `N` exceeds 32.
    #[doc(hidden)]
    fn keep_first<const N: usize>(v: &[Self; N], len: usize) -> [Self; N];
}

/// The bits of −0.
const NEG_ZERO_F32: u32 = 0x8000_0000;
const NEG_ZERO_F64: u64 = 1 << 63;

/// 32 masks of all ones, then 32 of zeros: `N` of them from `32 − len` on
/// keep the first `len` lanes of a chunk.
trait LaneMask: Copy + 'static {
    fn table() -> &'static [Self; 64];
}
/// The table of `LaneMask` for a mask type, built at compile time.
macro_rules! lane_mask {
    ($t:ty) => {
        impl LaneMask for $t {
            fn table() -> &'static [$t; 64] {
                static TABLE: [$t; 64] = {
                    let mut t = [0; 64];
                    let mut i = 0;
                    while i < 32 {
                        t[i] = <$t>::MAX;
                        i += 1;
                    }
                    t
                };
                &TABLE
            }
        }
    };
}
lane_mask!(u32);
lane_mask!(u64);

/// The masks that keep the first `len` of `N` lanes (both at most 32).
#[inline(always)]
fn lane_masks<M: LaneMask, const N: usize>(len: usize) -> &'static [M; N] {
    let table = M::table();
    let start = 32usize.checked_sub(len).expect("add_first: len at most 32");
    table[start..start + N]
        .try_into()
        .expect("add_first: N at most 32")
}

/// `½(1 + erf(x/√2))` and `e^(−x²/2)/√(2π)` in f64, exactly as written.
fn normal_cdf_f64(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2))
}
fn normal_pdf_f64(x: f64) -> f64 {
    let inv_sqrt_2pi = 0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
    (-(x * x) * 0.5).exp() * inv_sqrt_2pi
}

impl Element for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline(always)]
    fn normal_cdf(self) -> Self {
        crate::kernels::approx::normal_cdf_f32(self)
    }
    #[inline(always)]
    fn normal_pdf(self) -> Self {
        crate::kernels::approx::normal_pdf_f32(self)
    }
    #[inline(always)]
    fn exp_vectorised(self) -> Self {
        crate::kernels::approx::exp_f32(self)
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
    #[inline]
    fn transpose_tile(src: &[Self], ld_src: usize, dst: &mut [Self], ld_dst: usize) {
        crate::kernels::transpose::tile_f32(src, ld_src, dst, ld_dst)
    }
    #[inline(always)]
    fn add_first<const N: usize>(d: &mut [Self; N], s: &[Self; N], len: usize) {
        // every load before the store, into locals: the compiler need
        // not prove the chunks apart to vectorise
        let (keep, s, mut v) = (*lane_masks::<u32, N>(len), *s, *d);
        for ((v, s), k) in v.iter_mut().zip(s).zip(keep) {
            *v += f32::from_bits((s.to_bits() & k) | (NEG_ZERO_F32 & !k));
        }
        *d = v;
    }
    #[inline(always)]
    fn keep_first<const N: usize>(v: &[Self; N], len: usize) -> [Self; N] {
        let (keep, mut v) = (*lane_masks::<u32, N>(len), *v);
        for (v, k) in v.iter_mut().zip(keep) {
            *v = f32::from_bits(v.to_bits() & k);
        }
        v
    }
}

impl Element for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[inline]
    fn normal_cdf(self) -> Self {
        normal_cdf_f64(self)
    }
    #[inline]
    fn normal_pdf(self) -> Self {
        normal_pdf_f64(self)
    }
    #[inline]
    fn exp_vectorised(self) -> Self {
        self.exp()
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
    #[inline(always)]
    fn add_first<const N: usize>(d: &mut [Self; N], s: &[Self; N], len: usize) {
        // every load before the store, into locals: the compiler need
        // not prove the chunks apart to vectorise
        let (keep, s, mut v) = (*lane_masks::<u64, N>(len), *s, *d);
        for ((v, s), k) in v.iter_mut().zip(s).zip(keep) {
            *v += f64::from_bits((s.to_bits() & k) | (NEG_ZERO_F64 & !k));
        }
        *d = v;
    }
    #[inline(always)]
    fn keep_first<const N: usize>(v: &[Self; N], len: usize) -> [Self; N] {
        let (keep, mut v) = (*lane_masks::<u64, N>(len), *v);
        for (v, k) in v.iter_mut().zip(keep) {
            *v = f64::from_bits(v.to_bits() & k);
        }
        v
    }
}
