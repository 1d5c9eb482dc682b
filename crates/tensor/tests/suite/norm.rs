//! Layer normalization over the last axis, forward and backward, against
//! plain loops in f64: values, constant rows (zero variance), rows of
//! one element, and tensors large enough to split over threads.

use mnemon_tensor::Tensor;

/// `(x − μ)/√(σ² + eps)` and its gradient for `g`, by the textbook loops.
fn reference(x: &[f64], g: &[f64], n: usize, eps: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut y, mut dx) = (vec![], vec![]);
    for (row, grow) in x.chunks(n).zip(g.chunks(n)) {
        let mu = row.iter().sum::<f64>() / n as f64;
        let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / n as f64;
        let inv = 1.0 / (var + eps).sqrt();
        let xhat: Vec<f64> = row.iter().map(|v| (v - mu) * inv).collect();
        let mg = grow.iter().sum::<f64>() / n as f64;
        let mgx = grow.iter().zip(&xhat).map(|(g, h)| g * h).sum::<f64>() / n as f64;
        y.extend(&xhat);
        dx.extend(
            grow.iter()
                .zip(&xhat)
                .map(|(g, h)| inv * (g - mg - h * mgx)),
        );
    }
    (y, dx)
}

/// `[rows, n]`: row lengths around the 32 lanes, one row and many (split
/// over threads: 3000 × 128 is past the parallel threshold).
const SHAPES: [(usize, usize); 8] = [
    (1, 1),
    (3, 1),
    (2, 5),
    (4, 31),
    (5, 32),
    (3, 33),
    (7, 128),
    (3000, 128),
];

fn data(len: usize, seed: u64) -> Vec<f64> {
    (0..len)
        .map(|i| (((i as u64 * 37 + seed * 11) % 101) as f64 - 50.0) / 17.0)
        .collect()
}

#[test]
fn layer_norm_rows_match_the_loops_in_f64_and_f32() {
    for (rows, n) in SHAPES {
        let (x, g) = (data(rows * n, 1), data(rows * n, 2));
        let eps = 1e-5;
        let (want_y, want_dx) = reference(&x, &g, n, eps);
        let xt = Tensor::from_vec(x.clone(), &[rows, n]).unwrap();
        let gt = Tensor::from_vec(g.clone(), &[rows, n]).unwrap();
        let y = xt.layer_norm_last(eps).to_vec();
        let dx = xt.layer_norm_last_backward(&gt, eps).to_vec();
        for i in 0..rows * n {
            assert!(
                (y[i] - want_y[i]).abs() < 1e-12,
                "[{rows},{n}] y[{i}]: {} vs {}",
                y[i],
                want_y[i]
            );
            assert!(
                (dx[i] - want_dx[i]).abs() < 1e-10,
                "[{rows},{n}] dx[{i}]: {} vs {}",
                dx[i],
                want_dx[i]
            );
        }
        // f32: within a few f32 roundings of the f64 loops
        let x32 = Tensor::from_vec(x.iter().map(|&v| v as f32).collect(), &[rows, n]).unwrap();
        let g32 = Tensor::from_vec(g.iter().map(|&v| v as f32).collect(), &[rows, n]).unwrap();
        let y32 = x32.layer_norm_last(eps).to_vec();
        let dx32 = x32.layer_norm_last_backward(&g32, eps).to_vec();
        let scale = want_dx.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for i in 0..rows * n {
            assert!((y32[i] as f64 - want_y[i]).abs() < 1e-5, "f32 y[{i}]");
            assert!(
                (dx32[i] as f64 - want_dx[i]).abs() < 1e-5 * scale,
                "f32 dx[{i}]"
            );
        }
    }
}

