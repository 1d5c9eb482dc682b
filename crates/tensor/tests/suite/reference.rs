//! Property tests: every kernel against a plain reference written here with
//! explicit index arithmetic (no strides, no fast paths).

use mnemon_tensor::Tensor;
use proptest::prelude::*;

/// Row-major multi-index of flat position `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Reads `data` (dense, `shape`) at an output index, broadcasting.
fn read_bcast(data: &[f64], shape: &[usize], out_idx: &[usize]) -> f64 {
    let lead = out_idx.len() - shape.len();
    let idx: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(d, &s)| if s == 1 { 0 } else { out_idx[lead + d] })
        .collect();
    data[ravel(&idx, shape)]
}

/// A shape of rank 0..=4 with small dims (0 included now and then).
fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1 => Just(0usize), 12 => 1usize..5], 0..=4)
}

/// Two shapes that broadcast together: each is the output shape with some
/// leading axes dropped and some axes set to 1.
fn bcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape_strategy().prop_flat_map(|out| {
        let r = out.len();
        (
            Just(out),
            0..=r,
            0..=r,
            prop::collection::vec(any::<(bool, bool)>(), r),
        )
            .prop_map(|(out, da, db, ones)| {
                let a: Vec<usize> = (da..out.len())
                    .map(|d| if ones[d].0 { 1 } else { out[d] })
                    .collect();
                let b: Vec<usize> = (db..out.len())
                    .map(|d| if ones[d].1 { 1 } else { out[d] })
                    .collect();
                (a, b)
            })
    })
}

fn values(shape: &[usize], seed: u64) -> Vec<f64> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| (((i as u64 * 7919 + seed * 104729) % 2003) as f64) / 200.0 - 5.0)
        .collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::from_vec(values(shape, seed), shape).unwrap()
}

fn bshape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let da = if i + a.len() >= r {
                a[i + a.len() - r]
            } else {
                1
            };
            let db = if i + b.len() >= r {
                b[i + b.len() - r]
            } else {
                1
            };
            if da == 1 {
                db
            } else {
                da
            }
        })
        .collect()
}

type BinOp = (
    &'static str,
    fn(&Tensor<f64>, &Tensor<f64>) -> Tensor<f64>,
    fn(f64, f64) -> f64,
);

fn binary_ops() -> Vec<BinOp> {
    vec![
        ("add", |a, b| a + b, |x, y| x + y),
        ("sub", |a, b| a - b, |x, y| x - y),
        ("mul", |a, b| a * b, |x, y| x * y),
        ("div", |a, b| a / b, |x, y| x / y),
        ("maximum", |a, b| a.maximum(b), f64::max),
        ("minimum", |a, b| a.minimum(b), f64::min),
        ("pow", |a, b| a.abs().pow(b), |x, y| x.abs().powf(y)),
        ("gt", |a, b| a.gt(b), |x, y| (x > y) as u8 as f64),
        ("le", |a, b| a.le(b), |x, y| (x <= y) as u8 as f64),
    ]
}

