//! Shapes and views at the edge of what can exist (issue 9, items 1–4):
//! every extent is checked without wrapping, data from outside gets a
//! typed error, model code a panic naming the op — never a wrong value.

use mnemon_tensor::{checked_numel, Tensor, TensorError};

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("should panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn item1_element_counts_that_wrap_are_rejected() {
    // 262145 · 70368475743232 wraps to 1024 in unchecked arithmetic
    let err = Tensor::<f32>::from_vec(vec![1.0; 1024], &[262145, 70368475743232]).unwrap_err();
    assert_eq!(
        err,
        TensorError::ShapeTooLarge {
            op: "from_vec",
            shape: vec![262145, 70368475743232]
        }
    );
    // a broadcast view may be huge (stride 0), but not past isize
    let one = Tensor::<f32>::ones(&[1, 1]);
    let tall = one.broadcast_to(&[70368475743232, 1]).unwrap();
    assert_eq!(tall.numel(), 70368475743232);
    assert!(matches!(
        one.broadcast_to(&[1 << 40, 1 << 40]),
        Err(TensorError::ShapeTooLarge {
            op: "broadcast_to",
            ..
        })
    ));
    // a product whose output could not exist panics naming matmul
    let wide = one.broadcast_to(&[1, 1 << 40]).unwrap();
    let tall = one.broadcast_to(&[1 << 40, 1]).unwrap();
    let msg = panic_message(move || {
        tall.matmul(&wide);
    });
    assert!(
        msg.starts_with("matmul: a tensor of shape [1099511627776, 1099511627776] would hold more elements than fit in isize"),
        "{msg}"
    );
    // binary ops: two broadcastable shapes whose broadcast cannot exist
    let a = one.broadcast_to(&[1 << 40, 1]).unwrap();
    let b = one.broadcast_to(&[1, 1 << 40]).unwrap();
    let msg = panic_message(move || {
        let _ = &a + &b;
    });
    assert!(msg.starts_with("add: a tensor of shape"), "{msg}");
}

#[test]
fn item2_shapes_whose_count_wraps_to_zero_are_rejected() {
    let msg = panic_message(|| {
        Tensor::<f32>::zeros(&[1 << 32, 1 << 32]);
    });
    assert!(
        msg.starts_with("zeros: a tensor of shape [4294967296, 4294967296] would hold more elements than fit in isize, called at crates/tensor/tests/suite/hardening.rs"),
        "{msg}"
    );
    assert!(matches!(
        Tensor::<f32>::from_vec(vec![], &[1 << 32, 1 << 32]),
        Err(TensorError::ShapeTooLarge { .. })
    ));
    assert!(matches!(
        Tensor::<f32>::try_full(&[1 << 32, 1 << 32], 0.0),
        Err(TensorError::ShapeTooLarge { .. })
    ));
    // empty, but its rows are not: [0, 2^40, 2^40] cannot exist either
    assert_eq!(checked_numel(&[0, 1 << 40, 1 << 40]), None);
    assert!(Tensor::<f32>::from_vec(vec![], &[0, 1 << 40, 1 << 40]).is_err());
    let t = Tensor::<f32>::ones(&[2, 2]);
    assert!(matches!(
        t.gather(0, &[], &[1 << 32, 1 << 32]),
        Err(TensorError::ShapeTooLarge { op: "gather", .. })
    ));
    assert!(matches!(
        t.scatter_add(0, &[0, 0, 0, 0], &[2, 2], &[1 << 32, 1 << 32]),
        Err(TensorError::ShapeTooLarge { .. })
    ));
    assert!(matches!(
        t.index_add(0, &[0, 1], &[1 << 62, 2]),
        Err(TensorError::ShapeTooLarge {
            op: "index_add",
            ..
        })
    ));
    assert!(matches!(
        t.reshape(&[1 << 32, 1 << 32]),
        Err(TensorError::ShapeTooLarge { op: "reshape", .. })
    ));
    assert!(matches!(
        Tensor::<f32>::one_hot(&[0], 1 << 62),
        Err(TensorError::ShapeTooLarge { op: "one_hot", .. })
    ));
}

#[test]
fn item3_narrow_ranges_are_checked_without_wrapping() {
    let t = Tensor::<f32>::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[2, 2]).unwrap();
    let msg = panic_message(move || {
        t.narrow(1, usize::MAX, 2);
    });
    assert!(
        msg.starts_with("narrow: range 18446744073709551615..18446744073709551615+2 is out of bounds for axis 1 of shape [2, 2]"),
        "{msg}"
    );
    // the largest valid narrow still reads the right data
    let t = Tensor::<f32>::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[2, 2]).unwrap();
    assert_eq!(t.narrow(1, 1, 1).narrow(0, 1, 1).to_vec(), vec![3.0]);
    assert_eq!(t.narrow(1, 2, 0).shape(), &[2, 0]);
}

