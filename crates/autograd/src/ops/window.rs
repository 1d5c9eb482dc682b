//! Sliding-window ops: `unfold2d` and `fold2d`, two linear primitives that
//! are each other's adjoint (so each one's gradient is the other, at every
//! order), and what is composed from them with no rule of its own:
//! `conv2d`/`conv1d` (unfold + one matmul + reshape) and the pools
//! (unfold + max or mean over the window axis). A convolution with few
//! inner terms (a first layer) runs directly instead, as one op whose rule
//! is those same composed ops when gradients of gradients are built.

use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor, Window2d};
use std::panic::Location;
use std::rc::Rc;

/// Options of a 2-D convolution (PyTorch's `conv2d` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between windows, `[height, width]`.
    pub stride: [usize; 2],
    /// Zero padding on both sides.
    pub padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
    /// Channel groups: input and output channels are split into `groups`
    /// independent convolutions.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// Options of a 1-D convolution (PyTorch's `conv1d` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dOptions {
    /// Step between windows.
    pub stride: usize,
    /// Zero padding on both sides.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

/// Below this many windows per image, [`Var::conv2d`] (groups 1) unfolds
/// with the batch inside ([`Var::unfold2d_by_tap`]) and runs one matrix
/// product over the whole batch; at or above it, one product per image
/// ([`Var::unfold2d`]). Per-image products as narrow as LeNet's second
/// convolution (100 windows) ran at 70 GFLOP/s where the one wide product
/// ran at 110 (Zen 4, one thread); at 784 windows the two were even.
const BY_TAP_BELOW: usize = 512;

/// At most this many inner terms per output (`C·kh·kw`: LeNet's first
/// layer has 25), a stride-1 convolution runs directly
/// ([`Tensor::conv2d_stride1`]): unfolding would write `kh·kw` copies of
/// the input for a product too thin for gemm to run at speed.
const DIRECT_TAPS: usize = 32;

/// Whether [`Var::conv2d`] runs directly: groups 1, stride and dilation
/// 1, padding below the window (so the input's gradient is a stride-1
/// convolution too), and at most [`DIRECT_TAPS`] inner terms.
fn direct(win: &Window2d, groups: usize, inner: usize) -> bool {
    groups == 1
        && win.stride == [1, 1]
        && win.dilation == [1, 1]
        && win.padding[0] < win.kernel[0]
        && win.padding[1] < win.kernel[1]
        && inner <= DIRECT_TAPS
}

fn pack(win: &Window2d, size: [usize; 2]) -> Rc<Vec<usize>> {
    let w = win;
    Rc::new(vec![
        w.kernel[0],
        w.kernel[1],
        w.stride[0],
        w.stride[1],
        w.padding[0],
        w.padding[1],
        w.dilation[0],
        w.dilation[1],
        size[0],
        size[1],
    ])
}

fn unpack(p: &[usize]) -> (Window2d, [usize; 2]) {
    let win = Window2d {
        kernel: [p[0], p[1]],
        stride: [p[2], p[3]],
        padding: [p[4], p[5]],
        dilation: [p[6], p[7]],
    };
    (win, [p[8], p[9]])
}

impl<'t, T: Element> Var<'t, T> {
    /// The sliding windows of an `[N, C, H, W]` Var as columns
    /// `[N, C·kh·kw, oh·ow]` (zero padding); gradient: [`Var::fold2d`].
    /// PyTorch: `F.unfold`.
    ///
    /// # Panics
    /// When the input is not rank 4 or the window does not fit.
    #[track_caller]
    pub fn unfold2d(&self, win: Window2d) -> Self {
        self.unfold2d_padded(win, T::zero())
    }

    /// The sliding windows as columns: see [`Var::unfold2d`].
    #[track_caller]
    fn unfold2d_padded(&self, win: Window2d, pad: T) -> Self {
        let v = self.value.unfold2d(win, pad);
        let size = [self.shape()[2], self.shape()[3]];
        self.record_window("unfold2d", v, unfold_rule, win, size)
    }

    /// [`Var::unfold2d`] with the batch axis inside: `[C·kh·kw, N, oh·ow]`
    /// (see [`Tensor::unfold2d_by_tap`]); gradient: [`Var::fold2d_by_tap`].
    /// What [`Var::conv2d`] uses to run one matrix product over the batch.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::{Tensor, Window2d};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::arange(0.0, 18.0, 1.0).reshape(&[2, 1, 3, 3]).unwrap());
    /// let cols = x.unfold2d_by_tap(Window2d::new([2, 2]));
    /// assert_eq!(cols.shape(), &[4, 2, 4]);
    /// let g = cols.sum_all().backward();
    /// // the centre pixel is in all four windows, a corner in one
    /// assert_eq!(g.wrt(&x).unwrap().to_vec()[..5], [1.0, 2.0, 1.0, 2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// When the input is not rank 4 or the window does not fit.
    ///
    /// [`Tensor::unfold2d_by_tap`]: mnemon_tensor::Tensor::unfold2d_by_tap
    #[track_caller]
    pub fn unfold2d_by_tap(&self, win: Window2d) -> Self {
        let v = self.value.unfold2d_by_tap(win, T::zero());
        let size = [self.shape()[2], self.shape()[3]];
        self.record_window("unfold2d_by_tap", v, unfold_by_tap_rule, win, size)
    }

