//! The ops transformers and friends need: erf, softplus, GELU (both
//! forms), logsumexp, layer_norm, masked_fill and attention — values
//! against plain formulas, gradients first and second order against
//! finite differences over proptest shapes.

use mnemon_autograd::check::strategies;
use mnemon_autograd::{causal_mask, Tape, Var};
use mnemon_tensor::Tensor;
use proptest::prelude::*;

use super::both;

fn rank_at_least(r: usize) -> impl Strategy<Value = Tensor<f64>> {
    strategies::shape(3, 4)
        .prop_filter("rank", move |s| s.len() >= r && s.iter().all(|&d| d > 0))
        .prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32)
    ))]

    #[test]
    fn smooth_activations(x in rank_at_least(0)) {
        both(|v| v[0].erf(), std::slice::from_ref(&x))?;
        both(|v| v[0].softplus(), std::slice::from_ref(&x))?;
        both(|v| v[0].gelu(), std::slice::from_ref(&x))?;
        both(|v| v[0].gelu_tanh(), &[x])?;
    }

    /// gelu_grad is gelu's derivative (checked against finite differences
    /// of gelu through gradcheck above) and has its own rule: third order
    /// of gelu.
    #[test]
    fn gelu_grad_orders(x in rank_at_least(0)) {
        both(|v| v[0].gelu_grad(), std::slice::from_ref(&x))?;
    }

    /// Σ over the batch of a_i·b_i: value against matmul then sum, and
    /// both orders, with a batch broadcast on either side.
    #[test]
    fn matmul_sum_is_the_summed_product(b in 1usize..4, m in 1usize..4, k in 1usize..4, n in 1usize..4, shared in 0usize..3, seed in 0u64..20) {
        let t = |shape: &[usize], s: u64| {
            let len: usize = shape.iter().product();
            Tensor::from_vec((0..len).map(|i| (((i as u64 * 13 + s * 7) % 17) as f64 - 8.0) / 8.0).collect(), shape).unwrap()
        };
        let a = if shared == 1 { t(&[1, m, k], seed) } else { t(&[b, m, k], seed) };
        let c = if shared == 2 { t(&[k, n], seed + 1) } else { t(&[b, k, n], seed + 1) };
        let got = a.matmul_sum(&c);
        let want = a.matmul(&c).sum(0, false);
        for (g, w) in got.to_vec().iter().zip(want.to_vec()) {
            prop_assert!((g - w).abs() < 1e-12, "{} vs {}", g, w);
        }
        both(|v| v[0].matmul_sum(&v[1]), &[a, c])?;
    }

    #[test]
    fn logsumexp_and_layer_norm(x in rank_at_least(1), keep in any::<bool>()) {
        let last = x.rank() - 1;
        both(move |v| v[0].logsumexp(last, keep), std::slice::from_ref(&x))?;
        let tail = x.shape()[last];
        let w = Tensor::from_vec((0..tail).map(|i| 0.5 + i as f64 * 0.25).collect(), &[tail]).unwrap();
        let b = Tensor::from_vec((0..tail).map(|i| i as f64 * 0.1 - 0.2).collect(), &[tail]).unwrap();
        both(|v| v[0].layer_norm(1, Some(&v[1]), Some(&v[2]), 1e-5), &[x, w, b])?;
    }

    /// layer_norm's rule computes in one pass in a plain backward and in
    /// `Var` ops when building gradients of gradients: the two agree.
    #[test]
    fn layer_norm_plain_and_recorded_gradients_agree(x in rank_at_least(1), eps in prop_oneof![Just(1e-5), Just(0.5)]) {
        let tape = Tape::<f64>::new();
        let xv = tape.leaf(x.clone());
        let n = x.numel().max(1) as f64;
        let seed = Tensor::from_vec((0..x.numel()).map(|i| (i as f64 * 0.37).sin() * n).collect(), x.shape()).unwrap();
        let y = xv.layer_norm(1, None, None, eps);
        let plain = y.backward_with(&seed).wrt(&xv).unwrap().to_vec();
        let recorded = y.grad_graph_with(&tape.constant(seed), &[&xv])[0].value().to_vec();
        for (p, r) in plain.iter().zip(&recorded) {
            prop_assert!((p - r).abs() <= 1e-9 * (1.0 + r.abs()), "{} vs {}", p, r);
        }
    }

    /// The same with a weight and a bias (one op: its rule gives all
    /// three gradients in one pass, or in `Var` ops).
    #[test]
    fn affine_layer_norm_plain_and_recorded_gradients_agree(x in rank_at_least(1), eps in prop_oneof![Just(1e-5), Just(0.5)]) {
        let tape = Tape::<f64>::new();
        let tail = x.shape()[x.rank() - 1];
        let xv = tape.leaf(x.clone());
        let w = tape.leaf(Tensor::from_vec((0..tail).map(|i| 0.5 + i as f64 * 0.25).collect(), &[tail]).unwrap());
        let b = tape.leaf(Tensor::from_vec((0..tail).map(|i| i as f64 * 0.1 - 0.2).collect(), &[tail]).unwrap());
        let seed = Tensor::from_vec((0..x.numel()).map(|i| (i as f64 * 0.37).sin() * 3.0).collect(), x.shape()).unwrap();
        let y = xv.layer_norm(1, Some(&w), Some(&b), eps);
        let plain = y.backward_with(&seed);
        let recorded = y.grad_graph_with(&tape.constant(seed), &[&xv, &w, &b]);
        for (v, r) in [&xv, &w, &b].into_iter().zip(&recorded) {
            let p = plain.wrt(v).unwrap().to_vec();
            for (p, r) in p.iter().zip(&r.value().to_vec()) {
                prop_assert!((p - r).abs() <= 1e-9 * (1.0 + r.abs()), "{} vs {}", p, r);
            }
        }
    }

    #[test]
    fn attention_with_a_causal_mask(l in 1usize..4, d in 1usize..4, batch in 1usize..3, seed in 0u64..50) {
        let t = |shape: &[usize], s: u64| {
            let n: usize = shape.iter().product();
            Tensor::from_vec((0..n).map(|i| (((i as u64 * 13 + s * 7) % 17) as f64 - 8.0) / 8.0).collect(), shape).unwrap()
        };
        let (q, k, v) = (t(&[batch, l, d], seed), t(&[batch, l, d], seed + 1), t(&[batch, l, d], seed + 2));
        both(|x| x[0].scaled_dot_product_attention(&x[1], &x[2], Some(&causal_mask(x[0].shape()[1]))), &[q, k, v])?;
    }
}

