//! Shapes, strides and offsets: how a tensor's logical indices map to its
//! storage, and the broadcasting rules.

pub use crate::dims::{dims_of, Dims};

/// The number of elements of a tensor of `shape`, or `None` when the shape
/// is too large to exist.
///
/// The rule is ndarray's: the product of the *non-zero* extents must fit in
/// `isize`. Every tensor mnemon makes obeys it, so every product of some of
/// a shape's extents (the `outer × inner` split of a reduction, a row
/// length) and every storage offset a view of it can reach fit too, and
/// the kernels can multiply extents without overflow. Counting only the
/// non-zero extents matters: `[0, 2^40, 2^40]` holds no elements, yet its
/// inner product `2^80` would wrap.
///
/// ```
/// use mnemon_tensor::checked_numel;
/// assert_eq!(checked_numel(&[2, 3]), Some(6));
/// assert_eq!(checked_numel(&[0, 5]), Some(0));
/// assert_eq!(checked_numel(&[1 << 32, 1 << 32]), None);       // wraps to 0 unchecked
/// assert_eq!(checked_numel(&[0, 1 << 40, 1 << 40]), None);    // empty, but its rows are not
/// assert_eq!(checked_numel(&[262145, 70368475743232]), None); // wraps to 1024 unchecked
/// ```
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    let mut size: usize = 1;
    let mut empty = false;
    for &d in shape {
        if d == 0 {
            empty = true;
        } else {
            size = size.checked_mul(d)?;
        }
    }
    if size > isize::MAX as usize {
        return None;
    }
    Some(if empty { 0 } else { size })
}

/// [`checked_numel`], or a panic naming the op the user called, the shape
/// and the caller's line (for ops in model code, whose shapes come from
/// other tensors).
#[track_caller]
pub(crate) fn numel_or_panic(op: &str, shape: &[usize]) -> usize {
    match checked_numel(shape) {
        Some(n) => n,
        None => panic!(
            "{op}: a tensor of shape {shape:?} would hold more elements than fit in isize, called at {}",
            std::panic::Location::caller()
        ),
    }
}

/// Where each logical element of a tensor lives in its storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub shape: Dims,
    pub strides: Dims,
    pub offset: usize,
}

/// Row-major strides of a dense tensor of `shape`, written in place into
/// the result and inlined into the caller: built elsewhere and then moved
/// in, the move read in 16-byte pieces what had just been stored in 8-byte
/// ones, which the CPU cannot forward from store to load; the stalls made
/// this function 6 % of W2.
#[inline(always)]
pub(crate) fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides = Dims::from_elem(0, shape.len());
    let mut acc = 1;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d);
    }
    strides
}

impl Layout {
    /// A dense row-major layout starting at offset 0.
    #[inline]
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: dims_of(shape),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    #[inline]
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are dense and in row-major order, so the
    /// storage slice `offset..offset + numel` holds them in logical order.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.dense_len().is_some()
    }

    /// The element count when the layout is contiguous (see
    /// [`Layout::is_contiguous`]): the test's running product is the count,
    /// so a caller needing both makes one pass over the axes, not two
    /// (`as_slice` is read by nearly every kernel call, W4: 5 % of a step).
    #[inline]
    pub fn dense_len(&self) -> Option<usize> {
        let mut n: usize = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != n {
                return None;
            }
            n = n.saturating_mul(d);
        }
        Some(n)
    }

    /// The same layout broadcast to `shape` (stride 0 on broadcast axes), or
    /// `None` when impossible.
    pub fn broadcast_to(&self, shape: &[usize]) -> Option<Layout> {
        let lead = shape.len().checked_sub(self.shape.len())?;
        let mut strides: Dims = Dims::from_elem(0, shape.len());
        let own = self.shape.iter().zip(&self.strides);
        for ((&d, stride), (&size, &step)) in
            shape[lead..].iter().zip(&mut strides[lead..]).zip(own)
        {
            if size == d {
                *stride = step;
            } else if size != 1 {
                return None;
            }
        }
        Some(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }
}

