//! Copies of transposed views (`contiguous()` of `.t()`, permutes that
//! swap the last two axes) element by element against index loops, in f32
//! (the kernel's in-register 8×8 tiles) and f64 (tiles by loops), over
//! sizes around the tile edges, narrowed sources (row strides longer than
//! a row) and stacks of planes.

use mnemon_tensor::{Element, Tensor};
use proptest::prelude::*;

/// A `[planes, rows, cols + pad]` tensor of distinct values, narrowed to
/// `cols` columns and viewed with its last two axes swapped: a plane of
/// the view is `[cols, rows]` with strides `[1, cols + pad]`.
fn transposed_view<T: Element>(planes: usize, rows: usize, cols: usize, pad: usize) -> Tensor<T> {
    let n = planes * rows * (cols + pad);
    let data = (0..n).map(|i| T::of_usize(i)).collect();
    Tensor::from_vec(data, &[planes, rows, cols + pad])
        .unwrap()
        .narrow(2, 0, cols)
        .transpose(1, 2)
}

fn check<T: Element>(
    planes: usize,
    rows: usize,
    cols: usize,
    pad: usize,
) -> Result<(), TestCaseError> {
    let view = transposed_view::<T>(planes, rows, cols, pad);
    let got = view.contiguous();
    prop_assert_eq!(got.shape(), &[planes, cols, rows][..]);
    let got = got.to_vec();
    for p in 0..planes {
        for i in 0..cols {
            for j in 0..rows {
                let want = T::of_usize((p * rows + j) * (cols + pad) + i);
                prop_assert_eq!(
                    got[(p * cols + i) * rows + j],
                    want,
                    "plane {} [{}, {}]",
                    p,
                    i,
                    j
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn transposed_copies_match_loops(
        planes in 1usize..4,
        rows in 0usize..40,
        cols in 0usize..40,
        pad in prop_oneof![Just(0usize), 1usize..9],
    ) {
        check::<f32>(planes, rows, cols, pad)?;
        check::<f64>(planes, rows, cols, pad)?;
    }
}

/// W3's first weight, `[256, 784]`, transposed: whole tiles only in one
/// direction (784 = 98 · 8), and the 2-D `.t()` path.
#[test]
fn a_weight_sized_transpose() {
    check::<f32>(1, 256, 784, 0).unwrap();
    check::<f32>(1, 784, 250, 3).unwrap();
    let w =
        Tensor::<f32>::from_vec((0..120 * 400).map(|i| i as f32).collect(), &[120, 400]).unwrap();
    let t = w.t().contiguous().to_vec();
    for i in 0..400 {
        for j in 0..120 {
            assert_eq!(t[i * 120 + j], (j * 400 + i) as f32);
        }
    }
}

/// An f32 `linear` whose weight is transposed first: 64+ rows with 256+
/// inputs, or (at more than one thread) a product large enough for gemm's
/// threads. The product against f64 loops, edges of the 8×8 tiles
/// included.
#[test]
fn f32_linear_with_the_weight_transposed_first() {
    linear_against_loops(70, 300, 21);
    linear_against_loops(130, 200, 41);
}

fn linear_against_loops(rows: usize, n_in: usize, n_out: usize) {
    let val = |i: usize, s: usize| ((i * 31 + s * 17) % 23) as f64 / 11.0 - 1.0;
    let xv: Vec<f64> = (0..rows * n_in).map(|i| val(i, 1)).collect();
    let wv: Vec<f64> = (0..n_out * n_in).map(|i| val(i, 2)).collect();
    let bv: Vec<f64> = (0..n_out).map(|i| val(i, 3)).collect();
    let f = |v: &[f64], s: &[usize]| {
        Tensor::<f32>::from_vec(v.iter().map(|&x| x as f32).collect(), s).unwrap()
    };
    let y = f(&xv, &[rows, n_in])
        .linear(&f(&wv, &[n_out, n_in]), &f(&bv, &[n_out]))
        .to_vec();
    for r in 0..rows {
        for o in 0..n_out {
            let want = bv[o]
                + (0..n_in)
                    .map(|i| xv[r * n_in + i] * wv[o * n_in + i])
                    .sum::<f64>();
            let got = y[r * n_out + o] as f64;
            assert!(
                (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                "[{r}, {o}]: {got} vs {want}"
            );
        }
    }
}
