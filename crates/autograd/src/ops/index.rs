//! Indexing: `index_select` and `gather`, whose gradients are their
//! adjoints `index_add` and `scatter_add` (and back again, so second
//! derivatives work).

use super::one;
use crate::tape::{Ctx, InputGrads, Keep};
use crate::var::Var;
use mnemon_tensor::{Element, TensorError};
use std::panic::Location;
use std::rc::Rc;

impl<'t, T: Element> Var<'t, T> {
    /// Slices at `indices` along `axis` (embedding lookup); gradient:
    /// `index_add` of the incoming gradient. PyTorch: `index_select`.
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] for an index too large.
    #[track_caller]
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Self, TensorError> {
        let v = self.value.index_select(axis, indices)?;
        Ok(self.tape.record(
            "index_select",
            v,
            &[self],
            index_select_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = axis;
                s.indices = Some(Rc::new(indices.to_vec()));
            },
        ))
    }

    /// The adjoint of `index_select`: zeros of `shape` with each slice
    /// added at its index; gradient: `index_select`. PyTorch: `index_add`.
    ///
    /// # Errors
    /// As [`mnemon_tensor::Tensor::index_add`].
    #[track_caller]
    pub fn index_add(
        &self,
        axis: usize,
        indices: &[usize],
        shape: &[usize],
    ) -> Result<Self, TensorError> {
        let v = self.value.index_add(axis, indices, shape)?;
        Ok(self.tape.record(
            "index_add",
            v,
            &[self],
            index_add_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = axis;
                s.indices = Some(Rc::new(indices.to_vec()));
            },
        ))
    }

    /// Picks one element along `axis` per index (`indices` laid out in
    /// `index_shape`); gradient: `scatter_add`. PyTorch: `torch.gather`.
    ///
    /// # Errors
    /// As [`mnemon_tensor::Tensor::gather`].
    #[track_caller]
    pub fn gather(
        &self,
        axis: usize,
        indices: &[usize],
        index_shape: &[usize],
    ) -> Result<Self, TensorError> {
        let v = self.value.gather(axis, indices, index_shape)?;
        Ok(self.tape.record(
            "gather",
            v,
            &[self],
            gather_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = axis;
                s.indices = Some(Rc::new(indices.to_vec()));
            },
        ))
    }

    /// The adjoint of `gather`: zeros of `shape` with each element added
    /// where gather would read it; gradient: `gather`. PyTorch: `scatter_add`.
    ///
    /// # Errors
    /// As [`mnemon_tensor::Tensor::scatter_add`].
    #[track_caller]
    pub fn scatter_add(
        &self,
        axis: usize,
        indices: &[usize],
        shape: &[usize],
    ) -> Result<Self, TensorError> {
        let v = self.value.scatter_add(axis, indices, self.shape(), shape)?;
        Ok(self.tape.record(
            "scatter_add",
            v,
            &[self],
            scatter_add_rule,
            Keep::Shapes,
            Location::caller(),
            |s, _| {
                s.axis = axis;
                s.indices = Some(Rc::new(indices.to_vec()));
            },
        ))
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `gather(axis, indices, ..)` whose value the caller has already
    /// computed (max pooling finds the maxima and their positions in one
    /// pass): the same node, the same rule.
    pub(crate) fn gather_computed(
        &self,
        axis: usize,
        indices: Vec<usize>,
        value: mnemon_tensor::Tensor<T>,
        location: &'static Location<'static>,
    ) -> Self {
        self.tape.record(
            "gather",
            value,
            &[self],
            gather_rule,
            Keep::Shapes,
            location,
            |s, _| {
                s.axis = axis;
                s.indices = Some(Rc::new(indices));
            },
        )
    }
}

fn indices<T: Element>(c: &Ctx<'_, '_, T>) -> Rc<Vec<usize>> {
    c.saved
        .indices
        .clone()
        .expect("indexing op saved its indices")
}

fn index_select_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g
        .index_add(c.saved.axis, &indices(c), &c.input_shape(0))
        .expect("indices checked in forward"))
}

fn index_add_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g
        .index_select(c.saved.axis, &indices(c))
        .expect("indices checked in forward"))
}

fn gather_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g
        .scatter_add(c.saved.axis, &indices(c), &c.input_shape(0))
        .expect("indices checked in forward"))
}

fn scatter_add_rule<'t, T: Element>(c: &Ctx<'t, '_, T>, g: Var<'t, T>) -> InputGrads<'t, T> {
    let g = &g;
    one(g
        .gather(c.saved.axis, &indices(c), &c.input_shape(0))
        .expect("indices checked in forward"))
}
