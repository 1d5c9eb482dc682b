//! SiLU, the leaky ReLU, ELU, `log1p` and `expm1`: values and first
//! derivatives against PyTorch's formulas written as plain loops (edges,
//! kinks, NaN, ±∞ and saturation included), the kink conventions, f32
//! against f64, and both orders against finite differences over proptest
//! shapes.

use mnemon_autograd::check::{gradcheck, gradgradcheck, strategies, Tolerance};
use mnemon_autograd::{Tape, Var};
use mnemon_tensor::Tensor;
use proptest::prelude::*;

const EDGES: [f64; 18] = [
    0.0,
    -0.0,
    1e-300,
    -1e-300,
    1e-17,
    -1e-17,
    0.5,
    -0.5,
    3.0,
    -3.0,
    30.0,
    -30.0,
    750.0,
    -750.0,
    1e4,
    -1e4,
    f64::INFINITY,
    f64::NAN,
];

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

type Op = for<'t> fn(&Var<'t, f64>) -> Var<'t, f64>;
/// A scalar formula.
type Scalar = fn(f64) -> f64;

/// (name, op, value, derivative): PyTorch 2.15's forward and backward
/// formulas, one element at a time.
fn reference() -> Vec<(&'static str, Op, Scalar, Scalar)> {
    vec![
        (
            "silu",
            |x| x.silu(),
            |x| x / (1.0 + (-x).exp()),
            |x| {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            },
        ),
        (
            "leaky_relu(0.2)",
            |x| x.leaky_relu(0.2),
            |x| if x > 0.0 { x } else { x * 0.2 },
            |x| if x > 0.0 { 1.0 } else { 0.2 },
        ),
        (
            "elu(1.5)",
            |x| x.elu(1.5),
            |x| if x <= 0.0 { 1.5 * x.exp_m1() } else { x },
            |x| if x <= 0.0 { 1.5 * x.exp() } else { 1.0 },
        ),
        ("log1p", |x| x.log1p(), f64::ln_1p, |x| 1.0 / (x + 1.0)),
        ("expm1", |x| x.expm1(), f64::exp_m1, |x| x.exp_m1() + 1.0),
    ]
}

/// The same bits, NaN matching NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn values_and_derivatives_match_pytorchs_formulas_at_the_edges() {
    let mut xs = EDGES.to_vec();
    xs.extend(EDGES.iter().map(|x| -x));
    xs.extend((0..40).map(|i| (i as f64 - 20.0) * 0.37));
    for (name, op, value, deriv) in reference() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(xs.clone(), &[xs.len()]).unwrap());
        let y = op(&x);
        let g = y.sum_all().backward().wrt(&x).unwrap().to_vec();
        for ((&xi, yi), gi) in xs.iter().zip(y.value().to_vec()).zip(g) {
            let (vw, dw) = (value(xi), deriv(xi));
            let close = |a: f64, b: f64| same(a, b) || (a - b).abs() <= 1e-15 * b.abs();
            assert!(close(yi, vw), "{name}({xi:e}) = {yi:e}, PyTorch {vw:e}");
            assert!(close(gi, dw), "{name}'({xi:e}) = {gi:e}, PyTorch {dw:e}");
        }
    }
}

#[test]
fn kinks_follow_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![0.0, -0.0, f64::NAN], &[3]).unwrap());
    let grad = |y: Var<'_, f64>| y.sum_all().backward().wrt(&x).unwrap().to_vec();
    // leaky ReLU: the slope at 0, and at NaN (`x > 0` is false)
    assert_eq!(grad(x.leaky_relu(0.1))[..2], [0.1, 0.1]);
    assert_eq!(grad(x.leaky_relu(0.1))[2], 0.1);
    // ELU: alpha·e⁰ = alpha at 0; 1 at NaN (`x <= 0` is false)
    assert_eq!(grad(x.elu(0.5)), vec![0.5, 0.5, 1.0]);
    // the forward keeps the sign of zero as PyTorch: 0·slope, alpha·expm1(−0)
    let signs = |y: Var<'_, f64>| {
        y.value().to_vec()[..2]
            .iter()
            .map(|v| v.is_sign_negative())
            .collect::<Vec<_>>()
    };
    assert_eq!(signs(x.leaky_relu(0.1)), vec![false, true]);
    assert_eq!(signs(x.elu(0.5)), vec![false, true]);
}

