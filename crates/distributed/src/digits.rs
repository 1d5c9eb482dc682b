//! The UCI digits as flat 64-pixel rows, and the small models the example
//! and the multi-process tests train on them.

use mnemon::nn::idx::read_idx;
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::path::Path;

/// The 1,797 digits shipped in the repository's `data/digits/`: images as
/// `[N, 64]` rows scaled to [0, 1], and their labels.
///
/// # Errors
/// When the files cannot be read or parsed.
pub fn load_digits() -> Result<(Tensor, Vec<usize>), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/digits");
    let x = read_idx(dir.join("digits-images.idx3-ubyte"))?;
    let y = read_idx(dir.join("digits-labels.idx1-ubyte"))?;
    let n = x.dims[0];
    let pixels: Vec<f32> = x.data.iter().map(|&p| f32::from(p) / 16.0).collect();
    let rows = Tensor::from_vec(pixels, &[n, x.data.len() / n.max(1)])?;
    Ok((rows, y.data.iter().map(|&l| usize::from(l)).collect()))
}

/// A 64 → `hidden` → 10 MLP with tanh, initialised from `seed`.
pub fn mlp(hidden: usize, seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(64, hidden, &mut rng))
        .push(Tanh)
        .push(Linear::new(hidden, 10, &mut rng))
}

/// The rows `idx` of `x` and their labels.
pub fn take(x: &Tensor, labels: &[usize], idx: &[usize]) -> (Tensor, Vec<usize>) {
    let rows = x
        .index_select(0, idx)
        .expect("indices from the sampler are in range");
    (rows, idx.iter().map(|&i| labels[i]).collect())
}

/// Mean cross-entropy of `model` on `(x, labels)` and its gradients; the
/// tape is the caller's.
pub fn loss_and_grads<'t>(
    tape: &'t Tape,
    model: &Sequential,
    x: &Tensor,
    labels: &[usize],
) -> (f32, mnemon::autograd::Grads<'t>) {
    let logits = model.forward(&tape.constant(x.clone()));
    // a rank without samples this step contributes a zero gradient (the
    // mean over nothing would be NaN)
    let reduction = if labels.is_empty() {
        Reduction::Sum
    } else {
        Reduction::Mean
    };
    let loss = cross_entropy(&logits, labels, reduction).expect("labels in 0..10");
    (loss.item(), loss.backward())
}
