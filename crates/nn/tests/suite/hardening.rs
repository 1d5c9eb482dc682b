//! Losses, checkpoints and errors at their edges (issue 9, items 6, 7, 10,
//! 11, 13), and a property test that mutates checkpoint bytes: `load`
//! never panics and never changes the model on error.

use mnemon_autograd::Tape;
use mnemon_nn::checkpoint::CheckpointError;
use mnemon_nn::*;
use mnemon_tensor::{Tensor, TensorError};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mnemon-hard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn item6_zero_initialised_logistic_regression_gets_the_right_bias_gradient() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Linear::<f64>::with_init(2, 1, Init::Zeros, true, &mut rng);
    let tape = Tape::<f64>::new();
    let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5], &[2, 2]).unwrap());
    let y = tape.constant(Tensor::from_vec(vec![1.0, 1.0], &[2, 1]).unwrap());
    let loss = bce_with_logits(&model.forward(&x), &y, Reduction::Mean);
    assert!((loss.item() - 2f64.ln()).abs() < 1e-15);
    let grads = loss.backward();
    // mean of σ(0) − 1 over two rows
    assert_eq!(
        grads.param(model.bias.as_ref().unwrap()).unwrap().to_vec(),
        vec![-0.5]
    );
    Sgd::new(1.0).step(&mut model, &grads);
    assert_eq!(model.bias.as_ref().unwrap().value.to_vec(), vec![0.5]);
}

#[test]
fn item7_a_saturated_sigmoid_under_bce_never_makes_a_parameter_nan() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Linear::<f32>::with_init(1, 1, Init::Zeros, true, &mut rng);
    model.weight.value = Tensor::from_vec(vec![200.0], &[1, 1]).unwrap();
    let tape = Tape::<f32>::new();
    let x = tape.constant(Tensor::from_vec(vec![1.0, -1.0], &[2, 1]).unwrap());
    let y = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2, 1]).unwrap());
    let p = model.forward(&x).sigmoid();
    assert_eq!(p.value().to_vec(), vec![1.0, 0.0]); // exactly saturated
    let loss = bce(&p, &y, Reduction::Mean);
    assert_eq!(loss.item(), 100.0);
    let grads = loss.backward();
    Sgd::new(0.1).step(&mut model, &grads);
    assert!(model.weight.value.to_vec()[0].is_finite());
    assert!(model.bias.as_ref().unwrap().value.to_vec()[0].is_finite());
}

/// A hand-written module whose visitors name two params alike.
#[derive(Clone)]
struct Twice {
    a: Param<f32>,
    b: Param<f32>,
}

impl Module<f32> for Twice {
    fn forward<'t>(&self, x: &mnemon_autograd::Var<'t, f32>) -> mnemon_autograd::Var<'t, f32> {
        x.clone()
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<f32>)) {
        f(&format!("{prefix}w"), &self.a);
        f(&format!("{prefix}w"), &self.b);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<f32>)) {
        f(&format!("{prefix}w"), &mut self.a);
        f(&format!("{prefix}w"), &mut self.b);
    }
}

#[test]
fn item10_duplicate_param_names_are_refused() {
    let d = dir("dup");
    let mut m = Twice {
        a: Param::new(Tensor::ones(&[2])),
        b: Param::new(Tensor::zeros(&[2])),
    };
    let err = save(&m, d.join("m.safetensors")).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::DuplicateName { name } if name == "w"),
        "{err:?}"
    );
    assert!(err.to_string().contains("two parameters `w`"));
    assert!(!d.join("m.safetensors").exists());
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        0,
        "no temp file left"
    );
    // and load refuses before reading anything into either
    let mut rng = StdRng::seed_from_u64(0);
    save(&Linear::<f32>::new(2, 1, &mut rng), d.join("lin")).unwrap();
    assert!(matches!(
        load(&mut m, d.join("lin")),
        Err(CheckpointError::DuplicateName { .. })
    ));
    assert_eq!(m.a.value.to_vec(), vec![1.0, 1.0]);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn item11_threads_saving_to_one_path_never_collide() {
    let d = dir("race");
    let path = d.join("m.safetensors");
    let mut rng = StdRng::seed_from_u64(0);
    let models: Vec<Linear<f32>> = (0..2).map(|_| Linear::new(64, 64, &mut rng)).collect();
    for _ in 0..100 {
        std::thread::scope(|s| {
            for m in &models {
                let p = &path;
                s.spawn(move || save(m, p).unwrap());
            }
        });
        // the file is whole: one of the two models, exactly
        let mut back = Linear::<f32>::new(64, 64, &mut rng);
        load(&mut back, &path).unwrap();
        let w = back.weight.value.to_vec();
        assert!(models.iter().any(|m| m.weight.value.to_vec() == w));
    }
    let names: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
    assert_eq!(names.len(), 1, "only the checkpoint: no temp file left");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn item13_cross_entropy_errors_name_cross_entropy() {
    let tape = Tape::<f32>::new();
    let z = tape.leaf(Tensor::zeros(&[2, 3]));
    let err = cross_entropy(&z, &[0, 1, 2], Reduction::Mean).unwrap_err();
    assert_eq!(
        err,
        TensorError::IndexShapeMismatch {
            op: "cross_entropy",
            shape: vec![2, 3],
            index_shape: vec![3]
        }
    );
    let err = cross_entropy(&z, &[0, 3], Reduction::Mean).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cross_entropy: index 3 is out of range for axis 1 of size 3"
    );
}

