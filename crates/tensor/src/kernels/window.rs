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
    /// `0..size`, as a range, and that coordinate for the first of them
    /// (when the range is empty, a coordinate that may lie past `size`).
    #[inline]
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

    /// `valid` for every window offset along axis `a`, computed once per
    /// call instead of once per channel.
    fn valid_table(&self, a: usize, size: usize, out: usize) -> Vec<(usize, usize, isize)> {
        (0..self.kernel[a])
            .map(|k| self.valid(a, k, size, out))
            .collect()
    }

    /// For output position `o` along axis `a`: the input coordinate of its
    /// first tap inside `0..size` and how many of its taps are inside
    /// (taps step by the dilation).
    fn taps_inside(&self, a: usize, o: usize, size: usize) -> (usize, usize) {
        let (d, k) = (self.dilation[a] as isize, self.kernel[a] as isize);
        let start = (o * self.stride[a]) as isize - self.padding[a] as isize;
        let first = if start >= 0 { 0 } else { (-start + d - 1) / d };
        let end = if size as isize <= start {
            0
        } else {
            ((size as isize - start + d - 1) / d).min(k)
        };
        let count = (end - first).max(0) as usize;
        ((start + first * d).max(0) as usize, count)
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
        self.unfold_columns("unfold2d", win, pad, false)
    }

    /// [`Tensor::unfold2d`] with the batch axis moved inside:
    /// `[C·kh·kw, N, oh·ow]` (that is, `unfold2d(..).permute(&[1, 0, 2])`,
    /// written in that order directly). Viewed as `[C·kh·kw, N·oh·ow]`,
    /// a convolution over the whole batch is one matrix product instead of
    /// one per image, which is faster when each image has few windows.
    ///
    /// ```
    /// use mnemon_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::arange(0.0, 18.0, 1.0).reshape(&[2, 1, 3, 3]).unwrap();
    /// let win = Window2d::new([2, 2]);
    /// let cols = x.unfold2d_by_tap(win, 0.0);
    /// assert_eq!(cols.shape(), &[4, 2, 4]);
    /// assert_eq!(cols, x.unfold2d(win, 0.0).permute(&[1, 0, 2]).contiguous());
    /// ```
    ///
    /// # Panics
    /// As [`Tensor::unfold2d`].
    #[track_caller]
    pub fn unfold2d_by_tap(&self, win: Window2d, pad: T) -> Self {
        self.unfold_columns("unfold2d_by_tap", win, pad, true)
    }

    /// `unfold2d` (`by_tap` false) or `unfold2d_by_tap` (true).
    #[track_caller]
    fn unfold_columns(&self, op: &str, win: Window2d, pad: T, by_tap: bool) -> Self {
        let [n, c, h, w] = nchw(op, self.shape());
        let [oh, ow] = out_size(op, &win, [h, w]);
        let (taps, l) = (win.taps(), oh * ow);
        let shape = if by_tap {
            [c * taps, n, l]
        } else {
            [n, c * taps, l]
        };
        let total = crate::layout::numel_or_panic(op, &shape);
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let plane = |b: usize, ci: usize| &src[(b * c + ci) * h * w..][..h * w];
        // every element is written below, padding included (one pass over
        // the columns, not a fill and then the copies)
        let mut out = crate::pool::overwritable(total);
        let writer = Taps::new(&win, [h, w], [oh, ow]);
        // Rows are written in memory order within a chunk: a row's copy
        // may write past its end into the next one, written after it.
        if by_tap {
            // a chunk is one tap of one channel, over every image
            each_chunk(&mut out, n * l, |(t, dst)| {
                let tap = &writer.table[t % taps];
                super::wide::wide(
                    #[inline(always)]
                    || {
                        for b in 0..n {
                            writer.write(&mut dst[b * l..], plane(b, t / taps), tap, pad);
                        }
                    },
                )
            });
        } else {
            // a chunk is one image, every channel and tap
            each_chunk(&mut out, c * taps * l, |(b, dst)| {
                super::wide::wide(
                    #[inline(always)]
                    || {
                        for ci in 0..c {
                            for (k, tap) in writer.table.iter().enumerate() {
                                let dst = &mut dst[(ci * taps + k) * l..];
                                writer.write(dst, plane(b, ci), tap, pad);
                            }
                        }
                    },
                )
            });
        }
        Tensor::from_parts(out, &shape)
    }

    /// Max pooling: each window's maximum, `[N, C, oh, ow]`, and, per
    /// plane (`[N, C]` flattened) and window, the index within the plane
    /// (`i·W + j`) of the window's first maximum, laid out `[N·C, oh·ow]`
    /// (a NaN counts as the maximum, as in PyTorch; padding never wins).
    ///
    /// A window whose taps all fall in the padding (a dilated window can
    /// step over the input) holds no element: its maximum is −∞, as in
    /// PyTorch, and its index `H·W`, one past the plane (PyTorch's points
    /// at an element the window does not hold).
    ///
    /// ```
    /// use mnemon_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::from_vec(vec![1., 5., 5., 2.], &[1, 1, 2, 2]).unwrap();
    /// let (y, at) = x.max_pool2d_with_indices(Window2d::new([2, 2]));
    /// assert_eq!((y.to_vec(), at), (vec![5.], vec![1])); // the first of the tied 5s
    /// // a 1-wide input, taps 2 apart, padding 1: the window reads -1 and 1
    /// let x = Tensor::<f32>::from_vec(vec![7.], &[1, 1, 1, 1]).unwrap();
    /// let win = Window2d::new([1, 2]).padding([0, 1]).dilation([1, 2]);
    /// let (y, at) = x.max_pool2d_with_indices(win);
    /// assert_eq!((y.to_vec(), at), (vec![f32::NEG_INFINITY], vec![1]));
    /// ```
    ///
    /// # Panics
    /// When the tensor is not rank 4 or the window does not fit.
    #[track_caller]
    pub fn max_pool2d_with_indices(&self, win: Window2d) -> (Self, Vec<usize>) {
        let [n, c, h, w] = nchw("max_pool2d", self.shape());
        let [oh, ow] = out_size("max_pool2d", &win, [h, w]);
        let shape = [n, c, oh, ow];
        let total = crate::layout::numel_or_panic("max_pool2d", &shape);
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        // every window writes its maximum
        let mut vals = crate::pool::overwritable(total);
        let mut at = vec![0; total];
        let per = oh * ow;
        let rows: Vec<_> = (0..oh).map(|o| win.taps_inside(0, o, h)).collect();
        let cols: Vec<_> = (0..ow).map(|o| win.taps_inside(1, o, w)).collect();
        let (tap_rows, tap_cols) = (win.valid_table(0, h, oh), win.valid_table(1, w, ow));
        let s1 = win.stride[1];
        // Tap by tap in window order, each over a row of windows, so a
        // strict `>` keeps the first maximum (once a NaN is the best it
        // stays). A tap's values are first copied out of the strided input
        // row, so the comparisons run over contiguous rows with no branch
        // on the data (which tap wins is unpredictable; 4× faster than a
        // window at a time). The best starts at -∞ and its argument at
        // the window's first tap, which is right when every tap is -∞
        // (and one past the plane for a window with no tap inside).
        let fill = |(p, (vdst, adst)): (usize, (&mut [T], &mut [usize]))| {
            let plane = &src[p * h * w..][..h * w];
            if win == Window2d::new([2, 2]).stride([2, 2]) {
                pool_2x2(plane, w, vdst, adst);
                return;
            }
            let taps = &mut vec![T::zero(); ow][..];
            let outs = vdst.chunks_exact_mut(ow).zip(adst.chunks_exact_mut(ow));
            for (oi, ((best, arg), &(i0, hits))) in outs.zip(&rows).enumerate() {
                best.fill(T::neg_infinity());
                for (a, &(j0, n)) in arg.iter_mut().zip(&cols) {
                    *a = if hits == 0 || n == 0 {
                        h * w
                    } else {
                        i0 * w + j0
                    };
                }
                for &(r0, r1, ii0) in &tap_rows {
                    if !(r0..r1).contains(&oi) {
                        continue;
                    }
                    let ii = (ii0 + ((oi - r0) * win.stride[0]) as isize) as usize;
                    for &(c0, c1, j0) in &tap_cols {
                        if c0 >= c1 {
                            // no window reads this tap inside the input (and
                            // `j0` is then past the row)
                            continue;
                        }
                        let first = ii * w + j0 as usize;
                        let taps = &mut taps[c0..c1];
                        let row = plane[first..].iter().step_by(s1);
                        taps.iter_mut().zip(row).for_each(|(t, &x)| *t = x);
                        let outs = best[c0..c1].iter_mut().zip(&mut arg[c0..c1]);
                        for (t, ((b, a), &x)) in outs.zip(&*taps).enumerate() {
                            let wins = beats(x, *b);
                            *b = if wins { x } else { *b };
                            *a = if wins { first + t * s1 } else { *a };
                        }
                    }
                }
            }
        };
        if per > 0 {
            if super::parallel(total.saturating_mul(4)) && n * c > 1 {
                let par = vals.par_chunks_mut(per).zip(at.par_chunks_mut(per));
                par.enumerate().for_each(fill);
            } else {
                let chunks = vals.chunks_mut(per).zip(at.chunks_mut(per));
                chunks.enumerate().for_each(fill);
            }
        }
        (Tensor::from_parts(vals, &shape), at)
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
        self.fold_columns("fold2d", win, size, false)
    }

    /// The adjoint of [`Tensor::unfold2d_by_tap`]: columns
    /// `[C·kh·kw, N, oh·ow]` summed back into `[N, C, H, W]`, as
    /// [`Tensor::fold2d`] of the columns with their two first axes swapped.
    ///
    /// ```
    /// use mnemon_tensor::{Tensor, Window2d};
    /// let win = Window2d::new([2, 2]);
    /// let cols = Tensor::<f32>::ones(&[4, 2, 4]);
    /// let x = cols.fold2d_by_tap(win, [3, 3]);
    /// assert_eq!(x, cols.permute(&[1, 0, 2]).fold2d(win, [3, 3]));
    /// assert_eq!(x.to_vec()[..3], [1.0, 2.0, 1.0]); // how many windows read each pixel
    /// ```
    ///
    /// # Panics
    /// When the columns' shape does not fit the window and `size`.
    #[track_caller]
    pub fn fold2d_by_tap(&self, win: Window2d, size: [usize; 2]) -> Self {
        self.fold_columns("fold2d_by_tap", win, size, true)
    }

    /// `fold2d` (`by_tap` false) or `fold2d_by_tap` (true).
    #[track_caller]
    fn fold_columns(&self, op: &str, win: Window2d, size: [usize; 2], by_tap: bool) -> Self {
        let [h, w] = size;
        let [oh, ow] = out_size(op, &win, size);
        let (taps, l) = (win.taps(), oh * ow);
        let s = self.shape();
        let ok = s.len() == 3 && taps > 0 && s[2] == l;
        let (n, ctaps) = if by_tap {
            (s.get(1), s.first())
        } else {
            (s.first(), s.get(1))
        };
        let (n, ctaps) = (n.copied().unwrap_or(0), ctaps.copied().unwrap_or(0));
        let expected = if by_tap {
            "[C·taps, N, L]"
        } else {
            "[N, C·taps, L]"
        };
        assert!(
            ok && ctaps.is_multiple_of(taps),
            "{op}: columns of shape {s:?} do not fit window {win:?} over {size:?} (expected {expected} with {taps} taps and L = {l}), called at {}",
            std::panic::Location::caller()
        );
        let c = ctaps / taps;
        let shape = [n, c, h, w];
        let total = crate::layout::numel_or_panic(op, &shape);
        let cols = self.contiguous();
        let src = cols.as_slice().expect("contiguous");
        // where the row of tap `k` of channel `ci` of image `b` starts
        let row_at = |b: usize, ci: usize, k: usize| {
            if by_tap {
                ((ci * taps + k) * n + b) * l
            } else {
                ((b * c + ci) * taps + k) * l
            }
        };
        let mut out = crate::pool::zeroed(total);
        let taps_of = Taps::new(&win, [h, w], [oh, ow]);
        let plane_len = h * w;
        if by_tap {
            // the images split into one run per thread; within a run, one
            // tap at a time over its images, so the columns are read in
            // order (a tap's rows for consecutive images are adjacent)
            let threads = if super::parallel(total) {
                rayon::current_num_threads()
            } else {
                1
            };
            let run = n.div_ceil(threads).max(1);
            each_chunk(&mut out, run * c * plane_len, |(r, dst)| {
                let images = dst.len() / (c * plane_len).max(1);
                super::wide::wide(
                    #[inline(always)]
                    || {
                        for ci in 0..c {
                            for (k, tap) in taps_of.table.iter().enumerate() {
                                for i in 0..images {
                                    let plane = &mut dst[(i * c + ci) * plane_len..][..plane_len];
                                    taps_of.add(plane, &src[row_at(r * run + i, ci, k)..], tap);
                                }
                            }
                        }
                    },
                )
            });
        } else {
            each_chunk(&mut out, c * plane_len, |(b, dst)| {
                super::wide::wide(
                    #[inline(always)]
                    || {
                        for ci in 0..c {
                            let plane = &mut dst[ci * plane_len..][..plane_len];
                            for (k, tap) in taps_of.table.iter().enumerate() {
                                taps_of.add(plane, &src[row_at(b, ci, k)..], tap);
                            }
                        }
                    },
                )
            });
        }
        Tensor::from_parts(out, &shape)
    }
}

