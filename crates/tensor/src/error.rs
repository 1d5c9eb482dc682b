//! The error type for data that comes from outside the program.

use std::fmt;

/// An error caused by data from outside the program: a vector whose length
/// does not fit a shape, a runtime shape that is impossible, an index out of
/// range.
///
/// Mistakes in model code (adding tensors of incompatible shapes, say) panic
/// instead, naming the op, both shapes and the caller's line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TensorError {
    /// The number of elements given does not match the shape.
    LengthMismatch {
        /// The shape asked for.
        shape: Vec<usize>,
        /// The number of elements that shape holds.
        expected: usize,
        /// The number of elements given.
        got: usize,
    },
    /// `reshape` to a shape with a different number of elements.
    ReshapeMismatch {
        /// The tensor's shape.
        from: Vec<usize>,
        /// The shape asked for.
        to: Vec<usize>,
    },
    /// `broadcast_to` a shape the tensor cannot broadcast to.
    BroadcastMismatch {
        /// The tensor's shape.
        from: Vec<usize>,
        /// The shape asked for.
        to: Vec<usize>,
    },
    /// A shape too large to exist: the product of its non-zero extents does
    /// not fit in `isize` (see [`checked_numel`](crate::checked_numel)).
    ShapeTooLarge {
        /// The op that was given the shape.
        op: &'static str,
        /// The shape asked for.
        shape: Vec<usize>,
    },
    /// An index given to an indexing op is out of range.
    IndexOutOfRange {
        /// The op that was given the index.
        op: &'static str,
        /// The axis indexed.
        axis: usize,
        /// The offending index.
        index: usize,
        /// The size of that axis.
        size: usize,
    },
    /// An index tensor's shape does not fit the indexed tensor.
    IndexShapeMismatch {
        /// The op that was given the indices.
        op: &'static str,
        /// The shape of the tensor indexed.
        shape: Vec<usize>,
        /// The shape of the indices.
        index_shape: Vec<usize>,
    },
}

/// The element count of `shape` for a message ("too many" when it overflows).
fn count(shape: &[usize]) -> String {
    crate::layout::checked_numel(shape).map_or("too many".into(), |n| n.to_string())
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::LengthMismatch {
                shape,
                expected,
                got,
            } => write!(
                f,
                "shape {shape:?} holds {expected} elements, but {got} were given"
            ),
            TensorError::ReshapeMismatch { from, to } => write!(
                f,
                "cannot reshape a tensor of shape {from:?} ({} elements) to {to:?} ({} elements)",
                count(from),
                count(to)
            ),
            TensorError::BroadcastMismatch { from, to } => {
                write!(
                    f,
                    "cannot broadcast a tensor of shape {from:?} to shape {to:?}"
                )
            }
            TensorError::ShapeTooLarge { op, shape } => write!(
                f,
                "{op}: a tensor of shape {shape:?} would hold more elements than fit in isize"
            ),
            TensorError::IndexOutOfRange {
                op,
                axis,
                index,
                size,
            } => write!(
                f,
                "{op}: index {index} is out of range for axis {axis} of size {size}"
            ),
            TensorError::IndexShapeMismatch {
                op,
                shape,
                index_shape,
            } => write!(
                f,
                "{op}: indices of shape {index_shape:?} do not fit a tensor of shape {shape:?}"
            ),
        }
    }
}

impl std::error::Error for TensorError {}
