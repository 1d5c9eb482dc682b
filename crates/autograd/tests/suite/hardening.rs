//! Inputs that once gave a silent wrong gradient or a confusing panic
//! (issue 9, items 5, 6, 8, 9, 13, 14), and every op's gradient at its
//! edges: exactly at kinks and ties (PyTorch's subgradient), at
//! saturation (±1e4, probabilities 0 and 1), and on size-0 dims.

use crate::t;
use mnemon_autograd::check::{gradcheck, gradgradcheck, Tolerance};
use mnemon_autograd::{functional, CustomOp, Tape, Var};
use mnemon_tensor::Tensor;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let err = catch_unwind(AssertUnwindSafe(f))
        .map(|_| ())
        .expect_err("should panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn tol() -> Tolerance {
    Tolerance {
        eps: 1e-6,
        atol: 1e-5,
        rtol: 1e-4,
    }
}

/// The gradient of `sum(f(x))` at `x`.
fn grad_of(f: impl for<'t> Fn(&Var<'t, f64>) -> Var<'t, f64>, x: &[f64]) -> Vec<f64> {
    functional::grad(|v| f(v).sum_all(), &t(x)).to_vec()
}

#[test]
fn item5_a_var_of_another_tape_panics_naming_both() {
    let t1 = Tape::<f64>::new();
    let t2 = Tape::<f64>::new();
    let a = t1.leaf(t(&[1.0, 2.0]));
    let _b0 = t2.leaf(t(&[9.0, 9.0]));
    let b = t2.leaf(t(&[3.0, 4.0]));
    let a_line = line!() - 3;
    let line = line!() + 1;
    let msg = panic_message(|| &b * &a);
    let here = format!("{}:{line}", file!());
    let there = format!("{}:{a_line}", file!());
    assert!(
        msg.starts_with("mul: an input belongs to another tape (it was made by `leaf` at ")
            && msg.contains(&there)
            && msg.contains(&format!("called at {here}:")),
        "{msg}"
    );
    // the other way round, and through a constant of the recording tape
    let c = t1.constant(t(&[1.0, 1.0]));
    assert!(panic_message(|| &c + &b).starts_with("add: an input belongs to another tape"));
}

#[test]
fn item6_bce_with_logits_at_zero_is_half() {
    let g = grad_of(
        |z| z.binary_cross_entropy_with_logits(&z.tape().constant(t(&[0.0, 1.0, 0.3]))),
        &[0.0, 0.0, 0.0],
    );
    assert_eq!(g, vec![0.5, -0.5, 0.2]);
    // first and second order, at the kink of the composed form and at ±1e4
    let z = t(&[0.0, -1e4, 1e4, 0.7, -2.0]);
    let target = t(&[1.0, 1.0, 0.0, 0.25, 0.0]);
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        v[0].binary_cross_entropy_with_logits(&v[1])
    }
    gradcheck(f, &[z.clone(), target.clone()], tol()).unwrap();
    gradgradcheck(f, &[z, target], tol()).unwrap();
}

