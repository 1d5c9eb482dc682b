//! Binary cross-entropy, on probabilities and on logits, as fused
//! elementwise ops (one node each, as PyTorch's), with the gradients
//! PyTorch gives at the edges:
//!
//! - on logits `z`: loss `max(z,0) − z·t + ln(1 + e^−|z|)`, gradient
//!   `(σ(z) − t)·g` for `z` (exactly ±½ at `z = 0`, where the composed
//!   form's `relu` and `abs` kinks would give 0 or −1) and `−z·g` for `t`;
//! - on probabilities `p`: loss `−(t·max(ln p, −100) + (1−t)·max(ln(1−p), −100))`,
//!   gradient `(p − t) / max(p(1−p), 1e−12) · g` for `p`, finite even at
//!   `p = 0` or `1` (where a sigmoid saturates), and
//!   `(max(ln(1−p), −100) − max(ln p, −100))·g` for `t`.
//!
//! Both rules are written in differentiable `Var` ops, so second order
//! works through them.

use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use smallvec::smallvec;
use std::panic::Location;

/// PyTorch's floor on `p(1−p)` in `binary_cross_entropy`'s gradient: its
/// `1e-12` is an `f32` constant, so in f64 the floor is that `f32`'s
/// value, 9.99999996e-13 (torch 2.15's f64 gradient at p = 1, t = 0 is
/// 1/9.99999996e-13, not 1e12).
const EPS: f64 = 1e-12_f32 as f64;

/// PyTorch's floor on the logs in `binary_cross_entropy`.
const LOG_FLOOR: f64 = -100.0;

#[track_caller]
fn same_shape<T: Element>(op: &str, a: &Var<'_, T>, b: &Var<'_, T>) {
    assert!(
        a.shape() == b.shape(),
        "{op}: input shape {:?} and target shape {:?} differ, called at {}",
        a.shape(),
        b.shape(),
        Location::caller()
    );
}

/// `max(ln x, −100)` elementwise on a tensor.
fn clamped_log<T: Element>(x: T) -> T {
    x.ln().max(T::of_f64(LOG_FLOOR))
}

impl<'t, T: Element> Var<'t, T> {
    /// Elementwise binary cross-entropy of logits `self` against targets
    /// `t`: `max(z,0) − z·t + ln(1 + e^−|z|)`, finite and exact at logits
    /// of ±1e4. Derivative `σ(z) − t` for `z`, `−z` for `t`. PyTorch:
    /// `binary_cross_entropy_with_logits(..., reduction="none")`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.leaf(Tensor::zeros(&[2]));
    /// let t = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    /// let l = z.binary_cross_entropy_with_logits(&t).sum_all();
    /// assert!((l.item() - 2.0 * 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(l.backward().wrt(&z).unwrap().to_vec(), vec![0.5, -0.5]);
    /// ```
    ///
    /// # Panics
    /// When the shapes differ.
    #[track_caller]
    pub fn binary_cross_entropy_with_logits(&self, target: &Self) -> Self {
        let op = "binary_cross_entropy_with_logits";
        same_shape(op, self, target);
        let v = self.value.zip_with(&target.value, op, |z, t| {
            z.max(T::zero()) - z * t + (-z.abs()).exp().ln_1p()
        });
        let rule = bce_logits_rule;
        let loc = Location::caller();
        self.tape
            .record(op, v, &[self, target], rule, Keep::Values, loc, |_, _| {})
    }

    /// Elementwise binary cross-entropy of probabilities `self` against
    /// targets `t`, each log floored at −100 as PyTorch does; derivative
    /// `(p − t) / max(p(1−p), ε)`, finite at `p = 0` and `p = 1`, with
    /// PyTorch's ε: the `f32` nearest 1e−12 (also in f64); the target's
    /// `ln(1−p) − ln p`, its logs not floored (±∞ at `p` = 0 and 1), as
    /// torch 2.15 gives.
    /// PyTorch: `binary_cross_entropy(..., reduction="none")`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let p = tape.leaf(Tensor::from_vec(vec![0.0, 1.0, 0.25], &[3]).unwrap());
    /// let t = tape.constant(Tensor::from_vec(vec![1.0, 1.0, 0.0], &[3]).unwrap());
    /// let l = p.binary_cross_entropy(&t);
    /// assert_eq!(l.value().to_vec()[..2], [100.0, 0.0]);
    /// let g = l.sum_all().backward().wrt(&p).unwrap().to_vec();
    /// assert_eq!(g[..2], [-1.0 / (1e-12_f32 as f64), 0.0]); // finite at the edges
    /// assert!((g[2] - 1.0 / 0.75).abs() < 1e-12);        // 1/(1−p) inside
    /// ```
    ///
    /// # Panics
    /// When the shapes differ.
    #[track_caller]
    pub fn binary_cross_entropy(&self, target: &Self) -> Self {
        let op = "binary_cross_entropy";
        same_shape(op, self, target);
        let v = self.value.zip_with(&target.value, op, |p, t| {
            -(t * clamped_log(p) + (T::one() - t) * clamped_log(T::one() - p))
        });
        let rule = bce_rule;
        let loc = Location::caller();
        self.tape
            .record(op, v, &[self, target], rule, Keep::Values, loc, |_, _| {})
    }
}

fn bce_logits_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (z, t) = (c.input(0), c.input(1));
    let gz = c.wants(0).then(|| &(&z.sigmoid() - &t) * &g);
    let gt = c.wants(1).then(|| (&z * &g).neg());
    smallvec![gz, gt]
}

fn bce_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (p, t) = (c.input(0), c.input(1));
    let gp = c.wants(0).then(|| {
        let q = p.neg().add_scalar(T::one());
        let eps = p.lift(Tensor::full(&[], T::of_f64(EPS)));
        &(&(&p - &t) / &(&p * &q).maximum(&eps)) * &g
    });
    // the target's: ln(1−p) − ln p, the logs not floored (±∞ at p = 0
    // and 1), as torch 2.15's `binary_cross_entropy` gives
    let gt = c.wants(1).then(|| {
        let q = p.neg().add_scalar(T::one());
        &(&q.log() - &p.log()) * &g
    });
    smallvec![gp, gt]
}
