//! Recurrent layers: the Elman `RnnCell`/`Rnn` (tanh) and `LstmCell`/`Lstm`
//! (input, forget, output gates and a cell state), over sequences shaped
//! `[batch, time, features]`. Backpropagation through time is simply the
//! tape replaying the unrolled loop.

use crate::cell_params::{self, gate_inputs, zero_state};
use crate::module::Module;
use crate::param::Param;
use crate::sequence;
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use rand::Rng;

/// `h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`. PyTorch: `nn.RNNCell`
/// (tanh), with its parameter layout and names.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{Module, RnnCell};
/// use mnemon_tensor::Tensor;
/// use rand::{rngs::StdRng, SeedableRng};
/// let cell = RnnCell::<f64>::new(2, 3, &mut StdRng::seed_from_u64(0));
/// let names: Vec<String> = cell.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::zeros(&[4, 2]));
/// let h = cell.step(&x, &tape.constant(Tensor::zeros(&[4, 3])));
/// // from zeros, h' = tanh(b_ih + b_hh) in every row
/// let b: Vec<f64> = cell.bias_ih.value.to_vec().iter()
///     .zip(cell.bias_hh.value.to_vec())
///     .map(|(a, b)| (a + b).tanh())
///     .collect();
/// assert_eq!(h.value().to_vec()[..3], b[..]);
/// ```
#[derive(Clone, Debug)]
pub struct RnnCell<T: Element = f32> {
    /// `[H, in]`.
    pub weight_ih: Param<T>,
    /// `[H, H]`.
    pub weight_hh: Param<T>,
    /// `[H]`.
    pub bias_ih: Param<T>,
    /// `[H]`.
    pub bias_hh: Param<T>,
}

cell_params::cell_param_access!(RnnCell);

impl<T: Element> RnnCell<T> {
    /// A cell initialised as PyTorch's: every tensor U(±1/√hidden).
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        let [weight_ih, weight_hh, bias_ih, bias_hh] = cell_params::init(1, inputs, hidden, rng);
        RnnCell {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
        }
    }

    /// The hidden size.
    pub fn hidden(&self) -> usize {
        self.weight_hh.shape()[1]
    }

    /// One step: `x` is `[batch, inputs]`, `h` is `[batch, hidden]`.
    #[track_caller]
    pub fn step<'t>(&self, x: &Var<'t, T>, h: &Var<'t, T>) -> Var<'t, T> {
        let (gi, gh) = gate_inputs("RnnCell::step", self.tensors(), x, h);
        (&gi + &gh).tanh()
    }
}

/// `(h', c')` from `(x, h, c)`: gates `i, f, g, o` from
/// `z = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh`, `c' = σ(f)·c + σ(i)·tanh(g)`,
/// `h' = σ(o)·tanh(c')`. PyTorch: `nn.LSTMCell`, with its gate order,
/// parameter layout and names; one difference at initialisation (see
/// [`LstmCell::new`]).
#[derive(Clone, Debug)]
pub struct LstmCell<T: Element = f32> {
    /// `[4H, in]`, rows i, f, g, o.
    pub weight_ih: Param<T>,
    /// `[4H, H]`.
    pub weight_hh: Param<T>,
    /// `[4H]`.
    pub bias_ih: Param<T>,
    /// `[4H]`.
    pub bias_hh: Param<T>,
}

cell_params::cell_param_access!(LstmCell);

