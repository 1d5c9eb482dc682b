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
