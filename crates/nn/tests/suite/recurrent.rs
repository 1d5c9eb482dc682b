//! The RNN and LSTM against PyTorch's equations written as plain loops:
//! its gate order (i, f, g, o), both biases, and its parameter names.

use mnemon_autograd::Tape;
use mnemon_nn::*;
use mnemon_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

/// `w·x + b` for a row-major `w` of `rows × x.len()`.
fn affine(w: &[f64], b: &[f64], x: &[f64]) -> Vec<f64> {
    (0..b.len())
        .map(|r| b[r] + (0..x.len()).map(|c| w[r * x.len() + c] * x[c]).sum::<f64>())
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Every parameter drawn anew in ±2, so that no bias hides at 0 or 1.
fn shuffle<M: Module<f64>>(m: &mut M, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    m.visit_mut("", &mut |_, p| {
        p.value = Tensor::rand_uniform(p.value.shape(), -2.0, 2.0, &mut rng);
    });
}

/// The parameters by PyTorch's names, as plain vectors.
fn by_name<M: Module<f64>>(m: &M) -> Vec<Vec<f64>> {
    let named = m.named_params();
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    );
    named.iter().map(|(_, p)| p.value.to_vec()).collect()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

const B: usize = 2;
const T: usize = 3;
const IN: usize = 3;
const H: usize = 4;

fn input() -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(9);
    Tensor::rand_uniform(&[B, T, IN], -1.5, 1.5, &mut rng)
}

#[test]
fn rnn_is_pytorchs_rnn() {
    let mut rnn = Rnn::<f64>::new(IN, H, &mut StdRng::seed_from_u64(0));
    shuffle(&mut rnn, 1);
    let [w_ih, w_hh, b_ih, b_hh] = <[Vec<f64>; 4]>::try_from(by_name(&rnn)).unwrap();
    let x = input().to_vec();
    let mut want = Vec::new();
    for b in 0..B {
        let mut h = vec![0.0; H];
        for t in 0..T {
            let xt = &x[(b * T + t) * IN..][..IN];
            let (gi, gh) = (affine(&w_ih, &b_ih, xt), affine(&w_hh, &b_hh, &h));
            h = gi.iter().zip(&gh).map(|(a, c)| (a + c).tanh()).collect();
            want.extend_from_slice(&h);
        }
    }
    let tape = Tape::new();
    let y = rnn.forward(&tape.constant(input()));
    assert_eq!(y.shape(), &[B, T, H]);
    close(&y.value().to_vec(), &want);
}

#[test]
fn lstm_is_pytorchs_lstm() {
    let mut lstm = Lstm::<f64>::new(IN, H, &mut StdRng::seed_from_u64(0));
    shuffle(&mut lstm, 2);
    let [w_ih, w_hh, b_ih, b_hh] = <[Vec<f64>; 4]>::try_from(by_name(&lstm)).unwrap();
    let x = input().to_vec();
    let mut want = Vec::new();
    for b in 0..B {
        let (mut h, mut c) = (vec![0.0; H], vec![0.0; H]);
        for t in 0..T {
            let xt = &x[(b * T + t) * IN..][..IN];
            let (gi, gh) = (affine(&w_ih, &b_ih, xt), affine(&w_hh, &b_hh, &h));
            let z: Vec<f64> = gi.iter().zip(&gh).map(|(a, c)| a + c).collect();
            for k in 0..H {
                // PyTorch's rows: input, forget, cell, output
                let (i, f) = (sigmoid(z[k]), sigmoid(z[H + k]));
                let (g, o) = (z[2 * H + k].tanh(), sigmoid(z[3 * H + k]));
                c[k] = f * c[k] + i * g;
                h[k] = o * c[k].tanh();
            }
            want.extend_from_slice(&h);
        }
    }
    let tape = Tape::new();
    let y = lstm.forward(&tape.constant(input()));
    close(&y.value().to_vec(), &want);
}

#[test]
fn cells_step_from_a_zero_state_under_pytorchs_cell_names() {
    let mut rng = StdRng::seed_from_u64(3);
    let (rnn, lstm) = (
        RnnCell::<f64>::new(IN, H, &mut rng),
        LstmCell::<f64>::new(IN, H, &mut rng),
    );
    for names in [rnn.named_params(), lstm.named_params()] {
        let names: Vec<String> = names.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
    }
    let tape = Tape::new();
    let x = tape.constant(input()).narrow(1, 0, 1).squeeze(1);
    let zeros = tape.constant(Tensor::zeros(&[B, H]));
    let same = |a: &Tensor<f64>, b: &Tensor<f64>| assert_eq!(a.to_vec(), b.to_vec());
    same(rnn.forward(&x).value(), rnn.step(&x, &zeros).value());
    same(
        lstm.forward(&x).value(),
        lstm.step(&x, &zeros, &zeros).0.value(),
    );
}

