//! Recurrent layers: the Elman `RnnCell`/`Rnn` (tanh) and `LstmCell`/`Lstm`
//! (input, forget, output gates and a cell state), over sequences shaped
//! `[batch, time, features]`. Backpropagation through time is simply the
//! tape replaying the unrolled loop.

use crate::linear::{Init, Linear};
use crate::module::{join, Module};
use crate::param::Param;
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use rand::Rng;

/// `h' = tanh(x·W_ihᵀ + b + h·W_hhᵀ)`. PyTorch: `nn.RNNCell`.
#[derive(Clone, Debug)]
pub struct RnnCell<T: Element = f32> {
    /// Input to hidden, with the bias.
    pub ih: Linear<T>,
    /// Hidden to hidden, no bias.
    pub hh: Linear<T>,
}

impl<T: Element> RnnCell<T> {
    /// A cell with PyTorch's default initialisation.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        RnnCell {
            ih: Linear::with_init(inputs, hidden, Init::Default, true, rng),
            hh: Linear::with_init(hidden, hidden, Init::Default, false, rng),
        }
    }

    /// The hidden size.
    pub fn hidden(&self) -> usize {
        self.hh.weight.shape()[0]
    }

    /// One step: `x` is `[batch, inputs]`, `h` is `[batch, hidden]`.
    #[track_caller]
    pub fn step<'t>(&self, x: &Var<'t, T>, h: &Var<'t, T>) -> Var<'t, T> {
        (&self.ih.forward(x) + &self.hh.forward(h)).tanh()
    }
}

/// `(h', c')` from `(x, h, c)`: gates `i, f, g, o` from one product,
/// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`. The forget gate's bias
/// starts at 1 so that early in training the cell keeps what it holds.
/// PyTorch: `nn.LSTMCell` (same gate order).
#[derive(Clone, Debug)]
pub struct LstmCell<T: Element = f32> {
    /// Input to the four gates, with the bias.
    pub ih: Linear<T>,
    /// Hidden to the four gates, no bias.
    pub hh: Linear<T>,
}

impl<T: Element> LstmCell<T> {
    /// A cell with PyTorch's default initialisation and forget bias 1.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Self::with_forget_bias(inputs, hidden, 1.0, rng)
    }

    /// A cell whose forget gates' bias starts at `forget_bias`. At the
    /// start of training the cell then keeps a fraction `σ(forget_bias)` of
    /// its state per step, a memory of about `1 / (1 − σ(forget_bias))`
    /// steps: ~3.7 for the default 1, ~21 for 3. For gaps much longer than
    /// that, a larger bias lets the gradient reach back from the start
    /// (the idea behind Tallec & Ollivier's "chrono" initialisation).
    pub fn with_forget_bias<R: Rng + ?Sized>(
        inputs: usize,
        hidden: usize,
        forget_bias: f64,
        rng: &mut R,
    ) -> Self {
        let mut ih = Linear::with_init(inputs, 4 * hidden, Init::Default, true, rng);
        if let Some(b) = &mut ih.bias {
            let mut v = b.value.to_vec();
            let fb = T::of_f64(forget_bias);
            v[hidden..2 * hidden].iter_mut().for_each(|x| *x = fb);
            b.value = Tensor::from_vec(v, &[4 * hidden]).expect("same length");
        }
        LstmCell {
            ih,
            hh: Linear::with_init(hidden, 4 * hidden, Init::Default, false, rng),
        }
    }

    /// The hidden size.
    pub fn hidden(&self) -> usize {
        self.hh.weight.shape()[1]
    }

    /// One step: `x` `[batch, inputs]`, `h` and `c` `[batch, hidden]`.
    #[track_caller]
    pub fn step<'t>(
        &self,
        x: &Var<'t, T>,
        h: &Var<'t, T>,
        c: &Var<'t, T>,
    ) -> (Var<'t, T>, Var<'t, T>) {
        let n = self.hidden();
        let z = &self.ih.forward(x) + &self.hh.forward(h);
        let gate = |k: usize| z.narrow(1, k * n, n);
        let (i, f, g, o) = (
            gate(0).sigmoid(),
            gate(1).sigmoid(),
            gate(2).tanh(),
            gate(3).sigmoid(),
        );
        let c2 = &(&f * c) + &(&i * &g);
        let h2 = &o * &c2.tanh();
        (h2, c2)
    }
}

