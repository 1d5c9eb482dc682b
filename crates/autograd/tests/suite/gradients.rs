//! Every differentiable op: gradient against f64 central differences over
//! proptest-generated shapes and values (broadcast shapes, rank 0 and
//! non-contiguous inputs included), and second derivatives (gradgradcheck)
//! where they are non-zero.

use mnemon_autograd::check::{gradcheck, gradgradcheck, strategies, Tolerance};
use mnemon_autograd::{Tape, Var};
use mnemon_tensor::Tensor;
use proptest::prelude::*;

fn tol() -> Tolerance {
    Tolerance {
        eps: 1e-6,
        atol: 1e-5,
        rtol: 1e-4,
    }
}

fn shaped(max_rank: usize) -> impl Strategy<Value = Tensor<f64>> {
    strategies::shape(max_rank, 3).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0))
}

fn positive(max_rank: usize) -> impl Strategy<Value = Tensor<f64>> {
    strategies::shape(max_rank, 3).prop_flat_map(|s| strategies::tensor(s, 0.5, 2.5))
}

fn pair() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    strategies::broadcast_pair(3, 3).prop_flat_map(|(a, b)| {
        (
            strategies::tensor(a, -2.0, 2.0),
            strategies::tensor(b, 0.5, 2.0),
        )
    })
}

/// A tensor of `shape` with values in [-1, 1) spread by `seed`.
fn spread_tensor(shape: &[usize], seed: u64) -> Tensor<f64> {
    let len: usize = shape.iter().product();
    let v = (0..len).map(|i| ((i as u64 * 37 + seed * 11) % 17) as f64 / 8.5 - 1.0);
    Tensor::from_vec(v.collect(), shape).unwrap()
}

/// Values kept away from kinks (0 for relu/abs) so finite differences are valid.
fn off_kinks(t: Tensor<f64>) -> Tensor<f64> {
    t.map(|v| if v.abs() < 0.05 { v + 0.2 } else { v })
}

macro_rules! check_both {
    ($f:expr, $inputs:expr) => {{
        let inputs = $inputs;
        let r = gradcheck($f, &inputs, tol());
        prop_assert!(r.is_ok(), "first order: {}", r.unwrap_err());
        let r = gradgradcheck($f, &inputs, tol());
        prop_assert!(r.is_ok(), "second order: {}", r.unwrap_err());
    }};
}