#[test]
fn item7_bce_gradient_is_finite_at_probabilities_0_and_1() {
    // (the probability's gradient; the target's is ±∞ there, as torch's)
    let tape = Tape::<f64>::new();
    let p = tape.leaf(t(&[0.0, 0.0, 1.0, 1.0]));
    let target = tape.leaf(t(&[0.0, 1.0, 0.0, 1.0]));
    let l = p.binary_cross_entropy(&target);
    assert_eq!(l.value().to_vec(), vec![0.0, 100.0, 100.0, 0.0]);
    let g = l.sum_all().backward();
    // PyTorch: (p − t) / max(p(1−p), 1e−12), its 1e−12 an f32 constant
    // (torch 2.15 in f64: 1/9.99999996e−13)
    let floor = 1e-12_f32 as f64;
    assert_eq!(
        g.wrt(&p).unwrap().to_vec(),
        vec![0.0, -1.0 / floor, 1.0 / floor, 0.0]
    );
    // torch 2.15: ln(1−p) − ln p, not floored (the loss's logs are)
    let inf = f64::INFINITY;
    assert_eq!(g.wrt(&target).unwrap().to_vec(), vec![inf, inf, -inf, -inf]);
    // inside (0, 1): first and second order against finite differences
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        v[0].binary_cross_entropy(&v[1])
    }
    let inputs = [t(&[0.1, 0.5, 0.93]), t(&[0.0, 0.3, 1.0])];
    gradcheck(f, &inputs, tol()).unwrap();
    gradgradcheck(f, &inputs, tol()).unwrap();
    // a saturated f32 sigmoid: finite loss, finite gradient
    let tape = Tape::<f32>::new();
    let z = tape.leaf(Tensor::from_vec(vec![40.0f32, -200.0], &[2]).unwrap());
    let y = tape.constant(Tensor::from_vec(vec![0.0f32, 1.0], &[2]).unwrap());
    let l = z.sigmoid().binary_cross_entropy(&y).sum_all();
    assert_eq!(l.item(), 200.0);
    let gz = l.backward().wrt(&z).unwrap().to_vec();
    assert!(gz.iter().all(|g| g.is_finite()), "{gz:?}");
}

#[test]
fn item8_a_hook_must_keep_the_gradient_shape() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(3.0));
    let y = &x * &x;
    y.register_hook(|_| Some(Tensor::ones(&[5])));
    let msg = panic_message(|| y.backward());
    assert!(
        msg.starts_with("register_hook: the hook on `mul` (at ")
            && msg.ends_with("returned a gradient of shape [5] for a Var of shape []"),
        "{msg}"
    );
    // a hook of the right shape still replaces the gradient
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(3.0));
    let y = &x * &x;
    y.register_hook(|g| Some(g * 2.0));
    assert_eq!(y.backward().wrt(&x).unwrap().item(), 12.0);
}

/// x², with a tensor-only backward.
struct Square;
impl CustomOp<f64> for Square {
    fn name(&self) -> &'static str {
        "my_square"
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        x[0] * x[0]
    }
    fn backward(
        &self,
        x: &[&Tensor<f64>],
        _: &Tensor<f64>,
        g: &Tensor<f64>,
    ) -> Vec<Option<Tensor<f64>>> {
        vec![Some(&(x[0] * g) * 2.0)]
    }
}

/// x², with a differentiable backward too.
struct Square2;
impl CustomOp<f64> for Square2 {
    fn name(&self) -> &'static str {
        "my_square2"
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        Square.forward(x)
    }
    fn backward(
        &self,
        x: &[&Tensor<f64>],
        y: &Tensor<f64>,
        g: &Tensor<f64>,
    ) -> Vec<Option<Tensor<f64>>> {
        Square.backward(x, y, g)
    }
    fn backward_var<'t>(
        &self,
        x: &[Var<'t, f64>],
        _: &Var<'t, f64>,
        g: &Var<'t, f64>,
    ) -> Option<Vec<Option<Var<'t, f64>>>> {
        Some(vec![Some((&x[0] * g).mul_scalar(2.0))])
    }
}

#[test]
fn item9_second_order_through_a_custom_op_never_silently_zero() {
    let x = t(&[1.0, -2.0]);
    // first order through the tensor backward works as before
    let g = functional::grad(|v| v.tape().custom(Square, &[v]).sum_all(), &x);
    assert_eq!(g.to_vec(), vec![2.0, -4.0]);
    for msg in [
        panic_message(|| functional::hessian(|v| v.tape().custom(Square, &[v]).sum_all(), &x)),
        panic_message(|| functional::hvp(|v| v.tape().custom(Square, &[v]).sum_all(), &x, &x)),
        panic_message(|| functional::jvp(|v| v.tape().custom(Square, &[v]), &x, &x)),
    ] {
        assert!(
            msg.starts_with("custom op `my_square`: gradients of gradients"),
            "{msg}"
        );
    }
    let h = functional::hessian(|v| v.tape().custom(Square2, &[v]).sum_all(), &x);
    assert_eq!(h.to_vec(), vec![2.0, 0.0, 0.0, 2.0]);
    let (_, jv) = functional::jvp(|v| v.tape().custom(Square2, &[v]), &x, &t(&[1.0, 1.0]));
    assert_eq!(jv.to_vec(), vec![2.0, -4.0]);
    gradgradcheck(|v| v[0].tape().custom(Square2, &[&v[0]]), &[x], tol()).unwrap();
}

