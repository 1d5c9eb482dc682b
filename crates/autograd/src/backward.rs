//! The reverse sweep: one loop over the tape from the output back to the
//! first node, applying each node's gradient rule (no graph search, no
//! recursion), and the [`Grads`] it returns.

use crate::slots::Slots;
use crate::tape::{NodeId, Saved, Tape};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use std::borrow::Cow;

/// The gradients of one backward pass, looked up by Var.
pub struct Grads<'t, T: Element = f32> {
    tape: &'t Tape<T>,
    grads: Slots<Tensor<T>>,
    /// Per tag, a gradient set by [`Grads::set_tagged`] in place of the
    /// sweep's.
    replaced: Vec<(u64, Tensor<T>)>,
}

impl<'t, T: Element> Grads<'t, T> {
    /// The gradient of the loss with respect to `v` (same shape as `v`), or
    /// `None` when the loss does not depend on it (or it is a constant, or
    /// an intermediate whose gradient was not retained).
    ///
    /// # Panics
    /// When `v` belongs to another tape.
    #[track_caller]
    pub fn wrt(&self, v: &Var<'t, T>) -> Option<&Tensor<T>> {
        assert!(
            std::ptr::eq(self.tape, v.tape),
            "Grads::wrt: this Var belongs to another tape than the loss, called at {}",
            std::panic::Location::caller()
        );
        self.node(v.id?)
    }

    /// The sum of the gradients of every leaf lifted with `tag` (see
    /// [`Tape::leaf_tagged`]), or `None` when none of them got one.
    pub fn tagged(&self, tag: u64) -> Option<Tensor<T>> {
        self.tagged_ref(tag).map(Cow::into_owned)
    }

