//! The L1, smooth L1, Huber and NLL losses: values and gradients against
//! PyTorch's forward and backward formulas written as plain loops (ties,
//! the seams `|d| = β`, NaN and large values included), the reductions,
//! the errors and panics, and both orders over proptest shapes.

use mnemon_autograd::check::{gradcheck, gradgradcheck, strategies, Tolerance};
use mnemon_autograd::{Tape, Var};
use mnemon_nn::{
    cross_entropy, cross_entropy_with, huber_loss, l1_loss, nll_loss, smooth_l1_loss,
    CrossEntropyOptions, Reduction,
};
use mnemon_tensor::{Tensor, TensorError};
use proptest::prelude::*;

/// Differences `pred − target` at the edges: ties, the seams at 1 and 2,
/// both sides of them, NaN, ±∞ and large values.
const D: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.0,
    -2.0,
    0.999,
    1.001,
    -1.999,
    0.3,
    -7.5,
    1e300,
    -1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

/// PyTorch's `smooth_l1_loss` forward and backward for one element.
fn smooth_l1_ref(z: f64, beta: f64) -> (f64, f64) {
    if beta == 0.0 {
        // l1_loss: |z|, sgn(z) (0 at 0 and at NaN)
        let sgn = if z > 0.0 {
            1.0
        } else if z < 0.0 {
            -1.0
        } else {
            0.0
        };
        return (z.abs(), sgn);
    }
    let a = z.abs();
    let v = if a < beta {
        0.5 * z * z / beta
    } else {
        a - 0.5 * beta
    };
    let g = if z < -beta {
        -1.0
    } else if z > beta {
        1.0
    } else {
        z / beta
    };
    (v, g)
}

/// PyTorch's `huber_loss` forward and backward for one element.
fn huber_ref(z: f64, delta: f64) -> (f64, f64) {
    let a = z.abs();
    let v = if a < delta {
        0.5 * z * z
    } else {
        delta * (a - 0.5 * delta)
    };
    let g = if z < -delta {
        -delta
    } else if z > delta {
        delta
    } else {
        z
    };
    (v, g)
}

/// Per-element values and gradients of `loss(pred, 0)` at `D`, with
/// reduction `None` and an incoming gradient of ones.
fn per_element(
    loss: impl for<'t> Fn(&Var<'t, f64>, &Var<'t, f64>) -> Var<'t, f64>,
) -> Vec<(f64, f64)> {
    let tape = Tape::<f64>::new();
    let p = tape.leaf(Tensor::from_vec(D.to_vec(), &[D.len()]).unwrap());
    let t = tape.constant(Tensor::zeros(&[D.len()]));
    let l = loss(&p, &t);
    let g = l.sum_all().backward().wrt(&p).unwrap().to_vec();
    l.value().to_vec().into_iter().zip(g).collect()
}

fn agree(name: &str, got: &[(f64, f64)], want: impl Fn(f64) -> (f64, f64)) {
    let same =
        |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-15 * b.abs();
    for (&z, &(v, g)) in D.iter().zip(got) {
        let (vw, gw) = want(z);
        assert!(same(v, vw), "{name} at d = {z}: value {v}, PyTorch {vw}");
        assert!(same(g, gw), "{name} at d = {z}: gradient {g}, PyTorch {gw}");
    }
}

#[test]
fn values_and_gradients_match_pytorchs_formulas_at_the_edges() {
    agree(
        "l1",
        &per_element(|p, t| l1_loss(p, t, Reduction::None)),
        |z| smooth_l1_ref(z, 0.0),
    );
    for beta in [1.0, 2.0, 0.5, 0.0] {
        let got = per_element(move |p, t| smooth_l1_loss(p, t, beta, Reduction::None));
        agree(&format!("smooth_l1 β={beta}"), &got, |z| {
            smooth_l1_ref(z, beta)
        });
    }
    for delta in [1.0, 2.0, 0.25] {
        let got = per_element(move |p, t| huber_loss(p, t, delta, Reduction::None));
        agree(&format!("huber δ={delta}"), &got, |z| huber_ref(z, delta));
    }
}

