//! Elementwise functions of one Var, and scalar arithmetic.
//!
//! sigmoid and tanh are fused primitives whose rules reuse the saved output
//! (d sigmoid = s·(1−s), d tanh = 1−t²) through a fused, itself
//! differentiable, backward op.

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use smallvec::smallvec;
use std::panic::Location;

macro_rules! unary {
    ($(#[$doc:meta])* $name:ident, $save_out:expr, $keep:ident, $rule:ident) => {
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&self) -> Self {
            let v = self.value.$name();
            self.tape.record(stringify!($name), v, &[self], $rule, Keep::$keep, Location::caller(), |s, out| {
                if $save_out {
                    s.output = Some(out.clone());
                }
            })
        }
    };
}

impl<'t, T: Element> Var<'t, T> {
    unary!(
        /// `-x`; derivative -1. PyTorch: `neg`.
        neg, false, Shapes, neg_rule);
    unary!(
        /// `e^x`; derivative `e^x` (the saved output). PyTorch: `exp`.
        exp, true, Shapes, exp_rule);
    unary!(
        /// `ln x`; derivative `1/x`. PyTorch: `log`.
        log, false, Values, log_rule);
    unary!(
        /// `√x`; derivative `1/(2√x)` (from the saved output). PyTorch: `sqrt`.
        sqrt, true, Shapes, sqrt_rule);
    unary!(
        /// `|x|`; derivative `sign(x)` (0 at 0, and at NaN as torch 2.15
        /// gives). PyTorch: `abs`.
        abs, false, Values, abs_rule);
    unary!(
        /// `1/x`; derivative `-1/x²` (from the saved output). PyTorch: `reciprocal`.
        recip, true, Shapes, recip_rule);
    unary!(
        /// The logistic sigmoid; derivative `s·(1−s)` from the saved output
        /// `s`. Finite at ±1e4. PyTorch: `sigmoid`.
        sigmoid, true, Shapes, sigmoid_rule);
    unary!(
        /// `tanh x`; derivative `1 − t²` from the saved output. PyTorch: `tanh`.
        tanh, true, Shapes, tanh_rule);
    unary!(
        /// `max(x, 0)` (NaN stays NaN); the gradient passes where `x` is
        /// not `<= 0` and is 0 elsewhere (a select: 0 even for an infinite
        /// incoming gradient). PyTorch: `relu` (`threshold_backward`).
        relu, false, Values, relu_rule);
    unary!(
        /// `ln(1 + x)`, accurate where `x` is tiny; derivative `1/(1 + x)`
        /// (∞ at −1). PyTorch: `log1p`.
        log1p, false, Values, log1p_rule);
    unary!(
        /// `eˣ − 1`, accurate where `x` is tiny; derivative `y + 1` from
        /// the saved output `y`, as PyTorch computes it. PyTorch: `expm1`.
        expm1, true, Shapes, expm1_rule);
    unary!(
        /// `sin x`; derivative `cos x`. PyTorch: `sin`.
        sin, false, Values, sin_rule);
    unary!(
        /// `cos x`; derivative `-sin x`. PyTorch: `cos`.
        cos, false, Values, cos_rule);

    /// `x^p`; derivative `p·x^(p−1)`. Integer-valued `p` gives the real
    /// result for negative `x`. `p = ±0.5` are `sqrt` and its reciprocal,
    /// as PyTorch runs them (so at −0 and −∞ they follow `sqrt`: −0 and
    /// NaN, where IEEE `pow` gives +0 and +∞). PyTorch: `pow(x, p)`.
    #[track_caller]
    pub fn powf(&self, p: T) -> Self {
        if p == T::of_f64(0.5) {
            return self.sqrt();
        }
        if p == T::of_f64(-0.5) {
            return self.sqrt().recip();
        }
        let v = self.value.powf(p);
        self.tape.record(
            "powf",
            v,
            &[self],
            powf_rule,
            Keep::Values,
            Location::caller(),
            |s, _| s.scalar = p.as_f64(),
        )
    }

