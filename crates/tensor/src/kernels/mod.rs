//! The compute kernels. Each file holds one family; this module holds the
//! shared strided map/zip machinery and the parallelism threshold.

pub mod approx;
pub mod attention;
mod attention_rows;
pub mod binary;
pub mod conv;
pub mod fuse;
// index arithmetic reviewed as in `layout` (see lib.rs)
#[warn(clippy::arithmetic_side_effects)]
pub mod index;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod reduce;
pub mod softmax;
mod tile;
pub(crate) mod transpose;
pub mod unary;
mod wide;
pub mod window;

use crate::element::Element;
use crate::layout::{Layout, RowWalker};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Below this many elements a kernel runs on the calling thread: handing
/// work to rayon costs microseconds, which small tensors must not pay.
/// Measured with `examples/profile_w3.rs` (W3, 2 threads, 3 runs each):
/// 2^16 gave 1.51–1.63 ms per step, 2^17 1.57–1.73, 2^18 1.73–1.96, and
/// the first setting, 2^15, ~1.7–1.8 (its [128, 256] activations were
/// split across threads for no gain).
pub const PAR_MIN: usize = 1 << 16;

/// True when a kernel over `n` elements should split them across threads:
/// at least [`PAR_MIN`] of them, and more than one thread to share with
/// (on a one-thread pool, handing work to it from outside only adds the
/// wake-up of its worker to every op).
#[inline]
pub(crate) fn parallel(n: usize) -> bool {
    n >= PAR_MIN && rayon::current_num_threads() > 1
}

/// Elements per task when a kernel runs in parallel.
pub(crate) const PAR_CHUNK: usize = 1 << 14;

/// Calls `f(i, piece)` on each `chunk`-element piece of `out` (the `i`-th
/// starts at `i * chunk`), the pieces shared among the pool's threads.
///
/// The kernels generic over an elementwise closure split their work here,
/// through one type-erased callback, rather than with rayon's iterators
/// directly: those are generic over the closure they run, and each
/// kernel × closure (every unary op, every zip) compiled its own copy of
/// rayon's splitting and joining — most of this crate's compile time, paid
/// again by every binary using it. The price is one indirect call per
/// piece of thousands of elements.
pub(crate) fn par_pieces<T: Send>(
    out: &mut [T],
    chunk: usize,
    f: &(dyn Fn(usize, &mut [T]) + Sync),
) {
    if rayon::current_num_threads() == 1 {
        // on one thread, in place: handing the work to rayon's one worker
        // and waiting for it cost ~0.3 ms of a 2 ms W3 step (1 thread)
        out.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, piece)| f(i, piece));
        return;
    }
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, piece)| f(i, piece));
}

/// The `i`-th `chunk`-element piece of `src`, as long as `like` (the
/// matching piece of an output that [`par_pieces`] handed out).
#[inline]
pub(crate) fn piece<T>(src: &[T], i: usize, chunk: usize, like: usize) -> &[T] {
    &src[i * chunk..i * chunk + like]
}

/// Applies `f` to each element of a dense slice into a new vector.
///
/// Each task runs a plain loop over its chunk, so that with `f` inlined
/// (the elementwise functions are `#[inline(always)]` where they are
/// large) the loop vectorises.
#[inline]
pub(crate) fn map_slice<T: Element, F: Fn(T) -> T + Sync + Send>(
    src: &[T],
    f: F,
) -> crate::pool::Buf<T> {
    if src.len() <= crate::pool::INLINE {
        // filled as a fixed-size array: SmallVec's generic `extend` costs
        // more than the op itself on one element
        // (inside `wide` too: f32's exp and GELU use fused multiply-adds,
        // a call into the C library per step outside it)
        let mut buf = [T::zero(); crate::pool::INLINE];
        wide::wide(
            #[inline(always)]
            || {
                for (o, &x) in buf.iter_mut().zip(src) {
                    *o = f(x);
                }
            },
        );
        return crate::pool::Buf::from_buf_and_len(buf, src.len());
    }
    if src.len() < PAR_MIN {
        // small: computed block by block into a small stack buffer (a loop that
        // vectorises) and appended to an empty vector: no zero fill first
        let mut out = crate::pool::take(src.len());
        let mut block = [T::zero(); 256];
        for s in src.chunks(256) {
            let block = &mut block[..s.len()];
            wide::wide(
                #[inline(always)]
                || {
                    for (o, &x) in block.iter_mut().zip(s) {
                        *o = f(x);
                    }
                },
            );
            out.extend_from_slice(block);
        }
        return crate::pool::Buf::from_vec(out);
    }
    let mut out = crate::pool::overwritable(src.len());
    par_pieces(&mut out, PAR_CHUNK, &|i, o| {
        let s = piece(src, i, PAR_CHUNK, o.len());
        wide::wide(
            #[inline(always)]
            || {
                for (o, &x) in o.iter_mut().zip(s) {
                    *o = f(x);
                }
            },
        )
    });
    crate::pool::Buf::from_vec(out)
}

