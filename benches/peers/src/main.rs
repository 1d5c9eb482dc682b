//! W2 (tape overhead) and W4 (XOR training) written in dfdx 0.13, with the
//! definitions of DESIGN.md, timed as mnemon's criterion benches time them:
//! the whole workload per run, the median of `runs` runs after one warm-up.
//!
//! Prints the per-unit time (ns per op for W2, ns per step for W4). Run it
//! alternately with mnemon's side, `cargo run --release --example
//! workloads -- w2` (or `w4`) from the repository root, or the criterion
//! benches `w2_tape` and `w4_xor`, and take the ratio per pair: the issue's
//! targets were set on another CPU, and a ratio to the same peer on the
//! same machine carries across machines better than an absolute time.

use dfdx::prelude::*;
use std::hint::black_box;
use std::time::Instant;

/// W2: a one-element `x`; 10,000 times `y = sigmoid(y * 1.01 + 0.1)`;
/// backward. Returns dy/dx.
fn w2(dev: &Cpu) -> f32 {
    let x: Tensor<Rank0, f32, Cpu> = dev.tensor(0.5);
    let mut y = x.clone().trace(x.alloc_grads());
    for _ in 0..10_000 {
        y = (y * 1.01 + 0.1).sigmoid();
    }
    y.backward().get(&x).array()
}

/// W4: 2→8→1, sigmoid hidden and output, MSE over the four XOR samples,
/// SGD lr 1.0, 5,000 steps. Returns the last loss (which must be < 0.01).
fn w4(dev: &Cpu) -> f32 {
    type Model = (Linear<2, 8>, Sigmoid, Linear<8, 1>, Sigmoid);
    let mut model = dev.build_module::<Model, f32>();
    let mut grads = model.alloc_grads();
    let config = SgdConfig {
        lr: 1.0,
        momentum: None,
        weight_decay: None,
    };
    let mut opt = dfdx::optim::Sgd::new(&model, config);
    let x: Tensor<Rank2<4, 2>, f32, Cpu> = dev.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]);
    let y: Tensor<Rank2<4, 1>, f32, Cpu> = dev.tensor([[0.], [1.], [1.], [0.]]);
    let mut last = f32::NAN;
    for _ in 0..5_000 {
        let pred = model.forward_mut(x.trace(grads));
        let loss = mse_loss(pred, y.clone());
        last = loss.array();
        grads = loss.backward();
        opt.update(&mut model, &grads)
            .expect("every parameter has a gradient");
        model.zero_grads(&mut grads);
    }
    last
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: mnemon-peers (w2 | w4) [runs]";
    let mode = args.get(1).expect(usage).as_str();
    let runs: usize = args.get(2).map_or(20, |s| s.parse().expect(usage));
    let (f, units): (fn(&Cpu) -> f32, f64) = match mode {
        "w2" => (w2, 30_000.0),
        "w4" => (w4, 5_000.0),
        _ => panic!("{usage}"),
    };
    let dev: Cpu = Default::default();
    let mut result = black_box(f(&dev));
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            result = black_box(f(&dev));
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    if mode == "w4" {
        assert!(result < 0.01, "W4 must reach loss < 0.01, got {result}");
    }
    println!(
        "{mode} median {:.3} ms  per-unit {:.1} ns  min {:.3} ms  result {result}",
        median * 1e3,
        median / units * 1e9,
        times[0] * 1e3
    );
}
