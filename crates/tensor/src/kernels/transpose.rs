//! Matrix transposes in 8×8 tiles: what `contiguous()` of a transposed
//! view runs, and what [`Tensor::linear`](crate::Tensor::linear) lays its
//! weight out with before the product.
//!
//! An element-by-element transpose stores one element per instruction, in
//! columns that stride across memory (0.5 ns an element, measured: 109 µs
//! for W3's 256×784 weight, as long as the product it was meant to speed
//! up saves). An f32 tile is transposed in registers instead: 8 row loads,
//! 24 shuffles, 8 row stores (AVX, detected at run time).

use crate::element::Element;

/// The side of a tile.
pub(crate) const TILE: usize = 8;

/// Output rows per band (see [`transpose_into`]): 64 rows of a 784-wide
/// output touch 64 lines per tile column, well within L1.
const BAND: usize = 64;

/// One tile by plain loops: `dst[c·ld_dst + r] = src[r·ld_src + c]` for
/// `r, c < 8`. The default of [`Element::transpose_tile`].
///
/// # Panics
/// When `src` does not hold `7·ld_src + 8` elements or `dst` does not hold
/// `7·ld_dst + 8`.
#[inline(always)]
pub(crate) fn tile_by_loops<T: Copy>(src: &[T], ld_src: usize, dst: &mut [T], ld_dst: usize) {
    let rows: [&[T]; TILE] = std::array::from_fn(|r| &src[r * ld_src..][..TILE]);
    for c in 0..TILE {
        let out = &mut dst[c * ld_dst..][..TILE];
        for (o, row) in out.iter_mut().zip(&rows) {
            *o = row[c];
        }
    }
}

/// One f32 tile, in AVX registers where the CPU has AVX (every x86-64 CPU
/// since 2011), else by loops.
///
/// # Panics
/// As [`tile_by_loops`].
#[inline]
pub(crate) fn tile_f32(src: &[f32], ld_src: usize, dst: &mut [f32], ld_dst: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: `tile_avx` only requires AVX, detected above.
        unsafe { tile_avx(src, ld_src, dst, ld_dst) };
        return;
    }
    tile_by_loops(src, ld_src, dst, ld_dst)
}

/// The transpose of eight rows of eight f32: unpacks of row pairs, then
/// of 64-bit pairs, then the 128-bit halves exchanged.
///
/// # Panics
/// As [`tile_by_loops`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn tile_avx(src: &[f32], ld_src: usize, dst: &mut [f32], ld_dst: usize) {
    use std::arch::x86_64::*;
    let r: [__m256; TILE] = std::array::from_fn(|i| {
        let row: &[f32; TILE] = src[i * ld_src..][..TILE].try_into().expect("8 elements");
        // SAFETY: `row` is a reference to 8 f32, the 32 bytes an
        // unaligned 256-bit load reads.
        unsafe { _mm256_loadu_ps(row.as_ptr()) }
    });
    // rows 2k, 2k+1 interleaved: (a0 b0 a1 b1 | a4 b4 a5 b5), (a2 b2 a3 b3 | …)
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    // four rows' elements c and c+4 together: (a0 b0 c0 d0 | a4 b4 c4 d4), …
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    // low halves of rows 0–3 with low halves of rows 4–7 give columns 0–3
    let o = [
        _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
        _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
    ];
    for (c, v) in o.into_iter().enumerate() {
        let col: &mut [f32; TILE] = (&mut dst[c * ld_dst..][..TILE])
            .try_into()
            .expect("8 elements");
        // SAFETY: `col` is a mutable reference to 8 f32, the 32 bytes an
        // unaligned 256-bit store writes.
        unsafe { _mm256_storeu_ps(col.as_mut_ptr(), v) };
    }
}

/// `dst[i·ld_dst + j] = src[j·ld_src + i]` for `i < rows`, `j < cols`: the
/// `cols × rows` matrix read from `src` with row stride `ld_src`, written
/// transposed (`rows × cols`) into `dst` with row stride `ld_dst`. Bands
/// of [`BAND`] output rows (across threads for large matrices), each in
/// whole 8×8 tiles through [`Element::transpose_tile`] and its edges by
/// loops.
///
/// # Panics
/// When `src` or `dst` is too short for the extents and strides (an index
/// out of bounds; nothing is read or written outside them).
pub(crate) fn transpose_into<T: Element>(
    src: &[T],
    ld_src: usize,
    dst: &mut [T],
    ld_dst: usize,
    (rows, cols): (usize, usize),
) {
    if rows == 0 || cols == 0 {
        return;
    }
    let band_len = BAND * ld_dst;
    let band = |b: usize, out: &mut [T]| {
        let r0 = b * BAND;
        let r1 = (r0 + BAND).min(rows);
        transpose_band(src, ld_src, out, ld_dst, (r0, r1), cols);
    };
    // the bands' output rows, up to the last row's end (`dst` may be
    // longer, or end right after the last row's `cols` elements)
    let used = &mut dst[..(rows - 1) * ld_dst + cols];
    if rayon::current_num_threads() > 1 && rows.saturating_mul(cols) >= super::PAR_MIN {
        use rayon::prelude::*;
        used.par_chunks_mut(band_len)
            .enumerate()
            .for_each(|(b, out)| band(b, out));
    } else {
        for (b, out) in used.chunks_mut(band_len).enumerate() {
            band(b, out);
        }
    }
}

/// Output rows `r0..r1` of [`transpose_into`], written into `out` (which
/// starts at row `r0`).
fn transpose_band<T: Element>(
    src: &[T],
    ld_src: usize,
    out: &mut [T],
    ld_dst: usize,
    (r0, r1): (usize, usize),
    cols: usize,
) {
    let whole = r0 + (r1 - r0) / TILE * TILE; // rows in whole tiles
    let cols8 = cols - cols % TILE;
    for j0 in (0..cols8).step_by(TILE) {
        for i0 in (r0..whole).step_by(TILE) {
            T::transpose_tile(
                &src[j0 * ld_src + i0..],
                ld_src,
                &mut out[(i0 - r0) * ld_dst + j0..],
                ld_dst,
            );
        }
    }
    // the edges: rows past the last whole tile, columns past cols8
    for i in r0..r1 {
        let from = if i < whole { cols8 } else { 0 };
        for j in from..cols {
            out[(i - r0) * ld_dst + j] = src[j * ld_src + i];
        }
    }
}
