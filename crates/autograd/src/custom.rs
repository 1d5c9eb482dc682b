//! User-defined differentiable functions: forward on tensors, backward as a
//! vector-Jacobian product on tensors.

use crate::tape::{Ctx, InputGrads, Keep, Tape};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use std::panic::Location;
use std::rc::Rc;

/// A differentiable function written by the user.
///
/// `backward` receives the inputs, the output and the gradient flowing into
/// the output, and returns the gradient for each input (same shapes), or
/// `None` for an input it has none for. Its result is used as a constant:
/// second derivatives through a custom op are not derived.
///
/// ```
/// use mnemon_autograd::{check, CustomOp, Tape};
/// use mnemon_tensor::Tensor;
///
/// /// softplus(x) = ln(1 + e^x), derivative sigmoid(x).
/// struct Softplus;
/// impl CustomOp<f64> for Softplus {
///     fn name(&self) -> &'static str { "softplus" }
///     fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
///         x[0].map(|v| v.max(0.0) + (-v.abs()).exp().ln_1p())
///     }
///     fn backward(&self, x: &[&Tensor<f64>], _y: &Tensor<f64>, g: &Tensor<f64>) -> Vec<Option<Tensor<f64>>> {
///         vec![Some(g * &x[0].sigmoid())]
///     }
/// }
///
/// let x = Tensor::from_vec(vec![-2.0, 0.5, 3.0], &[3]).unwrap();
/// let report = check::gradcheck(|v| v[0].tape().custom(Softplus, &[&v[0]]), &[x], check::Tolerance::default());
/// assert!(report.is_ok(), "{report:?}");
/// ```
pub trait CustomOp<T: Element>: 'static {
    /// The op's name, shown in graphs, explain mode and errors.
    fn name(&self) -> &'static str;
    /// The value of the function.
    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T>;
    /// The gradient for each input given the gradient `grad` of the output.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Vec<Option<Tensor<T>>>;
}

impl<T: Element> Tape<T> {
    /// Applies a user-defined differentiable function to `inputs`.
    #[track_caller]
    pub fn custom<'t>(&'t self, op: impl CustomOp<T>, inputs: &[&Var<'t, T>]) -> Var<'t, T> {
        let values: Vec<&Tensor<T>> = inputs.iter().map(|v| &v.value).collect();
        let out = op.forward(&values);
        let name = op.name();
        let op: Rc<dyn CustomOp<T>> = Rc::new(op);
        self.record(
            name,
            out,
            inputs,
            custom_rule,
            Keep::Values,
            Location::caller(),
            |s, y| {
                s.custom = Some(op);
                s.output = Some(y.clone());
            },
        )
    }
}

fn custom_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let op = c.saved.custom.as_ref().expect("custom op saved");
    let values: Vec<Tensor<T>> = (0..c.saved.inputs.len())
        .map(|i| c.input_value(i))
        .collect();
    let inputs: Vec<&Tensor<T>> = values.iter().collect();
    let y = c.output_value();
    let grads = op.backward(&inputs, &y, &g.value);
    assert_eq!(
        grads.len(),
        inputs.len(),
        "custom op `{}`: backward returned {} gradients for {} inputs",
        op.name(),
        grads.len(),
        inputs.len()
    );
    grads
        .into_iter()
        .enumerate()
        .map(|(i, gi)| {
            gi.map(|t| {
                assert_eq!(
                    t.shape(),
                    inputs[i].shape(),
                    "custom op `{}`: gradient {i} has shape {:?}, its input {:?}",
                    op.name(),
                    t.shape(),
                    inputs[i].shape()
                );
                g.lift(t)
            })
        })
        .collect()
}
