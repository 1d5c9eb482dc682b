//! The main example's claim, tested: the textbook XOR network reaches a
//! loss below 0.01 in 5,000 steps of plain gradient descent (lr 1.0).

#[path = "../../examples/common/mod.rs"]
mod common;

use common::{mse_step, xor_data, xor_net};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

#[test]
fn xor_reaches_small_loss() {
    let (x, y) = xor_data();
    let mut model = xor_net(&mut StdRng::seed_from_u64(42));
    let mut opt = Sgd::new(1.0);
    let mut last = f32::NAN;
    for _ in 0..5000 {
        last = mse_step(&mut model, &mut opt, &x, &y);
    }
    assert!(last < 0.01, "final loss {last}");
    let tape = Tape::new();
    let pred = model.forward(&tape.constant(x)).value().to_vec();
    for (p, t) in pred.iter().zip(y.to_vec()) {
        assert!((p - t).abs() < 0.2, "prediction {p} for target {t}");
    }
}

#[path = "../../examples/xor.rs"]
mod example;

/// The main example itself, run as a newcomer runs it: it exits with
/// success only when the final loss is below 0.01.
#[test]
fn main_example_learns_xor() {
    assert!(example::main() == std::process::ExitCode::SUCCESS);
}
