//! The facts the `remember` example prints, asserted for the longest gap.

#[path = "../../examples/remember.rs"]
mod remember;

use mnemon::nn::{Lstm, Rnn};
use rand::{rngs::StdRng, SeedableRng};
use remember::{run, FEATURES, HIDDEN, LONG_FORGET_BIAS};

#[test]
fn across_49_steps_of_noise_an_lstm_remembers_and_an_rnn_does_not() {
    let t = 50;
    let mut rng = StdRng::seed_from_u64(t as u64);
    let mut rnn = Rnn::<f32>::new(FEATURES, HIDDEN, &mut rng);
    let (rnn_acc, rnn_grad) = run(&mut rnn, t, &mut rng);
    let mut rng = StdRng::seed_from_u64(t as u64);
    let mut lstm = Lstm::<f32>::with_forget_bias(FEATURES, HIDDEN, LONG_FORGET_BIAS, &mut rng);
    let (lstm_acc, lstm_grad) = run(&mut lstm, t, &mut rng);
    // "remembers" as the example's verdict says it: above 90 %. With
    // PyTorch's initialisation (input weights U(±1/√16), not the ±1/√3 of
    // a `Linear`'s) a tanh RNN now and then learns part of the recall
    // despite its vanished start: 72.5 % here, 100 % for 1 seed of 8 (see
    // the example's header)
    assert!(lstm_acc > 0.9, "LSTM accuracy {lstm_acc}");
    assert!(rnn_acc < 0.9, "RNN accuracy {rnn_acc}");
    // the gradient reaching step 0 before training: vanished through the RNN
    assert!(
        rnn_grad < 1e-12 && lstm_grad > 1e-5,
        "{rnn_grad} vs {lstm_grad}"
    );
}
