//! The tape: a Wengert list of the ops of one forward pass.
//!
//! How it is laid out (each choice measured on W2, a chain of 30,000
//! one-element ops, and W4, XOR training steps):
//! - a node holds its op, rule, source line, its inputs' node ids and small
//!   parameters in 128 bytes (moved without a `memcpy` call), its output
//!   shape sits in a list beside it; tensors a rule reads back (PyTorch's
//!   `save_for_backward`) live in one list on the tape, and an op keeps its
//!   inputs' values only when its rule reads them ([`Keep`]);
//! - nodes and kept tensors sit in fixed chunks that are recycled across
//!   tapes of a thread (see `arena.rs`), so recording writes into memory
//!   already mapped;
//! - backward keeps gradients in a few reused slots found through a 4-byte
//!   index per node (see `slots.rs`), and each rule owns the gradient it
//!   receives, so elementwise rules write their result into its buffer.

use crate::saved::Inputs;
pub(crate) use crate::saved::{Ctx, Fill, Keep, Saved};
use crate::var::Var;
use mnemon_tensor::{dims_of, Dims, Element, Tensor};
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::panic::Location;

/// The index of a node on its tape. Creation order is a topological order.
pub type NodeId = usize;

/// A gradient rule: given the node's context and the gradient flowing into
/// its output, the gradient for each input (`None` where there is none).
/// The rule owns the incoming gradient, so it may reuse its buffer.
/// Rules are written with the same differentiable `Var` ops as user code.
pub(crate) type Rule<T> = for<'t, 's> fn(&Ctx<'t, 's, T>, Var<'t, T>) -> InputGrads<'t, T>;

/// One gradient per input of a node: inline for up to three (`linear`
/// with its bias has three; with two inline, W4 allocated twice a step
/// for them).
pub(crate) type InputGrads<'t, T> = SmallVec<[Option<Var<'t, T>>; 3]>;

/// One recorded op.
pub(crate) struct Node<T: Element> {
    pub op: &'static str,
    pub rule: Option<Rule<T>>,
    pub saved: Saved<T>,
    pub location: &'static Location<'static>,
}

/// Hooks run on a node's gradient before it flows further.
pub(crate) type Hook<T> = Box<dyn Fn(&Tensor<T>) -> Option<Tensor<T>>>;

/// The temporary memory of one forward pass: every op on a tracked [`Var`]
/// appends a node; [`Var::backward`] replays them in reverse.
///
/// A tape is per thread (it uses `RefCell`) and every `Var` borrows it, so
/// no `Var` outlives its pass.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::scalar(3.0));
/// let y = &x * &x + &x; // y = x² + x
/// let grads = y.backward();
/// assert_eq!(grads.wrt(&x).unwrap().item(), 7.0); // dy/dx = 2x + 1
/// ```
pub struct Tape<T: Element = f32> {
    pub(crate) nodes: RefCell<crate::arena::Arena<Node<T>>>,
    /// Each node's output shape, by node id: a list of its own, so that a
    /// node stays within 128 bytes (moved onto the tape without a call
    /// to `memcpy`; measured on W2, that call was 5 % of the instructions).
    pub(crate) shapes: RefCell<crate::arena::Arena<Dims>>,
    /// The tensors nodes keep for their rules (see [`Saved`]).
    pub(crate) kept: RefCell<crate::arena::Arena<Option<Tensor<T>>>>,
    pub(crate) recording: Cell<bool>,
    pub(crate) anomaly: Cell<bool>,
    pub(crate) explain: Cell<bool>,
    pub(crate) explain_lang: Cell<crate::explain::Language>,
    pub(crate) explain_log: RefCell<Vec<String>>,
    pub(crate) hooks: RefCell<Vec<(NodeId, Hook<T>)>>,
    pub(crate) retained: RefCell<Vec<NodeId>>,
    pub(crate) grad_norms: RefCell<Vec<Option<f64>>>,
    pub(crate) keep_norms: Cell<bool>,
    /// Tagged leaves (parameters): inline for a small model's few, so a
    /// training step's tape allocates nothing for them.
    pub(crate) tagged: RefCell<SmallVec<[(u64, NodeId); 8]>>,
    /// Names for tags (a model's parameter names), for the pictures.
    pub(crate) tag_names: RefCell<Vec<(u64, String)>>,
    /// While a backward sweep runs a node's rule: that node's op and the
    /// line of its forward, so anomaly mode names what the user wrote
    /// rather than the ops the rule is built from.
    pub(crate) in_rule_of: Cell<Option<(&'static str, &'static Location<'static>)>>,
}

impl<T: Element> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> Tape<T> {
    /// An empty tape, recording.
    pub fn new() -> Self {
        Tape {
            nodes: RefCell::new(crate::arena::Arena::new()),
            shapes: RefCell::new(crate::arena::Arena::new()),
            kept: RefCell::new(crate::arena::Arena::new()),
            recording: Cell::new(true),
            anomaly: Cell::new(false),
            explain: Cell::new(false),
            explain_lang: Cell::new(crate::explain::Language::English),
            explain_log: RefCell::new(Vec::new()),
            hooks: RefCell::new(Vec::new()),
            retained: RefCell::new(Vec::new()),
            grad_norms: RefCell::new(Vec::new()),
            keep_norms: Cell::new(false),
            tagged: RefCell::new(SmallVec::new()),
            tag_names: RefCell::new(Vec::new()),
            in_rule_of: Cell::new(None),
        }
    }