#[test]
fn item4_arange_never_silently_shortens() {
    let msg = panic_message(|| {
        Tensor::<f64>::arange(0.0, 1e30, 1e-30);
    });
    assert!(
        msg.starts_with("arange: 0..1000000000000000000000000000000 by 0.000000000000000000000000000001 holds 1e60 elements"),
        "{msg}"
    );
    assert!(panic_message(|| {
        Tensor::<f64>::arange(0.0, f64::INFINITY, 1.0);
    })
    .starts_with("arange: start, end and step must be finite"));
    // an empty range is empty, not an error (NumPy)
    assert_eq!(Tensor::<f64>::arange(1.0, 0.0, 1.0).numel(), 0);
    assert_eq!(
        Tensor::<f64>::arange(1.0, 0.0, -0.5).to_vec(),
        vec![1.0, 0.5]
    );
}

#[test]
fn empty_axes_reduce_as_pytorch_does() {
    let t = Tensor::<f32>::zeros(&[0, 3]);
    assert_eq!(t.sum(0, false).to_vec(), vec![0.0; 3]);
    assert_eq!(t.softmax(0).shape(), &[0, 3]);
    assert_eq!(t.max(1, false).shape(), &[0]);
    let msg = panic_message(move || {
        t.max(0, false);
    });
    assert!(
        msg.starts_with("max: axis 0 of shape [0, 3] is empty"),
        "{msg}"
    );
}

/// An optimizer's in-place update never writes into a buffer another
/// tensor still reads, and reads a strided input in logical order.
#[test]
fn update3_in_place_leaves_shared_buffers_alone() {
    let mut p = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let kept = p.clone();
    let (mut m, mut v) = (Tensor::zeros(&[2, 2]), Tensor::ones(&[2, 2]));
    let v_view = v.clone();
    let g = Tensor::from_vec(vec![10.0, 20.0, 30.0, 40.0], &[2, 2])
        .unwrap()
        .t();
    p.update3_in_place(&mut m, &mut v, &g, |p, m, v, g| (p + g, m - g, v * g));
    assert_eq!(p.to_vec(), vec![11.0, 32.0, 23.0, 44.0]);
    assert_eq!(m.to_vec(), vec![-10.0, -30.0, -20.0, -40.0]);
    assert_eq!(v.to_vec(), vec![10.0, 30.0, 20.0, 40.0]);
    assert_eq!(kept.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(v_view.to_vec(), vec![1.0; 4]);
}

#[test]
#[should_panic(expected = "update3_in_place: shapes [2], [2], [3] and [2] differ")]
fn update3_in_place_names_misfit_shapes() {
    let (mut a, mut b, mut c) = (
        Tensor::<f32>::zeros(&[2]),
        Tensor::zeros(&[2]),
        Tensor::zeros(&[3]),
    );
    a.update3_in_place(&mut b, &mut c, &Tensor::zeros(&[2]), |a, b, c, _| (a, b, c));
}

/// SGD's in-place update: a buffer another tensor reads is left alone (the
/// update gets a fresh one), a strided param or gradient is read in logical
/// order, an empty tensor is fine, and a large update split across threads
/// gives `zip_with`'s bits.
#[test]
fn update_in_place_leaves_shared_buffers_alone() {
    let mut p = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let kept = p.clone();
    let g = Tensor::from_vec(vec![10.0, 20.0, 30.0, 40.0], &[2, 2])
        .unwrap()
        .t();
    p.update_in_place(&g, |p, g| p + g);
    assert_eq!(p.to_vec(), vec![11.0, 32.0, 23.0, 44.0]);
    assert_eq!(kept.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    // unique now: the next update writes p's own buffer
    let id = p.storage_id();
    p.update_in_place(&Tensor::ones(&[2, 2]), |p, g| p - g);
    assert_eq!(
        (p.storage_id(), p.to_vec()),
        (id, vec![10.0, 31.0, 22.0, 43.0])
    );
    // a strided (transposed) param: updated in logical order
    let mut q = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])
        .unwrap()
        .t();
    q.update_in_place(
        &Tensor::from_vec(vec![0.5, 0.5, 0.0, 0.0], &[2, 2]).unwrap(),
        |p, g| p * g,
    );
    assert_eq!(q.to_vec(), vec![0.5, 1.5, 0.0, 0.0]);
    let mut e = Tensor::<f32>::zeros(&[0, 3]);
    e.update_in_place(&Tensor::zeros(&[0, 3]), |p, g| p + g);
    assert_eq!(e.shape(), &[0, 3]);
    // large: split across two threads, the bits of `zip_with`
    let n = 3 * (1 << 16) + 5;
    let w = Tensor::<f32>::linspace(-3.0, 7.0, n);
    let gr = Tensor::<f32>::linspace(0.25, -1.5, n);
    let want = w.zip_with(&gr, "sgd", |w, g| w - 0.1 * g).to_vec();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut w2 = w.clone();
    pool.install(|| w2.update_in_place(&gr, |w, g| w - 0.1 * g));
    assert_eq!(w2.to_vec(), want);
    assert_eq!(w.to_vec()[0], -3.0, "the clone's buffer is untouched");
}