#[test]
fn item13_errors_name_the_op_the_user_called() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 3]));
    let msg = panic_message(|| x.mean(5, true));
    assert!(
        msg.starts_with("mean: axis 5 is out of range for a tensor of shape [2, 3]"),
        "{msg}"
    );
}

#[test]
fn item14_anomaly_in_backward_names_the_forward_op_and_line() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_mode(true);
    let x = tape.leaf(t(&[0.0, 1.0]));
    let line = line!() + 1;
    let y = x.sqrt().sum_all();
    let msg = panic_message(|| y.backward());
    assert!(
        msg.starts_with(&format!(
            "anomaly: the backward of `sqrt` (forward at {}:{line}:",
            file!()
        )) && msg.ends_with("produced a non-finite value (in its `div` step)"),
        "{msg}"
    );
}

#[test]
fn kinks_and_ties_take_pytorchs_subgradient() {
    // relu'(0) = 0, |x|'(0) = 0 (sign(0)), clamp' = 0 on both bounds
    // (PyTorch 2.15: 1 strictly inside only)
    assert_eq!(
        grad_of(|x| x.relu(), &[-1.0, 0.0, 2.0]),
        vec![0.0, 0.0, 1.0]
    );
    assert_eq!(
        grad_of(|x| x.abs(), &[-1.0, 0.0, 2.0, f64::NAN]),
        vec![-1.0, 0.0, 1.0, 0.0]
    );
    // x^±0.5 as torch runs them, sqrt and its reciprocal: at −0 the
    // result is −0 (−∞) and the gradient −∞, at −∞ NaN (IEEE pow: +0, +∞)
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[-0.0, f64::NEG_INFINITY, 4.0]));
    let (h, r) = (x.powf(0.5), x.powf(-0.5));
    let (hv, rv) = (h.value().to_vec(), r.value().to_vec());
    assert!(hv[0] == 0.0 && hv[0].is_sign_negative() && hv[1].is_nan() && hv[2] == 2.0);
    assert!(rv[0] == f64::NEG_INFINITY && rv[1].is_nan() && rv[2] == 0.5);
    assert_eq!(
        h.sum_all().backward().wrt(&x).unwrap().to_vec()[0],
        f64::NEG_INFINITY
    );
    assert_eq!(r.sum_all().backward().wrt(&x).unwrap().to_vec()[2], -0.0625);
    // relu's one-pass backward (plain) and its recorded form (gradients of
    // gradients) agree bit for bit, kink, NaN input and non-finite seeds
    // included; both select as PyTorch's threshold_backward does (0 where
    // x <= 0 whatever g is, g where x is NaN)
    let xs = t(&[-1.0, 0.0, 2.0, f64::NAN, -3.0, 4.0]);
    let seed = t(&[1.5, 2.0, -3.0, 5.0, f64::INFINITY, f64::NAN]);
    let tape = Tape::<f64>::new();
    let x = tape.leaf(xs);
    let y = x.relu();
    let plain = y.backward_with(&seed).wrt(&x).unwrap().to_vec();
    let recorded = y.grad_graph_with(&tape.constant(seed), &[&x])[0]
        .value()
        .to_vec();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&plain), bits(&recorded), "{plain:?} vs {recorded:?}");
    assert_eq!(plain[..5], [0.0, 0.0, -3.0, 5.0, 0.0]);
    assert!(plain[5].is_nan());
    assert!(x.relu().value().to_vec()[3].is_nan(), "relu(NaN) is NaN");
    assert_eq!(
        grad_of(|x| x.clamp(-1.0, 1.0), &[-2.0, -1.0, 0.0, 1.0, 2.0]),
        vec![0.0, 0.0, 1.0, 0.0, 0.0]
    );
    // maximum/minimum at a tie: half to each side (PyTorch's maximum)
    let half = |max: bool| {
        let tape = Tape::<f64>::new();
        let a = tape.leaf(t(&[1.0, 2.0]));
        let b = tape.leaf(t(&[1.0, 0.0]));
        let y = if max { a.maximum(&b) } else { a.minimum(&b) };
        let g = y.sum_all().backward();
        (g.wrt(&a).unwrap().to_vec(), g.wrt(&b).unwrap().to_vec())
    };
    assert_eq!(half(true), (vec![0.5, 1.0], vec![0.5, 0.0]));
    assert_eq!(half(false), (vec![0.5, 0.0], vec![0.5, 1.0]));
    // where either side is NaN (and so the result), both get the whole
    // gradient: torch 2.15's maximum/minimum backward
    for max in [true, false] {
        let tape = Tape::<f64>::new();
        let a = tape.leaf(t(&[f64::NAN, 1.0, f64::NAN]));
        let b = tape.leaf(t(&[2.0, f64::NAN, f64::NAN]));
        let y = if max { a.maximum(&b) } else { a.minimum(&b) };
        assert!(y.value().to_vec().iter().all(|v| v.is_nan()));
        let g = y.sum_all().backward();
        assert_eq!(g.wrt(&a).unwrap().to_vec(), vec![1.0; 3], "max {max}");
        assert_eq!(g.wrt(&b).unwrap().to_vec(), vec![1.0; 3], "max {max}");
    }
    // max over an axis: to the first argmax (PyTorch's max(dim)); over
    // everything: split evenly among ties (PyTorch's max())
    assert_eq!(
        grad_of(|x| x.max(0, false), &[3.0, 1.0, 3.0]),
        vec![1.0, 0.0, 0.0]
    );
    assert_eq!(
        grad_of(|x| x.min(0, false), &[1.0, 3.0, 1.0]),
        vec![1.0, 0.0, 0.0]
    );
    assert_eq!(
        grad_of(|x| x.max_all(), &[3.0, 1.0, 3.0, 3.0]),
        vec![1.0 / 3.0, 0.0, 1.0 / 3.0, 1.0 / 3.0]
    );
    assert_eq!(grad_of(|x| x.min_all(), &[1.0, 1.0]), vec![0.5, 0.5]);
    // powers at zero: d(x²)/dx = 0, d(x^0.5)/dx at 0 is inf as in PyTorch
    assert_eq!(grad_of(|x| x.powi(2), &[0.0]), vec![0.0]);
    assert_eq!(grad_of(|x| x.powi(0), &[0.0]), vec![0.0]);
}