    /// A Var whose gradient is wanted (a leaf: a weight, an input to
    /// differentiate with respect to). PyTorch: `requires_grad_()`.
    #[track_caller]
    pub fn leaf(&self, value: Tensor<T>) -> Var<'_, T> {
        let id = self.push(
            Node {
                op: "leaf",
                rule: None,
                saved: Saved::default(),
                location: Location::caller(),
            },
            dims_of(value.shape()),
        );
        Var::from_parts(self, Some(id), value)
    }

    /// A leaf carrying a `tag` (e.g. a parameter's id), so that
    /// [`Grads::tagged`](crate::Grads::tagged) can sum the gradients of every
    /// leaf lifted with that tag.
    #[track_caller]
    pub fn leaf_tagged(&self, value: Tensor<T>, tag: u64) -> Var<'_, T> {
        let v = self.leaf(value);
        let id = v.id.expect("a leaf has a node");
        self.tagged.borrow_mut().push((tag, id));
        v
    }

    /// Names the leaves lifted with `tag` (for a parameter, its name in
    /// the model, as `layers.0.weight`): [`Tape::to_dot`] and
    /// [`Tape::to_svg`] label them with it. `mnemon_nn`'s
    /// `tape.name_params(&model)` names every parameter of a model.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f32>::new();
    /// let w = tape.leaf_tagged(Tensor::scalar(1.0), 7);
    /// let _ = w.sigmoid();
    /// tape.name_tag(7, "fc.weight");
    /// assert!(tape.to_dot().contains("#0 fc.weight"));
    /// ```
    pub fn name_tag(&self, tag: u64, name: &str) {
        let mut names = self.tag_names.borrow_mut();
        names.retain(|(t, _)| *t != tag);
        names.push((tag, name.to_string()));
    }

    /// What a node is called in the pictures: a named leaf's name, else
    /// its op (`op + c` when a scalar add was absorbed into it).
    pub(crate) fn display_name(&self, id: NodeId, node: &Node<T>) -> String {
        let tagged = self.tagged.borrow();
        let names = self.tag_names.borrow();
        let op = || match node.saved.shifted {
            true => format!("{} + c", node.op),
            false => node.op.to_string(),
        };
        tagged
            .iter()
            .find(|(_, n)| *n == id)
            .and_then(|(tag, _)| names.iter().find(|(t, _)| t == tag))
            .map_or_else(op, |(_, name)| name.clone())
    }

    /// A Var whose gradient is not wanted (data, targets). Ops on constants
    /// alone are computed but not recorded.
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        Var::from_parts(self, None, value)
    }

    /// Runs `f` without recording: every Var it creates is a constant.
    /// PyTorch: `with torch.no_grad()`.
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let before = self.recording.replace(false);
        let r = f();
        self.recording.set(before);
        r
    }

    /// The number of nodes recorded. A scalar added to the result of the
    /// op just recorded, given up by the caller (`x * a + b`), records
    /// none: the op's node stands for the sum (see the picture's `op + c`).
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of tensor storage the tape keeps alive for gradient rules
    /// (each shared buffer counted once): the temporary memory of the pass.
    pub fn saved_bytes(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for t in self.kept.borrow().iter().flatten() {
            if seen.insert(t.storage_id()) {
                total += t.storage_bytes();
            }
        }
        total
    }

    /// Turns anomaly mode on or off: when on, the first op whose output or
    /// gradient is not finite panics with the op's name and source line.
    /// PyTorch: `torch.autograd.detect_anomaly`.
    pub fn set_anomaly_mode(&self, on: bool) {
        self.anomaly.set(on);
    }

    /// Turns explain mode on or off: when on, backward prints each step
    /// (node, rule, shapes, and values when scalar) and keeps the lines,
    /// see [`Tape::explain_log`]. Turn it on before the forward pass: ops
    /// recorded while it is on keep their input values so that the steps
    /// can print them (others print "not kept" where a rule did not need
    /// the value).
    pub fn set_explain(&self, on: bool) {
        self.explain.set(on);
    }

    /// The language explain mode writes its steps in (English unless set;
    /// `Language::Chinese` uses the textbook's words: 梯度, 局部导数 …).
    ///
    /// ```
    /// use mnemon_autograd::{Language, Tape};
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// tape.set_explain(true);
    /// tape.set_explain_language(Language::Chinese);
    /// let x = tape.leaf(Tensor::scalar(0.0));
    /// x.sigmoid().backward();
    /// let log = tape.explain_log();
    /// assert!(log[0].contains("传入梯度 1.000000"), "{log:?}");
    /// assert!(log[0].contains("dx = g·s(1−s)"), "{log:?}");
    /// ```
    pub fn set_explain_language(&self, language: crate::explain::Language) {
        self.explain_lang.set(language);
    }

    /// When on, backward records the L2 norm of every node's gradient, which
    /// [`Tape::to_dot`] then shows (explain mode records them too).
    pub fn set_keep_grad_norms(&self, on: bool) {
        self.keep_norms.set(on);
    }

    /// The lines explain mode printed so far.
    pub fn explain_log(&self) -> Vec<String> {
        self.explain_log.borrow().clone()
    }

    /// The value node `saved` kept of its input `i`, if it kept one.
    /// (`None` as well once [`Var::backward_and_free`] released it.)
    pub(crate) fn kept_input(&self, saved: &Saved<T>, i: usize) -> Option<Tensor<T>> {
        let k = saved.input_slot(i)?;
        self.kept.borrow()[saved.kept as usize + k].clone()
    }

    /// Kept tensor number `at` of the tape's list.
    ///
    /// # Panics
    /// When [`Var::backward_and_free`] released it: a second backward
    /// pass through a freed tape would have nothing to differentiate with.
    #[track_caller]
    pub(crate) fn kept_value(&self, at: usize) -> Tensor<T> {
        match &self.kept.borrow()[at] {
            Some(t) => t.clone(),
            None => released(),
        }
    }

    /// Panics for a tracked input `v` that belongs to another tape: its
    /// node id means nothing here, and recording it would send gradients
    /// to an unrelated node of this tape.
    #[cold]
    fn foreign_input(&self, op: &str, v: &Var<'_, T>, at: &Location<'_>) -> ! {
        let id = v.id.expect("tracked");
        let nodes = v.tape.nodes.borrow();
        let (their_op, their_at) = (nodes[id].op, nodes[id].location);
        panic!(
            "{op}: an input belongs to another tape (it was made by `{their_op}` at {their_at}); Vars of different tapes cannot be mixed in one op, called at {at}"
        )
    }

    pub(crate) fn push(&self, node: Node<T>, shape: Dims) -> NodeId {
        self.shapes.borrow_mut().push(shape);
        self.nodes.borrow_mut().push(node)
    }

    /// Records an op whose value is already computed, if any input is
    /// tracked and the tape is recording; returns the result Var. `keep`
    /// says whether the rule reads the input values (explain mode keeps
    /// them always, to print them).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record<'t>(
        &'t self,
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<'t, T>],
        rule: Rule<T>,
        keep: Keep,
        location: &'static Location<'static>,
        fill: impl FnOnce(&mut Fill<T>, &Tensor<T>),
    ) -> Var<'t, T> {
        for v in inputs {
            if v.id.is_some() && !std::ptr::eq(v.tape, self) {
                self.foreign_input(op, v, location);
            }
        }
        self.check_finite(op, &value, location);
        if !self.recording.get() || inputs.iter().all(|v| v.id.is_none()) {
            return Var::from_parts(self, None, value);
        }
        let values = keep == Keep::Values || self.explain.get();
        let mut f = Fill::default();
        fill(&mut f, &value);
        // one or two inputs (nearly every op) fill the inline list
        // directly: collecting through `extend` cost ~40 instructions an op
        let ids = match inputs {
            [a] => Inputs::one(a.id),
            [a, b] => Inputs::two(a.id, b.id),
            _ => Inputs::new(inputs.iter().map(|v| v.id)),
        };
        let kept_inputs = inputs
            .iter()
            .filter(|v| values || v.id.is_none())
            .map(|v| v.value.clone());
        let Fill { output, params } = f;
        self.push_op(
            op,
            value,
            ids,
            kept_inputs,
            values,
            (output, params),
            rule,
            location,
        )
    }

    /// As [`Tape::record`] for a one-input op whose rule reads only shapes
    /// (and what `fill` keeps), when the caller gave up its input Var and
    /// wrote the output into that Var's buffer: the input is named by its
    /// node id alone (`None`: not tracked). Explain mode, which keeps input
    /// values to print them, must take [`Tape::record`] instead.
    pub(crate) fn record_in_place<'t>(
        &'t self,
        op: &'static str,
        value: Tensor<T>,
        input: Option<NodeId>,
        rule: Rule<T>,
        location: &'static Location<'static>,
        fill: impl FnOnce(&mut Fill<T>, &Tensor<T>),
    ) -> Var<'t, T> {
        debug_assert!(!self.explain.get(), "explain mode keeps input values");
        self.check_finite(op, &value, location);
        if !self.recording.get() || input.is_none() {
            return Var::from_parts(self, None, value);
        }
        let mut f = Fill::default();
        fill(&mut f, &value);
        let ids = Inputs::one(input);
        let Fill { output, params } = f;
        self.push_op(
            op,
            value,
            ids,
            std::iter::empty(),
            false,
            (output, params),
            rule,
            location,
        )
    }

    /// Whether `self + c`, just computed in place into the buffer of the
    /// Var of node `id` that the caller gave up, can be absorbed into that
    /// node instead of recording a node of its own: then it is, and the
    /// node stands for the sum from now on.
    ///
    /// Adding a constant passes the gradient through unchanged, so the
    /// node's rule, given the gradient of the sum, yields the same input
    /// gradients as the two nodes would (its rule does not read its output:
    /// the buffer was unshared, so the tape keeps no copy of it). Only the
    /// tape's last node qualifies (no later node reads it as an input, so
    /// the sum and the old output cannot both be differentiated), and only
    /// an op's node (a leaf's value is its own). Explain mode, which prints
    /// each step, records the add as a node of its own.
    ///
    /// W2 (`sigmoid(y · 1.01 + 0.1)`) records two nodes an iteration, not
    /// three.
    pub(crate) fn absorb_shift(
        &self,
        id: NodeId,
        value: &Tensor<T>,
        location: &'static Location<'static>,
    ) -> bool {
        if !self.recording.get() || self.explain.get() {
            return false;
        }
        let mut nodes = self.nodes.borrow_mut();
        let last = nodes.len().checked_sub(1);
        if last != Some(id) || nodes[id].rule.is_none() {
            return false;
        }
        nodes[id].saved.shifted = true;
        drop(nodes);
        self.check_finite("add_scalar", value, location);
        true
    }

    /// Anomaly mode's check of an op's output.
    #[inline(always)]
    fn check_finite(&self, op: &str, value: &Tensor<T>, location: &Location<'_>) {
        if self.anomaly.get() {
            self.panic_if_not_finite(op, value, location);
        }
    }

    #[cold]
    #[inline(never)]
    fn panic_if_not_finite(&self, op: &str, value: &Tensor<T>, location: &Location<'_>) {
        if !value.to_vec().iter().all(|v| v.is_finite()) {
            match self.in_rule_of.get() {
                Some((fwd, at)) => panic!(
                    "anomaly: the backward of `{fwd}` (forward at {at}) produced a non-finite value (in its `{op}` step)"
                ),
                None => panic!("anomaly: op `{op}` at {location} produced a non-finite value"),
            }
        }
    }

    /// Appends a recorded op's node: its kept tensors (`kept_inputs`, then
    /// the op's own `output` or mask, if any) go to the tape's list first,
    /// its `params` into the node. Inlined into its two callers (W2: −1.4 %
    /// instructions), and given the parts of the op's `Fill`, not the
    /// 144-byte whole (a `memcpy` call per op).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn push_op<'t>(
        &'t self,
        op: &'static str,
        value: Tensor<T>,
        ids: Inputs,
        kept_inputs: impl Iterator<Item = Tensor<T>>,
        values: bool,
        (output, params): (Option<Tensor<T>>, crate::saved::Params<T>),
        rule: Rule<T>,
        location: &'static Location<'static>,
    ) -> Var<'t, T> {
        let has_output = output.is_some();
        let kept = {
            let mut list = self.kept.borrow_mut();
            let first = list.len();
            for t in kept_inputs {
                list.push(Some(t));
            }
            if let Some(out) = output {
                list.push(Some(out));
            }
            first
        };
        let saved = Saved {
            inputs: ids,
            kept: u32::try_from(kept).expect("fewer than 2^32 kept tensors"),
            values,
            has_output,
            shifted: false,
            params,
        };
        let id = self.push(
            Node {
                op,
                rule: Some(rule),
                saved,
                location,
            },
            dims_of(value.shape()),
        );
        Var::from_parts(self, Some(id), value)
    }
}

/// The panic of a rule that reads a value [`Var::backward_and_free`]
/// released.
#[cold]
#[track_caller]
pub(crate) fn released() -> ! {
    panic!(
        "backward: the values this tape kept for its gradient rules were freed by `backward_and_free`; record the forward pass again (or call `backward`, which keeps them) to differentiate it again"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_node_fits_in_128_bytes() {
        // above 128 bytes, each record moves its node with a memcpy call
        // (W2: 5 % of the instructions, 4–7 % of the time)
        assert!(std::mem::size_of::<super::Node<f64>>() <= 128);
        assert!(std::mem::size_of::<super::Node<f32>>() <= 128);
    }
}
