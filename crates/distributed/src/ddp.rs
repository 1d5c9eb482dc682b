//! `Ddp`: the same model on every rank kept equal by averaging gradients.

use crate::DistError;
use mnemon::autograd::Grads;
use mnemon::nn::{GradsParamExt, Module, Param};
use mnemon::tensor::{Element, Tensor};
use mpi::collective::SystemOperation;
use mpi::datatype::Equivalence;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::time::{Duration, Instant};

/// PyTorch DDP's default bucket: 25 MiB.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Data-parallel training over MPI, as PyTorch's
/// `DistributedDataParallel`: every rank holds the same model, trains on
/// its own part of each batch, and before each optimizer step the
/// gradients are averaged across ranks, so every rank takes the same step.
///
/// - [`Ddp::new`] checks once that all ranks hold the same model (names,
///   shapes, dtype, frozen flags: a clear [`DistError`] on every rank, not
///   a hang), then broadcasts rank 0's parameters;
/// - [`Ddp::average_grads`] all-reduces the gradients, flattened into few
///   large buckets (one message per bucket instead of one per parameter),
///   weighting each rank by its number of samples so that uneven batches
///   give exactly the gradient of the mean loss over the global batch;
/// - [`Ddp::save`] writes a checkpoint from rank 0 only.
///
/// It also installs a panic hook: a rank that panics aborts the whole job
/// (`MPI_Abort`) instead of leaving the others waiting in a collective.
pub struct Ddp {
    world: SimpleCommunicator,
    bucket_bytes: usize,
    reduce_time: Duration,
    reduces: u64,
}

impl Ddp {
    /// Joins `world` with `model`: compares every rank's model signature
    /// (one all-gather of a 64-bit hash), then copies rank 0's parameter
    /// values to every rank (one broadcast).
    ///
    /// # Errors
    /// [`DistError::ModelMismatch`] on every rank when any rank's model
    /// differs from rank 0's.
    pub fn new<T, M>(world: SimpleCommunicator, model: &mut M) -> Result<Self, DistError>
    where
        T: Element + Equivalence,
        M: Module<T> + ?Sized,
    {
        abort_job_on_panic();
        let sig = signature(model);
        let mut hashes = vec![0u64; world.size() as usize];
        world.all_gather_into(&fnv1a(sig.as_bytes()), &mut hashes[..]);
        if let Some(rank) = hashes.iter().position(|&h| h != hashes[0]) {
            // rank 0's signature for the message, on every rank
            let mut len = sig.len() as u64;
            let root = world.process_at_rank(0);
            root.broadcast_into(&mut len);
            let mut bytes = sig.into_bytes();
            bytes.resize(len as usize, b' ');
            root.broadcast_into(&mut bytes[..]);
            let rank0 = String::from_utf8_lossy(&bytes).into_owned();
            return Err(DistError::ModelMismatch { rank, rank0 });
        }
        let mut flat: Vec<T> = Vec::new();
        model.visit("", &mut |_, p| flat.extend(p.value.to_vec()));
        world.process_at_rank(0).broadcast_into(&mut flat[..]);
        let mut at = 0;
        model.visit_mut("", &mut |_, p| {
            let n = p.value.numel();
            p.value = Tensor::from_vec(flat[at..at + n].to_vec(), p.shape()).expect("same shape");
            at += n;
        });
        Ok(Ddp {
            world,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
            reduce_time: Duration::ZERO,
            reduces: 0,
        })
    }

    /// Sets the bucket size in bytes (at least one parameter goes in each
    /// bucket; `0` gives one all-reduce per parameter, no bucketing).
    pub fn bucket_bytes(mut self, bytes: usize) -> Self {
        self.bucket_bytes = bytes;
        self
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.world.size() as usize
    }

