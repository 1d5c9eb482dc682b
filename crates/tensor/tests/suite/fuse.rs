//! Deferred, fused elementwise chains (`kernels::fuse`) against the same
//! ops run at once through `map`/`zip_with`: the same bits, whatever the
//! chain, the views and the threads.

use mnemon_tensor::kernels::fuse::{FUSE_MIN, MAX_NODES};
use mnemon_tensor::{sigmoid_scalar, Element, Tensor};
use proptest::prelude::*;

/// A large tensor of varied values (NaN and infinities included).
fn values(n: usize, seed: u64) -> Tensor<f64> {
    let v = (0..n)
        .map(|i| {
            let k = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(seed) % 10_007;
            match k {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => -0.0,
                _ => (k as f64 - 5_003.0) / 997.0,
            }
        })
        .collect();
    Tensor::from_vec(v, &[n]).unwrap()
}

fn same_bits(a: &Tensor<f64>, b: &Tensor<f64>) {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.to_vec(), b.to_vec());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "element {i}: {x} vs {y}"
        );
    }
}

#[test]
fn large_elementwise_results_are_deferred_and_small_ones_are_not() {
    let x = values(FUSE_MIN, 1);
    let y = x.sigmoid();
    assert!(y.is_deferred());
    let z = (&y * &x).add(&x);
    assert!(z.is_deferred() && y.is_deferred());
    let _ = z.to_vec();
    assert!(!z.is_deferred(), "read, so evaluated");
    assert!(
        y.is_deferred(),
        "evaluated inside z's chain, not on its own"
    );
    let small = values(FUSE_MIN - 1, 1);
    assert!(!small.sigmoid().is_deferred());
    assert!(!x.sigmoid().evaluated().is_deferred());
}

#[test]
fn a_chain_gives_the_bits_of_the_ops_run_one_by_one() {
    for n in [FUSE_MIN, FUSE_MIN + 1, 3 * FUSE_MIN + 1_023] {
        let x = values(n, 7);
        let s = x.sigmoid();
        let fused = &(&(&s * &x) + &x) * 0.5 - &s.square();
        let sig = x.map(sigmoid_scalar);
        let eager = sig
            .zip_with(&x, "mul", |a, b| a * b)
            .zip_with(&x, "add", |a, b| a + b)
            .map(|v| v * 0.5)
            .zip_with(&sig.map(|v| v * v), "sub", |a, b| a - b);
        same_bits(&fused, &eager);
    }
}

#[test]
fn fused_sums_give_the_bits_of_the_evaluated_sum() {
    for n in [FUSE_MIN, FUSE_MIN + 8_191, 1_000_003] {
        let x = values(n, 3).map(|v| if v.is_finite() { v } else { 0.5 });
        let chain = || &(&x.sigmoid() * &x) + &x;
        let fused = chain().sum_all().item();
        let evaluated = chain().evaluated().sum_all().item();
        assert_eq!(fused.to_bits(), evaluated.to_bits(), "n = {n}");
        let mean = chain().mean_all().item();
        assert_eq!(mean, evaluated / n as f64);
        // and a chain nobody evaluated is still one after its sum
        let c = chain();
        let _ = c.sum_all();
        assert!(c.is_deferred());
    }
}

#[test]
fn a_shared_operand_is_computed_once_per_block_with_the_same_values() {
    let x = values(FUSE_MIN + 5, 11);
    let s = x.tanh();
    let y = &(&s * &s) + &s; // s read twice inside one chain
    let t = x.map(|v| v.tanh());
    same_bits(
        &y,
        &t.zip_with(&t, "mul", |a, b| a * b)
            .zip_with(&t, "add", |a, b| a + b),
    );
    // s on its own afterwards: the same values, now evaluated
    same_bits(&s, &t);
}

#[test]
fn chains_longer_than_the_cap_evaluate_their_operands_and_stay_right() {
    let x = values(FUSE_MIN, 5).map(|v| if v.is_finite() { v } else { 1.0 });
    let mut fused = x.clone();
    let mut eager = x.clone();
    for i in 0..(3 * MAX_NODES as usize + 2) {
        let c = 1.0 + i as f64 * 1e-3;
        fused = &fused.sigmoid() * c;
        eager = eager.map(sigmoid_scalar).map(|v| v * c);
    }
    same_bits(&fused, &eager);
}

