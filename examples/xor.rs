//! XOR, the classic textbook network — with the gradient derived by the tape.
//!
//! What it teaches: a 2 → 8 → 1 sigmoid network trained by plain gradient
//! descent on a mean-squared-error loss. Textbooks derive the gradient of
//! this loss by hand (and often get it wrong); here `loss.backward()` derives
//! it from the recorded forward pass.
//!
//! Run: `cargo run --release --example xor`

use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::process::ExitCode;

fn main() -> ExitCode {
    let x =
        Tensor::<f32>::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]).expect("4×2 inputs");
    let y = Tensor::<f32>::from_vec(vec![0., 1., 1., 0.], &[4, 1]).expect("4×1 targets");

    let mut rng = StdRng::seed_from_u64(42);
    let mut model = Sequential::new()
        .push(Linear::with_init(2, 8, Init::XavierUniform, true, &mut rng))
        .push(Sigmoid)
        .push(Linear::with_init(8, 1, Init::XavierUniform, true, &mut rng))
        .push(Sigmoid);
    let mut opt = Sgd::new(1.0);

    let steps = 5_000;
    let mut loss_value = f32::NAN;
    for step in 1..=steps {
        let tape = Tape::new(); // the temporary memory of one pass
        let pred = model.forward(&tape.constant(x.clone()));
        let loss = mse(&pred, &tape.constant(y.clone()), Reduction::Mean);
        loss_value = loss.item();
        let grads = loss.backward(); // every gradient, derived from the tape
        opt.step(&mut model, &grads);
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
