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
    /// Softmax over the last axis. PyTorch: `nn.Softmax(dim=-1)`.
    Softmax, |x| x.softmax(x.shape().len().saturating_sub(1)));
activation!(
    /// Log-softmax over the last axis. PyTorch: `nn.LogSoftmax(dim=-1)`.
    LogSoftmax, |x| x.log_softmax(x.shape().len().saturating_sub(1)));
