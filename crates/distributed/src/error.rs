//! What can go wrong across processes.

use std::fmt;

/// An error of data-parallel training, the same on every rank.
#[derive(Debug)]
#[non_exhaustive]
pub enum DistError {
    /// Ranks hold different models (parameter names, shapes, dtype or
    /// which are frozen): found at start-up, before any collective that
    /// would hang or mix unrelated numbers.
    ModelMismatch {
        /// The first rank whose model differs from rank 0's.
        rank: usize,
        /// Rank 0's model signature, as `name:shape` lines.
        rank0: String,
    },
    /// Rank 0 could not write the checkpoint.
    Checkpoint(String),
}

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistError::ModelMismatch { rank, rank0 } => write!(
                f,
                "rank {rank}'s model differs from rank 0's (parameter names, shapes, dtype or frozen flags); rank 0 has:\n{rank0}"
            ),
            DistError::Checkpoint(e) => write!(f, "rank 0 could not write the checkpoint: {e}"),
        }
    }
}

impl std::error::Error for DistError {}
