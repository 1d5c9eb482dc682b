//! The tape's node storage: fixed-size chunks, so that recording a node
//! never moves the ones already recorded (a plain `Vec` doubling its
//! buffer copied every node again: measured on W2, a fifth of the time).
//!
//! Chunks are recycled: when a tape is dropped its emptied chunks wait in a
//! per-thread list for the next tape. A fresh chunk is fresh memory from the
//! system, and writing nodes into it page-faults on every 4 KiB: measured
//! on W2 (one new tape per step, 30 chunks) that was over a third of the
//! time. A training loop builds one tape per step, so the next step finds
//! its chunks already mapped.

use std::any::Any;
use std::cell::RefCell;
use std::ops::{Index, IndexMut};

/// Nodes per chunk.
const CHUNK: usize = 1024;

/// At most this many empty chunks of one type wait per thread.
const MAX_SPARE: usize = 64;

thread_local! {
    /// Emptied chunks of dropped tapes: one list per element type, each a
    /// boxed `Vec<Vec<N>>` (boxed once, so recycling allocates nothing).
    static SPARE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's list of spare chunks of type `N`.
fn with_spare<N: 'static, R>(f: impl FnOnce(&mut Vec<Vec<N>>) -> R) -> Option<R> {
    SPARE
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let at = match s.iter().position(|l| l.is::<Vec<Vec<N>>>()) {
                Some(at) => at,
                None => {
                    s.push(Box::new(Vec::<Vec<N>>::new()));
                    s.len() - 1
                }
            };
            let list = s[at].downcast_mut::<Vec<Vec<N>>>().expect("found by type");
            f(list)
        })
        .ok()
}

/// An empty chunk with room for [`CHUNK`] nodes, recycled when one waits.
fn new_chunk<N: 'static>() -> Vec<N> {
    with_spare(|l: &mut Vec<Vec<N>>| l.pop())
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(CHUNK))
}

/// An append-only list stored in chunks of [`CHUNK`] elements.
///
/// The chunk being filled is a field of its own: a tape of at most one
/// chunk (a training step's dozen nodes) then allocates no list of chunks
/// (measured on W4: three such allocations a step, one per arena).
pub(crate) struct Arena<N: 'static> {
    /// The chunks filled before `last`, each holding [`CHUNK`] elements.
    full: Vec<Vec<N>>,
    /// The chunk being filled (no buffer until the first push).
    last: Vec<N>,
    len: usize,
}

impl<N: 'static> Drop for Arena<N> {
    fn drop(&mut self) {
        let last = std::mem::take(&mut self.last);
        for mut chunk in self.full.drain(..).chain(std::iter::once(last)) {
            if chunk.capacity() == 0 {
                continue;
            }
            chunk.clear();
            with_spare(|l: &mut Vec<Vec<N>>| {
                if l.len() < MAX_SPARE {
                    l.push(chunk);
                }
            });
        }
    }
}

impl<N: 'static> Arena<N> {
    pub fn new() -> Self {
        Arena {
            full: Vec::new(),
            last: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `n` and returns its index.
    #[inline]
    pub fn push(&mut self, n: N) -> usize {
        if self.len.is_multiple_of(CHUNK) {
            self.next_chunk();
        }
        self.last.push(n);
        self.len += 1;
        self.len - 1
    }

    /// Starts a new chunk (the first, or one after a full one).
    #[cold]
    fn next_chunk(&mut self) {
        // indices are held as `u32` (node ids in `Inputs`, kept-tensor
        // starts in `Saved`), with `u32::MAX` meaning none
        assert!(
            self.len < u32::MAX as usize - CHUNK,
            "tape full: a tape holds at most 2^32 - 1 - {CHUNK} nodes (and as many kept tensors)"
        );
        let fresh = new_chunk();
        let done = std::mem::replace(&mut self.last, fresh);
        if self.len > 0 {
            self.full.push(done);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &N> {
        self.full.iter().flatten().chain(self.last.iter())
    }
}

impl<N: 'static> Index<usize> for Arena<N> {
    type Output = N;
    #[inline]
    fn index(&self, i: usize) -> &N {
        let c = i / CHUNK;
        if c == self.full.len() {
            &self.last[i % CHUNK]
        } else {
            &self.full[c][i % CHUNK]
        }
    }
}

impl<N: 'static> IndexMut<usize> for Arena<N> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut N {
        let c = i / CHUNK;
        if c == self.full.len() {
            &mut self.last[i % CHUNK]
        } else {
            &mut self.full[c][i % CHUNK]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_survive_chunk_boundaries() {
        let mut a = Arena::new();
        for i in 0..3 * CHUNK + 5 {
            assert_eq!(a.push(i), i);
        }
        assert_eq!(a.len(), 3 * CHUNK + 5);
        assert_eq!(a[CHUNK], CHUNK);
        assert_eq!(a[3 * CHUNK + 4], 3 * CHUNK + 4);
        assert_eq!(a.iter().copied().sum::<usize>(), (0..3 * CHUNK + 5).sum());
        assert!(
            (0..a.len()).all(|i| a[i] == i),
            "every index, either side of each boundary"
        );
        a[CHUNK - 1] = 0;
        a[3 * CHUNK] = 1;
        assert_eq!(
            (a[CHUNK - 1], a[3 * CHUNK], a[3 * CHUNK + 1]),
            (0, 1, 3 * CHUNK + 1)
        );
        assert!(a.iter().copied().eq((0..a.len()).map(|i| match i {
            i if i == CHUNK - 1 => 0,
            i if i == 3 * CHUNK => 1,
            i => i,
        })));
    }

    #[test]
    fn chunks_of_a_dropped_arena_are_reused_empty() {
        let mut a = Arena::new();
        a.push(String::from("x"));
        let p = a.last.as_ptr();
        drop(a);
        let mut b: Arena<String> = Arena::new();
        b.push(String::from("y"));
        assert_eq!(b.last.as_ptr(), p, "the spare chunk was taken");
        assert_eq!((b.len(), &b[0][..]), (1, "y"));
        let mut c: Arena<u8> = Arena::new();
        c.push(7);
        assert_eq!(c[0], 7, "a chunk of another type is not confused");
    }
}
