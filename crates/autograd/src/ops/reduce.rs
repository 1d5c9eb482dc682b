//! Reductions over one axis or all elements, `sum_to` and `broadcast_to`
//! (each the other's gradient).

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{resolve_axis, Axis, Element, Tensor};
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// Sum of all elements (rank 0); gradient: the incoming gradient
    /// broadcast to the input's shape. PyTorch: `sum()`.
    #[track_caller]
    pub fn sum_all(&self) -> Self {
        let v = self.value.sum_all();
        self.tape.record(
            "sum_all",
            v,
            &[self],
            spread_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| s.axis = usize::MAX,
        )
    }

    /// Mean of all elements (rank 0). PyTorch: `mean()`.
    #[track_caller]
    pub fn mean_all(&self) -> Self {
        let n = self.value.numel();
        self.sum_all().mul_scalar(T::one() / T::of_usize(n))
    }

    /// Sum over `axis` (`keepdim` keeps it as size 1). PyTorch: `sum(dim, keepdim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn sum(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("sum", self.shape(), axis);
        let v = self.value.sum(axis, keepdim);
        self.tape.record(
            "sum",
            v,
            &[self],
            spread_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = axis;
                s.flag = keepdim;
            },
        )
    }

    /// Mean over `axis`. PyTorch: `mean(dim, keepdim)`.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn mean(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("mean", self.shape(), axis);
        let n = self.shape()[axis];
        self.sum(axis, keepdim)
            .mul_scalar(T::one() / T::of_usize(n))
    }

    /// Maximum over `axis`; the gradient goes to the (first) argmax.
    /// PyTorch: `amax(dim, keepdim)` (with `max`'s gradient routing).
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn max(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("max", self.shape(), axis);
        let v = self.value.max(axis, keepdim);
        let mask = arg_mask(&self.value, axis, &self.value.argmax_indices(axis));
        self.select_reduced("max", v, mask, axis, keepdim)
    }

    /// Minimum over `axis`; the gradient goes to the (first) argmin.
    ///
    /// # Panics
    /// When `axis` is out of range.
    #[track_caller]
    pub fn min(&self, axis: impl Axis, keepdim: bool) -> Self {
        let axis = resolve_axis("min", self.shape(), axis);
        let v = self.value.min(axis, keepdim);
        let mask = arg_mask(&self.value, axis, &self.value.neg().argmax_indices(axis));
        self.select_reduced("min", v, mask, axis, keepdim)
    }

    /// Largest element (rank 0); on ties the gradient is split evenly
    /// among the tied elements, as PyTorch's `max()` (no dim) does (a NaN
    /// counts as tied with a NaN result).
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![3.0, 1.0, 3.0], &[3]).unwrap());
    /// let g = x.max_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![0.5, 0.0, 0.5]);
    /// ```
    ///
    /// # Panics
    /// When the tensor is empty.
    #[track_caller]
    pub fn max_all(&self) -> Self {
        self.extreme_all("max_all", true)
    }

    /// Smallest element (rank 0); ties split the gradient evenly, as for
    /// [`Var::max_all`]. PyTorch: `min()`.
    ///
    /// # Panics
    /// When the tensor is empty.
    #[track_caller]
    pub fn min_all(&self) -> Self {
        self.extreme_all("min_all", false)
    }

    #[track_caller]
    fn extreme_all(&self, op: &'static str, is_max: bool) -> Self {
        assert!(
            self.value.numel() > 0,
            "{op}: the tensor of shape {:?} is empty, called at {}",
            self.shape(),
            Location::caller()
        );
        let flat = self.value.flatten();
        let v = if is_max {
            flat.max(0, false)
        } else {
            flat.min(0, false)
        };
        let m = v.item();
        let tied = |x: T| x == m || (x.is_nan() && m.is_nan());
        let count = self.value.to_vec().into_iter().filter(|&x| tied(x)).count();
        let share = T::one() / T::of_usize(count);
        let mask = self
            .value
            .map(move |x| if tied(x) { share } else { T::zero() });
        self.select_reduced(op, v, mask, usize::MAX, false)
    }

    #[track_caller]
    fn select_reduced(
        &self,
        op: &'static str,
        v: Tensor<T>,
        mask: Tensor<T>,
        axis: usize,
        keepdim: bool,
    ) -> Self {
        self.tape.record(
            op,
            v,
            &[self],
            select_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.output = Some(mask);
                s.axis = axis;
                s.flag = keepdim;
            },
        )
    }

    /// Sums down to `shape` (the inverse of broadcasting); gradient:
    /// broadcast back. Returns `self` when the shape already matches.
    ///
    /// # Panics
    /// When `shape` does not broadcast to this Var's shape.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        let v = self.value.sum_to(shape);
        self.tape.record(
            "sum_to",
            v,
            &[self],
            broadcast_back_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }

    /// Broadcast to `shape` (a view); gradient: `sum_to` the input's shape.
    /// PyTorch: `expand`.
    ///
    /// # Panics
    /// When the shapes are incompatible (names both and the caller's line).
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        let v = self
            .value
            .broadcast_to(shape)
            .unwrap_or_else(|e| panic!("broadcast_to: {e}, called at {}", Location::caller()));
        self.tape.record(
            "broadcast_to",
            v,
            &[self],
            sum_back_rule,
            Keep::Shapes,
            Location::caller(),
            |_, _| {},
        )
    }
}

/// A 0/1 tensor shaped like `x` with a 1 at each lane's chosen index.
fn arg_mask<T: Element>(x: &Tensor<T>, axis: usize, idx: &[usize]) -> Tensor<T> {
    let mut keep: Vec<usize> = x.shape().to_vec();
    keep[axis] = 1;
    Tensor::ones(&keep)
        .scatter_add(axis, idx, &keep, x.shape())
        .expect("indices from argmax fit")
}

/// The incoming gradient of a reduction, reshaped to keep the reduced axis
/// (if it was dropped) and broadcast to the input's shape.
fn spread<'t, T: Element>(c: &Ctx<'t, '_, T>, g: &Var<'t, T>) -> Var<'t, T> {
    let shape = c.input_shape(0);
    let g = if c.saved.op_axis_dropped() {
        g.unsqueeze(c.saved.axis)
    } else {
        g.clone()
    };
    g.broadcast_to(&shape)
}

fn spread_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(spread(c, g))
}

fn select_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    let mask = &c.output_value();
    one(spread(c, g).mul_const(mask))
}

fn broadcast_back_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g.broadcast_to(&c.input_shape(0)))
}

fn sum_back_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g.sum_to(&c.input_shape(0)))
}

impl<T: Element> crate::tape::Saved<T> {
    /// True for an axis reduction without keepdim (its gradient needs the
    /// axis put back before broadcasting). Whole reductions record
    /// `axis == usize::MAX`: their rank-0 outputs broadcast as they are.
    fn op_axis_dropped(&self) -> bool {
        self.axis != usize::MAX && !self.flag
    }
}
