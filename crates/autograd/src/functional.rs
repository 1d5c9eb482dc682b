//! Function transforms built on the tape: `grad`, `vjp`, `jvp`, `hvp`,
//! `jacobian`, `hessian` (JAX's and `torch.func`'s names). Each takes a
//! closure from one Var to one Var; none writes a gradient rule of its own.
//!
//! # Closures stored in a `let`
//!
//! Written inline (`grad(|x| x.powi(3).sum_all(), &x)`), a closure gets the
//! signature the transform asks for: `for<'t> Fn(&Var<'t, T>) -> Var<'t, T>`,
//! one that works for *every* tape lifetime. Stored first in a `let`, Rust
//! infers a closure for one particular lifetime instead, and the call fails
//! with "lifetime may not live long enough" or "one type is more general
//! than the other". Rust cannot be told otherwise on stable, so write one
//! of these:
//!
//! ```
//! use mnemon_autograd::{functional::{self, func}, Var};
//! use mnemon_tensor::Tensor;
//! let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
//!
//! // 1. pass the closure through `func`, which fixes its signature
//! let f = func(|x| x.powi(3).sum_all());
//! assert_eq!(functional::grad(&f, &x).to_vec(), vec![3.0, 12.0]);
//! assert_eq!(functional::hessian(&f, &x).to_vec(), vec![6.0, 0.0, 0.0, 12.0]);
//!
//! // 2. or write a function item (generic over the lifetime)
//! fn g<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
//!     x.sin().sum_all()
//! }
//! assert_eq!(functional::grad(g, &x).to_vec(), vec![1f64.cos(), 2f64.cos()]);
//! ```
//!
//! For the slice-taking `check::gradcheck`, the same holds with
//! [`check::func_n`](crate::check::func_n).

use crate::{Tape, Var};
use mnemon_tensor::{Element, Tensor};

/// Returns `f` unchanged, with the signature the transforms need
/// (`for<'t> Fn(&Var<'t, T>) -> Var<'t, T>`), so a closure can be stored
/// in a `let` and used more than once (see the module docs).
pub fn func<T: Element, F>(f: F) -> F
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    f
}

/// The gradient of a one-element `f` at `x`. JAX: `grad`.
///
/// ```
/// use mnemon_autograd::functional::grad;
/// use mnemon_tensor::Tensor;
/// let g = grad(|x| x.powi(3).sum_all(), &Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
/// assert_eq!(g.to_vec(), vec![3.0, 12.0]);
/// ```
pub fn grad<T: Element, F>(f: F, x: &Tensor<T>) -> Tensor<T>
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    vjp(f, x, &Tensor::ones(&[])).1
}

/// `f(x)` and the vector-Jacobian product `vᵀ·J` (shaped like `x`). JAX: `vjp`.
pub fn vjp<T: Element, F>(f: F, x: &Tensor<T>, v: &Tensor<T>) -> (Tensor<T>, Tensor<T>)
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = f(&xv);
    let v = v.reshape(y.shape()).unwrap_or_else(|_| v.clone());
    let g = if y.requires_grad() {
        y.backward_with(&v).wrt(&xv).cloned()
    } else {
        None
    };
    (
        y.value().clone(),
        g.unwrap_or_else(|| Tensor::zeros(x.shape())),
    )
}

/// `f(x)` and the Jacobian-vector product `J·v` (shaped like `f(x)`),
/// by the double-vjp trick: `u ↦ Jᵀu` is linear, and its vjp with `v` is
/// `J·v`. JAX: `jvp`.
pub fn jvp<T: Element, F>(f: F, x: &Tensor<T>, v: &Tensor<T>) -> (Tensor<T>, Tensor<T>)
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = f(&xv);
    if !y.requires_grad() {
        return (y.value().clone(), Tensor::zeros(y.shape()));
    }
    let u = tape.leaf(Tensor::zeros(y.shape()));
    let jt_u = &y.grad_graph_with(&u, &[&xv])[0];
    let s = (jt_u * &tape.constant(v.clone())).sum_all();
    let jv = if s.requires_grad() {
        s.backward().wrt(&u).cloned()
    } else {
        None
    };
    (
        y.value().clone(),
        jv.unwrap_or_else(|| Tensor::zeros(y.shape())),
    )
}

