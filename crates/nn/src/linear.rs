//! `Linear`: `y = x·Wᵀ + b`, with PyTorch's layout (`weight` is
//! `[out, in]`) so checkpoints load in PyTorch as they are.

use crate::module::{join, Module};
use crate::param::{Param, TapeParamExt};
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use rand::Rng;

/// How a layer's weight is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// PyTorch's default for `nn.Linear`: U(−1/√in, 1/√in) for weight and bias.
    Default,
    /// Xavier/Glorot uniform: U(−a, a), a = √(6 / (in + out)); bias 0.
    XavierUniform,
    /// Kaiming/He uniform for ReLU: U(−a, a), a = √(6 / in); bias 0.
    KaimingUniform,
    /// Kaiming/He normal for ReLU: N(0, 2 / in); bias 0.
    KaimingNormal,
    /// All zeros, weight and bias (a logistic regression's usual start).
    /// PyTorch: `nn.init.zeros_`.
    Zeros,
}

/// A tensor of `shape` drawn by `init` for a layer with `fan_in`, `fan_out`.
pub fn init_tensor<T: Element, R: Rng + ?Sized>(
    init: Init,
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    rng: &mut R,
) -> Tensor<T> {
    let uniform =
        |a: f64, rng: &mut R| Tensor::rand_uniform(shape, T::of_f64(-a), T::of_f64(a), rng);
    match init {
        Init::Default => uniform(1.0 / (fan_in.max(1) as f64).sqrt(), rng),
        Init::XavierUniform => uniform((6.0 / (fan_in + fan_out).max(1) as f64).sqrt(), rng),
        Init::KaimingUniform => uniform((6.0 / fan_in.max(1) as f64).sqrt(), rng),
        Init::KaimingNormal => {
            Tensor::randn(shape, rng) * T::of_f64((2.0 / fan_in.max(1) as f64).sqrt())
        }
        Init::Zeros => Tensor::zeros(shape),
    }
}

/// A fully connected layer. PyTorch: `nn.Linear`.
#[derive(Clone, Debug)]
pub struct Linear<T: Element = f32> {
    /// `[out, in]`.
    pub weight: Param<T>,
    /// `[out]`, if any.
    pub bias: Option<Param<T>>,
}

impl<T: Element> Linear<T> {
    /// A layer with PyTorch's default initialisation and a bias.
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, rng: &mut R) -> Self {
        Self::with_init(inputs, outputs, Init::Default, true, rng)
    }

    /// A layer with a chosen initialiser, with or without bias.
    pub fn with_init<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        init: Init,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let weight = Param::new(init_tensor(init, &[outputs, inputs], inputs, outputs, rng));
        let bias = bias.then(|| {
            let b = match init {
                Init::Default => init_tensor(init, &[outputs], inputs, outputs, rng),
                _ => Tensor::zeros(&[outputs]),
            };
            Param::new(b)
        });
        Linear { weight, bias }
    }
}

impl<T: Element> Module<T> for Linear<T> {
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        // weight first, then bias (the order the tape picture draws);
        // no closure, so both leaves keep the caller's line
        let w = tape.param(&self.weight);
        let b = match &self.bias {
            Some(b) => Some(tape.param(b)),
            None => None,
        };
        x.linear(&w, b.as_ref())
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        f(&join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        f(&join(prefix, "weight"), &mut self.weight);
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn params_mut(&mut self, f: &mut dyn FnMut(&mut Param<T>)) {
        f(&mut self.weight);
        if let Some(b) = &mut self.bias {
            f(b);
        }
    }
}
