//! Views and joins: their gradients move the incoming gradient back into
//! the input's layout (transpose back, reshape back, pad, split).

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, Tensor, TensorError};
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// Swaps two axes; gradient: the same swap. PyTorch: `transpose`.
    ///
    /// # Panics
    /// When an axis is out of range.
    #[track_caller]
    pub fn transpose(&self, a: usize, b: usize) -> Self {
        let v = self.value.transpose(a, b);
        self.tape.record(
            "transpose",
            v,
            &[self],
            transpose_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = a;
                s.axis2 = b;
            },
        )
    }

    /// Swaps the last two axes.
    ///
    /// # Panics
    /// When the rank is below 2.
    #[track_caller]
    pub fn t(&self) -> Self {
        let r = self.value.rank();
        assert!(
            r >= 2,
            "t: needs rank >= 2, got shape {:?}, called at {}",
            self.shape(),
            Location::caller()
        );
        self.transpose(r - 2, r - 1)
    }

    /// Reorders axes; gradient: the inverse permutation. PyTorch: `permute`.
    ///
    /// # Panics
    /// When `dims` is not a permutation of the axes.
    #[track_caller]
    pub fn permute(&self, dims: &[usize]) -> Self {
        let v = self.value.permute(dims);
        self.tape.record(
            "permute",
            v,
            &[self],
            permute_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| s.indices = Some(std::rc::Rc::new(dims.to_vec())),
        )
    }

    /// The same elements in another shape; gradient: reshaped back.
    ///
    /// # Errors
    /// [`TensorError::ReshapeMismatch`] when the element counts differ.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        let v = self.value.reshape(shape)?;
        Ok(self.tape.record(
            "reshape",
            v,
            &[self],
            reshape_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        ))
    }

    /// As [`Var::reshape`] for shapes the caller knows are right.
    #[track_caller]
    pub(crate) fn reshape_to(&self, shape: &[usize]) -> Self {
        self.reshape(shape)
            .unwrap_or_else(|e| panic!("reshape: {e}, called at {}", Location::caller()))
    }

    /// The Var as one axis.
    #[track_caller]
    pub fn flatten(&self) -> Self {
        self.reshape_to(&[self.value.numel()])
    }

    /// Elements `start..start+len` along `axis`; gradient: zero-padded back.
    /// PyTorch: `narrow`.
    ///
    /// # Panics
    /// When the axis or range is out of bounds.
    #[track_caller]
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        let v = self.value.narrow(axis, start, len);
        self.tape.record(
            "narrow",
            v,
            &[self],
            narrow_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = axis;
                s.axis2 = start;
            },
        )
    }

    /// Removes `axis` if it has size 1. PyTorch: `squeeze(dim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn squeeze(&self, axis: usize) -> Self {
        let v = self.value.squeeze(axis);
        self.tape.record(
            "squeeze",
            v,
            &[self],
            reshape_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }

    /// Inserts an axis of size 1. PyTorch: `unsqueeze(dim)`.
    ///
    /// # Panics
    /// When `axis > rank`.
    #[track_caller]
    pub fn unsqueeze(&self, axis: usize) -> Self {
        let v = self.value.unsqueeze(axis);
        self.tape.record(
            "unsqueeze",
            v,
            &[self],
            reshape_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }

    /// Joins Vars along `axis`; gradient: the matching slice to each.
    /// PyTorch: `torch.cat`.
    ///
    /// # Panics
    /// When `vars` is empty or shapes differ outside `axis`.
    #[track_caller]
    pub fn concat(vars: &[Var<'t, T>], axis: usize) -> Self {
        let loc = Location::caller();
        assert!(!vars.is_empty(), "concat: no Vars given, called at {loc}");
        let values: Vec<Tensor<T>> = vars.iter().map(|v| v.value.clone()).collect();
        let v = Tensor::concat(&values, axis);
        let refs: Vec<&Var<'t, T>> = vars.iter().collect();
        vars[0].tape.record(
            "concat",
            v,
            &refs,
            concat_rule,
            Keep::Shapes,
            loc,
            |s, _| s.axis = axis,
        )
    }

    /// Joins same-shaped Vars along a new `axis`. PyTorch: `torch.stack`.
    ///
    /// # Panics
    /// When `vars` is empty or shapes differ.
    #[track_caller]
    pub fn stack(vars: &[Var<'t, T>], axis: usize) -> Self {
        let parts: Vec<Var<'t, T>> = vars.iter().map(|v| v.unsqueeze(axis)).collect();
        Self::concat(&parts, axis)
    }
}

fn transpose_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g.transpose(c.saved.axis, c.saved.axis2))
}

fn permute_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let perm = c
        .saved
        .indices
        .as_ref()
        .expect("permute saved its permutation");
    let mut inverse = vec![0; perm.len()];
    for (i, &d) in perm.iter().enumerate() {
        inverse[d] = i;
    }
    one(g.permute(&inverse))
}

fn reshape_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g.reshape_to(&c.input_shape(0)))
}

fn narrow_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let (axis, start) = (c.saved.axis, c.saved.axis2);
    let full = c.input_shape(0);
    let after = full[axis] - start - g.shape()[axis];
    let mut parts = Vec::with_capacity(3);
    let pad = |n: usize| {
        let mut s = full.to_vec();
        s[axis] = n;
        g.lift(Tensor::zeros(&s))
    };
    if start > 0 {
        parts.push(pad(start));
    }
    parts.push(g.clone());
    if after > 0 {
        parts.push(pad(after));
    }
    one(Var::concat(&parts, axis))
}

fn concat_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let axis = c.saved.axis;
    let mut start = 0;
    (0..c.saved.inputs.len())
        .map(|i| {
            let len = c.input_shape(i)[axis];
            let slice = c.wants(i).then(|| g.narrow(axis, start, len));
            start += len;
            slice
        })
        .collect()
}
