//! A small CNN reads real handwritten digits (UCI, 1,797 8×8 images,
//! shipped in `data/digits/`): conv → relu → max-pool → conv → relu →
//! max-pool → dropout → linear, cross-entropy, Adam with warm-up + cosine.
//! Prints progress, test accuracy on a seeded stratified 80/20 split, a
//! confusion matrix, and checks a checkpoint round trip.
//!
//! Run: `cargo run --release --example digits_cnn` (add `--seeds 3` for the
//! mean over three seeds, `--data DIR` for IDX files of your own, e.g.
//! MNIST's `train-images-idx3-ubyte` / `train-labels-idx1-ubyte`).

use mnemon::autograd::Conv2dOptions;
use mnemon::nn::idx::read_idx;
use mnemon::nn::{
    load, save, Conv2d, CosineAnnealing, Dropout, Flatten, LrSchedule, MaxPool2d, Warmup,
};
use mnemon::prelude::*;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use std::path::Path;

/// Images `[N, 1, H, W]` scaled to [0, 1], and their labels.
pub fn load_images(dir: &Path) -> Result<(Tensor, Vec<usize>), Box<dyn std::error::Error>> {
    let (imgs, labels) = if dir.join("train-images-idx3-ubyte").exists() {
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte") // MNIST
    } else {
        ("digits-images.idx3-ubyte", "digits-labels.idx1-ubyte")
    };
    let x = read_idx(dir.join(imgs))?;
    let y = read_idx(dir.join(labels))?;
    let max = f32::from(*x.data.iter().max().unwrap_or(&1)).max(1.0);
    let pixels: Vec<f32> = x.data.iter().map(|&p| f32::from(p) / max).collect();
    let (n, h, w) = (x.dims[0], x.dims[1], x.dims[2]);
    let images = Tensor::from_vec(pixels, &[n, 1, h, w])?;
    Ok((images, y.data.iter().map(|&l| usize::from(l)).collect()))
}

/// A stratified split: `test_share` of each class to the test set.
pub fn split(labels: &[usize], test_share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in 0..=*labels.iter().max().unwrap_or(&0) {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let cut = (rows.len() as f64 * test_share).round() as usize;
        test.extend_from_slice(&rows[..cut]);
        train.extend_from_slice(&rows[cut..]);
    }
    (train, test)
}

/// The network for `[N, 1, h, w]` images (h, w divisible by 4).
pub fn cnn(h: usize, w: usize, seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    let same = Conv2dOptions {
        padding: [1, 1],
        ..Default::default()
    };
    Sequential::new()
        .push(Conv2d::new(1, 16, [3, 3], same, &mut rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(16, 32, [3, 3], same, &mut rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Dropout::new(0.25, seed))
        .push(Linear::new(32 * (h / 4) * (w / 4), 10, &mut rng))
}

/// Trains on `train` rows for `epochs`; returns the model.
pub fn train(
    x: &Tensor,
    y: &[usize],
    rows: &[usize],
    epochs: usize,
    seed: u64,
    log: bool,
) -> Sequential {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let mut model = cnn(h, w, seed);
    let mut opt = Adam::new(3e-3);
    let batch = 32;
    let steps = epochs * rows.len().div_ceil(batch);
    let schedule = Warmup {
        steps: 50,
        then: CosineAnnealing {
            base: 3e-3,
            min: 1e-5,
            total: steps - 50,
        },
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order = rows.to_vec();
    let mut step = 0;
    for epoch in 1..=epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            let tape = Tape::new();
            let xb = tape.constant(x.index_select(0, chunk).expect("rows in range"));
            let yb: Vec<usize> = chunk.iter().map(|&i| y[i]).collect();
            let loss =
                cross_entropy(&model.forward(&xb), &yb, Reduction::Mean).expect("labels 0..10");
            total += loss.item() * chunk.len() as f32;
            let grads = loss.backward_and_free(); // every gradient, by the tape
            schedule.apply(&mut opt, step);
            opt.step(&mut model, &grads);
            step += 1;
        }
        if log && (epoch == 1 || epoch % 5 == 0) {
            println!(
                "epoch {epoch:>3}  loss {:.4}  lr {:.2e}",
                total / rows.len() as f32,
                opt.lr
            );
        }
    }
    model.set_training(false); // dropout off from here on
    model
}

/// Accuracy and the confusion matrix (`[true][predicted]`) on `rows`.
pub fn evaluate(
    model: &Sequential,
    x: &Tensor,
    y: &[usize],
    rows: &[usize],
) -> (f64, [[usize; 10]; 10]) {
    let logits = model.predict(&x.index_select(0, rows).expect("rows in range"));
    let predicted = logits.argmax(1, false).to_vec();
    let mut confusion = [[0usize; 10]; 10];
    for (&i, &p) in rows.iter().zip(&predicted) {
        confusion[y[i]][p as usize] += 1;
    }
    let right: usize = (0..10).map(|c| confusion[c][c]).sum();
    (right as f64 / rows.len() as f64, confusion)
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let dir = value("--data").map_or(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits"),
        Into::into,
    );
    let seeds: u64 = value("--seeds").map_or(Ok(1), |s| s.parse())?;
    let (x, y) = load_images(&dir)?;
    println!(
        "{} images of {:?} from {}",
        y.len(),
        &x.shape()[2..],
        dir.display()
    );
    let mut accuracies = Vec::new();
    for seed in 0..seeds {
        let (train_rows, test_rows) = split(&y, 0.2, seed);
        let started = std::time::Instant::now();
        let model = train(&x, &y, &train_rows, 40, seed, seed == 0);
        let (acc, confusion) = evaluate(&model, &x, &y, &test_rows);
        println!(
            "seed {seed}: test accuracy {:.2} % on {} images ({:.1} s)",
            acc * 100.0,
            test_rows.len(),
            started.elapsed().as_secs_f64()
        );
        if seed == 0 {
            println!("confusion matrix (row: true digit, column: predicted)");
            println!(
                "     {}",
                (0..10).map(|c| format!("{c:>4}")).collect::<String>()
            );
            for (d, row) in confusion.iter().enumerate() {
                println!(
                    "  {d}: {}",
                    row.iter().map(|n| format!("{n:>4}")).collect::<String>()
                );
            }
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mnemon-digits/cnn.safetensors");
            std::fs::create_dir_all(path.parent().expect("has a parent"))?;
            save(&model, &path)?;
            let mut back = cnn(x.shape()[2], x.shape()[3], 99);
            load(&mut back, &path)?;
            back.set_training(false);
            let (again, _) = evaluate(&back, &x, &y, &test_rows);
            println!(
                "checkpoint {} reloaded: accuracy {:.2} % (same: {})",
                path.display(),
                again * 100.0,
                again == acc
            );
        }
        accuracies.push(acc);
    }
    let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
    println!(
        "mean test accuracy over {seeds} seed(s): {:.2} %",
        mean * 100.0
    );
    Ok(())
}
