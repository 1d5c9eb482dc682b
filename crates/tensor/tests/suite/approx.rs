//! The vectorising f32 `exp` and normal CDF/density against libm in f64,
//! over dense sweeps (every x tested is listed by its range and step).

use mnemon_tensor::kernels::approx::{exp_f32, normal_cdf_f32, normal_pdf_f32};

/// Distance in units in the last place between two finite f32 of one sign.
fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

/// `n` evenly spaced points over `[lo, hi]`, ends included.
fn sweep(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f32> {
    (0..=n).map(move |i| (lo + (hi - lo) * i as f64 / n as f64) as f32)
}

#[test]
fn exp_is_within_two_ulps_everywhere() {
    let mut worst = (0, 0.0f32);
    for x in sweep(-103.0, 88.7, 2_000_000) {
        let want = (x as f64).exp() as f32;
        let d = ulps(exp_f32(x), want);
        if d > worst.0 {
            worst = (d, x);
        }
    }
    assert!(worst.0 <= 2, "{} ulps at x = {}", worst.0, worst.1);
}

#[test]
fn exp_edges() {
    assert_eq!(exp_f32(0.0), 1.0);
    assert_eq!(exp_f32(-0.0), 1.0);
    assert_eq!(exp_f32(89.0), f32::INFINITY);
    assert_eq!(exp_f32(1e30), f32::INFINITY);
    assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(exp_f32(-104.0), 0.0);
    // below -104 the result is set to 0 without the subnormal product;
    // just above, the product still rounds to the smallest subnormal
    assert_eq!(exp_f32(-104.5).to_bits(), 0);
    assert_eq!(exp_f32(-1e30).to_bits(), 0);
    assert_eq!(exp_f32(-103.9), (-103.9f32 as f64).exp() as f32);
    assert_eq!(exp_f32(-103.9).to_bits(), 1);
    assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    assert!(exp_f32(f32::NAN).is_nan());
    // the largest finite result and a subnormal one, rounded as libm does
    assert!(ulps(exp_f32(88.72), (88.72f32 as f64).exp() as f32) <= 2);
    let sub = exp_f32(-100.0);
    assert!(sub > 0.0 && sub < f32::MIN_POSITIVE);
    assert!(ulps(sub, (-100.0f64).exp() as f32) <= 1);
}

#[test]
fn normal_cdf_matches_erf() {
    let exact = |x: f32| 0.5 * libm::erfc(-(x as f64) * std::f64::consts::FRAC_1_SQRT_2);
    let (mut abs, mut rel, mut rel_tail) = (0.0f64, 0.0f64, 0.0f64);
    for x in sweep(-12.0, 10.0, 2_000_000) {
        let (got, want) = (normal_cdf_f32(x) as f64, exact(x));
        abs = abs.max((got - want).abs());
        let r = (got - want).abs() / want;
        if x > -5.0 {
            rel = rel.max(r);
        } else {
            rel_tail = rel_tail.max(r);
        }
    }
    assert!(abs <= 1.2e-7, "absolute error {abs:e}");
    assert!(rel <= 3e-6, "relative error {rel:e} above x = -5");
    // the lower tail keeps its digits (½(1 + erf) in f32 would give 0)
    assert!(rel_tail <= 3e-5, "relative error {rel_tail:e} below x = -5");
    assert_eq!(normal_cdf_f32(0.0), 0.5);
    assert_eq!(normal_cdf_f32(f32::INFINITY), 1.0);
    assert_eq!(normal_cdf_f32(f32::NEG_INFINITY), 0.0);
    assert_eq!(normal_cdf_f32(-40.0), 0.0);
    assert_eq!(normal_cdf_f32(40.0), 1.0);
    assert!(normal_cdf_f32(f32::NAN).is_nan());
}

#[test]
fn normal_pdf_matches_exp() {
    let c = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    for x in sweep(-13.0, 13.0, 200_000) {
        // the exponent as f32 rounds it (as libm's `expf` would be given)
        let want = (((-0.5 * x * x) as f64).exp() * c) as f32;
        let got = normal_pdf_f32(x);
        assert!(ulps(got, want) <= 3, "x = {x}: {got:e} vs {want:e}");
    }
    assert_eq!(normal_pdf_f32(1e20), 0.0);
    assert!(normal_pdf_f32(f32::NAN).is_nan());
}

/// The tensor kernels run these functions in loops compiled for wider
/// vectors (AVX-512/AVX2 when present) and across threads: every element
/// must still equal the scalar function's result bit for bit.
#[test]
fn tensor_gelu_is_the_scalar_function_everywhere() {
    use mnemon_tensor::Tensor;
    let n = 200_003; // above the parallel threshold, not a multiple of 16
    let xs: Vec<f32> = (0..n).map(|i| (i as f32 - 100_000.0) * 1.3e-4).collect();
    let t = Tensor::from_vec(xs.clone(), &[n]).unwrap();
    let (g, gg) = (t.gelu().to_vec(), t.gelu_grad().to_vec());
    for (i, &x) in xs.iter().enumerate() {
        let want = x * normal_cdf_f32(x);
        let want_grad = normal_cdf_f32(x) + x * normal_pdf_f32(x);
        assert_eq!(g[i].to_bits(), want.to_bits(), "gelu({x})");
        assert_eq!(gg[i].to_bits(), want_grad.to_bits(), "gelu_grad({x})");
    }
    // GELU's backward in one pass: g·gelu_grad(x) bit for bit, in g's own
    // buffer and in a new one (g shared)
    let gin =
        Tensor::from_vec((0..n).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect(), &[n]).unwrap();
    let want: Vec<u32> = (&gin * &t.gelu_grad())
        .to_vec()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    let kept = gin.clone();
    let shared: Vec<u32> = gin
        .gelu_backward(&t)
        .to_vec()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    let owned: Vec<u32> = kept
        .gelu_backward(&t)
        .to_vec()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert!(
        shared == want && owned == want,
        "gelu_backward differs from g·gelu_grad(x)"
    );
    // and against the exact GELU in f64: Φ within 1.2e-7, plus the final
    // product's rounding; in the lower tail (x < -√2, down to where Φ
    // turns subnormal) within 3e-5 relatively
    let exact = |x: f64| x * 0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2);
    for (&x, &y) in xs.iter().zip(&g).filter(|(&x, _)| x > -12.0) {
        let (x, y, want) = (x as f64, y as f64, exact(x as f64));
        let tol = if x > -std::f64::consts::SQRT_2 {
            1.2e-7 * x.abs() + 6e-8 * want.abs()
        } else {
            3e-5 * want.abs()
        };
        assert!((y - want).abs() <= tol, "gelu({x}) = {y} vs {want}");
    }
}