    /// [`Grads::tagged`], borrowed where it can be: the stored gradient
    /// itself when one leaf (or [`Grads::set_tagged`]) holds the tag, a
    /// sum of its own when several leaves do. What optimizers read: no
    /// copy of a handle per parameter.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// use std::borrow::Cow;
    /// let tape = Tape::<f64>::new();
    /// let (a, b) = (tape.leaf_tagged(Tensor::scalar(3.0), 1), tape.leaf_tagged(Tensor::scalar(2.0), 2));
    /// let b2 = tape.leaf_tagged(Tensor::scalar(2.0), 2); // tag 2 lifted twice
    /// let grads = (&(&a * &b) + &(&b2 * 5.0)).backward();
    /// assert!(matches!(grads.tagged_ref(1), Some(Cow::Borrowed(g)) if g.item() == 2.0));
    /// assert_eq!(grads.tagged_ref(2).unwrap().item(), 3.0 + 5.0); // summed
    /// assert!(grads.tagged_ref(9).is_none());
    /// ```
    pub fn tagged_ref(&self, tag: u64) -> Option<Cow<'_, Tensor<T>>> {
        if let Some((_, g)) = self.replaced.iter().find(|(t, _)| *t == tag) {
            return Some(Cow::Borrowed(g));
        }
        // a plain loop: the iterator chain cost an optimizer ~100
        // instructions a parameter (W4: four a step)
        let mut sum: Option<Cow<'_, Tensor<T>>> = None;
        for &(t, id) in self.tape.tagged.borrow().iter() {
            if t != tag {
                continue;
            }
            if let Some(g) = self.node(id) {
                sum = Some(match sum {
                    None => Cow::Borrowed(g),
                    Some(acc) => Cow::Owned(acc.into_owned() + g),
                });
            }
        }
        sum
    }

    /// Replaces what [`Grads::tagged`] returns for `tag` by `g` (of the
    /// same shape): the gradient averaged over processes in data-parallel
    /// training, or any gradient transformed by hand before an optimizer
    /// reads it. Lookups by Var ([`Grads::wrt`]) are unchanged.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.leaf_tagged(Tensor::scalar(3.0), 7);
    /// let mut grads = (&w * &w).backward();
    /// assert_eq!(grads.tagged(7).unwrap().item(), 6.0);
    /// grads.set_tagged(7, Tensor::scalar(1.5));
    /// assert_eq!(grads.tagged(7).unwrap().item(), 1.5);
    /// ```
    ///
    /// # Panics
    /// When the tag has a gradient of another shape.
    #[track_caller]
    pub fn set_tagged(&mut self, tag: u64, g: Tensor<T>) {
        if let Some(old) = self.tagged(tag) {
            assert!(
                old.shape() == g.shape(),
                "Grads::set_tagged: tag {tag} has a gradient of shape {:?}, not {:?}, called at {}",
                old.shape(),
                g.shape(),
                std::panic::Location::caller()
            );
        }
        self.replaced.retain(|(t, _)| *t != tag);
        self.replaced.push((tag, g));
    }

    /// The gradient stored for node `id`.
    pub fn node(&self, id: NodeId) -> Option<&Tensor<T>> {
        self.grads.get(id)
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// Derives the gradient of this one-element Var (a loss) with respect to
    /// every leaf it depends on: one reverse sweep over the tape. Records
    /// nothing, and keeps what the tape saved, so the pass can be
    /// differentiated again. PyTorch: `loss.backward(retain_graph=True)`;
    /// for a training step, [`Var::backward_and_free`] is PyTorch's
    /// default and needs less memory.
    ///
    /// # Panics
    /// When the Var holds more than one element (use
    /// [`Var::backward_with`] with a seed), or it is a constant.
    #[track_caller]
    pub fn backward(&self) -> Grads<'t, T> {
        self.one_element("backward");
        self.backward_with(&Tensor::ones(self.shape()))
    }

    /// [`Var::backward`] that frees each tensor the tape kept for a gradient
    /// rule as soon as that rule has run (PyTorch's default
    /// `loss.backward()`, `retain_graph=False`): activations go back to the
    /// pool during the sweep rather than when the tape drops, and the
    /// parameters are no longer shared with the tape, so an optimizer
    /// step after it updates them in place instead of writing new
    /// buffers (W3 at 2 threads: peak memory 10.5 → 9.0 MB). The tape
    /// cannot be differentiated again: a later backward pass through it
    /// panics, naming this function.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    /// let loss = (&x * &x).sum_all();
    /// let grads = loss.backward_and_free();
    /// assert_eq!(grads.wrt(&x).unwrap().to_vec(), vec![2.0, 4.0]);
    /// assert_eq!(tape.saved_bytes(), 0, "x's value was freed from the tape");
    /// ```
    ///
    /// # Panics
    /// As [`Var::backward`].
    #[track_caller]
    pub fn backward_and_free(&self) -> Grads<'t, T> {
        self.one_element("backward_and_free");
        self.gradients("backward_and_free", &Tensor::ones(self.shape()), Mode::Free)
    }

    /// Panics, naming `op` and the caller's line, unless this Var holds
    /// one element (a loss).
    #[track_caller]
    fn one_element(&self, op: &str) {
        assert!(
            self.value.numel() == 1,
            "{op}: the output has shape {:?}; {op} needs one element (use backward_with for a seed), called at {}",
            self.shape(),
            std::panic::Location::caller()
        );
    }

    /// The plain (unrecorded) gradients for `seed`, keeping or freeing the
    /// tape's saved tensors as `mode` says.
    #[track_caller]
    fn gradients(&self, op: &str, seed: &Tensor<T>, mode: Mode) -> Grads<'t, T> {
        let root = self.root(op, seed.shape());
        let tape = self.tape;
        let keep = Keep::new(true, tape.retained.borrow().iter().copied());
        let slots = sweep(tape, root, self.lift(seed.clone()), mode, &keep);
        Grads {
            tape,
            grads: slots.map(|v| v.value),
            replaced: Vec::new(),
        }
    }

    /// Backward with an explicit seed gradient of this Var's shape: computes
    /// the vector-Jacobian product `seedᵀ · J` for every leaf.
    ///
    /// # Panics
    /// When the seed's shape differs from this Var's or it is a constant.
    #[track_caller]
    pub fn backward_with(&self, seed: &Tensor<T>) -> Grads<'t, T> {
        self.gradients("backward", seed, Mode::Keep)
    }

    /// The gradients of this one-element Var with respect to `wrt`, as Vars
    /// recorded on the same tape so they can be differentiated again.
    /// An input the output does not depend on gets zeros.
    /// PyTorch: `torch.autograd.grad(..., create_graph=True)`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::scalar(2.0));
    /// let y = x.powi(3);                       // y = x³
    /// let dy = &y.grad_graph(&[&x])[0];        // 3x² = 12
    /// let d2y = &dy.grad_graph(&[&x])[0];      // 6x = 12
    /// assert_eq!((dy.item(), d2y.item()), (12.0, 12.0));
    /// ```
    ///
    /// # Panics
    /// When the Var holds more than one element or is a constant.
    #[track_caller]
    pub fn grad_graph(&self, wrt: &[&Var<'t, T>]) -> Vec<Var<'t, T>> {
        assert!(
            self.value.numel() == 1,
            "grad_graph: the output has shape {:?}; it needs one element (use grad_graph_with), called at {}",
            self.shape(),
            std::panic::Location::caller()
        );
        self.grad_graph_with(&self.lift(Tensor::ones(self.shape())), wrt)
    }

    /// As [`Var::grad_graph`] with a seed Var (which may itself be tracked:
    /// the result is then differentiable with respect to the seed too).
    ///
    /// # Panics
    /// When the seed's shape differs from this Var's or it is a constant.
    #[track_caller]
    pub fn grad_graph_with(&self, seed: &Var<'t, T>, wrt: &[&Var<'t, T>]) -> Vec<Var<'t, T>> {
        let root = self.root("grad_graph", seed.shape());
        let keep = Keep::new(false, wrt.iter().filter_map(|w| w.id));
        let slots = sweep(self.tape, root, seed.clone(), Mode::Graph, &keep);
        wrt.iter()
            .map(|w| {
                w.id.and_then(|id| slots.get(id).cloned())
                    .unwrap_or_else(|| w.lift(Tensor::zeros(w.shape())))
            })
            .collect()
    }

    #[track_caller]
    fn root(&self, op: &str, seed_shape: &[usize]) -> NodeId {
        let loc = std::panic::Location::caller();
        assert!(
            seed_shape == self.shape(),
            "{op}: seed of shape {seed_shape:?} does not match the output's shape {:?}, called at {loc}",
            self.shape()
        );
        match self.id {
            Some(id) => id,
            None => panic!("{op}: this Var is a constant (no leaf it depends on was recorded), called at {loc}"),
        }
    }
}

