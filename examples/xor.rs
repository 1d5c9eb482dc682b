//! XOR, the classic textbook network — with the gradient derived by the tape.
//!
//! The whole idea on one screen: the data, a 2 → 8 → 1 sigmoid network, the
//! forward pass, a mean-squared-error loss, `loss.backward()` (every
//! gradient derived from the recorded forward pass, none written by hand),
//! a plain gradient-descent update, and the progress.
//!
//! Run: `cargo run --release --example xor`

use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::process::ExitCode;

pub fn main() -> ExitCode {
    // the data: the four XOR cases and their answers
    let x = Tensor::<f32>::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]).unwrap();
    let y = Tensor::<f32>::from_vec(vec![0., 1., 1., 0.], &[4, 1]).unwrap();

    // the model: 2 inputs → 8 sigmoid units → 1 sigmoid output
    let mut rng = StdRng::seed_from_u64(42);
    let mut model = Sequential::new()
        .push(Linear::with_init(2, 8, Init::XavierUniform, true, &mut rng))
        .push(Sigmoid)
        .push(Linear::with_init(8, 1, Init::XavierUniform, true, &mut rng))
        .push(Sigmoid);
    let mut opt = Sgd::new(1.0); // plain gradient descent, learning rate 1

    let steps = 5_000;
    let mut loss_value = f32::NAN;
    for step in 1..=steps {
        let tape = Tape::new(); // records this step's forward pass
        let pred = model.forward(&tape.constant(x.clone())); // forward
        let loss = mse(&pred, &tape.constant(y.clone()), Reduction::Mean);
        let grads = loss.backward(); // d loss / d every parameter, derived
        opt.step(&mut model, &grads); // w ← w − lr · dw
        loss_value = loss.item();
        if step == 1 || step % 500 == 0 {
            let bar = step * 30 / steps;
            let (done, todo) = ("#".repeat(bar), " ".repeat(30 - bar));
            println!("[{done}{todo}] step {step:>5}  loss {loss_value:.6}");
        }
    }

    let pred = model.predict(&x); // no tape: inference only
    println!("\npredictions after {steps} steps:");
    let (xs, ys) = (x.to_vec(), y.to_vec());
    for (i, p) in pred.to_vec().iter().enumerate() {
        let (a, b) = (xs[2 * i], xs[2 * i + 1]);
        println!("  {a} xor {b} = {}  ->  {p:.4}", ys[i]);
    }
    if loss_value < 0.01 {
        println!("final loss {loss_value:.6} < 0.01: XOR learned");
        ExitCode::SUCCESS
    } else {
        eprintln!("final loss {loss_value:.6} is not below 0.01: training failed");
        ExitCode::FAILURE
    }
}