/// A non-contiguous tensor with the same logical values as `tensor(shape)`:
/// built transposed, then transposed back.
fn strided(shape: &[usize], seed: u64) -> Tensor<f64> {
    if shape.len() < 2 {
        return tensor(shape, seed);
    }
    let r = shape.len();
    let mut ts = shape.to_vec();
    ts.swap(r - 2, r - 1);
    let base = tensor(shape, seed).transpose(r - 2, r - 1).contiguous();
    assert_eq!(base.shape(), &ts[..]);
    base.transpose(r - 2, r - 1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96)
    ))]

    #[test]
    fn binary_ops_match_reference((sa, sb) in bcast_pair(), seed in 0u64..100, noncontig in any::<bool>()) {
        let a = if noncontig { strided(&sa, seed) } else { tensor(&sa, seed) };
        let b = tensor(&sb, seed + 1);
        let (va, vb) = (values(&sa, seed), values(&sb, seed + 1));
        let out = bshape(&sa, &sb);
        for (name, op, f) in binary_ops() {
            let got = op(&a, &b);
            prop_assert_eq!(got.shape(), &out[..], "{}", name);
            let n: usize = out.iter().product();
            let want: Vec<f64> = (0..n).map(|i| {
                let idx = unravel(i, &out);
                f(read_bcast(&va, &sa, &idx), read_bcast(&vb, &sb, &idx))
            }).collect();
            let got = got.to_vec();
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(g == w || (g.is_nan() && w.is_nan()), "{}: {} vs {}", name, g, w);
            }
        }
    }

    #[test]
    fn where_matches_reference((sa, sb) in bcast_pair(), seed in 0u64..100) {
        let m = tensor(&sa, seed).gt(&Tensor::scalar(0.0));
        let a = tensor(&sb, seed + 1);
        let b = Tensor::scalar(-100.0);
        let got = Tensor::where_(&m, &a, &b);
        let out = bshape(&sa, &sb);
        prop_assert_eq!(got.shape(), &out[..]);
        let (vm, va) = (m.to_vec(), values(&sb, seed + 1));
        for (i, g) in got.to_vec().into_iter().enumerate() {
            let idx = unravel(i, &out);
            let want = if read_bcast(&vm, &sa, &idx) != 0.0 { read_bcast(&va, &sb, &idx) } else { -100.0 };
            prop_assert_eq!(g, want);
        }
    }

    #[test]
    fn reductions_match_reference(shape in shape_strategy(), seed in 0u64..100, keepdim in any::<bool>(), noncontig in any::<bool>()) {
        let t = if noncontig { strided(&shape, seed) } else { tensor(&shape, seed) };
        let v = values(&shape, seed);
        prop_assert!((t.sum_all().item() - v.iter().sum::<f64>()).abs() < 1e-9);
        for axis in 0..shape.len() {
            let mut out = shape.clone();
            out[axis] = 1;
            let n: usize = out.iter().product();
            let lane = |i: usize| -> Vec<f64> {
                let mut idx = unravel(i, &out);
                (0..shape[axis]).map(|k| { idx[axis] = k; v[ravel(&idx, &shape)] }).collect()
            };
            let sum: Vec<f64> = (0..n).map(|i| lane(i).iter().sum()).collect();
            let max: Vec<f64> = (0..n).map(|i| lane(i).iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
            let min: Vec<f64> = (0..n).map(|i| lane(i).iter().copied().fold(f64::INFINITY, f64::min)).collect();
            let arg: Vec<f64> = (0..n).map(|i| {
                let l = lane(i);
                let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                l.iter().position(|&x| x == m).unwrap_or(0) as f64
            }).collect();
            let mut kept = shape.clone();
            if keepdim { kept[axis] = 1 } else { kept.remove(axis); }
            let s = t.sum(axis, keepdim);
            prop_assert_eq!(s.shape(), &kept[..]);
            for (g, w) in s.to_vec().iter().zip(&sum) { prop_assert!((g - w).abs() < 1e-9); }
            if shape[axis] > 0 || n == 0 {
                prop_assert_eq!(t.max(axis, keepdim).to_vec(), max);
                prop_assert_eq!(t.min(axis, keepdim).to_vec(), min);
            } else {
                // a maximum of nothing has no value: PyTorch raises, so do we
                let t2 = t.clone();
                let err = std::panic::catch_unwind(move || t2.max(axis, keepdim)).unwrap_err();
                let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
                prop_assert!(msg.starts_with(&format!("max: axis {axis} of shape")), "{}", msg);
            }
            if shape[axis] > 0 {
                prop_assert_eq!(t.argmax(axis, keepdim).to_vec(), arg);
                let mean: Vec<f64> = sum.iter().map(|s| s / shape[axis] as f64).collect();
                for (g, w) in t.mean(axis, keepdim).to_vec().iter().zip(&mean) { prop_assert!((g - w).abs() < 1e-9); }
            }
        }
    }

    #[test]
    fn sum_to_inverts_broadcast((sa, sb) in bcast_pair(), seed in 0u64..100) {
        let out = bshape(&sa, &sb);
        let g = tensor(&out, seed);
        let s = g.sum_to(&sa);
        prop_assert_eq!(s.shape(), &sa[..]);
        let vg = values(&out, seed);
        let mut want = vec![0.0; sa.iter().product()];
        for (i, x) in vg.iter().enumerate() {
            let idx = unravel(i, &out);
            let lead = out.len() - sa.len();
            let src: Vec<usize> = sa.iter().enumerate().map(|(d, &s)| if s == 1 { 0 } else { idx[lead + d] }).collect();
            want[ravel(&src, &sa)] += x;
        }
        for (g, w) in s.to_vec().iter().zip(&want) { prop_assert!((g - w).abs() < 1e-9); }
    }

    /// `linear` (bias written first, gemm accumulating onto it) against
    /// plain loops: lead axes of any rank (none too), empty extents, a
    /// transposed (strided) input, sizes past gemm's blocking, and batches
    /// of 64 rows or more with 256+ inputs (the weight transposed first,
    /// in 8×8 tiles and edges).
    #[test]
    fn linear_matches_loops(lead in prop_oneof![prop::collection::vec(0usize..4, 0..3), Just(vec![70]), Just(vec![2, 33])],
                            n_in in prop_oneof![0usize..6, Just(300usize)],
                            n_out in prop_oneof![1usize..7, Just(16usize), Just(21usize)],
                            transposed in any::<bool>(), seed in 0u64..50) {
        let mut xs = lead.clone();
        xs.push(n_in);
        let x = if transposed && xs.len() == 2 {
            tensor(&[xs[1], xs[0]], seed).t()
        } else {
            tensor(&xs, seed)
        };
        let w = tensor(&[n_out, n_in], seed + 1);
        let b = tensor(&[n_out], seed + 2);
        let y = x.linear(&w, &b);
        let mut want_shape = lead.clone();
        want_shape.push(n_out);
        prop_assert_eq!(y.shape(), &want_shape[..]);
        let (xv, wv, bv) = (x.to_vec(), w.to_vec(), b.to_vec());
        let rows: usize = lead.iter().product();
        let got = y.to_vec();
        for r in 0..rows {
            for o in 0..n_out {
                let want = bv[o] + (0..n_in).map(|i| xv[r * n_in + i] * wv[o * n_in + i]).sum::<f64>();
                prop_assert!((got[r * n_out + o] - want).abs() <= 1e-9 * (1.0 + want.abs()), "row {} out {}: {} vs {}", r, o, got[r * n_out + o], want);
            }
        }
    }

    /// Sizes up to 12³ multiply-adds: both the schoolbook path for tiny
    /// products and the gemm path.
    #[test]
    fn matmul_matches_triple_loop(m in 0usize..13, k in 0usize..13, n in 0usize..13, batch in prop::collection::vec(1usize..4, 0..3),
                                  b_batched in any::<bool>(), ta in any::<bool>(), tb in any::<bool>(), seed in 0u64..50) {
        let mut sa = batch.clone(); sa.extend([m, k]);
        let mut sb = if b_batched { batch.iter().map(|_| 1).collect() } else { vec![] };
        sb.extend([k, n]);
        let a = if ta { strided(&sa, seed) } else { tensor(&sa, seed) };
        let b = if tb { strided(&sb, seed + 3) } else { tensor(&sb, seed + 3) };
        let (va, vb) = (values(&sa, seed), values(&sb, seed + 3));
        let c = a.matmul(&b);
        let nb: usize = batch.iter().product();
        let mut want = vec![0.0; nb * m * n];
        for bi in 0..nb {
            for i in 0..m { for j in 0..n {
                let mut acc = 0.0;
                for p in 0..k { acc += va[bi * m * k + i * k + p] * vb[p * n + j]; }
                want[bi * m * n + i * n + j] = acc;
            }}
        }
        let mut so = batch.clone(); so.extend([m, n]);
        prop_assert_eq!(c.shape(), &so[..]);
        for (g, w) in c.to_vec().iter().zip(&want) { prop_assert!((g - w).abs() < 1e-9, "{} vs {}", g, w); }
    }

    #[test]
    fn views_equal_materialised_copies(shape in prop::collection::vec(1usize..5, 1..=4), seed in 0u64..50, a in 0usize..4, b in 0usize..4, start in 0usize..4) {
        let t = tensor(&shape, seed);
        let r = shape.len();
        let (a, b) = (a % r, b % r);
        let tr = t.transpose(a, b);
        let v = values(&shape, seed);
        for (i, g) in tr.to_vec().into_iter().enumerate() {
            let mut idx = unravel(i, tr.shape());
            idx.swap(a, b);
            prop_assert_eq!(g, v[ravel(&idx, &shape)]);
        }
        prop_assert_eq!(tr.contiguous().to_vec(), tr.to_vec());
        prop_assert_eq!(tr.reshape(&[tr.numel()]).unwrap().to_vec(), tr.to_vec());
        let s = start % tr.shape()[a];
        let nar = tr.narrow(a, s, tr.shape()[a] - s);
        let cpy = tr.contiguous().narrow(a, s, tr.shape()[a] - s);
        prop_assert_eq!(nar.to_vec(), cpy.to_vec());
        // unary kernels on the strided view equal those on the copy
        prop_assert_eq!(nar.exp().to_vec(), cpy.exp().to_vec());
        prop_assert_eq!(nar.sum(a, false).to_vec(), cpy.sum(a, false).to_vec());
    }

    #[test]
    fn concat_stack_index_gather(shape in prop::collection::vec(1usize..4, 1..=3), seed in 0u64..50, axis in 0usize..3, idx in prop::collection::vec(0usize..3, 0..5)) {
        let axis = axis % shape.len();
        let a = tensor(&shape, seed);
        let b = strided(&shape, seed + 1);
        let c = Tensor::concat(&[a.clone(), b.clone()], axis);
        prop_assert_eq!(c.narrow(axis, 0, shape[axis]).to_vec(), a.to_vec());
        prop_assert_eq!(c.narrow(axis, shape[axis], shape[axis]).to_vec(), b.to_vec());
        let s = Tensor::stack(&[a.clone(), b.clone()], axis);
        prop_assert_eq!(s.narrow(axis, 1, 1).squeeze(axis).to_vec(), b.to_vec());
        let idx: Vec<usize> = idx.into_iter().map(|i| i % shape[axis]).collect();
        let sel = a.index_select(axis, &idx).unwrap();
        for (p, &i) in idx.iter().enumerate() {
            prop_assert_eq!(sel.narrow(axis, p, 1).to_vec(), a.narrow(axis, i, 1).to_vec());
        }
        // gather with one index per lane equals picking that lane element
        let mut ishape = shape.clone();
        ishape[axis] = 1;
        let n: usize = ishape.iter().product();
        let gi: Vec<usize> = (0..n).map(|i| (i * 7 + seed as usize) % shape[axis]).collect();
        let g = a.gather(axis, &gi, &ishape).unwrap().to_vec();
        let va = values(&shape, seed);
        for (i, &gv) in g.iter().enumerate() {
            let mut ix = unravel(i, &ishape);
            ix[axis] = gi[i];
            prop_assert_eq!(gv, va[ravel(&ix, &shape)]);
        }
    }

    #[test]
    fn softmax_lanes_sum_to_one(shape in prop::collection::vec(1usize..5, 1..=3), seed in 0u64..50, axis in 0usize..3, scale in prop_oneof![Just(1.0), Just(1e4)]) {
        let axis = axis % shape.len();
        let t = &tensor(&shape, seed) * scale;
        let s = t.softmax(axis);
        for v in s.sum(axis, false).to_vec() { prop_assert!((v - 1.0).abs() < 1e-12); }
        let ls = t.log_softmax(axis);
        prop_assert!(ls.to_vec().iter().all(|v| v.is_finite()));
        for (a, b) in ls.exp().to_vec().iter().zip(s.to_vec()) { prop_assert!((a - b).abs() < 1e-12); }
    }
}

