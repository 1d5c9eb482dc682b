//! Elementwise functions of one tensor.

use crate::element::Element;
use crate::tensor::Tensor;

/// The logistic function 1 / (1 + e^-x); finite for every finite x
/// (e^-x overflows to +inf for very negative x, giving exactly 0). In f32
/// through the `exp` that vectorises (within 2 ulp of libm's; a call to
/// libm's `expf` per element was a tenth of a W3 step), in f64 libm's.
#[inline(always)]
pub fn sigmoid_scalar<T: Element>(x: T) -> T {
    T::one() / (T::one() + (-x).exp_vectorised())
}

/// The standard normal CDF `½(1 + erf(x/√2))`, as PyTorch computes it
/// (f32 through a vectorising approximation, see [`Element::normal_cdf`]).
#[inline(always)]
fn gauss_cdf<T: Element>(x: T) -> T {
    x.normal_cdf()
}

/// The standard normal density `e^(−x²/2)/√(2π)` (0 where x² overflows).
#[inline(always)]
fn gauss_pdf<T: Element>(x: T) -> T {
    x.normal_pdf()
}

/// `x·Φ(x)`, inlined into the map's loop so that it vectorises.
#[inline(always)]
fn gelu_scalar<T: Element>(x: T) -> T {
    x * gauss_cdf(x)
}

/// `Φ(x) + x·φ(x)`, inlined into the map's loop so that it vectorises.
#[inline(always)]
fn gelu_grad_scalar<T: Element>(x: T) -> T {
    gauss_cdf(x) + x * gauss_pdf(x)
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $f:expr;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Self {
                    self.map_fused($f)
                }
            )*
        }
    };
}

impl<T: Element> Tensor<T> {
    /// [`Tensor::sigmoid`] of a tensor the caller gives up: written into
    /// its buffer when it owns it alone (same bits, no allocation).
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![0.0, 2.0], &[2]).unwrap();
    /// assert_eq!(x.clone().sigmoid_owned().to_vec(), x.sigmoid().to_vec());
    /// ```
    pub fn sigmoid_owned(self) -> Self {
        self.map_fused_owned(
            #[inline(always)]
            |x: T| sigmoid_scalar(x),
        )
    }

    /// [`Tensor::tanh`] of a tensor the caller gives up: written into its
    /// buffer when it owns it alone (same bits, no allocation).
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![0.0, -1.5], &[2]).unwrap();
    /// assert_eq!(x.clone().tanh_owned().to_vec(), x.tanh().to_vec());
    /// ```
    pub fn tanh_owned(self) -> Self {
        self.map_fused_owned(|x: T| x.tanh())
    }
}

unary_ops! {
    /// `-x`. PyTorch: `neg`.
    neg => |x: T| -x;
    /// `e^x` (f32: the vectorising `exp`, within 2 ulp of libm's). PyTorch: `exp`.
    exp => #[inline(always)] |x: T| x.exp_vectorised();
    /// Natural logarithm. PyTorch: `log`.
    log => |x: T| x.ln();
    /// Square root. PyTorch: `sqrt`.
    sqrt => |x: T| x.sqrt();
    /// Absolute value. PyTorch: `abs`.
    abs => |x: T| x.abs();
    /// `1 / x`. PyTorch: `reciprocal`.
    recip => |x: T| x.recip();
    /// The logistic sigmoid `1 / (1 + e^-x)`, finite at ±1e4. PyTorch: `sigmoid`.
    sigmoid => #[inline(always)] |x: T| sigmoid_scalar(x);
    /// Hyperbolic tangent. PyTorch: `tanh`.
    tanh => |x: T| x.tanh();
    /// `max(x, 0)`; NaN stays NaN. PyTorch: `relu`.
    relu => |x: T| if x <= T::zero() { T::zero() } else { x };
    /// Sine. PyTorch: `sin`.
    sin => |x: T| x.sin();
    /// The error function. PyTorch: `erf`.
    erf => |x: T| Element::erf(x);
    /// GELU, `x·Φ(x)` with `Φ(x) = ½(1 + erf(x/√2))` the standard normal
    /// CDF, in one pass. PyTorch: `gelu` (`approximate='none'`).
    gelu => #[inline(always)] |x: T| gelu_scalar(x);
    /// GELU's derivative, `Φ(x) + x·φ(x)` with `φ` the standard normal
    /// density, in one pass (the gradient of [`Tensor::gelu`]).
    gelu_grad => #[inline(always)] |x: T| gelu_grad_scalar(x);
    /// `ln(1 + e^x)`, stable for every x. PyTorch: `softplus` (beta 1).
    softplus => |x: T| x.max(T::zero()) + (-x.abs()).exp().ln_1p();
    /// Cosine. PyTorch: `cos`.
    cos => |x: T| x.cos();
    /// `x²`. PyTorch: `square`.
    square => |x: T| x * x;
    /// The sign: -1, 0 or 1 (NaN stays NaN). PyTorch: `sign`.
    sign => |x: T| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { x };
    /// `ln(1 + x)`, accurate where `x` is tiny (`log(1 + x)` rounds
    /// `1 + 1e-17` to 1). PyTorch: `log1p`.
    log1p => |x: T| x.ln_1p();
    /// `eˣ − 1`, accurate where `x` is tiny. PyTorch: `expm1`.
    expm1 => |x: T| x.exp_m1();
    /// SiLU (swish), `x·σ(x)`, computed as PyTorch does: `x / (1 + e⁻ˣ)`
    /// (−0 at −∞ overflow, NaN at −∞ itself). PyTorch: `silu`.
    silu => #[inline(always)] |x: T| x / (T::one() + (-x).exp_vectorised());
}

