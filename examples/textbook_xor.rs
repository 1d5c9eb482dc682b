//! The textbook XOR walkthrough: what goes wrong when a gradient is derived
//! by hand, and how the tape gets it right.
//!
//! What it teaches, step by step, with numbers:
//! 1. the widely copied NumPy version does not even run: its update has
//!    the wrong shape, and mnemon says so with both shapes and the line;
//! 2. its hand-written gradient is not the gradient of its loss (it omits
//!    sigmoid's `s(1−s)` and MSE's `2/N`), while the tape's agrees with
//!    finite differences;
//! 3. one sigmoid unit cannot learn XOR, whatever the gradient;
//! 4. one hidden layer can.
//!
//! Run: `cargo run --release --example textbook_xor`
#![allow(dead_code)] // the integration test uses the functions, not `main`

mod common;

use mnemon::prelude::*;

/// The article's initial weights (NumPy seed 42, uniform [0, 1)).
pub const W0: [f64; 2] = [0.374_540_12, 0.950_714_31];
/// The article's initial bias.
pub const B0: f64 = 0.731_993_94;

/// XOR inputs `[4, 2]` and targets `[4, 1]`, in f64.
pub fn data() -> (Tensor<f64>, Tensor<f64>) {
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]).expect("4×2");
    let y = Tensor::from_vec(vec![0., 1., 1., 0.], &[4, 1]).expect("4×1");
    (x, y)
}

/// The single-unit model's loss `mean((sigmoid(X·w + b) − y)²)`.
pub fn loss<'t>(
    x: &Var<'t, f64>,
    y: &Var<'t, f64>,
    w: &Var<'t, f64>,
    b: &Var<'t, f64>,
) -> Var<'t, f64> {
    mse(&(&x.matmul(w) + b).sigmoid(), y, Reduction::Mean)
}

/// Step 1: the article's update `w -= lr * dw` with `dw` of shape (2,) and
/// `w` of shape (2, 1). Returns the error message mnemon gives.
pub fn step1_shape_error() -> String {
    let mut w = Param::new(Tensor::from_vec(W0.to_vec(), &[2, 1]).expect("2×1"));
    let dw_flat = Tensor::from_vec(vec![0.638, 0.730], &[2]).expect("2"); // `.flatten()`ed
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.sub_update(&(&dw_flat * 0.1)); // the article's line
    }));
    let err = caught.expect_err("a (2,) update of a (2, 1) weight must be refused");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

/// Step 2: `(hand dw, hand db)`, `(tape dw, tape db)` and the finite
/// differences `(dw, db)` at the initial weights.
pub type Gradient = (Vec<f64>, f64);

/// Why textbooks write Xᵀ(p − y): it is exactly the weight gradient of the
/// *summed* binary cross-entropy of p = σ(Xw + b) (for a logit z,
/// d BCE/dz = σ(z) − y). Returns the hand formula's dw and the tape's
/// gradient of that loss.
pub fn hand_formula_is_summed_bce() -> (Vec<f64>, Vec<f64>) {
    let (x, y) = data();
    let w0 = Tensor::from_vec(W0.to_vec(), &[2, 1]).expect("2×1");
    let b0 = Tensor::scalar(B0);
    let err = &(x.matmul(&w0) + &b0).sigmoid() - &y;
    let hand = x.t().matmul(&err).flatten().to_vec();
    let tape = Tape::new();
    let (w, b) = (tape.leaf(w0), tape.leaf(b0));
    let z = &tape.constant(x).matmul(&w) + &b;
    let bce = z
        .binary_cross_entropy_with_logits(&tape.constant(y))
        .sum_all();
    (hand, bce.backward().wrt(&w).expect("w").to_vec())
}

/// Step 2's three gradients.
pub fn step2_gradients() -> (Gradient, Gradient, Gradient) {
    let (x, y) = data();
    let w0 = Tensor::from_vec(W0.to_vec(), &[2, 1]).expect("2×1");
    let b0 = Tensor::scalar(B0);
    // the article's hand formula: dw = Xᵀ(p − y), db = mean(p − y)
    let p = (x.matmul(&w0) + &b0).sigmoid();
    let err = &p - &y;
    let hand = (x.t().matmul(&err).flatten().to_vec(), err.mean_all().item());
    // the tape
    let tape = Tape::new();
    let (w, b) = (tape.leaf(w0.clone()), tape.leaf(b0.clone()));
    let l = loss(&tape.constant(x.clone()), &tape.constant(y.clone()), &w, &b);
    let grads = l.backward();
    let tape_g = (
        grads.wrt(&w).expect("w").to_vec(),
        grads.wrt(&b).expect("b").item(),
    );
    // central finite differences of the same loss
    let eps = 1e-6;
    let at = |w: &Tensor<f64>, b: f64| {
        let t = Tape::new();
        loss(
            &t.constant(x.clone()),
            &t.constant(y.clone()),
            &t.constant(w.clone()),
            &t.constant(Tensor::scalar(b)),
        )
        .item()
    };
    let mut fd_w = Vec::new();
    for i in 0..2 {
        let mut plus = W0.to_vec();
        let mut minus = W0.to_vec();
        plus[i] += eps;
        minus[i] -= eps;
        let (wp, wm) = (
            Tensor::from_vec(plus, &[2, 1]).expect("2×1"),
            Tensor::from_vec(minus, &[2, 1]).expect("2×1"),
        );
        fd_w.push((at(&wp, B0) - at(&wm, B0)) / (2.0 * eps));
    }
    let fd_b = (at(&w0, B0 + eps) - at(&w0, B0 - eps)) / (2.0 * eps);
    (hand, tape_g, (fd_w, fd_b))
}