#[test]
fn saturation_keeps_gradients_finite_and_right() {
    let big = t(&[1e4, -1e4, 0.0, 3.0]);
    type F = for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>;
    let checks: Vec<(&str, F)> = vec![
        ("sigmoid", |v| v[0].sigmoid()),
        ("tanh", |v| v[0].tanh()),
        ("softmax", |v| v[0].softmax(0)),
        ("log_softmax", |v| v[0].log_softmax(0)),
        ("softplus", |v| v[0].softplus()),
        ("erf", |v| v[0].erf()),
        ("gelu", |v| v[0].gelu()),
        ("gelu_tanh", |v| v[0].gelu_tanh()),
        ("logsumexp", |v| v[0].logsumexp(0, false)),
        ("layer_norm", |v| v[0].layer_norm(1, None, None, 1e-5)),
        ("bce_with_logits", |v| {
            let target = v[0].tape().constant(t(&[1.0, 0.0, 1.0, 0.5]));
            v[0].binary_cross_entropy_with_logits(&target)
        }),
    ];
    for (name, f) in checks {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(big.clone());
        let y = f(std::slice::from_ref(&x));
        assert!(
            y.value().to_vec().iter().all(|v| v.is_finite()),
            "{name} forward"
        );
        gradcheck(f, std::slice::from_ref(&big), tol()).unwrap_or_else(|e| panic!("{name}: {e}"));
        gradgradcheck(f, std::slice::from_ref(&big), tol())
            .unwrap_or_else(|e| panic!("{name} 2nd order: {e}"));
    }
}

