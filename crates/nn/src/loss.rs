//! Losses, built from the tape's differentiable ops, so no loss here has a
//! gradient formula of its own: `mse` is the tape's fused `squared_error`
//! op (one node, as PyTorch's `mse_loss`), the others are composed.
//! Each takes PyTorch's gradient at its kinks (documented per loss).

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

/// Mean absolute error `mean(|pred − target|)`; the gradient at a tie
/// (`pred = target`) is 0, as PyTorch's (`sgn`). PyTorch: `l1_loss`.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{l1_loss, Reduction};
/// use mnemon_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let p = tape.leaf(Tensor::from_vec(vec![1.0, -3.0, 2.0], &[3]).unwrap());
/// let t = tape.constant(Tensor::from_vec(vec![0.0, 0.0, 2.0], &[3]).unwrap());
/// let l = l1_loss(&p, &t, Reduction::Sum);
/// assert_eq!(l.item(), 4.0);
/// assert_eq!(l.backward().wrt(&p).unwrap().to_vec(), vec![1.0, -1.0, 0.0]);
/// ```
///
/// # Panics
/// When the shapes differ.
#[track_caller]
pub fn l1_loss<'t, T: Element>(pred: &Var<'t, T>, target: &Var<'t, T>, r: Reduction) -> Var<'t, T> {
    same_shape("l1_loss", pred, target);
    reduce((pred - target).abs(), r)
}

/// Smooth L1: `½d²/β` where `|d| < β`, else `|d| − ½β`, for `d = pred −
/// target`; `β = 0` is [`l1_loss`] (as PyTorch). Its gradient `d/β`
/// inside, `sign(d)` outside, is continuous at `|d| = β`; at NaN it is
/// NaN, as PyTorch's. PyTorch: `smooth_l1_loss(beta=β)` (default 1).
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{smooth_l1_loss, Reduction};
/// use mnemon_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let p = tape.leaf(Tensor::from_vec(vec![0.5, 3.0], &[2]).unwrap());
/// let t = tape.constant(Tensor::zeros(&[2]));
/// let l = smooth_l1_loss(&p, &t, 1.0, Reduction::None);
/// assert_eq!(l.value().to_vec(), vec![0.125, 2.5]);
/// ```
///
/// # Panics
/// When the shapes differ, or `β` is negative or NaN.
#[track_caller]
pub fn smooth_l1_loss<'t, T: Element>(
    pred: &Var<'t, T>,
    target: &Var<'t, T>,
    beta: f64,
    r: Reduction,
) -> Var<'t, T> {
    same_shape("smooth_l1_loss", pred, target);
    assert!(
        beta >= 0.0,
        "smooth_l1_loss: beta {beta} is not >= 0, called at {}",
        std::panic::Location::caller()
    );
    if beta == 0.0 {
        return l1_loss(pred, target, r);
    }
    reduce(
        quadratic_then_linear(pred - target, beta, 0.5 / beta, 1.0),
        r,
    )
}

/// Huber: `½d²` where `|d| ≤ δ`, else `δ·(|d| − ½δ)`, for `d = pred −
/// target` (δ times [`smooth_l1_loss`] with `β = δ`). Gradient `d` inside,
/// `δ·sign(d)` outside (continuous at `|d| = δ`; NaN at NaN, as PyTorch's).
/// PyTorch: `huber_loss(delta=δ)` (default 1).
///
/// # Panics
/// When the shapes differ, or `δ` is not positive (PyTorch's check too).
#[track_caller]
pub fn huber_loss<'t, T: Element>(
    pred: &Var<'t, T>,
    target: &Var<'t, T>,
    delta: f64,
    r: Reduction,
) -> Var<'t, T> {
    same_shape("huber_loss", pred, target);
    assert!(
        delta > 0.0,
        "huber_loss: delta {delta} is not > 0, called at {}",
        std::panic::Location::caller()
    );
    reduce(quadratic_then_linear(pred - target, delta, 0.5, delta), r)
}

