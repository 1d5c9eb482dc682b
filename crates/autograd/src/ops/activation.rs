//! Activations: `erf`, `softplus`, SiLU and the exact GELU (with its
//! derivative `gelu_grad`) as smooth primitives; the leaky ReLU and ELU,
//! whose kink at 0 follows PyTorch's convention. One pass each forward,
//! rules in `Var` ops so every order works; the tanh GELU composed.

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

    /// SiLU (swish), `x·σ(x)`; derivative `σ(x)·(1 + x·(1 − σ(x)))`, as
    /// PyTorch's `silu_backward` writes it. PyTorch: `silu`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![0.0, 2.0], &[2]).unwrap());
    /// let y = x.silu();
    /// let s2 = 1.0 / (1.0 + (-2.0f64).exp());
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0 / (1.0 + (-2.0f64).exp())]);
    /// let g = y.sum_all().backward().wrt(&x).unwrap().to_vec();
    /// assert_eq!(g[0], 0.5); // σ(0)
    /// assert!((g[1] - s2 * (1.0 + 2.0 * (1.0 - s2))).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn silu(&self) -> Self {
        let v = self.value.silu();
        let loc = Location::caller();
        self.tape
            .record("silu", v, &[self], silu_rule, Keep::Values, loc, |_, _| {})
    }

    /// Leaky ReLU: `x` where `x > 0`, else `slope · x`. The derivative is
    /// 1 where `x > 0` and `slope` elsewhere: `slope` at the kink `x = 0`
    /// and at NaN, as PyTorch's `leaky_relu_backward` (`x > 0 ? g :
    /// g·slope`). PyTorch: `leaky_relu(x, negative_slope=slope)`
    /// (`nn.LeakyReLU`'s default slope is 0.01).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]).unwrap());
    /// let y = x.leaky_relu(0.25);
    /// assert_eq!(y.value().to_vec(), vec![-0.5, 0.0, 3.0]);
    /// let g = y.sum_all().backward().wrt(&x).unwrap().to_vec();
    /// assert_eq!(g, vec![0.25, 0.25, 1.0]); // the slope at the kink
    /// ```
    #[track_caller]
    pub fn leaky_relu(&self, slope: T) -> Self {
        let v = self.value.leaky_relu(slope);
        let loc = Location::caller();
        self.tape.record(
            "leaky_relu",
            v,
            &[self],
            leaky_relu_rule,
            Keep::Values,
            loc,
            |s, _| s.scalar = slope.as_f64(),
        )
    }

    /// ELU: `x` where `x > 0`, else `alpha · (eˣ − 1)`. The derivative is
    /// 1 where `x > 0` and `alpha · eˣ` where `x <= 0` — so `alpha` at the
    /// kink `x = 0` — and 1 at NaN, as PyTorch's `elu_backward` (`x <= 0 ?
    /// g·alpha·eˣ : g`). PyTorch: `elu(x, alpha)` (`nn.ELU`'s default
    /// alpha is 1).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![-1.0, 0.0, 3.0], &[3]).unwrap());
    /// let y = x.elu(2.0);
    /// assert_eq!(y.value().to_vec(), vec![2.0 * (-1.0f64).exp_m1(), 0.0, 3.0]);
    /// let g = y.sum_all().backward().wrt(&x).unwrap().to_vec();
    /// assert_eq!(g, vec![2.0 * (-1.0f64).exp(), 2.0, 1.0]); // alpha at the kink
    /// ```
    #[track_caller]
    pub fn elu(&self, alpha: T) -> Self {
        let v = self.value.elu(alpha);
        let loc = Location::caller();
        self.tape
            .record("elu", v, &[self], elu_rule, Keep::Values, loc, |s, _| {
                s.scalar = alpha.as_f64()
            })
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

/// `g·σ(x)·(1 + x·(1 − σ(x)))`.
fn silu_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let x = c.input(0);
    let s = x.sigmoid();
    let d = &s * &(&x * &s.neg().add_scalar(T::one())).add_scalar(T::one());
    one(&g * &d)
}

/// `g · (x > 0 ? 1 : slope)`: a product, as PyTorch's (so an infinite `g`
/// at a slope of 0 gives NaN there, as there).
fn leaky_relu_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let slope = T::of_f64(c.saved.scalar);
    let d = c
        .input_value(0)
        .map(move |x| if x > T::zero() { T::one() } else { slope });
    one(g.mul_const(&d))
}

/// `g · (x <= 0 ? alpha·eˣ : 1)`. `eˣ` is taken of `x` with the places
/// where `x > 0` (or NaN) set to 0 by a select, so that a large `x` there
/// does not overflow into the second-order terms (`0 · ∞`).
fn elu_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let alpha = T::of_f64(c.saved.scalar);
    let linear = c
        .input_value(0)
        .map(|x| if x <= T::zero() { T::zero() } else { T::one() });
    let below = c.input(0).masked_fill(&linear, T::zero());
    let d = below.exp().mul_scalar(alpha).masked_fill(&linear, T::one());
    one(&g * &d)
}