#[test]
fn sums_are_bit_identical_across_thread_counts() {
    let n = 10_000_000;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i * 2654435761usize) % 1000) as f32 / 997.0)
        .collect();
    let t = Tensor::from_vec(v, &[n]).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            (
                t.sum_all().item(),
                t.mean_all().item(),
                t.reshape(&[1000, 10_000]).unwrap().sum(1, false).to_vec(),
            )
        })
    };
    let (s1, m1, r1) = run(1);
    let (s2, m2, r2) = run(2);
    assert_eq!(s1.to_bits(), s2.to_bits());
    assert_eq!(m1.to_bits(), m2.to_bits());
    assert_eq!(r1, r2);
    let exact: f64 = t.to_vec().iter().map(|&x| x as f64).sum();
    assert!(
        ((s1 as f64) - exact).abs() / exact < 1e-6,
        "{s1} vs {exact}"
    );
}

/// Batched products small enough to run one per thread (attention heads,
/// a convolution's images) and `matmul_sum`'s partial sums over runs of
/// the batch: the same bits on one thread and on three, and the sum equal
/// to the summed products.
#[test]
fn batched_products_are_bit_identical_across_thread_counts() {
    let vals = |len: usize, s: usize| -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 2654435761usize + s) % 1000) as f32 / 997.0) - 0.5)
            .collect()
    };
    let a = Tensor::from_vec(vals(21 * 16 * 30, 1), &[21, 16, 30]).unwrap();
    let b = Tensor::from_vec(vals(21 * 30 * 12, 2), &[21, 30, 12]).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| (a.matmul(&b).to_vec(), a.matmul_sum(&b).to_vec()))
    };
    let (p1, s1) = run(1);
    let (p3, s3) = run(3);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&p1), bits(&p3));
    assert_eq!(bits(&s1), bits(&s3));
    for i in 0..16 * 12 {
        let want: f64 = (0..21).map(|j| p1[j * 16 * 12 + i] as f64).sum();
        assert!((s1[i] as f64 - want).abs() < 1e-4, "{} vs {want}", s1[i]);
    }
}

