//! Runs W2 (tape overhead), W3 (the MLP step), W4 (XOR) or W5 (10^7
//! elementwise) of DESIGN.md in a loop and prints the time per unit, for
//! profilers and `/usr/bin/time -v` (page faults, peak memory):
//! `cargo run --release --example workloads -- w2|w3|w4|w5`.

mod common;

use common::{mse_step, w3_mlp, xor_data, xor_net};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

/// Runs `f` `n` times and returns the seconds per run.
fn per_run(n: usize, mut f: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    for _ in 0..n {
        f();
    }
    t0.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "w3".into());
    let mut rng = StdRng::seed_from_u64(3);
    match which.as_str() {
        "w2" => {
            let s = per_run(100, || {
                let tape = Tape::<f32>::new();
                let x = tape.leaf(Tensor::scalar(0.5));
                let mut y = x.clone();
                for _ in 0..10_000 {
                    y = (&y * 1.01 + 0.1).sigmoid();
                }
                assert!(y.backward().wrt(&x).is_some());
            });
            println!("W2: {:.1} ns per op", s * 1e9 / 30_000.0);
        }
        "w3" => {
            let mut model = w3_mlp(&mut rng);
            let x = Tensor::<f32>::randn(&[128, 784], &mut rng);
            let y = Tensor::<f32>::randn(&[128, 10], &mut rng);
            let mut opt = Sgd::new(0.1);
            let s = per_run(1000, || {
                mse_step(&mut model, &mut opt, &x, &y);
            });
            println!("W3: {:.3} ms per step", s * 1e3);
        }
        "w4" => {
            let (x, y) = xor_data();
            let mut model = xor_net(&mut rng);
            let mut opt = Sgd::new(1.0);
            let s = per_run(50_000, || {
                mse_step(&mut model, &mut opt, &x, &y);
            });
            println!("W4: {:.3} µs per step", s * 1e6);
        }
        "w5" => {
            let x0 = Tensor::<f32>::rand_uniform(&[10_000_000], -2.0, 2.0, &mut rng);
            let s = per_run(50, || {
                let tape = Tape::new();
                let x = tape.leaf(x0.clone());
                let loss = (&(&x.sigmoid() * &x) + &x).sum_all();
                // read: elementwise results on large tensors are deferred
                let grads = loss.backward();
                let g = grads.wrt(&x).expect("x is a leaf");
                assert!(g.as_slice().is_some_and(|s| s[0].is_finite()));
            });
            println!("W5: {:.1} ms per iteration", s * 1e3);
        }
        other => eprintln!("unknown workload {other}: use w2, w3, w4 or w5"),
    }
}
