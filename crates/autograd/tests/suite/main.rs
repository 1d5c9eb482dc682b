//! All integration tests of this package in one binary: each test file
//! is a module here, so the library's generic code is compiled (and
//! optimised) once, not once per file — a fresh `cargo test` builds
//! several times faster.

use mnemon_autograd::check::Tolerance;
use mnemon_tensor::Tensor;

mod absorbed_add;
mod conv;
mod gradients;
mod hardening;
mod in_place;
mod model_ops;
mod owned_activation;
mod rectifiers;

/// A 1-D f64 tensor holding `v`.
fn t(v: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

/// The finite-difference tolerance of the gradient checks of chains of
/// scalar ops (`in_place`, `absorbed_add`).
const TOL: Tolerance = Tolerance {
    eps: 1e-6,
    atol: 1e-6,
    rtol: 1e-5,
};

/// The finite-difference tolerance of the smooth ops' checks
/// (`model_ops`, `rectifiers`).
fn tol() -> Tolerance {
    Tolerance {
        eps: 1e-6,
        atol: 1e-5,
        rtol: 1e-4,
    }
}

/// `gradcheck` then `gradgradcheck` of `f`, as a proptest outcome.
fn both<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), proptest::test_runner::TestCaseError>
where
    F: for<'t> Fn(&[mnemon_autograd::Var<'t, f64>]) -> mnemon_autograd::Var<'t, f64> + Copy,
{
    use mnemon_autograd::check::{gradcheck, gradgradcheck};
    use proptest::test_runner::TestCaseError;
    gradcheck(f, inputs, tol()).map_err(|e| TestCaseError::fail(format!("1st: {e}")))?;
    gradgradcheck(f, inputs, tol()).map_err(|e| TestCaseError::fail(format!("2nd: {e}")))
}
