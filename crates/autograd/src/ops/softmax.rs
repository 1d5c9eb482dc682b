//! `softmax` and `log_softmax`: fused primitives whose rules reuse the saved
//! output.

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{resolve_axis, Axis, Element};
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// Stable softmax along `axis`; gradient `y·(g − Σ g·y)`. PyTorch: `softmax(dim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn softmax(&self, axis: impl Axis) -> Self {
        let axis = resolve_axis("softmax", self.shape(), axis);
        let v = self.value.softmax(axis);
        self.tape.record(
            "softmax",
            v,
            &[self],
            softmax_rule,
            Keep::Shapes,
            Location::caller(),
            |s, out| {
                s.axis = axis;
                s.output = Some(out.clone());
            },
        )
    }

    /// Stable log-softmax along `axis`; gradient `g − softmax·Σ g`.
    /// PyTorch: `log_softmax(dim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn log_softmax(&self, axis: impl Axis) -> Self {
        let axis = resolve_axis("log_softmax", self.shape(), axis);
        let v = self.value.log_softmax(axis);
        self.tape.record(
            "log_softmax",
            v,
            &[self],
            log_softmax_rule,
            Keep::Shapes,
            Location::caller(),
            |s, out| {
                s.axis = axis;
                s.output = Some(out.clone());
            },
        )
    }
}

/// `y·(g − Σ g·y)` with `y` the saved output: recorded in `Var` ops when
/// gradients of gradients are being built, else one pass over each row.
fn softmax_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    if !c.tape.recording.get() {
        let v = c.with_output_value(|y| y.softmax_backward(&g.value, c.saved.axis));
        return super::one_computed(c, "softmax_backward", v, softmax_rule);
    }
    let g = &g;
    let y = c.output();
    let dot = (g * &y).sum(c.saved.axis, true);
    one(&y * &(g - &dot))
}

fn log_softmax_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let p = c.output().exp();
    one(g - &(&p * &g.sum(c.saved.axis, true)))
}