/// Step 2, checked by the library: `gradcheck` compares the tape's
/// gradient with central differences for every element of `w` and `b`.
pub fn step2_gradcheck() -> Result<(), check::GradcheckError> {
    let (x, y) = data();
    let w0 = Tensor::from_vec(W0.to_vec(), &[2, 1]).expect("2×1");
    check::gradcheck(
        |v| {
            loss(
                &v[0].tape().constant(x.clone()),
                &v[0].tape().constant(y.clone()),
                &v[0],
                &v[1],
            )
        },
        &[w0, Tensor::scalar(B0)],
        check::Tolerance::default(),
    )
}

/// Step 3: the single unit trained with the tape's gradients (lr 0.1, 1,000
/// iterations, as in the article). Returns the final loss and predictions.
pub fn step3_single_unit() -> (f64, Vec<f64>) {
    let (x, y) = data();
    let mut w = Param::new(Tensor::from_vec(W0.to_vec(), &[2, 1]).expect("2×1"));
    let mut b = Param::new(Tensor::scalar(B0));
    let mut last = f64::NAN;
    for _ in 0..1000 {
        let tape = Tape::new();
        let l = loss(
            &tape.constant(x.clone()),
            &tape.constant(y.clone()),
            &tape.param(&w),
            &tape.param(&b),
        );
        last = l.item();
        let g = l.backward();
        w.sub_update(&(g.param(&w).expect("w") * 0.1));
        b.sub_update(&(g.param(&b).expect("b") * 0.1));
    }
    let pred = (x.matmul(&w.value) + &b.value).sigmoid().to_vec();
    (last, pred)
}

/// Step 4: a hidden layer (2 → 8 → 1, lr 1.0, 5,000 steps).
pub fn step4_hidden_layer() -> (f32, Vec<f32>) {
    use rand::SeedableRng;
    let (x, y) = common::xor_data();
    let mut model = common::xor_net(&mut rand::rngs::StdRng::seed_from_u64(42));
    let mut opt = Sgd::new(1.0);
    let mut last = f32::NAN;
    for _ in 0..5000 {
        last = common::mse_step(&mut model, &mut opt, &x, &y);
    }
    let tape = Tape::new();
    let pred = model.forward(&tape.constant(x)).value().to_vec();
    (last, pred)
}

fn main() {
    println!("== Step 1: the article's update does not run ==");
    println!(
        "NumPy stops with \"non-broadcastable output operand with shape (2,1) doesn't match the"
    );
    println!("broadcast shape (2,2)\": dw was flattened to (2,), w is (2,1), and (2,1) - (2,)");
    println!("broadcasts to (2,2). mnemon checks updates against the parameter's shape:");
    // the panic hook would print the message too; keep the output clean
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let msg = step1_shape_error();
    std::panic::set_hook(hook);
    println!("  {msg}\n");

    println!("== Step 2: the hand-written gradient is not the gradient of the loss ==");
    let (hand, tape, fd) = step2_gradients();
    println!("  loss = mean((sigmoid(X·w + b) − y)²) at the article's initial w, b");
    println!("  {:<28} {:>12} {:>12} {:>12}", "", "dw[0]", "dw[1]", "db");
    for (name, g) in [
        ("hand formula Xᵀ(p−y)", &hand),
        ("tape (loss.backward())", &tape),
        ("finite differences", &fd),
    ] {
        println!(
            "  {name:<28} {:>12.8} {:>12.8} {:>12.8}",
            g.0[0], g.0[1], g.1
        );
    }
    match step2_gradcheck() {
        Ok(()) => println!("  check::gradcheck on w and b: passed (tape = finite differences)"),
        Err(e) => println!("  check::gradcheck: {e}"),
    }
    println!("  The hand formula forgets sigmoid's derivative s(1−s) and MSE's 2/N; the tape");
    println!("  applies the chain rule through every recorded op and agrees with the finite");
    println!("  differences to ~1e-9.");
    let (hand, bce) = hand_formula_is_summed_bce();
    println!("  Why textbooks write Xᵀ(p−y): it is the exact gradient of the *summed binary");
    println!("  cross-entropy* of p = σ(Xw+b), since d BCE/dz = σ(z) − y. The tape on that loss:");
    println!(
        "  dw = [{:.8}, {:.8}] (hand formula [{:.8}, {:.8}]).\n",
        bce[0], bce[1], hand[0], hand[1]
    );

    println!("== Step 3: one sigmoid unit cannot represent XOR ==");
    let (l3, p3) = step3_single_unit();
    println!("  after 1,000 steps with the correct gradient: loss {l3:.4}");
    println!(
        "  predictions {:.3?} — all near 0.5: no line separates XOR's classes.\n",
        p3
    );

    println!("== Step 4: one hidden layer (2 → 8 → 1) learns it ==");
    let (l4, p4) = step4_hidden_layer();
    println!("  after 5,000 steps: loss {l4:.6}, predictions {:.3?}", p4);
}