    /// Columns `[C·kh·kw, N, oh·ow]` summed back into `[N, C, H, W]`, the
    /// adjoint of [`Var::unfold2d_by_tap`]; gradient: `unfold2d_by_tap`.
    ///
    /// # Panics
    /// When the columns do not fit the window and `size`.
    #[track_caller]
    pub fn fold2d_by_tap(&self, win: Window2d, size: [usize; 2]) -> Self {
        let v = self.value.fold2d_by_tap(win, size);
        self.record_window("fold2d_by_tap", v, fold_by_tap_rule, win, size)
    }

    /// Records a window op with its window and input size saved.
    #[track_caller]
    fn record_window(
        &self,
        name: &'static str,
        v: Tensor<T>,
        rule: crate::tape::Rule<T>,
        win: Window2d,
        size: [usize; 2],
    ) -> Self {
        let loc = Location::caller();
        self.tape
            .record(name, v, &[self], rule, Keep::Shapes, loc, |s, _| {
                s.indices = Some(pack(&win, size));
            })
    }

    /// Columns `[N, C·kh·kw, oh·ow]` summed back into `[N, C, H, W]` of
    /// spatial `size`, the adjoint of [`Var::unfold2d`]; gradient:
    /// `unfold2d`. PyTorch: `F.fold`.
    ///
    /// # Panics
    /// When the columns do not fit the window and `size`.
    #[track_caller]
    pub fn fold2d(&self, win: Window2d, size: [usize; 2]) -> Self {
        let v = self.value.fold2d(win, size);
        self.record_window("fold2d", v, fold_rule, win, size)
    }

