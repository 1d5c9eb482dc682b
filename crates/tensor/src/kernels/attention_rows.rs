//! The rows of an attention head: the keys each query row reaches (from
//! its mask, or from its weights, exactly 0 where the mask forbids), and
//! the softmax of a block of rows over those keys in whole vector runs.

use super::reduce::halving;
use super::tile::{width, ROWS};
use crate::element::Element;
use crate::tensor::Tensor;
use std::ops::Range;

/// The keys a query row reaches from its weights: from the first non-zero
/// one to one past the last (empty when none is), a run of [`RUN`] at a
/// time from each end: a causal row is mostly trailing zeros.
///
/// Plain loops over fixed-size runs, not iterator adapters: the caller
/// runs inside `wide`, and an adapter's `fold` that is not inlined there
/// is compiled for the baseline target (SSE2, four lanes and a branch a
/// chunk), which took 8 % of a causal attention's backward.
#[inline(always)]
pub(super) fn weights_reach<T: Element>(row: &[T]) -> Range<usize> {
    let nonzero = |x: T| x != T::zero();
    // a fold, not `any`: no early exit inside a run, one vector compare
    let live = |c: &[T]| c.iter().fold(false, |any, &x| any | nonzero(x));
    let n = row.len();
    let whole = n / RUN * RUN;
    let run_live = |at: usize| {
        let run: &[T; RUN] = row[at..at + RUN].try_into().expect("RUN elements");
        run.iter().fold(false, |any, &x| any | nonzero(x))
    };
    // the first live run (whole runs, then the tail)
    let mut first = 0;
    while first < whole && !run_live(first) {
        first += RUN;
    }
    if first == whole && !live(&row[whole..]) {
        return 0..0;
    }
    // the last live run, from the end: the tail, then whole runs
    let mut end = n;
    if !live(&row[whole..]) {
        end = whole;
        while end > first + RUN && !run_live(end - RUN) {
            end -= RUN;
        }
    }
    // the first and last non-zero lie in the runs found, at most RUN away
    let mut lo = first;
    while !nonzero(row[lo]) {
        lo += 1;
    }
    let mut hi = end;
    while !nonzero(row[hi - 1]) {
        hi -= 1;
    }
    lo..hi
}

/// The smallest range holding every non-empty range of `rs` (the keys a
/// block of query rows reaches).
pub(super) fn union(rs: &[Range<usize>]) -> Range<usize> {
    rs.iter()
        .filter(|r| !r.is_empty())
        .fold(None, |u: Option<Range<usize>>, r| {
            Some(match u {
                Some(u) => u.start.min(r.start)..u.end.max(r.end),
                None => r.clone(),
            })
        })
        .unwrap_or(0..0)
}

/// The query rows that reach any of the keys `keys`: from the first such
/// row to one past the last (a block of keys' inner range in `∂v`, `∂k`).
pub(super) fn rows_reaching(reaches: &[Range<usize>], keys: Range<usize>) -> Range<usize> {
    let hits = |r: &Range<usize>| r.start < keys.end && r.end > keys.start;
    match reaches.iter().position(hits) {
        Some(first) => first..reaches.iter().rposition(hits).unwrap_or(first) + 1,
        None => 0..0,
    }
}

/// A softmax row is computed in whole runs of this many elements (one
/// AVX-512 vector of f32, the tiles' unit): the keys a row reaches,
/// widened to whole runs.
const RUN: usize = 16;

/// `Σ a·b` over two slices of one length, in [`RUN`] lanes (the
/// remainder, at most a run at a row's end, added last).
#[inline(always)]
pub(super) fn run_dot<T: Element>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); RUN];
    let (mut ca, mut cb) = (a.chunks_exact(RUN), b.chunks_exact(RUN));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s = *s + x * y;
        }
    }
    let rest = ca.remainder().iter().zip(cb.remainder());
    rest.fold(halving(acc, |a, b| a + b), |s, (&x, &y)| s + x * y)
}

/// The keys `ks` widened to whole [`RUN`]s.
pub(super) fn runs(ks: &Range<usize>) -> Range<usize> {
    ks.start / RUN * RUN..ks.end.div_ceil(RUN) * RUN
}