#[test]
#[should_panic(expected = "update_in_place: shapes [2] and [3] differ, called at")]
fn update_in_place_names_misfit_shapes() {
    Tensor::<f32>::zeros(&[2]).update_in_place(&Tensor::zeros(&[3]), |a, _| a);
}

/// A product large enough for two threads gives the loops' values, and
/// the same values as on one thread: `a·wᵀ` split by rows (each thread
/// its own rows of the left operand, read through a strided view), and
/// `linear`, whose weight is transposed first for gemm's own threads.
#[test]
fn products_split_across_threads_match_loops() {
    let (m, k, n) = (203, 157, 131);
    let vals = |len: usize, s: usize| -> Vec<f64> {
        (0..len)
            .map(|i| (((i * 31 + s) % 23) as f64 - 11.0) / 7.0)
            .collect()
    };
    // a stored transposed: the product reads it through strides
    let a = Tensor::from_vec(vals(m * k, 1), &[k, m]).unwrap().t();
    let w = Tensor::from_vec(vals(n * k, 2), &[n, k]).unwrap();
    let bias = Tensor::from_vec(vals(n, 3), &[n]).unwrap();
    let (av, wv, bv) = (a.to_vec(), w.to_vec(), bias.to_vec());
    let want: Vec<f64> = (0..m * n)
        .map(|e| {
            let (i, j) = (e / n, e % n);
            bv[j] + (0..k).map(|p| av[i * k + p] * wv[j * k + p]).sum::<f64>()
        })
        .collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| (a.matmul(&w.t()).to_vec(), a.linear(&w, &bias).to_vec()))
    };
    let (one, two) = (run(1), run(2));
    for (got, plus_bias) in [(&two.0, false), (&two.1, true)] {
        for (e, (g, w)) in got.iter().zip(&want).enumerate() {
            let w = if plus_bias { *w } else { w - bv[e % n] };
            assert!((g - w).abs() < 1e-12 * (1.0 + w.abs()), "[{e}] {g} vs {w}");
        }
    }
    assert_eq!(one, two);
}

/// An index out of range is reported as the first offending one, with its
/// axis and the axis's size, whatever the other indices.
#[test]
fn the_first_index_out_of_range_is_named() {
    let t = Tensor::<f32>::zeros(&[2, 3]);
    match t.index_select(1, &[0, 5, 1, 7, 2]) {
        Err(TensorError::IndexOutOfRange {
            index, axis, size, ..
        }) => {
            assert_eq!((index, axis, size), (5, 1, 3))
        }
        other => panic!("expected IndexOutOfRange, got {other:?}"),
    }
    assert!(t.index_select(1, &[2, 0, 1]).is_ok());
    assert!(t.index_select(1, &[]).is_ok());
}

/// A large tensor against one broadcast row (rows shorter and longer than
/// a parallel piece): every element against its column's value.
#[test]
fn large_row_broadcasts_match_loops() {
    for (rows, m) in [(700usize, 128usize), (4, 20_000), (3, 1 << 15)] {
        let a: Vec<f32> = (0..rows * m).map(|i| (i % 97) as f32 - 40.0).collect();
        let b: Vec<f32> = (0..m).map(|j| (j % 13) as f32 * 0.5 - 2.0).collect();
        let at = Tensor::from_vec(a.clone(), &[rows, m]).unwrap();
        let bt = Tensor::from_vec(b.clone(), &[m]).unwrap();
        let prod = (&at * &bt).to_vec();
        let sum = (&at + &bt).to_vec();
        for (e, x) in a.iter().enumerate() {
            assert_eq!(prod[e], x * b[e % m], "product [{e}] of {rows}×{m}");
            assert_eq!(sum[e], x + b[e % m], "sum [{e}] of {rows}×{m}");
        }
    }
}

