//! Convolution and pooling: values against plain loops, gradients first
//! and second order against finite differences, over random geometries
//! (stride, padding, dilation, groups, odd sizes, batch 1).

use mnemon_autograd::check::{gradcheck, gradgradcheck, Tolerance};
use mnemon_autograd::{Conv1dOptions, Conv2dOptions, Tape, Var};
use mnemon_tensor::{Tensor, Window2d};
use proptest::prelude::*;

fn tol() -> Tolerance {
    Tolerance {
        eps: 1e-6,
        atol: 1e-5,
        rtol: 1e-4,
    }
}

fn filled(shape: &[usize], seed: usize) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let v = (0..n).map(|i| (((i * 29 + seed * 7) % 31) as f64 - 15.0) / 10.0);
    Tensor::from_vec(v.collect(), shape).unwrap()
}

/// Cross-correlation by plain loops (PyTorch's conv2d semantics).
fn conv_loops(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
    o: Conv2dOptions,
) -> Tensor<f64> {
    let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (oc, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let win = Window2d {
        kernel: [kh, kw],
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
    };
    let [oh, ow] = win.output_size([h, wd]).unwrap();
    let (xv, wv) = (x.to_vec(), w.to_vec());
    let bv = b.map(|b| b.to_vec());
    let per_group = oc / o.groups;
    let mut out = vec![0.0; n * oc * oh * ow];
    for bi in 0..n {
        for co in 0..oc {
            let g = co / per_group;
            for oi in 0..oh {
                for oj in 0..ow {
                    let mut acc = bv.as_ref().map_or(0.0, |b| b[co]);
                    for ci in 0..cg {
                        let cin = g * cg + ci;
                        for i in 0..kh {
                            for j in 0..kw {
                                let ii = (oi * o.stride[0] + i * o.dilation[0]) as isize
                                    - o.padding[0] as isize;
                                let jj = (oj * o.stride[1] + j * o.dilation[1]) as isize
                                    - o.padding[1] as isize;
                                if ii < 0 || jj < 0 || ii as usize >= h || jj as usize >= wd {
                                    continue;
                                }
                                acc += xv[((bi * c + cin) * h + ii as usize) * wd + jj as usize]
                                    * wv[((co * cg + ci) * kh + i) * kw + j];
                            }
                        }
                    }
                    out[((bi * oc + co) * oh + oi) * ow + oj] = acc;
                }
            }
        }
    }
    Tensor::from_vec(out, &[n, oc, oh, ow]).unwrap()
}

#[derive(Debug, Clone)]
struct Case {
    x: [usize; 4],
    w: [usize; 4],
    opts: Conv2dOptions,
    bias: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..3, 1usize..3, 2usize..6, 2usize..6),
        (
            [1usize..4, 1usize..4],
            [1usize..3, 1usize..3],
            [0usize..2, 0usize..2],
            [1usize..3, 1usize..3],
        ),
        1usize..3,
        any::<bool>(),
    )
        .prop_map(
            |((n, gc, go, h, w), (k, stride, padding, dilation), groups, bias)| Case {
                x: [n, gc * groups, h, w],
                w: [go * groups, gc, k[0], k[1]],
                opts: Conv2dOptions {
                    stride,
                    padding,
                    dilation,
                    groups,
                },
                bias,
            },
        )
        .prop_filter("fits", |c| {
            Window2d {
                kernel: [c.w[2], c.w[3]],
                stride: c.opts.stride,
                padding: c.opts.padding,
                dilation: c.opts.dilation,
            }
            .output_size([c.x[2], c.x[3]])
            .is_some()
        })
}

