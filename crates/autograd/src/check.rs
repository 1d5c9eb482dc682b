//! Gradient checks against central finite differences in f64, for mnemon's
//! own ops and for users' functions; with the `proptest` feature, strategies
//! to property-test them over generated shapes and values.

use crate::{Tape, Var};
use mnemon_tensor::Tensor;
use std::fmt;

/// How close analytic and numeric gradients must be:
/// `|analytic − numeric| ≤ atol + rtol·|numeric|`, with step `eps`.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-4,
        }
    }
}

/// The first element where analytic and numeric gradients disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckError {
    /// Which input (position in the `inputs` slice).
    pub input: usize,
    /// The element's row-major index within that input.
    pub index: usize,
    /// The gradient the tape derived.
    pub analytic: f64,
    /// The central finite difference.
    pub numeric: f64,
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck failed for input {} at element {}: analytic {:.9e}, numeric {:.9e} (difference {:.3e})",
            self.input,
            self.index,
            self.analytic,
            self.numeric,
            (self.analytic - self.numeric).abs()
        )
    }
}

impl std::error::Error for GradcheckError {}

/// A fixed, uneven cotangent for an output of `shape`: checking
/// `sum(f(x) · w)` checks the whole vector-Jacobian product for this `w`.
fn cotangent(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let w = (0..n)
        .map(|i| 0.5 + ((i * 37 + 11) % 17) as f64 / 16.0)
        .collect();
    Tensor::from_vec(w, shape).expect("length matches")
}

/// `sum(f(xs) · w)`. The inputs are leaves, so an `f` that differentiates
/// inside (as gradgradcheck's does) computes the same function here.
fn scalar_value<F>(f: &F, inputs: &[Tensor<f64>]) -> f64
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let tape = Tape::new();
    let vars: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let out = f(&vars);
    (out.value() * &cotangent(out.shape())).sum_all().item()
}

/// Checks the gradient the tape derives for `f` at `inputs` against
/// central differences of `sum(f(x) · w)` for a fixed uneven `w`, element
/// by element. `f` may return any shape.
///
/// ```
/// use mnemon_autograd::check::{gradcheck, Tolerance};
/// use mnemon_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3]).unwrap();
/// assert!(gradcheck(|v| v[0].tanh() * &v[0], &[x], Tolerance::default()).is_ok());
/// ```
///
/// # Errors
/// The first element whose analytic and numeric gradients disagree.
pub fn gradcheck<F>(f: F, inputs: &[Tensor<f64>], tol: Tolerance) -> Result<(), GradcheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let tape = Tape::new();
    let vars: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let out = f(&vars);
    let w = cotangent(out.shape());
    let analytic: Vec<Vec<f64>> = if out.requires_grad() {
        let grads = out.backward_with(&w);
        vars.iter()
            .map(|v| {
                grads
                    .wrt(v)
                    .map_or_else(|| vec![0.0; v.value().numel()], |g| g.to_vec())
            })
            .collect()
    } else {
        vars.iter().map(|v| vec![0.0; v.value().numel()]).collect()
    };
    for (k, x) in inputs.iter().enumerate() {
        let base = x.to_vec();
        for j in 0..base.len() {
            let mut probe: Vec<Tensor<f64>> = inputs.to_vec();
            let mut at = |delta: f64| {
                let mut v = base.clone();
                v[j] += delta;
                probe[k] = Tensor::from_vec(v, x.shape()).expect("same shape");
                scalar_value(&f, &probe)
            };
            let numeric = (at(tol.eps) - at(-tol.eps)) / (2.0 * tol.eps);
            let a = analytic[k][j];
            // written so that a NaN on either side counts as a failure
            let close = (a - numeric).abs() <= tol.atol + tol.rtol * numeric.abs();
            if !close {
                return Err(GradcheckError {
                    input: k,
                    index: j,
                    analytic: a,
                    numeric,
                });
            }
        }
    }
    Ok(())
}