    /// `x^n`; derivative `n·x^(n−1)`. PyTorch: `pow(x, n)`.
    #[track_caller]
    pub fn powi(&self, n: i32) -> Self {
        self.powi_named("powi", n)
    }

    /// `powi` recorded under the name the user wrote (`square`), so
    /// explain mode and the tape picture show that.
    #[track_caller]
    fn powi_named(&self, op: &'static str, n: i32) -> Self {
        let v = self.value.powi(n);
        self.tape.record(
            op,
            v,
            &[self],
            powi_rule,
            Keep::Values,
            Location::caller(),
            |s, _| s.scalar = n as f64,
        )
    }

    /// `x²`. PyTorch: `square`.
    #[track_caller]
    pub fn square(&self) -> Self {
        self.powi_named("square", 2)
    }

    /// `x + c` for a scalar `c`; derivative 1.
    #[track_caller]
    pub fn add_scalar(&self, c: T) -> Self {
        let v = &self.value + c;
        self.tape.record(
            "add_scalar",
            v,
            &[self],
            add_scalar_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }

    /// `x · c` for a scalar `c`; derivative `c`.
    #[track_caller]
    pub fn mul_scalar(&self, c: T) -> Self {
        let v = &self.value * c;
        self.tape.record(
            "mul_scalar",
            v,
            &[self],
            mul_scalar_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| s.scalar = c.as_f64(),
        )
    }

    /// Clamps into `[lo, hi]` (NaN stays NaN; `hi` wins when `lo > hi`);
    /// derivative 1 strictly inside, 0 on the bounds, outside and at NaN:
    /// PyTorch 2.15's `clamp` with scalar bounds (its `hardtanh` too;
    /// PyTorch before 2.15 gave 1 on the bounds).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![-2.0, -1.0, 0.5, 1.0], &[4]).unwrap());
    /// let g = x.clamp(-1.0, 1.0).sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn clamp(&self, lo: T, hi: T) -> Self {
        let v = self.value.clamp(lo, hi);
        let src = &self.value;
        self.tape.record(
            "clamp",
            v,
            &[self],
            clamp_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                // the rule's mask: 1 where x was strictly inside (lo, hi)
                s.output = Some(src.map(move |x| {
                    if x > lo && x < hi {
                        T::one()
                    } else {
                        T::zero()
                    }
                }));
            },
        )
    }

    /// `self · mask` for a constant tensor (no gradient to the mask).
    #[track_caller]
    pub(crate) fn mul_const(&self, mask: &Tensor<T>) -> Self {
        self * &self.lift(mask.clone())
    }

    /// `g · s · (1 − s)` for sigmoid's rule (`s` its kept output): the
    /// fused sigmoid backward, itself differentiable.
    #[track_caller]
    pub(crate) fn sigmoid_backward(g: Self, c: &Ctx<'t, '_, T>) -> Self {
        let f = |g: T, s: T| g * s * (T::one() - s);
        Self::fused_backward(g, c, "sigmoid_backward", sigmoid_backward_rule, f)
    }

    /// `g · (1 − t²)` for tanh's rule (`t` its kept output): the fused tanh
    /// backward, itself differentiable.
    #[track_caller]
    pub(crate) fn tanh_backward(g: Self, c: &Ctx<'t, '_, T>) -> Self {
        let f = |g: T, t: T| g * (T::one() - t * t);
        Self::fused_backward(g, c, "tanh_backward", tanh_backward_rule, f)
    }

    /// `f(g, y)` elementwise for an incoming gradient `g` and the kept
    /// output `y` of the node whose rule runs (`c`): recorded (with `rule`)
    /// when gradients of gradients are being built, else written into `g`'s
    /// buffer when no one else holds it, reading `y` where the tape keeps it.
    #[track_caller]
    fn fused_backward(
        g: Self,
        c: &Ctx<'t, '_, T>,
        op: &'static str,
        rule: crate::tape::Rule<T>,
        f: impl Fn(T, T) -> T + Copy + Sync + Send + 'static,
    ) -> Self {
        let (tape, loc) = (g.tape, Location::caller());
        if tape.recording.get() {
            // y is this node's output, a tracked Var: the op is recorded
            let y = c.output();
            let v = g.value.zip_fused(&y.value, op, f);
            return tape.record(op, v, &[&g, &y], rule, Keep::Values, loc, |_, _| {});
        }
        let v = c.with_output_value(|y| g.value.zip_fused_owned(y, op, f));
        tape.record(op, v, &[], rule, Keep::Values, loc, |_, _| {})
    }

    /// As [`Var::sigmoid`] for a Var the caller gives up (a layer's
    /// output passed on to its activation, as `Sequential` does): the
    /// result is written into the Var's buffer when nothing else holds it.
    /// The same values, node and gradients; one allocation fewer. (The
    /// rule reads only the kept output, so the input's values are not
    /// needed once the output is computed.)
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    /// let h = &x * 2.0; // a temporary only this chain holds
    /// let y = h.sigmoid_owned();
    /// assert_eq!(y.value().to_vec(), (&x * 2.0).sigmoid().value().to_vec());
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec()[0], 0.5); // 2·σ'(0) = 2·¼
    /// ```
    #[track_caller]
    pub fn sigmoid_owned(self) -> Self {
        if self.tape.explain.get() {
            // explain mode keeps and prints the input value
            return self.sigmoid();
        }
        self.output_rule_owned("sigmoid", Tensor::sigmoid_owned, sigmoid_rule)
    }

    /// As [`Var::tanh`] for a Var the caller gives up: written into its
    /// buffer when nothing else holds it (see [`Var::sigmoid_owned`]).
    #[track_caller]
    pub fn tanh_owned(self) -> Self {
        if self.tape.explain.get() {
            return self.tanh();
        }
        self.output_rule_owned("tanh", Tensor::tanh_owned, tanh_rule)
    }

    /// Records `op`, whose rule reads only its kept output, computed by `f`
    /// from this Var's value (given up, so `f` may write into it).
    #[track_caller]
    fn output_rule_owned(
        self,
        op: &'static str,
        f: fn(Tensor<T>) -> Tensor<T>,
        rule: crate::tape::Rule<T>,
    ) -> Self {
        let (tape, id, loc) = (self.tape, self.id, Location::caller());
        let v = f(self.value);
        tape.record_in_place(op, v, id, rule, loc, |s, out| s.output = Some(out.clone()))
    }

    /// `self + c` for a Var the caller gives up: written into its buffer
    /// when no one else holds it (the rule reads only shapes, so the tape
    /// keeps no copy of the input), else as [`Var::add_scalar`]. `x * a + b`
    /// then allocates once, not twice; and when the buffer was the tape's
    /// last op's own result, the add records no node either (see
    /// `Tape::absorb_shift`).
    #[track_caller]
    pub(crate) fn add_scalar_owned(self, c: T) -> Self {
        if self.tape.explain.get() {
            // explain mode keeps and prints the input value
            return self.add_scalar(c);
        }
        let (tape, id, loc) = (self.tape, self.id, Location::caller());
        let storage = self.value.storage_id();
        let v = self.value.map_fused_owned(move |x| x + c);
        // the same storage: written in place, so no one else held it
        if let Some(id) = id.filter(|_| v.storage_id() == storage) {
            if tape.absorb_shift(id, &v, loc) {
                return Var::from_parts(tape, Some(id), v);
            }
        }
        tape.record_in_place("add_scalar", v, id, add_scalar_rule, loc, |_, _| {})
    }

    /// `self · c` for a Var the caller gives up (an operator's temporary,
    /// or a rule's gradient): in place as [`Var::add_scalar_owned`].
    #[track_caller]
    pub(crate) fn mul_scalar_owned(self, c: T) -> Self {
        if self.tape.explain.get() {
            return self.mul_scalar(c);
        }
        let (tape, id, loc) = (self.tape, self.id, Location::caller());
        let v = self.value.map_fused_owned(move |x| x * c);
        tape.record_in_place("mul_scalar", v, id, mul_scalar_rule, loc, |s, _| {
            s.scalar = c.as_f64()
        })
    }
}

