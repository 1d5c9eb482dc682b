//! Multi-process tests. Run as `cargo test`, this binary launches itself
//! under `mpirun` once per scenario (with a timeout: a hang fails) and
//! checks each job's outcome; launched by `mpirun`, it runs the scenario
//! named in `MNEMON_MPI_SCENARIO` on its rank.

use mnemon::prelude::*;
use mnemon_distributed::digits::{load_digits, loss_and_grads, mlp, take};
use mnemon_distributed::{mpi, Ddp, DistError, DistributedSampler};
use std::process::Command;
use std::time::{Duration, Instant};

const SCENARIO: &str = "MNEMON_MPI_SCENARIO";

fn main() {
    match std::env::var(SCENARIO) {
        Ok(s) => run_rank(&s),
        Err(_) => launch_all(),
    }
}

/// The parent: every scenario under `mpirun`, with what each must give.
fn launch_all() {
    let t = Instant::now();
    // equivalence with one process of the global batch: 2 ranks with even
    // parts, 3 ranks with uneven parts and an uneven last batch
    for n in [2, 3] {
        let out = mpirun(n, "equivalence", Duration::from_secs(120));
        assert!(out.0, "equivalence on {n} ranks failed:\n{}", out.1);
        println!("equivalence, {n} ranks: ok\n{}", out.1.trim());
    }
    let out = mpirun(2, "mismatch", Duration::from_secs(60));
    assert!(
        out.0,
        "mismatched models were not reported on every rank:\n{}",
        out.1
    );
    assert_eq!(out.1.matches("reported mismatch").count(), 2, "{}", out.1);
    println!("mismatched models: reported on both ranks");
    let start = Instant::now();
    let out = mpirun(2, "panic", Duration::from_secs(60));
    let took = start.elapsed();
    assert!(!out.0, "a panicking rank must fail the job:\n{}", out.1);
    assert!(
        took < Duration::from_secs(20),
        "the job took {took:?} to end after a panic"
    );
    assert!(
        !out.1.contains("rank 0 finished"),
        "rank 0 must not finish:\n{}",
        out.1
    );
    println!(
        "panicking rank: job ended non-zero in {:.1} s",
        took.as_secs_f64()
    );
    println!(
        "mpi: all scenarios passed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// Runs this binary on `n` ranks for `scenario`: (success, output), or a
/// failure when it runs past `limit` (killed).
fn mpirun(n: usize, scenario: &str, limit: Duration) -> (bool, String) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new("mpirun")
        .args([
            "-n",
            &n.to_string(),
            "--oversubscribe",
            "--allow-run-as-root",
        ])
        .arg(exe)
        .env(SCENARIO, scenario)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mpirun runs (Open MPI installed: see README)");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            panic!("{scenario} on {n} ranks still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (status.success(), text)
}

/// One rank's part of `scenario`.
fn run_rank(scenario: &str) {
    let universe = mpi::initialize().expect("MPI initialises once");
    let world = universe.world();
    let rank = mpi::traits::Communicator::rank(&world) as usize;
    match scenario {
        "equivalence" => equivalence(world, rank),
        "mismatch" => {
            // rank 1's hidden layer is wider: same names, other shapes
            let mut model = mlp(if rank == 1 { 17 } else { 16 }, 1);
            match Ddp::new(world, &mut model) {
                Err(DistError::ModelMismatch { rank: 1, .. }) => {
                    println!("rank {rank} reported mismatch")
                }
                Err(e) => panic!("rank {rank}: wrong error {e}"),
                Ok(_) => panic!("rank {rank}: mismatched models accepted"),
            }
        }
        "panic" => {
            let (x, labels) = load_digits().expect("digits");
            let mut model = mlp(16, 1);
            let mut ddp = Ddp::new(world, &mut model).expect("same model");
            let mut opt = Sgd::new(0.1);
            let sampler = DistributedSampler::new(labels.len(), ddp.world_size(), rank, 3);
            for (step, idx) in sampler.batches(0, 32).iter().enumerate() {
                if rank == 1 && step == 3 {
                    panic!("rank 1 fails at step 3 (on purpose)");
                }
                let (bx, by) = take(&x, &labels, idx);
                let tape = Tape::new();
                let (_, mut grads) = loss_and_grads(&tape, &model, &bx, &by);
                ddp.average_grads(&model, &mut grads, by.len());
                opt.step(&mut model, &grads);
            }
            println!("rank {rank} finished");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// k steps of data-parallel SGD against one process taking the global
/// batch: the parameters must agree to 1e-6 of their largest magnitude.
fn equivalence(world: mpi::topology::SimpleCommunicator, rank: usize) {
    let (x, labels) = load_digits().expect("digits");
    // 100 samples in global batches of 16: 6 full batches and one of 4
    let (n, global) = (100, 16);
    // each rank starts from its own seed: the broadcast must make them equal
    let mut model = mlp(16, 10 + rank as u64);
    let mut ddp = Ddp::new(world, &mut model).expect("same model");
    let world_size = ddp.world_size();
    let mut opt = Sgd::new(0.5);
    let sampler = DistributedSampler::new(n, world_size, rank, 5);
    let batches = sampler.batches(0, global);
    for idx in &batches {
        let (bx, by) = take(&x, &labels, idx);
        let tape = Tape::new();
        let (_, mut grads) = loss_and_grads(&tape, &model, &bx, &by);
        let total = ddp.average_grads(&model, &mut grads, by.len());
        assert!(
            total == global || total == n % global,
            "global batch {total}"
        );
        opt.step(&mut model, &grads);
    }
    let path = std::env::temp_dir().join(format!("mnemon-ddp-{}.safetensors", std::process::id()));
    ddp.save(&model, &path)
        .expect("rank 0 writes the checkpoint");
    if rank != 0 {
        return;
    }
    // one process, batch 16, the same samples in the same order
    let mut single = mlp(16, 10);
    let mut opt = Sgd::new(0.5);
    let order = DistributedSampler::new(n, 1, 0, 5).batches(0, global);
    for idx in &order {
        let (bx, by) = take(&x, &labels, idx);
        let tape = Tape::new();
        let (_, grads) = loss_and_grads(&tape, &single, &bx, &by);
        opt.step(&mut single, &grads);
    }
    let (mut worst, mut scale) = (0.0f64, 0.0f64);
    let (a, b) = (model.named_params(), single.named_params());
    for ((na, pa), (nb, pb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        for (u, v) in pa.value.to_vec().iter().zip(pb.value.to_vec()) {
            worst = worst.max((*u as f64 - v as f64).abs());
            scale = scale.max((v as f64).abs());
        }
    }
    let rel = worst / scale;
    println!(
        "{world_size} ranks, {} steps, batch parts {:?}…: max |Δparam| = {worst:.3e}, relative {rel:.3e}",
        batches.len(),
        (0..world_size).map(|r| DistributedSampler::new(n, world_size, r, 5).batches(0, global)[0].len()).collect::<Vec<_>>()
    );
    assert!(
        rel <= 1e-6,
        "data-parallel and single-process parameters differ by {rel:e}"
    );
    // the checkpoint rank 0 wrote holds these parameters
    let mut restored = mlp(16, 99);
    mnemon::nn::load(&mut restored, &path).expect("checkpoint loads");
    for ((_, p), (_, q)) in restored.named_params().iter().zip(&a) {
        assert_eq!(p.value.to_vec(), q.value.to_vec(), "checkpoint differs");
    }
    std::fs::remove_file(&path).ok();
    println!("rank 0 checkpoint round trip: ok");
}