/// The mask as an additive bias, a row per query row padded to whole
/// [`RUN`]s: 0 where allowed, −∞ where masked and in the padding. Without
/// a mask, one row that every query row shares (no `[Lq, Lk]` buffer for
/// a mask that is not there).
pub(super) struct Bias<T> {
    data: Vec<T>,
    stride: usize,
    ld: usize,
}

impl<T: Element> Bias<T> {
    /// Query row `i`'s bias, `width(Lk)` long.
    #[inline(always)]
    pub(super) fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.stride..i * self.stride + self.ld]
    }
}

/// The bias of `mask` (or of no mask) over `[Lq, Lk]`, and per query row
/// the keys it reaches: from its first allowed key to one past its last
/// (empty when every key is masked; no mask: every key).
///
/// # Panics
/// When the mask has more than 2 axes or does not broadcast to
/// `[Lq, Lk]`, naming the shapes and the caller's line.
#[track_caller]
pub(super) fn padded_bias<T: Element>(
    mask: Option<&Tensor<T>>,
    lq: usize,
    lk: usize,
) -> (Bias<T>, Vec<Range<usize>>) {
    let ld = width(lk);
    let Some(mask) = mask else {
        let mut data = vec![T::neg_infinity(); ld];
        data[..lk].iter_mut().for_each(|b| *b = T::zero());
        let bias = Bias {
            data,
            stride: 0,
            ld,
        };
        return (bias, vec![0..lk; lq]);
    };
    assert!(
        mask.rank() <= 2,
        "attention: mask of shape {:?} must broadcast to [Lq, Lk] = [{lq}, {lk}] from at most 2 axes, called at {}",
        mask.shape(),
        std::panic::Location::caller()
    );
    let m = mask.broadcast_to(&[lq, lk]).unwrap_or_else(|_| {
        panic!(
            "attention: mask of shape {:?} does not broadcast to [Lq, Lk] = [{lq}, {lk}], called at {}",
            mask.shape(),
            std::panic::Location::caller()
        )
    });
    let n = crate::layout::numel_or_panic("attention", &[lq, ld]);
    // the pool's allocation: a panic the caller can catch if it fails
    let mut data = crate::pool::take(n);
    let mut reaches = Vec::with_capacity(lq);
    for row in m.to_vec().chunks(lk.max(1)).take(lq) {
        let allowed = |x: &T| *x == T::zero();
        reaches.push(match row.iter().position(allowed) {
            Some(first) => first..row.iter().rposition(allowed).unwrap_or(first) + 1,
            None => 0..0,
        });
        data.extend(row.iter().map(|&x| {
            if x != T::zero() {
                T::neg_infinity()
            } else {
                T::zero()
            }
        }));
        data.extend((lk..ld).map(|_| T::neg_infinity()));
    }
    (
        Bias {
            data,
            stride: ld,
            ld,
        },
        reaches,
    )
}