#[test]
fn reductions_and_the_target_side() {
    let tape = Tape::<f64>::new();
    let p = tape.leaf(Tensor::from_vec(vec![0.5, 3.0, -1.0, 0.0], &[2, 2]).unwrap());
    let t = tape.leaf(Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[2, 2]).unwrap());
    // d = [0.5, 2, −2, 0]: huber δ=1 gives [0.125, 1.5, 1.5, 0]
    let sum = huber_loss(&p, &t, 1.0, Reduction::Sum);
    assert_eq!(sum.item(), 3.125);
    assert_eq!(huber_loss(&p, &t, 1.0, Reduction::Mean).item(), 3.125 / 4.0);
    let g = sum.backward();
    assert_eq!(g.wrt(&p).unwrap().to_vec(), vec![0.5, 1.0, -1.0, 0.0]);
    assert_eq!(g.wrt(&t).unwrap().to_vec(), vec![-0.5, -1.0, 1.0, -0.0]);
    let l1 = l1_loss(&p, &t, Reduction::Mean);
    assert_eq!(l1.item(), 4.5 / 4.0);
    assert_eq!(
        l1.backward().wrt(&p).unwrap().to_vec(),
        vec![0.25, 0.25, -0.25, 0.0]
    );
}

#[test]
fn empty_batches_give_pytorchs_nan_mean_and_zero_sum() {
    let tape = Tape::<f64>::new();
    let p = tape.leaf(Tensor::zeros(&[0, 3]));
    let t = tape.constant(Tensor::zeros(&[0, 3]));
    type Loss = for<'t> fn(&Var<'t, f64>, &Var<'t, f64>, Reduction) -> Var<'t, f64>;
    let losses: [(&str, Loss); 3] = [
        ("l1", |p, t, r| l1_loss(p, t, r)),
        ("smooth_l1", |p, t, r| smooth_l1_loss(p, t, 1.0, r)),
        ("huber", |p, t, r| huber_loss(p, t, 1.0, r)),
    ];
    for (name, loss) in losses {
        assert!(loss(&p, &t, Reduction::Mean).item().is_nan(), "{name}");
        let sum = loss(&p, &t, Reduction::Sum);
        assert_eq!(sum.item(), 0.0, "{name}");
        assert_eq!(sum.backward().wrt(&p).unwrap().shape(), &[0, 3], "{name}");
        assert_eq!(loss(&p, &t, Reduction::None).shape(), &[0, 3], "{name}");
    }
    let z = tape.leaf(Tensor::zeros(&[0, 4]));
    assert!(nll_loss(&z, &[], Reduction::Mean).unwrap().item().is_nan());
    let opts = CrossEntropyOptions {
        ignore_index: Some(1),
        label_smoothing: 0.2,
    };
    assert!(cross_entropy_with(&z, &[], Reduction::Mean, opts)
        .unwrap()
        .item()
        .is_nan());
    assert_eq!(
        cross_entropy_with(&z, &[], Reduction::Sum, opts)
            .unwrap()
            .item(),
        0.0
    );
}

#[test]
fn nll_is_cross_entropy_after_log_softmax() {
    let z = Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0, 0.0, -1.0], &[2, 3]).unwrap();
    for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(z.clone());
        let a = nll_loss(&x.log_softmax(1), &[2, 0], r).unwrap();
        let b = cross_entropy(&x, &[2, 0], r).unwrap();
        assert_eq!(a.value().to_vec(), b.value().to_vec());
        let ga = a.sum_all().backward().wrt(&x).unwrap().to_vec();
        let gb = b.sum_all().backward().wrt(&x).unwrap().to_vec();
        assert_eq!(ga, gb);
    }
    // a plain loop: −mean of the picked entries
    let tape = Tape::<f64>::new();
    let x = tape.leaf(z.clone());
    let l = nll_loss(&x, &[1, 2], Reduction::Mean).unwrap();
    assert_eq!(l.item(), -(-2.0 + -1.0) / 2.0);
}

#[test]
fn bad_targets_are_errors_and_bad_settings_panic_at_the_caller() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 3]));
    assert!(matches!(
        nll_loss(&x, &[0, 3], Reduction::Mean),
        Err(TensorError::IndexOutOfRange {
            op: "nll_loss",
            index: 3,
            size: 3,
            ..
        })
    ));
    assert!(matches!(
        nll_loss(&x, &[0], Reduction::Mean),
        Err(TensorError::IndexShapeMismatch { op: "nll_loss", .. })
    ));
    let line = line!() + 2;
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = huber_loss(&x, &x, 0.0, Reduction::Mean);
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("huber_loss: delta 0 is not > 0, called at"),
        "{msg}"
    );
    assert!(msg.contains(&format!("losses.rs:{line}")), "{msg}");
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = smooth_l1_loss(&x, &x, -1.0, Reduction::Mean);
    }))
    .unwrap_err();
    assert!(err
        .downcast_ref::<String>()
        .unwrap()
        .starts_with("smooth_l1_loss: beta -1 is not >= 0"));
    let y = tape.leaf(Tensor::zeros(&[3, 2]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = l1_loss(&x, &y, Reduction::Mean);
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("l1_loss: prediction shape [2, 3] and target shape [3, 2] differ"),
        "{msg}"
    );
}

