//! [`Dims`]: a shape or a list of strides, held inline up to rank 4.
//!
//! Every op copies shapes (its output's, a view's strides, the tape's
//! record of each node's shape), so a copy must be cheap. `SmallVec` leaves
//! its unused inline slots uninitialised, so safe code could copy an
//! inline one only element by element, through a branch on the length:
//! measured on W4 (XOR training steps), cloning a `Layout` that way took
//! ~80 instructions and was the largest single item, 6–7 % of a step.
//! Here each inline rank is a variant of its own, so a copy is a plain
//! 40-byte move.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// The rank up to which a [`Dims`] lives inline (no heap). DESIGN.md
/// suggested 6: measured on W4, inline 4 keeps every `Tensor` 32 bytes
/// smaller and a training step ~9 % faster, and rank 5–6 tensors (rare in
/// this library's users' models) still work, on the heap.
const INLINE_RANK: usize = 4;

/// A list of dimensions (or strides): a slice of `usize` (it derefs to
/// `[usize]`), inline up to rank 4.
///
/// ```
/// use mnemon_tensor::Dims;
/// let mut d = Dims::from(&[2, 3][..]);
/// d.push(4);
/// assert_eq!(&d[..], &[2, 3, 4]);
/// assert_eq!(d.iter().product::<usize>(), 24);
/// let big: Dims = (1..=6).collect(); // rank 6: on the heap, same API
/// assert_eq!(big.len(), 6);
/// ```
#[derive(Clone)]
pub struct Dims(Repr);

/// One variant per inline rank, so that no length byte sits beside the
/// tag: with `Inline(u8, [usize; 4])` the compiler copied a `Dims` from
/// byte 2 on in unaligned 16-byte pieces, whose loads could not be
/// forwarded from the stores that had just built it (measured on W2:
/// `Layout::contiguous` went from 1.5 % to 7 % of the time). The tag is a
/// whole word for the same reason: every copy is aligned words. Reading
/// the slice branches on the rank; four slots in every variant (so that
/// the tag is the rank and one test finds the slice) was tried, and ran
/// W2 7 % slower with more instructions.
#[derive(Clone)]
#[repr(usize)]
enum Repr {
    R0,
    R1([usize; 1]),
    R2([usize; 2]),
    R3([usize; 3]),
    R4([usize; INLINE_RANK]),
    /// A rank above [`INLINE_RANK`].
    Heap(Vec<usize>),
}

impl Dims {
    /// An empty list (rank 0).
    #[inline]
    pub const fn new() -> Self {
        Dims(Repr::R0)
    }

    /// `n` copies of `value`.
    #[inline]
    pub fn from_elem(value: usize, n: usize) -> Self {
        let v = value;
        Dims(match n {
            0 => Repr::R0,
            1 => Repr::R1([v]),
            2 => Repr::R2([v; 2]),
            3 => Repr::R3([v; 3]),
            4 => Repr::R4([v; 4]),
            _ => Repr::Heap(vec![v; n]),
        })
    }

    /// Appends `value`.
    pub fn push(&mut self, value: usize) {
        let x = value;
        self.0 = match std::mem::replace(&mut self.0, Repr::R0) {
            Repr::R0 => Repr::R1([x]),
            Repr::R1([a]) => Repr::R2([a, x]),
            Repr::R2([a, b]) => Repr::R3([a, b, x]),
            Repr::R3([a, b, c]) => Repr::R4([a, b, c, x]),
            Repr::R4([a, b, c, d]) => Repr::Heap(vec![a, b, c, d, x]),
            Repr::Heap(mut v) => {
                v.push(x);
                Repr::Heap(v)
            }
        };
    }

    /// Removes and returns the last entry, if any.
    pub fn pop(&mut self) -> Option<usize> {
        let (&last, rest) = self.split_last()?;
        let d: Dims = rest.iter().copied().collect();
        *self = d;
        Some(last)
    }

    /// Inserts `value` at position `at`, shifting the rest right (no heap
    /// up to rank 4: squeeze, unsqueeze and reductions edit shapes on every
    /// call).
    ///
    /// # Panics
    /// When `at > len`.
    pub fn insert(&mut self, at: usize, value: usize) {
        assert!(
            at <= self.len(),
            "Dims::insert: position {at} past the end ({})",
            self.len()
        );
        let d: Dims = self[..at]
            .iter()
            .copied()
            .chain(std::iter::once(value))
            .chain(self[at..].iter().copied())
            .collect();
        *self = d;
    }

