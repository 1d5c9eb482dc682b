//! Running recurrent cells over a sequence, PyTorch's way: `L` layers
//! stacked (each layer's states are the next one's inputs), each layer in
//! one direction or two (the second reads the sequence backwards, and its
//! states are joined to the first's along the feature axis), from given
//! initial states or zeros. Cell `l·D + d` is layer `l`, direction `d`,
//! in the order of PyTorch's names (`_l0`, `_l0_reverse`, `_l1`, ...).

use crate::cell_params::{stack_states, steps, zero_state};
use crate::gru::GruCell;
use crate::param::Param;
use crate::recurrent::{LstmCell, RnnCell};
use mnemon_autograd::Var;
use mnemon_tensor::Element;
use std::panic::Location;

/// A cell as the runner sees it: its sizes, its tensors, and one step
/// from its states (the hidden state first; the LSTM's cell state second).
pub(crate) trait Recurrence<T: Element> {
    /// How many states a step carries: 1 (h), or 2 for the LSTM (h, c).
    const STATES: usize;
    /// `(inputs, hidden)`.
    fn sizes(&self) -> (usize, usize);
    /// The states after one step from `s`, for `x` `[batch, inputs]`.
    fn advance<'t>(&self, x: &Var<'t, T>, s: &[Var<'t, T>]) -> Vec<Var<'t, T>>;
}

/// [`Recurrence`] for a cell of one state, whose `step(x, h)` gives `h'`.
macro_rules! one_state {
    ($cell:ident) => {
        impl<T: Element> Recurrence<T> for $cell<T> {
            const STATES: usize = 1;
            fn sizes(&self) -> (usize, usize) {
                (self.weight_ih.shape()[1], self.hidden())
            }
            #[track_caller]
            fn advance<'t>(&self, x: &Var<'t, T>, s: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
                vec![self.step(x, &s[0])]
            }
        }
    };
}

one_state!(RnnCell);
one_state!(GruCell);

impl<T: Element> Recurrence<T> for LstmCell<T> {
    const STATES: usize = 2;
    fn sizes(&self) -> (usize, usize) {
        (self.weight_ih.shape()[1], self.hidden())
    }
    #[track_caller]
    fn advance<'t>(&self, x: &Var<'t, T>, s: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let (h, c) = self.step(x, &s[0], &s[1]);
        vec![h, c]
    }
}

/// The cells of `layers` layers in `directions` directions (1 or 2), made
/// by `make(inputs, hidden)`: layer 0 reads `inputs` features, every later
/// layer the `directions · hidden` of the one below.
pub(crate) fn build<C>(
    inputs: usize,
    hidden: usize,
    layers: usize,
    bidirectional: bool,
    mut make: impl FnMut(usize, usize) -> C,
) -> Vec<C> {
    assert!(layers >= 1, "a recurrent layer needs at least one layer");
    let dirs = 1 + usize::from(bidirectional);
    (0..layers * dirs)
        .map(|k| make(if k < dirs { inputs } else { dirs * hidden }, hidden))
        .collect()
}

/// PyTorch's name suffix of cell `k`: `_l{layer}`, and `_reverse` for the
/// second direction.
pub(crate) fn suffix(k: usize, bidirectional: bool) -> String {
    match bidirectional {
        true => format!("_l{}{}", k / 2, ["", "_reverse"][k % 2]),
        false => format!("_l{k}"),
    }
}

