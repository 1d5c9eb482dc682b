//! Sliding windows over the two last axes: `unfold` (im2col) and its
//! adjoint `fold` (col2im). Convolution is `unfold` + one matrix product,
//! pooling is `unfold` + a reduction over the window axis, so these two
//! linear maps are all the spatial code there is.

use crate::element::Element;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The geometry of a 2-D sliding window, per axis `[height, width]`:
/// PyTorch's `kernel_size`, `stride`, `padding`, `dilation`.
///
/// ```
/// use mnemon_tensor::Window2d;
/// let w = Window2d::new([3, 3]).stride([2, 2]).padding([1, 1]);
/// assert_eq!(w.output_size([28, 28]), Some([14, 14]));
/// assert_eq!(Window2d::new([5, 5]).output_size([4, 4]), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window2d {
    /// Window extent.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding added on both sides.
    pub padding: [usize; 2],
    /// Spacing between the window's taps.
    pub dilation: [usize; 2],
}

impl Window2d {
    /// A window of `kernel` with stride 1, no padding, dilation 1.
    pub fn new(kernel: [usize; 2]) -> Self {
        Window2d {
            kernel,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        }
    }

    /// With `stride`.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }

    /// With `padding`.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }

    /// With `dilation`.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }

    /// The number of window positions along each axis for an input of
    /// `size`, or `None` when the window does not fit (or a kernel,
    /// stride or dilation is 0).
    pub fn output_size(&self, size: [usize; 2]) -> Option<[usize; 2]> {
        let mut out = [0; 2];
        for a in 0..2 {
            let (k, s, p, d) = (
                self.kernel[a],
                self.stride[a],
                self.padding[a],
                self.dilation[a],
            );
            if k == 0 || s == 0 || d == 0 {
                return None;
            }
            let span = d.checked_mul(k - 1)?.checked_add(1)?;
            let padded = size[a].checked_add(p.checked_mul(2)?)?;
            out[a] = padded.checked_sub(span)? / s + 1;
        }
        Some(out)
    }

    /// The window's taps along each axis: `kernel[0] · kernel[1]`.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// For window offset `k` along axis `a`, the output positions `o` whose
    /// input coordinate `o·stride + k·dilation − padding` lies in
    /// `0..size`, as a range, and that coordinate for the first of them.
    fn valid(&self, a: usize, k: usize, size: usize, out: usize) -> (usize, usize, isize) {
        let (s, p) = (self.stride[a] as isize, self.padding[a] as isize);
        let base = (k * self.dilation[a]) as isize - p; // coordinate at o = 0
        let lo = if base >= 0 { 0 } else { (-base + s - 1) / s };
        let hi = if (size as isize) <= base {
            0
        } else {
            ((size as isize - base + s - 1) / s).min(out as isize)
        };
        let lo = lo.min(hi);
        (lo as usize, hi as usize, base + lo * s)
    }
}

/// `[n, c, h, w]` of a rank-4 tensor, or a panic naming `op`.
#[track_caller]
fn nchw(op: &str, shape: &[usize]) -> [usize; 4] {
    match shape {
        &[n, c, h, w] => [n, c, h, w],
        _ => panic!(
            "{op}: expects an [N, C, H, W] tensor, got shape {shape:?}, called at {}",
            std::panic::Location::caller()
        ),
    }
}

#[track_caller]
fn out_size(op: &str, win: &Window2d, size: [usize; 2]) -> [usize; 2] {
    win.output_size(size).unwrap_or_else(|| {
        panic!(
            "{op}: window {win:?} does not fit an input of {size:?}, called at {}",
            std::panic::Location::caller()
        )
    })
}

