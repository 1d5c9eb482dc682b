//! Layer normalization: the normalization of each row one primitive (one
//! pass forward, one backward, see `mnemon_tensor::kernels::norm`); with
//! both a weight and a bias, the affine map is part of that primitive
//! (one pass still), else applied by `mul` or `add`. Its rules, when
//! gradients of gradients are being built, are written in `Var` ops, so
//! every order works.

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
        if let (Some(w), Some(b)) = (weight, bias) {
            let (w, b) = (w.reshape_to(&[n]), b.reshape_to(&[n]));
            return self
                .reshape_to(&[rows, n])
                .normalize_rows_affine(&w, &b, eps)
                .reshape_to(&s);
        }
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

impl<'t, T: Element> Var<'t, T> {
    /// Each row of a `[rows, n]` Var normalized, `· w + b` (each `[n]`),
    /// one recorded op.
    #[track_caller]
    fn normalize_rows_affine(&self, w: &Self, b: &Self, eps: f64) -> Self {
        let v = self.value.layer_norm_last_affine(&w.value, &b.value, eps);
        let loc = Location::caller();
        self.tape.record(
            "layer_norm",
            v,
            &[self, w, b],
            affine_rule,
            Keep::Values,
            loc,
            |f, _| f.scalar = eps,
        )
    }
}

/// `∂x` is the normalization's gradient for `g·w`, `∂w = Σ_rows g·x̂`,
/// `∂b = Σ_rows g`: one pass in a plain backward, `Var` ops of `x`, `w`
/// and `g` when gradients of gradients are being built.
fn affine_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let eps = c.saved.scalar;
    if !c.tape.recording.get() {
        let (x, w) = (c.input_value(0), c.input_value(1));
        let (dx, dw, db) = x.layer_norm_last_affine_backward(&w, &g.value, eps);
        return [dx, dw, db]
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                c.wants(i)
                    .then(|| super::computed(c, "layer_norm_backward", d, affine_rule))
            })
            .collect();
    }
    let (x, w) = (c.input(0), c.input(1));
    let n = w.shape()[0];
    let (dx, xhat) = normalize_grad(&x, &(&g * &w), eps);
    smallvec::smallvec![
        c.wants(0).then_some(dx),
        c.wants(1).then(|| (&g * &xhat).sum_to(&[n])),
        c.wants(2).then(|| g.sum_to(&[n])),
    ]
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
    super::one(normalize_grad(&c.input(0), &g, eps).0)
}

/// The normalization's gradient `inv·(g − mean(g) − x̂·mean(g·x̂))` for
/// `g`, and `x̂`, in `Var` ops of `x` and `g` (each row of `[rows, n]`).
fn normalize_grad<'t, T: Element>(
    x: &Var<'t, T>,
    g: &Var<'t, T>,
    eps: f64,
) -> (Var<'t, T>, Var<'t, T>) {
    let centered = x - &x.mean(1, true);
    let inv = centered
        .powi(2)
        .mean(1, true)
        .add_scalar(T::of_f64(eps))
        .sqrt()
        .recip();
    let xhat = &centered * &inv;
    let mean_g = g.mean(1, true);
    let mean_gx = (g * &xhat).mean(1, true);
    (&inv * &(&(g - &mean_g) - &(&xhat * &mean_gx)), xhat)
}