/// Runs `cells` (`directions` of them a layer) over `x` `[batch, time,
/// inputs]` from `init` (one `[L·D, batch, H]` tensor per kind of state,
/// or none: zeros): every state of the top layer `[batch, time, D·H]`
/// (both directions joined along the feature axis) and each kind of final
/// state stacked over the cells, `[L·D, batch, H]` (PyTorch's `h_n`, and
/// `c_n` for the LSTM).
///
/// # Panics
/// When `x` or an initial state does not fit, naming `op`, the shapes and
/// the caller's line.
#[track_caller]
pub(crate) fn run<'t, T: Element, C: Recurrence<T>>(
    op: &str,
    cells: &[C],
    bidirectional: bool,
    x: &Var<'t, T>,
    init: Option<&[&Var<'t, T>]>,
) -> (Var<'t, T>, Vec<Var<'t, T>>) {
    let (inputs, hidden) = cells[0].sizes();
    let mut layer_in = steps(op, x, inputs);
    let batch = x.shape()[0];
    let want = [cells.len(), batch, hidden];
    if let Some(bad) = init.and_then(|s| s.iter().find(|s| s.shape() != want)) {
        panic!(
            "{op}: initial state {:?} is not [layers · directions, batch, hidden] = {want:?} for input {:?}, called at {}",
            bad.shape(),
            x.shape(),
            Location::caller()
        );
    }
    let dirs = 1 + usize::from(bidirectional);
    let time = layer_in.len();
    let mut finals: Vec<Vec<Var<'t, T>>> = vec![Vec::new(); C::STATES];
    for (layer, group) in cells.chunks(dirs).enumerate() {
        let mut per_dir: Vec<Vec<Var<'t, T>>> = Vec::with_capacity(dirs);
        for (d, cell) in group.iter().enumerate() {
            let k = layer * dirs + d;
            let mut s: Vec<Var<'t, T>> = match init {
                Some(init) => init.iter().map(|t| t.narrow(0, k, 1).squeeze(0)).collect(),
                None => (0..C::STATES).map(|_| zero_state(x, hidden)).collect(),
            };
            let mut hs = vec![None; time];
            let order: Box<dyn Iterator<Item = usize>> = match d {
                0 => Box::new(0..time),
                _ => Box::new((0..time).rev()),
            };
            for t in order {
                s = cell.advance(&layer_in[t], &s);
                hs[t] = Some(s[0].clone());
            }
            per_dir.push(hs.into_iter().flatten().collect());
            for (f, state) in finals.iter_mut().zip(s) {
                f.push(state);
            }
        }
        layer_in = (0..time)
            .map(|t| match dirs {
                1 => per_dir[0][t].clone(),
                _ => Var::concat(&[per_dir[0][t].clone(), per_dir[1][t].clone()], 1),
            })
            .collect();
    }
    (
        stack_states(x, &layer_in, dirs * hidden),
        finals.iter().map(|f| Var::stack(f, 0)).collect(),
    )
}

/// [`run`] for a layer of one state (RNN, GRU) from `h0`: every state of
/// the top layer and `h_n`.
#[track_caller]
pub(crate) fn run_from<'t, T: Element, C: Recurrence<T>>(
    op: &str,
    cells: &[C],
    bidirectional: bool,
    x: &Var<'t, T>,
    h0: Option<&Var<'t, T>>,
) -> (Var<'t, T>, Var<'t, T>) {
    let init = h0.as_ref().map(std::slice::from_ref);
    let (out, finals) = run(op, cells, bidirectional, x, init);
    let h_n = finals.into_iter().next().expect("one state a step: h");
    (out, h_n)
}

/// The steps of `out` `[batch, time, width]`, each `[batch, width]` (no
/// shape check: `cell_params::steps` checks a layer's input first).
pub(crate) fn per_step<'t, T: Element>(out: &Var<'t, T>) -> Vec<Var<'t, T>> {
    (0..out.shape()[1])
        .map(|t| out.narrow(1, t, 1).squeeze(1))
        .collect()
}

/// Calls `f` with each cell's tensors under PyTorch's names.
pub(crate) fn visit_cells<T: Element, C>(
    cells: &[C],
    bidirectional: bool,
    tensors: impl Fn(&C) -> [&Param<T>; 4],
    prefix: &str,
    f: &mut dyn FnMut(&str, &Param<T>),
) {
    for (k, c) in cells.iter().enumerate() {
        crate::cell_params::visit(tensors(c), prefix, &suffix(k, bidirectional), f);
    }
}

/// [`visit_cells`] with mutable access.
pub(crate) fn visit_cells_mut<T: Element, C>(
    cells: &mut [C],
    bidirectional: bool,
    tensors: impl Fn(&mut C) -> [&mut Param<T>; 4],
    prefix: &str,
    f: &mut dyn FnMut(&str, &mut Param<T>),
) {
    for (k, c) in cells.iter_mut().enumerate() {
        crate::cell_params::visit_mut(tensors(c), prefix, &suffix(k, bidirectional), f);
    }
}

/// `Module` for a layer over a sequence (`cells`, `bidirectional`):
/// `forward` gives every state of the top layer from zeros, the tensors
/// are named as PyTorch's (`weight_ih_l0`, ..., `bias_hh_l1_reverse`).
macro_rules! sequence_module {
    ($layer:ident, $name:literal) => {
        impl<T: Element> Module<T> for $layer<T> {
            #[track_caller]
            fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
                crate::sequence::run($name, &self.cells, self.bidirectional, x, None).0
            }
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
                let bi = self.bidirectional;
                crate::sequence::visit_cells(&self.cells, bi, |c| c.tensors(), prefix, f);
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
                let bi = self.bidirectional;
                crate::sequence::visit_cells_mut(
                    &mut self.cells,
                    bi,
                    |c| c.tensors_mut(),
                    prefix,
                    f,
                );
            }
        }
    };
}
pub(crate) use sequence_module;
