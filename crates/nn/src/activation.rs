//! Activations as modules (the functions themselves are `Var` methods).

use crate::module::Module;
use crate::param::Param;
use mnemon_autograd::Var;
use mnemon_tensor::Element;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr $(, owned |$xo:ident| $owned:expr)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl<T: Element> Module<T> for $name {
            fn forward<'t>(&self, $x: &Var<'t, T>) -> Var<'t, T> {
                $body
            }
            $(
                fn forward_owned<'t>(&self, $xo: Var<'t, T>) -> Var<'t, T> {
                    $owned
                }
            )?
            fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &Param<T>)) {}
            fn visit_mut(&mut self, _: &str, _: &mut dyn FnMut(&str, &mut Param<T>)) {}
        }
    };
}

activation!(
    /// `sigmoid(x)`. PyTorch: `nn.Sigmoid`.
    Sigmoid, |x| x.sigmoid(), owned |x| x.sigmoid_owned());
activation!(
    /// `tanh(x)`. PyTorch: `nn.Tanh`.
    Tanh, |x| x.tanh(), owned |x| x.tanh_owned());
activation!(
    /// `max(x, 0)`. PyTorch: `nn.ReLU`.
    Relu, |x| x.relu());
activation!(
    /// `x·σ(x)` (swish). PyTorch: `nn.SiLU`.
    Silu, |x| x.silu());
activation!(
    /// Softmax over the last axis. PyTorch: `nn.Softmax(dim=-1)`.
    Softmax, |x| x.softmax(x.shape().len().saturating_sub(1)));
activation!(
    /// Log-softmax over the last axis. PyTorch: `nn.LogSoftmax(dim=-1)`.
    LogSoftmax, |x| x.log_softmax(x.shape().len().saturating_sub(1)));

/// An activation with one scalar setting (stored as `f64`, read as the
/// element type at each forward).
macro_rules! activation_with {
    ($(#[$doc:meta])* $name:ident, $(#[$fdoc:meta])* $field:ident = $default:expr, |$x:ident, $p:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name {
            $(#[$fdoc])*
            pub $field: f64,
        }

        impl $name {
            #[doc = concat!("`", stringify!($name), "` with this `", stringify!($field), "`.")]
            pub fn new($field: f64) -> Self {
                Self { $field }
            }
        }

        impl Default for $name {
            #[doc = concat!("PyTorch's default, `", stringify!($field), " = ", stringify!($default), "`.")]
            fn default() -> Self {
                Self { $field: $default }
            }
        }

        impl<T: Element> Module<T> for $name {
            fn forward<'t>(&self, $x: &Var<'t, T>) -> Var<'t, T> {
                let $p = T::of_f64(self.$field);
                $body
            }
            fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &Param<T>)) {}
            fn visit_mut(&mut self, _: &str, _: &mut dyn FnMut(&str, &mut Param<T>)) {}
        }
    };
}

activation_with!(
    /// `x` where `x > 0`, else `slope · x` (see [`Var::leaky_relu`] for
    /// the gradient at 0). PyTorch: `nn.LeakyReLU`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_nn::{LeakyRelu, Module};
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Tensor::from_vec(vec![-1.0, 2.0], &[2]).unwrap());
    /// let y = LeakyRelu::default().forward(&x);
    /// assert_eq!(y.value().to_vec(), vec![-0.01, 2.0]);
    /// ```
    LeakyRelu,
    /// The slope below 0.
    slope = 0.01,
    |x, slope| x.leaky_relu(slope)
);
activation_with!(
    /// `x` where `x > 0`, else `alpha · (eˣ − 1)` (see [`Var::elu`] for the
    /// gradient at 0). PyTorch: `nn.ELU`.
    Elu,
    /// The value approached as `x → −∞` is `−alpha`.
    alpha = 1.0,
    |x, alpha| x.elu(alpha)
);