fn conv_of<'t>(v: &[Var<'t, f64>], opts: Conv2dOptions) -> Var<'t, f64> {
    v[0].conv2d(&v[1], v.get(2), opts)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
    ))]

    #[test]
    fn conv2d_matches_loops_and_gradchecks(c in case()) {
        let x = filled(&c.x, 1);
        let w = filled(&c.w, 2);
        let b = c.bias.then(|| filled(&[c.w[0]], 3));
        let tape = Tape::<f64>::new();
        let y = tape.constant(x.clone()).conv2d(&tape.constant(w.clone()), b.clone().map(|b| tape.constant(b)).as_ref(), c.opts);
        let want = conv_loops(&x, &w, b.as_ref(), c.opts);
        prop_assert_eq!(y.shape(), want.shape());
        prop_assert!(y.value().all_close(&want, 1e-12, 1e-12));
        let mut inputs = vec![x, w];
        inputs.extend(b);
        let opts = c.opts;
        gradcheck(move |v| conv_of(v, opts), &inputs, tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(move |v| conv_of(v, opts), &inputs, tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn pools_gradcheck(n in 1usize..3, c in 1usize..3, h in 2usize..6, w in 2usize..6, k in 1usize..3, s in 1usize..3, p in 0usize..2) {
        let win = Window2d::new([k + 1, k]).stride([s, s]).padding([p.min(k.div_ceil(2)), p.min(k / 2)]);
        prop_assume!(win.output_size([h, w]).is_some());
        // distinct values: no ties, so finite differences see one maximum
        let x = Tensor::from_vec((0..n * c * h * w).map(|i| ((i * 37) % 101) as f64 / 10.0).collect(), &[n, c, h, w]).unwrap();
        gradcheck(move |v| v[0].max_pool2d(win), std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradcheck(move |v| v[0].avg_pool2d(win), std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(move |v| v[0].avg_pool2d(win).powi(2), std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(move |v| v[0].max_pool2d(win).powi(2), std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(|v| v[0].adaptive_avg_pool2d_1x1().powi(2), &[x], tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

/// `conv2d` runs one product per image when images have many windows
/// (here 529) and one over the batch when they have few (the proptest's
/// shapes): the first path against loops and finite differences too
/// (dilated, so that it does not run directly).
#[test]
fn conv2d_with_many_windows_per_image_matches_loops_and_gradchecks() {
    let x = filled(&[2, 2, 25, 25], 1);
    let w = filled(&[3, 2, 2, 2], 2);
    let b = filled(&[3], 3);
    let opts = Conv2dOptions {
        dilation: [2, 2],
        ..Default::default()
    };
    let tape = Tape::<f64>::new();
    let y = tape.constant(x.clone()).conv2d(
        &tape.constant(w.clone()),
        Some(&tape.constant(b.clone())),
        opts,
    );
    assert_eq!(y.shape(), &[2, 3, 23, 23]);
    let want = conv_loops(&x, &w, Some(&b), opts);
    assert!(y.value().all_close(&want, 1e-12, 1e-12));
    let inputs = [x.narrow(0, 0, 1), w, b];
    gradcheck(|v| conv_of(v, opts), &inputs, tol()).unwrap();
    gradgradcheck(|v| conv_of(v, opts).powi(2), &inputs, tol()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
    ))]

    /// Stride-1 convolutions with few inner terms run directly: values
    /// against loops, gradients first and second order against finite
    /// differences, and the first-order gradients of a plain backward (the
    /// direct kernels) equal to those built as a graph (the composed rule,
    /// which the second order differentiates) — rows crossing the
    /// 16-column blocks, output channels crossing the blocks of 4.
    #[test]
    fn direct_conv2d_matches_loops_and_its_composed_rule(
        n in 1usize..3, c in 1usize..3, o in 1usize..7, h in 1usize..6, w in prop_oneof![1usize..6, 15usize..20],
        kh in 1usize..4, kw in 1usize..4, ph in 0usize..3, pw in 0usize..3, bias in any::<bool>(),
    ) {
        prop_assume!(ph < kh && pw < kw && h + 2 * ph >= kh && w + 2 * pw >= kw);
        let opts = Conv2dOptions { padding: [ph, pw], ..Default::default() };
        let x = filled(&[n, c, h, w], 1);
        let wt = filled(&[o, c, kh, kw], 2);
        let b = bias.then(|| filled(&[o], 3));
        let tape = Tape::<f64>::new();
        let (xv, wv) = (tape.leaf(x.clone()), tape.leaf(wt.clone()));
        let y = xv.conv2d(&wv, b.clone().map(|b| tape.constant(b)).as_ref(), opts);
        prop_assert!(tape.to_dot().contains(" conv2d\\n"), "the direct op");
        let want = conv_loops(&x, &wt, b.as_ref(), opts);
        prop_assert!(y.value().all_close(&want, 1e-12, 1e-12));
        let loss = y.powi(2).sum_all();
        let graph = loss.grad_graph(&[&xv, &wv]);
        let plain = loss.backward();
        for (v, gg) in [&xv, &wv].into_iter().zip(&graph) {
            prop_assert!(plain.wrt(v).unwrap().all_close(gg.value(), 1e-12, 1e-12));
        }
        let mut inputs = vec![x, wt];
        inputs.extend(b);
        gradcheck(move |v| conv_of(v, opts), &inputs, tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(move |v| conv_of(v, opts).powi(2), &inputs, tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

/// A first layer as LeNet's (one input channel, 5×5, padding 2) runs
/// directly, without columns: against loops, and its gradients first and
/// second order against finite differences, with rows of 20 outputs
/// (crossing the kernel's 16-column blocks) and 3 output channels (a
/// partial block of 4). The second order goes through the composed rule.
#[test]
fn a_first_layer_runs_directly_and_gradchecks() {
    let x = filled(&[2, 1, 6, 20], 1);
    let w = filled(&[3, 1, 5, 5], 2);
    let b = filled(&[3], 3);
    let opts = Conv2dOptions {
        padding: [2, 2],
        ..Default::default()
    };
    let tape = Tape::<f64>::new();
    let (xv, wv) = (tape.leaf(x.clone()), tape.leaf(w.clone()));
    let y = xv.conv2d(&wv, Some(&tape.constant(b.clone())), opts);
    assert_eq!(y.shape(), &[2, 3, 6, 20]);
    let want = conv_loops(&x, &w, Some(&b), opts);
    assert!(y.value().all_close(&want, 1e-12, 1e-12));
    // the direct op, not unfold and matmul
    let dot = tape.to_dot();
    assert!(
        dot.contains(" conv2d\\n") && !dot.contains("unfold2d"),
        "{dot}"
    );
    let inputs = [x.narrow(0, 0, 1), w, b];
    gradcheck(|v| conv_of(v, opts), &inputs, tol()).unwrap();
    gradgradcheck(|v| conv_of(v, opts).powi(2), &inputs, tol()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16)
    ))]

    /// The batch-inside unfold and its fold: gradients of both, first and
    /// second order, through a square (so the second order is not zero).
    #[test]
    fn unfold_and_fold_by_tap_gradcheck(n in 1usize..3, c in 1usize..3, h in 2usize..6, w in 2usize..6, k in 1usize..3, s in 1usize..3, p in 0usize..2) {
        let win = Window2d::new([k, k + 1]).stride([s, 1]).padding([p, p]);
        prop_assume!(win.output_size([h, w]).is_some());
        let x = filled(&[n, c, h, w], 4);
        gradcheck(move |v| v[0].unfold2d_by_tap(win).powi(2), std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(move |v| v[0].unfold2d_by_tap(win).powi(2), std::slice::from_ref(&x), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let [oh, ow] = win.output_size([h, w]).unwrap();
        let cols = filled(&[c * win.taps(), n, oh * ow], 5);
        gradcheck(move |v| v[0].fold2d_by_tap(win, [h, w]).powi(2), std::slice::from_ref(&cols), tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(move |v| v[0].fold2d_by_tap(win, [h, w]).powi(2), &[cols], tol()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn conv1d_is_conv2d_over_a_height_of_one() {
    let x = filled(&[2, 4, 9], 1);
    let w = filled(&[6, 2, 3], 2);
    let b = filled(&[6], 3);
    let opts = Conv1dOptions {
        stride: 2,
        padding: 1,
        dilation: 2,
        groups: 2,
    };
    let tape = Tape::<f64>::new();
    let y = tape.constant(x.clone()).conv1d(
        &tape.constant(w.clone()),
        Some(&tape.constant(b.clone())),
        opts,
    );
    let o2 = Conv2dOptions {
        stride: [1, 2],
        padding: [0, 1],
        dilation: [1, 2],
        groups: 2,
    };
    let want = conv_loops(&x.unsqueeze(2), &w.unsqueeze(2), Some(&b), o2);
    assert_eq!(y.shape(), &[2, 6, 4]);
    assert!(y.value().all_close(&want.squeeze(2), 1e-12, 1e-12));
    fn c1<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        let opts = Conv1dOptions {
            stride: 2,
            padding: 1,
            dilation: 2,
            groups: 2,
        };
        v[0].conv1d(&v[1], Some(&v[2]), opts)
    }
    gradcheck(c1, &[x.clone(), w.clone(), b.clone()], tol()).unwrap();
    gradgradcheck(c1, &[x, w, b], tol()).unwrap();
}

#[test]
fn max_pool_ties_go_to_the_first_maximum_and_shapes_panic_clearly() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![2.0, 2.0, 1.0, 2.0], &[1, 1, 2, 2]).unwrap());
    let g = x.max_pool2d(Window2d::new([2, 2])).sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
    let w = tape.leaf(Tensor::zeros(&[2, 3, 1, 1]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        x.conv2d(&w, None, Conv2dOptions::default())
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("conv2d: input [1, 1, 2, 2], weight [2, 3, 1, 1]"),
        "{msg}"
    );
}

/// An empty batch and an empty set of input channels give empty or zero
/// outputs and gradients, through both layouts of the columns.
#[test]
fn conv2d_of_an_empty_batch_or_no_channels() {
    for (x, w, want) in [
        ([0, 2, 5, 5], [3, 2, 2, 2], vec![0, 3, 4, 4]),
        ([0, 2, 30, 30], [3, 2, 2, 2], vec![0, 3, 29, 29]),
        ([2, 0, 5, 5], [3, 0, 2, 2], vec![2, 3, 4, 4]),
    ] {
        let tape = Tape::<f64>::new();
        let (xv, wv) = (tape.leaf(filled(&x, 1)), tape.leaf(filled(&w, 2)));
        let b = tape.leaf(filled(&[3], 3));
        let y = xv.conv2d(&wv, Some(&b), Conv2dOptions::default());
        assert_eq!(y.shape(), &want[..]);
        // no input channel: the output is the bias alone
        let bias = filled(&[3], 3).reshape(&[1, 3, 1, 1]).unwrap();
        let want_y = bias.broadcast_to(&want).unwrap().contiguous();
        assert_eq!(y.value().to_vec(), want_y.to_vec());
        let g = y.sum_all().backward();
        assert_eq!(g.wrt(&xv).unwrap().shape(), &x[..]);
        assert!(g.wrt(&wv).unwrap().to_vec().iter().all(|&v| v == 0.0));
    }
}

/// A dilated window can step over the whole input and hold padding alone
/// (PyTorch's limit, padding at most half the kernel, allows it): −∞, as
/// PyTorch's, with no gradient (it does not depend on the input).
/// Values as PyTorch 2.15's `F.max_pool2d` on the same inputs.
#[test]
fn dilated_max_pool_windows_of_padding_alone_are_minus_infinity() {
    let tape = Tape::<f64>::new();
    // [1, 1, 3, 1]; window 2×2, dilation 2, padding 1: every window's
    // columns are -1 and 1, outside the one-wide input
    let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[1, 1, 3, 1]).unwrap());
    let win = Window2d::new([2, 2]).padding([1, 1]).dilation([2, 2]);
    let y = x.max_pool2d(win);
    assert_eq!(y.shape(), &[1, 1, 3, 1]);
    assert!(y.value().to_vec().iter().all(|&v| v == f64::NEG_INFINITY));
    let g = y.sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![0.0; 3]);
    // some windows of padding alone, some not: the gradient reaches only
    // the real windows' maxima (1×2 window, taps 2 apart, padding 1, over
    // [1, 1, 1, 2]: the windows read columns (-1, 1) and (0, 2))
    let x = tape.leaf(Tensor::from_vec(vec![6.0, 7.0], &[1, 1, 1, 2]).unwrap());
    let win = Window2d::new([1, 2]).padding([0, 1]).dilation([1, 2]);
    let y = x.max_pool2d(win);
    assert_eq!(y.value().to_vec(), vec![7.0, 6.0]);
    let g = (&y * &tape.constant(Tensor::from_vec(vec![3.0, 5.0], &[1, 1, 1, 2]).unwrap()))
        .sum_all()
        .backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![5.0, 3.0]);
    // the second order through the padding column: none either
    let gx = &x.max_pool2d(win).square().sum_all().grad_graph(&[&x])[0];
    assert_eq!(gx.value().to_vec(), vec![12.0, 14.0]);
    let h = gx.sum_all().backward();
    assert_eq!(h.wrt(&x).unwrap().to_vec(), vec![2.0, 2.0]);
}
