//! All integration tests of this package in one binary: each test file
//! is a module here, so the library's generic code is compiled (and
//! optimised) once, not once per file — a fresh `cargo test` builds
//! several times faster.

mod approx;
mod attention;
mod conv;
mod fuse;
mod hardening;
mod norm;
mod reference;
mod stale;
mod transpose;
mod view_chains;
mod window;