/// Which nodes' gradients a sweep hands back: leaves (optionally) and a
/// short list of others (retained intermediates, `grad_graph`'s inputs).
struct Keep {
    leaves: bool,
    ids: Vec<NodeId>,
}

impl Keep {
    fn new(leaves: bool, ids: impl Iterator<Item = NodeId>) -> Self {
        let mut ids: Vec<NodeId> = ids.collect();
        ids.sort_unstable();
        Keep { leaves, ids }
    }

    fn keeps(&self, id: NodeId, is_leaf: bool) -> bool {
        (self.leaves && is_leaf) || self.ids.binary_search(&id).is_ok()
    }
}

/// Adds a gradient contribution into a slot: the first is stored as is,
/// later ones are added (in place when the buffer is owned alone).
/// The first contribution (the only one, along a chain) is moved straight
/// into the empty slot: taking the slot out and writing it back moved the
/// 120-byte `Var` twice more (W2: 3 % of the instructions).
#[inline]
fn accumulate<'t, T: Element>(slot: &mut Option<Var<'t, T>>, g: Var<'t, T>) {
    let Some(prev) = slot.take() else {
        *slot = Some(g);
        return;
    };
    *slot = Some(if prev.id.is_none() && g.id.is_none() {
        let tape = prev.tape;
        Var::from_parts(tape, None, prev.value.add_owned(g.value))
    } else {
        &prev + &g
    });
}

/// What a sweep records and keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain gradients; the tape keeps its saved tensors.
    Keep,
    /// Plain gradients; each node's saved tensors are freed after its rule.
    Free,
    /// The rules record onto the tape (gradients of gradients).
    Graph,
}

