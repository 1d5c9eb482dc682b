//! Modules written by PyTorch 2.15 (`tests/suite/fixtures/torch/`, see its
//! README): built here with the same structure, loaded from PyTorch's
//! `state_dict` by PyTorch's names, they reproduce PyTorch's outputs to
//! 1e-5 of the largest output.

use mnemon_autograd::{causal_mask, Conv1dOptions, Conv2dOptions, Tape, Var};
use mnemon_nn::*;
use mnemon_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/suite/fixtures/torch")
        .join(name)
}

/// `input.x` (or another input) and `output` of a fixture, as f32 tensors.
fn io(name: &str, input: &str) -> (Tensor, Tensor) {
    let bytes = std::fs::read(fixture(&format!("{name}.io.safetensors"))).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let read = |n: &str| {
        let v = st.tensor(n).unwrap();
        let data: Vec<f32> = v
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Tensor::from_vec(data, v.shape()).unwrap()
    };
    let x = if st.tensor(input).unwrap().dtype() == safetensors::Dtype::F32 {
        read(input)
    } else {
        Tensor::zeros(&[0])
    };
    (x, read("output"))
}

fn assert_matches(got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape());
    let scale = want.to_vec().iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = got
        .to_vec()
        .iter()
        .zip(want.to_vec())
        .fold(0f32, |m, (g, w)| m.max((g - w).abs()));
    assert!(
        worst <= 1e-5 * scale,
        "max error {worst} vs max |output| {scale}"
    );
}

#[derive(Clone, Module)]
struct DigitsCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl DigitsCnn {
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        let pool = MaxPool2d::new(2);
        let h = pool.forward(&self.conv1.forward(x).relu());
        let h = pool.forward(&self.conv2.forward(&h).relu());
        let h = Flatten.forward(&h);
        self.fc2.forward(&self.fc1.forward(&h).relu())
    }
}

#[test]
fn digits_cnn_matches_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let same = Conv2dOptions {
        padding: [1, 1],
        ..Default::default()
    };
    let mut m = DigitsCnn {
        conv1: Conv2d::new(1, 8, [3, 3], same, &mut rng),
        conv2: Conv2d::new(8, 16, [3, 3], same, &mut rng),
        fc1: Linear::new(64, 32, &mut rng),
        fc2: Linear::new(32, 10, &mut rng),
    };
    load(&mut m, fixture("digits_cnn.safetensors")).unwrap();
    let (x, want) = io("digits_cnn", "input.x");
    assert_matches(&m.predict(&x), &want);
}

#[derive(Clone, Module)]
struct ConvZoo {
    a: Conv2d,
    b: Conv1d,
}

impl ConvZoo {
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        let h = self.a.forward(x);
        let s = h.shape().to_vec();
        let flat = h.reshape(&[s[0], s[1], s[2] * s[3]]).unwrap();
        self.b.forward(&flat)
    }
}

#[test]
fn conv_zoo_matches_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let a_opts = Conv2dOptions {
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 2],
        groups: 2,
    };
    let b_opts = Conv1dOptions {
        stride: 2,
        padding: 1,
        ..Default::default()
    };
    let mut m = ConvZoo {
        a: Conv2d::new(4, 6, [3, 2], a_opts, &mut rng),
        b: Conv1d::new(6, 3, 3, b_opts, &mut rng).without_bias(),
    };
    load(&mut m, fixture("conv_zoo.safetensors")).unwrap();
    let (x, want) = io("conv_zoo", "input.x");
    assert_matches(&m.predict(&x), &want);
}

#[test]
fn encoder_layer_matches_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut layer = TransformerEncoderLayer::<f32>::new(32, 4, 64, &mut rng);
    load(&mut layer, fixture("encoder_layer.safetensors")).unwrap();
    let (x, want) = io("encoder_layer", "input.x");
    let tape = Tape::new();
    let y = tape.no_grad(|| layer.forward_masked(&tape.constant(x), Some(&causal_mask(6))));
    assert_matches(y.value(), &want);
}

#[derive(Clone, Module)]
struct Misc {
    emb: Embedding,
    ln: LayerNorm,
    bn: BatchNorm1d,
    gru: Gru,
}

impl Misc {
    fn run<'t>(&self, tape: &'t Tape<f32>, idx: &[usize], shape: &[usize]) -> Var<'t, f32> {
        let e = self.ln.forward(&self.emb.lookup(tape, idx, shape).unwrap()); // [B, T, 8]
                                                                              // batch norm over the channel axis: [B, T, C] -> [B, C, T] and back
        let h = self.bn.forward(&e.transpose(1, 2)).transpose(1, 2);
        self.gru.forward(&h)
    }
}

impl Misc {
    /// Unused: the fixture's input is token ids, see `run`.
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        x.clone()
    }
}

#[test]
fn embedding_layer_norm_batch_norm_gru_match_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Misc {
        emb: Embedding::new(11, 8, &mut rng),
        ln: LayerNorm::new(&[8]),
        bn: BatchNorm1d::new(8),
        gru: Gru::new(8, 5, &mut rng),
    };
    // PyTorch's int64 `bn.num_batches_tracked` is accepted by name, as
    // state mnemon does not keep; the running statistics are loaded
    load(&mut m, fixture("misc.safetensors")).unwrap();
    assert_ne!(m.bn.running_var().to_vec(), vec![1.0; 8]);
    m.set_training(false);
    m.bn.set_training(false);
    let bytes = std::fs::read(fixture("misc.io.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let v = st.tensor("input.idx").unwrap();
    let idx: Vec<usize> = v
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect();
    let (_, want) = io("misc", "input.idx");
    let tape = Tape::new();
    let y = m.run(&tape, &idx, v.shape());
    assert_matches(y.value(), &want);
    // a model that does not declare it gets the name listed as unexpected
    let mut blind = Blind(m.clone());
    match load(&mut blind, fixture("misc.safetensors")) {
        Err(mnemon_nn::CheckpointError::Mismatch { unexpected, .. }) => {
            assert_eq!(unexpected, ["bn.num_batches_tracked"])
        }
        other => panic!("{other:?}"),
    }
}

/// `Misc` without its declaration of untracked state.
struct Blind(Misc);

impl Module for Blind {
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        x.clone()
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<f32>)) {
        self.0.visit(prefix, f)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<f32>)) {
        self.0.visit_mut(prefix, f)
    }
}

#[derive(Clone, Module)]
struct Recurrent {
    rnn: Rnn,
    lstm: Lstm,
    gru: Gru,
}

impl Recurrent {
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        self.gru.forward(&self.lstm.forward(&self.rnn.forward(x)))
    }
}

#[test]
fn rnn_lstm_and_a_stacked_bidirectional_gru_match_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Recurrent {
        rnn: Rnn::new(3, 4, &mut rng),
        lstm: Lstm::new(4, 5, &mut rng),
        gru: Gru::with_layers(5, 3, 2, true, &mut rng),
    };
    // `rnn.weight_ih_l0`, ..., `gru.bias_hh_l1_reverse`: PyTorch's names,
    // two biases each, the LSTM's rows in PyTorch's gate order (i, f, g,
    // o); the GRU's second layer reads both directions of the first
    load(&mut m, fixture("recurrent.safetensors")).unwrap();
    let (x, want) = io("recurrent", "input.x");
    let tape = Tape::new();
    let y = m.forward(&tape.constant(x));
    assert_matches(y.value(), &want);
}