macro_rules! check_first {
    ($f:expr, $inputs:expr) => {{
        let inputs = $inputs;
        let r = gradcheck($f, &inputs, tol());
        prop_assert!(r.is_ok(), "first order: {}", r.unwrap_err());
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
    ))]

    #[test]
    fn grad_add((a, b) in pair()) { check_first!(|v| &v[0] + &v[1], vec![a, b]); }
    #[test]
    fn grad_sub((a, b) in pair()) { check_first!(|v| &v[0] - &v[1], vec![a, b]); }
    #[test]
    fn grad_mul((a, b) in pair()) { check_both!(|v| &v[0] * &v[1], vec![a, b]); }
    #[test]
    fn grad_div((a, b) in pair()) { check_both!(|v| &v[0] / &v[1], vec![a, b]); }
    #[test]
    fn grad_pow((a, b) in pair()) { check_both!(|v| v[1].pow(&v[0]), vec![a, b]); }
    #[test]
    fn grad_maximum((a, b) in pair()) { check_first!(|v| v[0].maximum(&(&v[1] * 0.7)), vec![off_kinks(a), b]); }
    #[test]
    fn grad_minimum((a, b) in pair()) { check_first!(|v| v[0].minimum(&(&v[1] * 0.7)), vec![off_kinks(a), b]); }
    #[test]
    fn grad_where((a, b) in pair()) {
        let mask = a.gt(&Tensor::scalar(0.0));
        check_both!(|v| Var::where_(&mask, &v[0].sin(), &(&v[1] * &v[1])), vec![a.clone(), b]);
    }
    #[test]
    fn grad_scalar_ops(x in shaped(3)) { check_both!(|v| (&v[0] * 1.7 + 0.3 - 0.2) / 0.9, vec![x]); }

    #[test]
    fn grad_neg(x in shaped(3)) { check_first!(|v| -&v[0], vec![x]); }
    #[test]
    fn grad_exp(x in shaped(3)) { check_both!(|v| v[0].exp(), vec![x]); }
    #[test]
    fn grad_log(x in positive(3)) { check_both!(|v| v[0].log(), vec![x]); }
    #[test]
    fn grad_sqrt(x in positive(3)) { check_both!(|v| v[0].sqrt(), vec![x]); }
    #[test]
    fn grad_abs(x in shaped(3)) { check_first!(|v| v[0].abs(), vec![off_kinks(x)]); }
    #[test]
    fn grad_recip(x in positive(3)) { check_both!(|v| v[0].recip(), vec![x]); }
    #[test]
    fn grad_sigmoid(x in shaped(3)) { check_both!(|v| v[0].sigmoid(), vec![x]); }
    #[test]
    fn grad_tanh(x in shaped(3)) { check_both!(|v| v[0].tanh(), vec![x]); }
    #[test]
    fn grad_relu(x in shaped(3)) { check_first!(|v| v[0].relu(), vec![off_kinks(x)]); }
    #[test]
    fn grad_sin_cos(x in shaped(3)) { check_both!(|v| &v[0].sin() * &v[0].cos(), vec![x]); }
    #[test]
    fn grad_powf(x in positive(3), p in -2.0f64..3.0) { check_both!(move |v| v[0].powf(p), vec![x]); }
    #[test]
    fn grad_powi_negative_base(x in shaped(3), n in -3i32..5) {
        // a negative power also keeps |x| >= 0.25: at x = -0.05, x⁻³'s
        // first derivative is ~4e5, and its rounding in the sum that the
        // second-order check differences (4e5 · 2⁻⁵² / 2e-6 ≈ 5e-5) alone
        // exceeds the tolerance for the other elements (a case found:
        // x = [-0.0517, .., -1.9588], n = -3, on the rule of any session)
        let x = if n < 0 {
            x.map(|v| if v.abs() < 0.25 { v + 0.25f64.copysign(v) } else { v })
        } else {
            off_kinks(x)
        };
        check_both!(move |v| v[0].powi(n), vec![x]);
    }
    #[test]
    fn grad_clamp(x in shaped(3)) {
        let x = x.map(|v| if (v.abs() - 1.0).abs() < 0.05 { v * 1.2 } else { v });
        check_first!(|v| v[0].clamp(-1.0, 1.0), vec![x]);
    }

    #[test]
    fn grad_sum_mean_all(x in shaped(4)) { check_both!(|v| &v[0].sum_all() * &v[0].mean_all(), vec![x]); }
    #[test]
    fn grad_sum_axis(x in strategies::shape(3, 3).prop_filter("rank>0", |s| !s.is_empty()).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0)),
                     axis in 0usize..3, keep in any::<bool>()) {
        let axis = axis % x.rank();
        check_both!(move |v| v[0].sum(axis, keep).square(), vec![x.clone()]);
    }
    #[test]
    fn grad_mean_axis(x in strategies::shape(3, 3).prop_filter("rank>0", |s| !s.is_empty()).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0)),
                      axis in 0usize..3, keep in any::<bool>()) {
        let axis = axis % x.rank();
        check_both!(move |v| v[0].mean(axis, keep).exp(), vec![x.clone()]);
    }
    #[test]
    fn grad_max_min(x in strategies::shape(3, 3).prop_filter("rank>0", |s| !s.is_empty()).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0)),
                    axis in 0usize..3, keep in any::<bool>()) {
        // distinct values so the argmax is stable under the probe
        let n = x.numel();
        let x = Tensor::from_vec((0..n).map(|i| ((i * 7) % n) as f64 * 0.1 - 0.3).collect(), x.shape()).unwrap();
        let axis = axis % x.rank();
        check_first!(move |v| &v[0].max(axis, keep) + &v[0].min(axis, keep).mul_scalar(2.0), vec![x.clone()]);
        check_first!(|v| v[0].max_all(), vec![x.clone()]);
        check_first!(|v| v[0].min_all(), vec![x.clone()]);
    }

    #[test]
    fn grad_squared_error(x in shaped(3), mean in any::<bool>(), seed in 0u64..100) {
        let t = spread_tensor(x.shape(), seed);
        check_both!(move |v| v[0].squared_error(&v[1], mean), vec![x.clone(), t.clone()]);
        // equal to the composed form
        let tape = Tape::<f64>::new();
        let (a, b) = (tape.leaf(x.clone()), tape.leaf(t.clone()));
        let composed = if mean { (&a - &b).square().mean_all() } else { (&a - &b).square().sum_all() };
        let fused = a.squared_error(&b, mean);
        prop_assert!((fused.item() - composed.item()).abs() < 1e-12 || (fused.item().is_nan() && composed.item().is_nan()));
    }

    #[test]
    fn grad_linear(lead in prop::collection::vec(1usize..3, 0..3), n_in in 1usize..4, n_out in 1usize..4, bias in any::<bool>(),
                   seed in 0u64..100) {
        let mut sx = lead.clone(); sx.push(n_in);
        let x = spread_tensor(&sx, seed);
        let w = spread_tensor(&[n_out, n_in], seed + 7);
        let b = spread_tensor(&[n_out], seed + 11);
        if bias {
            check_both!(|v| v[0].linear(&v[1], Some(&v[2])).sigmoid(), vec![x, w, b]);
        } else {
            check_both!(|v| v[0].linear(&v[1], None).sigmoid(), vec![x, w]);
        }
    }

    #[test]
    fn grad_matmul(m in 1usize..4, k in 1usize..4, n in 1usize..4, batch in prop::collection::vec(1usize..3, 0..2), ta in any::<bool>(), seed in 0u64..100) {
        let mut sa = batch.clone(); sa.extend([m, k]);
        let vals = |s: &[usize], off: u64| {
            let len: usize = s.iter().product();
            Tensor::from_vec((0..len).map(|i| ((i as u64 * 31 + off) % 13) as f64 / 6.0 - 1.0).collect(), s).unwrap()
        };
        let a = vals(&sa, seed);
        let b = vals(&[n, k], seed + 5);
        // b is used transposed: a non-contiguous operand
        check_both!(move |v| if ta { v[0].matmul(&v[1].t()) } else { v[0].matmul(&v[1].t()).sigmoid() }, vec![a.clone(), b.clone()]);
        let vecv = vals(&[k], seed + 2);
        check_first!(|v| v[0].matmul(&v[1]), vec![vals(&[m, k], seed), vecv.clone()]);
        check_first!(|v| v[1].matmul(&v[0].t()), vec![vals(&[m, k], seed), vecv]);
    }

    #[test]
    fn grad_views(x in strategies::shape(4, 3).prop_filter("rank>=2", |s| s.len() >= 2).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0))) {
        let r = x.rank();
        check_first!(move |v| v[0].transpose(0, r - 1).exp(), vec![x.clone()]);
        let perm: Vec<usize> = (0..r).rev().collect();
        check_first!(move |v| v[0].permute(&perm).square(), vec![x.clone()]);
        check_first!(|v| v[0].t().reshape(&[v[0].value().numel()]).unwrap().sin(), vec![x.clone()]);
        let len = x.shape()[1];
        check_first!(move |v| v[0].narrow(1, len / 2, len - len / 2).exp(), vec![x.clone()]);
        check_first!(|v| v[0].unsqueeze(1).squeeze(1).tanh(), vec![x.clone()]);
        let mut big = vec![2];
        big.extend_from_slice(x.shape());
        check_first!(move |v| v[0].broadcast_to(&big).sin(), vec![x.clone()]);
    }

    #[test]
    fn grad_concat_stack(x in strategies::shape(3, 3).prop_filter("rank>0", |s| !s.is_empty()).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0)), axis in 0usize..3) {
        let axis = axis % x.rank();
        check_first!(move |v| Var::concat(&[v[0].sin(), v[0].t_if_square(), v[0].square()], axis), vec![x.clone()]);
        check_first!(move |v| Var::stack(&[v[0].exp(), v[0].clone()], axis), vec![x.clone()]);
    }

    #[test]
    fn grad_index_select_gather(x in strategies::shape(3, 3).prop_filter("rank>0", |s| !s.is_empty()).prop_flat_map(|s| strategies::tensor(s, -2.0, 2.0)),
                                axis in 0usize..3, idx in prop::collection::vec(0usize..3, 1..5)) {
        let axis = axis % x.rank();
        let idx: Vec<usize> = idx.into_iter().map(|i| i % x.shape()[axis]).collect();
        let i2 = idx.clone();
        check_both!(|v| v[0].index_select(axis, &i2).unwrap().square(), vec![x.clone()]);
        let mut ishape = x.shape().to_vec();
        ishape[axis] = 1;
        let n: usize = ishape.iter().product();
        let gi: Vec<usize> = (0..n).map(|i| idx[i % idx.len()]).collect();
        check_both!(|v| v[0].gather(axis, &gi, &ishape).unwrap().square(), vec![x.clone()]);
    }

    #[test]
    fn grad_softmax(x in strategies::shape(3, 4).prop_filter("rank>0", |s| !s.is_empty()).prop_flat_map(|s| strategies::tensor(s, -3.0, 3.0)), axis in 0usize..3) {
        let axis = axis % x.rank();
        check_both!(move |v| v[0].softmax(axis), vec![x.clone()]);
        check_both!(move |v| v[0].log_softmax(axis), vec![x.clone()]);
    }
}

