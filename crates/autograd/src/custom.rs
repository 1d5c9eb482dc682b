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
/// `None` for an input it has none for. Its result is a constant, so it
/// serves plain [`Var::backward`] only.
///
/// Gradients of gradients ([`Var::grad_graph`] and everything built on it:
/// `functional::hvp`, `hessian`, `jvp`) need the gradient as a function of
/// the inputs: implement [`CustomOp::backward_var`] with differentiable
/// `Var` ops. Without it, those transforms panic naming the op, rather
/// than silently treating its gradient as constant (which gives zeros).
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

    /// The gradients as differentiable Vars (each built from `inputs`,
    /// `output` and `grad` with `Var` ops), used when gradients of
    /// gradients are being built. `None` (the default) says the op has no
    /// differentiable backward; `grad_graph` through it then panics.
    ///
    /// ```
    /// use mnemon_autograd::{functional, CustomOp, Var};
    /// use mnemon_tensor::Tensor;
    /// /// x³, with 3x²·g as a differentiable backward.
    /// struct Cube;
    /// impl CustomOp<f64> for Cube {
    ///     fn name(&self) -> &'static str { "cube" }
    ///     fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> { x[0].powi(3) }
    ///     fn backward(&self, x: &[&Tensor<f64>], _: &Tensor<f64>, g: &Tensor<f64>) -> Vec<Option<Tensor<f64>>> {
    ///         vec![Some(&x[0].powi(2) * &g.map(|v| 3.0 * v))]
    ///     }
    ///     fn backward_var<'t>(&self, x: &[Var<'t, f64>], _: &Var<'t, f64>, g: &Var<'t, f64>) -> Option<Vec<Option<Var<'t, f64>>>> {
    ///         Some(vec![Some((&x[0].powi(2) * g).mul_scalar(3.0))])
    ///     }
    /// }
    /// let x = Tensor::from_vec(vec![2.0], &[1]).unwrap();
    /// let h = functional::hessian(|v| v.tape().custom(Cube, &[v]).sum_all(), &x);
    /// assert_eq!(h.to_vec(), vec![12.0]); // d²(x³)/dx² = 6x
    /// ```
    fn backward_var<'t>(
        &self,
        inputs: &[Var<'t, T>],
        output: &Var<'t, T>,
        grad: &Var<'t, T>,
    ) -> Option<Vec<Option<Var<'t, T>>>> {
        let _ = (inputs, output, grad);
        None
    }
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
                s.custom = Some(Box::new(op));
                s.output = Some(y.clone());
            },
        )
    }
}

fn custom_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let op = c.saved.custom.as_ref().expect("custom op saved");
    let n = c.saved.inputs.len();
    let grads: Vec<Option<Var<'t, T>>> = if c.tape.recording.get() {
        // gradients of gradients are being built: the rule must be a
        // function of the inputs, not a constant
        let inputs: Vec<Var<'t, T>> = (0..n).map(|i| c.input(i)).collect();
        match op.backward_var(&inputs, &c.output(), g) {
            Some(gs) => gs,
            None => panic!(
                "custom op `{}`: gradients of gradients (grad_graph, hvp, hessian, jvp) need a differentiable backward; implement CustomOp::backward_var",
                op.name()
            ),
        }
    } else {
        let values: Vec<Tensor<T>> = (0..n).map(|i| c.input_value(i)).collect();
        let inputs: Vec<&Tensor<T>> = values.iter().collect();
        let y = c.output_value();
        op.backward(&inputs, &y, &g.value)
            .into_iter()
            .map(|gi| gi.map(|t| g.lift(t)))
            .collect()
    };
    assert_eq!(
        grads.len(),
        n,
        "custom op `{}`: backward returned {} gradients for {n} inputs",
        op.name(),
        grads.len(),
    );
    for (i, gi) in grads.iter().enumerate() {
        if let Some(gi) = gi {
            let want = c.input_shape(i);
            assert_eq!(
                gi.shape(),
                &want[..],
                "custom op `{}`: gradient {i} has shape {:?}, its input {:?}",
                op.name(),
                gi.shape(),
                want
            );
        }
    }
    grads.into_iter().collect()
}
