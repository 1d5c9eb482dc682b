//! Runs W2 (tape overhead), W3 (the MLP step), W4 (XOR) or W5 (10^7
//! elementwise) in a loop, for profilers and `/usr/bin/time -v`:
//! `cargo run --release --example workloads -- w2|w3|w4|w5`.

use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "w3".into());
    let mut rng = StdRng::seed_from_u64(3);
    if which == "w5" {
        let x0 = Tensor::<f32>::rand_uniform(&[10_000_000], -2.0, 2.0, &mut rng);
        let n = 50;
        let t0 = Instant::now();
        for _ in 0..n {
            let tape = Tape::new();
            let x = tape.leaf(x0.clone());
            let loss = (&(&x.sigmoid() * &x) + &x).sum_all();
            assert!(loss.backward().wrt(&x).is_some());
        }
        println!(
            "W5: {:.1} ms per iteration",
            t0.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    } else if which == "w2" {
        let t0 = Instant::now();
        let n = 100;
        for _ in 0..n {
            let tape = Tape::<f32>::new();
            let x = tape.leaf(Tensor::scalar(0.5));
            let mut y = x.clone();
            for _ in 0..10_000 {
                y = (&y * 1.01 + 0.1).sigmoid();
            }
            assert!(y.backward().wrt(&x).is_some());
        }
        println!(
            "W2: {:.1} ns per op",
            t0.elapsed().as_secs_f64() * 1e9 / (n as f64 * 30_000.0)
        );
    } else if which == "w3" {
        let mut model = Sequential::new()
            .push(Linear::new(784, 256, &mut rng))
            .push(Sigmoid)
            .push(Linear::new(256, 256, &mut rng))
            .push(Sigmoid)
            .push(Linear::new(256, 10, &mut rng));
        let x = Tensor::<f32>::randn(&[128, 784], &mut rng);
        let y = Tensor::<f32>::randn(&[128, 10], &mut rng);
        let mut opt = Sgd::new(0.1);
        let t0 = Instant::now();
        let n = 1000;
        for _ in 0..n {
            let tape = Tape::new();
            let loss = mse(
                &model.forward(&tape.constant(x.clone())),
                &tape.constant(y.clone()),
                Reduction::Mean,
            );
            let grads = loss.backward();
            opt.step(&mut model, &grads);
        }
        println!(
            "W3: {:.3} ms per step",
            t0.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    } else {
        let x =
            Tensor::<f32>::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]).expect("4×2");
        let y = Tensor::<f32>::from_vec(vec![0., 1., 1., 0.], &[4, 1]).expect("4×1");
        let mut model = Sequential::new()
            .push(Linear::with_init(2, 8, Init::XavierUniform, true, &mut rng))
            .push(Sigmoid)
            .push(Linear::with_init(8, 1, Init::XavierUniform, true, &mut rng))
            .push(Sigmoid);
        let mut opt = Sgd::new(1.0);
        let t0 = Instant::now();
        let n = 50_000;
        for _ in 0..n {
            let tape = Tape::new();
            let loss = mse(
                &model.forward(&tape.constant(x.clone())),
                &tape.constant(y.clone()),
                Reduction::Mean,
            );
            opt.step(&mut model, &loss.backward());
        }
        println!(
            "W4: {:.3} µs per step",
            t0.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
}