#[test]
fn size_zero_dims_give_empty_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[0, 3]));
    let w = tape.leaf(Tensor::ones(&[3, 2]));
    let y = x.matmul(&w).sigmoid().sum_all()
        + x.softmax(0).sum_all()
        + x.log_softmax(1).sum_all()
        + x.sum(0, false).sum_all();
    assert_eq!(y.item(), 0.0);
    let g = y.backward();
    assert_eq!(g.wrt(&x).unwrap().shape(), &[0, 3]);
    assert_eq!(g.wrt(&w).unwrap().to_vec(), vec![0.0; 6]);
}

/// Found by comparing every op with JAX (float64) on edge inputs, with
/// PyTorch's conventions where the two differ: each of these gave a value
/// PyTorch does not.
#[test]
fn nan_passes_through_relu_and_clamp() {
    let x = t(&[f64::NAN, -2.0, 0.5, 3.0]);
    let r = x.relu().to_vec();
    assert!(r[0].is_nan(), "{r:?}");
    assert_eq!(r[1..], [0.0, 0.5, 3.0]);
    let c = x.clamp(-1.0, 1.0).to_vec();
    assert!(c[0].is_nan(), "{c:?}");
    assert_eq!(c[1..], [-1.0, 0.5, 1.0]);
    // lo > hi: every element becomes hi (PyTorch's documented rule), with
    // no gradient anywhere
    assert_eq!(x.clamp(2.0, 1.0).to_vec()[1..], [1.0, 1.0, 1.0]);
    assert_eq!(
        grad_of(|v| v.clamp(2.0, 1.0), &[0.0, 1.5, 3.0]),
        vec![0.0; 3]
    );
    // clamp's gradient at NaN is 0 (x is not inside [lo, hi])
    assert_eq!(grad_of(|v| v.clamp(-1.0, 1.0), &[f64::NAN]), vec![0.0]);
}

#[test]
fn pow_gradients_at_a_zero_base_take_pytorchs_values() {
    // d(a^b)/db = a^b·ln a is 0·(−∞) at a = 0: PyTorch gives 0 for b >= 0
    // and the formula's value for b < 0; d(a^b)/da = b·a^(b−1) is 0·∞ at
    // a = 0, b = 0: PyTorch gives 0
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[0.0, 0.0, 0.0, 0.0, 2.0]));
    let b = tape.leaf(t(&[2.0, 0.0, 0.5, -1.0, 3.0]));
    let y = a.pow(&b);
    let g = y.sum_all().backward();
    let (ga, gb) = (g.wrt(&a).unwrap().to_vec(), g.wrt(&b).unwrap().to_vec());
    assert_eq!(gb[..3], [0.0, 0.0, 0.0]);
    assert_eq!(gb[3], f64::NEG_INFINITY, "∞ · ln 0");
    assert!((gb[4] - 8.0 * 2f64.ln()).abs() < 1e-12);
    assert_eq!(ga[..3], [0.0, 0.0, f64::INFINITY]);
    assert_eq!(ga[4], 12.0);
    // second order keeps the selects: d²(a^b)/db² = a^b·ln²a away from 0
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[0.0, 1.5]));
    let b = tape.leaf(t(&[2.0, 2.0]));
    let gb = &a.pow(&b).sum_all().grad_graph(&[&b])[0];
    let h = gb.sum_all().grad_graph(&[&b])[0].value().to_vec();
    assert_eq!(h[0], 0.0);
    assert!((h[1] - 2.25 * 1.5f64.ln().powi(2)).abs() < 1e-12);
}