#[test]
fn layer_norm_rows_edges() {
    // a constant row has zero variance: x̂ = 0 and dx = (g − mean g)/√eps
    let x = Tensor::<f64>::from_vec(vec![2.0; 4], &[1, 4]).unwrap();
    let g = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[1, 4]).unwrap();
    assert_eq!(x.layer_norm_last(1e-4).to_vec(), vec![0.0; 4]);
    let dx = x.layer_norm_last_backward(&g, 1e-4).to_vec();
    for (d, w) in dx.iter().zip([-2.0, -1.0, 0.0, 3.0]) {
        assert!((d - w * 100.0).abs() < 1e-9, "{d} vs {}", w * 100.0);
    }
    // higher rank (rows are every axis but the last), an empty tensor, a
    // strided input (read through a contiguous copy)
    let x3 = Tensor::<f64>::from_vec(data(24, 3), &[2, 3, 4]).unwrap();
    let flat = x3.reshape(&[6, 4]).unwrap().layer_norm_last(1e-5).to_vec();
    assert_eq!(x3.layer_norm_last(1e-5).to_vec(), flat);
    assert_eq!(
        Tensor::<f64>::zeros(&[0, 3]).layer_norm_last(1e-5).shape(),
        &[0, 3]
    );
    let t = Tensor::<f64>::from_vec(data(12, 4), &[4, 3]).unwrap().t();
    assert_eq!(
        t.layer_norm_last(1e-5).to_vec(),
        t.contiguous().layer_norm_last(1e-5).to_vec()
    );
    // NaN in a row poisons that row only
    let xn = Tensor::<f64>::from_vec(vec![1.0, f64::NAN, 3.0, 4.0], &[2, 2]).unwrap();
    let yn = xn.layer_norm_last(1e-5).to_vec();
    assert!(yn[0].is_nan() && yn[1].is_nan() && yn[2].is_finite() && yn[3].is_finite());
}

/// With a weight and a bias: `x̂·w + b`, and `(∂x, ∂w, ∂b)` against the
/// loops (`∂x` the plain gradient for `g·w`, `∂w = Σ g·x̂`, `∂b = Σ g`
/// over the rows); the sums the same bits on 1 and 2 threads.
#[test]
fn layer_norm_affine_matches_the_loops() {
    for (rows, n) in SHAPES {
        let (x, g) = (data(rows * n, 1), data(rows * n, 2));
        let w: Vec<f64> = (0..n).map(|i| 0.5 + i as f64 * 0.125).collect();
        let b: Vec<f64> = (0..n).map(|i| i as f64 * 0.1 - 1.0).collect();
        let eps = 1e-5;
        let gw: Vec<f64> = g.iter().enumerate().map(|(i, g)| g * w[i % n]).collect();
        let (xhat, want_dx) = reference(&x, &gw, n, eps);
        let want_y: Vec<f64> = xhat
            .iter()
            .enumerate()
            .map(|(i, h)| h * w[i % n] + b[i % n])
            .collect();
        let (mut want_dw, mut want_db) = (vec![0.0; n], vec![0.0; n]);
        for i in 0..rows * n {
            want_dw[i % n] += g[i] * xhat[i];
            want_db[i % n] += g[i];
        }
        let t = |v: &[f64], s: &[usize]| Tensor::from_vec(v.to_vec(), s).unwrap();
        let (xt, gt, wt, bt) = (
            t(&x, &[rows, n]),
            t(&g, &[rows, n]),
            t(&w, &[n]),
            t(&b, &[n]),
        );
        let y = xt.layer_norm_last_affine(&wt, &bt, eps).to_vec();
        let (dx, dw, db) = xt.layer_norm_last_affine_backward(&wt, &gt, eps);
        let close = |got: &[f64], want: &[f64], tol: f64, what: &str| {
            assert_eq!(got.len(), want.len(), "{what}");
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a - b).abs() < tol * (1.0 + b.abs()),
                    "[{rows},{n}] {what}[{i}]: {a} vs {b}"
                );
            }
        };
        close(&y, &want_y, 1e-12, "y");
        close(&dx.to_vec(), &want_dx, 1e-10, "dx");
        close(&dw.to_vec(), &want_dw, 1e-10, "dw");
        close(&db.to_vec(), &want_db, 1e-10, "db");
        // the same bits as normalize, then mul, then add
        let composed = (&(&xt.layer_norm_last(eps) * &wt) + &bt).to_vec();
        assert_eq!(y, composed, "[{rows},{n}] forward as the composed ops");
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (dx2, dw2, db2) =
                pool.install(|| xt.layer_norm_last_affine_backward(&wt, &gt, eps));
            assert_eq!(dx2.to_vec(), dx.to_vec());
            assert_eq!(
                (dw2.to_vec(), db2.to_vec()),
                (dw.to_vec(), db.to_vec()),
                "{threads} threads"
            );
        }
        // f32 within a few roundings of the f64 loops
        let f = |v: &[f64], s: &[usize]| {
            Tensor::from_vec(v.iter().map(|&v| v as f32).collect(), s).unwrap()
        };
        let (x32, g32, w32, b32) = (
            f(&x, &[rows, n]),
            f(&g, &[rows, n]),
            f(&w, &[n]),
            f(&b, &[n]),
        );
        let (dx32, dw32, _) = x32.layer_norm_last_affine_backward(&w32, &g32, eps);
        let scale = want_dx.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, b) in dx32.to_vec().iter().zip(&want_dx) {
            assert!((*a as f64 - b).abs() < 1e-5 * scale, "f32 dx {a} vs {b}");
        }
        let top = want_dw.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, b) in dw32.to_vec().iter().zip(&want_dw) {
            assert!((*a as f64 - b).abs() < 1e-5 * top, "f32 dw {a} vs {b}");
        }
        let y32 = x32.layer_norm_last_affine(&w32, &b32, eps).to_vec();
        for (a, b) in y32.iter().zip(&want_y) {
            assert!(
                (*a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()),
                "f32 y {a} vs {b}"
            );
        }
    }
    // an empty batch: no rows, zero sums
    let e = Tensor::<f64>::zeros(&[0, 3]);
    let (w, b) = (Tensor::ones(&[3]), Tensor::zeros(&[3]));
    assert_eq!(e.layer_norm_last_affine(&w, &b, 1e-5).shape(), &[0, 3]);
    let (dx, dw, db) = e.layer_norm_last_affine_backward(&w, &e, 1e-5);
    assert_eq!(
        (dx.shape(), dw.to_vec(), db.to_vec()),
        (&[0, 3][..], vec![0.0; 3], vec![0.0; 3])
    );
}

