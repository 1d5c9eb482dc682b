//! All integration tests of this package in one binary: each test file
//! is a module here, so the library's generic code is compiled (and
//! optimised) once, not once per file — a fresh `cargo test` builds
//! several times faster.

mod char_transformer;
mod digits_cnn;
mod readme;
mod remember;
mod textbook_xor;
mod xor;
