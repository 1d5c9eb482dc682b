//! Optimizers: `Sgd` (momentum, Nesterov, weight decay), `Adam`, `AdamW`,
//! with optional clipping by global gradient norm. State is keyed by
//! [`ParamId`]; frozen params are never touched.

use crate::module::Module;
use crate::param::{Param, ParamId};
use mnemon_autograd::Grads;
use mnemon_tensor::{Element, Tensor};
use std::borrow::Cow;
use std::collections::HashMap;

/// Something that updates a model from its gradients.
pub trait Optimizer<T: Element> {
    /// One update of every trainable param that has a gradient.
    fn step(&mut self, model: &mut dyn ModuleParams<T>, grads: &Grads<'_, T>);

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (schedules call this between steps).
    fn set_lr(&mut self, lr: f64);
}

/// The part of [`Module`] optimizers need (object-safe).
pub trait ModuleParams<T: Element> {
    /// Visits every param mutably.
    fn each_param(&mut self, f: &mut dyn FnMut(&mut Param<T>));
}

impl<T: Element, M: Module<T>> ModuleParams<T> for M {
    fn each_param(&mut self, f: &mut dyn FnMut(&mut Param<T>)) {
        self.params_mut(f);
    }
}

/// The factor that brings the global L2 norm of the trainable params'
/// gradients down to `clip`: `min(clip / (norm + 1e-6), 1)`, PyTorch's
/// `clip_grad_norm_` to the bit (a norm within 1e-6 of `clip` is scaled
/// by a hair below 1, as there). 1 when no clip is asked for (the norm is
/// then not computed at all).
fn clip_scale<T: Element>(
    model: &mut dyn ModuleParams<T>,
    grads: &Grads<'_, T>,
    clip: Option<f64>,
) -> T {
    match clip {
        Some(max) => {
            let coef = max / (grad_norm(model, grads) + 1e-6);
            if coef < 1.0 {
                T::of_f64(coef)
            } else {
                T::one()
            }
        }
        None => T::one(),
    }
}

/// The gradient an optimizer applies to `p`: none for a frozen param or one
/// the loss does not depend on; scaled for clipping.
/// Borrowed from `grads` unless it had to be summed or scaled.
fn grad_of<'g, T: Element>(
    p: &Param<T>,
    grads: &'g Grads<'_, T>,
    scale: T,
) -> Option<Cow<'g, Tensor<T>>> {
    if !p.requires_grad {
        return None;
    }
    let g = grads.tagged_ref(p.id().get())?;
    Some(if scale == T::one() {
        g
    } else {
        Cow::Owned(g.into_owned() * scale)
    })
}

/// The global L2 norm of the trainable params' gradients.
pub fn grad_norm<T: Element>(model: &mut dyn ModuleParams<T>, grads: &Grads<'_, T>) -> f64 {
    let mut sq = 0.0;
    model.each_param(&mut |p| {
        if let Some(g) = grad_of(p, grads, T::one()) {
            sq += g.square().sum_all().item().as_f64();
        }
    });
    sq.sqrt()
}

/// Stochastic gradient descent. PyTorch: `optim.SGD`.
///
/// `v ← μ·v + (g + λ·p)`; `p ← p − lr·v` (Nesterov: `p ← p − lr·(g + μ·v)`).
#[derive(Clone, Debug)]
pub struct Sgd<T: Element = f32> {
    /// Learning rate.
    pub lr: f64,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay λ.
    pub weight_decay: f64,
    /// Clip gradients to this global norm first.
    pub clip_norm: Option<f64>,
    velocity: HashMap<ParamId, Tensor<T>>,
}

