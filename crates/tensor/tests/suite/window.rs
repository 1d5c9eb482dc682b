//! `unfold2d` against a plain-loop reference, and `fold2d` as its exact
//! adjoint (⟨unfold x, y⟩ = ⟨x, fold y⟩), over random geometries.

use mnemon_tensor::{Tensor, Window2d};
use proptest::prelude::*;

fn geometry() -> impl Strategy<Value = ([usize; 4], Window2d)> {
    (
        // widths past 16 and 32: unfold copies rows of up to 16 (32)
        // elements as whole chunks and writes the padding after them
        (
            1usize..3,
            1usize..4,
            1usize..8,
            prop_oneof![1usize..8, 14usize..40],
        ),
        (
            // strides past the kernel: a tap's first window can then lie
            // past the input's edge (max pooling read there, out of
            // bounds, until December 2026)
            [1usize..4, 1usize..4],
            [1usize..5, 1usize..5],
            [0usize..3, 0usize..3],
            [1usize..3, 1usize..3],
        ),
    )
        .prop_map(|((n, c, h, w), (k, s, p, d))| {
            (
                [n, c, h, w],
                Window2d {
                    kernel: k,
                    stride: s,
                    padding: p,
                    dilation: d,
                },
            )
        })
        .prop_filter("window fits", |(x, win)| {
            win.output_size([x[2], x[3]]).is_some()
        })
}

fn values(n: usize, seed: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7 + seed * 13) % 23) as f64 - 11.0)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
    ))]

    #[test]
    fn unfold_matches_loops_and_fold_is_its_adjoint((shape, win) in geometry(), pad in prop_oneof![Just(0.0), Just(-1e9)]) {
        let [n, c, h, w] = shape;
        let x = Tensor::from_vec(values(n * c * h * w, 1), &shape).unwrap();
        let cols = x.unfold2d(win, pad);
        let [oh, ow] = win.output_size([h, w]).unwrap();
        let (kh, kw) = (win.kernel[0], win.kernel[1]);
        prop_assert_eq!(cols.shape(), &[n, c * kh * kw, oh * ow]);
        let got = cols.to_vec();
        let xv = x.to_vec();
        let mut want = Vec::new();
        for b in 0..n {
            for ci in 0..c {
                for i in 0..kh {
                    for j in 0..kw {
                        for oi in 0..oh {
                            for oj in 0..ow {
                                let ii = (oi * win.stride[0] + i * win.dilation[0]) as isize - win.padding[0] as isize;
                                let jj = (oj * win.stride[1] + j * win.dilation[1]) as isize - win.padding[1] as isize;
                                let inside = ii >= 0 && jj >= 0 && (ii as usize) < h && (jj as usize) < w;
                                want.push(if inside { xv[((b * c + ci) * h + ii as usize) * w + jj as usize] } else { pad });
                            }
                        }
                    }
                }
            }
        }
        prop_assert_eq!(&got, &want);
        // adjoint: <unfold(x), y> = <x, fold(y)> (with zero padding)
        let cols0 = x.unfold2d(win, 0.0).to_vec();
        let y = Tensor::from_vec(values(cols0.len(), 2), cols.shape()).unwrap();
        let back = y.fold2d(win, [h, w]);
        prop_assert_eq!(back.shape(), &shape);
        let lhs: f64 = cols0.iter().zip(y.to_vec()).map(|(a, b)| a * b).sum();
        let rhs: f64 = xv.iter().zip(back.to_vec()).map(|(a, b)| a * b).sum();
        prop_assert_eq!(lhs, rhs);
        // the batch-inside layout: the same columns with the two first
        // axes swapped, and its fold the same sums
        let by_tap = x.unfold2d_by_tap(win, pad);
        prop_assert_eq!(by_tap.shape(), &[c * kh * kw, n, oh * ow]);
        prop_assert_eq!(&by_tap, &cols.permute(&[1, 0, 2]).contiguous());
        let y_by_tap = y.permute(&[1, 0, 2]).contiguous();
        prop_assert_eq!(y_by_tap.fold2d_by_tap(win, [h, w]), back);
    }
}

