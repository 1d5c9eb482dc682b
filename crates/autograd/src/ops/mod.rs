//! The differentiable ops on [`Var`](crate::Var), one file per family, each
//! op's forward and its gradient rule (vector-Jacobian product) side by
//! side. Rules are written with these same ops, so in `grad_graph` mode
//! they record and can be differentiated again.

pub mod activation;
pub mod attention;
pub mod bce;
pub mod binary;
pub mod index;
pub mod linear;
pub mod matmul;
pub mod norm;
pub mod operators;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod squared_error;
pub mod unary;
pub mod window;

use crate::tape::{Ctx, InputGrads, Keep, Rule};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use smallvec::smallvec;

/// Input gradients for a one-input op.
pub(crate) fn one<'t, T: Element>(g: Var<'t, T>) -> InputGrads<'t, T> {
    smallvec![Some(g)]
}

/// A one-input rule's gradient `v`, computed by a one-pass kernel in a
/// plain backward (nothing records, so the result is an untracked Var
/// named `op`; `rule` is the rule that computed it). Used where the rule
/// records the same formula in `Var` ops when gradients of gradients are
/// being built.
#[track_caller]
pub(crate) fn one_computed<'t, T: Element>(
    c: &Ctx<'t, '_, T>,
    op: &'static str,
    v: Tensor<T>,
    rule: Rule<T>,
) -> InputGrads<'t, T> {
    one(computed(c, op, v, rule))
}

/// One gradient `v` computed by a kernel in a plain backward, as an
/// untracked Var named `op` (see [`one_computed`]).
#[track_caller]
pub(crate) fn computed<'t, T: Element>(
    c: &Ctx<'t, '_, T>,
    op: &'static str,
    v: Tensor<T>,
    rule: Rule<T>,
) -> Var<'t, T> {
    let loc = std::panic::Location::caller();
    c.tape
        .record(op, v, &[], rule, Keep::Shapes, loc, |_, _| {})
}