impl<T: Element> Tensor<T> {
    /// The sliding windows of an `[N, C, H, W]` tensor as columns:
    /// `[N, C·kh·kw, oh·ow]`, row `(c·kh + i)·kw + j` holding tap `(i, j)`
    /// of channel `c` at every window position; taps in the padding read
    /// `pad`. PyTorch: `F.unfold` (with `pad = 0`).
    ///
    /// ```
    /// use mnemon_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::arange(0.0, 9.0, 1.0).reshape(&[1, 1, 3, 3]).unwrap();
    /// let cols = x.unfold2d(Window2d::new([2, 2]), 0.0);
    /// assert_eq!(cols.shape(), &[1, 4, 4]);
    /// assert_eq!(cols.to_vec()[..4], [0.0, 1.0, 3.0, 4.0]); // tap (0,0) of each window
    /// ```
    ///
    /// # Panics
    /// When the tensor is not rank 4 or the window does not fit.
    #[track_caller]
    pub fn unfold2d(&self, win: Window2d, pad: T) -> Self {
        let [n, c, h, w] = nchw("unfold2d", self.shape());
        let [oh, ow] = out_size("unfold2d", &win, [h, w]);
        let (taps, l) = (win.taps(), oh * ow);
        let shape = [n, c * taps, l];
        let total = crate::layout::numel_or_panic("unfold2d", &shape);
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let mut out = crate::pool::take(total);
        out.resize(total, pad);
        let per = c * taps * l;
        let fill = |(b, dst): (usize, &mut [T])| {
            for ci in 0..c {
                let plane = &src[(b * c + ci) * h * w..][..h * w];
                for ki in 0..win.kernel[0] {
                    let (r0, r1, i0) = win.valid(0, ki, h, oh);
                    for kj in 0..win.kernel[1] {
                        let (c0, c1, j0) = win.valid(1, kj, w, ow);
                        if c0 >= c1 {
                            continue; // every tap of this column is padding
                        }
                        let row =
                            &mut dst[((ci * win.kernel[0] + ki) * win.kernel[1] + kj) * l..][..l];
                        for (step, oi) in (r0..r1).enumerate() {
                            let ii = (i0 + (step * win.stride[0]) as isize) as usize;
                            let srow = &plane[ii * w..][..w];
                            let drow = &mut row[oi * ow..][..ow];
                            if win.stride[1] == 1 {
                                let j = j0 as usize;
                                drow[c0..c1].copy_from_slice(&srow[j..j + (c1 - c0)]);
                            } else {
                                for (t, d) in drow[c0..c1].iter_mut().enumerate() {
                                    *d = srow[j0 as usize + t * win.stride[1]];
                                }
                            }
                        }
                    }
                }
            }
        };
        if per > 0 {
            if total >= super::PAR_MIN && n > 1 {
                out.par_chunks_mut(per).enumerate().for_each(fill);
            } else {
                out.chunks_mut(per).enumerate().for_each(fill);
            }
        }
        Tensor::from_parts(out, &shape)
    }

    /// For max pooling: per plane (`[N, C]` flattened) and window, the
    /// index within the plane (`i·W + j`) of the window's first maximum
    /// (a NaN counts as the maximum, as in PyTorch; padding never wins),
    /// laid out `[N·C, oh·ow]`.
    ///
    /// # Panics
    /// When the tensor is not rank 4 or the window does not fit or holds
    /// no input element.
    #[track_caller]
    pub fn max_pool2d_indices(&self, win: Window2d) -> Vec<usize> {
        let [n, c, h, w] = nchw("max_pool2d", self.shape());
        let [oh, ow] = out_size("max_pool2d", &win, [h, w]);
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let mut out = vec![usize::MAX; n * c * oh * ow];
        let per = oh * ow;
        if per == 0 || h * w == 0 {
            return out;
        }
        // Tap by tap in window order (so strict `>` keeps the first
        // maximum), each over every output position it reaches: straight
        // loops over rows instead of a bounds check per tap and window.
        let fill = |(p, dst): (usize, &mut [usize])| {
            let plane = &src[p * h * w..][..h * w];
            let mut best = vec![T::neg_infinity(); per];
            for ki in 0..win.kernel[0] {
                let (r0, r1, i0) = win.valid(0, ki, h, oh);
                for kj in 0..win.kernel[1] {
                    let (c0, c1, j0) = win.valid(1, kj, w, ow);
                    if c0 >= c1 {
                        continue;
                    }
                    for (step, oi) in (r0..r1).enumerate() {
                        let ii = (i0 + (step * win.stride[0]) as isize) as usize;
                        let srow = &plane[ii * w..][..w];
                        let at = oi * ow;
                        for (t, oj) in (c0..c1).enumerate() {
                            let jj = j0 as usize + t * win.stride[1];
                            let v = srow[jj];
                            let (b, d) = (&mut best[at + oj], &mut dst[at + oj]);
                            if *d == usize::MAX || (!b.is_nan() && (v > *b || v.is_nan())) {
                                *b = v;
                                *d = ii * w + jj;
                            }
                        }
                    }
                }
            }
            assert!(
                !dst.contains(&usize::MAX),
                "max_pool2d: a window {win:?} holds only padding"
            );
        };
        if out.len() >= super::PAR_MIN / 4 && n * c > 1 {
            out.par_chunks_mut(per).enumerate().for_each(fill);
        } else {
            out.chunks_mut(per).enumerate().for_each(fill);
        }
        out
    }