/// A `[lq, lk]` mask: none, causal, scattered (some rows fully masked),
/// or the first row fully masked.
fn mask_of(kind: usize, lq: usize, lk: usize, seed: usize) -> Option<Tensor<f64>> {
    let v = (0..lq * lk).map(|i| match kind {
        1 => (i % lk > i / lk) as u8 as f64,
        2 => (i * 7 + seed).is_multiple_of(3) as u8 as f64,
        _ => (i < lk) as u8 as f64,
    });
    (kind > 0).then(|| Tensor::from_vec(v.collect(), &[lq, lk]).unwrap())
}

/// `q`, `k`, `v` stored `[b, l, h, d]` and viewed as `[b, h, l, d]` (the
/// strided heads a multi-head layer hands over).
fn heads<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
    x.permute(&[0, 2, 1, 3])
}

/// Gives a closure the signature gradcheck takes (for every tape lifetime).
fn hr<F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + Copy>(f: F) -> F {
    f
}

/// Sizes packed in one `usize` so that the closures handed to
/// gradcheck stay `Copy`: (lq, lk, mask kind, seed).
fn unpack(p: usize) -> (usize, usize, usize, usize) {
    (p % 10, (p / 10) % 10, (p / 100) % 10, p / 1000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16)
    ))]

    /// The fused op (strided heads, lq ≠ lk, d ≠ dv, masks with dead
    /// rows), first and second order; the same call through the composed
    /// path (a mask with a batch axis) gives the same values and
    /// gradients.
    #[test]
    fn fused_attention_over_shapes_and_masks(
        (b, h) in (1usize..3, 1usize..3),
        (lq, lk) in (1usize..4, 1usize..4),
        (d, dv) in (1usize..4, 1usize..3),
        kind in 0usize..4,
        seed in 0usize..50,
    ) {
        let t = |shape: &[usize], s: usize| {
            let n: usize = shape.iter().product();
            Tensor::from_vec((0..n).map(|i| (((i * 13 + s * 7) % 17) as f64 - 8.0) / 8.0).collect(), shape).unwrap()
        };
        let ins = [t(&[b, lq, h, d], seed), t(&[b, lk, h, d], seed + 1), t(&[b, lk, h, dv], seed + 2)];
        let p = lq + 10 * lk + 100 * kind + 1000 * seed;
        let fused = hr(move |x| {
            let (lq, lk, kind, seed) = unpack(p);
            let m = mask_of(kind, lq, lk, seed);
            heads(&x[0]).scaled_dot_product_attention(&heads(&x[1]), &heads(&x[2]), m.as_ref())
        });
        both(fused, &ins)?;
        // a [1, lq, lk] mask takes the composed path
        let composed = hr(move |x| {
            let (lq, lk, kind, seed) = unpack(p);
            let m = mask_of(kind.max(1), lq, lk, seed).unwrap().unsqueeze(0);
            heads(&x[0]).scaled_dot_product_attention(&heads(&x[1]), &heads(&x[2]), Some(&m))
        });
        let fused_masked = hr(move |x| {
            let (lq, lk, kind, seed) = unpack(p);
            let m = mask_of(kind.max(1), lq, lk, seed).unwrap();
            heads(&x[0]).scaled_dot_product_attention(&heads(&x[1]), &heads(&x[2]), Some(&m))
        });
        let run = |f: &dyn for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>| {
            let tape = Tape::<f64>::new();
            let xs: Vec<_> = ins.iter().map(|x| tape.leaf(x.clone())).collect();
            let y = f(&xs);
            let seed_g = t(y.shape(), 5);
            let g = y.backward_with(&seed_g);
            let mut out = y.value().to_vec();
            for x in &xs {
                out.extend(g.wrt(x).unwrap().to_vec());
            }
            out
        };
        let (a, c) = (run(&fused_masked), run(&composed));
        for (x, y) in a.iter().zip(&c) {
            prop_assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{} vs {}", x, y);
        }
    }

    /// The fused rule's plain kernel and its recorded `Var` formula agree.
    #[test]
    fn fused_attention_plain_and_recorded_gradients_agree(
        (lq, lk) in (1usize..5, 1usize..5),
        kind in 0usize..4,
        seed in 0usize..50,
    ) {
        let t = |shape: &[usize], s: usize| {
            let n: usize = shape.iter().product();
            Tensor::from_vec((0..n).map(|i| (((i * 11 + s * 5) % 13) as f64 - 6.0) / 4.0).collect(), shape).unwrap()
        };
        let tape = Tape::<f64>::new();
        let (q, k, v) = (tape.leaf(t(&[2, lq, 3], seed)), tape.leaf(t(&[2, lk, 3], seed + 1)), tape.leaf(t(&[2, lk, 2], seed + 2)));
        let m = mask_of(kind, lq, lk, seed);
        let y = q.scaled_dot_product_attention(&k, &v, m.as_ref());
        let g = t(y.shape(), seed + 3);
        let plain = y.backward_with(&g);
        let recorded = y.grad_graph_with(&tape.constant(g), &[&q, &k, &v]);
        for (x, r) in [&q, &k, &v].iter().zip(&recorded) {
            let (p, r) = (plain.wrt(x).unwrap().to_vec(), r.value().to_vec());
            for (p, r) in p.iter().zip(&r) {
                prop_assert!((p - r).abs() <= 1e-12 * (1.0 + r.abs()), "{} vs {}", p, r);
            }
        }
    }
}

