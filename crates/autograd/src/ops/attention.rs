//! Masks and attention: `masked_fill`, a causal mask and `logsumexp`
//! composed from primitives; scaled dot-product attention one fused op
//! (its rule beside it) where the shapes allow, composed otherwise.

use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use smallvec::smallvec;
use std::panic::Location;

/// The `[n, n]` causal mask: 1 above the diagonal (a position may not
/// attend to later ones), 0 elsewhere. PyTorch: `torch.triu(ones, 1)`.
///
/// ```
/// use mnemon_autograd::causal_mask;
/// assert_eq!(causal_mask::<f32>(3).to_vec(), vec![0., 1., 1., 0., 0., 1., 0., 0., 0.]);
/// ```
pub fn causal_mask<T: Element>(n: usize) -> Tensor<T> {
    let v = (0..n * n)
        .map(|i| if i % n > i / n { T::one() } else { T::zero() })
        .collect();
    Tensor::from_vec(v, &[n, n]).expect("n·n elements")
}

impl<'t, T: Element> Var<'t, T> {
    /// `value` where `mask` is non-zero (broadcast), `self` elsewhere; no
    /// gradient flows to the filled places. PyTorch: `masked_fill`.
    ///
    /// # Panics
    /// When `mask` does not broadcast with `self`.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Self {
        let fill = self.lift(Tensor::full(&[], value));
        Var::where_(mask, &fill, self).broadcast_like(self)
    }

    /// The same Var broadcast to `other`'s shape when it differs.
    #[track_caller]
    fn broadcast_like(&self, other: &Self) -> Self {
        if self.shape() == other.shape() {
            self.clone()
        } else {
            self.broadcast_to(other.shape())
        }
    }

    /// `ln Σ eˣ` over `axis`, stable (the maximum is taken out first, as
    /// a constant, so the gradient is exactly the softmax). PyTorch:
    /// `logsumexp(dim, keepdim)`.
    ///
    /// Over an empty axis the result is `ln 0 = −∞`, as in PyTorch.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn logsumexp(&self, axis: impl mnemon_tensor::Axis, keepdim: bool) -> Self {
        let axis = mnemon_tensor::resolve_axis("logsumexp", self.shape(), axis);
        let m = if self.shape()[axis] == 0 {
            let mut shape = self.shape().to_vec();
            shape[axis] = 1;
            Tensor::zeros(&shape)
        } else {
            self.value
                .max(axis, true)
                .map(|v| if v.is_finite() { v } else { T::zero() })
        };
        let m = self.lift(m);
        let s = (self - &m).exp().sum(axis, true).log() + &m;
        if keepdim {
            s
        } else {
            s.squeeze(axis)
        }
    }

    /// Scaled dot-product attention `softmax(q·kᵀ/√d + mask) · v` over the
    /// last two axes (`q: [.., Lq, d]`, `k: [.., Lk, d]`, `v: [.., Lk, dv]`);
    /// `mask` (broadcast to `[.., Lq, Lk]`) is 1 where attention is
    /// forbidden (added as a bias of −∞ there); a query with every key
    /// masked gets output 0 and gradient 0, as PyTorch's SDPA does (its
    /// `_safe_softmax`), rather than NaN. PyTorch:
    /// `scaled_dot_product_attention` (with a boolean mask meaning
    /// "masked", i.e. PyTorch's inverted).
    ///
    /// When q, k and v share their leading axes and the mask has at most
    /// two, this is one fused op ([`Tensor::attention`]: per head, the
    /// scores, their masked softmax and the weighted sum, the scores
    /// still in cache; its rule one fused pass per head too); otherwise
    /// (batch axes broadcast, a per-batch mask) it is composed from
    /// matmul, softmax and the add. Either way its rule, when gradients
    /// of gradients are being built, is the same formula in `Var` ops.
    ///
    /// ```
    /// use mnemon_autograd::{causal_mask, Tape};
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let q = tape.leaf(Tensor::ones(&[3, 2]));
    /// let v = tape.leaf(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]).unwrap());
    /// let y = q.scaled_dot_product_attention(&q, &v, Some(&causal_mask(3)));
    /// // row 0 sees only position 0; row 2 averages all three
    /// assert_eq!(y.value().to_vec()[..2], [1.0, 0.0]);
    /// assert!((y.value().to_vec()[4] - 2.0 / 3.0).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// When the shapes do not fit.
    #[track_caller]
    pub fn scaled_dot_product_attention(
        &self,
        k: &Self,
        v: &Self,
        mask: Option<&Tensor<T>>,
    ) -> Self {
        let loc = Location::caller();
        let d = *self.shape().last().unwrap_or_else(|| {
            panic!("scaled_dot_product_attention: q is rank 0, called at {loc}")
        });
        let r = k.shape().len();
        if r < 2 {
            panic!(
                "scaled_dot_product_attention: k of shape {:?} needs rank ≥ 2, called at {loc}",
                k.shape()
            );
        }
        let scale = T::one() / T::of_usize(d).sqrt();
        let lead = |x: &Self| x.shape()[..x.shape().len().saturating_sub(2)].to_vec();
        let fused = self.shape().len() == r
            && v.shape().len() == r
            && lead(self) == lead(k)
            && lead(self) == lead(v)
            && self.shape()[r - 1] == k.shape()[r - 1]
            && k.shape()[r - 2] == v.shape()[r - 2]
            && mask.is_none_or(|m| {
                m.rank() <= 2
                    && m.broadcast_to(&[self.shape()[r - 2], k.shape()[r - 2]])
                        .is_ok()
            });
        if !fused {
            return attention_weights(self, k, mask, scale).matmul(v);
        }
        let (y, w) = self.value.attention(&k.value, &v.value, mask, scale);
        let m = mask.map(|m| self.lift(m.clone()));
        let mut inputs = vec![self, k, v];
        inputs.extend(&m);
        self.tape.record(
            "scaled_dot_product_attention",
            y,
            &inputs,
            attention_rule,
            Keep::Values,
            loc,
            |s, _| {
                s.scalar = scale.as_f64();
                s.output = Some(w);
            },
        )
    }
}