/// scatter_add along the rows of a large matrix (a max-pool's gradient)
/// runs blocks of rows in parallel: the same bits as on one thread, and
/// the loop's sums (repeated indices accumulate), with fewer index rows
/// than output rows (the rest stay zero).
#[test]
fn large_row_scatter_add_matches_the_loop_on_any_thread_count() {
    let (rows, width, per) = (600, 196, 49);
    let idx: Vec<usize> = (0..rows * per).map(|i| (i * 7919) % width).collect();
    let vals: Vec<f32> = (0..rows * per)
        .map(|i| ((i % 13) as f32 - 6.0) / 7.0)
        .collect();
    let src = Tensor::from_vec(vals.clone(), &[rows, per]).unwrap();
    let run = |threads: usize, out_rows: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            src.scatter_add(1, &idx, &[rows, per], &[out_rows, width])
                .unwrap()
                .to_vec()
        })
    };
    let mut want = vec![0.0f32; (rows + 300) * width];
    for r in 0..rows {
        for j in 0..per {
            want[r * width + idx[r * per + j]] += vals[r * per + j];
        }
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&run(2, rows)), bits(&want[..rows * width]));
    assert_eq!(bits(&run(1, rows)), bits(&want[..rows * width]));
    // a recycled buffer of the output's size full of NaN waits in the
    // pool: every output element must be written
    drop(Tensor::<f32>::full(&[rows + 300, width], f32::NAN).map(|x| x));
    assert_eq!(bits(&run(2, rows + 300)), bits(&want));
}