/// The time steps of `x` (`[batch, time, features]`), each `[batch, features]`.
#[track_caller]
fn steps<'t, T: Element>(x: &Var<'t, T>) -> Vec<Var<'t, T>> {
    let s = x.shape();
    assert!(
        s.len() == 3,
        "recurrent layer: input must be [batch, time, features], got {s:?}, called at {}",
        std::panic::Location::caller()
    );
    (0..s[1]).map(|t| x.narrow(1, t, 1).squeeze(1)).collect()
}

/// An Elman RNN over a sequence; `forward` returns every hidden state,
/// `[batch, time, hidden]`, starting from zeros. PyTorch: `nn.RNN(batch_first=True)`.
#[derive(Clone, Debug)]
pub struct Rnn<T: Element = f32> {
    /// The cell applied at every step.
    pub cell: RnnCell<T>,
}

impl<T: Element> Rnn<T> {
    /// An RNN of `inputs` features and `hidden` units.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Rnn {
            cell: RnnCell::new(inputs, hidden, rng),
        }
    }

    /// The hidden state after every step.
    #[track_caller]
    pub fn states<'t>(&self, x: &Var<'t, T>) -> Vec<Var<'t, T>> {
        let xs = steps(x);
        let batch = x.shape()[0];
        let mut h = x
            .tape()
            .constant(Tensor::zeros(&[batch, self.cell.hidden()]));
        let mut out = Vec::with_capacity(xs.len());
        for xt in &xs {
            h = self.cell.step(xt, &h);
            out.push(h.clone());
        }
        out
    }
}

/// An LSTM over a sequence; `forward` returns every hidden state,
/// `[batch, time, hidden]`, starting from zero `h` and `c`.
/// PyTorch: `nn.LSTM(batch_first=True)`.
#[derive(Clone, Debug)]
pub struct Lstm<T: Element = f32> {
    /// The cell applied at every step.
    pub cell: LstmCell<T>,
}

impl<T: Element> Lstm<T> {
    /// An LSTM of `inputs` features and `hidden` units (forget bias 1).
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Lstm {
            cell: LstmCell::new(inputs, hidden, rng),
        }
    }

    /// An LSTM whose forget gates' bias starts at `forget_bias` (see
    /// [`LstmCell::with_forget_bias`]).
    pub fn with_forget_bias<R: Rng + ?Sized>(
        inputs: usize,
        hidden: usize,
        forget_bias: f64,
        rng: &mut R,
    ) -> Self {
        Lstm {
            cell: LstmCell::with_forget_bias(inputs, hidden, forget_bias, rng),
        }
    }

    /// The hidden state after every step.
    #[track_caller]
    pub fn states<'t>(&self, x: &Var<'t, T>) -> Vec<Var<'t, T>> {
        let xs = steps(x);
        let zeros = x
            .tape()
            .constant(Tensor::zeros(&[x.shape()[0], self.cell.hidden()]));
        let (mut h, mut c) = (zeros.clone(), zeros);
        let mut out = Vec::with_capacity(xs.len());
        for xt in &xs {
            (h, c) = self.cell.step(xt, &h, &c);
            out.push(h.clone());
        }
        out
    }
}

macro_rules! sequence_module {
    ($ty:ident) => {
        impl<T: Element> Module<T> for $ty<T> {
            fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
                Var::stack(&self.states(x), 1)
            }
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
                self.cell.ih.visit(&join(prefix, "ih"), f);
                self.cell.hh.visit(&join(prefix, "hh"), f);
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
                self.cell.ih.visit_mut(&join(prefix, "ih"), f);
                self.cell.hh.visit_mut(&join(prefix, "hh"), f);
            }
        }
    };
}

sequence_module!(Rnn);
sequence_module!(Lstm);