/// Both layouts on a batch large enough to split across threads (each
/// thread takes whole images in fold, whole taps in unfold), against the
/// one-image-at-a-time results.
#[test]
fn large_batches_fold_and_unfold_by_tap_as_image_by_image() {
    let (n, c, h, w) = (9, 3, 31, 29);
    let x = Tensor::from_vec(values(n * c * h * w, 3), &[n, c, h, w]).unwrap();
    let win = Window2d::new([3, 2]).padding([1, 0]).stride([1, 2]);
    let cols = x.unfold2d(win, 0.0);
    assert!(cols.numel() >= 1 << 16, "large enough to run in parallel");
    let by_tap = x.unfold2d_by_tap(win, 0.0);
    assert_eq!(by_tap, cols.permute(&[1, 0, 2]).contiguous());
    for b in [0, 4, 8] {
        let one = x.narrow(0, b, 1).unfold2d(win, 0.0);
        assert_eq!(cols.narrow(0, b, 1), one);
        let back = by_tap.narrow(1, b, 1).fold2d_by_tap(win, [h, w]);
        assert_eq!(back, one.fold2d(win, [h, w]));
    }
    assert_eq!(by_tap.fold2d_by_tap(win, [h, w]), cols.fold2d(win, [h, w]));
}

/// Fold adds short rows as whole 16- or 32-wide chunks whose lanes past
/// the row add nothing: a NaN or an infinity in one column reaches only
/// the pixel its tap read, in f32 and f64, in both layouts, for rows of
/// 10 (LeNet's second convolution) and 28 (its first) elements.
#[test]
fn fold_keeps_a_nan_or_an_infinity_to_its_own_pixel() {
    fn check<T: mnemon_tensor::Element>(bad: T) {
        for (h, w, k, p) in [(14, 14, 5, 0), (28, 28, 5, 2)] {
            let win = Window2d::new([k, k]).padding([p, p]);
            let [oh, ow] = win.output_size([h, w]).unwrap();
            let (n, c, l) = (3, 2, oh * ow);
            // the column at image 1, channel 1, tap (1, 2), position (oh - 2, 3)
            let (b, ci, (i, j), (oi, oj)) = (1, 1, (1, 2), (oh - 2, 3));
            let tap = (ci * k + i) * k + j;
            let mut cols = vec![T::one(); n * c * k * k * l];
            cols[(b * c * k * k + tap) * l + oi * ow + oj] = bad;
            let cols = Tensor::from_vec(cols, &[n, c * k * k, l]).unwrap();
            let (y, x) = (oi + i - p, oj + j - p);
            for back in [
                cols.fold2d(win, [h, w]),
                cols.permute(&[1, 0, 2])
                    .contiguous()
                    .fold2d_by_tap(win, [h, w]),
            ] {
                let ones = Tensor::<T>::ones(&[n, c * k * k, l])
                    .fold2d(win, [h, w])
                    .to_vec();
                for (at, (&got, &count)) in back.to_vec().iter().zip(&ones).enumerate() {
                    if at == ((b * c + ci) * h + y) * w + x {
                        assert!(
                            got.is_nan() == bad.is_nan() && got.is_infinite() == bad.is_infinite()
                        );
                    } else {
                        assert_eq!(got, count, "pixel {at} of {h}x{w}");
                    }
                }
            }
        }
    }
    check(f32::NAN);
    check(f32::INFINITY);
    check(f64::NAN);
    check(f64::NEG_INFINITY);
}

#[test]
fn misfit_columns_panic_naming_the_layout() {
    let win = Window2d::new([2, 2]);
    let cols = Tensor::<f32>::zeros(&[3, 2, 4]);
    let err = std::panic::catch_unwind(|| cols.fold2d_by_tap(win, [3, 3])).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("fold2d_by_tap: columns of shape [3, 2, 4]"),
        "{msg}"
    );
    assert!(msg.contains("[C·taps, N, L]"), "{msg}");
}

#[test]
fn misfit_windows_panic_naming_the_op() {
    let x = Tensor::<f32>::zeros(&[1, 1, 2, 2]);
    let err = std::panic::catch_unwind(|| x.unfold2d(Window2d::new([3, 3]), 0.0)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.starts_with("unfold2d: window"), "{msg}");
}