impl<T: Element> LstmCell<T> {
    /// A cell initialised as PyTorch's (every tensor U(±1/√hidden)) but
    /// for the forget gate's bias, which starts at 1 so that early in
    /// training the cell keeps what it holds: `bias_ih` holds 1 and
    /// `bias_hh` 0 for that gate (see [`LstmCell::with_forget_bias`]).
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Self::with_forget_bias(inputs, hidden, 1.0, rng)
    }

    /// A cell whose forget gates' bias starts at `forget_bias` (in
    /// `bias_ih`; `bias_hh` is 0 there). At the start of training the
    /// cell then keeps a fraction `σ(forget_bias)` of its state per step,
    /// a memory of about `1 / (1 − σ(forget_bias))` steps: ~3.7 for the
    /// default 1, ~21 for 3. For gaps much longer than that, a larger bias
    /// lets the gradient reach back from the start (the idea behind Tallec
    /// & Ollivier's "chrono" initialisation).
    ///
    /// ```
    /// use mnemon_nn::LstmCell;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let cell = LstmCell::<f32>::with_forget_bias(2, 4, 3.0, &mut StdRng::seed_from_u64(0));
    /// let (b_ih, b_hh) = (cell.bias_ih.value.to_vec(), cell.bias_hh.value.to_vec());
    /// assert!(b_ih[4..8].iter().all(|&b| b == 3.0)); // rows i, f, g, o
    /// assert!(b_hh[4..8].iter().all(|&b| b == 0.0));
    /// ```
    pub fn with_forget_bias<R: Rng + ?Sized>(
        inputs: usize,
        hidden: usize,
        forget_bias: f64,
        rng: &mut R,
    ) -> Self {
        let [weight_ih, weight_hh, mut bias_ih, mut bias_hh] =
            cell_params::init(4, inputs, hidden, rng);
        let forget = hidden..2 * hidden;
        for (b, v) in [(&mut bias_ih, forget_bias), (&mut bias_hh, 0.0)] {
            let mut values = b.value.to_vec();
            values[forget.clone()].fill(T::of_f64(v));
            b.value = Tensor::from_vec(values, &[4 * hidden]).expect("same length");
        }
        LstmCell {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
        }
    }

    /// The hidden size.
    pub fn hidden(&self) -> usize {
        self.weight_hh.shape()[1]
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
        let (gi, gh) = gate_inputs("LstmCell::step", self.tensors(), x, h);
        if c.shape() != h.shape() {
            panic!(
                "LstmCell::step: cell state {:?} is not shaped as the hidden state {:?}, called at {}",
                c.shape(),
                h.shape(),
                std::panic::Location::caller()
            );
        }
        let z = &gi + &gh;
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

/// An Elman RNN over a sequence; `forward` returns every hidden state of
/// its top layer, `[batch, time, D·hidden]`, starting from zeros. PyTorch:
/// `nn.RNN(batch_first=True)` (tanh), with `num_layers` and
/// `bidirectional` ([`Rnn::with_layers`]); its parameters named as there
/// (`weight_ih_l0`, ..., `bias_hh_l1_reverse`), so its `state_dict` loads
/// by name.
#[derive(Clone, Debug)]
pub struct Rnn<T: Element = f32> {
    /// The cells in PyTorch's order: layer 0 (then layer 0 reversed, when
    /// bidirectional), layer 1, ...
    pub cells: Vec<RnnCell<T>>,
    /// Whether every layer also reads the sequence backwards, its states
    /// joined to the forward ones along the feature axis.
    pub bidirectional: bool,
}

impl<T: Element> Rnn<T> {
    /// An RNN of `inputs` features and `hidden` units, one layer, one
    /// direction.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Self::with_layers(inputs, hidden, 1, false, rng)
    }

    /// `layers` stacked RNNs (PyTorch's `num_layers`), each reading the
    /// sequence both ways when `bidirectional`; every cell initialised as
    /// PyTorch's.
    ///
    /// # Panics
    /// When `layers` is 0.
    pub fn with_layers<R: Rng + ?Sized>(
        inputs: usize,
        hidden: usize,
        layers: usize,
        bidirectional: bool,
        rng: &mut R,
    ) -> Self {
        Rnn {
            cells: sequence::build(inputs, hidden, layers, bidirectional, |i, h| {
                RnnCell::new(i, h, rng)
            }),
            bidirectional,
        }
    }

    /// The top layer's state after every step, from zeros, each
    /// `[batch, D·hidden]`.
    #[track_caller]
    pub fn states<'t>(&self, x: &Var<'t, T>) -> Vec<Var<'t, T>> {
        let out = sequence::run("Rnn", &self.cells, self.bidirectional, x, None).0;
        sequence::per_step(&out)
    }

    /// PyTorch's `rnn(x, h0)`: every state of the top layer
    /// `[batch, time, D·hidden]` and every cell's last, `h_n`
    /// `[layers · D, batch, hidden]`, starting from `h0` (shaped as `h_n`;
    /// zeros when `None`). Over a sequence of no steps `h_n` is `h0`.
    /// Gradients reach `h0` when it is a leaf or depends on one (a state
    /// carried over from the last batch, say).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_nn::Rnn;
    /// use mnemon_tensor::Tensor;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let rnn = Rnn::<f64>::new(2, 3, &mut StdRng::seed_from_u64(0));
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::ones(&[4, 5, 2]));
    /// let (all, last) = rnn.forward_with(&x, None);
    /// assert_eq!(last.shape(), &[1, 4, 3]);
    /// // go on from where the first two steps left off: the same states
    /// let (first, h) = rnn.forward_with(&x.narrow(1, 0, 2), None);
    /// let (rest, h_n) = rnn.forward_with(&x.narrow(1, 2, 3), Some(&h));
    /// assert_eq!(all.narrow(1, 0, 2).value().to_vec(), first.value().to_vec());
    /// assert_eq!(all.narrow(1, 2, 3).value().to_vec(), rest.value().to_vec());
    /// assert_eq!(last.value().to_vec(), h_n.value().to_vec());
    /// ```
    ///
    /// # Panics
    /// Unless `x` is `[batch, time, inputs]` and `h0`
    /// `[layers · D, batch, hidden]` (naming the shapes and the caller's
    /// line).
    #[track_caller]
    pub fn forward_with<'t>(
        &self,
        x: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
    ) -> (Var<'t, T>, Var<'t, T>) {
        sequence::run_from("Rnn::forward_with", &self.cells, self.bidirectional, x, h0)
    }
}

