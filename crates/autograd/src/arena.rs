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
pub(crate) struct Arena<N: 'static> {
    chunks: Vec<Vec<N>>,
    len: usize,
}

impl<N: 'static> Drop for Arena<N> {
    fn drop(&mut self) {
        for mut chunk in self.chunks.drain(..) {
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
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `n` and returns its index.
    pub fn push(&mut self, n: N) -> usize {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(new_chunk());
        }
        self.chunks.last_mut().expect("a chunk with room").push(n);
        self.len += 1;
        self.len - 1
    }

    pub fn iter(&self) -> impl Iterator<Item = &N> {
        self.chunks.iter().flatten()
    }
}

impl<N: 'static> Index<usize> for Arena<N> {
    type Output = N;
    fn index(&self, i: usize) -> &N {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<N: 'static> IndexMut<usize> for Arena<N> {
    fn index_mut(&mut self, i: usize) -> &mut N {
        &mut self.chunks[i / CHUNK][i % CHUNK]
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
    }

    #[test]
    fn chunks_of_a_dropped_arena_are_reused_empty() {
        let mut a = Arena::new();
        a.push(String::from("x"));
        let p = a.chunks[0].as_ptr();
        drop(a);
        let mut b: Arena<String> = Arena::new();
        b.push(String::from("y"));
        assert_eq!(b.chunks[0].as_ptr(), p, "the spare chunk was taken");
        assert_eq!((b.len(), &b[0][..]), (1, "y"));
        let mut c: Arena<u8> = Arena::new();
        c.push(7);
        assert_eq!(c[0], 7, "a chunk of another type is not confused");
    }
}