/// Runs `fill` on each `per`-long chunk of `out` with its index, in
/// parallel when the work is large and there is more than one chunk.
fn each_chunk<T: Element>(
    out: &mut [T],
    per: usize,
    fill: impl Fn((usize, &mut [T])) + Sync + Send,
) {
    if per == 0 {
        return;
    }
    if super::parallel(out.len()) && out.len() > per {
        out.par_chunks_mut(per).enumerate().for_each(fill);
    } else {
        out.chunks_mut(per).enumerate().for_each(fill);
    }
}

/// Where one tap of a window (`k = i·kw + j`) reads within a plane: the
/// output rows and columns whose tap lies inside the plane (not in the
/// padding), and the plane index read at the first of them.
struct Tap {
    rows: (usize, usize),
    cols: (usize, usize),
    /// `None` when every position of this tap is padding
    from: Option<usize>,
}

impl Tap {
    /// Every tap of `win` over a plane of `size` with output `out`,
    /// computed once per call rather than once per image and channel.
    fn table(win: &Window2d, size: [usize; 2], out: [usize; 2]) -> Vec<Tap> {
        let rows = win.valid_table(0, size[0], out[0]);
        let cols = win.valid_table(1, size[1], out[1]);
        let tap = |k: usize| {
            let (r0, r1, i0) = rows[k / win.kernel[1]];
            let (c0, c1, j0) = cols[k % win.kernel[1]];
            // a non-empty range starts at a coordinate inside the plane
            let from = (r0 < r1 && c0 < c1).then(|| i0 as usize * size[1] + j0 as usize);
            Tap {
                rows: (r0, r1),
                cols: (c0, c1),
                from,
            }
        };
        (0..win.taps()).map(tap).collect()
    }
}