#[test]
fn logsumexp_over_an_empty_axis_is_minus_infinity() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[0, 3]));
    let y = x.logsumexp(0, false);
    assert_eq!(y.value().to_vec(), vec![f64::NEG_INFINITY; 3]);
    let g = y.sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().shape(), &[0, 3]);
    let y = tape.leaf(Tensor::zeros(&[2, 0])).logsumexp(-1, true);
    assert_eq!(y.shape(), &[2, 1]);
    assert_eq!(y.value().to_vec(), vec![f64::NEG_INFINITY; 2]);
}

#[test]
fn matmul_of_two_vectors_is_their_dot_product() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[1.0, 2.0, 3.0]));
    let b = tape.leaf(t(&[4.0, -5.0, 6.0]));
    let y = a.matmul(&b);
    assert_eq!((y.shape(), y.item()), (&[][..], 12.0));
    let g = y.backward();
    assert_eq!(g.wrt(&a).unwrap().to_vec(), vec![4.0, -5.0, 6.0]);
    assert_eq!(g.wrt(&b).unwrap().to_vec(), vec![1.0, 2.0, 3.0]);
    assert_eq!(a.value().matmul(b.value()).shape(), &[] as &[usize]);
}

#[test]
fn attention_rows_with_every_key_masked_give_zero_not_nan() {
    // PyTorch's SDPA (`_safe_softmax`): such a query's output and every
    // gradient through it are 0; other rows are untouched
    let tape = Tape::<f64>::new();
    let q = tape.leaf(Tensor::from_vec(vec![0.3, -1.0, 2.0, 0.5], &[2, 2]).unwrap());
    let k = tape.leaf(Tensor::from_vec(vec![1.0, 0.0, -0.5, 2.0], &[2, 2]).unwrap());
    let v = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    let mask = Tensor::from_vec(vec![1.0, 1.0, 0.0, 1.0], &[2, 2]).unwrap();
    let y = q.scaled_dot_product_attention(&k, &v, Some(&mask));
    assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 1.0, 2.0]);
    let seed = Tensor::from_vec(vec![1.0, -2.0, 0.5, 1.5], &[2, 2]).unwrap();
    let g = y.backward_with(&seed);
    assert_eq!(g.wrt(&q).unwrap().to_vec(), vec![0.0; 4]);
    assert_eq!(g.wrt(&k).unwrap().to_vec(), vec![0.0; 4]);
    assert_eq!(g.wrt(&v).unwrap().to_vec(), vec![0.5, 1.5, 0.0, 0.0]);
    // the same inputs with the dead row's mask lifted change only that row
    let open = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap();
    let y2 = q.scaled_dot_product_attention(&k, &v, Some(&open));
    assert_eq!(y2.value().to_vec()[2..], [1.0, 2.0]);
    assert!(y2.value().to_vec()[0] > 1.0);
    // the dead-row path against finite differences, first and second order
    let ins = [q.value().clone(), k.value().clone(), v.value().clone()];
    fn f<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
        // the same mask: query 0 sees no key
        let mask = Tensor::from_vec(vec![1.0, 1.0, 0.0, 1.0], &[2, 2]).unwrap();
        x[0].scaled_dot_product_attention(&x[1], &x[2], Some(&mask))
            .square()
            .sum_all()
    }
    gradcheck(f, &ins, tol()).unwrap();
    gradgradcheck(f, &ins, tol()).unwrap();
}