/// A helper used above: the transpose when square, else the Var itself.
trait TIfSquare<'t> {
    fn t_if_square(&self) -> Var<'t, f64>;
}
impl<'t> TIfSquare<'t> for Var<'t, f64> {
    fn t_if_square(&self) -> Var<'t, f64> {
        let s = self.shape();
        if s.len() == 2 && s[0] == s[1] {
            self.t()
        } else {
            self.clone()
        }
    }
}

#[test]
fn micrograd_expression() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(-4.0));
    let z = &(&x * 2.0 + 2.0) + &x;
    let q = &z.relu() + &(&z * &x);
    let h = (&z * &z).relu();
    let y = &(&h + &q) + &(&q * &x);
    assert_eq!(y.item(), -20.0);
    assert_eq!(y.backward().wrt(&x).unwrap().item(), 46.0);
}

#[test]
fn fan_out_accumulates() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap());
    let y = (&(&x * &x) + &(&x * 3.0)).sum_all(); // d/dx = 2x + 3
    assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), vec![5.0, -1.0]);
}

#[test]
fn unrelated_and_constant_vars_get_none() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(1.0));
    let unused = tape.leaf(Tensor::scalar(2.0));
    let c = tape.constant(Tensor::scalar(3.0));
    let y = &x * &c;
    let g = y.backward();
    assert!(g.wrt(&unused).is_none());
    assert!(g.wrt(&c).is_none());
    assert_eq!(g.wrt(&x).unwrap().item(), 3.0);
    // ops on constants alone record nothing
    let before = tape.len();
    let _ = (&c * &c).exp();
    assert_eq!(tape.len(), before);
}

