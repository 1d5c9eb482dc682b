//! XOR, the classic textbook network — with the gradient derived by the tape.
//!
//! What it teaches: a 2 → 8 → 1 sigmoid network trained by plain gradient
//! descent on a mean-squared-error loss. Textbooks derive the gradient of
//! this loss by hand (and often get it wrong); here `loss.backward()` derives
//! it from the recorded forward pass.
//!
//! Run: `cargo run --release --example xor`

mod common;

use common::{mse_step, xor_data, xor_net};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::process::ExitCode;

fn main() -> ExitCode {
    let (x, y) = xor_data();
    let mut rng = StdRng::seed_from_u64(42);
    let mut model = xor_net(&mut rng); // 2 → 8 sigmoid → 1 sigmoid
    let mut opt = Sgd::new(1.0); // plain gradient descent, lr 1.0

    let steps = 5_000;
    let mut loss_value = f32::NAN;
    for step in 1..=steps {
        // forward on a fresh tape, MSE, backward (derived), SGD update
        loss_value = mse_step(&mut model, &mut opt, &x, &y);
        if step == 1 || step % 500 == 0 {
            let filled = step * 30 / steps;
            println!(
                "[{}{}] step {step:>5}  loss {loss_value:.6}",
                "#".repeat(filled),
                " ".repeat(30 - filled)
            );
        }
    }

    let tape = Tape::new();
    let pred = model.forward(&tape.constant(x.clone()));
    println!("\npredictions after {steps} steps:");
    for (i, p) in pred.value().to_vec().iter().enumerate() {
        let (a, b) = (x.to_vec()[2 * i], x.to_vec()[2 * i + 1]);
        println!("  {a} xor {b} = {}  ->  {p:.4}", y.to_vec()[i]);
    }
    if loss_value < 0.01 {
        println!("final loss {loss_value:.6} < 0.01: XOR learned");
        ExitCode::SUCCESS
    } else {
        eprintln!("final loss {loss_value:.6} is not below 0.01: training failed");
        ExitCode::FAILURE
    }
}
