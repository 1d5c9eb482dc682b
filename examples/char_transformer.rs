//! A tiny character-level transformer learns the text of this project's
//! tutorial (`docs/tutorial.md`): token + position embeddings, two pre-norm
//! encoder layers with a causal mask, a linear head, cross-entropy on the
//! next character. Prints the loss falling below the unigram entropy (what
//! a model that ignores context can reach) and a sample.
//!
//! Run: `cargo run --release --example char_transformer`

use mnemon::autograd::causal_mask;
use mnemon::nn::{
    CosineAnnealing, Embedding, LayerNorm, LrSchedule, TransformerEncoderLayer, Warmup,
};
use mnemon::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The model: embeddings, encoder layers, final norm, head.
#[derive(Clone, mnemon::nn::Module)]
pub struct CharModel {
    tok: Embedding,
    pos: Embedding,
    layers: Vec<TransformerEncoderLayer>,
    norm: LayerNorm,
    head: Linear,
    #[module(skip)]
    context: usize,
}

impl CharModel {
    /// A model over `vocab` characters with `context` positions.
    pub fn new(vocab: usize, context: usize, rng: &mut StdRng) -> Self {
        let d = 64;
        CharModel {
            tok: Embedding::new(vocab, d, rng),
            pos: Embedding::new(context, d, rng),
            layers: (0..2)
                .map(|_| TransformerEncoderLayer::new(d, 4, 4 * d, rng))
                .collect(),
            norm: LayerNorm::new(&[d]),
            head: Linear::new(d, vocab, rng),
            context,
        }
    }

    /// Next-character logits `[B·L, vocab]` for token ids `[B, L]`.
    pub fn logits<'t>(&self, tape: &'t Tape, ids: &[usize], b: usize, l: usize) -> Var<'t, f32> {
        let positions: Vec<usize> = (0..l).collect();
        let x = &self.tok.lookup(tape, ids, &[b, l]).expect("ids < vocab")
            + &self
                .pos
                .lookup(tape, &positions, &[l])
                .expect("l <= context");
        let mask = causal_mask(l);
        let mut h = x;
        for layer in &self.layers {
            h = layer.forward_masked(&h, Some(&mask));
        }
        let y = self.head.forward(&self.norm.forward(&h));
        let v = y.shape()[2];
        y.reshape(&[b * l, v]).expect("same count")
    }

    /// `Module::forward` is not used: the input is token ids.
    pub fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        x.clone()
    }
}

/// The text as ids, the alphabet, and the unigram entropy in nats.
pub fn corpus() -> (Vec<usize>, Vec<char>, f64) {
    let text = include_str!("../docs/tutorial.md");
    let mut alphabet: Vec<char> = text.chars().collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    let ids: Vec<usize> = text
        .chars()
        .map(|c| alphabet.binary_search(&c).expect("in alphabet"))
        .collect();
    let mut counts = vec![0usize; alphabet.len()];
    ids.iter().for_each(|&i| counts[i] += 1);
    let n = ids.len() as f64;
    let entropy = -counts
        .iter()
        .map(|&c| c as f64 / n)
        .map(|p| p * p.ln())
        .sum::<f64>();
    (ids, alphabet, entropy)
}

/// Trains for `steps` on random windows; returns the model and the mean
/// loss of the last 20 steps.
pub fn train(
    ids: &[usize],
    vocab: usize,
    steps: usize,
    batch: usize,
    seed: u64,
    log: bool,
) -> (CharModel, f32) {
    let context = 64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = CharModel::new(vocab, context, &mut rng);
    let mut opt = Adam::adamw(3e-3, 0.01);
    let schedule = Warmup {
        steps: 30,
        then: CosineAnnealing {
            base: 3e-3,
            min: 1e-4,
            total: steps.saturating_sub(30),
        },
    };
    let mut recent = Vec::new();
    for step in 0..steps {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for _ in 0..batch {
            let at = rng.random_range(0..ids.len() - context - 1);
            xs.extend_from_slice(&ids[at..at + context]);
            ys.extend_from_slice(&ids[at + 1..at + context + 1]);
        }
        let tape = Tape::new();
        let loss = cross_entropy(
            &model.logits(&tape, &xs, batch, context),
            &ys,
            Reduction::Mean,
        )
        .expect("ids < vocab");
        let grads = loss.backward_and_free();
        schedule.apply(&mut opt, step);
        opt.step(&mut model, &grads);
        recent.push(loss.item());
        if recent.len() > 20 {
            recent.remove(0);
        }
        if log && (step % 50 == 0 || step + 1 == steps) {
            println!("step {step:>4}  loss {:.3} nats/char", loss.item());
        }
    }
    let mean = recent.iter().sum::<f32>() / recent.len() as f32;
    (model, mean)
}

/// `n` characters sampled after `prompt` (temperature 0.8).
pub fn sample(
    model: &CharModel,
    alphabet: &[char],
    prompt: &str,
    n: usize,
    rng: &mut StdRng,
) -> String {
    let mut ids: Vec<usize> = prompt
        .chars()
        .filter_map(|c| alphabet.binary_search(&c).ok())
        .collect();
    for _ in 0..n {
        let window = &ids[ids.len().saturating_sub(model.context)..];
        let tape = Tape::new();
        let logits = tape.no_grad(|| model.logits(&tape, window, 1, window.len()));
        let v = alphabet.len();
        let last = logits
            .value()
            .narrow(0, window.len() - 1, 1)
            .map(|z| z / 0.8)
            .softmax(1)
            .to_vec();
        let mut u: f32 = rng.random();
        let mut pick = v - 1;
        for (i, p) in last.iter().enumerate() {
            if u < *p {
                pick = i;
                break;
            }
            u -= p;
        }
        ids.push(pick);
    }
    ids.iter().map(|&i| alphabet[i]).collect()
}

#[allow(dead_code)]
fn main() {
    let (ids, alphabet, entropy) = corpus();
    println!(
        "{} characters, {} distinct; unigram entropy {entropy:.3} nats/char",
        ids.len(),
        alphabet.len()
    );
    let started = std::time::Instant::now();
    let (model, loss) = train(&ids, alphabet.len(), 400, 16, 0, true);
    println!(
        "final loss {loss:.3} nats/char vs unigram entropy {entropy:.3} ({:.0} % below), {:.1} s",
        (1.0 - loss as f64 / entropy) * 100.0,
        started.elapsed().as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(1);
    println!(
        "sample:\n{}",
        sample(&model, &alphabet, "The tape ", 200, &mut rng)
    );
}