/// Large tensors' elementwise ops are deferred and fused (W5): their
/// gradients, and gradients of gradients, are the bits the same ops give
/// one by one on a small tensor, and the closed forms.
#[test]
fn fused_elementwise_gradients_match_the_unfused_ones_bit_for_bit() {
    use mnemon_tensor::kernels::fuse::FUSE_MIN;
    fn f<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
        (&(&(&x.sigmoid() * x) + x) - &(&x.tanh() * 0.25)).sum_all()
    }
    let n = FUSE_MIN + 100;
    let big = Tensor::<f64>::linspace(-9.0, 9.0, n);
    let small = big.narrow(0, 0, 1000).contiguous();
    let (gb, gs) = (functional::grad(f, &big), functional::grad(f, &small));
    let ones = |t: &Tensor<f64>| Tensor::ones(t.shape());
    let (hb, hs) = (
        functional::hvp(f, &big, &ones(&big)),
        functional::hvp(f, &small, &ones(&small)),
    );
    let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(gb.narrow(0, 0, 1000).to_vec()), bits(gs.to_vec()));
    assert_eq!(bits(hb.narrow(0, 0, 1000).to_vec()), bits(hs.to_vec()));
    for ((x, g), h) in big.to_vec().iter().zip(gb.to_vec()).zip(hb.to_vec()) {
        let (s, t) = (1.0 / (1.0 + (-x).exp()), x.tanh());
        let dg = s + x * s * (1.0 - s) + 1.0 - 0.25 * (1.0 - t * t);
        let dh = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s)) + 0.5 * t * (1.0 - t * t);
        assert!(
            (g - dg).abs() <= 1e-13 * (1.0 + dg.abs()),
            "x = {x}: {g} vs {dg}"
        );
        assert!((h - dh).abs() <= 1e-12, "x = {x}: {h} vs {dh}");
    }
}

/// `backward_and_free` gives `backward`'s gradients, frees what the tape
/// kept as the sweep passes, and a later pass through the freed tape
/// panics naming it (never a gradient computed from nothing).
#[test]
fn backward_and_free_matches_backward_then_refuses_a_second_pass() {
    let x0 = t(&[0.5, -1.5, 2.0]);
    let w0 = Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0, 0.25, -1.0], &[3, 2]).unwrap();
    let run = |free: bool| {
        let tape = Tape::<f64>::new();
        let (x, w) = (tape.leaf(x0.clone()), tape.leaf(w0.clone()));
        let loss = x.reshape(&[1, 3]).unwrap().matmul(&w).sigmoid().sum_all();
        let kept_before = tape.saved_bytes();
        let grads = if free {
            loss.backward_and_free()
        } else {
            loss.backward()
        };
        let g = (
            grads.wrt(&x).unwrap().to_vec(),
            grads.wrt(&w).unwrap().to_vec(),
        );
        (g, kept_before, tape.saved_bytes())
    };
    let (kept_g, before, after_keep) = run(false);
    let (freed_g, before_free, after_free) = run(true);
    assert_eq!(kept_g, freed_g, "the same gradients, bit for bit");
    assert!(before > 0 && before_free == before);
    assert_eq!(after_keep, before, "backward keeps the saved tensors");
    assert_eq!(after_free, 0, "backward_and_free released every one");

    let tape = Tape::<f64>::new();
    let x = tape.leaf(x0.clone());
    let loss = x.sigmoid().sum_all();
    loss.backward_and_free();
    let msg = panic_message(|| loss.backward());
    assert!(msg.contains("backward_and_free"), "{msg}");
    let msg = panic_message(|| loss.grad_graph(&[&x]));
    assert!(msg.contains("backward_and_free"), "{msg}");
}

/// Explain mode still prints every step (each step is printed before its
/// saved values are freed), and a constant input's shape survives.
#[test]
fn backward_and_free_in_explain_mode() {
    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    let x = tape.leaf(Tensor::scalar(0.0));
    let c = tape.constant(Tensor::scalar(3.0));
    let g = (&x.sigmoid() * &c).backward_and_free();
    assert_eq!(g.wrt(&x).unwrap().item(), 0.75);
    let log = tape.explain_log();
    assert_eq!(log.len(), 2, "{log:?}");
    // each step read its kept values before they were freed
    assert!(log[0].contains("value 0.500000"), "{log:?}");
    assert!(log[1].contains("0.250000 × 3.000000"), "{log:?}");
}
