//! Products of small matrices in register tiles, each block of output
//! rows over its own range of the inner index: what one attention head
//! multiplies, where a causal mask leaves half of every product zero.
//!
//! gemm's kernels reach the CPU's peak on large products, but a head's
//! 64×64×32 products are smaller than its packing and dispatch costs, and
//! gemm cannot skip the masked half. Here the right operand is read in
//! rows of whole vectors ([`Padded`]: in place when its rows already are,
//! else copied once per head with zero padding), and each
//! block of [`ROWS`] output rows accumulates in registers over the inner
//! range its caller gives (the keys a row block reaches), a tile at most
//! [`max_width`] columns wide. Safe code throughout: the tile's loops
//! compile to vector fused multiply-adds inside `kernels::wide`.

use super::wide::wide;
use crate::element::Element;
use std::borrow::Cow;
use std::ops::Range;

/// Output rows per tile (4 rows × 64 f32 columns: 16 AVX-512
/// accumulators, with the right operand's row in 4 more).
pub(super) const ROWS: usize = 4;

/// Columns per vector unit of a tile (a tile's width is a multiple).
const UNIT: usize = 16;

/// The widest tile for `T`: 256 bytes of a row, 4 AVX-512 registers
/// (64 f32 or 32 f64; wider ones spill the accumulators).
fn max_width<T>() -> usize {
    256 / std::mem::size_of::<T>().max(1)
}

/// The right operand of [`product_rows`]: a matrix whose rows hold whole
/// [`UNIT`]s (`width` columns, row stride `ld`). Borrowed in place when
/// its rows are dense and whole units already (a head of `[.., L, 32]`
/// queries read with any row stride), else copied with zero padding.
pub(super) struct Padded<'a, T: Clone> {
    data: Cow<'a, [T]>,
    ld: usize,
    width: usize,
}

/// A matrix read in place: (storage, offset, row stride, column stride).
pub(super) type Strided<'a, T> = (&'a [T], usize, usize, usize);

/// `n` rounded up to whole vector units: the padded width of a
/// [`Padded`] matrix of `n` columns (its padding reads as zeros).
pub(super) fn width(n: usize) -> usize {
    n.div_ceil(UNIT) * UNIT
}

/// A zero-filled scratch matrix of `rows × cols`, its extent checked and
/// a failure to allocate it a panic (catchable, as a tensor's), where
/// `vec!` would abort: padding to whole units can make the copy of a huge
/// head with one column 16 times its size.
///
/// # Panics
/// When the extent overflows or the memory cannot be had.
pub(super) fn zeros<T: Element>(rows: usize, cols: usize) -> Vec<T> {
    let n = rows
        .checked_mul(cols)
        .unwrap_or_else(|| panic!("attention: scratch of {rows}×{cols} elements overflows"));
    // not from the pool: a scratch buffer is freed, not given back
    let mut v = Vec::new();
    if let Err(e) = v.try_reserve_exact(n) {
        panic!("out of memory: cannot allocate attention scratch of {n} elements: {e}");
    }
    v.resize(n, T::zero());
    v
}

impl<'a, T: Element> Padded<'a, T> {
    /// The `rows × cols` matrix `m`.
    pub(super) fn of(m: Strided<'a, T>, rows: usize, cols: usize) -> Self {
        let (src, off, rs, cs) = m;
        let ld = width(cols);
        if cs == 1 && ld == cols && rows > 0 && cols > 0 {
            // every row `r` is `src[off + r·rs..][..cols]`, whole units:
            // read where it is (the last row must end inside `src`)
            let end = off + (rows - 1) * rs + cols;
            return Padded {
                data: Cow::Borrowed(&src[off..end]),
                ld: rs,
                width: cols,
            };
        }
        let mut data = zeros(rows, ld);
        for (r, row) in data.chunks_exact_mut(ld.max(1)).take(rows).enumerate() {
            let at = off + r * rs;
            if cs == 1 {
                row[..cols].copy_from_slice(&src[at..at + cols]);
            } else {
                for (c, x) in row[..cols].iter_mut().enumerate() {
                    *x = src[at + c * cs];
                }
            }
        }
        Padded {
            data: Cow::Owned(data),
            ld,
            width: ld,
        }
    }

    /// The transpose of the `rows × cols` matrix `m` (a `cols × rows`
    /// matrix), by 8×8 tiles when `m`'s rows are dense.
    pub(super) fn transposed(m: Strided<'_, T>, rows: usize, cols: usize) -> Self {
        let (src, off, rs, cs) = m;
        let ld = width(rows);
        let mut data = zeros(cols, ld);
        if cs == 1 && rows > 0 && cols > 0 {
            super::transpose::transpose_into(&src[off..], rs, &mut data, ld, (cols, rows));
        } else {
            for c in 0..cols {
                for r in 0..rows {
                    data[c * ld + r] = src[off + r * rs + c * cs];
                }
            }
        }
        Padded {
            data: Cow::Owned(data),
            ld,
            width: ld,
        }
    }
}