fn neg_rule<'t, T: Element>(_: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g.neg())
}

fn exp_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g * &c.output())
}

fn log_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g / &c.input(0))
}

fn sqrt_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one((g / &c.output()).mul_scalar(T::of_f64(0.5)))
}

fn abs_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    // sign(x), 0 at ±0 and at NaN (torch's `sgn` there)
    let sign = c.input_value(0).map(|x| {
        if x > T::zero() {
            T::one()
        } else if x < T::zero() {
            -T::one()
        } else {
            T::zero()
        }
    });
    one(g.mul_const(&sign))
}

fn recip_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let y = c.output();
    one((g * &(&y * &y)).neg())
}

fn sigmoid_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(Var::sigmoid_backward(g, c))
}

fn sigmoid_backward_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, gg: Var<'t, T>) -> InputGrads<'t, T> {
    let gg = &gg;
    let (g, s) = (c.input(0), c.input(1));
    let ds = &s * &s.neg().add_scalar(T::one()); // s(1-s)
    let d_g = c.wants(0).then(|| gg * &ds);
    let d_s = c
        .wants(1)
        .then(|| &(gg * &g) * &s.mul_scalar(T::of_f64(-2.0)).add_scalar(T::one()));
    smallvec![d_g, d_s]
}

fn tanh_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(Var::tanh_backward(g, c))
}

