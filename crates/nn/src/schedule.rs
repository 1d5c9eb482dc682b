//! Learning-rate schedules, usable with every optimizer: a schedule maps
//! a step number to a learning rate, and [`LrSchedule::apply`] sets it on
//! the optimizer before its step. Compose warm-up then cosine with
//! [`Warmup`].

use crate::optim::Optimizer;
use mnemon_tensor::Element;

/// A learning rate for each step (counted from 0).
pub trait LrSchedule {
    /// The learning rate at `step`.
    fn lr_at(&self, step: usize) -> f64;

    /// Sets `opt`'s learning rate to the one for `step`.
    fn apply<T: Element>(&self, opt: &mut dyn Optimizer<T>, step: usize) {
        opt.set_lr(self.lr_at(step));
    }
}

/// `base · gamma^⌊step / every⌋`. PyTorch: `StepLR`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    /// The starting rate.
    pub base: f64,
    /// Steps between decays.
    pub every: usize,
    /// The decay factor.
    pub gamma: f64,
}

impl LrSchedule for StepLr {
    fn lr_at(&self, step: usize) -> f64 {
        self.base * self.gamma.powi((step / self.every.max(1)) as i32)
    }
}

/// From `base` down to `min` along half a cosine over `total` steps, then
/// `min`. PyTorch: `CosineAnnealingLR` (`T_max = total`, `eta_min = min`)
/// up to step `total` (checked against torch 2.15); past it PyTorch's
/// rises again (a cosine of period `2·total`), where this one stays at
/// `min`, as JAX's `optax.cosine_decay_schedule` does.
///
/// ```
/// use mnemon_nn::{CosineAnnealing, LrSchedule, Warmup};
/// let cos = CosineAnnealing { base: 1.0, min: 0.0, total: 100 };
/// assert_eq!(cos.lr_at(0), 1.0);
/// assert!((cos.lr_at(50) - 0.5).abs() < 1e-12);
/// assert_eq!(cos.lr_at(100), 0.0);
/// let s = Warmup { steps: 10, then: cos };
/// assert_eq!(s.lr_at(0), 0.1);                 // linear warm-up ...
/// assert_eq!(s.lr_at(10), 1.0);                // ... then the cosine from its start
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealing {
    /// The starting rate.
    pub base: f64,
    /// The final rate.
    pub min: f64,
    /// The steps the decay takes.
    pub total: usize,
}

impl LrSchedule for CosineAnnealing {
    fn lr_at(&self, step: usize) -> f64 {
        let t = (step.min(self.total) as f64) / (self.total.max(1) as f64);
        self.min + (self.base - self.min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// A linear warm-up over `steps` (from `1/steps` of the rate up to the
/// full rate at step `steps − 1`) followed by `then`, whose step count
/// starts after the warm-up. PyTorch: `SequentialLR([LinearLR(opt,
/// start_factor=1/steps, total_iters=steps-1), then],
/// milestones=[steps])` (the same rates as torch 2.15, step for step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmup<S> {
    /// Steps of warm-up.
    pub steps: usize,
    /// The schedule after it.
    pub then: S,
}

impl<S: LrSchedule> LrSchedule for Warmup<S> {
    fn lr_at(&self, step: usize) -> f64 {
        if step < self.steps {
            self.then.lr_at(0) * (step + 1) as f64 / self.steps as f64
        } else {
            self.then.lr_at(step - self.steps)
        }
    }
}