/// Every tap of a window over a plane, and how their rows are laid out:
/// what `unfold` writes and `fold` adds, one tap's row of columns at a
/// time.
struct Taps {
    table: Vec<Tap>,
    /// plane elements between the rows a tap reads, and between its columns
    step: usize,
    stride: usize,
    /// the output's width, and windows per plane
    ow: usize,
    l: usize,
}

impl Taps {
    fn new(win: &Window2d, size: [usize; 2], [oh, ow]: [usize; 2]) -> Self {
        Taps {
            table: Tap::table(win, size, [oh, ow]),
            step: win.stride[0] * size[1],
            stride: win.stride[1],
            ow,
            l: oh * ow,
        }
    }

    /// Writes the row of columns of `tap` over `plane` into `dst[..l]`,
    /// positions in the padding reading `pad`; a short copy may write
    /// past `l` into the rest of `dst`, which the caller writes afterwards.
    #[inline(always)]
    fn write<T: Element>(&self, dst: &mut [T], plane: &[T], tap: &Tap, pad: T) {
        let (ow, l) = (self.ow, self.l);
        let Some(from) = tap.from else {
            dst[..l].fill(pad);
            return;
        };
        let ((r0, r1), (c0, c1)) = (tap.rows, tap.cols);
        // the copies first, in order: a short one may write a whole 16- or
        // 32-wide chunk, past its end into places written after it
        let len = c1 - c0;
        for (q, oi) in (r0..r1).enumerate() {
            let (at, src) = (oi * ow + c0, from + q * self.step);
            let fast = self.stride == 1
                && match len {
                    0..=16 => copy_chunk::<T, 16>(dst, at, plane, src),
                    17..=32 => copy_chunk::<T, 32>(dst, at, plane, src),
                    _ => false,
                };
            if !fast {
                let taps = plane[src..].iter().step_by(self.stride);
                let drow = &mut dst[at..at + len];
                drow.iter_mut().zip(taps).for_each(|(d, &v)| *d = v);
            }
        }
        // then the padding around them
        let row = &mut dst[..l];
        if r0 > 0 {
            row[..r0 * ow].fill(pad);
        }
        if r1 * ow < l {
            row[r1 * ow..].fill(pad);
        }
        if c0 > 0 || c1 < ow {
            for oi in r0..r1 {
                let drow = &mut row[oi * ow..][..ow];
                drow[..c0].fill(pad);
                drow[c1..].fill(pad);
            }
        }
    }