#[test]
fn empty_narrowed_views_read_as_empty() {
    // a step of an empty batch's sequence: `[0, T, F]` narrowed at t > 0
    // (its offset t·F would lie past the empty storage)
    let seq = Tensor::<f64>::zeros(&[0, 3, 2]);
    let step = seq.narrow(1, 2, 1);
    assert_eq!(step.shape(), &[0, 1, 2]);
    assert_eq!(
        step.squeeze(1).reshape(&[0]).unwrap().as_slice(),
        Some(&[][..])
    );
    assert!(step.to_vec().is_empty());
    assert_eq!((&step * 2.0).shape(), &[0, 1, 2]);
    assert_eq!(step.contiguous().shape(), &[0, 1, 2]);
    // an empty range at the end of a view that does not start at 0
    let x = Tensor::<f64>::arange(0.0, 12.0, 1.0);
    let x = x.reshape(&[3, 4]).unwrap().narrow(1, 2, 2);
    let none = x.narrow(0, 3, 0);
    assert_eq!(none.shape(), &[0, 2]);
    assert_eq!(none.reshape(&[0]).unwrap().as_slice(), Some(&[][..]));
    assert!((&none + &none).to_vec().is_empty());
    // non-empty views keep their offsets
    assert_eq!(x.narrow(0, 2, 1).to_vec(), vec![10.0, 11.0]);
}

#[test]
fn sum_to_checks_that_the_shape_broadcasts_and_sums_exactly() {
    let t = Tensor::<f64>::from_vec((1..=8).map(f64::from).collect(), &[2, 4]).unwrap();
    for bad in [
        &[3][..],
        &[2][..],
        &[2, 2, 4][..],
        &[1, 2, 4][..],
        &[4, 4][..],
    ] {
        let msg = panic_message(|| {
            t.sum_to(bad);
        });
        assert!(
            msg.contains(&format!(
                "sum_to: shape {bad:?} does not broadcast to [2, 4]"
            )),
            "{msg}"
        );
    }
    assert_eq!(t.sum_to(&[4]).to_vec(), vec![6.0, 8.0, 10.0, 12.0]);
    assert_eq!(t.sum_to(&[2, 1]).to_vec(), vec![10.0, 26.0]);
    for ones in [&[][..], &[1][..], &[1, 1][..]] {
        let s = t.sum_to(ones);
        assert_eq!(s.shape(), ones);
        assert_eq!(s.to_vec(), t.sum_all().to_vec());
    }
    // a strided view sums its own elements
    let tt = t.t();
    assert_eq!(tt.sum_to(&[1, 1]).to_vec(), vec![36.0]);
    assert_eq!(tt.sum_to(&[2]).to_vec(), vec![10.0, 26.0]);
}

/// Tiny products (the schoolbook path) sum each element's terms in the
/// order p = 0, 1, …, whatever the operands' layouts and the loop chosen
/// (dot products when n <= k, scaled rows of B otherwise): bit for bit the
/// plain loop, in f32 where a different order would show.
#[test]
fn tiny_products_sum_in_order_whatever_the_layout() {
    let vals = |len: usize, seed: u32| -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i * 7919 + seed * 104729) % 1000) as f32 / 37.0 - 13.0)
            .collect()
    };
    for (m, k, n) in [
        (4, 2, 8),
        (4, 8, 1),
        (8, 4, 2),
        (1, 4, 8),
        (4, 1, 8),
        (3, 5, 3),
        (5, 7, 6),
    ] {
        let (va, vb) = (vals(m * k, 1), vals(k * n, 2));
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f32;
                for p in 0..k {
                    acc += va[i * k + p] * vb[p * n + j];
                }
                want[i * n + j] = acc;
            }
        }
        let a = Tensor::from_vec(va.clone(), &[m, k]).unwrap();
        let b = Tensor::from_vec(vb.clone(), &[k, n]).unwrap();
        // the same matrices stored transposed, read through a transposed view
        let at = a.t().contiguous().t();
        let bt = b.t().contiguous().t();
        for (x, y) in [(&a, &b), (&at, &b), (&a, &bt), (&at, &bt)] {
            let got = x.matmul(y).to_vec();
            let same = got
                .iter()
                .zip(&want)
                .all(|(g, w)| g.to_bits() == w.to_bits());
            assert!(same, "[{m},{k}]·[{k},{n}]: {got:?} vs {want:?}");
        }
    }
}