    /// The communicator.
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Replaces each trainable parameter's gradient in `grads` by the
    /// average over ranks weighted by samples, `Σ_r b_r·g_r / Σ_r b_r`
    /// (`local_samples` is this rank's `b_r`; a rank with no samples
    /// this step, or a parameter without a gradient, adds zeros): the
    /// gradient of the mean loss over the global batch when each rank's
    /// loss is the mean over its own samples. Returns `Σ_r b_r`.
    pub fn average_grads<T, M>(
        &mut self,
        model: &M,
        grads: &mut Grads<'_, T>,
        local_samples: usize,
    ) -> usize
    where
        T: Element + Equivalence,
        M: Module<T> + ?Sized,
    {
        let start = Instant::now();
        let mut params: Vec<Param<T>> = Vec::new();
        model.visit("", &mut |_, p| {
            if p.requires_grad {
                params.push(p.clone());
            }
        });
        let w = T::of_usize(local_samples);
        // buckets of consecutive params; the sample count rides along
        // with the first bucket
        let max = (self.bucket_bytes / std::mem::size_of::<T>()).max(1);
        let mut total = None;
        let mut i = 0;
        while i < params.len() || total.is_none() {
            let mut j = i;
            let mut len = 0;
            while j < params.len() && (j == i || len + params[j].value.numel() <= max) {
                len += params[j].value.numel();
                j += 1;
            }
            let mut send: Vec<T> = Vec::with_capacity(len + 1);
            for p in &params[i..j] {
                match grads.param(p) {
                    Some(g) => send.extend(g.to_vec().into_iter().map(|x| x * w)),
                    None => send.resize(send.len() + p.value.numel(), T::zero()),
                }
            }
            if total.is_none() {
                send.push(w);
            }
            let mut recv = vec![T::zero(); send.len()];
            self.world
                .all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
            if total.is_none() {
                total = recv.pop();
            }
            let all = total.expect("set by the first bucket");
            let mut at = 0;
            for p in &params[i..j] {
                let n = p.value.numel();
                let avg: Vec<T> = recv[at..at + n].iter().map(|&x| x / all).collect();
                grads.set_param(p, Tensor::from_vec(avg, p.shape()).expect("same shape"));
                at += n;
            }
            i = j;
        }
        self.reduce_time += start.elapsed();
        self.reduces += 1;
        total.map_or(0, |t| t.as_f64().round() as usize)
    }

    /// Mean wall time of [`Ddp::average_grads`] so far (packing, the
    /// all-reduces and unpacking).
    pub fn mean_reduce_time(&self) -> Duration {
        if self.reduces == 0 {
            Duration::ZERO
        } else {
            self.reduce_time / self.reduces as u32
        }
    }

    /// Writes `model` to `path` from rank 0 only (the models are equal),
    /// with mnemon's atomic save; every rank waits for it and gets its
    /// outcome.
    ///
    /// # Errors
    /// [`DistError::Checkpoint`] on every rank when rank 0's write failed.
    pub fn save<T, M>(&self, model: &M, path: impl AsRef<std::path::Path>) -> Result<(), DistError>
    where
        T: Element,
        M: Module<T> + ?Sized,
    {
        let mut status = 0u8;
        let mut message = String::new();
        if self.rank() == 0 {
            if let Err(e) = mnemon::nn::save(model, path) {
                status = 1;
                message = e.to_string();
            }
        }
        self.world.process_at_rank(0).broadcast_into(&mut status);
        if status == 0 {
            Ok(())
        } else {
            Err(DistError::Checkpoint(if message.is_empty() {
                "see rank 0's error".into()
            } else {
                message
            }))
        }
    }
}

/// `name:shape:dtype:trainable` per parameter, in visiting order.
fn signature<T: Element, M: Module<T> + ?Sized>(model: &M) -> String {
    let mut s = String::new();
    model.visit("", &mut |name, p| {
        s.push_str(&format!(
            "{name}:{:?}:{}:{}\n",
            p.shape(),
            T::DTYPE,
            p.requires_grad
        ));
    });
    s
}

/// FNV-1a, 64 bits: a stable hash (the same on every machine and build).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// After the usual panic message, `MPI_Abort` the whole job: the other
/// ranks are killed instead of waiting forever in their next collective.
fn abort_job_on_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!("mnemon-distributed: a rank panicked; aborting the MPI job");
            SimpleCommunicator::world().abort(101);
        }));
    });
}
