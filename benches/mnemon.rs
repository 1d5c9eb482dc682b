//! mnemon's benchmarks: one criterion binary, one module per workload of
//! DESIGN.md. Run all with `cargo bench`, or one group with e.g.
//! `cargo bench -- w1_matmul`. Throughput for matmul is counted in FLOPs,
//! so criterion's "Gelem/s" reads as GFLOP/s; elementwise groups count
//! bytes read plus written (GB/s).

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

mod autograd_workloads;
#[path = "../examples/common/mod.rs"]
mod common;
mod model_workloads;
mod nn_workloads;
mod tensor_kernels;

fn config() -> Criterion {
    // the main thread is one of the pool's threads (as a user's program
    // would set it up; see README, "Threads"), so 2-thread figures do not
    // pay a hand-over and a wake-up per parallel op
    mnemon::tensor::threads::use_calling_thread(0).expect("first thing in main");
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = tensor_kernels::w1_matmul, tensor_kernels::elementwise, tensor_kernels::small_ops,
        autograd_workloads::w2_tape_overhead, autograd_workloads::w5_elementwise,
        nn_workloads::w3_mlp_step, nn_workloads::w4_xor,
        model_workloads::w6_lenet_step, model_workloads::w7_transformer_step
}
criterion_main!(benches);