    /// Adds the row of columns of `tap` (`row[..l]`; `row` may run on
    /// past it) into `plane` where it was read. Short rows are added as
    /// whole 16- or 32-wide chunks; consecutive chunks are kept from
    /// overlapping (every other row first, then the rest, when two rows
    /// are closer than a chunk): a load that overlaps a store still in
    /// flight waits for it, which made the fold 1.6× slower.
    #[inline(always)]
    fn add<T: Element>(&self, plane: &mut [T], row: &[T], tap: &Tap) {
        let Some(from) = tap.from else {
            return; // every tap of this row is padding
        };
        let ((r0, r1), (c0, c1)) = (tap.rows, tap.cols);
        let len = c1 - c0;
        let chunk: usize = if len <= 16 { 16 } else { 32 };
        let passes = if self.stride == 1 && len <= 32 {
            chunk.div_ceil(self.step.max(1))
        } else {
            1
        };
        for pass in 0..passes {
            for q in (pass..r1 - r0).step_by(passes) {
                let (at, src) = (from + q * self.step, (r0 + q) * self.ow + c0);
                let fast = self.stride == 1
                    && match len {
                        0..=16 => add_chunk::<T, 16>(plane, at, row, src, len),
                        17..=32 => add_chunk::<T, 32>(plane, at, row, src, len),
                        _ => false,
                    };
                if !fast {
                    let taps = plane[at..].iter_mut().step_by(self.stride);
                    taps.zip(&row[src..src + len])
                        .for_each(|(d, &v)| *d = *d + v);
                }
            }
        }
    }
}

