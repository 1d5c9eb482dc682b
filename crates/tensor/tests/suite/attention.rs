//! Fused attention and its backward against plain loops, in f64 and f32,
//! over strided inputs, masks with dead rows and empty extents.

use mnemon_tensor::Tensor;
use proptest::prelude::*;

/// Deterministic values in about [-2, 2].
fn values(n: usize, seed: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (((i * 37 + seed * 101) % 97) as f64 - 48.0) / 24.0)
        .collect()
}

/// `[heads.., rows, cols]` dense; when `strided`, the same values read
/// through a permuted view (rows and heads swapped in memory).
fn tensor(lead: &[usize], rows: usize, cols: usize, seed: usize, strided: bool) -> Tensor<f64> {
    let heads: usize = lead.iter().product();
    let v = values(heads * rows * cols, seed);
    if !strided || lead.is_empty() {
        return Tensor::from_vec(v, &[lead, &[rows, cols]].concat()).unwrap();
    }
    // stored as [rows, heads.., cols], then viewed as [heads.., rows, cols]
    let mut stored = vec![0.0; v.len()];
    for h in 0..heads {
        for r in 0..rows {
            for c in 0..cols {
                stored[(r * heads + h) * cols + c] = v[(h * rows + r) * cols + c];
            }
        }
    }
    let n = lead.len();
    let perm: Vec<usize> = (1..=n).chain([0, n + 1]).collect();
    Tensor::from_vec(stored, &[&[rows], lead, &[cols]].concat())
        .unwrap()
        .permute(&perm)
}

/// Weights and output of one head by loops: `softmax(q·kᵀ·scale + bias)`,
/// a row with every key masked all zeros.
fn forward_loops(
    (q, k, v): (&[f64], &[f64], &[f64]),
    (lq, lk, d, dv): (usize, usize, usize, usize),
    mask: &[bool],
    scale: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut w = vec![0.0; lq * lk];
    let mut y = vec![0.0; lq * dv];
    for i in 0..lq {
        if (0..lk).all(|j| mask[i * lk + j]) {
            continue;
        }
        let s: Vec<f64> = (0..lk)
            .map(|j| {
                let dot: f64 = (0..d).map(|c| q[i * d + c] * k[j * d + c]).sum();
                if mask[i * lk + j] {
                    f64::NEG_INFINITY
                } else {
                    dot * scale
                }
            })
            .collect();
        let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
        for j in 0..lk {
            w[i * lk + j] = (s[j] - m).exp() / z;
            for c in 0..dv {
                y[i * dv + c] += w[i * lk + j] * v[j * dv + c];
            }
        }
    }
    (w, y)
}

/// One head's matrices: q, k, v, the weights and the incoming gradient.
type Head<'a> = [&'a [f64]; 5];

/// `(∂q, ∂k, ∂v)` of one head by loops from the weights.
fn backward_loops(
    [q, k, v, w, g]: Head<'_>,
    (lq, lk, d, dv): (usize, usize, usize, usize),
    scale: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut dq, mut dk, mut dv_) = (vec![0.0; lq * d], vec![0.0; lk * d], vec![0.0; lk * dv]);
    for i in 0..lq {
        let dw: Vec<f64> = (0..lk)
            .map(|j| (0..dv).map(|c| g[i * dv + c] * v[j * dv + c]).sum())
            .collect();
        let dot: f64 = (0..lk).map(|j| dw[j] * w[i * lk + j]).sum();
        for j in 0..lk {
            let ds = scale * w[i * lk + j] * (dw[j] - dot);
            for c in 0..d {
                dq[i * d + c] += ds * k[j * d + c];
                dk[j * d + c] += ds * q[i * d + c];
            }
            for c in 0..dv {
                dv_[j * dv + c] += w[i * lk + j] * g[i * dv + c];
            }
        }
    }
    (dq, dk, dv_)
}

/// Names of the five results compared per head, in [`head_loops`]'s order.
const RESULTS: [&str; 5] = ["weights", "output", "dq", "dk", "dv"];

/// Head `h`'s weights, output and `(∂q, ∂k, ∂v)` by loops, from every
/// head's inputs `[q, k, v, g]` (row-major, heads first).
fn head_loops(
    h: usize,
    [q, k, v, g]: [&[f64]; 4],
    (lq, lk, d, dv): (usize, usize, usize, usize),
    mask: &[bool],
    scale: f64,
) -> [Vec<f64>; 5] {
    let at = |x: &[f64], n: usize| x[h * n..(h + 1) * n].to_vec();
    let (qh, kh, vh, gh) = (at(q, lq * d), at(k, lk * d), at(v, lk * dv), at(g, lq * dv));
    let (w, y) = forward_loops((&qh, &kh, &vh), (lq, lk, d, dv), mask, scale);
    let (dq, dk, dv_) = backward_loops([&qh, &kh, &vh, &w, &gh], (lq, lk, d, dv), scale);
    [w, y, dq, dk, dv_]
}

