//! The `Module` trait and `Sequential`.

use crate::param::Param;
use mnemon_autograd::Var;
use mnemon_tensor::Element;

/// A differentiable function with parameters.
///
/// Implement `forward` and the two visitors; names are joined with dots
/// (`layers.0.weight`), the names checkpoints use. Or derive the visitors
/// from the field names and write only `forward`, as an inherent method:
///
/// ```
/// use mnemon_autograd::{Tape, Var};
/// use mnemon_nn::{Linear, Module};
/// use mnemon_tensor::Tensor;
///
/// #[derive(Module, Clone)]
/// struct Mlp {
///     hidden: Linear,
///     out: Linear,
/// }
///
/// impl Mlp {
///     fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
///         self.out.forward(&self.hidden.forward(x).relu())
///     }
/// }
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let m = Mlp { hidden: Linear::new(2, 8, &mut rng), out: Linear::new(8, 1, &mut rng) };
/// let names: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
/// assert_eq!(m.predict(&Tensor::ones(&[3, 2])).shape(), &[3, 1]);
/// ```
///
/// Two fields saved under one name do not compile:
///
/// ```compile_fail
/// use mnemon_nn::{Linear, Module};
/// #[derive(Module)]
/// struct Twice {
///     a: Linear,
///     #[module(name = "a")]
///     b: Linear,
/// }
/// impl Twice {
///     fn forward<'t>(&self, x: &mnemon_autograd::Var<'t, f32>) -> mnemon_autograd::Var<'t, f32> { x.clone() }
/// }
/// ```
///
/// Nor does a derived module without its inherent `forward` (the derived
/// `Module::forward` would call itself):
///
/// ```compile_fail
/// use mnemon_nn::{Linear, Module};
/// #[derive(Module)]
/// struct NoForward {
///     a: Linear,
/// }
/// ```
///
/// A copy of a model (`clone`) shares its parameters' ids, so gradients of
/// the two add up — what you want for weight tying. For an independent
/// copy use [`Module::fresh_copy`]; to use a model as a constant (a target
/// network, a frozen teacher) use [`Module::frozen`].
pub trait Module<T: Element = f32> {
    /// Applies the module. Params are lifted onto `x`'s tape inside.
    ///
    /// Every implementation tracks its caller: the ops and parameter
    /// leaves a layer records carry the line where the user called
    /// `forward` (what a panic, explain mode and the tape picture show),
    /// not a line inside the library.
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T>;

