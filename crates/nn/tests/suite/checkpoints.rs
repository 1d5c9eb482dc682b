//! Checkpoints: exact round trips, every kind of bad file, and a file the
//! safetensors crate's own reader understands.

use mnemon_nn::checkpoint::CheckpointError;
use mnemon_nn::*;
use rand::{rngs::StdRng, SeedableRng};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mnemon-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mlp<T: mnemon_tensor::Element>(seed: u64, hidden: usize) -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(3, hidden, &mut rng))
        .push(Relu)
        .push(Linear::new(hidden, 2, &mut rng))
}

fn bits<T: mnemon_tensor::Element>(m: &Sequential<T>) -> Vec<Vec<u64>> {
    m.named_params()
        .iter()
        .map(|(_, p)| {
            p.value
                .to_vec()
                .iter()
                .map(|v| v.as_f64().to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn round_trip_is_bit_exact_f32_and_f64() {
    let d = dir("roundtrip");
    let a = mlp::<f32>(1, 4);
    save(&a, d.join("a.safetensors")).unwrap();
    let mut b = mlp::<f32>(2, 4);
    load(&mut b, d.join("a.safetensors")).unwrap();
    assert_eq!(bits(&a), bits(&b));
    let a = mlp::<f64>(1, 4);
    save(&a, d.join("b.safetensors")).unwrap();
    let mut b = mlp::<f64>(2, 4);
    load(&mut b, d.join("b.safetensors")).unwrap();
    assert_eq!(bits(&a), bits(&b));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn file_parses_with_the_safetensors_reader() {
    let d = dir("reader");
    let a = mlp::<f32>(1, 4);
    save(&a, d.join("m.safetensors")).unwrap();
    let bytes = std::fs::read(d.join("m.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        [
            "layers.0.bias",
            "layers.0.weight",
            "layers.2.bias",
            "layers.2.weight"
        ]
    );
    assert_eq!(st.tensor("layers.0.weight").unwrap().shape(), &[4, 3]);
    assert_eq!(
        st.tensor("layers.2.bias").unwrap().dtype(),
        safetensors::Dtype::F32
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn bad_files_give_typed_errors_and_change_nothing() {
    let d = dir("bad");
    let good = d.join("good.safetensors");
    save(&mlp::<f32>(1, 4), &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let mut m = mlp::<f32>(9, 4);
    let before = bits(&m);

    std::fs::write(d.join("trunc"), &bytes[..bytes.len() - 5]).unwrap();
    assert!(matches!(
        load(&mut m, d.join("trunc")),
        Err(CheckpointError::Corrupt { .. })
    ));
    let mut corrupt = bytes.clone();
    corrupt[8] = b'!'; // the header's opening brace
    std::fs::write(d.join("corrupt"), &corrupt).unwrap();
    assert!(matches!(
        load(&mut m, d.join("corrupt")),
        Err(CheckpointError::Corrupt { .. })
    ));
    assert!(matches!(
        load(&mut m, d.join("absent")),
        Err(CheckpointError::Io { .. })
    ));

    // wrong dtype: an f64 model's file into an f32 model
    save(&mlp::<f64>(1, 4), d.join("f64")).unwrap();
    match load(&mut m, d.join("f64")) {
        Err(CheckpointError::Mismatch { wrong_dtype, .. }) => assert_eq!(wrong_dtype.len(), 4),
        other => panic!("{other:?}"),
    }
    // wrong shapes
    save(&mlp::<f32>(1, 5), d.join("wide")).unwrap();
    match load(&mut m, d.join("wide")) {
        Err(e @ CheckpointError::Mismatch { .. }) => {
            let CheckpointError::Mismatch { wrong_shape, .. } = &e else {
                unreachable!()
            };
            assert_eq!(wrong_shape.len(), 3);
            assert_eq!(wrong_shape[0].expected, vec![4, 3]);
            assert_eq!(wrong_shape[0].found, vec![5, 3]);
            assert!(e
                .to_string()
                .contains("`layers.0.weight` has shape [5, 3] in the file, [4, 3] in the model"));
        }
        other => panic!("{other:?}"),
    }
    // missing and unexpected
    let mut rng = StdRng::seed_from_u64(3);
    let other: Sequential<f32> = Sequential::new().push(Linear::new(3, 4, &mut rng));
    save(&other, d.join("short")).unwrap();
    match load(&mut m, d.join("short")) {
        Err(CheckpointError::Mismatch {
            missing,
            unexpected,
            ..
        }) => {
            assert_eq!(missing, ["layers.2.weight", "layers.2.bias"]);
            assert!(unexpected.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let mut small = other.clone();
    match load(&mut small, &good) {
        Err(CheckpointError::Mismatch {
            unexpected,
            missing,
            ..
        }) => {
            assert_eq!(unexpected, ["layers.2.bias", "layers.2.weight"]);
            assert!(missing.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(bits(&m), before, "a failed load changes nothing");
    std::fs::remove_dir_all(d).unwrap();
}