/// Head `h`'s part of each of the five results (weights, output, ∂q, ∂k,
/// ∂v of every head).
fn head_of(
    h: usize,
    results: [&[f64]; 5],
    (lq, lk, d, dv): (usize, usize, usize, usize),
) -> [Vec<f64>; 5] {
    let sizes = [lq * lk, lq * dv, lq * d, lk * d, lk * dv];
    std::array::from_fn(|i| results[i][h * sizes[i]..(h + 1) * sizes[i]].to_vec())
}

fn close(got: &[f64], want: &[f64], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{} length", what);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
            "{} [{}]: {} vs {}",
            what,
            i,
            a,
            b
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn attention_matches_loops(
        lead in prop_oneof![Just(vec![]), Just(vec![1]), Just(vec![3]), Just(vec![2, 2])],
        (lq, lk, d, dv) in prop_oneof![
            (0usize..6, 0usize..6, 0usize..5, 0usize..5),
            // past the kernel's 16-row blocks, where masks cut keys short
            (17usize..53, 1usize..53, 1usize..4, 1usize..4),
            // widths across the tiles' 16-column units and 64-column
            // panels (f64 tiles are 32 wide), keys past one panel
            (1usize..10, 60usize..72, 15usize..70, 15usize..70),
        ],
        mask_kind in 0usize..7,
        strided in any::<bool>(),
        strided_k in any::<bool>(),
        seed in 0usize..40,
    ) {
        let heads: usize = lead.iter().product();
        let q = tensor(&lead, lq, d, seed, strided);
        let k = tensor(&lead, lk, d, seed + 1, strided_k);
        let v = tensor(&lead, lk, dv, seed + 2, strided);
        let g = tensor(&lead, lq, dv, seed + 3, strided);
        // none, causal, random (with dead rows), one dead first row,
        // causal shifted by the seed (dead leading rows, or keys reached
        // by every row), a sliding window, the last rows dead
        let mask: Vec<bool> = (0..lq * lk)
            .map(|i| {
                let (r, c) = (i / lk.max(1), i % lk.max(1));
                match mask_kind {
                    0 => false,
                    1 => c > r,
                    2 => (i * 7 + seed).is_multiple_of(3),
                    3 => i < lk,
                    4 => c + seed % 11 > r + 5,
                    5 => c > r || c + 4 + seed % 7 < r,
                    _ => r + seed % 9 >= lq.max(1),
                }
            })
            .collect();
        let mt = Tensor::from_vec(mask.iter().map(|&m| m as u8 as f64).collect(), &[lq, lk]).unwrap();
        let scale = 0.7;
        let (y, w) = q.attention(&k, &v, (mask_kind > 0).then_some(&mt), scale);
        let (dq, dk, dvv) = q.attention_backward(&k, &v, &w, &g, scale);
        let (qv, kv, vv, gv) = (q.to_vec(), k.to_vec(), v.to_vec(), g.to_vec());
        let got = [w.to_vec(), y.to_vec(), dq.to_vec(), dk.to_vec(), dvv.to_vec()];
        prop_assert_eq!(y.shape(), &[&lead[..], &[lq, dv]].concat()[..]);
        prop_assert_eq!(w.shape(), &[&lead[..], &[lq, lk]].concat()[..]);
        let dims = (lq, lk, d, dv);
        for h in 0..heads {
            let want = head_loops(h, [&qv, &kv, &vv, &gv], dims, &mask, scale);
            let got = head_of(h, [&got[0], &got[1], &got[2], &got[3], &got[4]], dims);
            for ((got, want), what) in got.iter().zip(&want).zip(RESULTS) {
                close(got, want, what)?;
            }
        }
    }
}