/// PyTorch's cross-entropy with `ignore_index` and `label_smoothing` as a
/// plain loop: per-row losses and the mean over the rows kept.
fn ce_ref(
    z: &[f64],
    c: usize,
    targets: &[usize],
    ignore: Option<usize>,
    eps: f64,
) -> (Vec<f64>, f64) {
    let mut rows = vec![];
    for (i, &t) in targets.iter().enumerate() {
        if Some(t) == ignore {
            rows.push(0.0);
            continue;
        }
        let row = &z[i * c..(i + 1) * c];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        let nll = lse - row[t];
        let smooth: f64 = row.iter().map(|v| lse - v).sum();
        rows.push((1.0 - eps) * nll + eps / c as f64 * smooth);
    }
    let kept = targets.iter().filter(|&&t| Some(t) != ignore).count();
    let mean = rows.iter().sum::<f64>() / kept as f64;
    (rows, mean)
}

#[test]
fn cross_entropy_with_ignore_index_and_label_smoothing_matches_a_plain_loop() {
    let z: Vec<f64> = (0..12).map(|i| ((i * 5 % 7) as f64 - 3.0) * 0.7).collect();
    let targets = [2, 9, 0, 1];
    for (ignore, eps) in [
        (None, 0.0),
        (Some(9), 0.0),
        (None, 0.1),
        (Some(9), 0.25),
        (Some(0), 1.0),
    ] {
        let targets: Vec<usize> = if ignore == Some(9) {
            targets.to_vec()
        } else {
            vec![2, 1, 0, 1]
        };
        let opts = CrossEntropyOptions {
            ignore_index: ignore,
            label_smoothing: eps,
        };
        let (rows, mean) = ce_ref(&z, 3, &targets, ignore, eps);
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(z.clone(), &[4, 3]).unwrap());
        let none = cross_entropy_with(&x, &targets, Reduction::None, opts).unwrap();
        for (g, w) in none.value().to_vec().iter().zip(&rows) {
            assert!((g - w).abs() < 1e-14, "{ignore:?} {eps}: {g} vs {w}");
        }
        let m = cross_entropy_with(&x, &targets, Reduction::Mean, opts).unwrap();
        assert!(
            (m.item() - mean).abs() < 1e-14,
            "{ignore:?} {eps}: {} vs {mean}",
            m.item()
        );
        let s = cross_entropy_with(&x, &targets, Reduction::Sum, opts).unwrap();
        assert!((s.item() - rows.iter().sum::<f64>()).abs() < 1e-14);
        // ignored rows get no gradient
        let g = m.backward().wrt(&x).unwrap().to_vec();
        for (i, &t) in targets.iter().enumerate() {
            if Some(t) == ignore {
                assert_eq!(&g[i * 3..i * 3 + 3], &[0.0; 3]);
            }
        }
    }
    // the defaults are cross_entropy, bit for bit
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(z.clone(), &[4, 3]).unwrap());
    let a = cross_entropy_with(
        &x,
        &[2, 1, 0, 1],
        Reduction::Mean,
        CrossEntropyOptions::default(),
    );
    assert_eq!(
        a.unwrap().item(),
        cross_entropy(&x, &[2, 1, 0, 1], Reduction::Mean)
            .unwrap()
            .item()
    );
}