#[test]
fn long_chain_on_a_small_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let tape = Tape::<f32>::new();
            let x = tape.leaf(Tensor::scalar(0.5));
            let mut y = x.clone();
            for _ in 0..100_000 {
                y = y.mul_scalar(1.0);
            }
            let g = y.backward().wrt(&x).unwrap().item();
            assert_eq!(tape.len(), 100_001);
            drop(y);
            drop(tape);
            g
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), 1.0);
}

#[test]
fn hooks_retain_detach_and_no_grad() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(2.0));
    let h = &x * &x;
    h.retain_grad();
    h.register_hook(|g| Some(g * 10.0));
    let y = &h * 3.0 + &x.detach();
    let g = y.backward();
    assert_eq!(g.wrt(&h).unwrap().item(), 30.0);
    assert_eq!(g.wrt(&x).unwrap().item(), 120.0); // 30 · 2x
    let before = tape.len();
    let z = tape.no_grad(|| &x * &x);
    assert!(!z.requires_grad());
    assert_eq!(tape.len(), before);
}

#[test]
fn anomaly_mode_names_op_and_line() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_mode(true);
    let x = tape.leaf(Tensor::scalar(-1.0));
    let line = line!() + 1;
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.log())).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("`log`") && msg.contains(&format!("{}:{line}", file!())),
        "{msg}"
    );
}

/// Explain mode names the op the user wrote (`square`, not `powi`),
/// prints each rule as a formula, small tensors' values, and speaks
/// Chinese when asked.
#[test]
fn explain_prints_formulas_values_and_chinese() {
    use mnemon_autograd::Language;
    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
    let b = tape.leaf(Tensor::from_vec(vec![3.0, 4.0], &[2, 1]).unwrap());
    let _ = a.matmul(&b).square().sum_all().backward();
    let log = tape.explain_log();
    let line = |op: &str| {
        log.iter()
            .find(|l| l.contains(op))
            .cloned()
            .unwrap_or_default()
    };
    assert!(line("`square`").contains("rule dx = g·2x"), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("`powi`")), "{log:?}");
    let mm = line("`matmul`");
    assert!(mm.contains("rule dA = g·Bᵀ, dB = Aᵀ·g"), "{mm}");
    // a [1, 2] input is small enough to print: its values and its shape
    assert!(mm.contains("value [1.0000, 2.0000] [1, 2]"), "{mm}");
    // (a·b)² = 11², g = 22: dA = 22·bᵀ = [66, 88]
    assert!(mm.contains("gradient [66.0000, 88.0000] [1, 2]"), "{mm}");

    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    tape.set_explain_language(Language::Chinese);
    let x = tape.leaf(Tensor::scalar(1.0));
    let c = tape.constant(Tensor::scalar(2.0));
    let _ = (&x - &c).backward();
    let log = tape.explain_log();
    assert!(
        log[0].contains("节点") && log[0].contains("传入梯度 1.000000"),
        "{log:?}"
    );
    assert!(
        log[0].contains("（在广播的轴上求和）") && log[0].contains("输入 1 (常量) 不需要梯度"),
        "{log:?}"
    );
}