/// The reverse sweep from `root`; returns the gradients of the nodes `keep`
/// names (others are dropped as soon as they have flowed on).
fn sweep<'t, T: Element>(
    tape: &'t Tape<T>,
    root: NodeId,
    seed: Var<'t, T>,
    mode: Mode,
    keep: &Keep,
) -> Slots<Var<'t, T>> {
    let create_graph = mode == Mode::Graph;
    let before = tape.recording.replace(create_graph);
    let mut slots: Slots<Var<'t, T>> = Slots::new(root + 1);
    slots.insert(root, seed);
    let explain = tape.explain.get();
    let want_norms = explain || tape.keep_norms.get();
    let anomaly = tape.anomaly.get();
    let has_hooks = !tape.hooks.borrow().is_empty();
    let mut norms: Vec<(NodeId, f64)> = Vec::new();
    for id in (0..=root).rev() {
        let Some(mut g) = slots.take(id) else {
            continue;
        };
        if has_hooks {
            for (hid, hook) in tape.hooks.borrow().iter() {
                if *hid == id {
                    if let Some(new) = hook(&g.value) {
                        if new.shape() != g.shape() {
                            let n = &tape.nodes.borrow()[id];
                            panic!(
                                "register_hook: the hook on `{}` (at {}) returned a gradient of shape {:?} for a Var of shape {:?}",
                                n.op,
                                n.location,
                                new.shape(),
                                g.shape()
                            );
                        }
                        g = g.lift(new);
                    }
                }
            }
        }
        if want_norms {
            norms.push((
                id,
                g.value
                    .to_vec()
                    .iter()
                    .map(|v| v.as_f64() * v.as_f64())
                    .sum::<f64>()
                    .sqrt(),
            ));
        }
        // In plain backward the rules record nothing, so the node can stay
        // borrowed while its rule runs; in grad_graph mode the rules push
        // nodes, so what the rule needs is copied out first (shared
        // tensors: reference counts, no data).
        let nodes = tape.nodes.borrow();
        let n = &nodes[id];
        let (rule, op, location) = (n.rule, n.op, n.location);
        let Some(rule) = rule else {
            drop(nodes);
            if keep.keeps(id, true) {
                slots.insert(id, g);
            }
            continue;
        };
        let owned: Saved<T>;
        let guard;
        let saved = if create_graph {
            owned = n.saved.clone();
            drop(nodes);
            guard = None;
            &owned
        } else {
            guard = Some(nodes);
            &guard.as_ref().expect("just set")[id].saved
        };
        let ctx = crate::tape::Ctx { tape, id, saved };
        // the rule owns the gradient (and may write its result into it);
        // a copy stays here only when explain mode or `keep` needs it
        let keep_this = keep.keeps(id, false);
        let kept_g = (explain || keep_this).then(|| g.clone());
        let outer_rule = tape.in_rule_of.replace(Some((op, location)));
        let mut input_grads = rule(&ctx, g);
        tape.in_rule_of.set(outer_rule);
        if explain {
            if let Some(g) = &kept_g {
                explain_step(tape, id, op, location, &ctx, g, &input_grads);
            }
        }
        // taken out one by one: `into_iter` moved the whole list (two
        // Vars, ~250 bytes) through a memcpy call per node
        for (i, ig) in input_grads.iter_mut().enumerate() {
            let Some(iid) = ctx.saved.inputs.get(i) else {
                continue;
            };
            let Some(ig) = ig.take() else {
                continue;
            };
            debug_assert_eq!(
                ig.shape(),
                &ctx.input_shape(i)[..],
                "rule of `{op}` returned a wrong shape"
            );
            if anomaly && !ig.value.to_vec().iter().all(|v| v.is_finite()) {
                panic!("anomaly: the gradient that op `{op}` at {location} sends to its input {i} is not finite");
            }
            accumulate(slots.entry(iid), ig);
        }
        if mode == Mode::Free {
            // what the rule read is no longer needed: back to the pool now
            let (first, len) = (ctx.saved.kept as usize, ctx.saved.kept_len());
            let mut kept = tape.kept.borrow_mut();
            for at in first..first + len {
                kept[at] = None;
            }
        }
        drop(guard);
        if keep_this {
            if let Some(g) = kept_g {
                slots.insert(id, g);
            }
        }
    }
    tape.recording.set(before);
    if want_norms {
        let mut store = tape.grad_norms.borrow_mut();
        for (id, n) in norms {
            if store.len() <= id {
                store.resize(id + 1, None);
            }
            store[id] = Some(n);
        }
    }
    slots
}

fn explain_step<T: Element>(
    tape: &Tape<T>,
    id: NodeId,
    op: &str,
    location: &std::panic::Location<'static>,
    ctx: &crate::tape::Ctx<'_, '_, T>,
    g: &Var<'_, T>,
    input_grads: &[Option<Var<'_, T>>],
) {
    use crate::explain::{fmt_value, formula_in, Words};
    let w = Words::of(tape.explain_lang.get());
    let mut line = format!(
        "{} {id} `{op}` ({location}): {} {}",
        w.node,
        w.incoming,
        fmt_value(&g.value)
    );
    if let Some(f) = formula_in(op, tape.explain_lang.get()) {
        line += &format!("; {} {f}", w.rule);
    }
    for (i, ig) in input_grads.iter().enumerate() {
        let iid = ctx.saved.inputs.get(i);
        let x = tape.kept_input(ctx.saved, i);
        let who = iid.map_or(w.constant.to_string(), |n| format!("{} {n}", w.node));
        match ig {
            Some(ig) if iid.is_some() => {
                let value = x.as_ref().map_or(w.not_kept.into(), fmt_value);
                line += &format!("; {} {i} ({who}, {} {value})", w.to_input, w.value);
                if g.value.numel() == 1 && ig.value.numel() == 1 && g.value.item() != T::zero() {
                    line += &format!(
                        ": {} {:.6} × {:.6} = {:.6}",
                        w.local,
                        (ig.value.item() / g.value.item()),
                        g.value.item(),
                        ig.value.item()
                    );
                } else {
                    line += &format!(": {} {}", w.gradient, fmt_value(&ig.value));
                }
            }
            _ => line += &format!("; {} {i} ({who}) {}", w.input, w.gets_none),
        }
    }
    println!("{line}");
    tape.explain_log.borrow_mut().push(line);
}
