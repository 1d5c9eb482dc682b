//! Models and data shared by the examples, benches and integration tests,
//! so that "the XOR network" and "the W3 MLP" are defined once.
#![allow(dead_code)] // each user takes what it needs

use mnemon::prelude::*;
use rand::Rng;

/// The four XOR samples: inputs `[4, 2]`, targets `[4, 1]`.
pub fn xor_data() -> (Tensor<f32>, Tensor<f32>) {
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]).expect("4×2 inputs");
    let y = Tensor::from_vec(vec![0., 1., 1., 0.], &[4, 1]).expect("4×1 targets");
    (x, y)
}

/// The textbook network: 2 inputs → 8 sigmoid hidden → 1 sigmoid output.
pub fn xor_net<R: Rng>(rng: &mut R) -> Sequential<f32> {
    Sequential::new()
        .push(Linear::with_init(2, 8, Init::XavierUniform, true, rng))
        .push(Sigmoid)
        .push(Linear::with_init(8, 1, Init::XavierUniform, true, rng))
        .push(Sigmoid)
}

/// One plain gradient-descent step on the MSE of `model(x)` against `y`;
/// returns the loss before the step.
pub fn mse_step(
    model: &mut Sequential<f32>,
    opt: &mut Sgd<f32>,
    x: &Tensor<f32>,
    y: &Tensor<f32>,
) -> f32 {
    let tape = Tape::new(); // the temporary memory of one pass
    let loss = mse(
        &model.forward(&tape.constant(x.clone())),
        &tape.constant(y.clone()),
        Reduction::Mean,
    );
    // every gradient, derived from the tape (which frees what it kept as
    // it goes: the step needs no second backward pass)
    let grads = loss.backward_and_free();
    opt.step(model, &grads);
    loss.item()
}

/// W3's model: 784 → 256 → 256 → 10, sigmoid hidden, linear output.
pub fn w3_mlp<R: Rng>(rng: &mut R) -> Sequential<f32> {
    Sequential::new()
        .push(Linear::new(784, 256, rng))
        .push(Sigmoid)
        .push(Linear::new(256, 256, rng))
        .push(Sigmoid)
        .push(Linear::new(256, 10, rng))
}
