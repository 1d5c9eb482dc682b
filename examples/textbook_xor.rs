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
//! Run: `cargo run --release --example textbook_xor` (in the textbook's
//! own language: `cargo run --release --example textbook_xor -- --lang zh`)
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
    let zh = std::env::args().any(|a| a == "zh" || a == "--lang=zh");
    let say = |en: &str, cn: &str| println!("{}", if zh { cn } else { en });
    say(
        "== Step 1: the article's update does not run ==",
        "== 第 1 步：文章里的更新根本跑不起来 ==",
    );
    say(
        "NumPy stops with \"non-broadcastable output operand with shape (2,1) doesn't match the\n\
         broadcast shape (2,2)\": dw was flattened to (2,), w is (2,1), and (2,1) - (2,)\n\
         broadcasts to (2,2). mnemon checks updates against the parameter's shape:",
        "NumPy 报错 \"non-broadcastable output operand with shape (2,1) doesn't match the\n\
         broadcast shape (2,2)\"：dw 被拉平成 (2,)，w 是 (2,1)，(2,1) - (2,) 广播成 (2,2)。\n\
         mnemon 按参数的形状检查每次更新：",
    );
    // the panic hook would print the message too; keep the output clean
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let msg = step1_shape_error();
    std::panic::set_hook(hook);
    println!("  {msg}\n");

    say(
        "== Step 2: the hand-written gradient is not the gradient of the loss ==",
        "== 第 2 步：手推的梯度不是损失函数的梯度 ==",
    );
    let (hand, tape, fd) = step2_gradients();
    say(
        "  loss = mean((sigmoid(X·w + b) − y)²) at the article's initial w, b",
        "  损失函数 L = mean((σ(X·w + b) − y)²)，取文章的初始 w、b",
    );
    println!("  {:<28} {:>12} {:>12} {:>12}", "", "dw[0]", "dw[1]", "db");
    let names = if zh {
        ["手推公式 Xᵀ(p−y)", "磁带 (loss.backward())", "有限差分"]
    } else {
        [
            "hand formula Xᵀ(p−y)",
            "tape (loss.backward())",
            "finite differences",
        ]
    };
    for (name, g) in names.into_iter().zip([&hand, &tape, &fd]) {
        println!(
            "  {name:<28} {:>12.8} {:>12.8} {:>12.8}",
            g.0[0], g.0[1], g.1
        );
    }
    match step2_gradcheck() {
        Ok(()) => say(
            "  check::gradcheck on w and b: passed (tape = finite differences)",
            "  check::gradcheck 检查 w 和 b：通过（磁带 = 有限差分）",
        ),
        Err(e) => println!("  check::gradcheck: {e}"),
    }
    say(
        "  The hand formula forgets sigmoid's derivative s(1−s) and MSE's 2/N; the tape\n  \
         applies the chain rule through every recorded op and agrees with the finite\n  \
         differences to ~1e-9.",
        "  手推公式漏掉了 σ 的导数 s(1−s) 和均方误差的 2/N；磁带对每个被记录的运算\n  \
         应用链式法则，与有限差分的差在 1e-9 左右。",
    );
    let (hand, bce) = hand_formula_is_summed_bce();
    say(
        "  Why textbooks write Xᵀ(p−y): it is the exact gradient of the *summed binary\n  \
         cross-entropy* of p = σ(Xw+b), since d BCE/dz = σ(z) − y. The tape on that loss:",
        "  教材为什么写 Xᵀ(p−y)：它恰好是 p = σ(Xw+b) 的*求和二元交叉熵*的梯度，\n  \
         因为 d BCE/dz = σ(z) − y。磁带对这个损失函数求出：",
    );
    let hand_word = if zh { "手推公式" } else { "hand formula" };
    println!(
        "  dw = [{:.8}, {:.8}] ({hand_word} [{:.8}, {:.8}]).\n",
        bce[0], bce[1], hand[0], hand[1]
    );

    say(
        "== Step 3: one sigmoid unit cannot represent XOR ==",
        "== 第 3 步：一个 sigmoid 神经元表示不了 XOR ==",
    );
    let (l3, p3) = step3_single_unit();
    if zh {
        println!("  用正确的梯度训练 1,000 步后：损失 {l3:.4}");
        println!("  预测 {p3:.3?} —— 都在 0.5 附近：没有一条直线能分开 XOR 的两类。\n");
    } else {
        println!("  after 1,000 steps with the correct gradient: loss {l3:.4}");
        println!("  predictions {p3:.3?} — all near 0.5: no line separates XOR's classes.\n");
    }

    say(
        "== Step 4: one hidden layer (2 → 8 → 1) learns it ==",
        "== 第 4 步：一个隐藏层（2 → 8 → 1）学会了它 ==",
    );
    let (l4, p4) = step4_hidden_layer();
    if zh {
        println!("  训练 5,000 步后：损失 {l4:.6}，预测 {p4:.3?}");
    } else {
        println!("  after 5,000 steps: loss {l4:.6}, predictions {p4:.3?}");
    }
}
