//! The squared error `Σ(x − t)²` (or its mean) as one op: the MSE loss in
//! one node, as PyTorch's fused `mse_loss`, instead of sub, square and a
//! reduction (three nodes and their rules). Gradient: `2·s·(x − t)·g` for
//! `x` and its negative for `t`, with `s = 1/N` for the mean, else 1.

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::Element;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// `Σ(self − target)²` as a rank-0 Var, divided by the element count
    /// when `mean`. PyTorch: `mse_loss(..., reduction="mean" | "sum")`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 3.0], &[2]).unwrap());
    /// let t = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    /// let l = x.squared_error(&t, true);              // (1 + 4) / 2
    /// assert_eq!(l.item(), 2.5);
    /// let g = l.backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![1.0, 2.0]); // (x − t)
    /// ```
    ///
    /// # Panics
    /// When the shapes differ (naming both and the caller's line).
    #[track_caller]
    pub fn squared_error(&self, target: &Self, mean: bool) -> Self {
        let loc = Location::caller();
        assert!(
            self.shape() == target.shape(),
            "squared_error: shapes {:?} and {:?} differ, called at {loc}",
            self.shape(),
            target.shape()
        );
        let scale = if mean {
            1.0 / self.value.numel() as f64
        } else {
            1.0
        };
        let s = T::of_f64(scale);
        // the bits of `(x − t).square().sum_all() · s`, in one pass
        let v = self
            .value
            .sum_squared_diff(&target.value)
            .map_owned(move |x| x * s);
        let rule = squared_error_rule;
        self.tape.record(
            "squared_error",
            v,
            &[self, target],
            rule,
            Keep::Values,
            loc,
            |p, _| {
                p.scalar = scale;
            },
        )
    }
}

fn squared_error_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let k = T::of_f64(2.0 * c.saved.scalar);
    let gx = if c.tape.recording.get() {
        // gradients of gradients: recorded, differentiable ops
        let d = &c.input(0) - &c.input(1);
        (&d * &g).mul_scalar_owned(k)
    } else {
        // plain backward: the same three roundings, `((x − t)·g)·k`, in
        // one pass (three ops on W4's 4 elements cost 7 % of its step)
        let gv = g.value().item();
        let d = c.with_two_input_values(|x, t| {
            x.zip_with(t, "squared_error", move |a, b| ((a - b) * gv) * k)
        });
        g.lift(d)
    };
    if !c.wants(1) {
        return one(gx);
    }
    let gt = gx.neg();
    smallvec::smallvec![c.wants(0).then_some(gx), Some(gt)]
}
