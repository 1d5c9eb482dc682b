//! `GroupNorm` against PyTorch's definition as a plain loop (values and
//! the gradients of input, weight and bias), its shape panic, and both
//! orders with respect to the input over proptest shapes.

use mnemon_autograd::check::{gradcheck, gradgradcheck, Tolerance};
use mnemon_autograd::{Tape, Var};
use mnemon_nn::{GradsParamExt, GroupNorm, Module};
use mnemon_tensor::Tensor;
use proptest::prelude::*;

/// A deterministic spread of values.
fn values(len: usize, seed: u64) -> Vec<f64> {
    (0..len)
        .map(|i| (((i as u64 * 7919 + seed * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 4.0)
        .collect()
}

/// A group norm with weight and bias that are not ones and zeros.
fn group_norm(groups: usize, c: usize, seed: u64) -> GroupNorm<f64> {
    let mut gn = GroupNorm::new(groups, c);
    gn.weight.value = Tensor::from_vec(values(c, seed + 1), &[c]).unwrap();
    gn.bias.value = Tensor::from_vec(values(c, seed + 2), &[c]).unwrap();
    gn.eps = 1e-3;
    gn
}

/// PyTorch's group norm of `x` `[n, c, positions]` and the gradients of
/// `Σ out · cot` with respect to x, weight and bias, by plain loops.
#[allow(clippy::type_complexity)]
fn reference(
    x: &[f64],
    (n, c, p): (usize, usize, usize),
    groups: usize,
    gn: &GroupNorm<f64>,
    cot: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (w, b) = (gn.weight.value.to_vec(), gn.bias.value.to_vec());
    let cg = c / groups;
    let m = (cg * p) as f64;
    let (mut y, mut gx) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    let (mut gw, mut gb) = (vec![0.0; c], vec![0.0; c]);
    for s in 0..n {
        for g in 0..groups {
            let idx: Vec<usize> = (g * cg..(g + 1) * cg)
                .flat_map(|ch| (0..p).map(move |q| (s * c + ch) * p + q))
                .collect();
            let mean = idx.iter().map(|&i| x[i]).sum::<f64>() / m;
            let var = idx.iter().map(|&i| (x[i] - mean).powi(2)).sum::<f64>() / m;
            let inv = 1.0 / (var + gn.eps).sqrt();
            let xhat = |i: usize| (x[i] - mean) * inv;
            let ch = |i: usize| (i / p) % c;
            // dL/dx̂ = cot·w; dL/dx = inv·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))
            let dxhat = |i: usize| cot[i] * w[ch(i)];
            let mean_d = idx.iter().map(|&i| dxhat(i)).sum::<f64>() / m;
            let mean_dx = idx.iter().map(|&i| dxhat(i) * xhat(i)).sum::<f64>() / m;
            for &i in &idx {
                y[i] = xhat(i) * w[ch(i)] + b[ch(i)];
                gx[i] = inv * (dxhat(i) - mean_d - xhat(i) * mean_dx);
                gw[ch(i)] += cot[i] * xhat(i);
                gb[ch(i)] += cot[i];
            }
        }
    }
    (y, gx, gw, gb)
}

#[test]
fn matches_pytorchs_definition_as_a_plain_loop() {
    for (n, c, spatial, groups) in [
        (2, 6, vec![3], 3),
        (1, 4, vec![2, 3], 2),
        (3, 5, vec![], 5),
        (2, 4, vec![2, 2], 1),
        (0, 2, vec![3], 2),
    ] {
        let p: usize = spatial.iter().product();
        let mut shape = vec![n, c];
        shape.extend(&spatial);
        let x = values(n * c * p, 3);
        let cot = values(n * c * p, 4);
        let gn = group_norm(groups, c, 5);
        let (y, gx, gw, gb) = reference(&x, (n, c, p), groups, &gn, &cot);
        let tape = Tape::<f64>::new();
        let xv = tape.leaf(Tensor::from_vec(x, &shape).unwrap());
        let out = gn.forward(&xv);
        assert_eq!(out.shape(), &shape[..]);
        let close = |a: &[f64], b: &[f64], what: &str| {
            assert_eq!(a.len(), b.len());
            for (u, v) in a.iter().zip(b) {
                assert!(
                    (u - v).abs() < 1e-12 * (1.0 + v.abs()),
                    "{shape:?} {what}: {u} vs {v}"
                );
            }
        };
        close(&out.value().to_vec(), &y, "value");
        let g = (&out * &tape.constant(Tensor::from_vec(cot, &shape).unwrap()))
            .sum_all()
            .backward();
        close(&g.wrt(&xv).unwrap().to_vec(), &gx, "input gradient");
        close(
            &g.param(&gn.weight).unwrap().to_vec(),
            &gw,
            "weight gradient",
        );
        close(&g.param(&gn.bias).unwrap().to_vec(), &gb, "bias gradient");
    }
}

#[test]
fn no_positions_give_an_empty_output_and_gradient() {
    let gn = group_norm(2, 4, 1);
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 4, 0]));
    let y = gn.forward(&x);
    assert_eq!(y.shape(), &[2, 4, 0]);
    let g = y.sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().shape(), &[2, 4, 0]);
    assert_eq!(g.param(&gn.weight).unwrap().to_vec(), vec![0.0; 4]);
}

#[test]
fn bad_shapes_panic_at_the_caller() {
    let err = std::panic::catch_unwind(|| GroupNorm::<f32>::new(4, 6)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("GroupNorm: 6 channels do not split into 4 groups, called at"),
        "{msg}"
    );
    let gn = GroupNorm::<f64>::new(2, 4);
    let line = line!() + 3;
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tape = Tape::<f64>::new();
        gn.forward(&tape.leaf(Tensor::zeros(&[2, 3, 5])));
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("GroupNorm: input [2, 3, 5] is not [batch, 4, ..]"),
        "{msg}"
    );
    assert!(msg.contains(&format!("group_norm.rs:{line}")), "{msg}");
}

/// The group norm's forward as a function of the inputs.
fn forward_of(gn: &GroupNorm<f64>) -> impl for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + Copy + '_ {
    move |v| gn.forward(&v[0])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16)
    ))]

    /// Both orders with respect to the input (positions ≥ 2 per group, so
    /// the variance is not zero).
    #[test]
    fn both_orders(n in 1usize..3, groups in 1usize..4, per in 1usize..3, p in 2usize..4, seed in 0u64..100) {
        let c = groups * per;
        let x = Tensor::from_vec(values(n * c * p, seed), &[n, c, p]).unwrap();
        let gn = group_norm(groups, c, seed);
        let tol = Tolerance { eps: 1e-6, atol: 1e-5, rtol: 1e-4 };
        let f = forward_of(&gn);
        gradcheck(f, std::slice::from_ref(&x), tol).map_err(|e| TestCaseError::fail(format!("1st: {e}")))?;
        gradgradcheck(f, std::slice::from_ref(&x), tol).map_err(|e| TestCaseError::fail(format!("2nd: {e}")))?;
    }
}
