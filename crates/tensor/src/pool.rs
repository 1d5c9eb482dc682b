//! A small pool of large buffers.
//!
//! A fresh 40 MB `Vec` is mapped anew by the system allocator and every page
//! faults on first write: on a 10^7-element forward/backward pass that is
//! most of the time (the same is measured on candle and PyTorch). Tensor
//! storage of at least [`POOL_MIN_BYTES`] therefore goes back to this pool
//! when its last owner drops it, and kernels take their output buffers from
//! here first. Small buffers are left to the allocator, which already
//! recycles them cheaply.

use crate::element::Element;
use crate::kernels::fuse::Expr;
use smallvec::SmallVec;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, OnceLock};

/// Buffers smaller than this are not pooled. 128 KiB is glibc's default
/// threshold above which `malloc` maps fresh pages: with 1 MiB here, W3's
/// 400–800 KB activations and weight gradients were mapped and faulted in
/// anew on every step (181,000 faults per 1,000 steps at 2 threads, a
/// quarter of the step time); at 128 KiB, 1,800.
pub const POOL_MIN_BYTES: usize = 1 << 17;
/// At most this many buffers wait in the pool (per element type). W7's
/// step (a transformer block) cycles through about 30 large buffers: with
/// 16, 44 requests a step missed and were zero-filled afresh.
const MAX_BUFFERS: usize = 32;
/// At most this many bytes wait in the pool (per element type).
const MAX_BYTES: usize = 1 << 30;

/// The per-type free list.
pub(crate) type FreeList<T> = Mutex<Vec<Vec<T>>>;

/// An empty vector with room for at least `n` elements, recycled from the
/// pool when a buffer of a fitting size (n..=2n) is waiting there.
///
/// # Panics
/// When the memory cannot be had (a tensor of 2^46 elements, say): a
/// panic the caller can catch, where `Vec::with_capacity` would abort the
/// process.
pub(crate) fn take<T: Element>(n: usize) -> Vec<T> {
    if let Some(mut v) = recycled(n) {
        v.clear();
        return v;
    }
    let mut v = Vec::new();
    if let Err(e) = v.try_reserve_exact(n) {
        let bytes = n.saturating_mul(std::mem::size_of::<T>());
        panic!("out of memory: cannot allocate a tensor of {n} elements ({bytes} bytes): {e}");
    }
    v
}

/// The smallest pooled buffer with room for `n` elements (and at most
/// 2n), taken out of the pool with its old contents; of equal fits, the
/// one returned last (the likeliest to be in cache still).
fn recycled<T: Element>(n: usize) -> Option<Vec<T>> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    if bytes < POOL_MIN_BYTES {
        return None;
    }
    let mut list = T::free_list().lock().ok()?;
    let best = list
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, v)| v.capacity() >= n && v.capacity() <= 2 * n)
        .min_by_key(|(_, v)| v.capacity())
        .map(|(i, _)| i)?;
    // `remove`, not `swap_remove`: the list stays oldest first
    Some(list.remove(best))
}

/// A vector of length `n` whose contents are unspecified (but initialised:
/// a recycled buffer keeps its old values, only growth is zero-filled), for
/// a kernel that writes every element: no `memset` of a recycled buffer.
pub(crate) fn overwritable<T: Element>(n: usize) -> Vec<T> {
    match recycled(n) {
        Some(mut v) => {
            v.truncate(n);
            v.resize(n, T::zero());
            v
        }
        None => zeroed(n),
    }
}

/// A zero-filled vector of length `n` (recycled when possible).
pub(crate) fn zeroed<T: Element>(n: usize) -> Vec<T> {
    let mut v = take(n);
    v.resize(n, T::zero());
    v
}

/// Releases every buffer waiting in the pool for element type `T`.
pub fn clear<T: Element>() {
    if let Ok(mut list) = T::free_list().lock() {
        list.clear();
    }
}

/// The bytes waiting in the pool for element type `T`.
pub fn pooled_bytes<T: Element>() -> usize {
    T::free_list()
        .lock()
        .map(|l| {
            l.iter()
                .map(|v| v.capacity() * std::mem::size_of::<T>())
                .sum()
        })
        .unwrap_or(0)
}

/// Elements kept inside the storage itself, with no buffer of their own.
/// Measured on Zen 1 against 4 (alternating runs, median of 8 ratios):
/// 16 runs W4 3 % faster (a small model's weights, biases and their
/// gradients, of 8 and 16 elements, take one allocation instead of two;
/// instructions −2.3 %) and W2 unchanged in time (+2 % instructions: each
/// kept scalar's storage is 64 bytes larger); 8 ran W4 2 % faster.
pub(crate) const INLINE: usize = 16;

/// A tensor's element buffer: up to [`INLINE`] elements inline, more on
/// the heap. A scalar or tiny tensor then costs one allocation (the shared
/// storage) instead of two: measured on W2 (chains of one-element ops).
pub(crate) type Buf<T> = SmallVec<[T; INLINE]>;

