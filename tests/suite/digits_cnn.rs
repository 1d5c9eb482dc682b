//! The digits example's claim, tested: the CNN reaches ≥ 97 % test accuracy
//! on a seeded stratified 80/20 split of the shipped UCI digits, and a
//! checkpoint reloads to the same predictions.

#[path = "../../examples/digits_cnn.rs"]
mod digits_cnn;

use digits_cnn::{cnn, evaluate, load_images, split, train};
use mnemon::nn::{load, save, Module};
use std::path::Path;

#[test]
fn the_cnn_reads_handwritten_digits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits");
    let (x, y) = load_images(&dir).unwrap();
    assert_eq!(x.shape(), &[1797, 1, 8, 8]);
    let (train_rows, test_rows) = split(&y, 0.2, 0);
    assert_eq!(test_rows.len(), 359);
    let model = train(&x, &y, &train_rows, 40, 0, false);
    let (acc, confusion) = evaluate(&model, &x, &y, &test_rows);
    assert!(acc >= 0.97, "test accuracy {acc}");
    assert_eq!(confusion.iter().flatten().sum::<usize>(), test_rows.len());
    let path =
        std::env::temp_dir().join(format!("mnemon-digits-{}.safetensors", std::process::id()));
    save(&model, &path).unwrap();
    let mut back = cnn(8, 8, 123);
    load(&mut back, &path).unwrap();
    back.set_training(false);
    let probe = x.narrow(0, 0, 16);
    assert_eq!(
        back.predict(&probe).to_vec(),
        model.predict(&probe).to_vec()
    );
    std::fs::remove_file(path).unwrap();
}
