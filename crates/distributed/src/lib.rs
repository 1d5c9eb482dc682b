//! # mnemon-distributed
//!
//! Data-parallel training for [mnemon](../mnemon/index.html) over MPI
//! (Open MPI from the distribution's packages, through the `mpi` crate,
//! rsmpi): the same training script runs as N processes, on one machine or
//! many (`mpirun -n N`), each on its own part of every batch.
//!
//! - [`Ddp`]: start-up check that all ranks hold the same model, rank 0's
//!   parameters broadcast, gradients averaged with bucketed all-reduce,
//!   checkpoints from rank 0, a panicking rank aborting the job.
//! - [`DistributedSampler`]: each epoch's seeded shuffle split per global
//!   batch into disjoint parts that cover the epoch exactly once.
//!
//! This crate is not a member of the root workspace: building it needs
//! Open MPI (`apt-get install libopenmpi-dev openmpi-bin libclang-dev`),
//! and `cargo test` at the root must work without it. See README,
//! "Training on several processes".
//!
//! ```no_run
//! use mnemon::prelude::*;
//! use mnemon_distributed::{mpi, Ddp};
//! # fn model() -> Sequential { Sequential::new() }
//! # fn batch(rank: usize) -> (Tensor, Vec<usize>) { unimplemented!() }
//! let universe = mpi::initialize().expect("MPI initialises once");
//! let mut net = model();
//! let mut ddp = Ddp::new(universe.world(), &mut net).expect("same model on every rank");
//! let mut opt = Sgd::new(0.1);
//! let (x, labels) = batch(ddp.rank());
//! let tape = Tape::new();
//! let loss = cross_entropy(&net.forward(&tape.constant(x)), &labels, Reduction::Mean).unwrap();
//! let mut grads = loss.backward();
//! ddp.average_grads(&net, &mut grads, labels.len());
//! opt.step(&mut net, &grads);
//! ```
//!
//! ## Expected scaling, on paper
//!
//! Ring all-reduce moves `2(p−1)/p × S` bytes in and out of each process
//! for `S` bytes of gradient (reduce-scatter, then all-gather), so its
//! time on a link of bandwidth `B` is about `2(p−1)/p × S/B` plus
//! `2(p−1)` message latencies (~5 µs each on TCP/Ethernet, ~1 µs on
//! InfiniBand). With gradients in f32:
//!
//! | model | S | p | 10 Gb/s (1.25 GB/s) | 100 Gb/s (12.5 GB/s) |
//! |---|---|---|---|---|
//! | W3 MLP (784·256 + 256·256 + 256·10 + biases = 269,322 params) | 1.08 MB | 8 | 1.51 ms + 0.07 ms | 0.15 ms + 0.07 ms |
//! | | | 64 | 1.70 ms + 0.63 ms | 0.17 ms + 0.63 ms |
//! | digits CNN (160 + 4,640 + 1,290 params = 6,090) | 24.4 kB | 8 | 0.034 ms + 0.07 ms | 0.003 ms + 0.07 ms |
//! | | | 64 | 0.038 ms + 0.63 ms | 0.004 ms + 0.63 ms |
//!
//! (latency counted at 5 µs per message, TCP; InfiniBand's ~1 µs divides
//! that column by 5). Against W3's ~2 ms of compute per step per process
//! (batch 128 on each), and with the all-reduce after backward (not
//! overlapped with it, as PyTorch's buckets are), W3 keeps about
//! 2/(2 + 1.58) = 56 % efficiency at 8 machines and 46 % at 64 on
//! 10 Gb/s, 90 % and 71 % on 100 Gb/s: its gradient is large next to its
//! compute. The digits CNN's gradient is tiny, so its all-reduce is all
//! latency — ~0.1 ms at 8 machines, ~0.7 ms at 64, on either link — and
//! it scales while each rank's batch keeps a step well above a
//! millisecond. That is where bucketing counts: one message instead of
//! one per parameter tensor (6 for the digits CNN) divides the latency
//! term by 6.
#![warn(missing_docs)]

mod ddp;
pub mod digits;
mod error;
mod sampler;

pub use ddp::{Ddp, DEFAULT_BUCKET_BYTES};
pub use error::DistError;
pub use mpi;
pub use sampler::DistributedSampler;