/// Max pooling by plain loops: each window's taps in order, a strict `>`
/// (the first maximum wins), the first NaN wins and stays; a window whose
/// taps are all -∞ answers its first tap inside the input; a window of
/// padding alone, −∞ at index `h·w`.
fn pool_loops(x: &[f64], [n, c, h, w]: [usize; 4], win: Window2d) -> (Vec<f64>, Vec<usize>) {
    let [oh, ow] = win.output_size([h, w]).unwrap();
    let (mut vals, mut at) = (vec![], vec![]);
    for p in 0..n * c {
        for oi in 0..oh {
            for oj in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for ki in 0..win.kernel[0] {
                    for kj in 0..win.kernel[1] {
                        let i = (oi * win.stride[0] + ki * win.dilation[0]) as isize
                            - win.padding[0] as isize;
                        let j = (oj * win.stride[1] + kj * win.dilation[1]) as isize
                            - win.padding[1] as isize;
                        if i < 0 || j < 0 || i >= h as isize || j >= w as isize {
                            continue;
                        }
                        let k = i as usize * w + j as usize;
                        let v = x[p * h * w + k];
                        best = match best {
                            None => Some((v, k)),
                            Some((b, _)) if !b.is_nan() && (v > b || v.is_nan()) => Some((v, k)),
                            keep => keep,
                        };
                    }
                }
                let (v, k) = best.unwrap_or((f64::NEG_INFINITY, h * w));
                vals.push(v);
                at.push(k);
            }
        }
    }
    (vals, at)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    /// Both kernels (the 2×2 stride-2 one and the general one) against
    /// the loops, on values with ties, NaNs and -∞.
    #[test]
    fn max_pool_matches_loops((shape, win) in geometry(), special in 0usize..4, two_by_two in any::<bool>()) {
        let win = if two_by_two { Window2d::new([2, 2]).stride([2, 2]) } else { win };
        let [n, c, h, w] = shape;
        // PyTorch's limit: padding at most half the kernel (a dilated
        // window can still hold padding alone)
        let half = (0..2).all(|a| 2 * win.padding[a] <= win.kernel[a]);
        prop_assume!(half && win.output_size([h, w]).is_some());
        let mut v: Vec<f64> = values(n * c * h * w, 3).iter().map(|x| (x / 4.0).round()).collect();
        for (i, x) in v.iter_mut().enumerate() {
            match special {
                1 if i % 5 == 2 => *x = f64::NAN,
                2 => *x = f64::NEG_INFINITY,
                3 if i % 3 == 0 => *x = f64::NEG_INFINITY,
                _ => {}
            }
        }
        let x = Tensor::from_vec(v.clone(), &shape).unwrap();
        let (want, want_at) = pool_loops(&v, shape, win);
        let (y, at) = x.max_pool2d_with_indices(win);
        let got = y.to_vec();
        prop_assert_eq!(&at, &want_at);
        for (g, e) in got.iter().zip(&want) {
            prop_assert!(g == e || (g.is_nan() && e.is_nan()), "{} vs {}", g, e);
        }
    }
}

/// The 2×2 stride-2 pool in f32 (16 lanes), over rows of windows shorter
/// than a vector, batches of several rows, odd sizes (a last row and
/// column left out) and rows past a batch (66 windows, the one-window-
/// at-a-time path): values and first-maximum indices as the loops', ties,
/// NaN and −∞ included.
#[test]
fn two_by_two_pool_in_f32_matches_loops() {
    let win = Window2d::new([2, 2]).stride([2, 2]);
    for shape in [[2, 3, 28, 28], [1, 2, 11, 9], [1, 2, 5, 132], [3, 1, 2, 2]] {
        let [n, c, h, w] = shape;
        let v: Vec<f64> = values(n * c * h * w, 5)
            .iter()
            .enumerate()
            .map(|(i, x)| match i % 11 {
                3 => f64::NAN,
                7 => f64::NEG_INFINITY,
                _ => (x / 4.0).round(),
            })
            .collect();
        let (want, want_at) = pool_loops(&v, shape, win);
        let x = Tensor::<f32>::from_vec(v.iter().map(|&x| x as f32).collect(), &shape).unwrap();
        let (y, at) = x.max_pool2d_with_indices(win);
        assert_eq!(at, want_at, "{shape:?}");
        for (g, e) in y.to_vec().iter().zip(&want) {
            assert!(
                *g as f64 == *e || (g.is_nan() && e.is_nan()),
                "{shape:?}: {g} vs {e}"
            );
        }
    }
}