/// f32 (the vectorising `exp`) against the f64 result, causal mask.
#[test]
fn attention_f32_is_close_to_f64() {
    let q = tensor(&[4], 64, 32, 1, true);
    let k = tensor(&[4], 64, 32, 2, false);
    let v = tensor(&[4], 64, 32, 3, true);
    let mask = Tensor::from_vec(
        (0..64 * 64)
            .map(|i| ((i % 64) > (i / 64)) as u8 as f64)
            .collect(),
        &[64, 64],
    )
    .unwrap();
    let f = |t: &Tensor<f64>| {
        Tensor::<f32>::from_vec(t.to_vec().iter().map(|&x| x as f32).collect(), t.shape()).unwrap()
    };
    let (y64, _) = q.attention(&k, &v, Some(&mask), 0.125);
    let (y32, w32) = f(&q).attention(&f(&k), &f(&v), Some(&f(&mask)), 0.125);
    for (a, b) in y32.to_vec().iter().zip(y64.to_vec()) {
        assert!((*a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // masked places are exactly 0; each row sums to 1
    let w = w32.to_vec();
    assert_eq!(w[1], 0.0);
    for row in w.chunks(64) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

/// f32 through tiles of every width (f32 tiles are 64 columns: 70 keys
/// and 70 query dims span two panels, 20 value dims a partial unit),
/// strided queries, values and gradient, a sliding-window mask: forward and
/// backward against f64 loops on the same (f32-exact) values.
#[test]
fn attention_f32_wide_matches_loops() {
    let (lq, lk, d, dv) = (37, 70, 70, 20);
    let q = tensor(&[2], lq, d, 5, true);
    let k = tensor(&[2], lk, d, 6, false);
    let v = tensor(&[2], lk, dv, 7, true);
    let g = tensor(&[2], lq, dv, 8, true);
    let mask: Vec<bool> = (0..lq * lk)
        .map(|i| {
            let (r, c) = (i / lk, i % lk);
            c > r + 20 || c + 25 < r
        })
        .collect();
    let mt = Tensor::from_vec(mask.iter().map(|&m| m as u8 as f64).collect(), &[lq, lk]).unwrap();
    let f = |t: &Tensor<f64>| {
        Tensor::<f32>::from_vec(t.to_vec().iter().map(|&x| x as f32).collect(), t.shape()).unwrap()
    };
    let (y, w) = f(&q).attention(&f(&k), &f(&v), Some(&f(&mt)), 0.25);
    let (dq, dk, dvv) = f(&q).attention_backward(&f(&k), &f(&v), &w, &f(&g), 0.25);
    let all = |t: &Tensor<f32>| t.to_vec().iter().map(|&x| x as f64).collect::<Vec<_>>();
    let got = [all(&w), all(&y), all(&dq), all(&dk), all(&dvv)];
    let (qv, kv, vv, gv) = (q.to_vec(), k.to_vec(), v.to_vec(), g.to_vec());
    let dims = (lq, lk, d, dv);
    for h in 0..2 {
        let want = head_loops(h, [&qv, &kv, &vv, &gv], dims, &mask, 0.25);
        let got = head_of(h, [&got[0], &got[1], &got[2], &got[3], &got[4]], dims);
        for ((got, want), what) in got.iter().zip(&want).zip(RESULTS) {
            let top = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-5 * top.max(1.0),
                    "{what} [{i}]: {a} vs {b}"
                );
            }
        }
    }
}

/// Keys past every row's reach (a causal mask with more keys than
/// queries) get zero weight and zero gradient, written out even when the
/// output buffers come back from the pool holding old values (NaN here).
#[test]
fn unreached_keys_are_zero_in_recycled_buffers() {
    let (heads, lq, lk, d) = (64, 20, 40, 16);
    let q = tensor(&[heads], lq, d, 1, false);
    let k = tensor(&[heads], lk, d, 2, false);
    let v = tensor(&[heads], lk, d, 3, false);
    let g = tensor(&[heads], lq, d, 4, false);
    let mask: Vec<bool> = (0..lq * lk).map(|i| i % lk > i / lk).collect();
    let mt = Tensor::from_vec(mask.iter().map(|&m| m as u8 as f64).collect(), &[lq, lk]).unwrap();
    // pooled buffers (≥ 128 KiB) of every output size, full of NaN
    for n in [lq * lk, lq * d, lk * d, lk * d, lq * d, lq * lk] {
        drop(Tensor::from_vec(vec![f64::NAN; heads * n], &[heads, n]).unwrap());
    }
    let (y, w) = q.attention(&k, &v, Some(&mt), 0.5);
    for n in [lq * d, lk * d, lk * d] {
        drop(Tensor::from_vec(vec![f64::NAN; heads * n], &[heads, n]).unwrap());
    }
    let (dq, dk, dv) = q.attention_backward(&k, &v, &w, &g, 0.5);
    let got = [
        w.to_vec(),
        y.to_vec(),
        dq.to_vec(),
        dk.to_vec(),
        dv.to_vec(),
    ];
    let (qv, kv, vv, gv) = (q.to_vec(), k.to_vec(), v.to_vec(), g.to_vec());
    let dims = (lq, lk, d, d);
    for h in 0..heads {
        let want = head_loops(h, [&qv, &kv, &vv, &gv], dims, &mask, 0.5);
        let got = head_of(h, [&got[0], &got[1], &got[2], &got[3], &got[4]], dims);
        for ((got, want), what) in got.iter().zip(&want).zip(RESULTS) {
            for (a, b) in got.iter().zip(want) {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "{what}: {a} vs {b}"
                );
            }
        }
        // the keys no query reaches: exactly zero gradient
        assert!(got[3][lq * d..].iter().all(|&x| x == 0.0));
    }
}

/// Heads split from `[B, L, H·d]` (as a multi-head layer splits them):
/// outputs and gradients come back laid out `[B, L, H, w]`, so permuting
/// them back is a view with no copy, and hold exactly what the same call
/// on dense heads gives — every place written, even into recycled
/// buffers full of NaN, under a causal mask with more keys than queries.
#[test]
fn heads_split_from_rows_come_back_in_row_order() {
    let (b, h, lq, lk, d) = (3, 4, 20, 36, 16);
    let split = |l: usize, seed: usize| {
        let v = values(b * l * h * d, seed);
        Tensor::from_vec(v, &[b, l, h, d])
            .unwrap()
            .permute(&[0, 2, 1, 3])
    };
    let (q, k, v, g) = (split(lq, 1), split(lk, 2), split(lk, 3), split(lq, 4));
    let dense = |t: &Tensor<f64>| t.contiguous();
    let mask: Vec<f64> = (0..lq * lk)
        .map(|i| (i % lk > i / lk) as u8 as f64)
        .collect();
    let mt = Tensor::from_vec(mask, &[lq, lk]).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        for n in [lq * lk, lq * d, lk * d, lk * d, lq * d] {
            drop(Tensor::from_vec(vec![f64::NAN; b * h * n], &[b * h, n]).unwrap());
        }
        let (y, w) = q.attention(&k, &v, Some(&mt), 0.25);
        let (dq, dk, dv) = q.attention_backward(&k, &v, &w, &g, 0.25);
        let (y0, w0) = dense(&q).attention(&dense(&k), &dense(&v), Some(&mt), 0.25);
        let (dq0, dk0, dv0) =
            dense(&q).attention_backward(&dense(&k), &dense(&v), &w0, &dense(&g), 0.25);
        assert_eq!(w.to_vec(), w0.to_vec());
        for (got, want, what) in [
            (&y, &y0, "y"),
            (&dq, &dq0, "dq"),
            (&dk, &dk0, "dk"),
            (&dv, &dv0, "dv"),
        ] {
            assert_eq!(got.shape(), want.shape(), "{what}");
            assert_eq!(got.to_vec(), want.to_vec(), "{what}");
            assert!(
                got.permute(&[0, 2, 1, 3]).is_contiguous(),
                "{what} in [B, L, H, w] order"
            );
        }
    });
}