/// When `b` broadcasts against `a` only by repeating along leading axes (a
/// bias row `[n]` against `[m, n]`), the length of the repeated row.
pub(crate) fn row_repeat(a: &[usize], b: &[usize]) -> Option<usize> {
    let lead = b.iter().take_while(|&&d| d == 1).count();
    let b = &b[lead.min(b.len().saturating_sub(1))..];
    let m: usize = b.iter().product();
    let tail = &a[a.len().checked_sub(b.len())?..];
    (tail == b && m > 0).then_some(m)
}

/// When `b`, right-aligned against `a`, is `[1.., a's axes p..q, 1..]`
/// with at least one trailing 1 (a per-channel bias `[1, C, 1, 1]`
/// against `[N, C, H, W]`): `(period, run)`, where `run` is the product
/// of `a`'s trailing axes that `b` broadcasts along and `period` is `b`'s
/// element count, so that run `k` of `a` (row-major) meets element
/// `k % period` of `b`. `None` otherwise, and for runs of one element.
// index arithmetic bounded by the ranks: the counts of leading and
// trailing ones are checked below `b`'s rank, itself at most `a`'s
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn run_repeat(a: &[usize], b: &[usize]) -> Option<(usize, usize)> {
    let tail_ones = b.iter().rev().take_while(|&&d| d == 1).count();
    let lead_ones = b.iter().take_while(|&&d| d == 1).count();
    if tail_ones == 0 || b.len() > a.len() || lead_ones + tail_ones >= b.len() {
        return None;
    }
    let skip = a.len() - b.len();
    let middle = &b[lead_ones..b.len() - tail_ones];
    let a_middle = &a[skip + lead_ones..a.len() - tail_ones];
    let run: usize = a[a.len() - tail_ones..].iter().product();
    let period: usize = middle.iter().product();
    (same_shape(middle, a_middle) && run > 1 && period > 0).then_some((period, run))
}

/// `a == b` for two shapes, as a plain loop: slice equality of `usize`s
/// is a call to `memcmp`, which on the short shapes of every op cost more
/// than the comparison (W4: 2 % of all instructions).
#[inline]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The NumPy broadcast of two shapes, or `None` when they are incompatible.
// index arithmetic bounded by the ranks: `i < rank` and each input's rank
// is at most `rank`, so `i + len` < 2·rank and `i + len − rank` ≥ 0 where used
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Dims> {
    if same_shape(a, b) {
        return Some(dims_of(a));
    }
    let rank = a.len().max(b.len());
    let mut out: Dims = Dims::from_elem(0, rank);
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// `shape` and `K` layouts of it with axes of extent 1 dropped and adjacent
/// axes merged wherever every layout steps through the pair as through one
/// axis (`stride[i] == stride[i+1] · shape[i+1]`): the same elements in the
/// same row-major order, in fewer and longer rows. A bias `[1, C, 1, 1]`
/// against `[N, C, H, W]` becomes rows of `H·W` instead of rows of `W`.
pub(crate) fn coalesce<const K: usize>(
    shape: &[usize],
    layouts: [&Layout; K],
) -> (Dims, [Layout; K]) {
    let mut dims: Dims = Dims::new();
    let mut strides: [Dims; K] = std::array::from_fn(|_| Dims::new());
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let merges = !dims.is_empty()
            && (0..K).all(|k| {
                let outer = *strides[k].last().expect("as long as dims");
                layouts[k].strides[i].checked_mul(d) == Some(outer)
            });
        if merges {
            let last = dims.last_mut().expect("checked");
            *last = last
                .checked_mul(d)
                .expect("within the tensor's checked size");
            for k in 0..K {
                *strides[k].last_mut().expect("checked") = layouts[k].strides[i];
            }
        } else {
            dims.push(d);
            for k in 0..K {
                strides[k].push(layouts[k].strides[i]);
            }
        }
    }
    let layouts = std::array::from_fn(|k| Layout {
        shape: dims.clone(),
        strides: std::mem::take(&mut strides[k]),
        offset: layouts[k].offset,
    });
    (dims, layouts)
}

