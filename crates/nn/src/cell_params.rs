//! The four tensors every recurrent cell holds, in PyTorch's layout and
//! under its names, so that a PyTorch `state_dict` loads by name: for a
//! cell of `G` gates and `H` units, `weight_ih` `[G·H, in]`, `weight_hh`
//! `[G·H, H]`, `bias_ih` and `bias_hh` `[G·H]` (RNN: G = 1, LSTM: 4, GRU:
//! 3). Two biases where one would do the arithmetic: PyTorch keeps both,
//! and the GRU needs `b_hh` apart (inside `r ⊙ (W_hn·h + b_hn)`).

use crate::module::join;
use crate::param::{Param, TapeParamExt};
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use rand::Rng;
use std::panic::Location;

/// `tensors()` and `tensors_mut()` for a cell whose fields are the four
/// tensors: `[weight_ih, weight_hh, bias_ih, bias_hh]`.
macro_rules! cell_param_access {
    ($cell:ident) => {
        impl<T: Element> $cell<T> {
            pub(crate) fn tensors(&self) -> [&Param<T>; 4] {
                [
                    &self.weight_ih,
                    &self.weight_hh,
                    &self.bias_ih,
                    &self.bias_hh,
                ]
            }

            pub(crate) fn tensors_mut(&mut self) -> [&mut Param<T>; 4] {
                [
                    &mut self.weight_ih,
                    &mut self.weight_hh,
                    &mut self.bias_ih,
                    &mut self.bias_hh,
                ]
            }
        }
    };
}
pub(crate) use cell_param_access;

/// `Module` for a cell: `forward` is one step from a zero state (PyTorch's
/// default `hx`), given by `|m, x| step`; its tensors are named as
/// `nn.RNNCell`'s (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
macro_rules! cell_module {
    ($cell:ident, |$m:ident, $x:ident| $step:expr) => {
        impl<T: Element> Module<T> for $cell<T> {
            #[track_caller]
            fn forward<'t>(&self, $x: &Var<'t, T>) -> Var<'t, T> {
                let $m = self;
                $step
            }
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
                crate::cell_params::visit(self.tensors(), prefix, "", f);
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
                crate::cell_params::visit_mut(self.tensors_mut(), prefix, "", f);
            }
        }
    };
}
pub(crate) use cell_module;

/// The names, in the order of [`init`]'s tensors.
const NAMES: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/// PyTorch's initialisation of a cell of `gates` gates: every tensor
/// U(−1/√H, 1/√H), drawn in the order `weight_ih`, `weight_hh`,
/// `bias_ih`, `bias_hh`.
pub(crate) fn init<T: Element, R: Rng + ?Sized>(
    gates: usize,
    inputs: usize,
    hidden: usize,
    rng: &mut R,
) -> [Param<T>; 4] {
    let a = T::of_f64(1.0 / (hidden.max(1) as f64).sqrt());
    let rows = gates * hidden;
    let mut u = |shape: &[usize]| Param::new(Tensor::rand_uniform(shape, -a, a, rng));
    [
        u(&[rows, inputs]),
        u(&[rows, hidden]),
        u(&[rows]),
        u(&[rows]),
    ]
}

/// Calls `f` with each tensor's name (`prefix.weight_ih{suffix}`, ...):
/// `suffix` is `_l0` for a layer over a sequence, as PyTorch names it.
pub(crate) fn visit<T: Element>(
    params: [&Param<T>; 4],
    prefix: &str,
    suffix: &str,
    f: &mut dyn FnMut(&str, &Param<T>),
) {
    for (name, p) in NAMES.iter().zip(params) {
        f(&join(prefix, &format!("{name}{suffix}")), p);
    }
}

/// [`visit`] with mutable access.
pub(crate) fn visit_mut<T: Element>(
    params: [&mut Param<T>; 4],
    prefix: &str,
    suffix: &str,
    f: &mut dyn FnMut(&str, &mut Param<T>),
) {
    for (name, p) in NAMES.iter().zip(params) {
        f(&join(prefix, &format!("{name}{suffix}")), p);
    }
}

/// The input's and the state's parts of every gate's pre-activation:
/// `(x·W_ihᵀ + b_ih, h·W_hhᵀ + b_hh)`, each `[batch, G·H]`.
///
/// # Panics
/// Unless `x` is `[batch, in]` and `h` `[batch, H]`, naming `op` (the
/// cell's step the user called), both shapes and the caller's line.
#[track_caller]
pub(crate) fn gate_inputs<'t, T: Element>(
    op: &str,
    [w_ih, w_hh, b_ih, b_hh]: [&Param<T>; 4],
    x: &Var<'t, T>,
    h: &Var<'t, T>,
) -> (Var<'t, T>, Var<'t, T>) {
    let (xs, hs) = (x.shape(), h.shape());
    let (inputs, hidden) = (w_ih.shape()[1], w_hh.shape()[1]);
    if xs.len() != 2 || xs[1] != inputs || hs != [xs[0], hidden] {
        panic!(
            "{op}: input {xs:?} and state {hs:?} do not fit a cell of {inputs} inputs and {hidden} units ([batch, {inputs}], [batch, {hidden}]), called at {}",
            Location::caller()
        );
    }
    let tape = x.tape();
    (
        x.linear(&tape.param(w_ih), Some(&tape.param(b_ih))),
        h.linear(&tape.param(w_hh), Some(&tape.param(b_hh))),
    )
}

/// The time steps of `x`, each `[batch, inputs]`.
///
/// # Panics
/// Unless `x` is `[batch, time, inputs]`, naming `op` (the layer the user
/// called), the shape and the caller's line.
#[track_caller]
pub(crate) fn steps<'t, T: Element>(op: &str, x: &Var<'t, T>, inputs: usize) -> Vec<Var<'t, T>> {
    let s = x.shape();
    if s.len() != 3 || s[2] != inputs {
        panic!(
            "{op}: input {s:?} is not [batch, time, {inputs}], called at {}",
            Location::caller()
        );
    }
    crate::sequence::per_step(x)
}

/// Every step's state stacked along time, `[batch, time, hidden]`. A
/// sequence of no steps gives `[batch, 0, hidden]`: the empty input
/// reshaped, so that it stays in the graph (its gradient is empty too).
/// PyTorch rejects a sequence of length 0; JAX's `scan` returns the empty
/// stack, as here.
#[track_caller]
pub(crate) fn stack_states<'t, T: Element>(
    x: &Var<'t, T>,
    states: &[Var<'t, T>],
    hidden: usize,
) -> Var<'t, T> {
    match states {
        [] => x
            .reshape(&[x.shape()[0], 0, hidden])
            .expect("an input of no steps holds no elements"),
        _ => Var::stack(states, 1),
    }
}

/// A zero state `[batch, hidden]` for `x` `[batch, ..]` (batch 1 for a
/// rank-0 input, which the cell's product then rejects by name).
pub(crate) fn zero_state<'t, T: Element>(x: &Var<'t, T>, hidden: usize) -> Var<'t, T> {
    let batch = x.shape().first().copied().unwrap_or(1);
    x.tape().constant(Tensor::zeros(&[batch, hidden]))
}