/// The weights of a block of query rows, `w = softmax(x·scale + bias)`
/// row by row over the keys each row reaches (`reaches`; none: a row of
/// zeros), the block's first row being query row `first` of `bias`,
/// computed in place in the rows' scores `x` (row stride `ld`, whole
/// runs) over those keys widened to whole runs (the bias −∞ at every
/// masked key and in the padding): vector loops with no
/// scalar remainders, and each step done for every row of the block
/// before the next, so that the rows' dependency chains (maximum, then
/// exponentials, then sum) overlap. `w` (row stride `lk`) is written in
/// full.
#[inline(always)]
pub(super) fn weights_block<T: Element>(
    w: &mut [T],
    x: &mut [T],
    (bias, first): (&Bias<T>, usize),
    reaches: &[Range<usize>],
    scale: T,
    (lk, ld): (usize, usize),
) {
    let mut tops = [T::zero(); ROWS];
    for ((r, ks), m) in reaches.iter().enumerate().zip(&mut tops) {
        let span = runs(ks);
        let xs = &mut x[r * ld + span.start..r * ld + span.end];
        let bs = &bias.row(first + r)[span.clone()];
        // the largest, by RUN independent maxima (no NaN among them)
        let mut top = [T::neg_infinity(); RUN];
        for (xc, bc) in xs.chunks_exact_mut(RUN).zip(bs.chunks_exact(RUN)) {
            // through locals of known length: written in place, this
            // loop compiled to scalar adds and maxima (15 % of a causal
            // attention's forward)
            let xc: &mut [T; RUN] = xc.try_into().expect("RUN elements");
            let bc: &[T; RUN] = bc.try_into().expect("RUN elements");
            let (mut v, bv) = (*xc, *bc);
            for ((t, x), &b) in top.iter_mut().zip(&mut v).zip(&bv) {
                *x = *x * scale + b;
                *t = if *x > *t { *x } else { *t };
            }
            *xc = v;
        }
        *m = halving(top, |a, b| if b > a { b } else { a });
    }
    let mut sums = [T::one(); ROWS];
    for ((r, ks), (z, &m)) in reaches.iter().enumerate().zip(sums.iter_mut().zip(&tops)) {
        let span = runs(ks);
        let xs = &mut x[r * ld + span.start..r * ld + span.end];
        let mut acc = [T::zero(); RUN];
        for c in xs.chunks_exact_mut(RUN) {
            for (a, v) in acc.iter_mut().zip(c) {
                *v = (*v - m).exp_vectorised();
                *a = *a + *v;
            }
        }
        *z = halving(acc, |a, b| a + b);
    }
    for ((r, ks), &z) in reaches.iter().enumerate().zip(&sums) {
        // one pass over the whole row, scaled by 1/z as PyTorch's CPU
        // softmax does, zeros outside the span: decided a run at a time
        // (the span is whole runs; two fills of run-time length were two
        // `memset` calls, and a select per element compared the
        // elements' 64-bit indices, four compares a vector)
        let span = runs(ks);
        let inv = T::one() / z;
        let (out, xs) = (&mut w[r * lk..(r + 1) * lk], &x[r * ld..r * ld + lk]);
        let (mut oc, mut xc) = (out.chunks_exact_mut(RUN), xs.chunks_exact(RUN));
        for ((o, v), j) in (&mut oc).zip(&mut xc).zip((0..).step_by(RUN)) {
            let o: &mut [T; RUN] = o.try_into().expect("RUN elements");
            let v: &[T; RUN] = v.try_into().expect("RUN elements");
            *o = if j >= span.start && j < span.end {
                v.map(|v| v * inv)
            } else {
                [T::zero(); RUN]
            };
        }
        let j0 = lk / RUN * RUN;
        for ((o, &v), j) in oc.into_remainder().iter_mut().zip(xc.remainder()).zip(j0..) {
            *o = if j >= span.start && j < span.end {
                v * inv
            } else {
                T::zero()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::weights_reach;

    /// From the first non-zero to one past the last, one element at a time.
    fn reach_by_loop(row: &[f32]) -> std::ops::Range<usize> {
        match row.iter().position(|&x| x != 0.0) {
            Some(lo) => lo..row.iter().rposition(|&x| x != 0.0).map_or(lo, |i| i + 1),
            None => 0..0,
        }
    }

    #[test]
    fn reach_is_first_to_last_non_zero() {
        // every length up to past three runs, the non-zeros at every pair
        // of places (one non-zero when they meet), and an all-zero row;
        // -0.0 counts as zero, NaN as non-zero
        for n in 0..50 {
            let mut rows = vec![vec![0.0f32; n]];
            for i in 0..n {
                for j in i..n {
                    let mut row = vec![0.0f32; n];
                    row[i] = 1.0;
                    row[j] = if j % 3 == 0 { f32::NAN } else { 2.0 };
                    let mid = (i + j) / 2 + 1;
                    if mid < j {
                        row[mid..j].fill(-0.0);
                    }
                    rows.push(row);
                }
            }
            for row in rows {
                assert_eq!(weights_reach(&row), reach_by_loop(&row), "{row:?}");
            }
        }
    }
}
