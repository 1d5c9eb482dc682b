//! W3 (MLP training step) and W4 (XOR, 5,000 steps).

use crate::common::{mse_step, w3_mlp, xor_data, xor_net};
use criterion::{Criterion, Throughput};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;

/// W3: 784→256→256→10, sigmoid hidden, linear out, MSE to a random target,
/// batch 128, SGD lr 0.1; forward + backward + update per iteration.
pub fn w3_mlp_step(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(3);
    let mut model = w3_mlp(&mut rng);
    let x = Tensor::<f32>::randn(&[128, 784], &mut rng);
    let y = Tensor::<f32>::randn(&[128, 10], &mut rng);
    let mut opt = Sgd::new(0.1);
    let mut g = c.benchmark_group("w3_mlp");
    g.bench_function("step_784_256_256_10_b128", |b| {
        b.iter(|| black_box(mse_step(&mut model, &mut opt, &x, &y)))
    });
    g.finish();
}

/// W4: 2→8→1 sigmoid network, MSE, 4 samples, SGD lr 1.0, 5,000 steps.
/// Throughput counts steps, so time per element = time per step.
pub fn w4_xor(c: &mut Criterion) {
    let (x, y) = xor_data();
    let mut g = c.benchmark_group("w4_xor");
    g.sample_size(10);
    g.throughput(Throughput::Elements(5_000));
    g.bench_function("train_5000_steps", |b| {
        b.iter(|| {
            let mut rng = StdRng::seed_from_u64(42);
            let mut model = xor_net(&mut rng);
            let mut opt = Sgd::new(1.0);
            let mut last = 0.0;
            for _ in 0..5_000 {
                last = mse_step(&mut model, &mut opt, &x, &y);
            }
            assert!(last < 0.01, "W4 must reach loss < 0.01, got {last}");
            black_box(last)
        })
    });
    g.finish();
}