/// A buffer with room for `n` elements: inline when small, else as
/// [`take`] gives it.
pub(crate) fn take_buf<T: Element>(n: usize) -> Buf<T> {
    if n <= INLINE {
        Buf::new()
    } else {
        Buf::from_vec(take(n))
    }
}

/// A buffer of `n` elements for a kernel that writes every one: inline
/// when small (zeros), else as [`overwritable`] gives it.
pub(crate) fn overwritable_buf<T: Element>(n: usize) -> Buf<T> {
    if n <= INLINE {
        Buf::from_elem(T::zero(), n)
    } else {
        Buf::from_vec(overwritable(n))
    }
}

/// Tensor storage: a buffer that returns to the pool when dropped — or,
/// for the result of a deferred elementwise op on a large tensor (see
/// [`fuse`](crate::kernels::fuse)), the expression that computes it,
/// evaluated once, on first read.
///
/// Every read goes through `Deref`, which evaluates a deferred expression
/// first: no kernel can see storage that is not there yet. A plain
/// buffer is a variant of its own, so that the many small tensors pay
/// nothing for the deferred ones (no synchronised cell to build or check).
pub(crate) enum Storage<T: Element> {
    /// The elements.
    Ready(Buf<T>),
    /// An expression for them, and once evaluated, the elements.
    Deferred(Box<Deferred<T>>),
}

/// A deferred storage.
pub(crate) struct Deferred<T: Element> {
    /// The element count (known before it is computed).
    len: usize,
    /// The expression's op count bound.
    nodes: u32,
    /// The elements, once evaluated.
    buf: OnceLock<Buf<T>>,
    /// The expression; taken out (releasing its operands) once evaluated.
    expr: Mutex<Option<Arc<Expr<T>>>>,
}

impl<T: Element> Storage<T> {
    /// Storage holding `buf`.
    #[inline]
    pub(crate) fn new(buf: Buf<T>) -> Self {
        Storage::Ready(buf)
    }

    /// Storage of `len` elements that `expr` computes when first read.
    pub(crate) fn deferred(len: usize, expr: Expr<T>) -> Self {
        Storage::Deferred(Box::new(Deferred {
            len,
            nodes: expr.nodes(),
            buf: OnceLock::new(),
            expr: Mutex::new(Some(Arc::new(expr))),
        }))
    }

    /// A bound on the ops a deferred storage's expression holds (0 once
    /// evaluated, or never deferred).
    #[inline]
    pub(crate) fn nodes(&self) -> u32 {
        match self {
            Storage::Deferred(d) if d.buf.get().is_none() => d.nodes,
            _ => 0,
        }
    }

    /// The element count, without evaluating a deferred expression.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Storage::Ready(b) => b.len(),
            Storage::Deferred(d) => d.len,
        }
    }

    /// The elements when they exist already (evaluated or never deferred).
    #[inline]
    pub(crate) fn ready(&self) -> Option<&[T]> {
        match self {
            Storage::Ready(b) => Some(b),
            Storage::Deferred(d) => d.buf.get().map(|b| &b[..]),
        }
    }

    /// The expression of a storage not evaluated yet (None once it is).
    pub(crate) fn pending(&self) -> Option<Arc<Expr<T>>> {
        match self {
            Storage::Deferred(d) if d.buf.get().is_none() => {
                d.expr.lock().unwrap_or_else(|e| e.into_inner()).clone()
            }
            _ => None,
        }
    }

    /// The buffer by value (evaluated first if deferred).
    pub(crate) fn into_buf(mut self) -> Buf<T> {
        let _ = &self[..];
        match &mut self {
            Storage::Ready(b) => std::mem::take(b),
            Storage::Deferred(d) => d.buf.take().expect("evaluated above"),
        }
    }

    /// True when the elements live on the heap (not inline).
    #[cfg(test)]
    pub(crate) fn spilled(&self) -> bool {
        match self {
            Storage::Ready(b) => b.spilled(),
            Storage::Deferred(d) => d.get().spilled(),
        }
    }
}

impl<T: Element> Deferred<T> {
    /// The buffer, evaluating the expression first if needed.
    #[inline]
    fn get(&self) -> &Buf<T> {
        match self.buf.get() {
            Some(b) => b,
            None => self.evaluate(),
        }
    }