/// Copies `N` elements from `src[from..]` to `dst[at..]` as one fixed-size
/// chunk (a row of at most `N` and what follows it, overwritten by the
/// caller afterwards), if both have room; `false` (nothing copied) if not.
/// Rows of an image are tens of elements: a copy of fixed size has no
/// loop and no call into `memcpy`.
#[inline(always)]
fn copy_chunk<T: Copy, const N: usize>(dst: &mut [T], at: usize, src: &[T], from: usize) -> bool {
    match (dst.get_mut(at..at + N), src.get(from..from + N)) {
        (Some(d), Some(s)) => {
            d.copy_from_slice(s);
            true
        }
        _ => false,
    }
}

/// Adds `src[from..from + len]` into `dst[at..]` as one fixed-size chunk
/// of `N` (`len ≤ N`) if both have room; `false` (nothing added) if not.
/// The lanes past `len` add −0, which leaves every value as it was (−0
/// included, where +0 would turn it into +0), so the chunk may cover the
/// elements after the row.
#[inline(always)]
fn add_chunk<T: Element, const N: usize>(
    dst: &mut [T],
    at: usize,
    src: &[T],
    from: usize,
    len: usize,
) -> bool {
    let (Some(d), Some(s)) = (dst.get_mut(at..at + N), src.get(from..from + N)) else {
        return false;
    };
    let (d, s): (&mut [T; N], &[T; N]) = (d.try_into().expect("N"), s.try_into().expect("N"));
    T::add_first(d, s, len);
    true
}

/// Whether tap `x` replaces the best so far: strictly greater (so the
/// first maximum wins), or the first NaN (PyTorch: NaN is the maximum).
#[inline(always)]
fn beats<T: Element>(x: T, best: T) -> bool {
    (x > best) | (x.is_nan() & !best.is_nan())
}

/// Windows per batch of [`pool_2x2`]: the four taps of this many windows
/// and their first indices fill 1.5–2.5 KB of stack, zeroed per plane (at
/// 256 the zeroing alone cost a fifth of the pool).
const POOL_RUN: usize = 64;