/// `out[r·ldo + c] = Σ_{p ∈ ks} a(r, p)·b[p][c]` for the `n ≤ ROWS` rows
/// `r` of a block of the left operand `a` (`a(r, p) = a.0[a.1 + r·a.2 +
/// p·a.3]`) and the columns `c ∈ cols` of `b`. An empty `ks` writes zeros;
/// columns outside `cols` are not written.
///
/// # Panics
/// When `cols` ends past `b`'s whole units, or an index of `a` or `out`
/// is out of bounds.
#[inline(always)]
pub(super) fn product_rows<T: Element>(
    out: &mut [T],
    ldo: usize,
    n: usize,
    a: Strided<'_, T>,
    b: &Padded<T>,
    cols: Range<usize>,
    ks: Range<usize>,
) {
    assert!(n <= ROWS && cols.end <= b.width, "tile: block out of range");
    let wmax = max_width::<T>();
    let mut c0 = cols.start / UNIT * UNIT;
    while c0 < cols.end {
        let c1 = (c0 + wmax).min(cols.end);
        let units = (c1 - c0).div_ceil(UNIT);
        let write = cols.start.max(c0)..c1;
        let blk = (&b.data[..], b.ld, c0);
        // each tile in a function of its own compiled for wide vectors
        // (inlined together into one, they spilled their accumulators)
        if n == ROWS {
            let ks = ks.clone();
            match units {
                1 => wide(
                    #[inline(always)]
                    || tile::<T, ROWS, 16>(out, ldo, write, a, blk, ks),
                ),
                2 => wide(
                    #[inline(always)]
                    || tile::<T, ROWS, 32>(out, ldo, write, a, blk, ks),
                ),
                3 => wide(
                    #[inline(always)]
                    || tile::<T, ROWS, 48>(out, ldo, write, a, blk, ks),
                ),
                _ => wide(
                    #[inline(always)]
                    || tile::<T, ROWS, 64>(out, ldo, write, a, blk, ks),
                ),
            }
        } else {
            for r in 0..n {
                let (ar, w, ks) = ((a.0, a.1 + r * a.2, a.2, a.3), write.clone(), ks.clone());
                let o = &mut out[r * ldo..];
                match units {
                    1 => wide(
                        #[inline(always)]
                        || tile::<T, 1, 16>(o, ldo, w, ar, blk, ks),
                    ),
                    2 => wide(
                        #[inline(always)]
                        || tile::<T, 1, 32>(o, ldo, w, ar, blk, ks),
                    ),
                    3 => wide(
                        #[inline(always)]
                        || tile::<T, 1, 48>(o, ldo, w, ar, blk, ks),
                    ),
                    _ => wide(
                        #[inline(always)]
                        || tile::<T, 1, 64>(o, ldo, w, ar, blk, ks),
                    ),
                }
            }
        }
        c0 = c1;
    }
}

/// One tile: `R` rows × `W` columns of `b` from column `c0`, accumulated
/// over `ks` in registers, the columns `write` stored into `out`.
#[inline(always)]
fn tile<T: Element, const R: usize, const W: usize>(
    out: &mut [T],
    ldo: usize,
    write: Range<usize>,
    a: Strided<'_, T>,
    (b, ldb, c0): (&[T], usize, usize),
    ks: Range<usize>,
) {
    let (src, off, rs, cs) = a;
    let mut acc = [[T::zero(); W]; R];
    for p in ks {
        // the operand rows copied into locals first: the compiler then
        // keeps them in registers instead of reloading them per row
        let mut bv = [T::zero(); W];
        bv.copy_from_slice(&b[p * ldb + c0..p * ldb + c0 + W]);
        let mut av = [T::zero(); R];
        for (r, x) in av.iter_mut().enumerate() {
            *x = src[off + r * rs + p * cs];
        }
        for (acc, &x) in acc.iter_mut().zip(&av) {
            for (s, &y) in acc.iter_mut().zip(&bv) {
                *s = x.mul_add(y, *s);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = &mut out[r * ldo..];
        if write == (c0..c0 + W) {
            // the whole tile: a copy of known length (vector stores, where
            // a copy of run-time length is a call to `memcpy` per row)
            let dst: &mut [T; W] = (&mut row[c0..c0 + W]).try_into().expect("W columns");
            *dst = *acc;
        } else {
            row[write.clone()].copy_from_slice(&acc[write.start - c0..write.end - c0]);
        }
    }
}
