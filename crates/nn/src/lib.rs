//! # mnemon-nn
//!
//! What a model builder touches: [`Param`]s (a model's persistent memory),
//! the [`Module`] trait, layers ([`Linear`], [`Sequential`], activations),
//! losses, optimizers ([`Sgd`], [`Adam`]), mini-batches and crash-safe
//! safetensors checkpoints. Gradients come from the tape
//! (`mnemon-autograd`): nothing here derives one by hand.
//!
//! ```
//! use mnemon_autograd::Tape;
//! use mnemon_nn::{mse, Linear, Module, Optimizer, Reduction, Sgd};
//! use mnemon_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let mut model = Linear::<f32>::new(1, 1, &mut rng);
//! let mut opt = Sgd::new(0.1);
//! let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4, 1]).unwrap();
//! let y = &x * 2.0 + 1.0; // learn y = 2x + 1
//! for _ in 0..500 {
//!     let tape = Tape::new();
//!     let loss = mse(&model.forward(&tape.constant(x.clone())), &tape.constant(y.clone()), Reduction::Mean);
//!     // a step needs the graph once: free what the tape kept as it goes
//!     // (PyTorch's default), so the update below writes in place
//!     let grads = loss.backward_and_free();
//!     opt.step(&mut model, &grads);
//! }
//! assert!((model.weight.value.item() - 2.0).abs() < 1e-3);
//! ```
//!
//! What this crate is *not*: a zoo of pretrained models, a distributed
//! trainer, or a GPU runtime.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// What `#[derive(Module)]`'s generated code names (not for direct use).
#[doc(hidden)]
pub mod __derive {
    pub use crate::module::join;
    pub use mnemon_autograd::Var;
}

mod activation;
mod attention;
mod batchnorm;
mod cell_params;
pub mod checkpoint;
mod conv;
mod data;
mod dropout;
mod gru;
pub mod idx;
// compile-time sharing of the f32/f64 instances (see the module)
mod linear;
mod loss;
mod module;
#[cfg(all(debug_assertions, not(test)))]
#[doc(hidden)]
pub mod mono;
mod norm;
mod optim;
mod param;
mod recurrent;
mod schedule;
mod sequence;

pub use activation::{Elu, LeakyRelu, LogSoftmax, Relu, Sigmoid, Silu, Softmax, Tanh};
pub use attention::{MultiheadAttention, TransformerEncoderLayer};
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use checkpoint::{load, save, CheckpointError};
pub use conv::{AvgPool2d, Conv1d, Conv2d, Flatten, MaxPool2d};
pub use data::{Batches, LabelBatches};
pub use dropout::{dropout, Dropout};
pub use gru::{Gru, GruCell};
pub use linear::{init_tensor, Init, Linear};
pub use loss::{
    bce, bce_with_logits, cross_entropy, cross_entropy_with, huber_loss, l1_loss, mse, nll_loss,
    smooth_l1_loss, CrossEntropyOptions, Reduction,
};
pub use mnemon_derive::Module;
pub use module::{BoxedModule, DynModule, Module, Sequential};
pub use norm::{Embedding, GroupNorm, LayerNorm};
pub use optim::{grad_norm, Adam, ModuleParams, Optimizer, Sgd};
pub use param::{GradsParamExt, Param, ParamId, TapeParamExt};
pub use recurrent::{Lstm, LstmCell, Rnn, RnnCell};
pub use schedule::{CosineAnnealing, LrSchedule, StepLr, Warmup};
