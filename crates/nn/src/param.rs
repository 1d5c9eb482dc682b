//! Parameters: the persistent memory of a model.

use mnemon_autograd::{Grads, Tape, Var};
use mnemon_tensor::{Element, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};

/// A process-unique parameter id; optimizer state is keyed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw id (the tag the parameter's leaves carry on a tape).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A trainable tensor with a unique id. Cloning a model clones its params
/// with the same ids (a snapshot of the same parameters).
#[derive(Clone, Debug)]
pub struct Param<T: Element = f32> {
    id: ParamId,
    /// The current value.
    pub value: Tensor<T>,
    /// When false the param is frozen: lifted as a constant, never updated.
    pub requires_grad: bool,
}

impl<T: Element> Param<T> {
    /// A new trainable parameter with a fresh id.
    pub fn new(value: Tensor<T>) -> Self {
        Param {
            id: ParamId::fresh(),
            value,
            requires_grad: true,
        }
    }

    /// Its id.
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// `value -= delta`, shape-checked: unlike a broadcasting subtraction,
    /// an update must have exactly the parameter's shape (NumPy's `w -= dw`
    /// with `w` (2,1) and `dw` (2,) fails deep inside; this names both
    /// shapes and the caller's line).
    ///
    /// # Panics
    /// When `delta`'s shape differs from the parameter's.
    #[track_caller]
    pub fn sub_update(&mut self, delta: &Tensor<T>) {
        assert!(
            delta.shape() == self.shape(),
            "update: a parameter of shape {:?} cannot take an update of shape {:?}, called at {}",
            self.shape(),
            delta.shape(),
            std::panic::Location::caller()
        );
        let old = std::mem::replace(&mut self.value, delta.clone());
        // evaluated now: a parameter is kept across steps
        self.value = (old - delta).evaluated();
    }
}

/// Lifting params onto a tape: `tape.param(&p)`.
pub trait TapeParamExt<T: Element> {
    /// The param as a Var: a tagged leaf when it requires a gradient, else a
    /// constant. Lifting the same param twice is fine: its gradients add.
    fn param(&self, p: &Param<T>) -> Var<'_, T>;

    /// Names every parameter leaf of `model` on this tape by its name in
    /// the model (`layers.0.weight`), for [`Tape::to_dot`] and
    /// [`Tape::to_svg`].
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_nn::{Linear, Module, Sequential, TapeParamExt};
    /// use mnemon_tensor::Tensor;
    /// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    /// let model = Sequential::<f32>::new().push(Linear::new(2, 1, &mut rng));
    /// let tape = Tape::new();
    /// let _ = model.forward(&tape.constant(Tensor::ones(&[1, 2])));
    /// tape.name_params(&model);
    /// let dot = tape.to_dot();
    /// assert!(dot.contains("#0 layers.0.weight") && dot.contains("#1 layers.0.bias"), "{dot}");
    /// ```
    fn name_params<M: crate::Module<T> + ?Sized>(&self, model: &M);
}

impl<T: Element> TapeParamExt<T> for Tape<T> {
    #[track_caller]
    fn param(&self, p: &Param<T>) -> Var<'_, T> {
        if p.requires_grad {
            self.leaf_tagged(p.value.clone(), p.id.get())
        } else {
            self.constant(p.value.clone())
        }
    }

    fn name_params<M: crate::Module<T> + ?Sized>(&self, model: &M) {
        model.visit("", &mut |name, p| self.name_tag(p.id.get(), name));
    }
}

/// Reading a param's gradient: `grads.param(&p)`.
pub trait GradsParamExt<T: Element> {
    /// The gradient of the loss with respect to `p` (summed over every time
    /// it was lifted), `None` when the loss does not depend on it.
    fn param(&self, p: &Param<T>) -> Option<Tensor<T>>;
    /// Replaces the gradient optimizers read for `p` (see
    /// [`Grads::set_tagged`]): how data-parallel training hands them the
    /// gradient averaged over processes.
    fn set_param(&mut self, p: &Param<T>, g: Tensor<T>);
}

impl<T: Element> GradsParamExt<T> for Grads<'_, T> {
    fn param(&self, p: &Param<T>) -> Option<Tensor<T>> {
        self.tagged(p.id.get())
    }

    #[track_caller]
    fn set_param(&mut self, p: &Param<T>, g: Tensor<T>) {
        self.set_tagged(p.id.get(), g);
    }
}