#[test]
fn ignored_rows_are_inert() {
    let tape = Tape::<f64>::new();
    let opts = CrossEntropyOptions {
        ignore_index: Some(7),
        label_smoothing: 0.1,
    };
    // a NaN row that is ignored does not reach the loss
    let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, f64::NAN, 0.0], &[2, 2]).unwrap());
    let l = cross_entropy_with(&x, &[1, 7], Reduction::Mean, opts).unwrap();
    let (_, want) = ce_ref(&[1.0, 2.0], 2, &[1], None, 0.1);
    assert!((l.item() - want).abs() < 1e-15);
    // every row ignored: the mean is 0/0 = NaN, the sum 0, as PyTorch
    let y = tape.leaf(Tensor::ones(&[2, 2]));
    assert!(cross_entropy_with(&y, &[7, 7], Reduction::Mean, opts)
        .unwrap()
        .item()
        .is_nan());
    assert_eq!(
        cross_entropy_with(&y, &[7, 7], Reduction::Sum, opts)
            .unwrap()
            .item(),
        0.0
    );
    // an ignored target is not range-checked; any other is
    assert!(matches!(
        cross_entropy_with(&y, &[7, 2], Reduction::Mean, opts),
        Err(TensorError::IndexOutOfRange {
            op: "cross_entropy",
            index: 2,
            ..
        })
    ));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let bad = CrossEntropyOptions {
            label_smoothing: 1.5,
            ..opts
        };
        let _ = cross_entropy_with(&y, &[0, 1], Reduction::Mean, bad);
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("cross_entropy: label_smoothing 1.5 is not in [0, 1], called at"),
        "{msg}"
    );
}

fn tol() -> Tolerance {
    Tolerance {
        eps: 1e-6,
        atol: 1e-5,
        rtol: 1e-4,
    }
}

fn both<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), TestCaseError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + Copy,
{
    gradcheck(f, inputs, tol()).map_err(|e| TestCaseError::fail(format!("1st: {e}")))?;
    gradgradcheck(f, inputs, tol()).map_err(|e| TestCaseError::fail(format!("2nd: {e}")))
}

/// `nll_loss` against these targets, as a function of the inputs.
fn nll_of(
    targets: &[usize],
    r: Reduction,
) -> impl for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + '_ {
    move |v| nll_loss(&v[0], targets, r).unwrap()
}

/// `cross_entropy_with` against these targets, as a function of the inputs.
fn ce_of(
    targets: &[usize],
    r: Reduction,
    opts: CrossEntropyOptions,
) -> impl for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + '_ {
    move |v| cross_entropy_with(&v[0], targets, r, opts).unwrap()
}

fn pair() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    strategies::shape(3, 4).prop_flat_map(|s| {
        (
            strategies::tensor(s.clone(), -3.0, 3.0),
            strategies::tensor(s, -3.0, 3.0),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32)
    ))]

    /// Both orders, with respect to the prediction and the target, every
    /// reduction (differences in (−6, 6) against β, δ in (0.1, 3)).
    #[test]
    fn both_orders((p, t) in pair(), k in 0.1f64..3.0, r in 0usize..3) {
        let r = [Reduction::Mean, Reduction::Sum, Reduction::None][r];
        let pt = [p, t];
        both(move |v| l1_loss(&v[0], &v[1], r), &pt)?;
        both(move |v| smooth_l1_loss(&v[0], &v[1], k, r), &pt)?;
        both(move |v| huber_loss(&v[0], &v[1], k, r), &pt)?;
    }

    #[test]
    fn cross_entropy_with_both_orders(rows in 1usize..5, classes in 1usize..5, seed in 0u64..1000, eps in 0.0f64..1.0) {
        let x = Tensor::from_vec((0..rows * classes).map(|i| (((i as u64 * 5 + seed) % 11) as f64 - 5.0) / 2.0).collect(), &[rows, classes]).unwrap();
        // every third row padding
        let targets: Vec<usize> = (0..rows).map(|i| if i % 3 == 1 { 50 } else { (i + seed as usize) % classes }).collect();
        let opts = CrossEntropyOptions { ignore_index: Some(50), label_smoothing: eps };
        for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let f = ce_of(&targets, r, opts);
            gradcheck(&f, std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(format!("1st: {e}")))?;
            gradgradcheck(&f, std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(format!("2nd: {e}")))?;
        }
    }

    #[test]
    fn nll_both_orders(rows in 1usize..5, classes in 1usize..5, seed in 0u64..1000) {
        let x = Tensor::from_vec((0..rows * classes).map(|i| (((i as u64 * 7 + seed) % 13) as f64 - 6.0) / 3.0).collect(), &[rows, classes]).unwrap();
        let targets: Vec<usize> = (0..rows).map(|i| (i + seed as usize) % classes).collect();
        for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let f = nll_of(&targets, r);
            gradcheck(&f, std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(format!("1st: {e}")))?;
            gradgradcheck(&f, std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(format!("2nd: {e}")))?;
        }
    }
}