/// `softmax(q·kᵀ·scale + bias)` with the mask's bias (0 / −∞), and rows
/// whose every key is masked set to 0: composed, so that every order of
/// gradient flows through it.
#[track_caller]
fn attention_weights<'t, T: Element>(
    q: &Var<'t, T>,
    k: &Var<'t, T>,
    mask: Option<&Tensor<T>>,
    scale: T,
) -> Var<'t, T> {
    let r = k.shape().len();
    let scores = q.matmul(&k.transpose(r - 2, r - 1)).mul_scalar(scale);
    let last = scores.shape().len() - 1;
    let Some(m) = mask else {
        return scores.softmax(last);
    };
    // a query row whose every key is masked attends to nothing: its
    // output and gradients are 0 (PyTorch's `_safe_softmax`), not the
    // NaN of a softmax over −∞ only
    let is_masked = m.map(|m| if m != T::zero() { T::one() } else { T::zero() });
    let dead = match m.rank() {
        0 => is_masked.clone(),
        r => is_masked.min(r - 1, true),
    };
    let any_dead = dead.to_vec().iter().any(|&d| d != T::zero());
    let bias = is_masked.zip_with(&dead, "scaled_dot_product_attention", |m, d| {
        if m != T::zero() && d == T::zero() {
            T::neg_infinity()
        } else {
            T::zero()
        }
    });
    let weights = (&scores + &bias).softmax(last);
    if any_dead {
        weights.mul_const(&dead.map(|d| T::one() - d))
    } else {
        weights
    }
}

/// With `w` the weights: `∂v = wᵀ·g`, `∂s = scale · w ⊙ (g·vᵀ − Σ_row
/// w ⊙ g·vᵀ)`, `∂q = ∂s·k`, `∂k = ∂sᵀ·q`. In a plain backward one fused
/// kernel from the saved weights; when gradients of gradients are being
/// built, the same formula in `Var` ops with the weights recomputed from
/// the inputs (so that they are differentiable too).
fn attention_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let scale = T::of_f64(c.saved.scalar);
    let mut grads: InputGrads<'t, T> = if !c.tape.recording.get() {
        let (q, k, v) = (c.input_value(0), c.input_value(1), c.input_value(2));
        let (dq, dk, dv) =
            c.with_output_value(|w| q.attention_backward(&k, &v, w, &g.value, scale));
        [dq, dk, dv]
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                c.wants(i)
                    .then(|| super::computed(c, "attention_backward", d, attention_rule))
            })
            .collect()
    } else {
        let (q, k, v) = (c.input(0), c.input(1), c.input(2));
        let mask = (c.saved.inputs.len() == 4).then(|| c.input_value(3));
        let w = attention_weights(&q, &k, mask.as_ref(), scale);
        let r = q.shape().len();
        let dw = g.matmul(&v.transpose(r - 2, r - 1));
        let ds = (&w * &(&dw - &(&dw * &w).sum(r - 1, true))).mul_scalar(scale);
        smallvec![
            c.wants(0).then(|| ds.matmul(&k)),
            c.wants(1).then(|| ds.transpose(r - 2, r - 1).matmul(&q)),
            c.wants(2).then(|| w.transpose(r - 2, r - 1).matmul(&g)),
        ]
    };
    if c.saved.inputs.len() == 4 {
        grads.push(None);
    }
    grads
}
