//! The gated recurrent unit, PyTorch's gate order (reset, update, new) and
//! parameter layout: `weight_ih` `[3H, in]`, `weight_hh` `[3H, H]`,
//! `bias_ih`, `bias_hh` `[3H]`.

use crate::cell_params::{self, gate_inputs, initial_state, stack_states, steps, zero_state};
use crate::module::Module;
use crate::param::Param;
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

/// A one-layer GRU over `[batch, time, in]` from a zero state, returning
/// every step's hidden state `[batch, time, H]`; parameters named as
/// PyTorch's `nn.GRU(in, H, batch_first=True)` (`weight_ih_l0`, ...).
#[derive(Clone, Debug)]
pub struct Gru<T: Element = f32> {
    /// The cell applied at each step.
    pub cell: GruCell<T>,
}

impl<T: Element> Gru<T> {
    /// A GRU initialised as PyTorch's.
    pub fn new<R: Rng + ?Sized>(inputs: usize, hidden: usize, rng: &mut R) -> Self {
        Gru {
            cell: GruCell::new(inputs, hidden, rng),
        }
    }

    /// PyTorch's `gru(x, h0)`: every hidden state `[batch, time, H]` and
    /// the last, `h_n` `[batch, H]`, starting from `h0` (`[batch, H]`,
    /// zeros when `None`). See [`Rnn::forward_with`](crate::Rnn::forward_with).
    ///
    /// # Panics
    /// Unless `x` is `[batch, time, in]` and `h0` `[batch, H]` (naming the
    /// shapes and the caller's line).
    #[track_caller]
    pub fn forward_with<'t>(
        &self,
        x: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
    ) -> (Var<'t, T>, Var<'t, T>) {
        self.run("Gru::forward_with", x, h0)
    }

    #[track_caller]
    fn run<'t>(
        &self,
        op: &str,
        x: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
    ) -> (Var<'t, T>, Var<'t, T>) {
        let hidden = self.cell.hidden();
        let mut h = initial_state(op, x, h0, hidden);
        let mut states = Vec::new();
        for xt in steps(op, x, self.cell.weight_ih.shape()[1]) {
            h = self.cell.step(&xt, &h);
            states.push(h.clone());
        }
        (stack_states(x, &states, hidden), h)
    }
}

impl<T: Element> Module<T> for GruCell<T> {
    /// One step from a zero state.
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        self.step(x, &zero_state(x, self.hidden()))
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        cell_params::visit(self.tensors(), prefix, "", f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        cell_params::visit_mut(self.tensors_mut(), prefix, "", f);
    }
}

impl<T: Element> Module<T> for Gru<T> {
    /// All hidden states `[B, T, H]`.
    ///
    /// # Panics
    /// When `x` is not `[batch, time, in]`.
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        self.run("Gru", x, None).0
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        cell_params::visit(self.cell.tensors(), prefix, "_l0", f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        cell_params::visit_mut(self.cell.tensors_mut(), prefix, "_l0", f);
    }
}