/// The most common pool, 2×2 windows with stride 2 and no padding, over
/// one plane of width `w`. Written for it alone because its fixed shape
/// lets the compiler unroll the window (3–4× faster than the general
/// loop). Whole rows of windows at a time, up to [`POOL_RUN`] windows:
/// their four taps are first copied apart, then compared over four
/// contiguous runs, which vectorise inside `wide` — a row at a time they
/// did not, LeNet's rows of 14 and 5 windows being shorter than a vector
/// (both of W6's pools: 0.268 → 0.211 ms, min of 12 alternating, 1
/// thread, Zen 4). The window order, and with it the first maximum, is
/// the same. Rows of more than [`POOL_RUN`] windows take
/// [`pool_2x2_rows`].
fn pool_2x2<T: Element>(plane: &[T], w: usize, best: &mut [T], arg: &mut [usize]) {
    let ow = w / 2;
    if ow > POOL_RUN {
        return pool_2x2_rows(plane, w, best, arg);
    }
    super::wide::wide(
        #[inline(always)]
        || pool_2x2_runs(plane, w, best, arg),
    );
}

/// [`pool_2x2`] by batches of whole rows of `w / 2 ≤ POOL_RUN` windows.
#[inline(always)]
fn pool_2x2_runs<T: Element>(plane: &[T], w: usize, best: &mut [T], arg: &mut [usize]) {
    let ow = w / 2;
    let rows = POOL_RUN / ow;
    let mut taps = [[T::zero(); POOL_RUN]; 4];
    let mut first = [0usize; POOL_RUN];
    let outs = best.chunks_mut(rows * ow).zip(arg.chunks_mut(rows * ow));
    for (chunk, (best, arg)) in outs.enumerate() {
        let n = best.len();
        let [t0, t1, u0, u1] = &mut taps;
        for r in 0..n / ow {
            // window row `chunk·rows + r` reads input rows 2·that, 2·that + 1
            let at = 2 * (chunk * rows + r) * w;
            let (top, bottom) = (&plane[at..][..2 * ow], &plane[at + w..][..2 * ow]);
            let k = r * ow..(r + 1) * ow;
            let dst = t0[k.clone()].iter_mut().zip(&mut t1[k.clone()]);
            let dst = dst.zip(u0[k.clone()].iter_mut().zip(&mut u1[k.clone()]));
            let src = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (((a, b), (c, d)), (t, u)) in dst.zip(src) {
                (*a, *b, *c, *d) = (t[0], t[1], u[0], u[1]);
            }
            for (j, f) in first[k].iter_mut().enumerate() {
                *f = at + 2 * j;
            }
        }
        let taps = t0[..n]
            .iter()
            .zip(&t1[..n])
            .zip(u0[..n].iter().zip(&u1[..n]));
        let outs = best.iter_mut().zip(arg.iter_mut());
        for ((b, a), (((&x0, &x1), (&y0, &y1)), &f)) in outs.zip(taps.zip(&first[..n])) {
            // the winning tap, 0 to 3 in window order (a 32-bit code: the
            // loop then vectorises)
            let (mut m, mut tap) = (x0, 0u32);
            let wins = beats(x1, m);
            m = if wins { x1 } else { m };
            tap = if wins { 1 } else { tap };
            let wins = beats(y0, m);
            m = if wins { y0 } else { m };
            tap = if wins { 2 } else { tap };
            let wins = beats(y1, m);
            m = if wins { y1 } else { m };
            tap = if wins { 3 } else { tap };
            *b = m;
            *a = f + (tap & 1) as usize + (tap >> 1) as usize * w;
        }
    }
}

/// [`pool_2x2`] a window at a time, each pair of input rows giving a row
/// of outputs (rows of more than [`POOL_RUN`] windows).
fn pool_2x2_rows<T: Element>(plane: &[T], w: usize, best: &mut [T], arg: &mut [usize]) {
    let ow = w / 2;
    let outs = best.chunks_exact_mut(ow).zip(arg.chunks_exact_mut(ow));
    for (oi, (brow, arow)) in outs.enumerate() {
        let (top, bottom) = (
            &plane[2 * oi * w..][..2 * ow],
            &plane[(2 * oi + 1) * w..][..2 * ow],
        );
        let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for (oj, ((b, a), (t, u))) in brow.iter_mut().zip(arow.iter_mut()).zip(pairs).enumerate() {
            let j = 2 * oj;
            let (mut m, mut at) = (t[0], 2 * oi * w + j);
            for (x, k) in [
                (t[1], 2 * oi * w + j + 1),
                (u[0], (2 * oi + 1) * w + j),
                (u[1], (2 * oi + 1) * w + j + 1),
            ] {
                let wins = beats(x, m);
                m = if wins { x } else { m };
                at = if wins { k } else { at };
            }
            (*b, *a) = (m, at);
        }
    }
}
