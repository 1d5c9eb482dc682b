//! What a node keeps for its gradient rule, and the rule's view of it.
//!
//! An op records which of its inputs' values its rule reads ([`Keep`]), a
//! tensor of its own to keep (its output, or a mask) and small parameters
//! ([`Fill`], [`Params`]); the node then holds its inputs' ids and where its
//! kept tensors start in the tape's list ([`Saved`]). A rule reads all of
//! it through [`Ctx`].

use crate::tape::{NodeId, Tape};
use crate::var::Var;
use mnemon_tensor::{dims_of, Dims, Element, Tensor};
use smallvec::SmallVec;
use std::rc::Rc;

/// What of its inputs' values an op's gradient rule reads back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Keep {
    /// The rule reads the input values (`mul`: each input's gradient is
    /// the other input times the incoming one).
    Values,
    /// The rule needs only the inputs' shapes (`add`, views, reductions,
    /// ops whose rule reads the saved output): tracked inputs keep just
    /// their node id, so recording clones no tensor. PyTorch's
    /// `ctx.save_for_backward` makes the same choice per op.
    Shapes,
}

/// An op's parameters that its rule reads back (which ones depend on the
/// op; unused ones stay at their defaults).
#[derive(Clone, Default)]
pub(crate) struct Params<T: Element> {
    pub scalar: f64,
    pub axis: usize,
    /// A second integer parameter (transpose's other axis, narrow's start).
    pub axis2: usize,
    pub flag: bool,
    /// Index lists: gather/scatter/index indices, permute's permutation.
    /// One pointer wide (as `custom`): every node carries these fields and
    /// few ops use them, and a node of at most 128 bytes is moved onto the
    /// tape without a call to `memcpy`. An `Rc<Vec>`, not `Rc<[usize]>`, so
    /// that a list computed by the op (max-pool's argmax, 75,000 indices
    /// in W6) is kept without a copy.
    pub indices: Option<Rc<Vec<usize>>>,
    pub custom: Option<Box<Rc<dyn crate::custom::CustomOp<T>>>>,
}

/// What an op's forward hands to [`Tape::record`] for its rule: a tensor
/// to keep (its output, or a mask) and its parameters.
#[derive(Default)]
pub(crate) struct Fill<T: Element> {
    pub output: Option<Tensor<T>>,
    pub params: Params<T>,
}

impl<T: Element> std::ops::Deref for Fill<T> {
    type Target = Params<T>;
    fn deref(&self) -> &Params<T> {
        &self.params
    }
}

impl<T: Element> std::ops::DerefMut for Fill<T> {
    fn deref_mut(&mut self) -> &mut Params<T> {
        &mut self.params
    }
}

/// A node's inputs: each one's node id, or none for a constant. Held as
/// 4-byte ids, inline up to four: `linear` with a bias has three inputs,
/// which spilled to the heap when eight-byte `Option`s were held two
/// inline (W4: two allocations a step), and the node stays within 128
/// bytes.
#[derive(Clone, Default)]
pub(crate) struct Inputs(SmallVec<[u32; 4]>);

/// A constant input (no node) in [`Inputs`].
const CONSTANT: u32 = u32::MAX;

impl Inputs {
    /// The list of `ids`, in input order.
    #[inline]
    pub fn new(ids: impl IntoIterator<Item = Option<NodeId>>) -> Self {
        Inputs(ids.into_iter().map(Self::encode).collect())
    }

    /// A one-input list.
    #[inline]
    pub fn one(id: Option<NodeId>) -> Self {
        Inputs(SmallVec::from_buf_and_len([Self::encode(id), 0, 0, 0], 1))
    }

    /// A two-input list.
    #[inline]
    pub fn two(a: Option<NodeId>, b: Option<NodeId>) -> Self {
        Inputs(SmallVec::from_buf_and_len(
            [Self::encode(a), Self::encode(b), 0, 0],
            2,
        ))
    }

    #[inline]
    fn encode(id: Option<NodeId>) -> u32 {
        // a tape's arenas hold fewer than 2^32 - 1 - CHUNK entries (checked
        // as each chunk is started), so every node id fits below CONSTANT
        debug_assert!(id.is_none_or(|i| i < CONSTANT as usize));
        id.map_or(CONSTANT, |i| i as u32)
    }

    #[inline]
    fn decode(v: u32) -> Option<NodeId> {
        (v != CONSTANT).then_some(v as NodeId)
    }

    /// The number of inputs.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Input `i`'s node id (`None`: a constant).
    ///
    /// # Panics
    /// When the node has no input `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<NodeId> {
        Self::decode(self.0[i])
    }

    /// Each input's node id, in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<NodeId>> + '_ {
        self.0.iter().map(|&v| Self::decode(v))
    }
}

/// What a node's gradient rule needs: its inputs' node ids (so that
/// gradients of gradients flow back into them), where its kept tensors
/// start in the tape's list of kept tensors, and its parameters.
///
/// A node keeps, in this order: its input values (all of them when its
/// rule reads them, else only the constants', for their shapes), then its
/// output (or mask) when the op saved one. The tensors live in one list on
/// the tape rather than in the node, so a node is small (128 bytes, not
/// ~470) and recording one writes little memory.
#[derive(Clone, Default)]
pub(crate) struct Saved<T: Element> {
    pub inputs: Inputs,
    /// Where the kept tensors start in the tape's list (u32 keeps the
    /// node small; a tape holding 2^32 tensors would not fit in memory).
    pub kept: u32,
    pub values: bool,
    pub has_output: bool,
    /// A scalar was added to the node's output afterwards, in place, and
    /// the add recorded no node of its own (see [`Tape::absorb_shift`]):
    /// graph pictures label the node `op + c`.
    pub shifted: bool,
    pub params: Params<T>,
}

