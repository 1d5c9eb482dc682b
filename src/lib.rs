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
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc = include_str!("../docs/tutorial.md")]
pub mod tutorial {}

#[doc = include_str!("../docs/tutorial.zh.md")]
pub mod tutorial_zh {}

pub use mnemon_autograd as autograd;
pub use mnemon_nn as nn;
pub use mnemon_tensor as tensor;

/// The names most programs need, in one `use`.
pub mod prelude {
    pub use mnemon_autograd::check::{gradcheck, gradgradcheck, Tolerance};
    pub use mnemon_autograd::functional::{self, grad, hessian, hvp, jacobian, jvp, vjp};
    pub use mnemon_autograd::{
        causal_mask, check, Conv1dOptions, Conv2dOptions, CustomOp, Grads, Tape, Var,
    };
    pub use mnemon_nn::{
        bce, bce_with_logits, cross_entropy, dropout, load, mse, save, Adam, AvgPool2d, BatchNorm,
        BatchNorm1d, BatchNorm2d, Batches, CheckpointError, Conv1d, Conv2d, CosineAnnealing,
        Dropout, Embedding, Flatten, GradsParamExt, Gru, GruCell, Init, LabelBatches, LayerNorm,
        Linear, LrSchedule, MaxPool2d, Module, MultiheadAttention, Optimizer, Param, Reduction,
        Relu, Sequential, Sgd, Sigmoid, Softmax, StepLr, Tanh, TapeParamExt,
        TransformerEncoderLayer, Warmup,
    };
    pub use mnemon_nn::{
        cross_entropy_with, huber_loss, l1_loss, nll_loss, smooth_l1_loss, CrossEntropyOptions,
        Elu, GroupNorm, LeakyRelu, Lstm, Rnn, Silu,
    };
    pub use mnemon_tensor::{DType, Element, Tensor, TensorError, Window2d};
}