    /// Evaluates the expression into the buffer. Nothing waits here: two
    /// threads reading an unevaluated storage at once (or a thread that
    /// meets it again inside the parallel work it started) both compute
    /// it, the same values, and the first result is kept — a lock held
    /// across the evaluation would deadlock the second case.
    #[cold]
    #[inline(never)]
    fn evaluate(&self) -> &Buf<T> {
        let expr = self.expr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(expr) = expr {
            let v = crate::kernels::fuse::materialize(&expr, self.len);
            let _ = self.buf.set(Buf::from_vec(v));
            // the buffer is set before the expression goes: a reader that
            // finds no expression finds the buffer
            self.expr.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
        self.buf
            .get()
            .expect("set above or by the thread that took the expression")
    }
}

/// Gives a large heap buffer back to the pool. When the pool is full (in
/// count or bytes), the buffers that waited longest make room: a pool that
/// kept its old buffers and turned new ones away filled up, in W7, with
/// 45 buffers of a size no kernel asked for again (a concat's, allocated
/// outside the pool), and every later miss mapped and faulted in fresh
/// pages (160 page faults per step).
#[inline(never)]
fn recycle<T: Element>(buf: &mut Buf<T>) {
    let bytes = buf.capacity() * std::mem::size_of::<T>();
    if !(POOL_MIN_BYTES..=MAX_BYTES).contains(&bytes) || !buf.spilled() {
        return;
    }
    if let Ok(mut list) = T::free_list().lock() {
        let size = |v: &Vec<T>| v.capacity() * std::mem::size_of::<T>();
        let mut held: usize = list.iter().map(size).sum();
        // oldest first: the list is in the order buffers came back
        let mut evict = 0;
        while evict < list.len() && (list.len() - evict >= MAX_BUFFERS || held + bytes > MAX_BYTES)
        {
            held -= size(&list[evict]);
            evict += 1;
        }
        let dropped: Vec<Vec<T>> = list.drain(..evict).collect();
        list.push(std::mem::take(buf).into_vec());
        // freed after the lock is released
        drop(list);
        drop(dropped);
    }
}

impl<T: Element> Drop for Storage<T> {
    fn drop(&mut self) {
        // the test for a heap buffer inline: most tensors are tiny
        match self {
            Storage::Ready(b) if b.spilled() => recycle(b),
            Storage::Ready(_) => {}
            Storage::Deferred(d) => {
                if let Some(b) = d.buf.get_mut() {
                    recycle(b);
                }
            }
        }
    }
}

impl<T: Element> Deref for Storage<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Storage::Ready(b) => b,
            Storage::Deferred(d) => d.get(),
        }
    }
}

impl<T: Element> DerefMut for Storage<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Storage::Ready(b) => b,
            Storage::Deferred(d) => {
                d.get();
                d.buf.get_mut().expect("evaluated above")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_are_recycled_and_small_ones_are_not() {
        // Only this test uses pool-sized f64 buffers in this test binary,
        // so the buffer given back is the one taken next.
        let n = POOL_MIN_BYTES / 8 * 3 + 12_345;
        let v: Vec<f64> = Vec::with_capacity(n);
        let p = v.as_ptr();
        drop(Storage::new(Buf::from_vec(v)));
        let w: Vec<f64> = take(n);
        assert_eq!(w.as_ptr(), p, "the returned buffer is reused");
        assert!(w.is_empty() && w.capacity() >= n);
        // a request more than twice smaller does not take it
        drop(Storage::new(Buf::from_vec(w)));
        let small: Vec<f64> = take(n / 3);
        assert_ne!(small.as_ptr(), p);
        let before = pooled_bytes::<f64>();
        drop(Storage::new(Buf::from_vec(vec![0.0f64; 16])));
        assert_eq!(
            pooled_bytes::<f64>(),
            before,
            "small buffers are left to the allocator"
        );
        clear::<f64>();
        assert_eq!(pooled_bytes::<f64>(), 0);

        // a full pool makes room for a returned buffer by dropping the
        // ones that waited longest (a pool that turned new buffers away
        // stayed full of a size nothing asked for again)
        let stale = POOL_MIN_BYTES / 8 * 5;
        let first: Vec<f64> = Vec::with_capacity(stale);
        let first_at = first.as_ptr();
        drop(Storage::new(Buf::from_vec(first)));
        for _ in 1..MAX_BUFFERS {
            drop(Storage::new(Buf::from_vec(Vec::<f64>::with_capacity(
                stale,
            ))));
        }
        let count = || f64::free_list().lock().map(|l| l.len()).unwrap_or(0);
        assert_eq!(count(), MAX_BUFFERS);
        let fresh: Vec<f64> = Vec::with_capacity(n);
        let fresh_at = fresh.as_ptr();
        drop(Storage::new(Buf::from_vec(fresh)));
        assert_eq!(count(), MAX_BUFFERS, "one in, the oldest out");
        let kept = f64::free_list()
            .lock()
            .map(|l| l.iter().any(|v| v.as_ptr() == first_at));
        assert_eq!(kept.ok(), Some(false), "the oldest buffer was dropped");
        let w: Vec<f64> = take(n);
        assert_eq!(w.as_ptr(), fresh_at, "the newest buffer is kept");
        // of equal fits, the one returned last is taken first
        let newest = f64::free_list()
            .lock()
            .ok()
            .and_then(|l| l.last().map(|v| v.as_ptr()));
        let taken: Vec<f64> = take(stale);
        assert_eq!(Some(taken.as_ptr()), newest);
        clear::<f64>();
    }
}