#[test]
fn views_of_deferred_tensors_read_the_computed_values() {
    let x = values(512 * 256, 2);
    let y = x.exp().reshape(&[512, 256]).unwrap();
    let e = x.map(|v| v.exp_vectorised()).reshape(&[512, 256]).unwrap();
    assert!(y.is_deferred(), "a reshape of a dense tensor is a view");
    same_bits(&y.t().contiguous(), &e.t().contiguous());
    same_bits(&y.narrow(0, 3, 100), &e.narrow(0, 3, 100));
    // a broadcast scalar joins a chain as one value
    let two = Tensor::<f64>::scalar(2.0)
        .broadcast_to(&[512, 256])
        .unwrap();
    same_bits(&(&y * &two), &e.map(|v| v * 2.0));
    // a bias row does not (it is not one value): run at once, same values
    let row = Tensor::<f64>::linspace(0.0, 1.0, 256);
    same_bits(&(&y + &row), &e.zip_with(&row, "add", |a, b| a + b));
    // non-elementwise consumers read the values
    let w = Tensor::<f64>::linspace(-1.0, 1.0, 256 * 3)
        .reshape(&[256, 3])
        .unwrap();
    let xs = x.map(|v| if v.is_finite() { v } else { 0.0 });
    let ys = xs.neg().reshape(&[512, 256]).unwrap();
    let es = xs.map(|v| -v).reshape(&[512, 256]).unwrap();
    same_bits(&ys.matmul(&w), &es.matmul(&w));
    same_bits(&ys.sum(0, false), &es.sum(0, false));
}

#[test]
fn owned_operands_and_dropped_inputs() {
    let x = values(FUSE_MIN + 3, 13);
    let want = x.map(|v| (v + 1.0) * 3.0);
    let y = x.clone() + 1.0; // deferred, holding x
    drop(x);
    let z = y * 3.0;
    assert!(z.is_deferred());
    same_bits(&z, &want);
    // an evaluated unique buffer is still written in place
    let mut a = values(FUSE_MIN, 1).evaluated();
    let b = values(FUSE_MIN, 2);
    a = a.add_owned(b.clone());
    assert!(!a.is_deferred());
    same_bits(&a, &values(FUSE_MIN, 1).zip_with(&b, "add", |p, q| p + q));
    // unshared results go back as they came: into_vec of a deferred one
    let v = (values(FUSE_MIN, 4) * 2.0).into_vec();
    assert_eq!(v.len(), FUSE_MIN);
}

#[test]
fn threads_reading_one_deferred_tensor_at_once_agree() {
    let x = values(4 * FUSE_MIN, 9);
    let want = x.map(sigmoid_scalar).map(|v| v * 2.0).to_vec();
    for _ in 0..4 {
        let y = &x.sigmoid() * 2.0;
        let got: Vec<Vec<f64>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4).map(|_| s.spawn(|| y.to_vec())).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for g in got {
            assert!(g
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
        }
        // and from inside the pool's own parallel work
        use rayon::prelude::*;
        let z = &x.tanh() + 1.0;
        let sums: Vec<f64> = (0..4).into_par_iter().map(|_| z.sum_all().item()).collect();
        assert!(sums
            .iter()
            .all(|s| s.to_bits() == sums[0].to_bits() || (s.is_nan() && sums[0].is_nan())));
    }
}

#[test]
fn f32_chains_match_too() {
    let x = Tensor::<f32>::linspace(-30.0, 30.0, FUSE_MIN + 77);
    let fused = &(&x.sigmoid() * &x) + &x.gelu();
    let eager = x
        .map(sigmoid_scalar)
        .zip_with(&x, "mul", |a, b| a * b)
        .zip_with(&x.map(|v| v * v.normal_cdf()), "add", |a, b| a + b);
    let (a, b) = (fused.to_vec(), eager.to_vec());
    assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random programs of elementwise ops over two inputs and their
    /// results: fused (the named ops) and one by one (`map`/`zip_with`
    /// with the same functions) give the same bits.
    #[test]
    fn random_programs_fuse_to_the_same_bits(
        extra in 0usize..3000,
        prog in proptest::collection::vec((0u8..9, 0usize..64, 0usize..64, -2.0f64..2.0), 1..24),
    ) {
        let n = FUSE_MIN + extra;
        let mut fused = vec![values(n, 1), values(n, 2)];
        let mut eager = fused.clone();
        for &(op, i, j, c) in &prog {
            let (a, b) = (i % fused.len(), j % fused.len());
            let (fa, fb, ea, eb) = (&fused[a], &fused[b], &eager[a], &eager[b]);
            let (f, e) = match op {
                0 => (fa + fb, ea.zip_with(eb, "add", |x, y| x + y)),
                1 => (fa - fb, ea.zip_with(eb, "sub", |x, y| x - y)),
                2 => (fa * fb, ea.zip_with(eb, "mul", |x, y| x * y)),
                3 => (fa / fb, ea.zip_with(eb, "div", |x, y| x / y)),
                4 => (fa.sigmoid(), ea.map(sigmoid_scalar)),
                5 => (fa.tanh(), ea.map(|x| x.tanh())),
                6 => (fa * c, ea.map(move |x| x * c)),
                7 => (fa.relu(), ea.map(|x| if x <= 0.0 { 0.0 } else { x })),
                _ => (fa.neg(), ea.map(|x| -x)),
            };
            fused.push(f);
            eager.push(e);
        }
        for (f, e) in fused.iter().zip(&eager).rev().take(3) {
            same_bits(f, e);
        }
    }
}
