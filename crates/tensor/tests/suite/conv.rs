//! The direct stride-1 convolution and its two gradients against plain
//! loops, over random shapes that cross the 16-column blocks and the
//! 8-channel blocks, and at the edges (NaN and ∞ in the input).

use mnemon_tensor::Tensor;
use proptest::prelude::*;

/// `y[b,o,oy,ox] = Σ_c,i,j w[o,c,i,j] · x[b,c,oy+i−p,ox+j−p]` (zero outside).
fn conv_loops(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    p: [usize; 2],
) -> (Vec<f64>, [usize; 2]) {
    let ([n, c, h, wd], [o, _, kh, kw]) = (xs, ws);
    let (oh, ow) = (h + 2 * p[0] + 1 - kh, wd + 2 * p[1] + 1 - kw);
    let mut y = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0.0;
                    for ci in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let (yy, xx) = (
                                    (oy + i) as isize - p[0] as isize,
                                    (ox + j) as isize - p[1] as isize,
                                );
                                if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < wd {
                                    s += w[((oc * c + ci) * kh + i) * kw + j]
                                        * x[((b * c + ci) * h + yy as usize) * wd + xx as usize];
                                }
                            }
                        }
                    }
                    y[((b * o + oc) * oh + oy) * ow + ox] = s;
                }
            }
        }
    }
    (y, [oh, ow])
}

fn values(len: usize, seed: u64) -> Vec<f64> {
    (0..len as u64)
        .map(|i| (((i * 37 + seed * 101) % 29) as f64 - 14.0) / 8.0)
        .collect()
}

fn close(got: &[f64], want: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "at {}: {} vs {}",
            k,
            g,
            w
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    ))]

    /// The forward, and both gradients through the adjoint identities
    /// ⟨conv(x, w), g⟩ = ⟨x, ∂x(g)⟩ = ⟨w, ∂w(x, g)⟩, with each gradient
    /// also against its own loops (∂w by the definition, ∂x as a sum of
    /// `g` times the weight over every output that read the pixel).
    #[test]
    fn conv2d_stride1_and_its_gradients_match_loops(
        n in 1usize..4, c in 1usize..4, o in 1usize..11,
        h in 1usize..9, w in prop_oneof![1usize..9, 14usize..40],
        kh in 1usize..4, kw in 1usize..6, ph in 0usize..3, pw in 0usize..3,
    ) {
        prop_assume!(h + 2 * ph >= kh && w + 2 * pw >= kw);
        let (xs, ws) = ([n, c, h, w], [o, c, kh, kw]);
        let xv = values(n * c * h * w, 1);
        let wv = values(o * c * kh * kw, 2);
        let x = Tensor::from_vec(xv.clone(), &xs).unwrap();
        let wt = Tensor::from_vec(wv.clone(), &ws).unwrap();
        let (want, [oh, ow]) = conv_loops(&xv, xs, &wv, ws, [ph, pw]);
        let y = x.conv2d_stride1(&wt, [ph, pw]);
        prop_assert_eq!(y.shape(), &[n, o, oh, ow]);
        close(&y.to_vec(), &want)?;
        let gv = values(n * o * oh * ow, 3);
        let g = Tensor::from_vec(gv.clone(), &[n, o, oh, ow]).unwrap();
        // ∂w[o,c,i,j] = Σ g[b,o,oy,ox] · x[b,c,oy+i−p,ox+j−p]
        let mut gw_want = vec![0.0; o * c * kh * kw];
        let mut gx_want = vec![0.0; n * c * h * w];
        for b in 0..n { for oc in 0..o { for oy in 0..oh { for ox in 0..ow {
            let gval = gv[((b * o + oc) * oh + oy) * ow + ox];
            for ci in 0..c { for i in 0..kh { for j in 0..kw {
                let (yy, xx) = ((oy + i) as isize - ph as isize, (ox + j) as isize - pw as isize);
                if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                    let at = ((b * c + ci) * h + yy as usize) * w + xx as usize;
                    gw_want[((oc * c + ci) * kh + i) * kw + j] += gval * xv[at];
                    gx_want[at] += gval * wv[((oc * c + ci) * kh + i) * kw + j];
                }
            }}}
        }}}}
        let gw = x.conv2d_stride1_weight_grad(&g, [kh, kw], [ph, pw]);
        prop_assert_eq!(gw.shape(), &ws);
        close(&gw.to_vec(), &gw_want)?;
        if ph < kh && pw < kw {
            let gx = g.conv2d_stride1_input_grad(&wt, [ph, pw], [h, w]);
            prop_assert_eq!(gx.shape(), &xs);
            close(&gx.to_vec(), &gx_want)?;
        }
    }
}

