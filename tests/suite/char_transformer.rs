//! The char-transformer example's claim, tested (shortened): after a short
//! training run the next-character loss is well below the unigram entropy,
//! so the model uses its context.

#[path = "../../examples/char_transformer.rs"]
mod char_transformer;

use char_transformer::{corpus, train};

#[test]
fn the_transformer_beats_the_unigram_entropy() {
    let (ids, alphabet, entropy) = corpus();
    assert!(entropy > 3.0 && alphabet.len() > 50);
    let (_, loss) = train(&ids, alphabet.len(), 80, 8, 0, false);
    assert!(
        (loss as f64) < entropy - 0.4,
        "loss {loss} vs unigram entropy {entropy}"
    );
}