fn tanh_backward_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, gg: Var<'t, T>) -> InputGrads<'t, T> {
    let gg = &gg;
    let (g, t) = (c.input(0), c.input(1));
    let d_g = c
        .wants(0)
        .then(|| gg * &(&t * &t).neg().add_scalar(T::one()));
    let d_t = c
        .wants(1)
        .then(|| &(gg * &g) * &t.mul_scalar(T::of_f64(-2.0)));
    smallvec![d_g, d_t]
}

/// `g · [x > 0]` (0 at the kink, as PyTorch): one pass into `g`'s buffer
/// in a plain backward; a recorded product with the constant mask when
/// gradients of gradients are being built.
fn relu_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    if !c.tape.recording.get() {
        // PyTorch's threshold_backward: zero where x <= 0, so a NaN input
        // passes its gradient on
        let step = |g: T, x: T| if x <= T::zero() { T::zero() } else { g };
        let v = g
            .value
            .zip_fused_owned(&c.input_value(0), "relu_backward", step);
        return super::one_computed(c, "relu_backward", v, relu_rule);
    }
    // a select, not g·mask: an infinite g at x <= 0 gives 0, not NaN
    let off = c
        .input_value(0)
        .map(|x| if x <= T::zero() { T::one() } else { T::zero() });
    one(g.masked_fill(&off, T::zero()))
}

fn log1p_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(&g / &c.input(0).add_scalar(T::one()))
}

fn expm1_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(&g * &c.output().add_scalar(T::one()))
}

fn sin_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g * &c.input(0).cos())
}

fn cos_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one((g * &c.input(0).sin()).neg())
}

fn powf_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let p = T::of_f64(c.saved.scalar);
    if p == T::zero() {
        return one(g.mul_scalar(T::zero()));
    }
    one(g * &c.input(0).powf(p - T::one()).mul_scalar(p))
}

fn powi_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let n = c.saved.scalar as i32;
    if n == 0 {
        return one(g.mul_scalar_owned(T::zero()));
    }
    if n == 1 {
        return one(g);
    }
    let x = c.input(0);
    let d = if n == 2 { &g * &x } else { &g * &x.powi(n - 1) };
    one(d.mul_scalar_owned(T::of_f64(n as f64)))
}

fn clamp_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g.mul_const(&c.output_value()))
}

fn add_scalar_rule<'t, T: Element>(_: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(g)
}

fn mul_scalar_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    one(g.mul_scalar_owned(T::of_f64(c.saved.scalar)))
}