/// f32 `exp` and `sigmoid` tensors go through the vectorising `exp`: equal
/// to the scalar function bit for bit over threads, vector lanes and
/// tails; exp within 2 ulp of libm's and sigmoid within 3 ulp of the
/// rounded f64 sigmoid (0 where e^−x overflows); saturation exact (0 and 1 at ±1e4, ±∞), NaN kept.
#[test]
fn tensor_exp_and_sigmoid_use_the_vectorised_exp() {
    use mnemon_tensor::Tensor;
    let n = 200_003;
    let mut xs: Vec<f32> = (0..n).map(|i| (i as f32 - 100_000.0) * 1.1e-3).collect();
    xs.extend([
        1e4,
        -1e4,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.0,
        -0.0,
    ]);
    let t = Tensor::from_vec(xs.clone(), &[xs.len()]).unwrap();
    let (e, s) = (t.exp().to_vec(), t.sigmoid().to_vec());
    for (i, &x) in xs.iter().enumerate() {
        let want_s = 1.0 / (1.0 + exp_f32(-x));
        assert_eq!(e[i].to_bits(), exp_f32(x).to_bits(), "exp({x})");
        assert_eq!(s[i].to_bits(), want_s.to_bits(), "sigmoid({x})");
        if x.is_nan() {
            assert!(e[i].is_nan() && s[i].is_nan());
            continue;
        }
        assert!(
            ulps(e[i], x.exp()) <= 2,
            "exp({x}) = {} vs {}",
            e[i],
            x.exp()
        );
        // below −88.72 (ln f32::MAX), e^−x overflows f32 and sigmoid is 0 (as with libm's
        // expf, and PyTorch's 1/(1 + e^−x)) where the truth is subnormal
        let exact = (1.0 / (1.0 + (-(x as f64)).exp())) as f32;
        let overflowed = x < -88.7 && s[i] == 0.0;
        assert!(
            ulps(s[i], exact) <= 3 || overflowed,
            "sigmoid({x}) = {} vs {exact}",
            s[i]
        );
    }
    assert_eq!(&s[n..n + 4], &[1.0, 0.0, 1.0, 0.0]);
}

