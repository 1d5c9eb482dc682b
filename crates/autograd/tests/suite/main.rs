//! All integration tests of this package in one binary: each test file
//! is a module here, so the library's generic code is compiled (and
//! optimised) once, not once per file — a fresh `cargo test` builds
//! several times faster.

mod absorbed_add;
mod conv;
mod gradients;
mod hardening;
mod in_place;
mod model_ops;