#[test]
fn edge_cases_rank0_and_empty() {
    let s = Tensor::<f64>::scalar(3.0);
    assert_eq!((&s * &s).shape(), &[] as &[usize]);
    assert_eq!((&s * &s).item(), 9.0);
    let e = Tensor::<f64>::zeros(&[2, 0, 3]);
    assert_eq!((&e + &Tensor::ones(&[3])).shape(), &[2, 0, 3]);
    assert_eq!(e.sum(1, false).to_vec(), vec![0.0; 6]);
    assert_eq!(e.softmax(2).numel(), 0);
    let x = Tensor::<f32>::from_vec(vec![-1e4, 1e4], &[2]).unwrap();
    assert!(x.sigmoid().to_vec().iter().all(|v| v.is_finite()));
    assert!(x.softmax(0).to_vec().iter().all(|v| v.is_finite()));
    assert!(x.log_softmax(0).to_vec().iter().all(|v| v.is_finite()));
}

#[test]
fn panic_messages_name_op_shapes_and_caller_line() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[4, 5]);
    let line = line!() + 1;
    let err = std::panic::catch_unwind(|| a.matmul(&b)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("matmul") && msg.contains("[2, 3]") && msg.contains("[4, 5]"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    let line = line!() + 1;
    let err = std::panic::catch_unwind(|| &a * &b).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("mul: shapes [2, 3] and [4, 5]"), "{msg}");
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    let err = std::panic::catch_unwind(|| a.sum(2, false)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("sum: axis 2 is out of range") && msg.contains("[2, 3]"),
        "{msg}"
    );
}