/// `quad·d²` where `|d| ≤ k` (or `d` is NaN, so that its gradient is NaN,
/// as PyTorch's), else `lin·(|d| − ½k)`: a select between the two
/// branches, each differentiable, so both orders come from the tape. The
/// quadratic branch squares `d` with the places outside set to 0 (by a
/// select), so that an infinite `d` there sends no `0·∞` back through it.
#[track_caller]
fn quadratic_then_linear<'t, T: Element>(d: Var<'t, T>, k: f64, quad: f64, lin: f64) -> Var<'t, T> {
    let kt = T::of_f64(k);
    let outside = d
        .value()
        .map(move |v| if v.abs() > kt { T::one() } else { T::zero() });
    let quadratic = d
        .masked_fill(&outside, T::zero())
        .square()
        .mul_scalar(T::of_f64(quad));
    let linear = d
        .abs()
        .add_scalar(T::of_f64(-0.5 * k))
        .mul_scalar(T::of_f64(lin));
    Var::where_(&outside, &linear, &quadratic)
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

/// Negative log-likelihood of `[batch, classes]` log-probabilities
/// against integer class targets: `−mean(log_probs[i, tᵢ])` (the rows are
/// not checked to be normalised, as in PyTorch). With
/// `Var::log_softmax(1)` first, it is [`cross_entropy`]. PyTorch:
/// `nll_loss`.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{nll_loss, Reduction};
/// use mnemon_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let lp = tape.leaf(Tensor::from_vec(vec![-0.5, -1.0, -2.0, -0.25], &[2, 2]).unwrap());
/// let l = nll_loss(&lp, &[1, 0], Reduction::Mean).unwrap();
/// assert_eq!(l.item(), 1.5);
/// assert_eq!(l.backward().wrt(&lp).unwrap().to_vec(), vec![0.0, -0.5, -0.5, 0.0]);
/// ```
///
/// # Errors
/// [`TensorError::IndexOutOfRange`] for a class index too large, and
/// [`TensorError::IndexShapeMismatch`] when there is not one target per row.
///
/// # Panics
/// When `log_probs` is not 2-D.
#[track_caller]
pub fn nll_loss<'t, T: Element>(
    log_probs: &Var<'t, T>,
    targets: &[usize],
    r: Reduction,
) -> Result<Var<'t, T>, TensorError> {
    let opts = CrossEntropyOptions::default();
    picked("nll_loss", log_probs, targets, r, |lp| lp.clone(), opts)
}

/// `−f(x)[i, tᵢ]` per row (with `opts`' label smoothing and ignored
/// rows), reduced: the shared body of [`nll_loss`] and the
/// cross-entropies, with their checks, errors and messages under `op`.
#[track_caller]
fn picked<'t, T: Element>(
    op: &'static str,
    x: &Var<'t, T>,
    targets: &[usize],
    r: Reduction,
    f: impl FnOnce(&Var<'t, T>) -> Var<'t, T>,
    opts: CrossEntropyOptions,
) -> Result<Var<'t, T>, TensorError> {
    let loc = std::panic::Location::caller();
    assert!(
        x.shape().len() == 2,
        "{op}: input must be [batch, classes], got {:?}, called at {loc}",
        x.shape(),
    );
    let eps = opts.label_smoothing;
    assert!(
        (0.0..=1.0).contains(&eps),
        "{op}: label_smoothing {eps} is not in [0, 1], called at {loc}"
    );
    let (rows, classes) = (x.shape()[0], x.shape()[1]);
    if targets.len() != rows {
        return Err(TensorError::IndexShapeMismatch {
            op,
            shape: x.shape().to_vec(),
            index_shape: vec![targets.len()],
        });
    }
    let ignored = |t: usize| opts.ignore_index == Some(t);
    if let Some(&index) = targets.iter().find(|&&t| t >= classes && !ignored(t)) {
        return Err(TensorError::IndexOutOfRange {
            op,
            axis: 1,
            index,
            size: classes,
        });
    }
    let y = f(x);
    let mut per_row = if classes == 0 {
        // every row ignored (any other target was an error above): 0 each
        y.sum(1, false)
    } else {
        // an ignored row picks class 0, then is set to 0 below
        let safe: Vec<usize> = targets
            .iter()
            .map(|&t| if ignored(t) { 0 } else { t })
            .collect();
        let picked = y.gather(1, &safe, &[rows, 1])?;
        // one loss per row, `[batch]` (PyTorch's shape for reduction="none")
        (-picked).reshape(&[rows]).expect("one value per row")
    };
    if eps > 0.0 && classes > 0 {
        // (1 − ε)·nll + ε/C · (−Σ_c y), PyTorch's label smoothing
        let smooth = y.sum(1, false).mul_scalar(T::of_f64(-eps / classes as f64));
        per_row = per_row.mul_scalar(T::of_f64(1.0 - eps)) + smooth;
    }
    let kept = targets.iter().filter(|&&t| !ignored(t)).count();
    if kept == rows {
        return Ok(reduce(per_row, r));
    }
    // ignored rows: 0 by a select (so that no NaN of theirs leaks into
    // the loss), and out of the mean's count, as PyTorch's
    let off = targets
        .iter()
        .map(|&t| if ignored(t) { T::one() } else { T::zero() })
        .collect();
    let off = mnemon_tensor::Tensor::from_vec(off, &[rows]).expect("one per row");
    let per_row = per_row.masked_fill(&off, T::zero());
    Ok(match r {
        // 0/0 = NaN when every row is ignored, as PyTorch
        Reduction::Mean => per_row
            .sum_all()
            .mul_scalar(T::one() / T::of_f64(kept as f64)),
        _ => reduce(per_row, r),
    })
}

