//! The threads the kernels share their work with.
//!
//! Kernels split large work across rayon's global pool (`RAYON_NUM_THREADS`
//! threads; one thread means no splitting at all). Called from a thread
//! outside the pool — a program's main thread, usually — a kernel hands its
//! whole job to the pool and sleeps until it is done: two wake-ups per
//! parallel op, which on a step of small matrix products (W3) cost most of
//! what the second thread gains. [`use_calling_thread`] makes the calling
//! thread one of the pool's threads instead (PyTorch's intra-op threads
//! include the caller the same way): the kernel runs its first share where
//! it was called and the other threads take the rest.

/// Builds the global pool with the calling thread as one of its `threads`
/// threads (`0`: `RAYON_NUM_THREADS`, else the CPU count), so that kernels
/// called from this thread work on it instead of waiting on it. Call it
/// once, first thing in `main`, from a thread that lives as long as the
/// program uses tensors. W3 at 2 threads, median of 6 alternating runs on
/// a 2-core Sapphire Rapids: 1.60 → 1.43 ms per step.
///
/// # Errors
/// When the global pool already exists (a kernel ran in parallel before,
/// or another library built it): nothing changes then.
///
/// ```
/// use mnemon_tensor::{threads, Tensor};
/// threads::use_calling_thread(2).unwrap();
/// assert_eq!(rayon::current_thread_index(), Some(0)); // this thread is in the pool
/// let a = Tensor::<f32>::ones(&[300, 300]);
/// assert_eq!(a.matmul(&a).to_vec()[0], 300.0);
/// assert!(threads::use_calling_thread(2).is_err()); // once per program
/// ```
pub fn use_calling_thread(threads: usize) -> Result<(), rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .build_global()
}