#[test]
fn saturation_stays_finite_through_second_order() {
    // ELU's second-order terms take eˣ only where x <= 0: no 0·∞ at x = 800
    let big = Tensor::from_vec(vec![800.0, -800.0, 1e4, -1e4, 0.5], &[5]).unwrap();
    let tol = Tolerance {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-5,
    };
    for (name, f) in [
        (
            "silu",
            (|v| v[0].silu()) as for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>,
        ),
        ("elu", |v| v[0].elu(1.0)),
        ("leaky_relu", |v| v[0].leaky_relu(0.01)),
    ] {
        if name != "leaky_relu" {
            // (the leaky ReLU's gradient does not depend on x)
            let tape = Tape::<f64>::new();
            let x = tape.leaf(big.clone());
            let y = f(std::slice::from_ref(&x));
            let g = y.sum_all().grad_graph(&[&x]).remove(0);
            let h = g.sum_all().backward().wrt(&x).unwrap().to_vec();
            assert!(h.iter().all(|v| v.is_finite()), "{name}: {h:?}");
        }
        gradcheck(f, std::slice::from_ref(&big), tol).unwrap_or_else(|e| panic!("{name}: {e}"));
        gradgradcheck(f, std::slice::from_ref(&big), tol)
            .unwrap_or_else(|e| panic!("{name} 2nd: {e}"));
    }
}

#[test]
fn empty_tensors_give_empty_values_and_gradients() {
    for (name, op, _, _) in reference() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::zeros(&[2, 0, 3]));
        let y = op(&x);
        assert_eq!(y.shape(), &[2, 0, 3], "{name}");
        let g = y.sum_all().backward().wrt(&x).unwrap().shape().to_vec();
        assert_eq!(g, vec![2, 0, 3], "{name}");
    }
}

#[test]
fn f32_follows_f64() {
    let xs: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) * 0.173).collect();
    for (name, op32, op64) in [
        (
            "silu",
            (|x| x.silu()) as fn(&Tensor<f32>) -> Tensor<f32>,
            (|x| x.silu()) as fn(&Tensor<f64>) -> Tensor<f64>,
        ),
        ("leaky_relu", |x| x.leaky_relu(0.3), |x| x.leaky_relu(0.3)),
        ("elu", |x| x.elu(1.0), |x| x.elu(1.0)),
        ("log1p", |x| x.abs().log1p(), |x| x.abs().log1p()),
        ("expm1", |x| x.expm1(), |x| x.expm1()),
    ] {
        // the same inputs: f64 from the f32 values (rounding the input
        // alone moves e^17 by 5e-7 relative)
        let t32 = Tensor::from_vec(xs.clone(), &[xs.len()])
            .unwrap()
            .cast::<f32>();
        let t64 = t32.cast::<f64>();
        for (a, b) in op32(&t32).to_vec().iter().zip(op64(&t64).to_vec()) {
            let err = (*a as f64 - b).abs();
            assert!(
                err <= 4e-7 * b.abs().max(1e-30) + 1e-37,
                "{name}: {a} vs {b}"
            );
        }
    }
}

use super::both;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32)
    ))]

    /// Both orders over random shapes (inputs in (−2, 2); `log1p`'s in
    /// (−0.9, 1.1), away from its pole at −1).
    #[test]
    fn both_orders(x in strategies::shape(3, 4).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0)), slope in -1.0f64..1.0, alpha in 0.1f64..2.0) {
        both(|v| v[0].silu(), std::slice::from_ref(&x))?;
        both(move |v| v[0].leaky_relu(slope), std::slice::from_ref(&x))?;
        both(move |v| v[0].elu(alpha), std::slice::from_ref(&x))?;
        both(|v| v[0].expm1(), std::slice::from_ref(&x))?;
        both(|v| v[0].log1p(), &[&x.abs() + (-0.9)])?;
    }
}