#[test]
fn explain_and_dot_describe_the_pass() {
    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    let x = tape.leaf(Tensor::scalar(0.0));
    let y = x.sigmoid();
    let g = y.backward();
    assert_eq!(g.wrt(&x).unwrap().item(), 0.25);
    let log = tape.explain_log();
    assert_eq!(log.len(), 1);
    assert!(
        log[0].contains("`sigmoid`") && log[0].contains("local derivative 0.250000"),
        "{}",
        log[0]
    );
    let dot = tape.to_dot();
    assert!(
        dot.contains("|grad| = 1.0000") && dot.contains("#1 sigmoid"),
        "{dot}"
    );
    // a constant input is drawn with its shape
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 3]));
    let _ = &x * &tape.constant(Tensor::ones(&[3]));
    let dot = tape.to_dot();
    assert!(dot.contains("label=\"const\\n[3]\""), "{dot}");
}

#[test]
fn saved_bytes_counts_shared_storage_once() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::zeros(&[1000]));
    let _y = &x * &x;
    assert_eq!(tape.saved_bytes(), 4000);
}

#[test]
fn shape_mismatch_panics_with_caller_line() {
    let tape = Tape::<f32>::new();
    let a = tape.leaf(Tensor::zeros(&[2, 3]));
    let b = tape.leaf(Tensor::zeros(&[3, 2]));
    let line = line!() + 1;
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| &a + &b)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("add: shapes [2, 3] and [3, 2]")
            && msg.contains(&format!("{}:{line}", file!())),
        "{msg}"
    );
}

#[test]
fn gradcheck_reports_a_wrong_rule() {
    use mnemon_autograd::CustomOp;
    struct WrongSquare;
    impl CustomOp<f64> for WrongSquare {
        fn name(&self) -> &'static str {
            "wrong_square"
        }
        fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
            x[0].square()
        }
        fn backward(
            &self,
            x: &[&Tensor<f64>],
            _: &Tensor<f64>,
            g: &Tensor<f64>,
        ) -> Vec<Option<Tensor<f64>>> {
            vec![Some(g * x[0])] // forgot the 2
        }
    }
    let x = Tensor::from_vec(vec![1.0, 3.0], &[2]).unwrap();
    let err = gradcheck(|v| v[0].tape().custom(WrongSquare, &[&v[0]]), &[x], tol()).unwrap_err();
    assert_eq!((err.input, err.index), (0, 0));
    assert!((err.numeric - 2.0 * err.analytic).abs() < 1e-6);
    assert!(err.to_string().contains("input 0 at element 0"));
}

#[test]
fn linear_equals_matmul_with_transposed_weight_plus_bias() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(spread_tensor(&[2, 3, 4], 1));
    let w = tape.leaf(spread_tensor(&[5, 4], 2));
    let b = tape.leaf(spread_tensor(&[5], 3));
    let fused = x.linear(&w, Some(&b));
    let composed = &x.matmul(&w.t()) + &b;
    assert_eq!(fused.shape(), &[2, 3, 5]);
    for (f, c) in fused.value().to_vec().iter().zip(composed.value().to_vec()) {
        assert!((f - c).abs() < 1e-12);
    }
    let err = std::panic::catch_unwind(|| {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::zeros(&[2, 3]));
        let w = tape.leaf(Tensor::zeros(&[5, 4]));
        x.linear(&w, None);
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("linear")
            && msg.contains("[2, 3]")
            && msg.contains("[5, 4]")
            && msg.contains("gradients.rs"),
        "{msg}"
    );
}

#[test]
fn owned_scalar_ops_never_overwrite_values_held_elsewhere() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap());
    let s = x.sigmoid(); // its output is kept by the tape for sigmoid's rule
    let before = s.value().to_vec();
    let t = s.clone() * 3.0 + 1.0; // owned temporaries: in place only when unshared
    assert_eq!(
        s.value().to_vec(),
        before,
        "the Var and the tape's copy are untouched"
    );
    let want: Vec<f64> = before.iter().map(|v| v * 3.0 + 1.0).collect();
    assert_eq!(t.value().to_vec(), want);
    let g = t.sum_all().backward();
    let dx: Vec<f64> = before.iter().map(|s| 3.0 * s * (1.0 - s)).collect();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), dx);
    // a constant's owned temporary stays a constant
    let c = tape.constant(Tensor::scalar(2.0)) * 4.0;
    assert!(!c.requires_grad() && c.item() == 8.0);
}
