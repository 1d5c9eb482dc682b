//! All integration tests of this package in one binary: each test file
//! is a module here, so the library's generic code is compiled (and
//! optimised) once, not once per file — a fresh `cargo test` builds
//! several times faster.

// Tests include the examples they check (`#[path]`), and two of those
// include the shared `examples/common`: the module layout this makes is
// deliberate.
#![allow(clippy::duplicate_mod, clippy::module_inception)]

mod char_transformer;
mod digits_cnn;
mod pictures;
mod readme;
mod remember;
mod textbook_xor;
mod xor;
