//! W6 (LeNet-5 training step) as DESIGN.md defines it.

use criterion::Criterion;
use mnemon::autograd::Conv2dOptions;
use mnemon::nn::{Conv2d, Flatten, MaxPool2d};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;

/// LeNet-5 for 1×28×28 inputs: conv(1→6, 5×5, pad 2), relu, pool 2;
/// conv(6→16, 5×5), relu, pool 2; 400→120→84→10 with relu.
pub fn lenet5(rng: &mut StdRng) -> Sequential {
    let pad2 = Conv2dOptions {
        padding: [2, 2],
        ..Default::default()
    };
    Sequential::new()
        .push(Conv2d::new(1, 6, [5, 5], pad2, rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(6, 16, [5, 5], Conv2dOptions::default(), rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Linear::new(400, 120, rng))
        .push(Relu)
        .push(Linear::new(120, 84, rng))
        .push(Relu)
        .push(Linear::new(84, 10, rng))
}

/// One W6 step: forward, mean cross-entropy, backward, SGD lr 0.01.
pub fn lenet_step(model: &mut Sequential, opt: &mut Sgd, x: &Tensor, labels: &[usize]) -> f32 {
    let tape = Tape::new();
    let logits = model.forward(&tape.constant(x.clone()));
    let loss = cross_entropy(&logits, labels, Reduction::Mean).expect("labels in 0..10");
    let grads = loss.backward_and_free();
    opt.step(model, &grads);
    loss.item()
}

/// W6: batch 64 of 1×28×28 through LeNet-5, one SGD step per iteration.
pub fn w6_lenet_step(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(6);
    let mut model = lenet5(&mut rng);
    let x = Tensor::<f32>::rand_uniform(&[64, 1, 28, 28], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..64).map(|i| (i * 7) % 10).collect();
    let mut opt = Sgd::new(0.01);
    let mut g = c.benchmark_group("w6_lenet");
    g.bench_function("step_b64_1x28x28", |b| {
        b.iter(|| black_box(lenet_step(&mut model, &mut opt, &x, &labels)))
    });
    g.finish();
}

/// W7: one pre-norm transformer encoder block (d 128, 4 heads, ff 512,
/// GELU erf, causal mask), batch 16 × sequence 64, MSE to a fixed target,
/// AdamW lr 1e-3 weight decay 0.01; one step per iteration.
pub fn w7_transformer_step(c: &mut Criterion) {
    use mnemon::autograd::causal_mask;
    use mnemon::nn::TransformerEncoderLayer;
    let mut rng = StdRng::seed_from_u64(7);
    let mut block = TransformerEncoderLayer::<f32>::new(128, 4, 512, &mut rng);
    let x = Tensor::<f32>::randn(&[16, 64, 128], &mut rng);
    let t = Tensor::<f32>::randn(&[16, 64, 128], &mut rng);
    let mask = causal_mask::<f32>(64);
    let mut opt = Adam::adamw(1e-3, 0.01);
    let mut g = c.benchmark_group("w7_transformer");
    g.sample_size(10);
    g.bench_function("block_step_b16_l64_d128", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let y = block.forward_masked(&tape.constant(x.clone()), Some(&mask));
            let loss = mse(&y, &tape.constant(t.clone()), Reduction::Mean);
            let grads = loss.backward_and_free();
            opt.step(&mut block, &grads);
            black_box(loss.item())
        })
    });
    g.finish();
}
