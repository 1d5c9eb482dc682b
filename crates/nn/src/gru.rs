//! The gated recurrent unit, PyTorch's gate order (reset, update, new) and
//! parameter layout: `weight_ih` `[3H, in]`, `weight_hh` `[3H, H]`,
//! `bias_ih`, `bias_hh` `[3H]`.

use crate::cell_params::{self, gate_inputs, zero_state};
use crate::module::Module;
use crate::param::Param;
use crate::sequence;
use mnemon_autograd::Var;
use mnemon_tensor::Element;
use rand::Rng;

/// One GRU step:
/// `r = σ(W_ir x + b_ir + W_hr h + b_hr)`,
/// `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
/// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`,
/// `h' = (1 − z) ⊙ n + z ⊙ h`. PyTorch: `nn.GRUCell`.
#[derive(Clone, Debug)]
pub struct GruCell<T: Element = f32> {
    /// `[3H, in]`, rows r, z, n.
    pub weight_ih: Param<T>,
    /// `[3H, H]`.
    pub weight_hh: Param<T>,
    /// `[3H]`.
    pub bias_ih: Param<T>,
    /// `[3H]`.
    pub bias_hh: Param<T>,
}

cell_params::cell_param_access!(GruCell);

impl<T: Element> GruCell<T> {
    /// A cell initialised as PyTorch's: every tensor U(±1/√hidden).
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        let [weight_ih, weight_hh, bias_ih, bias_hh] = cell_params::init(3, inputs, hidden, rng);
        GruCell {
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

    /// `h'` from `x` `[B, in]` and `h` `[B, H]`.
    #[track_caller]
    pub fn step<'t>(&self, x: &Var<'t, T>, h: &Var<'t, T>) -> Var<'t, T> {
        let hs = self.hidden();
        let (gi, gh) = gate_inputs("GruCell::step", self.tensors(), x, h);
        let part = |g: &Var<'t, T>, i: usize| g.narrow(1, i * hs, hs);
        let r = (&part(&gi, 0) + &part(&gh, 0)).sigmoid();
        let z = (&part(&gi, 1) + &part(&gh, 1)).sigmoid();
        let n = (&part(&gi, 2) + &(&r * &part(&gh, 2))).tanh();
        // (1 − z)·n + z·h = n + z·(h − n)
        &n + &(&z * &(h - &n))
    }
}

/// A GRU over `[batch, time, in]` from a zero state, returning every
/// state of its top layer `[batch, time, D·H]`. PyTorch:
/// `nn.GRU(in, H, batch_first=True)`, with `num_layers` and
/// `bidirectional` ([`Gru::with_layers`]); parameters named as there
/// (`weight_ih_l0`, ..., `bias_hh_l1_reverse`).
#[derive(Clone, Debug)]
pub struct Gru<T: Element = f32> {
    /// The cells in PyTorch's order: layer 0 (then layer 0 reversed, when
    /// bidirectional), layer 1, ...
    pub cells: Vec<GruCell<T>>,
    /// Whether every layer also reads the sequence backwards.
    pub bidirectional: bool,
}

impl<T: Element> Gru<T> {
    /// A one-layer, one-direction GRU initialised as PyTorch's.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Self::with_layers(inputs, hidden, 1, false, rng)
    }

    /// `layers` stacked GRUs (PyTorch's `num_layers`), each reading the
    /// sequence both ways when `bidirectional`.
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
        Gru {
            cells: sequence::build(inputs, hidden, layers, bidirectional, |i, h| {
                GruCell::new(i, h, rng)
            }),
            bidirectional,
        }
    }

    /// PyTorch's `gru(x, h0)`: every state of the top layer
    /// `[batch, time, D·H]` and every cell's last, `h_n`
    /// `[layers · D, batch, H]`, starting from `h0` (shaped as `h_n`; zeros
    /// when `None`). See [`Rnn::forward_with`](crate::Rnn::forward_with).
    ///
    /// # Panics
    /// Unless `x` is `[batch, time, in]` and `h0` `[layers · D, batch, H]`
    /// (naming the shapes and the caller's line).
    #[track_caller]
    pub fn forward_with<'t>(
        &self,
        x: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
    ) -> (Var<'t, T>, Var<'t, T>) {
        sequence::run_from("Gru::forward_with", &self.cells, self.bidirectional, x, h0)
    }
}

cell_params::cell_module!(GruCell, |m, x| m.step(x, &zero_state(x, m.hidden())));
sequence::sequence_module!(Gru, "Gru");