/// An LSTM over a sequence; `forward` returns every hidden state of its
/// top layer, `[batch, time, D·hidden]`, starting from zero `h` and `c`.
/// PyTorch: `nn.LSTM(batch_first=True)`, with `num_layers` and
/// `bidirectional` ([`Lstm::with_layers`]); its parameters named as there
/// (`weight_ih_l0`, ...), so its `state_dict` loads by name.
#[derive(Clone, Debug)]
pub struct Lstm<T: Element = f32> {
    /// The cells in PyTorch's order: layer 0 (then layer 0 reversed, when
    /// bidirectional), layer 1, ...
    pub cells: Vec<LstmCell<T>>,
    /// Whether every layer also reads the sequence backwards.
    pub bidirectional: bool,
}

impl<T: Element> Lstm<T> {
    /// An LSTM of `inputs` features and `hidden` units (forget bias 1),
    /// one layer, one direction.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Self::with_layers(inputs, hidden, 1, false, rng)
    }

    /// A one-layer LSTM whose forget gates' bias starts at `forget_bias`
    /// (see [`LstmCell::with_forget_bias`]).
    pub fn with_forget_bias<R: Rng + ?Sized>(
        inputs: usize,
        hidden: usize,
        forget_bias: f64,
        rng: &mut R,
    ) -> Self {
        Lstm {
            cells: vec![LstmCell::with_forget_bias(inputs, hidden, forget_bias, rng)],
            bidirectional: false,
        }
    }

    /// `layers` stacked LSTMs (PyTorch's `num_layers`), each reading the
    /// sequence both ways when `bidirectional` (forget bias 1 in every
    /// cell).
    ///
    /// # Panics
    /// When `layers` is 0.
    pub fn with_layers<R: Rng + ?Sized>(
        inputs: usize,
        hidden: usize,
        layers: usize,
        bidirectional: bool,
        rng: &mut R,
    ) -> Self {
        Lstm {
            cells: sequence::build(inputs, hidden, layers, bidirectional, |i, h| {
                LstmCell::new(i, h, rng)
            }),
            bidirectional,
        }
    }

    /// The top layer's hidden state after every step, from zeros, each
    /// `[batch, D·hidden]`.
    #[track_caller]
    pub fn states<'t>(&self, x: &Var<'t, T>) -> Vec<Var<'t, T>> {
        let out = sequence::run("Lstm", &self.cells, self.bidirectional, x, None).0;
        sequence::per_step(&out)
    }

    /// PyTorch's `lstm(x, (h0, c0))`: every hidden state of the top layer
    /// `[batch, time, D·hidden]` and every cell's last hidden and cell
    /// states `(h_n, c_n)`, each `[layers · D, batch, hidden]`, starting
    /// from `state` (`(h0, c0)`, shaped as `(h_n, c_n)`; zeros when `None`).
    /// Over a sequence of no steps `(h_n, c_n)` is the state given. See
    /// [`Rnn::forward_with`].
    ///
    /// # Panics
    /// Unless `x` is `[batch, time, inputs]` and `h0`, `c0` are
    /// `[layers · D, batch, hidden]` (naming the shapes and the caller's
    /// line).
    #[track_caller]
    pub fn forward_with<'t>(
        &self,
        x: &Var<'t, T>,
        state: Option<(&Var<'t, T>, &Var<'t, T>)>,
    ) -> (Var<'t, T>, (Var<'t, T>, Var<'t, T>)) {
        let init = state.map(|(h, c)| [h, c]);
        let (out, finals) = sequence::run(
            "Lstm::forward_with",
            &self.cells,
            self.bidirectional,
            x,
            init.as_ref().map(|i| &i[..]),
        );
        let mut finals = finals.into_iter();
        let h = finals.next().expect("an LSTM ends in (h, c)");
        let c = finals.next().expect("an LSTM ends in (h, c)");
        (out, (h, c))
    }
}