/// LeNet's first layer (1 → 6 channels, 5×5, padding 2, 28×28) in f32
/// against f64 loops, and a batch large enough to run in parallel: the
/// weight's gradient is the same bits at 1 and 2 threads.
#[test]
fn lenet_first_layer_in_f32() {
    let (xs, ws) = ([9, 1, 28, 28], [6, 1, 5, 5]);
    let xv = values(9 * 784, 4);
    let wv = values(150, 5);
    let (want, _) = conv_loops(&xv, xs, &wv, ws, [2, 2]);
    let x = Tensor::from_vec(xv.iter().map(|&v| v as f32).collect(), &xs).unwrap();
    let w = Tensor::from_vec(wv.iter().map(|&v| v as f32).collect(), &ws).unwrap();
    let y = x.conv2d_stride1(&w, [2, 2]).to_vec();
    for (g, w) in y.iter().zip(&want) {
        assert!(
            (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{g} vs {w}"
        );
    }
    let g = Tensor::from_vec(y.iter().map(|v| v * 0.5).collect(), &[9, 6, 28, 28]).unwrap();
    let gw = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| x.conv2d_stride1_weight_grad(&g, [5, 5], [2, 2]).to_vec())
    };
    assert_eq!(gw(1), gw(2));
}

/// A NaN or ∞ in the input reaches only the outputs whose window holds
/// it, and the weight gradients of the taps that read it: the lanes past
/// a row's end read input too, and must not multiply it by their 0.
#[test]
fn a_nan_or_an_infinity_stays_in_the_windows_that_read_it() {
    let (n, c, h, w, k) = (1, 1, 6, 20, 3);
    for bad in [f64::NAN, f64::INFINITY] {
        let mut xv = vec![1.0; n * c * h * w];
        // column 19 is read by the last output column (17) only through
        // tap j = 2, and past the row by lanes 18 and 19 of its block
        xv[2 * w + 19] = bad;
        let x = Tensor::from_vec(xv, &[n, c, h, w]).unwrap();
        let wt = Tensor::<f64>::ones(&[1, 1, k, k]);
        let y = x.conv2d_stride1(&wt, [0, 0]);
        let (oh, ow) = (h - k + 1, w - k + 1);
        for (at, v) in y.to_vec().into_iter().enumerate() {
            let (oy, ox) = (at / ow, at % ow);
            let reads = oy <= 2 && oy + k > 2 && ox + k > 19;
            assert_eq!(v.is_finite(), !reads, "output ({oy}, {ox})");
        }
        let g = Tensor::<f64>::ones(&[n, 1, oh, ow]);
        let gw = x.conv2d_stride1_weight_grad(&g, [k, k], [0, 0]).to_vec();
        for (tap, v) in gw.into_iter().enumerate() {
            assert_eq!(v.is_finite(), tap % k != 2, "tap {tap}");
        }
    }
}

/// Empty batches, no input channel, no output channel: zeros or empty
/// results of the right shapes, in every direction.
#[test]
fn empty_extents_give_empty_or_zero_results() {
    for (xs, ws) in [
        ([0, 2, 5, 5], [3, 2, 2, 2]),
        ([2, 0, 5, 5], [3, 0, 2, 2]),
        ([2, 2, 5, 5], [0, 2, 2, 2]),
    ] {
        let x = Tensor::<f64>::ones(&xs);
        let w = Tensor::<f64>::ones(&ws);
        let y = x.conv2d_stride1(&w, [1, 1]);
        assert_eq!(y.shape(), &[xs[0], ws[0], 6, 6]);
        assert!(y.to_vec().iter().all(|&v| v == 0.0));
        let g = Tensor::<f64>::ones(y.shape());
        let gw = x.conv2d_stride1_weight_grad(&g, [2, 2], [1, 1]);
        assert_eq!(gw.shape(), &ws);
        assert!(gw.to_vec().iter().all(|&v| v == 0.0));
        let gx = g.conv2d_stride1_input_grad(&w, [1, 1], [xs[2], xs[3]]);
        assert_eq!(gx.shape(), &xs);
        assert!(gx.to_vec().iter().all(|&v| v == 0.0));
    }
}

#[test]
fn misfit_shapes_panic_naming_the_op_and_shapes() {
    let x = Tensor::<f32>::zeros(&[1, 2, 5, 5]);
    let w = Tensor::<f32>::zeros(&[3, 1, 3, 3]);
    let err = std::panic::catch_unwind(|| x.conv2d_stride1(&w, [0, 0])).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("conv2d_stride1: input [1, 2, 5, 5] and weight [3, 1, 3, 3]"),
        "{msg}"
    );
}
