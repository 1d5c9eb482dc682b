//! Convolution and pooling layers, and `Flatten`: thin modules over the
//! tape's `conv2d`/`conv1d` and pools (which are `unfold` + matmul or a
//! reduction, so they have no gradient code of their own).

use crate::linear::{init_tensor, Init};
use crate::module::Module;
use crate::param::{Param, TapeParamExt};
use mnemon_autograd::{Conv1dOptions, Conv2dOptions, Var};
use mnemon_tensor::{Element, Window2d};
use rand::Rng;

/// PyTorch's default initialisation of a convolution: weight
/// `[out, in/groups, kernel..]` and bias `[out]`, both U(±1/√fan_in) with
/// fan_in = in/groups·Πkernel.
#[track_caller]
fn conv_params<T: Element, R: Rng + ?Sized>(
    op: &str,
    (inputs, outputs, groups): (usize, usize, usize),
    kernel: &[usize],
    rng: &mut R,
) -> (Param<T>, Param<T>) {
    let g = groups;
    assert!(
        g > 0 && inputs.is_multiple_of(g) && outputs.is_multiple_of(g),
        "{op}: groups {g} must divide in {inputs} and out {outputs}, called at {}",
        std::panic::Location::caller()
    );
    let fan_in = inputs / g * kernel.iter().product::<usize>();
    let mut shape = vec![outputs, inputs / g];
    shape.extend_from_slice(kernel);
    let weight = Param::new(init_tensor(Init::Default, &shape, fan_in, outputs, rng));
    let bias = Param::new(init_tensor(Init::Default, &[outputs], fan_in, outputs, rng));
    (weight, bias)
}

/// A 2-D convolution layer: weight `[out, in/groups, kh, kw]`, bias
/// `[out]`, PyTorch's default initialisation (U(±1/√fan_in) for both,
/// fan_in = in/groups·kh·kw). PyTorch: `nn.Conv2d`.
///
/// ```
/// use mnemon_autograd::{Conv2dOptions, Tape};
/// use mnemon_nn::{Conv2d, Module};
/// use mnemon_tensor::Tensor;
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let conv = Conv2d::<f32>::new(1, 6, [5, 5], Conv2dOptions { padding: [2, 2], ..Default::default() }, &mut rng);
/// let tape = Tape::new();
/// let y = conv.forward(&tape.constant(Tensor::zeros(&[2, 1, 28, 28])));
/// assert_eq!(y.shape(), &[2, 6, 28, 28]);
/// ```
#[derive(Clone, Debug, crate::Module)]
#[module(crate = "crate")]
pub struct Conv2d<T: Element = f32> {
    /// `[out, in/groups, kh, kw]`.
    pub weight: Param<T>,
    /// `[out]`, if any.
    pub bias: Option<Param<T>>,
    /// Stride, padding, dilation, groups.
    #[module(skip)]
    pub options: Conv2dOptions,
}

impl<T: Element> Conv2d<T> {
    /// A layer with a bias and PyTorch's default initialisation.
    ///
    /// # Panics
    /// When `groups` does not divide both channel counts.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        kernel: [usize; 2],
        options: Conv2dOptions,
        rng: &mut R,
    ) -> Self {
        let io = (inputs, outputs, options.groups);
        let (weight, bias) = conv_params("Conv2d", io, &kernel, rng);
        Conv2d {
            weight,
            bias: Some(bias),
            options,
        }
    }

    /// The same layer without a bias.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// The convolution of `x` `[N, C, H, W]` (what `Module::forward` runs).
    #[track_caller]
    pub fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        // weight first, then bias (the order the tape picture draws);
        // no closure, so both leaves keep the caller's line
        let w = tape.param(&self.weight);
        let b = match &self.bias {
            Some(b) => Some(tape.param(b)),
            None => None,
        };
        x.conv2d(&w, b.as_ref(), self.options)
    }
}

/// A 1-D convolution layer: weight `[out, in/groups, k]`, bias `[out]`,
/// PyTorch's default initialisation. PyTorch: `nn.Conv1d`.
#[derive(Clone, Debug, crate::Module)]
#[module(crate = "crate")]
pub struct Conv1d<T: Element = f32> {
    /// `[out, in/groups, k]`.
    pub weight: Param<T>,
    /// `[out]`, if any.
    pub bias: Option<Param<T>>,
    /// Stride, padding, dilation, groups.
    #[module(skip)]
    pub options: Conv1dOptions,
}

impl<T: Element> Conv1d<T> {
    /// A layer with a bias and PyTorch's default initialisation.
    ///
    /// # Panics
    /// When `groups` does not divide both channel counts.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        options: Conv1dOptions,
        rng: &mut R,
    ) -> Self {
        let io = (inputs, outputs, options.groups);
        let (weight, bias) = conv_params("Conv1d", io, &[kernel], rng);
        Conv1d {
            weight,
            bias: Some(bias),
            options,
        }
    }

    /// The same layer without a bias.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// The convolution of `x` `[N, C, L]` (what `Module::forward` runs).
    #[track_caller]
    pub fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        // weight first, then bias (the order the tape picture draws);
        // no closure, so both leaves keep the caller's line
        let w = tape.param(&self.weight);
        let b = match &self.bias {
            Some(b) => Some(tape.param(b)),
            None => None,
        };
        x.conv1d(&w, b.as_ref(), self.options)
    }
}

macro_rules! pool {
    ($(#[$doc:meta])* $name:ident, |$s:ident, $x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            /// Kernel, stride, padding and dilation.
            pub window: Window2d,
        }

        impl<T: Element> Module<T> for $name {
            #[track_caller]
            fn forward<'t>(&self, $x: &Var<'t, T>) -> Var<'t, T> {
                let $s = self;
                $body
            }
            fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &Param<T>)) {}
            fn visit_mut(&mut self, _: &str, _: &mut dyn FnMut(&str, &mut Param<T>)) {}
        }
    };
}

pool!(
    /// Max pooling over windows of an `[N, C, H, W]` input. PyTorch:
    /// `nn.MaxPool2d` ([`MaxPool2d::new`] gives its default stride).
    MaxPool2d, |s, x| x.max_pool2d(s.window));
pool!(
    /// Average pooling (padding counted as zeros). PyTorch: `nn.AvgPool2d`.
    AvgPool2d, |s, x| x.avg_pool2d(s.window));

/// Flattens every axis after the first: `[N, ...]` to `[N, rest]`.
/// PyTorch: `nn.Flatten`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Element> Module<T> for Flatten {
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let s = x.shape();
        let n = s.first().copied().unwrap_or(1);
        let rest: usize = s.iter().skip(1).product();
        x.reshape(&[n, rest])
            .expect("flatten keeps the element count")
    }
    fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &Param<T>)) {}
    fn visit_mut(&mut self, _: &str, _: &mut dyn FnMut(&str, &mut Param<T>)) {}
}

impl MaxPool2d {
    /// A `k × k` window with stride `k` (PyTorch's default).
    pub fn new(k: usize) -> Self {
        MaxPool2d {
            window: Window2d::new([k, k]).stride([k, k]),
        }
    }
}

impl AvgPool2d {
    /// A `k × k` window with stride `k` (PyTorch's default).
    pub fn new(k: usize) -> Self {
        AvgPool2d {
            window: Window2d::new([k, k]).stride([k, k]),
        }
    }
}
