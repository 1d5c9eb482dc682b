//! # mnemon-tensor
//!
//! n-dimensional strided tensors, NumPy broadcasting and the CPU kernels of
//! [mnemon](https://crates.io/crates/mnemon): elementwise maps and zips,
//! reductions, matrix products (through the `gemm` crate), joins, indexing
//! and stable softmax. Nothing here knows about gradients: the tape lives in
//! `mnemon-autograd`, which is built on this crate.
//!
//! ```
//! use mnemon_tensor::Tensor;
//! let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
//! let bias = Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]).unwrap();
//! let y = (&x + &bias).sum(1, false); // bias broadcast over rows, then row sums
//! assert_eq!(y.to_vec(), vec![7.5, 16.5]);
//! ```
//!
//! Elementwise ops on large tensors (at least
//! [`FUSE_MIN`](kernels::fuse::FUSE_MIN) elements) are deferred and run
//! fused when their result is first read, a chain of them in one pass over
//! cache-sized blocks ([`kernels::fuse`]); the values are the same bits as
//! running them one by one, and nothing about it shows in the API.
//!
//! What this crate is *not*: a GPU library, a compiled array language, or
//! a home for integer/boolean dtypes (masks are 0/1 floats and indices are
//! `usize` slices).
//!
//! Conventions: shape mistakes in model code panic with the op, both shapes
//! and the caller's line; data from outside (vectors, runtime shapes,
//! indices) returns [`TensorError`].
#![warn(missing_docs)]

mod dims;
mod display;
mod element;
mod error;
pub mod kernels;
// Shapes, strides and offsets: every `+ - * /` here is either checked or
// allowed per function with the reason it cannot overflow (CI's clippy
// runs with -D warnings, so a new unchecked one fails the build).
#[warn(clippy::arithmetic_side_effects)]
mod layout;
// compile-time sharing of the f32/f64 instances (see the module)
#[cfg(all(debug_assertions, not(test)))]
#[doc(hidden)]
pub mod mono;
mod ops;
pub mod pool;
mod random;
mod tensor;
pub mod threads;
mod views;

pub use element::{DType, Element};
pub use error::TensorError;
pub use kernels::unary::sigmoid_scalar;
pub use kernels::window::Window2d;
pub use layout::{checked_numel, dims_of, resolve_axis, Axis, Dims};
pub use tensor::Tensor;