/// Walks the rows (index over every axis but the last) of up to `K` layouts
/// that share one shape, starting at row `start`, yielding each row's storage
/// offset in every layout. The caller loops over the last axis itself, so the
/// per-element cost is one multiply-add, not an odometer step.
pub(crate) struct RowWalker<'a, const K: usize> {
    outer: &'a [usize],
    strides: [&'a [usize]; K],
    index: Dims,
    offsets: [usize; K],
}

impl<'a, const K: usize> RowWalker<'a, K> {
    /// `shape` is the common shape; `layouts` give strides and offsets.
    // Offsets are bounded: `index` stays inside `shape`, and every layout
    // is a view that obeys `checked_numel`, whose reachable offsets lie
    // inside its storage (< isize::MAX), so `offset + Σ index·stride`
    // cannot overflow; `% max(1)` and `/ max(1)` never divide by zero.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn new(shape: &'a [usize], layouts: [&'a Layout; K], start: usize) -> Self {
        let outer = &shape[..shape.len().saturating_sub(1)];
        let strides = layouts.map(|l| &l.strides[..]);
        let mut index: Dims = Dims::from_elem(0, outer.len());
        let mut rem = start;
        for i in (0..outer.len()).rev() {
            index[i] = rem % outer[i].max(1);
            rem /= outer[i].max(1);
        }
        let mut offsets = layouts.map(|l| l.offset);
        for (k, off) in offsets.iter_mut().enumerate() {
            for (i, &ix) in index.iter().enumerate() {
                *off += ix * strides[k][i];
            }
        }
        RowWalker {
            outer,
            strides,
            index,
            offsets,
        }
    }

    /// The current row's offsets; then steps to the next row.
    // Bounded as in `new`: the index runs through `shape` (one step past
    // the end on the last axis, undone at once), so every offset is one a
    // valid view reaches or one stride past it, far below usize::MAX.
    #[allow(clippy::arithmetic_side_effects)]
    #[inline]
    pub fn next_row(&mut self) -> [usize; K] {
        let current = self.offsets;
        for i in (0..self.outer.len()).rev() {
            self.index[i] += 1;
            for k in 0..K {
                self.offsets[k] += self.strides[k][i];
            }
            if self.index[i] < self.outer[i] {
                break;
            }
            for k in 0..K {
                self.offsets[k] -= self.strides[k][i] * self.index[i];
            }
            self.index[i] = 0;
        }
        current
    }
}

/// An axis argument: a `usize` counted from the front, or a signed integer
/// where `-1` is the last axis (PyTorch's and NumPy's `dim=-1`).
///
/// ```
/// use mnemon_tensor::{Axis, Tensor};
/// let t = Tensor::<f32>::ones(&[2, 3]);
/// assert_eq!(t.sum(-1, false).shape(), &[2]);   // the last axis
/// assert_eq!(t.sum(1usize, false).shape(), &[2]);
/// assert_eq!((-2).resolve(2), Some(0));
/// assert_eq!((-3).resolve(2), None);
/// ```
pub trait Axis: Copy + std::fmt::Debug {
    /// The axis index for a tensor of `rank`, or `None` when out of range.
    fn resolve(self, rank: usize) -> Option<usize>;
}

impl Axis for usize {
    fn resolve(self, rank: usize) -> Option<usize> {
        (self < rank).then_some(self)
    }
}

macro_rules! signed_axis {
    ($($t:ty),*) => {$(
        impl Axis for $t {
            fn resolve(self, rank: usize) -> Option<usize> {
                let r = i128::try_from(rank).ok()?;
                let a = self as i128;
                let a = if a < 0 { a.checked_add(r)? } else { a };
                (0 <= a && a < r).then(|| usize::try_from(a).ok()).flatten()
            }
        }
    )*};
}
signed_axis!(i32, i64, isize);

