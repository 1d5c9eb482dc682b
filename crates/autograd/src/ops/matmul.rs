//! Matrix products: gradients `g·Bᵀ` and `Aᵀ·g`, summed over broadcast
//! batch axes.

use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::Element;
use smallvec::smallvec;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// Matrix product with PyTorch's `matmul` rules (2-D, batched with
    /// broadcast batch axes, 1-D operands as vectors); derivatives
    /// `∂/∂A = g·Bᵀ`, `∂/∂B = Aᵀ·g`.
    ///
    /// # Panics
    /// On mismatched inner dimensions or batch axes (naming both shapes and
    /// the caller's line).
    #[track_caller]
    pub fn matmul(&self, other: &Self) -> Self {
        let loc = Location::caller();
        // Check (and panic at the caller's line) before reshaping vectors.
        let v = self.value.matmul(&other.value);
        if self.value.rank() >= 2 && other.value.rank() >= 2 {
            return self.tape.record(
                "matmul",
                v,
                &[self, other],
                matmul_rule,
                Keep::Values,
                loc,
                |_, _| {},
            );
        }
        let a = if self.value.rank() == 1 {
            self.unsqueeze(0)
        } else {
            self.clone()
        };
        let b = if other.value.rank() == 1 {
            other.unsqueeze(1)
        } else {
            other.clone()
        };
        let mut out = a.matmul(&b);
        // the axes the vectors were given, found before either goes (for
        // two vectors the product is [1, 1] and both go: a dot product)
        let r = out.value.rank();
        if other.value.rank() == 1 {
            out = out.squeeze(r - 1);
        }
        if self.value.rank() == 1 {
            out = out.squeeze(r - 2);
        }
        out
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// The sum over the batch axes of `self @ other` (see
    /// [`Tensor::matmul_sum`](mnemon_tensor::Tensor::matmul_sum)): the
    /// gradient of a weight shared across a batch, in one pass instead of
    /// a product per batch entry and then a sum.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let a = tape.leaf(Tensor::ones(&[3, 2, 4]));
    /// let b = tape.leaf(Tensor::ones(&[3, 4, 5]));
    /// let c = a.matmul_sum(&b);
    /// assert_eq!(c.shape(), &[2, 5]);
    /// assert_eq!(c.value().to_vec()[0], 12.0); // 3 products of 4 ones each
    /// ```
    #[track_caller]
    pub fn matmul_sum(&self, other: &Self) -> Self {
        let v = self.value.matmul_sum(&other.value);
        self.tape.record(
            "matmul_sum",
            v,
            &[self, other],
            matmul_sum_rule,
            Keep::Values,
            Location::caller(),
            |_, _| {},
        )
    }
}

/// c = Σ_i a_i·b_i: each a_i gets g·b_iᵀ and each b_i gets a_iᵀ·g (the
/// same g for every i): per batch entry of the broadcast batch, then
/// summed back to each operand's own shape.
fn matmul_sum_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let (a, b) = (c.input(0), c.input(1));
    let (sa, sb) = (c.input_shape(0), c.input_shape(1));
    // the broadcast batch (the forward checked the two broadcast): per
    // axis from the right, the larger extent
    let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
    let rank = ba.len().max(bb.len());
    let at = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
    let batch: Vec<usize> = (0..rank).map(|i| at(ba, i).max(at(bb, i))).collect();
    let back = |x: Var<'t, T>, own: &[usize]| {
        let mut full = batch.to_vec();
        full.extend_from_slice(&own[own.len() - 2..]);
        x.broadcast_to(&full).sum_to(own)
    };
    let ga = c.wants(0).then(|| back(g.matmul(&b.t()), &sa));
    let gb = c.wants(1).then(|| back(a.t().matmul(&g), &sb));
    smallvec![ga, gb]
}

fn matmul_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let (a, b) = (c.input(0), c.input(1));
    // When an operand is a transposed view (as `w.t()` in a linear layer),
    // its gradient is computed transposed and viewed back, so that it
    // reaches the weight dense instead of as a strided view every later
    // kernel would have to gather: (Aᵀg)ᵀ = gᵀA.
    let transposed = |v: &Var<'t, T>| !v.value().is_contiguous() && v.value().t().is_contiguous();
    // A weight broadcast over a batch ([m, k] against [B.., k, n]): its
    // gradient is a sum of products, accumulated in place.
    let shared = |i: usize| c.input_shape(i).len() == 2 && g.shape().len() > 2;
    let ga = c.wants(0).then(|| {
        if shared(0) {
            return g.matmul_sum(&b.t());
        }
        let ga = if transposed(&a) {
            b.matmul(&g.t()).t()
        } else {
            g.matmul(&b.t())
        };
        ga.sum_to(&c.input_shape(0))
    });
    let gb = c.wants(1).then(|| {
        if shared(1) {
            return a.t().matmul_sum(g);
        }
        let gb = if transposed(&b) {
            g.t().matmul(&a).t()
        } else {
            a.t().matmul(g)
        };
        gb.sum_to(&c.input_shape(1))
    });
    smallvec![ga, gb]
}