/// Summing a large gradient down to a bias's shape (leading axes, as a
/// linear layer's; every axis but channels, as a convolution's; a mix):
/// bit for bit the same on one thread and on two, and equal to plain loops
/// in f64.
#[test]
fn large_sum_to_is_deterministic_and_right() {
    for (shape, to) in [
        (vec![5usize, 40_000], vec![40_000usize]),
        (vec![3, 7, 9_000], vec![7, 9_000]),
        (vec![16, 64, 512], vec![512]),
        (vec![64, 6, 28, 28], vec![6, 1, 1]),
        (vec![8, 3, 50, 70], vec![1, 3, 50, 1]),
        (vec![40, 1, 3, 900], vec![1, 1, 900]),
    ] {
        let n: usize = shape.iter().product();
        let xs: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 2003) as f32 - 1000.0) * 1e-3)
            .collect();
        let t = Tensor::<f32>::from_vec(xs.clone(), &shape).unwrap();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| t.sum_to(&to).to_vec())
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(
            one, two,
            "{shape:?} → {to:?}: thread count changed the sums"
        );
        let mut want = vec![0.0f64; to.iter().product()];
        let lead = shape.len() - to.len();
        for (i, &x) in xs.iter().enumerate() {
            let idx = unravel(i, &shape);
            let at: Vec<usize> = to
                .iter()
                .enumerate()
                .map(|(d, &s)| if s == 1 { 0 } else { idx[lead + d] })
                .collect();
            want[ravel(&at, &to)] += x as f64;
        }
        for (j, (&got, &w)) in one.iter().zip(&want).enumerate() {
            assert!(
                (got as f64 - w).abs() < 1e-3,
                "{shape:?} → {to:?} at {j}: {got} vs {w}"
            );
        }
    }
}

/// Products whose operands both run along `k` (a convolution's weight
/// gradient `G·Cᵀ`) are handed to gemm in whichever orientation repacks
/// less: both orientations, f32 and f64, and `matmul_sum`'s accumulation
/// over a batch, against the plain triple loop.
#[test]
fn matmul_with_both_operands_along_k_in_either_orientation() {
    fn check<T: mnemon_tensor::Element + Into<f64>>(m: usize, k: usize, n: usize, batch: usize) {
        let fill = |len: usize, step: usize, modulo: usize| -> Vec<T> {
            (0..len)
                .map(|i| T::of_f64(((i * step) % modulo) as f64 - (modulo / 2) as f64))
                .collect()
        };
        let a = Tensor::from_vec(fill(batch * m * k, 7, 11), &[batch, m, k]).unwrap();
        let c = Tensor::from_vec(fill(batch * n * k, 5, 13), &[batch, n, k]).unwrap();
        let (av, cv) = (a.to_vec(), c.to_vec());
        let want = |b: usize, i: usize, j: usize| -> f64 {
            (0..k)
                .map(|p| av[(b * m + i) * k + p].into() * cv[(b * n + j) * k + p].into())
                .sum()
        };
        let prod = a.matmul(&c.transpose(1, 2)).to_vec();
        let summed = a.matmul_sum(&c.transpose(1, 2)).to_vec();
        for i in 0..m {
            for j in 0..n {
                let mut total = 0.0;
                for b in 0..batch {
                    let w = want(b, i, j);
                    assert_eq!(
                        prod[(b * m + i) * n + j].into(),
                        w,
                        "[{m},{k},{n}] batch {b} at ({i},{j})"
                    );
                    total += w;
                }
                assert_eq!(
                    summed[i * n + j].into(),
                    total,
                    "matmul_sum [{m},{k},{n}] at ({i},{j})"
                );
            }
        }
    }
    // small integers: every sum is exact in f32, so equality is the test
    for (m, k, n) in [
        (16, 100, 150),
        (150, 100, 16),
        (6, 784, 25),
        (25, 784, 6),
        (3, 40, 70),
        (64, 33, 64),
    ] {
        check::<f32>(m, k, n, 3);
        check::<f64>(m, k, n, 2);
    }
}