cell_params::cell_module!(RnnCell, |m, x| m.step(x, &zero_state(x, m.hidden())));
cell_params::cell_module!(LstmCell, |m, x| {
    let zeros = zero_state(x, m.hidden());
    m.step(x, &zeros, &zeros).0
});
sequence::sequence_module!(Rnn, "Rnn");
sequence::sequence_module!(Lstm, "Lstm");

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
        let b = lstm.cells[0].bias_ih.value.to_vec();
        assert!(b[4..8].iter().all(|&v| v == 1.0));
        let long = Lstm::<f32>::with_forget_bias(2, 4, 3.0, &mut rng);
        let (b3, h3) = (
            long.cells[0].bias_ih.value.to_vec(),
            long.cells[0].bias_hh.value.to_vec(),
        );
        assert!(b3[4..8].iter().all(|&v| v == 3.0));
        assert!(h3[4..8].iter().all(|&v| v == 0.0));
        // every other entry PyTorch's U(±1/√4)
        let others = long.named_params().into_iter().flat_map(|(name, p)| {
            let v = p.value.to_vec();
            match name.starts_with("bias") {
                true => v[..4].iter().chain(&v[8..]).copied().collect(),
                false => v,
            }
        });
        assert!(others.into_iter().all(|v| v.abs() <= 0.5));
        let names: Vec<String> = lstm.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        );
        let shapes: Vec<Vec<usize>> = lstm
            .named_params()
            .into_iter()
            .map(|(_, p)| p.value.shape().to_vec())
            .collect();
        assert_eq!(shapes, [vec![16, 2], vec![16, 4], vec![16], vec![16]]);
        let tape = Tape::new();
        let y = lstm.forward(&tape.constant(Tensor::zeros(&[5, 7, 2])));
        assert_eq!(y.shape(), &[5, 7, 4]);
    }
}