    /// The adjoint of [`Tensor::unfold2d`]: columns `[N, C·kh·kw, oh·ow]`
    /// summed back into an `[N, C, H, W]` tensor of spatial `size`, each
    /// tap added where it was read (taps in the padding are dropped).
    /// PyTorch: `F.fold`.
    ///
    /// # Panics
    /// When the columns' shape does not fit the window and `size`.
    #[track_caller]
    pub fn fold2d(&self, win: Window2d, size: [usize; 2]) -> Self {
        let [h, w] = size;
        let [oh, ow] = out_size("fold2d", &win, size);
        let (taps, l) = (win.taps(), oh * ow);
        let s = self.shape();
        let ok = s.len() == 3 && taps > 0 && s[1].is_multiple_of(taps) && s[2] == l;
        assert!(
            ok,
            "fold2d: columns of shape {s:?} do not fit window {win:?} over {size:?} (expected [N, C·{taps}, {l}]), called at {}",
            std::panic::Location::caller()
        );
        let (n, c) = (s[0], s[1] / taps);
        let shape = [n, c, h, w];
        let total = crate::layout::numel_or_panic("fold2d", &shape);
        let cols = self.contiguous();
        let src = cols.as_slice().expect("contiguous");
        let mut out = crate::pool::zeroed(total);
        let per = c * h * w;
        let fill = |(b, dst): (usize, &mut [T])| {
            let cols = &src[b * c * taps * l..][..c * taps * l];
            for ci in 0..c {
                let plane = &mut dst[ci * h * w..][..h * w];
                for ki in 0..win.kernel[0] {
                    let (r0, r1, i0) = win.valid(0, ki, h, oh);
                    for kj in 0..win.kernel[1] {
                        let (c0, c1, j0) = win.valid(1, kj, w, ow);
                        if c0 >= c1 {
                            continue; // every tap of this column is padding
                        }
                        let row =
                            &cols[((ci * win.kernel[0] + ki) * win.kernel[1] + kj) * l..][..l];
                        for (step, oi) in (r0..r1).enumerate() {
                            let ii = (i0 + (step * win.stride[0]) as isize) as usize;
                            let drow = &mut plane[ii * w..][..w];
                            let srow = &row[oi * ow..][..ow];
                            let j = j0 as usize;
                            if win.stride[1] == 1 {
                                let d = &mut drow[j..j + (c1 - c0)];
                                d.iter_mut()
                                    .zip(&srow[c0..c1])
                                    .for_each(|(d, &v)| *d = *d + v);
                            } else {
                                for (t, &v) in srow[c0..c1].iter().enumerate() {
                                    let d = &mut drow[j + t * win.stride[1]];
                                    *d = *d + v;
                                }
                            }
                        }
                    }
                }
            }
        };
        if per > 0 {
            if total >= super::PAR_MIN && n > 1 {
                out.par_chunks_mut(per).enumerate().for_each(fill);
            } else {
                out.chunks_mut(per).enumerate().for_each(fill);
            }
        }
        Tensor::from_parts(out, &shape)
    }
}