#[test]
fn a_sequence_of_no_steps_gives_no_states() {
    // PyTorch rejects length 0; JAX's scan returns the empty stack, as here
    let mut rng = StdRng::seed_from_u64(4);
    let models: [Box<dyn Module<f64>>; 3] = [
        Box::new(Rnn::new(IN, H, &mut rng)),
        Box::new(Lstm::new(IN, H, &mut rng)),
        Box::new(Gru::new(IN, H, &mut rng)),
    ];
    for m in &models {
        let tape = Tape::new();
        let x = tape.leaf(Tensor::zeros(&[B, 0, IN]));
        let y = m.forward(&x);
        assert_eq!(y.shape(), &[B, 0, H]);
        let grads = y.sum_all().backward();
        assert_eq!(grads.wrt(&x).unwrap().shape(), &[B, 0, IN]);
    }
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("a shape mismatch panics");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn shape_mismatches_name_the_layer_both_shapes_and_the_callers_line() {
    let mut rng = StdRng::seed_from_u64(5);
    let (lstm, cell) = (
        Lstm::<f64>::new(IN, H, &mut rng),
        LstmCell::<f64>::new(IN, H, &mut rng),
    );
    let line = line!() + 3;
    let msg = panic_message(|| {
        let tape = Tape::new();
        lstm.forward(&tape.constant(Tensor::zeros(&[B, T, IN + 1])));
    });
    assert!(
        msg.starts_with("Lstm: input [2, 3, 4] is not [batch, time, 3]"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    let msg = panic_message(|| {
        let tape = Tape::new();
        let x = tape.constant(Tensor::zeros(&[B, IN]));
        let h = tape.constant(Tensor::zeros(&[B + 1, H]));
        cell.step(&x, &h, &h);
    });
    assert!(
        msg.starts_with("LstmCell::step: input [2, 3] and state [3, 4] do not fit a cell of 3 inputs and 4 units"),
        "{msg}"
    );
    let msg = panic_message(|| {
        let tape = Tape::new();
        let x = tape.constant(Tensor::zeros(&[B, IN]));
        let h = tape.constant(Tensor::zeros(&[B, H]));
        cell.step(&x, &h, &tape.constant(Tensor::zeros(&[B, H + 1])));
    });
    assert!(
        msg.starts_with(
            "LstmCell::step: cell state [2, 5] is not shaped as the hidden state [2, 4]"
        ),
        "{msg}"
    );
}

#[test]
fn a_given_initial_state_is_where_the_sequence_starts_and_gets_its_gradient() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut lstm = Lstm::<f64>::new(IN, H, &mut rng);
    shuffle(&mut lstm, 7);
    let tape = Tape::new();
    let x = tape.constant(input());
    // PyTorch's shape: [layers · directions, batch, hidden]
    let h0 = tape.leaf(Tensor::rand_uniform(&[1, B, H], -1.0, 1.0, &mut rng));
    let c0 = tape.leaf(Tensor::rand_uniform(&[1, B, H], -1.0, 1.0, &mut rng));
    let (out, (h_n, c_n)) = lstm.forward_with(&x, Some((&h0, &c0)));
    // the first step is the cell's step from (h0, c0)
    let x0 = x.narrow(1, 0, 1).squeeze(1);
    let (h1, _) = lstm.cells[0].step(&x0, &h0.squeeze(0), &c0.squeeze(0));
    let first = out.narrow(1, 0, 1).squeeze(1);
    assert_eq!(first.value().to_vec(), h1.value().to_vec());
    let last = out.narrow(1, T - 1, 1).squeeze(1);
    assert_eq!(last.value().to_vec(), h_n.value().to_vec());
    let grads = (&h_n.sum_all() + &c_n.sum_all()).backward();
    for s in [&h0, &c0] {
        let g = grads
            .wrt(s)
            .expect("the state is a leaf the output depends on");
        assert!(g.to_vec().iter().any(|&v| v != 0.0));
    }
    // no steps: the state given is the state returned
    let empty = tape.constant(Tensor::zeros(&[B, 0, IN]));
    let (out, (h, c)) = lstm.forward_with(&empty, Some((&h0, &c0)));
    assert_eq!(out.shape(), &[B, 0, H]);
    assert_eq!(h.value().to_vec(), h0.value().to_vec());
    assert_eq!(c.value().to_vec(), c0.value().to_vec());
    let line = line!() + 5;
    let msg = panic_message(|| {
        let tape = Tape::new();
        let rnn = Rnn::<f64>::new(IN, H, &mut StdRng::seed_from_u64(0));
        let x = tape.constant(input());
        rnn.forward_with(&x, Some(&tape.constant(Tensor::zeros(&[B, H]))));
    });
    assert!(
        msg.starts_with(
            "Rnn::forward_with: initial state [2, 4] is not [layers · directions, batch, hidden] = [1, 2, 4]"
        ),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
}

#[test]
fn stacked_bidirectional_layers_pass_gradcheck_first_and_second_order() {
    use mnemon_autograd::check::{gradcheck, gradgradcheck, Tolerance};
    let mut rng = StdRng::seed_from_u64(8);
    let x = Tensor::rand_uniform(&[2, 3, 2], -1.0, 1.0, &mut rng);
    let models: [Box<dyn Module<f64>>; 3] = [
        Box::new(Rnn::with_layers(2, 3, 2, true, &mut rng)),
        Box::new(Lstm::with_layers(2, 3, 2, true, &mut rng)),
        Box::new(Gru::with_layers(2, 3, 2, true, &mut rng)),
    ];
    for m in &models {
        let tol = Tolerance::default();
        let first = gradcheck(|v| m.forward(&v[0]), std::slice::from_ref(&x), tol);
        assert!(first.is_ok(), "{first:?}");
        let second = gradgradcheck(|v| m.forward(&v[0]), std::slice::from_ref(&x), tol);
        assert!(second.is_ok(), "{second:?}");
    }
}