/// Applies `f` in place over a dense slice.
#[inline]
pub(crate) fn map_in_place<T: Element, F: Fn(T) -> T + Sync + Send>(dst: &mut [T], f: F) {
    let fill = |c: &mut [T]| {
        wide::wide(
            #[inline(always)]
            || {
                for x in c.iter_mut() {
                    *x = f(*x);
                }
            },
        )
    };
    if parallel(dst.len()) {
        par_pieces(dst, PAR_CHUNK, &|_, c| fill(c));
    } else {
        fill(dst);
    }
}

/// The general strided kernel: `out[i] = f([in_0[i], .., in_K[i]])` over the
/// layouts (already broadcast to `shape`), walking rows and looping over the
/// last axis with its strides; rows are split across threads when large.
pub(crate) fn zip_strided<T: Element, const K: usize, F>(
    inputs: [(&[T], &Layout); K],
    shape: &[usize],
    f: F,
) -> Vec<T>
where
    F: Fn([T; K]) -> T + Sync + Send,
{
    let n: usize = shape.iter().product();
    // every row is written below
    let mut out = crate::pool::overwritable(n);
    if n == 0 {
        return out;
    }
    // the longest rows the layouts allow (same elements, same order)
    let (shape, layouts) = crate::layout::coalesce(shape, inputs.map(|(_, l)| l));
    let (shape, layouts) = (&shape[..], layouts.each_ref());
    let last = *shape.last().unwrap_or(&1);
    let steps = layouts.map(|l| *l.strides.last().unwrap_or(&0));
    let fill = |chunk: &mut [T], start_row: usize| {
        let mut walk = RowWalker::new(shape, layouts, start_row);
        // Operands not dense along the last axis are gathered into a
        // scratch row, so the inner loop always runs over plain slices
        // (and vectorises).
        let mut scratch: [Vec<T>; K] = std::array::from_fn(|k| {
            if steps[k] == 1 {
                Vec::new()
            } else {
                vec![T::zero(); last]
            }
        });
        for row in chunk.chunks_mut(last) {
            let base = walk.next_row();
            for k in 0..K {
                let src = inputs[k].0;
                match steps[k] {
                    1 => {}
                    // one value along the row (a bias over an image plane)
                    0 => scratch[k].fill(src[base[k]]),
                    step => {
                        for (j, s) in scratch[k].iter_mut().enumerate() {
                            *s = src[base[k] + j * step];
                        }
                    }
                }
            }
            let rows: [&[T]; K] = std::array::from_fn(|k| {
                if steps[k] == 1 {
                    &inputs[k].0[base[k]..base[k] + last]
                } else {
                    &scratch[k][..last]
                }
            });
            let row = &mut row[..last];
            wide::wide(
                #[inline(always)]
                || {
                    if K == 2 {
                        // binary ops: two zipped slices (no indexing), which
                        // vectorises where the general form does not
                        let pairs = row.iter_mut().zip(rows[0]).zip(rows[K - 1]);
                        for ((o, &a), &b) in pairs {
                            *o = f(std::array::from_fn(|k| if k == 0 { a } else { b }));
                        }
                        return;
                    }
                    for (j, o) in row.iter_mut().enumerate() {
                        *o = f(std::array::from_fn(|k| rows[k][j]));
                    }
                },
            );
        }
    };
    if parallel(n) {
        let rows_per = PAR_CHUNK.div_ceil(last).max(1);
        par_pieces(&mut out, rows_per * last, &|i, chunk| {
            fill(chunk, i * rows_per)
        });
    } else {
        fill(&mut out, 0);
    }
    out
}

impl<T: Element> Tensor<T> {
    /// Applies `f` to every element: a new contiguous tensor of the same
    /// shape.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let t = Tensor::<f32>::arange(0.0, 3.0, 1.0).map(|x| x * 10.0);
    /// assert_eq!(t.to_vec(), vec![0.0, 10.0, 20.0]);
    /// ```
    pub fn map<F: Fn(T) -> T + Sync + Send>(&self, f: F) -> Self {
        match self.as_slice() {
            Some(s) => Tensor::from_buf(map_slice(s, f), self.shape()),
            None => {
                let mut v = self.to_vec();
                map_in_place(&mut v, f);
                Tensor::from_parts(v, self.shape())
            }
        }
    }

    /// As [`Tensor::map`], but writes into this tensor's buffer when no other
    /// tensor shares it (no allocation, no page faults for large tensors).
    pub fn map_owned<F: Fn(T) -> T + Sync + Send>(mut self, f: F) -> Self {
        if self.is_unique_dense() {
            let buf = std::sync::Arc::get_mut(&mut self.data).expect("checked unique");
            map_in_place(buf, f);
            self
        } else {
            self.map(f)
        }
    }
}
