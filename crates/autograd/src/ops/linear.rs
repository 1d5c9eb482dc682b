//! The affine map of a linear layer, `y = x·wᵀ + b`, as one op (PyTorch's
//! `F.linear`): one node instead of transpose, matmul and add, and the bias
//! added into the product's buffer. Gradients `∂x = g·w`, `∂w = gᵀ·x`
//! (over every leading axis of `x`), `∂b = Σ g` over those axes.

use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::Element;
use smallvec::smallvec;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// `x·wᵀ + b` for `x` of shape `[.., in]`, a weight `w` of shape
    /// `[out, in]` and an optional bias of shape `[out]`; the result has
    /// shape `[.., out]`. PyTorch: `torch.nn.functional.linear`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
    /// let w = tape.leaf(Tensor::from_vec(vec![3.0, 4.0], &[1, 2]).unwrap());
    /// let b = tape.leaf(Tensor::from_vec(vec![0.5], &[1]).unwrap());
    /// let y = x.linear(&w, Some(&b));           // 1·3 + 2·4 + 0.5
    /// assert_eq!(y.value().to_vec(), vec![11.5]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&w).unwrap().to_vec(), vec![1.0, 2.0]); // ∂w = gᵀ·x
    /// ```
    ///
    /// # Panics
    /// When `w` is not 2-D, `x`'s last axis is not `w`'s second, or the
    /// bias is not `[out]` (naming the shapes and the caller's line).
    #[track_caller]
    pub fn linear(&self, w: &Self, b: Option<&Self>) -> Self {
        let loc = Location::caller();
        let (xs, ws) = (self.shape(), w.shape());
        let ok_w = ws.len() == 2 && !xs.is_empty() && xs[xs.len() - 1] == ws[1];
        let ok_b = b.is_none_or(|b| ok_w && b.shape() == [ws[0]]);
        assert!(
            ok_w && ok_b,
            "linear: input {xs:?}, weight {ws:?} and bias {:?} do not fit ([.., in], [out, in], [out]), called at {loc}",
            b.map(|b| b.shape().to_vec())
        );
        let y = match b {
            Some(b) => self.value.linear(&w.value, &b.value),
            None => self.value.matmul(&w.value.t()),
        };
        match b {
            Some(b) => self.tape.record(
                "linear",
                y,
                &[self, w, b],
                linear_rule,
                Keep::Values,
                loc,
                |_, _| {},
            ),
            None => self.tape.record(
                "linear",
                y,
                &[self, w],
                linear_rule,
                Keep::Values,
                loc,
                |_, _| {},
            ),
        }
    }
}

fn linear_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    if !c.tape.recording.get() && g.value().rank() == 2 {
        return linear_rule_plain(c, g);
    }
    let (x, w) = (c.input(0), c.input(1));
    let (n_in, n_out) = (w.shape()[1], w.shape()[0]);
    let gx = c.wants(0).then(|| g.matmul(&w));
    let gw = c.wants(1).then(|| {
        if x.value().rank() == 2 {
            return g.t().matmul(&x);
        }
        // every leading axis of x is a batch axis: flatten them into rows
        let rows = x.value().numel() / n_in.max(1);
        let g2 = g.reshape_to(&[rows, n_out]);
        g2.t().matmul(&x.reshape_to(&[rows, n_in]))
    });
    let mut grads: InputGrads<'t, T> = smallvec![gx, gw];
    if c.saved.inputs.len() == 3 {
        grads.push(c.wants(2).then(|| g.sum_to(&[n_out])));
    }
    grads
}

/// [`linear_rule`] in plain backward for a 2-D input: the same tensor
/// products without a `Var` around each (nothing is recorded), which cost
/// W4 a tenth of its step.
fn linear_rule_plain<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let gv = g.value();
    let (gx, gw, n_out) = c.with_two_input_values(|x, w| {
        let gx = c.wants(0).then(|| gv.matmul(w));
        let gw = c.wants(1).then(|| gv.t().matmul(x));
        (gx, gw, w.shape()[0])
    });
    let mut grads: InputGrads<'t, T> = smallvec![gx.map(|t| g.lift(t)), gw.map(|t| g.lift(t))];
    if c.saved.inputs.len() == 3 {
        grads.push(c.wants(2).then(|| g.lift(gv.sum_to(&[n_out]))));
    }
    grads
}