    /// [`Module::forward`] of an input the caller gives up: a module may
    /// then write its result into the input's buffer when nothing else
    /// holds it ([`crate::Sigmoid`] and [`crate::Tanh`] do). The same
    /// values and gradients as `forward`, which the default calls.
    /// [`Sequential`] hands each layer's output to the next this way.
    #[track_caller]
    fn forward_owned<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.forward(&x)
    }

    /// Calls `f(name, param)` for every parameter, names prefixed by `prefix`.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>));

    /// Calls `f(name, param)` for every parameter, mutably.
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>));

    /// Calls `f(param)` for every parameter, mutably, without building
    /// names (optimizers call this on every step). The default goes through
    /// [`Module::visit_mut`]; containers override it to skip the names.
    fn params_mut(&mut self, f: &mut dyn FnMut(&mut Param<T>)) {
        self.visit_mut("", &mut |_, p| f(p));
    }

    /// Every parameter with its name.
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        let mut out = Vec::new();
        self.visit("", &mut |n, p| out.push((n.to_string(), p.clone())));
        out
    }

    /// Runs the model on a tensor with no gradients recorded (a private
    /// tape in no-grad mode: nothing is kept for a backward pass), for
    /// inference. PyTorch: `with torch.no_grad(): model(x)`. Call
    /// [`Module::set_training`]`(false)` first for dropout and the like.
    ///
    /// ```
    /// use mnemon_nn::{Linear, Module};
    /// use mnemon_tensor::Tensor;
    /// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    /// let layer = Linear::<f32>::new(3, 2, &mut rng);
    /// let y = layer.predict(&Tensor::ones(&[4, 3]));
    /// assert_eq!(y.shape(), &[4, 2]);
    /// ```
    fn predict(&self, x: &mnemon_tensor::Tensor<T>) -> mnemon_tensor::Tensor<T> {
        let tape = mnemon_autograd::Tape::new();
        tape.no_grad(|| self.forward(&tape.constant(x.clone())).value().clone())
    }

    /// A copy whose params have new ids (same values): its gradients and
    /// optimizer state are its own. PyTorch: `copy.deepcopy(model)`.
    fn fresh_copy(&self) -> Self
    where
        Self: Clone + Sized,
    {
        let mut copy = self.clone();
        copy.visit_mut("", &mut |_, p| {
            let requires_grad = p.requires_grad;
            *p = Param::new(p.value.clone());
            p.requires_grad = requires_grad;
        });
        copy
    }

    /// An independent copy whose params take no gradient: lifted onto a
    /// tape as constants, so a loss using it sends nothing back to it (or
    /// to the model it was copied from). For a DQN target network or an
    /// EMA/teacher model. PyTorch: `deepcopy` + `requires_grad_(False)`.
    fn frozen(&self) -> Self
    where
        Self: Clone + Sized,
    {
        let mut copy = self.fresh_copy();
        copy.visit_mut("", &mut |_, p| p.requires_grad = false);
        copy
    }

    /// Calls `f(name)` for each piece of state that PyTorch's `state_dict`
    /// holds for this module but mnemon deliberately does not keep
    /// (batch norm's int64 `num_batches_tracked`): loading a PyTorch
    /// checkpoint accepts exactly these names, and no other unknown one.
    /// The default has none; containers pass it on.
    fn visit_untracked(&self, prefix: &str, f: &mut dyn FnMut(&str)) {
        let _ = (prefix, f);
    }

    /// Switches training behaviour on or off in this module and every
    /// module inside it (dropout drops only in training). PyTorch:
    /// `model.train()` / `model.eval()`. The default does nothing (a layer
    /// that behaves the same either way); containers pass it on.
    fn set_training(&mut self, training: bool) {
        let _ = training;
    }

    /// The number of scalar parameters.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit("", &mut |_, p| n += p.value.numel());
        n
    }
}

/// `prefix` joined to `name` with a dot.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A boxed module usable inside [`Sequential`] (Send + Sync so models are).
pub type BoxedModule<T> = Box<dyn DynModule<T>>;

/// A module that can be cloned behind a box.
pub trait DynModule<T: Element>: Module<T> + Send + Sync {
    /// Clones into a new box.
    fn box_clone(&self) -> BoxedModule<T>;
}

impl<T: Element, M: Module<T> + Clone + Send + Sync + 'static> DynModule<T> for M {
    fn box_clone(&self) -> BoxedModule<T> {
        Box::new(self.clone())
    }
}

impl<T: Element> Clone for BoxedModule<T> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// Modules applied one after the other; children are named `layers.{i}`.
///
/// ```
/// use mnemon_nn::{Linear, Module, Sequential, Sigmoid};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let model: Sequential = Sequential::new()
///     .push(Linear::new(2, 8, &mut rng))
///     .push(Sigmoid)
///     .push(Linear::new(8, 1, &mut rng));
/// let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
/// ```
#[derive(Clone, Default)]
pub struct Sequential<T: Element = f32> {
    layers: Vec<BoxedModule<T>>,
}

impl<T: Element> Sequential<T> {
    /// An empty sequence.
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a module.
    pub fn push(mut self, m: impl Module<T> + Clone + Send + Sync + 'static) -> Self {
        self.layers.push(Box::new(m));
        self
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        self.forward_owned(x.clone())
    }

    fn forward_owned<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        // each output passed on, given up: an activation after a linear
        // layer writes into the layer's output buffer
        let mut h = x;
        for l in &self.layers {
            h = l.forward_owned(h);
        }
        h
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit(&join(prefix, &format!("layers.{i}")), f);
        }
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&join(prefix, &format!("layers.{i}")), f);
        }
    }

    fn params_mut(&mut self, f: &mut dyn FnMut(&mut Param<T>)) {
        for l in &mut self.layers {
            l.params_mut(f);
        }
    }

    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }

    fn visit_untracked(&self, prefix: &str, f: &mut dyn FnMut(&str)) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit_untracked(&join(prefix, &format!("layers.{i}")), f);
        }
    }
}
