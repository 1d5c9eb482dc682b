//! Compile time, not API: this crate's `f32` and `f64` code, compiled once.
//!
//! The same device as `mnemon_tensor::mono` (read its notes): every
//! built-in layer, loss, optimizer and checkpoint path is instantiated here
//! for both element types, so that the test suites, examples and doctests
//! built on this crate link to one copy in unoptimised and lightly
//! optimised builds instead of each compiling its own. Compiled out of
//! optimised builds, which do not share generics across crates.
//!
//! The functions below are never called; the arguments only type-check.
#![allow(dead_code, clippy::eq_op)]

use crate::*;
use mnemon_autograd::{Conv1dOptions, Conv2dOptions, Tape, Var};
use mnemon_tensor::{Element, Tensor};
use rand::rngs::StdRng;

/// What a user does with any model: forward, predict, copies, modes,
/// names, both optimizers and a checkpoint round trip.
fn model<T: Element, M: Module<T> + Clone>(m: &mut M, x: &Var<'_, T>, t: &Tensor<T>) {
    let y = m.forward(x);
    let _ = (
        m.predict(t),
        m.fresh_copy(),
        m.frozen(),
        m.named_params(),
        m.num_params(),
    );
    m.set_training(false);
    x.tape().name_params(&*m);
    let g = y.backward();
    let _ = (g.param(&Param::new(t.clone())), grad_norm(m, &g));
    Sgd::new(0.1).momentum(0.9).step(m, &g);
    Adam::new(0.1).step(m, &g);
    Adam::adamw(0.1, 0.1).step(m, &g);
    let _ = (save(&*m, ""), load(m, ""));
}

/// Every built-in layer through [`model`], the losses and the batchers.
fn layers<T: Element>(tape: &Tape<T>, t: &Tensor<T>, rng: &mut StdRng) {
    let x = &tape.leaf(t.clone());
    model(&mut Linear::new(1, 1, rng), x, t);
    model(
        &mut Linear::with_init(1, 1, Init::XavierUniform, true, rng),
        x,
        t,
    );
    model(
        &mut Conv2d::new(1, 1, [1, 1], Conv2dOptions::default(), rng),
        x,
        t,
    );
    model(
        &mut Conv1d::new(1, 1, 1, Conv1dOptions::default(), rng),
        x,
        t,
    );
    model(&mut LayerNorm::new(&[1]), x, t);
    model(&mut BatchNorm::new(1), x, t);
    model(&mut Embedding::new(1, 1, rng), x, t);
    model(&mut GroupNorm::new(1, 1), x, t);
    model(&mut MultiheadAttention::new(1, 1, rng), x, t);
    model(&mut TransformerEncoderLayer::new(1, 1, 1, rng), x, t);
    model(&mut GruCell::new(1, 1, rng), x, t);
    model(&mut Gru::new(1, 1, rng), x, t);
    model(&mut Rnn::new(1, 1, rng), x, t);
    model(&mut Lstm::new(1, 1, rng), x, t);
    let seq = Sequential::new()
        .push(Linear::new(1, 1, rng))
        .push(Relu)
        .push(Sigmoid);
    let seq = seq.push(Tanh).push(Softmax).push(LogSoftmax).push(Flatten);
    let seq = seq
        .push(Silu)
        .push(LeakyRelu::default())
        .push(Elu::new(1.0));
    let mut seq = seq
        .push(MaxPool2d::new(1))
        .push(AvgPool2d::new(1))
        .push(Dropout::new(0.5, 0));
    model(&mut seq, x, t);
    let _ = (
        GruCell::new(1, 1, rng).step(x, x),
        RnnCell::new(1, 1, rng).step(x, x),
    );
    let _ = LstmCell::new(1, 1, rng).step(x, x, x);
    let _ = Embedding::<T>::new(1, 1, rng).lookup(tape, &[0], &[1]);
    let _ = MultiheadAttention::<T>::new(1, 1, rng).attend(x, Some(t));
    let _ = TransformerEncoderLayer::<T>::new(1, 1, 1, rng).forward_masked(x, Some(t));
    let r = Reduction::Mean;
    let _ = (
        mse(x, x, r),
        bce(x, x, r),
        bce_with_logits(x, x, r),
        cross_entropy(x, &[0], r),
    );
    let _ = (
        dropout(x, 0.5, rng),
        init_tensor::<T, _>(Init::Default, &[1], 1, 1, rng),
    );
    let _ = Batches::new(t, t, 1).shuffled(rng).collect::<Vec<_>>();
    let _ = LabelBatches::new(t, &[0], 1)
        .shuffled(rng)
        .collect::<Vec<_>>();
}

/// The instances for both element types (the root rustc compiles from).
#[doc(hidden)]
pub fn f32_and_f64() {
    let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(0);
    layers::<f32>(&Tape::new(), &Tensor::scalar(0.0), &mut rng);
    layers::<f64>(&Tape::new(), &Tensor::scalar(0.0), &mut rng);
}