/// Resolves an [`Axis`] argument, panicking with the op, the shape and the
/// caller's line when it is out of range.
#[track_caller]
pub fn resolve_axis(op: &str, shape: &[usize], axis: impl Axis) -> usize {
    match axis.resolve(shape.len()) {
        Some(a) => a,
        None => panic!(
            "{op}: axis {axis:?} is out of range for a tensor of shape {shape:?} (rank {}), called at {}",
            shape.len(),
            std::panic::Location::caller()
        ),
    }
}

/// Resolves an axis index, panicking with the op, the shape and the caller's
/// line when it is out of range.
#[track_caller]
pub(crate) fn check_axis(op: &str, shape: &[usize], axis: usize) -> usize {
    if axis >= shape.len() {
        panic!(
            "{op}: axis {axis} is out of range for a tensor of shape {shape:?} (rank {}), called at {}",
            shape.len(),
            std::panic::Location::caller()
        );
    }
    axis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(
            &broadcast_shapes(&[2, 1, 3], &[4, 1]).unwrap()[..],
            &[2, 4, 3]
        );
        assert_eq!(&broadcast_shapes(&[], &[5]).unwrap()[..], &[5]);
        assert_eq!(&broadcast_shapes(&[0, 3], &[1, 3]).unwrap()[..], &[0, 3]);
        assert!(broadcast_shapes(&[2, 3], &[4]).is_none());
    }

    #[test]
    fn coalesce_merges_only_what_every_layout_steps_through_as_one() {
        let shape = [64, 6, 28, 28];
        let dense = Layout::contiguous(&shape);
        let bias = Layout::contiguous(&[1, 6, 1, 1])
            .broadcast_to(&shape)
            .unwrap();
        let (dims, [a, b]) = coalesce(&shape, [&dense, &bias]);
        assert_eq!(&dims[..], &[64, 6, 784]);
        assert_eq!(
            (&a.strides[..], &b.strides[..]),
            (&[4704, 784, 1][..], &[0, 1, 0][..])
        );
        // a transposed operand keeps its axes apart
        let t = Layout {
            shape: dims_of(&[3, 4]),
            strides: dims_of(&[1, 3]),
            offset: 5,
        };
        let (dims, [t2]) = coalesce(&[3, 4], [&t]);
        assert_eq!(
            (&dims[..], &t2.strides[..], t2.offset),
            (&[3, 4][..], &[1, 3][..], 5)
        );
        // extent-1 axes go, dense runs merge to one axis
        let (dims, [d]) = coalesce(&[1, 2, 1, 3], [&Layout::contiguous(&[1, 2, 1, 3])]);
        assert_eq!((&dims[..], &d.strides[..]), (&[6][..], &[1][..]));
    }

    #[test]
    fn walker_visits_rows_in_order() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let mut w = RowWalker::new(&l.shape, [&l], 0);
        let rows: Vec<usize> = (0..6).map(|_| w.next_row()[0]).collect();
        assert_eq!(rows, vec![0, 4, 8, 12, 16, 20]);
        let mut w = RowWalker::new(&l.shape, [&l], 4);
        assert_eq!(w.next_row()[0], 16);
    }

    #[test]
    fn contiguity() {
        let l = Layout::contiguous(&[2, 3]);
        assert!(l.is_contiguous());
        let t = Layout {
            shape: [3, 2].into_iter().collect(),
            strides: [1, 3].into_iter().collect(),
            offset: 0,
        };
        assert!(!t.is_contiguous());
        let b = Layout::contiguous(&[3]).broadcast_to(&[2, 3]).unwrap();
        assert_eq!(&b.strides[..], &[0, 1]);
        assert!(!b.is_contiguous());
    }
}
