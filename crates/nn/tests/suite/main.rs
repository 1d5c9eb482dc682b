//! All integration tests of this package in one binary: each test file
//! is a module here, so the library's generic code is compiled (and
//! optimised) once, not once per file — a fresh `cargo test` builds
//! several times faster.

mod checkpoints;
mod derive;
mod group_norm;
mod hardening;
mod layers;
mod losses;
mod recurrent;
mod torch_fixtures;
mod training;
