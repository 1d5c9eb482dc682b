//! # mnemon-autograd
//!
//! Reverse-mode automatic differentiation for
//! [`mnemon_tensor::Tensor`]: a [`Tape`] records each op of a forward pass
//! (a Wengert list, so creation order is a topological order) and
//! [`Var::backward`] replays it in one reverse loop, applying each op's
//! vector-Jacobian product. Gradients are derived, never hand-written.
//!
//! ```
//! use mnemon_autograd::Tape;
//! use mnemon_tensor::Tensor;
//!
//! let tape = Tape::<f64>::new();
//! let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
//! let w = tape.leaf(Tensor::from_vec(vec![0.5, -0.5], &[2, 1]).unwrap());
//! let y = tape.constant(Tensor::from_vec(vec![1.0], &[1, 1]).unwrap());
//! let loss = (x.matmul(&w).sigmoid() - &y).powi(2).mean_all();
//! let grads = loss.backward();
//! let dw = grads.wrt(&w).unwrap();
//! assert_eq!(dw.shape(), &[2, 1]);
//! // d loss / dw = 2 (s - y) s (1 - s) x, with s = sigmoid(-0.5)
//! let s = 1.0 / (1.0 + 0.5f64.exp());
//! assert!((dw.to_vec()[1] - 2.0 * (s - 1.0) * s * (1.0 - s) * 2.0).abs() < 1e-12);
//! ```
//!
//! Higher order: [`Var::grad_graph`] returns gradients recorded on the tape,
//! so they can be differentiated again; [`functional`] builds `grad`, `vjp`,
//! `jvp`, `hvp`, `jacobian` and `hessian` on it. [`check`] verifies
//! gradients against finite differences; with the `proptest` feature it
//! also provides strategies to property-test your own functions.
//!
//! Features: `proptest` (off by default) adds [`check::strategies`]
//! (proptest strategies for shapes, broadcast pairs and tensors). The
//! facade crate `mnemon` forwards it as its own `proptest` feature.
//!
//! What this crate is *not*: a tracing JIT or graph compiler, a
//! forward-mode engine (jvp is derived by the double-vjp trick), or
//! thread-shared (a tape belongs to one thread).
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod arena;
mod backward;
pub mod check;
mod custom;
mod dot;
mod explain;
pub mod functional;
// compile-time sharing of the f32/f64 instances (see the module)
#[cfg(all(debug_assertions, not(test)))]
#[doc(hidden)]
pub mod mono;
mod ops;
mod saved;
mod slots;
mod svg;
mod tape;
mod var;

pub use backward::Grads;
pub use custom::CustomOp;
pub use explain::Language;
pub use ops::attention::causal_mask;
pub use ops::window::{Conv1dOptions, Conv2dOptions};
pub use tape::{NodeId, Tape};
pub use var::Var;
