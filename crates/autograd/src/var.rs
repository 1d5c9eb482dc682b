//! `Var`: a tensor the tape is watching.

use crate::tape::{NodeId, Tape};
use mnemon_tensor::{Element, Tensor};

/// A tensor value plus, when it is tracked, its node on a [`Tape`].
///
/// Cheap to clone (the value's storage is shared). The lifetime `'t` ties it
/// to its tape: no Var outlives the pass that made it.
#[derive(Clone)]
pub struct Var<'t, T: Element = f32> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) id: Option<NodeId>,
    pub(crate) value: Tensor<T>,
}

impl<'t, T: Element> Var<'t, T> {
    pub(crate) fn from_parts(tape: &'t Tape<T>, id: Option<NodeId>, value: Tensor<T>) -> Self {
        Var { tape, id, value }
    }

    /// The value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The one value of a one-element Var.
    ///
    /// # Panics
    /// When the value holds more or fewer than one element.
    #[track_caller]
    pub fn item(&self) -> T {
        self.value.item()
    }

    /// The tape this Var belongs to.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The node id on the tape, `None` for a constant.
    pub fn node(&self) -> Option<NodeId> {
        self.id
    }

    /// True when gradients flow through this Var.
    pub fn requires_grad(&self) -> bool {
        self.id.is_some()
    }

    /// The same value as a constant: gradients stop here. PyTorch: `detach`.
    pub fn detach(&self) -> Self {
        Var::from_parts(self.tape, None, self.value.clone())
    }

    /// A constant Var on the same tape.
    pub(crate) fn lift(&self, value: Tensor<T>) -> Self {
        Var::from_parts(self.tape, None, value)
    }

    /// Runs `hook` on this Var's gradient during backward, before it flows
    /// on; returning `Some(g)` replaces the gradient. PyTorch: `register_hook`.
    ///
    /// # Panics
    /// When the Var is a constant (it gets no gradient).
    #[track_caller]
    pub fn register_hook(&self, hook: impl Fn(&Tensor<T>) -> Option<Tensor<T>> + 'static) {
        let id = self
            .id
            .expect("register_hook: this Var is a constant and gets no gradient");
        self.tape.hooks.borrow_mut().push((id, Box::new(hook)));
    }

    /// Keeps this intermediate Var's gradient in the [`Grads`](crate::Grads)
    /// of a backward pass (leaves are kept always). PyTorch: `retain_grad`.
    pub fn retain_grad(&self) {
        if let Some(id) = self.id {
            self.tape.retained.borrow_mut().push(id);
        }
    }
}

impl<T: Element> std::fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var {{ node: {:?}, value: {} }}", self.id, self.value)
    }
}
