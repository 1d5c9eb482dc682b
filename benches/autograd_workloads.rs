//! W2 (tape overhead per op) and W5 (large elementwise forward+backward),
//! with W5's kernels alone (no tape) for comparison: the same kernels the
//! tape runs, and a hand-fused derivative (fewer passes over memory).

use criterion::{Criterion, Throughput};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;

/// W2: one-element `x`; 10,000 × `y = sigmoid(y * 1.01 + 0.1)`; backward.
/// Throughput counts the 30,000 ops, so time per element = time per op.
pub fn w2_tape_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("w2_tape");
    g.throughput(Throughput::Elements(30_000));
    g.bench_function("sigmoid_chain_10k_fwd_bwd", |b| {
        b.iter(|| {
            let tape = Tape::<f32>::new();
            let x = tape.leaf(Tensor::scalar(0.5));
            let mut y = x.clone();
            for _ in 0..10_000 {
                y = (&y * 1.01 + 0.1).sigmoid();
            }
            black_box(y.backward().wrt(&x).map(|t| t.item()))
        })
    });
    g.finish();
}

/// W5: 10^7 elements, `sum(sigmoid(x) * x + x)`, forward + backward.
pub fn w5_elementwise(c: &mut Criterion) {
    let n = 10_000_000;
    let mut rng = StdRng::seed_from_u64(5);
    let x0 = Tensor::<f32>::rand_uniform(&[n], -2.0, 2.0, &mut rng);
    let mut g = c.benchmark_group("w5_elementwise_1e7");
    g.sample_size(10);
    g.bench_function("tape_fwd_bwd", |b| {
        b.iter(|| {
            let tape = Tape::<f32>::new();
            let x = tape.leaf(x0.clone());
            let loss = (&(&x.sigmoid() * &x) + &x).sum_all();
            let grads = loss.backward();
            // the gradient read, so that it is computed (elementwise
            // results on large tensors are deferred until read)
            black_box(grads.wrt(&x).and_then(|t| t.as_slice().map(|s| s[n - 1])))
        })
    });
    g.bench_function("kernels_only_fwd_bwd", |b| {
        b.iter(|| {
            // the same tensor work written by hand: forward, then
            // d/dx = s + x·s(1−s) + 1
            let s = x0.sigmoid();
            let loss = (&s * &x0 + &x0).sum_all();
            let ds = s.zip_with(&x0, "dsig", |s, x| s + x * s * (1.0 - s) + 1.0);
            black_box((loss.item(), ds.as_slice().map(|s| s[n - 1])))
        })
    });
    g.bench_function("same_kernels_no_tape", |b| {
        b.iter(|| {
            // the kernels the tape's forward and rules run, in the same
            // order, called directly: the difference to tape_fwd_bwd is
            // the tape's own cost
            let s = x0.sigmoid();
            let p = &s * &x0;
            let loss = (p + &x0).sum_all();
            let ones = Tensor::<f32>::ones(&[]).broadcast_to(&[n]).expect("scalar");
            let gs = &ones * &x0;
            let gx = &ones * &s;
            let gsig = gs.zip_fused_owned(&s, "sigmoid_backward", |g, s| g * s * (1.0 - s));
            let gx = ones.add_owned(gx).add_owned(gsig);
            black_box((loss.item(), gx.as_slice().map(|s| s[n - 1])))
        })
    });
    g.finish();
}