impl<T: Element> Tensor<T> {
    /// `x` where `x > 0`, else `slope · x` (NaN stays NaN). PyTorch:
    /// `leaky_relu(x, negative_slope=slope)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![-2.0, 0.0, 3.0], &[3]).unwrap();
    /// assert_eq!(x.leaky_relu(0.1).to_vec(), vec![-0.2, 0.0, 3.0]);
    /// ```
    pub fn leaky_relu(&self, slope: T) -> Self {
        self.map_fused(move |x: T| if x > T::zero() { x } else { x * slope })
    }

    /// ELU: `x` where `x > 0`, else `alpha · (eˣ − 1)` (through `expm1`,
    /// as PyTorch; NaN stays NaN). PyTorch: `elu(x, alpha)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![f64::NEG_INFINITY, 0.0, 3.0], &[3]).unwrap();
    /// assert_eq!(x.elu(2.0).to_vec(), vec![-2.0, 0.0, 3.0]);
    /// ```
    pub fn elu(&self, alpha: T) -> Self {
        self.map_fused(move |x: T| if x > T::zero() { x } else { alpha * x.exp_m1() })
    }
}

impl<T: Element> Tensor<T> {
    /// GELU's backward: this incoming gradient times [`Tensor::gelu_grad`]
    /// of `x` (same shape or broadcast to this one), in one pass, written
    /// into this tensor's buffer when no other tensor shares it.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let g = Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2]).unwrap();
    /// let x = Tensor::<f64>::from_vec(vec![0.0, 1.5], &[2]).unwrap();
    /// let want = (&g * &x.gelu_grad()).to_vec();
    /// assert_eq!(g.gelu_backward(&x).to_vec(), want);
    /// ```
    ///
    /// # Panics
    /// When `x` cannot be broadcast to this tensor's shape.
    #[track_caller]
    pub fn gelu_backward(self, x: &Self) -> Self {
        self.zip_fused_owned(
            x,
            "gelu_backward",
            #[inline(always)]
            |g: T, x: T| g * gelu_grad_scalar(x),
        )
    }