/// f32 softmax and log-softmax (vectorised `exp`, lanes across threads)
/// against the same inputs in f64 with libm, on lanes of every length from
/// 1 to 70, along the last axis and along the first.
#[test]
fn f32_softmax_matches_f64() {
    use mnemon_tensor::Tensor;
    let check = |shape: &[usize], axis: usize| {
        let n: usize = shape.iter().product();
        let xs: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 0.031)
            .collect();
        let t32 = Tensor::<f32>::from_vec(xs.clone(), shape).unwrap();
        let t64 = Tensor::<f64>::from_vec(xs.iter().map(|&v| v as f64).collect(), shape).unwrap();
        let (s64, s32) = (t64.softmax(axis).to_vec(), t32.softmax(axis).to_vec());
        let (l64, l32) = (
            t64.log_softmax(axis).to_vec(),
            t32.log_softmax(axis).to_vec(),
        );
        for i in 0..n {
            // x − max rounds to f32 (≤ 2e-6 relative in e^(x − max) here)
            let tol = 3e-6 * s64[i];
            let (a, b) = (s32[i] as f64, s64[i]);
            assert!(
                (a - b).abs() <= tol,
                "softmax {shape:?} axis {axis} at {i}: {a:e} vs {b:e}"
            );
            let tol = 1e-6 * l64[i].abs().max(1.0);
            let (a, b) = (l32[i] as f64, l64[i]);
            assert!(
                (a - b).abs() <= tol,
                "log_softmax {shape:?} axis {axis} at {i}: {a} vs {b}"
            );
        }
    };
    for r in 1..=70usize {
        check(&[70_000 / r + 1, r], 1); // above the parallel threshold
        check(&[r, 3], 0);
    }
}

/// A NaN anywhere in a lane makes that lane NaN (PyTorch's result); other
/// lanes are untouched, and a lane with a large logit past the vector
/// width still finds its maximum.
#[test]
fn softmax_nan_lanes_and_maxima_past_the_vector_width() {
    use mnemon_tensor::Tensor;
    for n in [1usize, 5, 33, 64, 70] {
        let mut xs = vec![0.0f32; 2 * n];
        xs[n - 1] = f32::NAN;
        xs[n + n - 1] = 100.0; // the second lane's max, in its last element
        let t = Tensor::from_vec(xs, &[2, n]).unwrap();
        for y in [t.softmax(1).to_vec(), t.log_softmax(1).to_vec()] {
            assert!(y[..n].iter().all(|v| v.is_nan()), "n {n}");
            assert!(y[n..].iter().all(|v| v.is_finite()), "n {n}");
        }
        let y = t.softmax(1).to_vec();
        assert!((y[2 * n - 1] - 1.0).abs() < 1e-6 && y[n..2 * n - 1].iter().all(|&v| v < 1e-40));
    }
}

/// GELU's backward reading Φ(x) back from the output agrees with the one
/// computing it again, over a dense sweep and at the edges (0, tiny and
/// subnormal x, both tails).
#[test]
fn gelu_backward_from_the_output_matches() {
    use mnemon_tensor::Tensor;
    let mut xs: Vec<f32> = sweep(-14.0, 10.0, 200_000).collect();
    xs.extend([
        0.0,
        -0.0,
        1e-31,
        -1e-31,
        1e-20,
        -1e-20,
        1e-40,
        -1e-40,
        f32::MIN_POSITIVE,
    ]);
    let n = xs.len();
    let x = Tensor::from_vec(xs.clone(), &[n]).unwrap();
    let g = Tensor::from_vec((0..n).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect(), &[n]).unwrap();
    let want = g.clone().gelu_backward(&x).to_vec();
    let got = g.gelu_backward_at(&x, &x.gelu()).to_vec();
    for ((a, b), x) in got.iter().zip(&want).zip(&xs) {
        assert!(
            (a - b).abs() <= 4e-7 * (1.0 + b.abs()),
            "x = {x}: {a} vs {b}"
        );
    }
}