proptest! {
    /// `to_vec` of permuted, narrowed and broadcast views with extents past
    /// the 16-element tiles of its transpose path, against index arithmetic.
    #[test]
    fn to_vec_of_permuted_views_matches_index_arithmetic(
        shape in prop::collection::vec(1usize..40, 2..=4),
        perm_seed in 0usize..24, start in 0usize..5, bcast in 0usize..3) {
        let r = shape.len();
        let numel: usize = shape.iter().product();
        prop_assume!(numel <= 12_000);
        let t = Tensor::<f64>::from_vec((0..numel).map(|i| i as f64).collect(), &shape).unwrap();
        // a permutation of the axes from the seed (Lehmer code)
        let (mut axes, mut perm, mut code) = ((0..r).collect::<Vec<_>>(), vec![], perm_seed);
        for k in (1..=r).rev() {
            perm.push(axes.remove(code % k));
            code /= k;
        }
        let mut v = t.permute(&perm);
        let pshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        // narrow the new first axis
        let s = start.min(pshape[0] - 1);
        v = v.narrow(0, s, pshape[0] - s);
        let mut vshape = pshape.clone();
        vshape[0] -= s;
        // none, a leading or a trailing broadcast axis of 3 (stride 0)
        let lead = usize::from(bcast == 1);
        if bcast > 0 {
            let at = if bcast == 1 { 0 } else { r };
            let mut b = vshape.clone();
            b.insert(at, 3);
            v = v.unsqueeze(at).broadcast_to(&b).unwrap();
        }
        let got = v.to_vec();
        prop_assert_eq!(got.len(), v.numel());
        let vs = v.shape().to_vec();
        for (i, g) in got.iter().enumerate() {
            let idx = unravel(i, &vs);
            let mut orig = vec![0; r];
            for (k, &p) in perm.iter().enumerate() {
                orig[p] = idx[lead + k] + if k == 0 { s } else { 0 };
            }
            prop_assert_eq!(*g, ravel(&orig, &shape) as f64, "at {:?} of {:?} (perm {:?})", idx, vs, perm);
        }
    }
}

/// scatter_add reads its values in place when they are dense, and through
/// a copy otherwise: a transposed view, a narrowed one (an offset) and a
/// deferred elementwise result scatter the same values as their dense
/// copies, on the large-rows path and on the general one.
#[test]
fn scatter_add_of_views_and_deferred_values_matches_dense_copies() {
    for (rows, per, width) in [(300, 200, 400), (3, 4, 6)] {
        let idx: Vec<usize> = (0..rows * per)
            .map(|i| (i * 31 + i / per) % width)
            .collect();
        let base = Tensor::<f32>::linspace(-1.0, 1.0, rows * per * 2);
        // rows × per values three ways, each with a dense twin
        let wide = base.reshape(&[rows, 2 * per]).unwrap();
        let narrowed = wide.narrow(1, per, per);
        let transposed = base
            .narrow(0, 0, rows * per)
            .reshape(&[per, rows])
            .unwrap()
            .t();
        let deferred = (&base.narrow(0, 0, rows * per).reshape(&[rows, per]).unwrap() * 3.0) + 1.0;
        for v in [narrowed, transposed, deferred] {
            let dense = Tensor::from_vec(v.to_vec(), v.shape()).unwrap();
            let got = v
                .scatter_add(1, &idx, &[rows, per], &[rows, width])
                .unwrap();
            let want = dense
                .scatter_add(1, &idx, &[rows, per], &[rows, width])
                .unwrap();
            assert_eq!(got.to_vec(), want.to_vec(), "{rows}×{per}");
        }
    }
}

