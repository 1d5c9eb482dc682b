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
        if other.value.rank() == 1 {
            out = out.squeeze(out.value.rank() - 1);
        }
        if self.value.rank() == 1 {
            out = out.squeeze(out.value.rank() - 2);
        }
        out
    }
}

fn matmul_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let (a, b) = (c.input(0), c.input(1));
    // When an operand is a transposed view (as `w.t()` in a linear layer),
    // its gradient is computed transposed and viewed back, so that it
    // reaches the weight dense instead of as a strided view every later
    // kernel would have to gather: (Aᵀg)ᵀ = gᵀA.
    let transposed = |v: &Var<'t, T>| !v.value().is_contiguous() && v.value().t().is_contiguous();
    let ga = c.wants(0).then(|| {
        let ga = if transposed(&a) {
            b.matmul(&g.t()).t()
        } else {
            g.matmul(&b.t())
        };
        ga.sum_to(&c.input_shape(0))
    });
    let gb = c.wants(1).then(|| {
        let gb = if transposed(&b) {
            g.t().matmul(&a).t()
        } else {
            a.t().matmul(g)
        };
        gb.sum_to(&c.input_shape(1))
    });
    smallvec![ga, gb]
}
