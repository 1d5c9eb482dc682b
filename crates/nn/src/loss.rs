//! Losses, built from the tape's differentiable ops, so no loss here has a
//! gradient formula of its own: `mse` is the tape's fused `squared_error`
//! op (one node, as PyTorch's `mse_loss`), the others are composed.

use mnemon_autograd::Var;
use mnemon_tensor::{Element, TensorError};

/// How per-element losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean (PyTorch's default).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: the per-element losses (per-row for
    /// [`cross_entropy`]), PyTorch's `reduction="none"`.
    None,
}

fn reduce<'t, T: Element>(l: Var<'t, T>, r: Reduction) -> Var<'t, T> {
    match r {
        Reduction::Mean => l.mean_all(),
        Reduction::Sum => l.sum_all(),
        Reduction::None => l,
    }
}

#[track_caller]
fn same_shape<T: Element>(op: &str, a: &Var<'_, T>, b: &Var<'_, T>) {
    assert!(
        a.shape() == b.shape(),
        "{op}: prediction shape {:?} and target shape {:?} differ, called at {}",
        a.shape(),
        b.shape(),
        std::panic::Location::caller()
    );
}

/// Mean squared error `mean((pred − target)²)`. PyTorch: `mse_loss`.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{mse, Reduction};
/// use mnemon_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let p = tape.leaf(Tensor::from_vec(vec![1.0, 3.0], &[2]).unwrap());
/// let t = tape.constant(Tensor::from_vec(vec![0.0, 0.0], &[2]).unwrap());
/// assert_eq!(mse(&p, &t, Reduction::Mean).item(), 5.0);
/// ```
///
/// # Panics
/// When the shapes differ (no silent broadcasting of a loss).
#[track_caller]
pub fn mse<'t, T: Element>(pred: &Var<'t, T>, target: &Var<'t, T>, r: Reduction) -> Var<'t, T> {
    same_shape("mse", pred, target);
    if r == Reduction::None {
        return (pred - target).square();
    }
    // one fused node (`Var::squared_error`), as PyTorch's `mse_loss`
    pred.squared_error(target, r == Reduction::Mean)
}

/// Binary cross-entropy on probabilities, `−(t·ln p + (1−t)·ln(1−p))`, each
/// log clamped at −100 as PyTorch does, and its gradient
/// `(p − t)/max(p(1−p), 1e−12)` finite at `p = 0` and `1` (see
/// [`Var::binary_cross_entropy`]). PyTorch: `binary_cross_entropy`.
///
/// # Panics
/// When the shapes differ.
#[track_caller]
pub fn bce<'t, T: Element>(prob: &Var<'t, T>, target: &Var<'t, T>, r: Reduction) -> Var<'t, T> {
    same_shape("bce", prob, target);
    // one fused op: its gradient (p − t)/max(p(1−p), 1e−12) stays finite
    // where a sigmoid saturates to exactly 0 or 1, as PyTorch's does
    reduce(prob.binary_cross_entropy(target), r)
}

/// Binary cross-entropy from logits, `max(z,0) − z·t + ln(1 + e^−|z|)`:
/// finite and exact at logits of ±1e4, gradient `σ(z) − t` (see
/// [`Var::binary_cross_entropy_with_logits`]). PyTorch:
/// `binary_cross_entropy_with_logits`.
///
/// # Panics
/// When the shapes differ.
#[track_caller]
pub fn bce_with_logits<'t, T: Element>(
    logits: &Var<'t, T>,
    target: &Var<'t, T>,
    r: Reduction,
) -> Var<'t, T> {
    same_shape("bce_with_logits", logits, target);
    // one fused op with gradient σ(z) − t: exactly ±½ at z = 0
    reduce(logits.binary_cross_entropy_with_logits(target), r)
}

/// Cross-entropy of `[batch, classes]` logits against integer class
/// targets: `−mean(log_softmax(z)[i, tᵢ])`. Stable at logits of ±1e4.
/// PyTorch: `cross_entropy`.
///
/// # Errors
/// [`TensorError::IndexOutOfRange`] for a class index too large, and
/// [`TensorError::IndexShapeMismatch`] when there is not one target per row.
///
/// # Panics
/// When `logits` is not 2-D.
#[track_caller]
pub fn cross_entropy<'t, T: Element>(
    logits: &Var<'t, T>,
    targets: &[usize],
    r: Reduction,
) -> Result<Var<'t, T>, TensorError> {
    assert!(
        logits.shape().len() == 2,
        "cross_entropy: logits must be [batch, classes], got {:?}, called at {}",
        logits.shape(),
        std::panic::Location::caller()
    );
    let (rows, classes) = (logits.shape()[0], logits.shape()[1]);
    if targets.len() != rows {
        return Err(TensorError::IndexShapeMismatch {
            op: "cross_entropy",
            shape: logits.shape().to_vec(),
            index_shape: vec![targets.len()],
        });
    }
    if let Some(&index) = targets.iter().find(|&&t| t >= classes) {
        return Err(TensorError::IndexOutOfRange {
            op: "cross_entropy",
            axis: 1,
            index,
            size: classes,
        });
    }
    let picked = logits
        .log_softmax(1)
        .gather(1, targets, &[targets.len(), 1])?;
    // one loss per row, `[batch]` (PyTorch's shape for reduction="none")
    let per_row = (-picked).reshape(&[rows]).expect("one value per row");
    Ok(reduce(per_row, r))
}