/// A per-channel operand (`[1, C, 1, 1]` or `[C, 1, 1]`, a conv bias)
/// against `[N, C, H, W]`, on either side of a non-commutative op, with
/// planes long enough for the vectorised runs (81) and short (4): each
/// element meets its own channel's value.
#[test]
fn per_channel_operands_meet_their_channel() {
    for (n, c, h, w) in [(3, 5, 9, 9), (2, 3, 2, 2), (0, 4, 9, 9)] {
        let x = Tensor::<f64>::from_vec(
            (0..n * c * h * w)
                .map(|i| (i % 17) as f64 * 0.5 - 3.0)
                .collect(),
            &[n, c, h, w],
        )
        .unwrap();
        for bshape in [vec![1, c, 1, 1], vec![c, 1, 1]] {
            let b =
                Tensor::<f64>::from_vec((0..c).map(|k| 10.0 * k as f64 + 1.0).collect(), &bshape)
                    .unwrap();
            let (xb, bx) = (&x - &b, &b - &x);
            let xv = x.to_vec();
            for (i, (&got1, &got2)) in xb.to_vec().iter().zip(&bx.to_vec()).enumerate() {
                let k = (i / (h * w)) % c;
                let want = xv[i] - (10.0 * k as f64 + 1.0);
                assert_eq!((got1, got2), (want, -want), "{bshape:?} at {i}");
            }
            assert_eq!(xb.shape(), &[n, c, h, w]);
        }
    }
}

/// `sum_squared_diff` is `(a − b).square().sum_all()` to the bit, for
/// short runs (one pass, no buffer), runs past a lane and a chunk, strided
/// views (the three-op path) and empty tensors; and the plain loop within
/// rounding.
#[test]
fn sum_squared_diff_is_the_three_op_sum_to_the_bit() {
    use mnemon_tensor::kernels::reduce::SUM_CHUNK;
    for n in [
        0,
        1,
        4,
        31,
        32,
        33,
        100,
        SUM_CHUNK,
        SUM_CHUNK + 1,
        3 * SUM_CHUNK + 7,
    ] {
        let a: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let b: Vec<f32> = (0..n)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) / 3.0)
            .collect();
        let (ta, tb) = (
            Tensor::from_vec(a.clone(), &[n]).unwrap(),
            Tensor::from_vec(b.clone(), &[n]).unwrap(),
        );
        let three = (&ta - &tb).square().sum_all().item();
        let one = ta.sum_squared_diff(&tb);
        assert_eq!(one.shape(), &[] as &[usize]);
        assert_eq!(one.item().to_bits(), three.to_bits(), "n = {n}");
        let plain: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| ((x - y) as f64).powi(2))
            .sum();
        assert!(
            (one.item() as f64 - plain).abs() <= 1e-5 * plain.max(1.0),
            "n = {n}"
        );
    }
    // strided: a transposed view against a dense tensor of its shape
    let a = tensor(&[7, 5], 3).t();
    let b = tensor(&[5, 7], 4);
    let three = (&a - &b).square().sum_all().item();
    assert_eq!(a.sum_squared_diff(&b).item().to_bits(), three.to_bits());
    let (va, vb) = (a.to_vec(), b.to_vec());
    let plain: f64 = va.iter().zip(&vb).map(|(x, y)| (x - y) * (x - y)).sum();
    assert!((a.sum_squared_diff(&b).item() - plain).abs() < 1e-9);
    // NaN and ∞ propagate
    let x = Tensor::<f64>::from_vec(vec![1.0, f64::NAN], &[2]).unwrap();
    assert!(x.sum_squared_diff(&Tensor::zeros(&[2])).item().is_nan());
    let y = Tensor::<f64>::from_vec(vec![f64::INFINITY, 0.0], &[2]).unwrap();
    assert_eq!(
        y.sum_squared_diff(&Tensor::zeros(&[2])).item(),
        f64::INFINITY
    );
}

#[test]
#[should_panic(expected = "sum_squared_diff: shapes [2, 3] and [3, 2] differ, called at")]
fn sum_squared_diff_names_both_shapes() {
    let _ = Tensor::<f32>::zeros(&[2, 3]).sum_squared_diff(&Tensor::zeros(&[3, 2]));
}