impl<T: Element> Sgd<T> {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            clip_norm: None,
            velocity: HashMap::new(),
        }
    }

    /// With momentum μ.
    pub fn momentum(mut self, mu: f64) -> Self {
        self.momentum = mu;
        self
    }

    /// With Nesterov momentum μ.
    pub fn nesterov(mut self, mu: f64) -> Self {
        self.momentum = mu;
        self.nesterov = true;
        self
    }

    /// With L2 weight decay λ.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn step(&mut self, model: &mut dyn ModuleParams<T>, grads: &Grads<'_, T>) {
        let scale = clip_scale(model, grads, self.clip_norm);
        let (lr, mu, wd) = (
            T::of_f64(self.lr),
            T::of_f64(self.momentum),
            T::of_f64(self.weight_decay),
        );
        model.each_param(&mut |p| {
            let Some(g) = grad_of(p, grads, scale) else {
                return;
            };
            if self.momentum == 0.0 && self.weight_decay == 0.0 {
                // plain gradient descent: one pass, in place when the
                // param owns its buffer alone
                p.value.update_in_place(&g, move |w, g| w - lr * g);
                return;
            }
            let g = g.into_owned();
            // the value is moved out (so an unshared buffer is updated in
            // place); a clone of the gradient holds its place meanwhile
            let old = std::mem::replace(&mut p.value, g.clone());
            let mut d = if self.weight_decay != 0.0 {
                g + &(&old * wd)
            } else {
                g
            };
            if self.momentum != 0.0 {
                let v = match self.velocity.remove(&p.id()) {
                    Some(v) => v * mu + &d,
                    None => d.clone(),
                };
                d = if self.nesterov {
                    d + &(&v * mu)
                } else {
                    v.clone()
                };
                // evaluated: kept across steps, a deferred chain would
                // hold every earlier step's gradient
                self.velocity.insert(p.id(), v.evaluated());
            }
            p.value = (old - &(d * lr)).evaluated();
        });
    }
}

/// Adam (L2 decay added to the gradient) and AdamW (decoupled decay).
/// PyTorch: `optim.Adam` / `optim.AdamW`.
///
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
#[derive(Clone, Debug)]
pub struct Adam<T: Element = f32> {
    /// Learning rate.
    pub lr: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// Decoupled (AdamW) decay: `p ← p − lr·λ·p` before the Adam update.
    pub decoupled: bool,
    /// Clip gradients to this global norm first.
    pub clip_norm: Option<f64>,
    state: HashMap<ParamId, (u32, Tensor<T>, Tensor<T>)>,
}

impl<T: Element> Adam<T> {
    /// Adam with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            clip_norm: None,
            state: HashMap::new(),
        }
    }

    /// AdamW with decoupled weight decay λ (PyTorch's default λ is 0.01).
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Adam {
            weight_decay,
            decoupled: true,
            ..Self::new(lr)
        }
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn step(&mut self, model: &mut dyn ModuleParams<T>, grads: &Grads<'_, T>) {
        let scale = clip_scale(model, grads, self.clip_norm);
        let (b1, b2) = (T::of_f64(self.beta1), T::of_f64(self.beta2));
        model.each_param(&mut |p| {
            let Some(g) = grad_of(p, grads, scale) else {
                return;
            };
            let l2 = if self.weight_decay != 0.0 && !self.decoupled {
                T::of_f64(self.weight_decay)
            } else {
                T::zero()
            };
            let decay = if self.decoupled && self.weight_decay != 0.0 {
                T::of_f64(1.0 - self.lr * self.weight_decay)
            } else {
                T::one()
            };
            let (t, mut m, mut v) = self
                .state
                .remove(&p.id())
                .unwrap_or_else(|| (0, Tensor::zeros(g.shape()), Tensor::zeros(g.shape())));
            let t = t + 1;
            // 1 − β in f64, rounded once (as PyTorch's `1 - beta2`): in
            // f32, 1 − fl(0.999) is 1.3e-5 away from fl(1 − 0.999), and the
            // bias correction no longer cancels it (every f32 step was
            // 6.4e-6 too long, relatively)
            let (a1, a2) = (T::of_f64(1.0 - self.beta1), T::of_f64(1.0 - self.beta2));
            let c1 = T::of_f64(1.0 - self.beta1.powi(t as i32));
            let c2 = T::of_f64(1.0 - self.beta2.powi(t as i32));
            let (lr, eps) = (T::of_f64(self.lr), T::of_f64(self.eps));
            let coupled = l2 != T::zero();
            // one pass over parameter, moments and gradient, each updated
            // in its own buffer: the operations of the formulas above, in
            // their order (the same bits as one op at a time)
            p.value
                .update3_in_place(&mut m, &mut v, &g, move |p, m, v, g| {
                    let g = if coupled { g + p * l2 } else { g };
                    let m = m * b1 + g * a1;
                    let v = v * b2 + g * g * a2;
                    let step = lr * (m / c1) / ((v / c2).sqrt() + eps);
                    (p * decay - step, m, v)
                });
            self.state.insert(p.id(), (t, m, v));
        });
    }
}
