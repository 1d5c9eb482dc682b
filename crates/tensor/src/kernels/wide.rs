//! Elementwise loops compiled for the widest vectors the CPU has.
//!
//! The crate is built for baseline x86-64 (SSE2: 4 f32 lanes, no FMA), so
//! a loop over a long elementwise function — GELU's polynomials and `exp`
//! — vectorises only 4 wide. [`wide`] runs a loop body compiled again with
//! AVX-512F (16 lanes) or AVX2 (8 lanes) when the running CPU has them,
//! detected at run time (cached by the standard library), with FMA (every
//! such CPU has it). Results are the same bit for bit: the same IEEE
//! operations in the same order, only more lanes at a time. Rust never
//! fuses `a * b + c` by itself; the `mul_add`s written out in `approx`
//! are exact-rounded on every path (a hardware instruction here, a call
//! to the C library's `fmaf` outside these loops).
//!
//! A constant the body selects (`if c { half } else { y / x }`) is bound
//! to a local inside the body first: read through the closure's captured
//! reference, the select compiled to a masked AVX-512 *gather* of that one
//! value per vector, which made `gelu_backward_at` 1.7× slower than the
//! same loop written standalone. No gather should appear in the release
//! binary (`objdump -d … | grep -c gather` counts none).
//!
//! Only what is inlined into the body gets the wide build. An iterator
//! adapter's `fold` that the compiler keeps as a function of its own
//! (`(0..n).map(f).collect()`, say) is compiled once, for the baseline:
//! attention's backward spent 8 % of its time in such a `fold`, four lanes
//! at a time, until it became a plain `for` loop. In a profile, a hot
//! `Map<I,F>::fold` or `for_each` under a `wide` caller is the sign.

/// Runs `body`, compiled for AVX-512F or AVX2 when the CPU has it (the
/// plain build otherwise). `body` must be a loop the compiler can inline
/// here (a closure called once is).
#[inline(always)]
pub(crate) fn wide<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: `avx512` only requires the CPU to have AVX-512F,
            // which was detected on the line above.
            return unsafe { avx512(body) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, for AVX2.
            return unsafe { avx2(body) };
        }
    }
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn avx512<R>(body: impl FnOnce() -> R) -> R {
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<R>(body: impl FnOnce() -> R) -> R {
    body()
}