/// Heads of no rows or no keys, on as many groups as threads (where the
/// outputs would be written in the heads' own order): empty results of
/// the right shapes, zeros where keys are missing. Found by proptest: a
/// group of heads with no rows had no room for its heads' columns.
#[test]
fn empty_heads_on_two_threads_give_empty_results() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        for (lq, lk) in [(0, 0), (0, 3), (3, 0)] {
            let t = |l: usize| Tensor::<f64>::ones(&[2, 2, l, 1]);
            let (q, k, v) = (t(lq), t(lk), t(lk));
            let (y, w) = q.attention(&k, &v, None, 1.0);
            assert_eq!(y.shape(), [2, 2, lq, 1]);
            assert_eq!(w.shape(), [2, 2, lq, lk]);
            assert!(y.to_vec().iter().all(|&x| x == 0.0));
            let (dq, dk, dv) = q.attention_backward(&k, &v, &w, &t(lq), 1.0);
            assert_eq!(
                (dq.shape(), dk.shape(), dv.shape()),
                (q.shape(), k.shape(), v.shape())
            );
            for g in [dq, dk, dv] {
                assert!(g.to_vec().iter().all(|&x| x == 0.0));
            }
        }
    });
}

#[test]
#[should_panic(expected = "attention: q [2, 3, 4], k [2, 3, 5]")]
fn misfit_shapes_panic_naming_them() {
    let t = |s: &[usize]| Tensor::<f32>::zeros(s);
    let _ = t(&[2, 3, 4]).attention(&t(&[2, 3, 5]), &t(&[2, 3, 4]), None, 1.0);
}

#[test]
#[should_panic(expected = "does not broadcast to [Lq, Lk] = [3, 3]")]
fn a_misfit_mask_panics_naming_it() {
    let t = Tensor::<f32>::zeros(&[2, 3, 4]);
    let _ = t.attention(&t, &t, Some(&Tensor::zeros(&[2])), 1.0);
}