#[test]
#[should_panic(expected = "layer_norm: weight [4] and bias [3] are not [n] for input [2, 3]")]
fn layer_norm_affine_misfit_weight_panics() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    x.layer_norm_last_affine(&Tensor::zeros(&[4]), &Tensor::zeros(&[3]), 1e-5);
}

#[test]
#[should_panic(expected = "layer_norm backward")]
fn layer_norm_backward_shape_mismatch_panics() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    x.layer_norm_last_backward(&Tensor::zeros(&[3, 2]), 1e-5);
}

/// Softmax's backward `y·(g − Σ g·y)`, one pass per row on the last axis
/// (the other axes through the composed ops), against the loops.
#[test]
fn softmax_backward_matches_the_loops() {
    for (rows, n) in [(1, 1), (3, 7), (2, 33), (5, 64), (3000, 64)] {
        let x = Tensor::<f64>::from_vec(data(rows * n, 5), &[rows, n]).unwrap();
        let g = Tensor::<f64>::from_vec(data(rows * n, 6), &[rows, n]).unwrap();
        let y = x.softmax(-1);
        let got = y.softmax_backward(&g, -1).to_vec();
        let (yv, gv) = (y.to_vec(), g.to_vec());
        for r in 0..rows {
            let row = r * n..(r + 1) * n;
            let dot: f64 = row.clone().map(|i| yv[i] * gv[i]).sum();
            for i in row {
                let want = yv[i] * (gv[i] - dot);
                assert!(
                    (got[i] - want).abs() < 1e-12,
                    "[{rows},{n}] at {i}: {} vs {want}",
                    got[i]
                );
            }
        }
        // along the first axis: the same as the last axis of the transpose
        let t = x.t().contiguous().softmax(0);
        let gt = g.t().contiguous();
        let along0 = t.softmax_backward(&gt, 0).t().contiguous().to_vec();
        let yt = t.t().contiguous();
        let via_last = yt.softmax_backward(&gt.t().contiguous(), -1).to_vec();
        for (a, b) in along0.iter().zip(&via_last) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}