/// Checks second derivatives: runs [`gradcheck`] on the function
/// `x ↦ ∇ₓ sum(f(x) · w)` whose gradient the tape records with
/// [`Var::grad_graph_with`] and then differentiates again.
///
/// # Errors
/// The first element whose analytic and numeric second derivatives disagree.
pub fn gradgradcheck<F>(f: F, inputs: &[Tensor<f64>], tol: Tolerance) -> Result<(), GradcheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    gradcheck(|vars| first_derivative(&f, vars), inputs, tol)
}

/// `∇ₓ sum(f(x) · w)` for every input, flattened and joined, recorded.
fn first_derivative<'t, F>(f: &F, vars: &[Var<'t, f64>]) -> Var<'t, f64>
where
    F: for<'s> Fn(&[Var<'s, f64>]) -> Var<'s, f64>,
{
    let out = f(vars);
    if !out.requires_grad() {
        return vars[0].lift(Tensor::zeros(&[0]));
    }
    let seed = out.lift(cotangent(out.shape()));
    let refs: Vec<&Var<'t, f64>> = vars.iter().collect();
    let grads: Vec<Var<'t, f64>> = out
        .grad_graph_with(&seed, &refs)
        .iter()
        .map(|g| g.flatten())
        .collect();
    Var::concat(&grads, 0)
}

/// Returns `f` unchanged, with the signature [`gradcheck`] and
/// [`gradgradcheck`] need (`for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>`),
/// so a closure can be stored in a `let` and checked twice.
///
/// ```
/// use mnemon_autograd::check::{func_n, gradcheck, gradgradcheck, Tolerance};
/// use mnemon_tensor::Tensor;
/// let f = func_n(|v| &v[0] * &v[1].tanh());
/// let inputs = [Tensor::scalar(0.3), Tensor::scalar(-1.2)];
/// assert!(gradcheck(&f, &inputs, Tolerance::default()).is_ok());
/// assert!(gradgradcheck(&f, &inputs, Tolerance::default()).is_ok());
/// ```
pub fn func_n<F>(f: F) -> F
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    f
}

#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategies {
    //! Proptest strategies for shapes, broadcast-compatible shape pairs and
    //! tensors with bounded values, to property-test gradients.
    //!
    //! ```
    //! use mnemon_autograd::check::{gradcheck, strategies, Tolerance};
    //! use proptest::prelude::*;
    //! use proptest::test_runner::TestRunner;
    //!
    //! let mut runner = TestRunner::default();
    //! let strat = strategies::shape(3, 4).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0));
    //! runner.run(&strat, |x| {
    //!     // my function: x·sigmoid(x), checked at generated shapes and values
    //!     let r = gradcheck(|v| &v[0] * &v[0].sigmoid(), &[x], Tolerance::default());
    //!     prop_assert!(r.is_ok(), "{:?}", r);
    //!     Ok(())
    //! }).unwrap();
    //! ```
    use mnemon_tensor::Tensor;
    use proptest::prelude::*;

    /// Shapes of rank `0..=max_rank` with dimensions `1..=max_dim`.
    pub fn shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(1..=max_dim.max(1), 0..=max_rank)
    }

    /// Two shapes that broadcast together (NumPy rules): a common shape with
    /// leading axes dropped and some axes set to 1 on either side.
    pub fn broadcast_pair(
        max_rank: usize,
        max_dim: usize,
    ) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        shape(max_rank, max_dim).prop_flat_map(|out| {
            let r = out.len();
            (
                Just(out),
                0..=r,
                0..=r,
                prop::collection::vec(any::<(bool, bool)>(), r),
            )
                .prop_map(|(out, da, db, ones)| {
                    let a = (da..out.len())
                        .map(|d| if ones[d].0 { 1 } else { out[d] })
                        .collect();
                    let b = (db..out.len())
                        .map(|d| if ones[d].1 { 1 } else { out[d] })
                        .collect();
                    (a, b)
                })
        })
    }

    /// f64 tensors of `shape` with values in `[lo, hi]`.
    pub fn tensor(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
        let n: usize = shape.iter().product();
        prop::collection::vec(lo..=hi, n)
            .prop_map(move |v| Tensor::from_vec(v, &shape).expect("length matches"))
    }
}
