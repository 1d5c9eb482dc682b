//! `unfold2d` against a plain-loop reference, and `fold2d` as its exact
//! adjoint (⟨unfold x, y⟩ = ⟨x, fold y⟩), over random geometries.

use mnemon_tensor::{Tensor, Window2d};
use proptest::prelude::*;

fn geometry() -> impl Strategy<Value = ([usize; 4], Window2d)> {
    (
        (1usize..3, 1usize..4, 1usize..8, 1usize..8),
        (
            [1usize..4, 1usize..4],
            [1usize..3, 1usize..3],
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
    #![proptest_config(ProptestConfig::with_cases(128))]

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
    }
}

#[test]
fn misfit_windows_panic_naming_the_op() {
    let x = Tensor::<f32>::zeros(&[1, 1, 2, 2]);
    let err = std::panic::catch_unwind(|| x.unfold2d(Window2d::new([3, 3]), 0.0)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.starts_with("unfold2d: window"), "{msg}");
}