#[cfg(test)]
mod tests {
    use super::*;
    use mnemon_autograd::check::{gradcheck, Tolerance};
    use mnemon_autograd::Tape;
    use rand::SeedableRng;

    fn seq() -> Tensor<f64> {
        Tensor::from_vec(
            (0..2 * 3 * 2)
                .map(|i| ((i * 7) % 5) as f64 / 5.0 - 0.4)
                .collect(),
            &[2, 3, 2],
        )
        .unwrap()
    }

    #[test]
    fn rnn_and_lstm_pass_gradcheck_through_time() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let rnn = Rnn::<f64>::new(2, 3, &mut rng);
        let lstm = Lstm::<f64>::new(2, 3, &mut rng);
        let tol = Tolerance::default();
        // gradient with respect to the input sequence
        assert!(gradcheck(|v| rnn.forward(&v[0]), &[seq()], tol).is_ok());
        assert!(gradcheck(|v| lstm.forward(&v[0]), &[seq()], tol).is_ok());
    }

    /// Central differences over every weight of `model` against the
    /// gradients `grads.param` gives for `sum(forward(x) · w)`.
    fn check_weights<M: Module<f64> + Clone>(model: &M) {
        use crate::param::GradsParamExt;
        let x = seq();
        let value = |m: &M| {
            let tape = Tape::new();
            let y = m.forward(&tape.constant(x.clone()));
            let w = Tensor::from_vec(
                (0..y.value().numel())
                    .map(|i| 0.5 + (i % 3) as f64)
                    .collect(),
                y.shape(),
            )
            .unwrap();
            (y.value() * &w).sum_all().item()
        };
        let tape = Tape::new();
        let y = model.forward(&tape.constant(x.clone()));
        let w = Tensor::from_vec(
            (0..y.value().numel())
                .map(|i| 0.5 + (i % 3) as f64)
                .collect(),
            y.shape(),
        )
        .unwrap();
        let grads = (&y * &w).sum_all().backward();
        let params = model.named_params();
        for (k, (name, p)) in params.iter().enumerate() {
            let analytic = grads.param(p).unwrap().to_vec();
            for j in 0..p.value.numel() {
                let probe = |d: f64| {
                    let mut m = model.clone();
                    let mut seen = 0;
                    m.visit_mut("", &mut |_, q| {
                        if seen == k {
                            let mut v = q.value.to_vec();
                            v[j] += d;
                            q.value = Tensor::from_vec(v, q.value.shape()).unwrap();
                        }
                        seen += 1;
                    });
                    value(&m)
                };
                let numeric = (probe(1e-6) - probe(-1e-6)) / 2e-6;
                assert!(
                    (numeric - analytic[j]).abs() < 1e-6 + 1e-4 * numeric.abs(),
                    "{name}[{j}]: {} vs {numeric}",
                    analytic[j]
                );
            }
        }
    }

    #[test]
    fn weight_gradients_through_time() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        check_weights(&Rnn::<f64>::new(2, 3, &mut rng));
        check_weights(&Lstm::<f64>::new(2, 3, &mut rng));
    }

    #[test]
    fn shapes_names_and_forget_bias() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let lstm = Lstm::<f32>::new(2, 4, &mut rng);
        let b = lstm.cell.ih.bias.as_ref().unwrap().value.to_vec();
        assert!(b[4..8].iter().all(|&v| v == 1.0));
        let long = Lstm::<f32>::with_forget_bias(2, 4, 3.0, &mut rng);
        let b3 = long.cell.ih.bias.as_ref().unwrap().value.to_vec();
        assert!(b3[4..8].iter().all(|&v| v == 3.0));
        assert!(
            b3[..4].iter().chain(&b3[8..]).all(|&v| v.abs() <= 0.71),
            "other gates keep the default init"
        );
        let names: Vec<String> = lstm.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["ih.weight", "ih.bias", "hh.weight"]);
        let tape = Tape::new();
        let y = lstm.forward(&tape.constant(Tensor::zeros(&[5, 7, 2])));
        assert_eq!(y.shape(), &[5, 7, 4]);
    }
}