/// The Hessian-vector product `H·v` of a one-element `f` at `x`
/// (gradient of `⟨∇f, v⟩`). JAX: `hvp` (as `jvp(grad(f))`).
pub fn hvp<T: Element, F>(f: F, x: &Tensor<T>, v: &Tensor<T>) -> Tensor<T>
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = f(&xv);
    let g = &y.grad_graph(&[&xv])[0];
    let s = (g * &tape.constant(v.clone())).sum_all();
    let h = if s.requires_grad() {
        s.backward().wrt(&xv).cloned()
    } else {
        None
    };
    h.unwrap_or_else(|| Tensor::zeros(x.shape()))
}

/// Rows `∂y_i/∂x` for every element of `y`, stacked: shape `y.shape ++ x.shape`.
fn rows<'t, T: Element>(y: &Var<'t, T>, x: &Var<'t, T>) -> Tensor<T> {
    let n = y.value().numel();
    let mut out: Vec<T> = Vec::with_capacity(n * x.value().numel());
    for i in 0..n {
        let row = if y.requires_grad() {
            let seed = Tensor::one_hot(&[i], n)
                .expect("i < n")
                .reshape(y.shape())
                .expect("same size");
            y.backward_with(&seed).wrt(x).cloned()
        } else {
            None
        };
        out.extend(row.unwrap_or_else(|| Tensor::zeros(x.shape())).to_vec());
    }
    let shape: Vec<usize> = y.shape().iter().chain(x.shape()).copied().collect();
    Tensor::from_vec(out, &shape).expect("rows fill the shape")
}

/// The Jacobian of `f` at `x`: shape `f(x).shape ++ x.shape`, one backward
/// sweep per output element. JAX: `jacrev`.
pub fn jacobian<T: Element, F>(f: F, x: &Tensor<T>) -> Tensor<T>
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = f(&xv);
    rows(&y, &xv)
}

/// The Hessian of a one-element `f` at `x`: shape `x.shape ++ x.shape`.
/// JAX: `hessian`.
pub fn hessian<T: Element, F>(f: F, x: &Tensor<T>) -> Tensor<T>
where
    F: for<'t> Fn(&Var<'t, T>) -> Var<'t, T>,
{
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = f(&xv);
    let g = y.grad_graph(&[&xv]).remove(0);
    rows(&g, &xv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
    }

    #[test]
    fn transforms_of_a_known_function() {
        // f(x) = x0² x1 + sin x1 (a named fn: closures stored in a `let`
        // do not get the higher-ranked lifetime the transforms need)
        fn f<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
            let a = x.narrow(0, 0, 1);
            let b = x.narrow(0, 1, 1);
            (&a.powi(2) * &b + b.sin()).sum_all()
        }
        let x = t(&[1.5, 0.5]);
        let g = grad(f, &x).to_vec();
        assert!(
            (g[0] - 2.0 * 1.5 * 0.5).abs() < 1e-12 && (g[1] - (2.25 + 0.5f64.cos())).abs() < 1e-12
        );
        let h = hessian(f, &x);
        assert_eq!(h.shape(), &[2, 2]);
        let hv = h.to_vec();
        let want = [1.0, 3.0, 3.0, -0.5f64.sin()];
        for (a, b) in hv.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{hv:?}");
        }
        let hvp_ = hvp(f, &x, &t(&[1.0, 2.0])).to_vec();
        assert!(
            (hvp_[0] - 7.0).abs() < 1e-12 && (hvp_[1] - (3.0 - 2.0 * 0.5f64.sin())).abs() < 1e-12
        );
    }

    #[test]
    fn jacobian_and_jvp_agree() {
        fn f<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
            x.exp() * x.narrow(0, 0, 1)
        }
        let x = t(&[0.2, -0.4, 1.0]);
        let j = jacobian(f, &x);
        assert_eq!(j.shape(), &[3, 3]);
        let v = t(&[1.0, -2.0, 0.5]);
        let (_, jv) = jvp(f, &x, &v);
        let jm = j.to_vec();
        for i in 0..3 {
            let want: f64 = (0..3).map(|k| jm[i * 3 + k] * v.to_vec()[k]).sum();
            assert!((jv.to_vec()[i] - want).abs() < 1e-12);
        }
        let (_, vj) = vjp(f, &x, &v);
        for k in 0..3 {
            let want: f64 = (0..3).map(|i| v.to_vec()[i] * jm[i * 3 + k]).sum();
            assert!((vj.to_vec()[k] - want).abs() < 1e-12);
        }
    }
}
