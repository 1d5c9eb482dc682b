//! Elementwise functions of two Vars with NumPy broadcasting; each rule sums
//! its gradients back to the input's shape (`sum_to`).

use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use smallvec::smallvec;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// `a + b` with broadcasting; derivative 1 for both. PyTorch: `add`.
    #[track_caller]
    pub fn add(&self, other: &Self) -> Self {
        let v = self.value.add(&other.value);
        self.tape.record(
            "add",
            v,
            &[self, other],
            add_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }

    /// `a - b` with broadcasting; derivatives 1 and -1. PyTorch: `sub`.
    #[track_caller]
    pub fn sub(&self, other: &Self) -> Self {
        let v = self.value.sub(&other.value);
        self.tape.record(
            "sub",
            v,
            &[self, other],
            sub_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }

    /// `a · b` with broadcasting; derivatives `b` and `a`. PyTorch: `mul`.
    #[track_caller]
    pub fn mul(&self, other: &Self) -> Self {
        let v = self.value.mul(&other.value);
        self.tape.record(
            "mul",
            v,
            &[self, other],
            mul_rule,
            Keep::Values,
            Location::caller(),
            |_, _| {},
        )
    }

    /// `a / b` with broadcasting; derivatives `1/b` and `-a/b²`. PyTorch: `div`.
    #[track_caller]
    pub fn div(&self, other: &Self) -> Self {
        let v = self.value.div(&other.value);
        self.tape.record(
            "div",
            v,
            &[self, other],
            div_rule,
            Keep::Values,
            Location::caller(),
            |_, _| {},
        )
    }

    /// `a^b` elementwise; derivatives `b·a^(b−1)` and `a^b·ln a`. PyTorch: `pow`.
    #[track_caller]
    pub fn pow(&self, other: &Self) -> Self {
        let v = self.value.pow(&other.value);
        self.tape.record(
            "pow",
            v,
            &[self, other],
            pow_rule,
            Keep::Values,
            Location::caller(),
            |s, out| s.output = Some(out.clone()),
        )
    }

    /// The larger of `a` and `b`; the gradient goes to the larger input, and
    /// is split in half on ties (as PyTorch does); where either is NaN (so
    /// is the result) both inputs get all of it, as in PyTorch 2.15.
    /// PyTorch: `maximum`.
    #[track_caller]
    pub fn maximum(&self, other: &Self) -> Self {
        let v = self.value.maximum(&other.value);
        self.tape.record(
            "maximum",
            v,
            &[self, other],
            pick_rule,
            Keep::Values,
            Location::caller(),
            |s, _| s.flag = true,
        )
    }

    /// The smaller of `a` and `b`; gradient as for [`Var::maximum`]. PyTorch: `minimum`.
    #[track_caller]
    pub fn minimum(&self, other: &Self) -> Self {
        let v = self.value.minimum(&other.value);
        self.tape.record(
            "minimum",
            v,
            &[self, other],
            pick_rule,
            Keep::Values,
            Location::caller(),
            |s, _| s.flag = false,
        )
    }

    /// `a` where `mask` is non-zero, `b` elsewhere (all broadcast); the
    /// gradient goes to the input that was picked. PyTorch: `torch.where`.
    #[track_caller]
    pub fn where_(mask: &Tensor<T>, a: &Self, b: &Self) -> Self {
        let v = Tensor::where_(mask, &a.value, &b.value);
        a.tape.record(
            "where",
            v,
            &[a, b],
            where_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| s.output = Some(mask.clone()),
        )
    }
}

fn add_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    smallvec![
        c.wants(0).then(|| g.sum_to(&c.input_shape(0))),
        c.wants(1).then(|| g.sum_to(&c.input_shape(1)))
    ]
}

fn sub_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    smallvec![
        c.wants(0).then(|| g.sum_to(&c.input_shape(0))),
        c.wants(1).then(|| g.sum_to(&c.input_shape(1)).neg())
    ]
}

fn mul_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    smallvec![
        c.wants(0)
            .then(|| (g * &c.input(1)).sum_to(&c.input_shape(0))),
        c.wants(1)
            .then(|| (g * &c.input(0)).sum_to(&c.input_shape(1)))
    ]
}

fn div_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let b = c.input(1);
    let ga = g / &b;
    let gb = c
        .wants(1)
        .then(|| (&(&ga * &c.input(0)) / &b).neg().sum_to(&c.input_shape(1)));
    smallvec![c.wants(0).then(|| ga.sum_to(&c.input_shape(0))), gb]
}

/// 1 where `b` holds, else 0 (a mask for `masked_fill`/`where_`).
fn indicator<T: Element>(b: bool) -> T {
    if b {
        T::one()
    } else {
        T::zero()
    }
}

fn pow_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let (a, b) = (c.input(0), c.input(1));
    // PyTorch's conventions where the formulas are 0·∞: d/da is 0 where
    // b = 0 (b·a^(b−1) at a = 0), d/db is 0 where a = 0 and b >= 0
    // (a^b·ln a). Both are selects, so no NaN leaks from the unused
    // branch; for d/db the log reads 1 in place of such an a, so that its
    // own derivatives stay finite too (d²/db² is then 0 there, the true
    // value, where the select alone would give 0·∞)
    let ga = c.wants(0).then(|| {
        let b_zero = b.value().map(|y| indicator(y == T::zero()));
        let d = (&b * &a.pow(&b.add_scalar(-T::one()))).masked_fill(&b_zero, T::zero());
        (g * &d).sum_to(&c.input_shape(0))
    });
    let gb = c.wants(1).then(|| {
        let base_zero = a.value().zip_with(b.value(), "pow", |x, y| {
            indicator(x == T::zero() && y >= T::zero())
        });
        let one = a.lift(Tensor::ones(&[]));
        let d = &c.output() * &Var::where_(&base_zero, &one, &a).log();
        (g * &d).sum_to(&c.input_shape(1))
    });
    smallvec![ga, gb]
}

fn pick_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let (a, b) = (c.input_value(0), c.input_value(1));
    let half = T::of_f64(0.5);
    let is_max = c.saved.flag;
    // each input's share of the gradient: ½ on ties, 0 where it loses, 1
    // otherwise — so both get all of it where either is NaN (the result
    // is NaN; PyTorch's `maximum`/`minimum` backward, as torch 2.15 gives)
    let loses = move |x: T, y: T| if is_max { x < y } else { x > y };
    let share_of = move |x: T, y: T| {
        if x == y {
            half
        } else if loses(x, y) {
            T::zero()
        } else {
            T::one()
        }
    };
    let share = a.zip_with(&b, "maximum", share_of);
    let rest = a.zip_with(&b, "maximum", move |x, y| share_of(y, x));
    smallvec![
        c.wants(0)
            .then(|| g.mul_const(&share).sum_to(&c.input_shape(0))),
        c.wants(1)
            .then(|| g.mul_const(&rest).sum_to(&c.input_shape(1)))
    ]
}

fn where_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let mask = &c.output_value();
    let zero = g.lift(Tensor::zeros(&[]));
    smallvec![
        c.wants(0)
            .then(|| Var::where_(mask, g, &zero).sum_to(&c.input_shape(0))),
        c.wants(1)
            .then(|| Var::where_(mask, &zero, g).sum_to(&c.input_shape(1)))
    ]
}