    /// Removes and returns the entry at `at`, shifting the rest left (no
    /// heap up to rank 4).
    ///
    /// # Panics
    /// When `at >= len`.
    pub fn remove(&mut self, at: usize) -> usize {
        assert!(
            at < self.len(),
            "Dims::remove: position {at} out of range ({})",
            self.len()
        );
        let x = self[at];
        let d: Dims = self
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != at)
            .map(|(_, &v)| v)
            .collect();
        *self = d;
        x
    }
}

impl Default for Dims {
    fn default() -> Self {
        Dims::new()
    }
}

impl Deref for Dims {
    type Target = [usize];
    #[inline]
    fn deref(&self) -> &[usize] {
        match &self.0 {
            Repr::R0 => &[],
            Repr::R1(a) => a,
            Repr::R2(a) => a,
            Repr::R3(a) => a,
            Repr::R4(a) => a,
            Repr::Heap(v) => v,
        }
    }
}

impl DerefMut for Dims {
    #[inline]
    fn deref_mut(&mut self) -> &mut [usize] {
        match &mut self.0 {
            Repr::R0 => &mut [],
            Repr::R1(a) => a,
            Repr::R2(a) => a,
            Repr::R3(a) => a,
            Repr::R4(a) => a,
            Repr::Heap(v) => v,
        }
    }
}

impl From<&[usize]> for Dims {
    /// Up to rank 4 one arm per rank: a copy loop over `s` compiles to a call to
    /// `memcpy` for a length known only at run time — measured on W2 (a
    /// chain of one-element ops), those calls were a tenth of the time.
    #[inline]
    fn from(s: &[usize]) -> Self {
        Dims(match *s {
            [] => Repr::R0,
            [a] => Repr::R1([a]),
            [a, b] => Repr::R2([a, b]),
            [a, b, c] => Repr::R3([a, b, c]),
            [a, b, c, d] => Repr::R4([a, b, c, d]),
            _ => Repr::Heap(s.to_vec()),
        })
    }
}

impl<const N: usize> From<[usize; N]> for Dims {
    fn from(a: [usize; N]) -> Self {
        Dims::from(&a[..])
    }
}

impl From<Vec<usize>> for Dims {
    fn from(v: Vec<usize>) -> Self {
        if v.len() <= INLINE_RANK {
            Dims::from(&v[..])
        } else {
            Dims(Repr::Heap(v))
        }
    }
}

impl FromIterator<usize> for Dims {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        let mut d = Dims::new();
        for x in iter {
            d.push(x);
        }
        d
    }
}

impl Extend<usize> for Dims {
    fn extend<I: IntoIterator<Item = usize>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

impl<'a> IntoIterator for &'a Dims {
    type Item = &'a usize;
    type IntoIter = std::slice::Iter<'a, usize>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Dims {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        crate::layout::same_shape(self, other)
    }
}

impl Eq for Dims {}

impl PartialEq<[usize]> for Dims {
    fn eq(&self, other: &[usize]) -> bool {
        crate::layout::same_shape(self, other)
    }
}

impl std::hash::Hash for Dims {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self[..].hash(state);
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self[..], f)
    }
}

/// `Dims` holding `s` (the same as `Dims::from(s)`).
#[inline]
pub fn dims_of(s: &[usize]) -> Dims {
    Dims::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rank_round_trips_and_edits_like_a_vec() {
        for rank in 0..8 {
            let v: Vec<usize> = (1..=rank).collect();
            let d = Dims::from(&v[..]);
            assert_eq!(&d[..], &v[..]);
            assert_eq!(d.clone(), d);
            assert_eq!(Dims::from(v.clone()), d);
            assert_eq!(v.iter().copied().collect::<Dims>(), d);
            let (mut a, mut w) = (d.clone(), v.clone());
            a.push(9);
            w.push(9);
            assert_eq!(&a[..], &w[..]);
            a.insert(0, 7);
            w.insert(0, 7);
            assert_eq!(&a[..], &w[..]);
            assert_eq!(a.remove(1), w.remove(1));
            assert_eq!(&a[..], &w[..]);
            assert_eq!(a.pop(), w.pop());
            assert_eq!(&a[..], &w[..]);
            assert_eq!(a.clone(), Dims::from(&w[..]), "inline again below rank 5");
            assert_eq!(format!("{a:?}"), format!("{w:?}"));
            assert_eq!(&Dims::from_elem(3, rank)[..], &vec![3; rank][..]);
        }
    }

    #[test]
    fn equality_ignores_where_the_entries_live() {
        let mut grown = Dims::from(&[1, 2, 3, 4, 5][..]);
        assert_eq!(grown.remove(4), 5); // back to rank 4: inline again
        assert_eq!(grown, Dims::from(&[1, 2, 3, 4][..]));
        assert_ne!(grown, Dims::from(&[1, 2, 3][..]));
        assert!(std::mem::size_of::<Dims>() <= 40);
    }
}
