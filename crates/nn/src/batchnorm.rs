//! Batch normalization over channels (axis 1): batch statistics in
//! training (updating running statistics with momentum), running
//! statistics in evaluation. The running statistics are *buffers*: visited
//! and saved like params (so checkpoints keep them) but never given a
//! gradient, so optimizers never touch them.

use crate::module::{join, Module};
use crate::param::{Param, TapeParamExt};
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use std::sync::{Mutex, MutexGuard};

/// Batch normalization over axis 1 of `[N, C]`, `[N, C, L]` (PyTorch's
/// `nn.BatchNorm1d`) or `[N, C, H, W]` (`nn.BatchNorm2d`): weight ones,
/// bias zeros, eps 1e-5, momentum 0.1, running variance updated with the
/// unbiased batch variance as PyTorch does.
///
/// ```
/// use mnemon_nn::{BatchNorm, Module};
/// use mnemon_tensor::Tensor;
/// let mut bn = BatchNorm::<f64>::new(2);
/// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap();
/// let y = bn.predict(&x); // training: batch statistics
/// assert!((y.to_vec()[0] + 1.0).abs() < 1e-5 && (y.to_vec()[1] + 1.0).abs() < 1e-5);
/// assert_eq!(bn.running_mean().to_vec(), vec![0.2, 2.0]); // 0.9·0 + 0.1·mean
/// bn.set_training(false);
/// assert_eq!(bn.predict(&x).shape(), &[2, 2]); // running statistics now
/// ```
#[derive(Debug)]
pub struct BatchNorm<T: Element = f32> {
    /// Scale `[C]`.
    pub weight: Param<T>,
    /// Shift `[C]`.
    pub bias: Param<T>,
    running_mean: Mutex<Param<T>>,
    running_var: Mutex<Param<T>>,
    /// Added to the variance.
    pub eps: f64,
    /// Weight of the new batch in the running statistics.
    pub momentum: f64,
    /// Batch statistics (true) or running statistics (false).
    pub training: bool,
}

/// `nn.BatchNorm1d`'s name for [`BatchNorm`].
pub type BatchNorm1d<T = f32> = BatchNorm<T>;
/// `nn.BatchNorm2d`'s name for [`BatchNorm`].
pub type BatchNorm2d<T = f32> = BatchNorm<T>;

fn buffer<T: Element>(t: Tensor<T>) -> Mutex<Param<T>> {
    let mut p = Param::new(t);
    p.requires_grad = false;
    Mutex::new(p)
}

fn lock<T: Element>(m: &Mutex<Param<T>>) -> MutexGuard<'_, Param<T>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Element> BatchNorm<T> {
    /// Normalization of `channels` channels.
    pub fn new(channels: usize) -> Self {
        BatchNorm {
            weight: Param::new(Tensor::ones(&[channels])),
            bias: Param::new(Tensor::zeros(&[channels])),
            running_mean: buffer(Tensor::zeros(&[channels])),
            running_var: buffer(Tensor::ones(&[channels])),
            eps: 1e-5,
            momentum: 0.1,
            training: true,
        }
    }

    /// The running mean (a buffer).
    pub fn running_mean(&self) -> Tensor<T> {
        lock(&self.running_mean).value.clone()
    }

    /// The running variance (a buffer).
    pub fn running_var(&self) -> Tensor<T> {
        lock(&self.running_var).value.clone()
    }
}

impl<T: Element> Clone for BatchNorm<T> {
    fn clone(&self) -> Self {
        BatchNorm {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            running_mean: Mutex::new(lock(&self.running_mean).clone()),
            running_var: Mutex::new(lock(&self.running_var).clone()),
            eps: self.eps,
            momentum: self.momentum,
            training: self.training,
        }
    }
}

impl<T: Element> Module<T> for BatchNorm<T> {
    /// # Panics
    /// When the input has no channel axis of this layer's size, or (in
    /// training) holds one value per channel, whose variance is undefined
    /// (PyTorch refuses it too). An input with no values passes through
    /// and leaves the running statistics as they were.
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let s = x.shape().to_vec();
        let c = self.weight.shape()[0];
        if s.len() < 2 || s[1] != c {
            panic!(
                "BatchNorm: input {s:?} has no channel axis 1 of size {c}, called at {}",
                std::panic::Location::caller()
            );
        }
        let rest: usize = s[2..].iter().product();
        if s[0] * rest == 0 {
            // nothing to normalize: the (empty) input as is, and the running
            // statistics untouched, as PyTorch does (a mean over no values
            // would write NaN into them)
            return x.clone();
        }
        if self.training && s[0] * rest == 1 {
            panic!(
                "BatchNorm: expected more than 1 value per channel when training, got input {s:?}, called at {}",
                std::panic::Location::caller()
            );
        }
        let x3 = x.reshape(&[s[0], c, rest]).expect("same count");
        let tape = x.tape();
        let (mean, var) = if self.training {
            let mean = x3.mean(2, true).mean(0, true); // [1, C, 1]
            let var = (&x3 - &mean).powi(2).mean(2, true).mean(0, true);
            let count = (s[0] * rest) as f64;
            let m = T::of_f64(self.momentum);
            let unbias = T::of_f64(count / (count - 1.0));
            let (bm, bv) = (
                mean.value().reshape(&[c]).expect("c"),
                var.value().reshape(&[c]).expect("c"),
            );
            let mut rm = lock(&self.running_mean);
            rm.value = (&(&rm.value * (T::one() - m)) + &(&bm * m)).evaluated();
            let mut rv = lock(&self.running_var);
            rv.value = (&(&rv.value * (T::one() - m)) + &(&bv * (m * unbias))).evaluated();
            (mean, var)
        } else {
            let rm = tape.constant(self.running_mean().reshape(&[1, c, 1]).expect("c"));
            let rv = tape.constant(self.running_var().reshape(&[1, c, 1]).expect("c"));
            (rm, rv)
        };
        let inv = var.add_scalar(T::of_f64(self.eps)).sqrt().recip();
        let w = tape.param(&self.weight).reshape(&[1, c, 1]).expect("c");
        let b = tape.param(&self.bias).reshape(&[1, c, 1]).expect("c");
        let y = &(&(&(&x3 - &mean) * &inv) * &w) + &b;
        y.reshape(&s).expect("same count")
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        f(&join(prefix, "weight"), &self.weight);
        f(&join(prefix, "bias"), &self.bias);
        f(&join(prefix, "running_mean"), &lock(&self.running_mean));
        f(&join(prefix, "running_var"), &lock(&self.running_var));
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
        let rm = self
            .running_mean
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        f(&join(prefix, "running_mean"), rm);
        let rv = self
            .running_var
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        f(&join(prefix, "running_var"), rv);
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// PyTorch's `num_batches_tracked` (an int64 count that only matters
    /// when `momentum` is `None`, which mnemon does not offer).
    fn visit_untracked(&self, prefix: &str, f: &mut dyn FnMut(&str)) {
        f(&join(prefix, "num_batches_tracked"));
    }
}