    /// GELU's backward from its input `x` and its output `y = x·Φ(x)`:
    /// this gradient times `Φ(x) + x·φ(x)` with `Φ(x)` read back as `y/x`
    /// (`½` where `|x| < 1e-30`, where `y/x` would lose digits and `Φ` is
    /// `½` to the last bit) — one exponential an element, where
    /// [`Tensor::gelu_backward`] computes `Φ` again (two, a division and
    /// two polynomials). In this tensor's buffer when no other tensor
    /// shares it; shapes that differ, or strided operands, take
    /// [`Tensor::gelu_backward`].
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let g = Tensor::<f64>::from_vec(vec![2.0, 3.0, 1.0], &[3]).unwrap();
    /// let x = Tensor::<f64>::from_vec(vec![0.0, 1.5, -2.0], &[3]).unwrap();
    /// let got = g.clone().gelu_backward_at(&x, &x.gelu()).to_vec();
    /// let want = g.gelu_backward(&x).to_vec();
    /// assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-15));
    /// ```
    #[track_caller]
    pub fn gelu_backward_at(mut self, x: &Self, y: &Self) -> Self {
        let same = self.shape() == x.shape() && self.shape() == y.shape();
        let (xs, ys) = (x.as_slice(), y.as_slice());
        let (Some(xs), Some(ys), true) = (xs, ys, same && self.is_unique_dense()) else {
            return self.gelu_backward(x);
        };
        let tiny = T::of_f64(1e-30);
        let half = T::of_f64(0.5);
        let run = |g: &mut [T], x: &[T], y: &[T]| {
            super::wide::wide(
                #[inline(always)]
                || {
                    // the constants as values: read through the closure's
                    // reference, the select below became a masked gather
                    // of `half` per vector (AVX-512), 1.7× the loop's time
                    let (tiny, half) = (tiny, half);
                    for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                        let cdf = if x.abs() < tiny { half } else { y / x };
                        *g = *g * (cdf + x * gauss_pdf(x));
                    }
                },
            )
        };
        let a: &mut [T] = std::sync::Arc::get_mut(&mut self.data).expect("checked unique");
        if super::parallel(a.len()) {
            super::par_pieces(a, super::PAR_CHUNK, &|i, ca| {
                let n = ca.len();
                run(
                    ca,
                    super::piece(xs, i, super::PAR_CHUNK, n),
                    super::piece(ys, i, super::PAR_CHUNK, n),
                )
            });
        } else {
            run(a, xs, ys);
        }
        self
    }

    /// `x^p` for a real exponent. An integer-valued `p` gives the real result
    /// for a negative base: `powf(-4, 3) = -64`. PyTorch: `pow(x, p)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let t = Tensor::<f64>::scalar(-4.0);
    /// assert_eq!(t.powf(3.0).item(), -64.0);
    /// ```
    pub fn powf(&self, p: T) -> Self {
        if p == T::of_f64(2.0) {
            return self.square();
        }
        self.map_fused(move |x| x.powf(p))
    }

    /// `x^n` for an integer exponent. PyTorch: `pow(x, n)`.
    pub fn powi(&self, n: i32) -> Self {
        // the common small powers inline (`powi` is a library call per
        // element); the same IEEE products `powi` computes for them
        match n {
            1 => self.map_fused(|x| x),
            2 => self.map_fused(|x| x * x),
            3 => self.map_fused(|x| x * x * x),
            _ => self.map_fused(move |x| x.powi(n)),
        }
    }

    /// Clamps every element into `[lo, hi]`; NaN stays NaN, and `hi` wins
    /// when `lo > hi`. PyTorch: `clamp`.
    pub fn clamp(&self, lo: T, hi: T) -> Self {
        // comparisons, not `max`/`min`, which would replace a NaN by a bound
        self.map_fused(move |x| {
            let y = if x < lo { lo } else { x };
            if y > hi {
                hi
            } else {
                y
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn unary_values() {
        let t = Tensor::<f64>::from_vec(vec![-1e4, -1.0, 0.0, 2.0, 1e4], &[5]).unwrap();
        let s = t.sigmoid().to_vec();
        assert!(s.iter().all(|v| v.is_finite()));
        assert_eq!(s[0], 0.0);
        assert_eq!(s[4], 1.0);
        assert!((s[1] - 1.0 / (1.0 + 1f64.exp())).abs() < 1e-15);
        assert_eq!(t.relu().to_vec(), vec![0.0, 0.0, 0.0, 2.0, 1e4]);
        assert_eq!(t.tanh().to_vec()[0], -1.0);
        assert_eq!(t.narrow(0, 1, 3).powi(3).to_vec(), vec![-1.0, 0.0, 8.0]);
        assert_eq!(Tensor::<f32>::scalar(-4.0).powf(3.0).item(), -64.0);
        let nc = Tensor::<f64>::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[2, 2])
            .unwrap()
            .t();
        assert_eq!(nc.neg().to_vec(), vec![-0.0, -2.0, -1.0, -3.0]);
    }
}