impl<T: Element> std::ops::Deref for Saved<T> {
    type Target = Params<T>;
    fn deref(&self) -> &Params<T> {
        &self.params
    }
}

impl<T: Element> Saved<T> {
    /// The position of input `i`'s value among the node's kept tensors.
    pub fn input_slot(&self, i: usize) -> Option<usize> {
        if self.values {
            Some(i)
        } else if self.inputs.get(i).is_none() {
            Some(self.inputs.iter().take(i).filter(|x| x.is_none()).count())
        } else {
            None
        }
    }

    /// How many tensors the node kept (inputs' values, then its output).
    pub fn kept_len(&self) -> usize {
        self.output_slot()
            .map_or_else(|| self.kept_inputs(), |k| k + 1)
    }

    /// How many input values the node kept.
    fn kept_inputs(&self) -> usize {
        if self.values {
            self.inputs.len()
        } else {
            self.inputs.iter().filter(|x| x.is_none()).count()
        }
    }

    /// The position of the output among the node's kept tensors.
    pub fn output_slot(&self) -> Option<usize> {
        self.has_output.then(|| self.kept_inputs())
    }
}

/// The gradient rule's view of one node.
pub(crate) struct Ctx<'t, 's, T: Element> {
    pub tape: &'t Tape<T>,
    pub id: NodeId,
    pub saved: &'s Saved<T>,
}

impl<'t, T: Element> Ctx<'t, '_, T> {
    /// Input `i` as a Var (tracked when it was, so second derivatives flow).
    ///
    /// # Panics
    /// When the op was recorded with [`Keep::Shapes`] (a bug in the op).
    pub fn input(&self, i: usize) -> Var<'t, T> {
        Var::from_parts(self.tape, self.saved.inputs.get(i), self.input_value(i))
    }

    /// The kept value of input `i` (see [`Ctx::input`]).
    pub fn input_value(&self, i: usize) -> Tensor<T> {
        let k = self
            .saved
            .input_slot(i)
            .expect("the rule reads input values: record with Keep::Values");
        self.tape.kept_value(self.saved.kept as usize + k)
    }

    /// `f` applied to the kept values of inputs 0 and 1, read in place
    /// (no clones): for rules that compute with plain tensors.
    pub fn with_two_input_values<R>(&self, f: impl FnOnce(&Tensor<T>, &Tensor<T>) -> R) -> R {
        let at = |i: usize| {
            let k = self
                .saved
                .input_slot(i)
                .expect("the rule reads input values: record with Keep::Values");
            self.saved.kept as usize + k
        };
        let kept = self.tape.kept.borrow();
        match (&kept[at(0)], &kept[at(1)]) {
            (Some(a), Some(b)) => f(a, b),
            _ => crate::tape::released(),
        }
    }

    /// The node's own output as a tracked Var (its value depends on the
    /// inputs through this very node, so reusing it is exact at any order).
    pub fn output(&self) -> Var<'t, T> {
        Var::from_parts(self.tape, Some(self.id), self.output_value())
    }

    /// `f` applied to the kept output, read in place (no clone).
    pub fn with_output_value<R>(&self, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        let k = self.saved.output_slot().expect("rule saved its output");
        match &self.tape.kept.borrow()[self.saved.kept as usize + k] {
            Some(t) => f(t),
            None => crate::tape::released(),
        }
    }

    /// The tensor the op kept as its output (or mask).
    pub fn output_value(&self) -> Tensor<T> {
        let k = self.saved.output_slot().expect("rule saved its output");
        self.tape.kept_value(self.saved.kept as usize + k)
    }

    /// The shape of input `i` (from its node, or from a constant's value).
    pub fn input_shape(&self, i: usize) -> Dims {
        match self.saved.inputs.get(i) {
            Some(id) => self.tape.shapes.borrow()[id].clone(),
            None => dims_of(self.input_value(i).shape()),
        }
    }

    /// True when input `i` wants a gradient.
    pub fn wants(&self, i: usize) -> bool {
        self.saved.inputs.get(i).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::Inputs;

    #[test]
    fn inputs_keep_ids_and_constants_in_order() {
        assert_eq!(Inputs::one(Some(0)).iter().collect::<Vec<_>>(), [Some(0)]);
        let two = Inputs::two(None, Some(7));
        assert_eq!((two.len(), two.get(0), two.get(1)), (2, None, Some(7)));
        // the largest id a tape can hand out, and more inputs than inline
        let top = u32::MAX as usize - 1;
        let ids = [Some(top), None, Some(3), Some(0), None, Some(1 << 31)];
        let many = Inputs::new(ids);
        assert_eq!(many.len(), 6);
        assert_eq!(many.iter().collect::<Vec<_>>(), ids);
        assert!((0..6).all(|i| many.get(i) == ids[i]));
    }
}
