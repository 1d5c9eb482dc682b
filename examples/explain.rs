//! The chain rule, step by step: explain mode on a scalar neuron.
//!
//! What it teaches: backward visits the recorded ops in reverse; at each
//! one it multiplies the incoming gradient by the op's local derivative and
//! hands the product to the op's inputs. Explain mode prints exactly that.
//!
//! Run: `cargo run --release --example explain` (in Chinese:
//! `cargo run --release --example explain -- --lang zh`)

use mnemon::autograd::Language;
use mnemon::prelude::*;

fn main() {
    let zh = std::env::args().any(|a| a == "zh" || a == "--lang=zh");
    let say = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    if zh {
        tape.set_explain_language(Language::Chinese);
    }
    let x = tape.constant(Tensor::scalar(2.0));
    let w = tape.leaf(Tensor::scalar(-0.5));
    let b = tape.leaf(Tensor::scalar(0.25));
    let target = tape.constant(Tensor::scalar(1.0));
    // a one-weight neuron and its squared error: L = (sigmoid(w·x + b) − t)²
    let z = &(&w * &x) + &b;
    let s = z.sigmoid();
    let loss = (&s - &target).square();
    println!(
        "{}: z = w·x + b = {:.4}, s = σ(z) = {:.6}, L = (s − t)² = {:.6}\n",
        say("forward", "前向"),
        z.item(),
        s.item(),
        loss.item()
    );
    println!(
        "{}",
        say(
            "backward, one line per recorded op, last op first:",
            "反向传播，每个被记录的运算一行，从最后一个开始："
        )
    );
    let grads = loss.backward();
    let (dw, db) = (
        grads.wrt(&w).expect("w").item(),
        grads.wrt(&b).expect("b").item(),
    );
    let sv = s.item();
    println!("\ndL/dw = {dw:.6}, dL/db = {db:.6}");
    println!(
        "{}: dL/db = 2(s − t)·s(1 − s) = {:.6}; dL/dw = dL/db · x = {:.6}",
        say("by hand", "手算"),
        2.0 * (sv - 1.0) * sv * (1.0 - sv),
        2.0 * (sv - 1.0) * sv * (1.0 - sv) * 2.0
    );
}
