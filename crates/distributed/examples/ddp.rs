//! Data-parallel training over MPI: the UCI digits MLP trained on N ranks.
//! Each rank trains on its part of every global batch; gradients are
//! averaged with bucketed all-reduce before each step; rank 0 evaluates
//! and writes the checkpoint.
//!
//! Run (from `crates/distributed`):
//! `cargo build --release --example ddp && mpirun -n 2 --oversubscribe target/release/examples/ddp`
//! (add `--allow-run-as-root` as root). `-- --w3` instead times W3
//! (784→256→256→10, batch 128 in all) steps per second and the all-reduce
//! with and without bucketing.

use mnemon::prelude::*;
use mnemon_distributed::digits::{load_digits, loss_and_grads, mlp, take};
use mnemon_distributed::mpi::traits::*;
use mnemon_distributed::{mpi, Ddp, DistributedSampler};
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let universe = mpi::initialize().ok_or("MPI is already initialised")?;
    if std::env::args().any(|a| a == "--w3") {
        return w3(universe.world());
    }
    let (x, labels) = load_digits()?;
    // the same seeded split on every rank: 1,437 to train, 360 to test
    let order = DistributedSampler::new(labels.len(), 1, 0, 42).epoch_order(0);
    let (train, test) = order.split_at(labels.len() - 360);
    let (xtr, ytr) = take(&x, &labels, train);
    let (xte, yte) = take(&x, &labels, test);

    let world = universe.world();
    let rank = world.rank() as usize;
    let mut model = mlp(64, 7 + rank as u64); // rank 0's weights win the broadcast
    let mut ddp = Ddp::new(world, &mut model)?;
    let mut opt = Adam::new(1e-2);
    let sampler = DistributedSampler::new(train.len(), ddp.world_size(), rank, 1);
    let (epochs, global_batch) = (30, 64);
    let (start, mut seen) = (Instant::now(), 0usize);
    for epoch in 0..epochs {
        let mut total = 0.0;
        for idx in sampler.batches(epoch, global_batch) {
            let (bx, by) = take(&xtr, &ytr, &idx);
            let tape = Tape::new();
            let (loss, mut grads) = loss_and_grads(&tape, &model, &bx, &by);
            ddp.average_grads(&model, &mut grads, by.len());
            opt.step(&mut model, &grads);
            total += loss as f64 * by.len() as f64;
            seen += by.len();
        }
        if rank == 0 && (epoch + 1) % 10 == 0 {
            println!(
                "epoch {:>2}: rank 0's mean training loss {:.4}",
                epoch + 1,
                total / (train.len() as f64 / ddp.world_size() as f64)
            );
        }
    }
    let rate = seen as f64 / start.elapsed().as_secs_f64();
    let mut rates = vec![0.0f64; ddp.world_size()];
    ddp.world().all_gather_into(&rate, &mut rates[..]);
    if rank == 0 {
        for (r, v) in rates.iter().enumerate() {
            println!("rank {r}: {v:.0} samples/s");
        }
        println!(
            "mean all-reduce per step: {:.3} ms",
            ddp.mean_reduce_time().as_secs_f64() * 1e3
        );
        let tape = Tape::new();
        let logits = model.forward(&tape.constant(xte.clone()));
        let loss = cross_entropy(&logits, &yte, Reduction::Mean)?.item();
        let pred = logits.value().argmax(1, false).to_vec();
        let right = pred
            .iter()
            .zip(&yte)
            .filter(|(p, &y)| **p as usize == y)
            .count();
        println!(
            "test loss {loss:.4}, accuracy {:.2} % ({right}/{})",
            100.0 * right as f64 / yte.len() as f64,
            yte.len()
        );
    }
    let path = std::env::temp_dir().join("mnemon-ddp-digits.safetensors");
    ddp.save(&model, &path)?;
    if rank == 0 {
        println!("checkpoint written by rank 0: {}", path.display());
    }
    Ok(())
}

/// W3 steps per second on this job, and the mean all-reduce time per step
/// with PyTorch's 25 MiB buckets (all of W3 in one message) and with one
/// message per parameter.
fn w3(world: mpi::topology::SimpleCommunicator) -> Result<(), Box<dyn std::error::Error>> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let mut rng = StdRng::seed_from_u64(3);
    let mut model = Sequential::new()
        .push(Linear::new(784, 256, &mut rng))
        .push(Sigmoid)
        .push(Linear::new(256, 256, &mut rng))
        .push(Sigmoid)
        .push(Linear::new(256, 10, &mut rng));
    let local = 128 / size + usize::from(rank < 128 % size);
    let x = Tensor::<f32>::randn(&[local, 784], &mut rng);
    let y = Tensor::<f32>::randn(&[local, 10], &mut rng);
    let mut ddp = Some(Ddp::new(world, &mut model)?);
    let mut opt = Sgd::new(0.1);
    for (label, bucket) in [
        ("25 MiB buckets", mnemon_distributed::DEFAULT_BUCKET_BYTES),
        ("one message per parameter", 0),
    ] {
        let mut d = ddp.take().expect("set").bucket_bytes(bucket);
        let steps = 300;
        let start = Instant::now();
        let (mut reduce, mut wait) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        for _ in 0..steps {
            let tape = Tape::new();
            let loss = mse(
                &model.forward(&tape.constant(x.clone())),
                &tape.constant(y.clone()),
                Reduction::Mean,
            );
            let mut grads = loss.backward();
            // waiting for the slowest rank, timed apart from the all-reduce
            let t = Instant::now();
            d.world().barrier();
            wait += t.elapsed();
            let t = Instant::now();
            d.average_grads(&model, &mut grads, local);
            reduce += t.elapsed();
            opt.step(&mut model, &grads);
        }
        let secs = start.elapsed().as_secs_f64();
        if rank == 0 {
            println!(
                "W3 on {size} process(es) × {} thread(s), {label}: {:.0} steps/s, all-reduce {:.3} ms per step (+ {:.3} ms waiting for the slowest rank)",
                rayon::current_num_threads(),
                steps as f64 / secs,
                reduce.as_secs_f64() * 1e3 / steps as f64,
                wait.as_secs_f64() * 1e3 / steps as f64
            );
        }
        ddp = Some(d);
    }
    Ok(())
}
