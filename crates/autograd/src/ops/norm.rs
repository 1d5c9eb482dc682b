//! Layer normalization: the normalization of each row one primitive (one
//! pass forward, one backward, see `mnemon_tensor::kernels::norm`), weight
//! and bias applied by `mul` and `add`. Its rule, when gradients of
//! gradients are being built, is written in `Var` ops, so every order
//! works.

use crate::saved::Keep;
use crate::tape::{Ctx, InputGrads};
use crate::var::Var;
use mnemon_tensor::Element;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// Normalizes over the last `dims` axes: `(x − μ)/√(σ² + eps)` with the
    /// biased variance, then `· weight + bias` when given (shaped like
    /// those axes). PyTorch: `F.layer_norm(x, x.shape[-dims:], weight,
    /// bias, eps)`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4]).unwrap());
    /// let y = x.layer_norm(1, None, None, 0.0).value().to_vec();
    /// let s = 1.25f64.sqrt();
    /// assert!((y[0] + 1.5 / s).abs() < 1e-12 && (y[3] - 1.5 / s).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// When `dims` is 0 or above the rank, or weight/bias do not have the
    /// normalized shape.
    #[track_caller]
    pub fn layer_norm(
        &self,
        dims: usize,
        weight: Option<&Self>,
        bias: Option<&Self>,
        eps: f64,
    ) -> Self {
        let s = self.shape().to_vec();
        let tail = &s[s.len().saturating_sub(dims)..];
        let fits = dims > 0
            && dims <= s.len()
            && weight.is_none_or(|w| w.shape() == tail)
            && bias.is_none_or(|b| b.shape() == tail);
        if !fits {
            panic!(
                "layer_norm: cannot normalize the last {dims} axes of {s:?} with weight {:?} and bias {:?}, called at {}",
                weight.map(|w| w.shape().to_vec()),
                bias.map(|b| b.shape().to_vec()),
                Location::caller()
            );
        }
        let lead = &s[..s.len() - dims];
        let n: usize = tail.iter().product();
        let rows: usize = lead.iter().product();
        let mut y = self
            .reshape_to(&[rows, n])
            .normalize_rows(eps)
            .reshape_to(&s);
        if let Some(w) = weight {
            y = &y * w;
        }
        if let Some(b) = bias {
            y = &y + b;
        }
        y
    }

    /// Each row of a `[rows, n]` Var normalized (`layer_norm` without
    /// weight and bias), one recorded op.
    #[track_caller]
    fn normalize_rows(&self, eps: f64) -> Self {
        let v = self.value.layer_norm_last(eps);
        let loc = Location::caller();
        self.tape.record(
            "layer_norm",
            v,
            &[self],
            normalize_rule,
            Keep::Values,
            loc,
            |f, _| f.scalar = eps,
        )
    }
}

/// With `x̂` the normalized row and `inv = 1/√(σ² + eps)`:
/// `dx = inv·(g − mean(g) − x̂·mean(g·x̂))`. Building gradients of
/// gradients, the formula is recorded in `Var` ops of `x` and `g` (so its
/// own gradient is exact); in a plain backward one pass computes it.
fn normalize_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let eps = c.saved.scalar;
    if !c.tape.recording.get() {
        let v = c.input_value(0).layer_norm_last_backward(&g.value, eps);
        return super::one_computed(c, "layer_norm_backward", v, normalize_rule);
    }
    let x = c.input(0);
    let centered = &x - &x.mean(1, true);
    let inv = centered
        .powi(2)
        .mean(1, true)
        .add_scalar(T::of_f64(eps))
        .sqrt()
        .recip();
    let xhat = &centered * &inv;
    let mean_g = g.mean(1, true);
    let mean_gx = (&g * &xhat).mean(1, true);
    super::one(&inv * &(&(&g - &mean_g) - &(&xhat * &mean_gx)))
}
