//! Compile time, not API: this crate's `f32` and `f64` code, compiled once.
//!
//! The same device as `mnemon_tensor::mono` (read its notes): every `Var`
//! operation, its backward rule and the backward pass are instantiated
//! here for both element types, so that the test suites, examples and
//! doctests built on this crate link to one copy in unoptimised and lightly
//! optimised builds instead of each compiling its own. Compiled out of
//! optimised builds, which do not share generics across crates.
//!
//! The functions below are never called; the arguments only type-check.
#![allow(dead_code, clippy::eq_op)]

use crate::{causal_mask, Conv1dOptions, Conv2dOptions, Tape, Var};
use mnemon_tensor::{Element, Tensor, Window2d};

/// Every `Var<T>` operation, the operators, the tape and both backward
/// passes (values and graph).
fn var_ops<T: Element>(tape: &Tape<T>, t: &Tensor<T>, c: T) {
    let (s, w) = (&[1usize][..], Window2d::new([1, 1]));
    let x = &tape.leaf(t.clone());
    let _ = (
        tape.constant(t.clone()),
        tape.leaf_tagged(t.clone(), 0),
        tape.len(),
    );
    let _ = (
        tape.saved_bytes(),
        tape.explain_log(),
        tape.to_dot(),
        tape.to_svg(),
    );
    let _ = (
        x.value(),
        x.shape(),
        x.item(),
        x.detach(),
        x.requires_grad(),
        format!("{x:?}"),
    );
    let _ = (x + x, x - x, x * x, x / x, -x, x + c, x - c, x * c, x / c);
    let _ = (x + t, x - t, x * t, x / t, t + x, t - x, t * x, t / x);
    let _ = (x.clone() + x, x.clone() * x, x.clone() * c, -x.clone());
    let _ = (
        x.add(x),
        x.sub(x),
        x.mul(x),
        x.div(x),
        x.pow(x),
        x.maximum(x),
        x.minimum(x),
    );
    let _ = Var::where_(t, x, x);
    let _ = (
        x.neg(),
        x.exp(),
        x.log(),
        x.sqrt(),
        x.abs(),
        x.recip(),
        x.sigmoid(),
    );
    let _ = (x.tanh(), x.relu(), x.sin(), x.cos(), x.erf(), x.softplus());
    let _ = (x.log1p(), x.expm1(), x.silu(), x.leaky_relu(c), x.elu(c));
    let _ = (x.gelu(), x.gelu_grad(), x.gelu_tanh(), x.square());
    let _ = (
        x.powf(c),
        x.powi(2),
        x.add_scalar(c),
        x.mul_scalar(c),
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
    let _ = (
        x.softmax(0),
        x.softmax(-1),
        x.log_softmax(0),
        x.log_softmax(-1),
    );
    let _ = (
        x.logsumexp(0, false),
        x.logsumexp(-1, false),
        x.masked_fill(t, c),
    );
    let _ = (
        x.broadcast_to(s),
        x.transpose(0, 1),
        x.t(),
        x.permute(s),
        x.reshape(s),
    );
    let _ = (x.flatten(), x.narrow(0, 0, 1), x.squeeze(0), x.unsqueeze(0));
    let _ = (
        Var::concat(std::slice::from_ref(x), 0),
        Var::stack(std::slice::from_ref(x), 0),
    );
    let _ = (
        x.index_select(0, s),
        x.index_add(0, s, s),
        x.gather(0, s, s),
    );
    let _ = x.scatter_add(0, s, s);
    let _ = (
        x.matmul(x),
        x.matmul_sum(x),
        x.linear(x, Some(x)),
        x.linear(x, None),
    );
    let _ = x.layer_norm(1, Some(x), Some(x), 1e-5);
    let _ = x.scaled_dot_product_attention(x, x, Some(&causal_mask::<T>(1)));
    let _ = (x.squared_error(x, true), x.binary_cross_entropy(x));
    let _ = x.binary_cross_entropy_with_logits(x);
    let _ = (
        x.unfold2d(w),
        x.fold2d(w, [1, 1]),
        x.max_pool2d(w),
        x.avg_pool2d(w),
    );
    let _ = x.adaptive_avg_pool2d_1x1();
    let _ = x.conv2d(x, Some(x), Conv2dOptions::default());
    let _ = x.conv1d(x, None, Conv1dOptions::default());
    let g = x.backward();
    let _ = (g.wrt(x), g.tagged(0), x.backward_with(t));
    let _ = (x.grad_graph(&[x]), x.grad_graph_with(x, &[x]));
}

/// The instances for both element types (the root rustc compiles from).
#[doc(hidden)]
pub fn f32_and_f64() {
    var_ops::<f32>(&Tape::new(), &Tensor::scalar(0.0), 0.0);
    var_ops::<f64>(&Tape::new(), &Tensor::scalar(0.0), 0.0);
}
