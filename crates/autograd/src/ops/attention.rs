//! Masks and attention, composed from primitives (no rule of their own):
//! `masked_fill`, a causal mask, `logsumexp` and scaled dot-product
//! attention.

use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
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
    /// `_safe_softmax`), rather than NaN. Composed: its gradients of
    /// every order come from matmul, softmax and the add. PyTorch: `scaled_dot_product_attention` (with a
    /// boolean mask meaning "masked", i.e. PyTorch's inverted).
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
        let d = *self.shape().last().unwrap_or_else(|| {
            panic!(
                "scaled_dot_product_attention: q is rank 0, called at {}",
                Location::caller()
            )
        });
        let r = k.shape().len();
        if r < 2 {
            panic!(
                "scaled_dot_product_attention: k of shape {:?} needs rank ≥ 2, called at {}",
                k.shape(),
                Location::caller()
            );
        }
        // the scale goes on q (Lq·d elements, not Lq·Lk scores) and the
        // mask is added as a bias of 0 / −∞, as PyTorch's reference
        // implementation does: the add's gradient passes through as is,
        // where `where` cost a pass over the scores both ways
        let q = self.mul_scalar(T::one() / T::of_usize(d).sqrt());
        let scores = q.matmul(&k.transpose(r - 2, r - 1));
        let Some(m) = mask else {
            let last = scores.shape().len() - 1;
            return scores.softmax(last).matmul(v);
        };
        let last = scores.shape().len() - 1;
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
        let weights = if any_dead {
            weights.mul_const(&dead.map(|d| T::one() - d))
        } else {
            weights
        };
        weights.matmul(v)
    }
}