    /// 2-D convolution (cross-correlation, as every framework computes it)
    /// of an `[N, C, H, W]` input with a `[O, C/groups, kh, kw]` weight and
    /// an optional `[O]` bias: `unfold2d`, one (batched) matmul, a reshape,
    /// so its gradients of every order come from those ops. With few inner
    /// terms (`C·kh·kw ≤ 32`, stride and dilation 1, groups 1, padding
    /// below the window: a first layer on 1 or 3 channels) it runs directly
    /// ([`Tensor::conv2d_stride1`], no columns), its rule the direct
    /// gradients in a plain backward and the composed ones' when gradients
    /// of gradients are built. PyTorch: `F.conv2d`.
    ///
    /// [`Tensor::conv2d_stride1`]: mnemon_tensor::Tensor::conv2d_stride1
    ///
    /// ```
    /// use mnemon_autograd::{Conv2dOptions, Tape};
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::arange(0.0, 9.0, 1.0).reshape(&[1, 1, 3, 3]).unwrap());
    /// let w = tape.leaf(Tensor::ones(&[1, 1, 2, 2]));
    /// let y = x.conv2d(&w, None, Conv2dOptions::default());
    /// assert_eq!(y.value().to_vec(), vec![8.0, 12.0, 20.0, 24.0]); // sums of 2×2 windows
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&w).unwrap().to_vec(), vec![8.0, 12.0, 20.0, 24.0]);
    /// ```
    ///
    /// # Panics
    /// When the shapes do not fit (the message names both and the line).
    #[track_caller]
    pub fn conv2d(&self, weight: &Self, bias: Option<&Self>, opts: Conv2dOptions) -> Self {
        let (xs, ws) = (self.shape(), weight.shape());
        let g = opts.groups;
        let fits = xs.len() == 4
            && ws.len() == 4
            && g > 0
            && xs[1].is_multiple_of(g)
            && ws[0].is_multiple_of(g)
            && ws[1] * g == xs[1]
            && bias.is_none_or(|b| b.shape() == [ws[0]]);
        if !fits {
            panic!(
                "conv2d: input {xs:?}, weight {ws:?}, bias {:?} and groups {g} do not fit ([N, C, H, W], [O, C/groups, kh, kw], [O]), called at {}",
                bias.map(|b| b.shape().to_vec()),
                Location::caller()
            );
        }
        let win = Window2d {
            kernel: [ws[2], ws[3]],
            stride: opts.stride,
            padding: opts.padding,
            dilation: opts.dilation,
        };
        let (n, o) = (xs[0], ws[0]);
        let [oh, ow] = win.output_size([xs[2], xs[3]]).unwrap_or_else(|| {
            panic!(
                "conv2d: window {win:?} does not fit an input of {xs:?}, called at {}",
                Location::caller()
            )
        });
        let (ck, l) = (ws[1] * win.taps(), oh * ow);
        let y = if direct(&win, g, ck) {
            // few inner terms: directly, no columns (see `DIRECT_TAPS`)
            let v = self.value.conv2d_stride1(&weight.value, win.padding);
            let size = [xs[2], xs[3]];
            self.tape.record(
                "conv2d",
                v,
                &[self, weight],
                conv2d_direct_rule,
                Keep::Values,
                Location::caller(),
                |s, _| s.indices = Some(pack(&win, size)),
            )
        } else if g == 1 && l < BY_TAP_BELOW {
            // few windows per image: one product over the whole batch
            let cols = self.unfold2d_by_tap(win).reshape_to(&[ck, n * l]);
            let y = weight.reshape_to(&[o, ck]).matmul(&cols); // [O, N·L]
            y.reshape_to(&[o, n, l]).permute(&[1, 0, 2])
        } else if g == 1 {
            let cols = self.unfold2d(win); // [N, C·k, L]
            weight.reshape_to(&[o, ck]).matmul(&cols) // [N, O, L]
        } else {
            let cols = self.unfold2d(win).reshape_to(&[n, g, ck, l]);
            weight.reshape_to(&[g, o / g, ck]).matmul(&cols) // [N, g, O/g, L]
        };
        let y = y.reshape_to(&[n, o, oh, ow]);
        match bias {
            Some(b) => &y + &b.reshape_to(&[1, o, 1, 1]),
            None => y,
        }
    }

    /// 1-D convolution of an `[N, C, L]` input with a `[O, C/groups, k]`
    /// weight: [`Var::conv2d`] over a height of 1. PyTorch: `F.conv1d`.
    ///
    /// # Panics
    /// As [`Var::conv2d`].
    #[track_caller]
    pub fn conv1d(&self, weight: &Self, bias: Option<&Self>, opts: Conv1dOptions) -> Self {
        let (xs, ws) = (self.shape(), weight.shape());
        if xs.len() != 3 || ws.len() != 3 {
            panic!(
                "conv1d: input {xs:?} and weight {ws:?} must be [N, C, L] and [O, C/groups, k], called at {}",
                Location::caller()
            );
        }
        let opts2 = Conv2dOptions {
            stride: [1, opts.stride],
            padding: [0, opts.padding],
            dilation: [1, opts.dilation],
            groups: opts.groups,
        };
        let y = self.unsqueeze(2).conv2d(&weight.unsqueeze(2), bias, opts2);
        y.squeeze(2)
    }

    /// Max over each window of an `[N, C, H, W]` input (padding never
    /// wins); the gradient goes to the first maximum of each window, as
    /// PyTorch's. PyTorch: `F.max_pool2d`, with its limit on the padding:
    /// at most half the kernel.
    ///
    /// A dilated window can still step over the whole input and hold
    /// padding alone: its maximum is −∞ (as PyTorch's) and no gradient
    /// flows from it, since it does not depend on the input (PyTorch's
    /// backward sends it to an element the window does not hold).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::{Tensor, Window2d};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 5.0, 5.0, 2.0], &[1, 1, 2, 2]).unwrap());
    /// let y = x.max_pool2d(Window2d::new([2, 2]));
    /// assert_eq!(y.item(), 5.0);
    /// assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// When the input is not rank 4 or the window does not fit.
    #[track_caller]
    pub fn max_pool2d(&self, win: Window2d) -> Self {
        self.pool2d("max_pool2d", win, true)
    }

    /// Mean over each window of an `[N, C, H, W]` input, padding counted
    /// as zeros (PyTorch's default `count_include_pad=True`). PyTorch:
    /// `F.avg_pool2d`.
    ///
    /// # Panics
    /// When the input is not rank 4 or the window does not fit.
    #[track_caller]
    pub fn avg_pool2d(&self, win: Window2d) -> Self {
        self.pool2d("avg_pool2d", win, false)
    }

    /// The mean over each channel's whole plane, `[N, C, H, W]` to
    /// `[N, C, 1, 1]`. PyTorch: `F.adaptive_avg_pool2d(x, 1)`.
    ///
    /// # Panics
    /// When the input is not rank 4 or a plane is empty.
    #[track_caller]
    pub fn adaptive_avg_pool2d_1x1(&self) -> Self {
        let s = self.shape();
        if s.len() != 4 || s[2] * s[3] == 0 {
            panic!(
                "adaptive_avg_pool2d: expects a non-empty [N, C, H, W], got {s:?}, called at {}",
                Location::caller()
            );
        }
        let (n, c, hw) = (s[0], s[1], s[2] * s[3]);
        self.reshape_to(&[n, c, hw])
            .mean(2, false)
            .reshape_to(&[n, c, 1, 1])
    }

    #[track_caller]
    fn pool2d(&self, op: &str, win: Window2d, is_max: bool) -> Self {
        let s = self.shape();
        // PyTorch's rule: padding at most half the kernel (dilation or
        // not: a dilated window can still hold padding alone)
        let half = (0..2).all(|a| win.padding[a].saturating_mul(2) <= win.kernel[a]);
        if s.len() != 4 || !half || win.output_size([s[2], s[3]]).is_none() {
            panic!(
                "{op}: window {win:?} does not fit an input of shape {s:?} ([N, C, H, W], padding at most half the kernel), called at {}",
                Location::caller()
            );
        }
        let (n, c) = (s[0], s[1]);
        let [oh, ow] = win.output_size([s[2], s[3]]).expect("checked");
        let y = if is_max {
            // gather at each window's first maximum: gather's rule is
            // scatter_add (and its rule gather), so every order works
            let (y, idx) = self.value.max_pool2d_with_indices(win);
            let y = y.reshape(&[n * c, oh * ow]).expect("same elements");
            let hw = s[2] * s[3];
            let planes = self.reshape_to(&[n * c, hw]);
            // a window of padding alone has index `hw`: gathered from a
            // constant −∞ column after the plane, so no gradient flows
            // (only a dilated window can be one, with padding ≤ kernel/2:
            // undilated pools skip the search)
            let planes = if win.dilation != [1, 1] && idx.contains(&hw) {
                let pad = self
                    .tape
                    .constant(Tensor::full(&[n * c, 1], T::neg_infinity()));
                Var::concat(&[planes, pad], 1)
            } else {
                planes
            };
            planes.gather_computed(1, idx, y, Location::caller())
        } else {
            let planes = self.reshape_to(&[n * c, 1, s[2], s[3]]);
            planes.unfold2d(win).mean(1, false)
        };
        y.reshape_to(&[n, c, oh, ow])
    }
}

