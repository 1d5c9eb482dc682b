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

use crate::tape::InputGrads;
use crate::var::Var;
use mnemon_tensor::Element;
use smallvec::smallvec;

/// Input gradients for a one-input op.
pub(crate) fn one<'t, T: Element>(g: Var<'t, T>) -> InputGrads<'t, T> {
    smallvec![Some(g)]
}
