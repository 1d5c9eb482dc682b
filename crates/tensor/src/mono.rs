//! Compile time, not API: this crate's `f32` and `f64` code, compiled once.
//!
//! Nearly all of mnemon is generic over the element type, so every binary
//! built on it — each test suite, each example, each doctest — would
//! otherwise monomorphise and compile its own copy of the same `f32` and
//! `f64` kernels. In unoptimised and lightly optimised builds (opt-level 0
//! and 1: `cargo build`, `cargo test`) rustc shares generic instances that
//! a dependency has already compiled (`share-generics`), so naming them once
//! here lets every downstream binary link to them instead. On a fresh
//! clone (2 cores) this took the build part of `cargo test --workspace`
//! from 6 min 05 s to 4 min 14 s; see also `kernels::par_pieces`.
//! Optimised builds do not share generics across crates; there this
//! module is compiled out.
//!
//! The functions below are never called: naming an operation in a body is
//! what makes rustc instantiate it. The arguments only have to type-check.
#![allow(dead_code, clippy::eq_op)]

use crate::{Element, Tensor, Window2d};

/// Every `Tensor<T>` operation a model, a test or an example commonly
/// reaches, with the axis types users write (`usize` and `i32`).
fn tensor_ops<T: Element>(x: &Tensor<T>, c: T) {
    let (s, w) = (&[1usize][..], Window2d::new([1, 1]));
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let _ = Tensor::<T>::from_vec(vec![c], s);
    let _ = Tensor::<T>::from_slice(&[c], s);
    let _ = (
        Tensor::<T>::scalar(c),
        Tensor::<T>::full(s, c),
        Tensor::<T>::try_full(s, c),
    );
    let _ = (
        Tensor::<T>::zeros(s),
        Tensor::<T>::ones(s),
        Tensor::<T>::eye(1),
    );
    let _ = (Tensor::<T>::arange(c, c, c), Tensor::<T>::linspace(c, c, 1));
    let _ = (
        Tensor::<T>::randn(s, &mut rng),
        Tensor::<T>::rand_uniform(s, c, c, &mut rng),
    );
    let _ = (Tensor::<T>::one_hot(s, 1), x.cast::<f32>(), x.cast::<f64>());
    let _ = (
        x.to_vec(),
        x.clone().into_vec(),
        x.item(),
        x.contiguous(),
        x.as_slice(),
    );
    let _ = (x.all_close(x, 0.0, 0.0), format!("{x:?} {x}"));
    let _ = (
        x.transpose(0, 1),
        x.t(),
        x.permute(s),
        x.reshape(s),
        x.flatten(),
    );
    let _ = (
        x.narrow(0, 0, 1),
        x.squeeze(0),
        x.unsqueeze(0),
        x.broadcast_to(s),
    );
    let _ = (x + x, x - x, x * x, x / x, -x, x + c, x - c, x * c, x / c);
    let _ = (x.clone() + x, x.clone() * c, -x.clone());
    let _ = (
        x.add(x),
        x.clone().add_owned(x.clone()),
        x.sub(x),
        x.mul(x),
        x.div(x),
        x.pow(x),
    );
    let _ = (
        x.maximum(x),
        x.minimum(x),
        x.gt(x),
        x.lt(x),
        x.ge(x),
        x.le(x),
        x.eq(x),
        x.ne(x),
    );
    let _ = Tensor::<T>::where_(x, x, x);
    let _ = (Tensor::<T>::concat(&[], 0), Tensor::<T>::stack(&[], 0));
    let _ = (
        x.index_select(0, s),
        x.index_add(0, s, s),
        x.gather(0, s, s),
    );
    let _ = x.scatter_add(0, s, s, s);
    let _ = (x.matmul(x), x.linear(x, x), x.matmul_sum(x));
    let _ = (
        x.neg(),
        x.exp(),
        x.log(),
        x.sqrt(),
        x.abs(),
        x.recip(),
        x.sigmoid(),
    );
    let _ = (
        x.tanh(),
        x.relu(),
        x.sin(),
        x.cos(),
        x.erf(),
        x.gelu(),
        x.gelu_grad(),
        x.clone().gelu_backward(x),
    );
    let _ = (
        x.softplus(),
        x.square(),
        x.sign(),
        x.log1p(),
        x.expm1(),
        x.silu(),
        x.leaky_relu(c),
        x.elu(c),
        x.powf(c),
        x.powi(2),
        x.clamp(c, c),
    );
    let _ = (
        x.sum_all(),
        x.mean_all(),
        x.max_all(),
        x.min_all(),
        x.sum_to(s),
    );
    let _ = (
        x.sum(0, false),
        x.mean(0, false),
        x.max(0, false),
        x.min(0, false),
    );
    let _ = (
        x.sum(-1, false),
        x.mean(-1, false),
        x.max(-1, false),
        x.min(-1, false),
    );
    let _ = (x.argmax_indices(0), x.argmax(0, false), x.argmax(-1, false));
    let _ = (
        x.softmax(0),
        x.softmax(-1),
        x.log_softmax(0),
        x.log_softmax(-1),
        x.softmax_backward(x, -1),
        x.layer_norm_last(1e-5),
        x.layer_norm_last_backward(x, 1e-5),
    );
    let _ = (
        x.unfold2d(w, c),
        x.fold2d(w, [1, 1]),
        x.max_pool2d_with_indices(w),
    );
}

/// The instances for both element types (the root rustc compiles from).
#[doc(hidden)]
pub fn f32_and_f64() {
    tensor_ops::<f32>(&Tensor::scalar(0.0), 0.0);
    tensor_ops::<f64>(&Tensor::scalar(0.0), 0.0);
}
