//! The tape's node storage: fixed-size chunks, so that recording a node
//! never moves the ones already recorded (a plain `Vec` doubling its
//! buffer copied every node again: measured on W2, a fifth of the time).

use std::ops::Index;

/// Nodes per chunk.
const CHUNK: usize = 1024;

/// An append-only list stored in chunks of [`CHUNK`] elements.
pub(crate) struct Arena<N> {
    chunks: Vec<Vec<N>>,
    len: usize,
}

impl<N> Arena<N> {
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
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(n);
        self.len += 1;
        self.len - 1
    }

    pub fn iter(&self) -> impl Iterator<Item = &N> {
        self.chunks.iter().flatten()
    }
}

impl<N> Index<usize> for Arena<N> {
    type Output = N;
    fn index(&self, i: usize) -> &N {
        &self.chunks[i / CHUNK][i % CHUNK]
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
}