/// The window and input size a window op saved.
fn saved_window<T: Element>(c: &Ctx<'_, '_, T>) -> (Window2d, [usize; 2]) {
    unpack(c.saved.indices.as_ref().expect("window saved"))
}

/// The direct convolution's rule: `∂x` a stride-1 convolution of `g`
/// with the weight flipped, `∂w = Σ g · x` shifted by each tap — by the
/// direct kernels in a plain backward; when gradients of gradients are
/// being built, the same two as the composed convolution's (`unfold`,
/// matmul, `fold`) in `Var` ops, so that they are differentiable too.
fn conv2d_direct_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (win, size) = saved_window(c);
    let ws = c.input_shape(1);
    if !c.tape.recording.get() {
        let gx = c.wants(0).then(|| {
            let w = c.input_value(1);
            let v = g.value.conv2d_stride1_input_grad(&w, win.padding, size);
            super::computed(c, "conv2d_input_grad", v, conv2d_direct_rule)
        });
        let gw = c.wants(1).then(|| {
            let x = c.input_value(0);
            let v = x.conv2d_stride1_weight_grad(&g.value, win.kernel, win.padding);
            super::computed(c, "conv2d_weight_grad", v, conv2d_direct_rule)
        });
        return smallvec::smallvec![gx, gw];
    }
    let (x, w) = (c.input(0), c.input(1));
    let gs = g.shape().to_vec();
    let (n, o, l) = (gs[0], gs[1], gs[2] * gs[3]);
    let ck = ws[1] * ws[2] * ws[3];
    let g3 = g.reshape_to(&[n, o, l]);
    let gx = c.wants(0).then(|| {
        let cols = w.reshape_to(&[o, ck]).t().matmul(&g3); // [N, C·k, L]
        cols.fold2d(win, size)
    });
    let gw = c.wants(1).then(|| {
        let cols = x.unfold2d(win); // [N, C·k, L]
        g3.matmul_sum(&cols.transpose(1, 2)).reshape_to(&ws)
    });
    smallvec::smallvec![gx, gw]
}

fn unfold_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (win, size) = saved_window(c);
    super::one(g.fold2d(win, size))
}

fn fold_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (win, _) = saved_window(c);
    super::one(g.unfold2d(win))
}

fn unfold_by_tap_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (win, size) = saved_window(c);
    super::one(g.fold2d_by_tap(win, size))
}

fn fold_by_tap_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (win, _) = saved_window(c);
    super::one(g.unfold2d_by_tap(win))
}