#[test]
fn values_match_the_formulas_and_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![-3.0, -0.5, 0.0, 0.5, 3.0], &[5]).unwrap());
    // references from Python's math module (erf, tanh, log1p), f64
    let gelu = [
        -0.00404969409489031,
        -0.15426876936299344,
        0.0,
        0.34573123063700656,
        2.99595030590511,
    ];
    let gelu_t = [
        -0.0036373920817729943,
        -0.15428599017485606,
        0.0,
        0.34571400982514394,
        2.996362607918227,
    ];
    let softplus = [
        0.04858735157374206,
        0.4740769841801067,
        std::f64::consts::LN_2,
        0.9740769841801067,
        3.048587351573742,
    ];
    for (got, want) in [
        (x.gelu(), gelu),
        (x.gelu_tanh(), gelu_t),
        (x.softplus(), softplus),
    ] {
        for (g, w) in got.value().to_vec().iter().zip(want) {
            assert!((g - w).abs() < 1e-14, "{g} vs {w}");
        }
    }
    // softplus'(0) = σ(0) = ½ exactly
    let g = x.softplus().sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec()[2], 0.5);
    // logsumexp at ±1e4 is finite and exact
    let big = tape.leaf(Tensor::from_vec(vec![1e4, -1e4, 1e4], &[3]).unwrap());
    let lse = big.logsumexp(0, false);
    assert_eq!(lse.item(), 1e4 + 2f64.ln());
    assert_eq!(
        lse.backward().wrt(&big).unwrap().to_vec(),
        vec![0.5, 0.0, 0.5]
    );
    // masked_fill: the filled places get no gradient
    let m = Tensor::from_vec(vec![0.0, 1.0, 0.0, 0.0, 1.0], &[5]).unwrap();
    let y = x.masked_fill(&m, -7.0);
    assert_eq!(y.value().to_vec(), vec![-3.0, -7.0, 0.0, 0.5, -7.0]);
    assert_eq!(
        y.sum_all().backward().wrt(&x).unwrap().to_vec(),
        vec![1.0, 0.0, 1.0, 1.0, 0.0]
    );
}

#[test]
fn negative_axes_count_from_the_end() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec((0..6).map(f64::from).collect(), &[2, 3]).unwrap());
    assert_eq!(
        x.softmax(-1).value().to_vec(),
        x.softmax(1).value().to_vec()
    );
    assert_eq!(
        x.log_softmax(-2).value().to_vec(),
        x.log_softmax(0).value().to_vec()
    );
    assert_eq!(x.sum(-1, false).value().to_vec(), vec![3.0, 12.0]);
    assert_eq!(x.mean(-2, true).value().to_vec(), vec![1.5, 2.5, 3.5]);
    assert_eq!(x.max(-1, false).value().to_vec(), vec![2.0, 5.0]);
    assert_eq!(x.min(-1, false).value().to_vec(), vec![0.0, 3.0]);
    assert_eq!(x.logsumexp(-1, false).shape(), &[2]);
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.sum(-3, false))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("sum: axis -3 is out of range for a tensor of shape [2, 3]"),
        "{msg}"
    );
}