fn model(seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(3, 4, &mut rng))
        .push(Relu)
        .push(Linear::new(4, 2, &mut rng))
}

fn values(m: &Sequential<f32>) -> Vec<Vec<u32>> {
    m.named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Ways to damage a valid checkpoint.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    FlipBit(usize, u8),
    /// Replace the first occurrence of a header token with another.
    Header(&'static str, &'static str),
    /// Set the declared header length.
    HeaderLen(u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let header = prop::sample::select(vec![
        ("[4,3]", "[4294967296,4294967296]"),
        ("[4,3]", "[0,1099511627776,1099511627776]"),
        ("[4,3]", "[18446744073709551615]"),
        ("[4,3]", "[3,4]"),
        ("[4,3]", "[]"),
        (
            "\"data_offsets\":[0,",
            "\"data_offsets\":[18446744073709551615,",
        ),
        ("\"data_offsets\":[0,", "\"data_offsets\":[40,"),
        ("F32", "F64"),
        ("F32", "I64"),
        ("F32", "BOOL"),
        ("layers.0.weight", "layers.0.weigh"),
        ("{", "["),
    ]);
    prop_oneof![
        (0usize..400).prop_map(Mutation::Truncate),
        (0usize..400, 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        header.prop_map(|(a, b)| Mutation::Header(a, b)),
        prop_oneof![Just(0u64), Just(u64::MAX), Just(1 << 40), 0u64..600]
            .prop_map(Mutation::HeaderLen),
    ]
}

fn apply(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match *m {
        Mutation::Truncate(n) => b.truncate(n.min(b.len())),
        Mutation::FlipBit(i, bit) => {
            if !b.is_empty() {
                let i = i % b.len();
                b[i] ^= 1 << bit;
            }
        }
        Mutation::Header(from, to) => {
            // byte search: the header may no longer be valid UTF-8
            let at = b.windows(from.len()).position(|w| w == from.as_bytes());
            if let Some(at) = at.filter(|_| b.len() >= 8) {
                let mut out = b[..at].to_vec();
                out.extend_from_slice(to.as_bytes());
                out.extend_from_slice(&b[at + from.len()..]);
                // keep the declared header length in step with the edit
                let len = u64::from_le_bytes(out[..8].try_into().unwrap());
                let len = len
                    .wrapping_add(to.len() as u64)
                    .wrapping_sub(from.len() as u64);
                out[..8].copy_from_slice(&len.to_le_bytes());
                b = out;
            }
        }
        Mutation::HeaderLen(n) if b.len() >= 8 => b[..8].copy_from_slice(&n.to_le_bytes()),
        Mutation::HeaderLen(_) => {}
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn mutated_checkpoints_never_panic_nor_change_the_model(muts in prop::collection::vec(mutation(), 1..4)) {
        let d = dir("mutate");
        let good = d.join("good");
        save(&model(1), &good).unwrap();
        let mut bytes = std::fs::read(&good).unwrap();
        for m in &muts {
            bytes = apply(&bytes, m);
        }
        let bad = d.join(format!("bad-{}", std::process::id()));
        std::fs::write(&bad, &bytes).unwrap();
        let mut m = model(9);
        let before = values(&m);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(&mut m, &bad)));
        prop_assert!(r.is_ok(), "load panicked on {:?}", muts);
        match r.unwrap() {
            Ok(()) => prop_assert_eq!(values(&m).len(), before.len()),
            Err(_) => prop_assert_eq!(values(&m), before),
        }
    }
}

#[test]
fn batch_norm_refuses_one_value_per_channel_and_skips_empty_batches() {
    let bn = BatchNorm1d::<f64>::new(3);
    let tape = Tape::<f64>::new();
    // one sample of [N, C]: no variance to normalize by (PyTorch refuses)
    let one = tape.constant(Tensor::ones(&[1, 3]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bn.forward(&one)))
        .expect_err("one value per channel");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("more than 1 value per channel"), "{msg}");
    // an empty batch passes through; the running statistics stay finite
    let empty = tape.constant(Tensor::zeros(&[0, 3]));
    assert_eq!(bn.forward(&empty).shape(), &[0, 3]);
    assert_eq!(bn.running_mean().to_vec(), vec![0.0; 3]);
    assert_eq!(bn.running_var().to_vec(), vec![1.0; 3]);
    // in eval mode one sample is fine: the running statistics normalize it
    let mut bn = bn;
    bn.set_training(false);
    assert_eq!(bn.forward(&one).shape(), &[1, 3]);
}
