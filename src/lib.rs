//! # mnemon
//!
//! A small reverse-mode automatic-differentiation tensor framework. This
//! facade re-exports the workspace crates:
//!
//! - [`tensor`]: n-d strided tensors, broadcasting and kernels.
//! - [`autograd`]: the tape, `Var`, gradients of gradients, gradcheck.
//! - [`nn`]: parameters, layers, losses, optimizers, checkpoints.
//!
//! ```
//! use mnemon::prelude::*;
//! let t = Tensor::<f32>::ones(&[2, 2]);
//! assert_eq!(t.sum_all().item(), 4.0);
//! ```
#![warn(missing_docs)]

#[doc = include_str!("../docs/tutorial.md")]
pub mod tutorial {}

pub use mnemon_autograd as autograd;
pub use mnemon_nn as nn;
pub use mnemon_tensor as tensor;

/// The names most programs need, in one `use`.
pub mod prelude {
    pub use mnemon_autograd::{check, functional, CustomOp, Grads, Tape, Var};
    pub use mnemon_nn::{
        bce, bce_with_logits, cross_entropy, mse, Adam, Batches, GradsParamExt, Init, Linear,
        Module, Optimizer, Param, Reduction, Relu, Sequential, Sgd, Sigmoid, Softmax, Tanh,
        TapeParamExt,
    };
    pub use mnemon_nn::{Lstm, Rnn};
    pub use mnemon_tensor::{DType, Element, Tensor, TensorError};
}
