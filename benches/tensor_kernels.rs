//! W1 (matmul GFLOP/s), elementwise and reduction bandwidth against a plain
//! copy, and the cost of ops on one-element tensors.

use criterion::{BenchmarkId, Criterion, Throughput};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;

/// W1: f32 `C = A @ B`, square n in {64, 256, 1024}, plus the shapes of the
/// W3 MLP's first layer and its backward-pass transposes.
pub fn w1_matmul(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut g = c.benchmark_group("w1_matmul");
    for n in [64usize, 256, 1024] {
        let a = Tensor::<f32>::randn(&[n, n], &mut rng);
        let b = Tensor::<f32>::randn(&[n, n], &mut rng);
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        g.bench_with_input(BenchmarkId::new("square", n), &n, |bch, _| {
            bch.iter(|| black_box(a.matmul(&b)))
        });
    }
    let x = Tensor::<f32>::randn(&[128, 784], &mut rng);
    let w = Tensor::<f32>::randn(&[784, 256], &mut rng);
    let gy = Tensor::<f32>::randn(&[128, 256], &mut rng);
    let flops = 2 * 128 * 784 * 256;
    g.throughput(Throughput::Elements(flops));
    g.bench_function("mlp_fwd_128x784@784x256", |b| {
        b.iter(|| black_box(x.matmul(&w)))
    });
    g.bench_function("mlp_dx_128x256@(784x256)T", |b| {
        b.iter(|| black_box(gy.matmul(&w.t())))
    });
    g.bench_function("mlp_dw_(128x784)T@128x256", |b| {
        b.iter(|| black_box(x.t().matmul(&gy)))
    });
    g.finish();
}

/// `x * y + z` and `sum` on 10^7 f32, next to a plain copy of the same
/// buffer (bytes read plus written).
pub fn elementwise(c: &mut Criterion) {
    let n = 10_000_000usize;
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f32>::rand_uniform(&[n], -1.0, 1.0, &mut rng);
    let y = Tensor::<f32>::rand_uniform(&[n], -1.0, 1.0, &mut rng);
    let z = Tensor::<f32>::rand_uniform(&[n], -1.0, 1.0, &mut rng);
    let mut g = c.benchmark_group("elementwise_1e7");
    let src = x.to_vec();
    let mut dst = vec![0f32; n];
    g.throughput(Throughput::Bytes((2 * n * 4) as u64));
    g.bench_function("copy_baseline", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
    // deferred and fused (`kernels::fuse`): one pass reads x, y and z and
    // writes the result, 4n (eager, x*y then +z moved 6n); `evaluated` so
    // that the pass runs inside the timing
    g.throughput(Throughput::Bytes((4 * n * 4) as u64));
    g.bench_function("x_mul_y_add_z", |b| {
        b.iter(|| black_box((&x * &y + &z).evaluated()))
    });
    g.throughput(Throughput::Bytes((n * 4) as u64));
    g.bench_function("sum", |b| b.iter(|| black_box(x.sum_all())));
    let m = x.reshape(&[10_000, 1000]).unwrap();
    let bias = Tensor::<f32>::rand_uniform(&[1000], -1.0, 1.0, &mut rng);
    g.throughput(Throughput::Bytes((2 * n * 4) as u64));
    g.bench_function("bias_row_add", |b| b.iter(|| black_box(&m + &bias)));
    g.finish();
}

/// A one-element `add`, allocation included.
pub fn small_ops(c: &mut Criterion) {
    let a = Tensor::<f32>::scalar(1.5);
    let b = Tensor::<f32>::scalar(2.5);
    let mut g = c.benchmark_group("small");
    g.bench_function("add_1_element", |bch| {
        bch.iter(|| black_box(black_box(&a) + black_box(&b)))
    });
    let a16 = Tensor::<f32>::ones(&[16, 16]);
    g.bench_function("add_16x16", |bch| bch.iter(|| black_box(&a16 + &a16)));
    g.finish();
}