/// Cross-entropy of `[batch, classes]` logits against integer class
/// targets: `−mean(log_softmax(z)[i, tᵢ])`. Stable at logits of ±1e4.
/// PyTorch: `cross_entropy`. For PyTorch's `ignore_index` and
/// `label_smoothing`, see [`cross_entropy_with`].
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
    let opts = CrossEntropyOptions::default();
    picked(
        "cross_entropy",
        logits,
        targets,
        r,
        |z| z.log_softmax(1),
        opts,
    )
}

/// The options of [`cross_entropy_with`], PyTorch's names.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CrossEntropyOptions {
    /// Rows whose target is this class add nothing to the loss, get no
    /// gradient, and are not counted by the mean (PyTorch's
    /// `ignore_index`, there −100 by default; here none by default). The
    /// mean over no counted rows is NaN, as PyTorch's.
    pub ignore_index: Option<usize>,
    /// ε in `[0, 1]`: the target puts `1 − ε` on the class and `ε/C` on
    /// every class (PyTorch's `label_smoothing`, default 0).
    pub label_smoothing: f64,
}

/// [`cross_entropy`] with PyTorch's `ignore_index` and `label_smoothing`:
/// per row, `(1 − ε)·(−log pᵢ[tᵢ]) + ε/C · Σ_c (−log pᵢ[c])`, 0 for an
/// ignored row; the mean is over the rows not ignored. An ignored row's
/// target is not range-checked (a padding id may be any number).
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{cross_entropy, cross_entropy_with, CrossEntropyOptions, Reduction};
/// use mnemon_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let z = tape.leaf(Tensor::from_vec(vec![2.0, 0.0, 0.0, 1.0, 9.0, 9.0], &[3, 2]).unwrap());
/// const PAD: usize = 99;
/// let opts = CrossEntropyOptions { ignore_index: Some(PAD), ..Default::default() };
/// let l = cross_entropy_with(&z, &[0, 1, PAD], Reduction::Mean, opts).unwrap();
/// let first_two = cross_entropy(&z.narrow(0, 0, 2), &[0, 1], Reduction::Mean).unwrap();
/// assert!((l.item() - first_two.item()).abs() < 1e-15);
/// let g = l.backward().wrt(&z).unwrap().to_vec();
/// assert_eq!(&g[4..], &[0.0, 0.0]); // the padding row gets no gradient
/// ```
///
/// # Errors
/// As [`cross_entropy`].
///
/// # Panics
/// When `logits` is not 2-D, or `label_smoothing` is not in `[0, 1]`.
#[track_caller]
pub fn cross_entropy_with<'t, T: Element>(
    logits: &Var<'t, T>,
    targets: &[usize],
    r: Reduction,
    opts: CrossEntropyOptions,
) -> Result<Var<'t, T>, TensorError> {
    picked(
        "cross_entropy",
        logits,
        targets,
        r,
        |z| z.log_softmax(1),
        opts,
    )
}
