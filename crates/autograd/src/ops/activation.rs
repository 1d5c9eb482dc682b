//! Smooth activations: `erf`, `softplus` and the exact GELU (with its
//! derivative `gelu_grad`) as primitives, one pass each, with rules in
//! `Var` ops so every order works; the tanh GELU composed.

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::Element;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// The error function; derivative `2/√π · e^(−x²)`. PyTorch: `erf`.
    #[track_caller]
    pub fn erf(&self) -> Self {
        let v = self.value.erf();
        let loc = Location::caller();
        self.tape
            .record("erf", v, &[self], erf_rule, Keep::Values, loc, |_, _| {})
    }

    /// `ln(1 + eˣ)`, computed stably; derivative `σ(x)` (exactly ½ at 0,
    /// where a composed `relu(x) + ln(1 + e^−|x|)` would give 0 from its
    /// kinks). PyTorch: `softplus` (beta 1; PyTorch switches to `x` above
    /// 20, which differs from this by less than 2e−9).
    #[track_caller]
    pub fn softplus(&self) -> Self {
        let v = self.value.softplus();
        let loc = Location::caller();
        self.tape.record(
            "softplus",
            v,
            &[self],
            softplus_rule,
            Keep::Values,
            loc,
            |_, _| {},
        )
    }

    /// GELU, exact form `x · Φ(x) = ½x(1 + erf(x/√2))`. PyTorch:
    /// `gelu(x)` (`approximate="none"`).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]).unwrap());
    /// let y = x.gelu().value().to_vec();
    /// assert!((y[0] + 0.15865525393145707).abs() < 1e-15 && y[1] == 0.0);
    /// ```
    #[track_caller]
    pub fn gelu(&self) -> Self {
        let v = self.value.gelu();
        let loc = Location::caller();
        self.tape.record(
            "gelu",
            v,
            &[self],
            gelu_rule,
            Keep::Values,
            loc,
            |s, out| {
                // the output too: the plain backward reads Φ(x) back as y/x
                s.output = Some(out.clone())
            },
        )
    }

    /// GELU's derivative `Φ(x) + x·φ(x)` as one op (what `gelu`'s rule
    /// multiplies the incoming gradient by); its own rule is
    /// `φ(x)·(2 − x²)`, composed, so every order works.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::scalar(0.0));
    /// assert_eq!(x.gelu_grad().item(), 0.5); // Φ(0)
    /// ```
    #[track_caller]
    pub fn gelu_grad(&self) -> Self {
        let v = self.value.gelu_grad();
        let loc = Location::caller();
        self.tape.record(
            "gelu_grad",
            v,
            &[self],
            gelu_grad_rule,
            Keep::Values,
            loc,
            |_, _| {},
        )
    }

    /// GELU, tanh form `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`. PyTorch:
    /// `gelu(x, approximate="tanh")`.
    #[track_caller]
    pub fn gelu_tanh(&self) -> Self {
        let k = T::of_f64((2.0 / std::f64::consts::PI).sqrt());
        let inner = (self + &self.powi(3).mul_scalar(T::of_f64(0.044715))).mul_scalar(k);
        (self * &inner.tanh().add_scalar(T::one())).mul_scalar(T::of_f64(0.5))
    }
}

fn erf_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let x = c.input(0);
    let d = (&x * &x)
        .neg()
        .exp()
        .mul_scalar(T::of_f64(std::f64::consts::FRAC_2_SQRT_PI));
    one(&g * &d)
}

/// `g·gelu'(x)`: recorded as `Var` ops when gradients of gradients are
/// being built, else one pass into `g`'s buffer (reading `Φ(x)` back from
/// the saved output, see `Tensor::gelu_backward_at`).
fn gelu_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    if c.tape.recording.get() {
        return one(&g * &c.input(0).gelu_grad());
    }
    let x = c.input_value(0);
    let v = c.with_output_value(|y| g.value.gelu_backward_at(&x, y));
    super::one_computed(c, "gelu_backward", v, gelu_rule)
}

/// d/dx [Φ(x) + x·φ(x)] = φ(x) + φ(x) − x²·φ(x) = φ(x)·(2 − x²).
fn gelu_grad_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let x = c.input(0);
    let x2 = &x * &x;
    let inv_sqrt_2pi = 0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
    let pdf = x2
        .mul_scalar(T::of_f64(-0.5))
        .exp()
        .mul_scalar(T::of_f64(inv_sqrt_2pi));
    one(&g * &(&pdf * &x2.neg().add_scalar(T::of_f64(2.0))))
}

fn softplus_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(&g * &c.input(0).sigmoid())
}
