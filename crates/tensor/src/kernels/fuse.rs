//! Deferred elementwise ops, evaluated fused.
//!
//! An elementwise op on a large tensor (at least [`FUSE_MIN`] elements)
//! does not run at once: its result is a tensor whose storage holds the
//! op and its operands (an `Expr`). An op on such a result extends the
//! expression. The first read of the storage — by a non-elementwise
//! kernel, a view that is not dense, `to_vec`, or the user — evaluates the
//! whole chain in one pass: the output is cut into blocks of [`BLOCK`]
//! elements, and each block goes through every op of the chain while it is
//! in the L1 cache, instead of every op streaming the whole tensor through
//! memory. `sum_all` and `mean_all` of a deferred tensor reduce the blocks
//! as they are made, without writing the tensor at all.
//!
//! `sum(sigmoid(x)·x + x)` and its gradient (W5) then read `x` twice and
//! write the gradient once; run eagerly they made about twenty passes
//! over 40 MB.
//!
//! Results are the same bits as eager evaluation: each op runs the same
//! per-element function (vectorised the same way, see `kernels::wide`),
//! and fused sums cut the elements into the same chunks as
//! [`det_sum`](super::reduce). A deferred operand read by two ops of one
//! chain is computed once per block; read by two chains evaluated
//! separately, it is computed in each (as a compiler fusing elementwise
//! ops recomputes them), so chains are capped at [`MAX_NODES`] ops, beyond
//! which the operands are evaluated first.
//!
//! A value kept across iterations and updated by elementwise ops (an
//! optimizer's state, a running mean) should be [evaluated](Tensor::evaluated)
//! when stored: deferred, each update's chain would hold the operands of
//! the updates before it (up to [`MAX_NODES`] ops' worth). mnemon's
//! optimizers and layers do so.
//!
//! Only ops whose function is a plain `Copy + 'static` closure (every
//! named elementwise op and operator, and the autograd crate's fused rules)
//! defer; [`Tensor::map`] and [`Tensor::zip_with`], which take any closure,
//! run at once.

use super::{par_pieces, PAR_CHUNK};
use crate::element::Element;
use crate::kernels::reduce::{lane_sum, SUM_CHUNK};
use crate::kernels::wide::wide;
use crate::layout::broadcast_shapes;
use crate::pool::Storage;
use crate::tensor::Tensor;
use rayon::prelude::*;
use smallvec::SmallVec;
use std::sync::Arc;

/// Elementwise ops on tensors of at least this many elements are deferred
/// and fused; smaller ones run at once (their per-op cost is what matters
/// there, and they fit in cache anyway).
pub const FUSE_MIN: usize = 1 << 16;

/// At most this many ops in one deferred chain (a bound counting shared
/// operands once per use).
pub const MAX_NODES: u32 = 16;

/// Elements per block of a fused evaluation: every op's block of `f32`s
/// (4 KiB) of a full chain fits in the L1 cache together.
pub const BLOCK: usize = 1024;

/// One operand of an op inside a block: a run of elements or one value
/// standing for all of them.
#[derive(Clone, Copy)]
pub(crate) enum Src<'a, T> {
    Run(&'a [T]),
    Const(T),
}

/// An op over blocks: writes `out[i] = f(a[i], b[i])` (a function of one
/// element ignores `b`).
pub(crate) type Kernel<T> = Arc<dyn Fn(Src<'_, T>, Src<'_, T>, &mut [T]) + Send + Sync>;

/// An operand of a deferred op.
pub(crate) enum Arg<T: Element> {
    /// A dense tensor with the op's shape (itself evaluated or deferred).
    Tensor(Tensor<T>),
    /// One value broadcast over the whole shape.
    Const(T),
}

/// A deferred elementwise op: its kernel and operands.
pub(crate) struct Expr<T: Element> {
    kernel: Kernel<T>,
    args: SmallVec<[Arg<T>; 2]>,
    nodes: u32,
}

impl<T: Element> Expr<T> {
    /// The bound on the ops of this chain.
    pub(crate) fn nodes(&self) -> u32 {
        self.nodes
    }
}

/// The kernel of a function of one element.
fn unary_kernel<T: Element, F>(f: F) -> Kernel<T>
where
    F: Fn(T) -> T + Copy + Send + Sync + 'static,
{
    Arc::new(move |a: Src<'_, T>, _: Src<'_, T>, out: &mut [T]| match a {
        Src::Run(a) => wide(
            #[inline(always)]
            || {
                for (o, &x) in out.iter_mut().zip(a) {
                    *o = f(x);
                }
            },
        ),
        Src::Const(x) => out.fill(f(x)),
    })
}

/// The kernel of a function of two elements.
fn binary_kernel<T: Element, F>(f: F) -> Kernel<T>
where
    F: Fn(T, T) -> T + Copy + Send + Sync + 'static,
{
    Arc::new(
        move |a: Src<'_, T>, b: Src<'_, T>, out: &mut [T]| match (a, b) {
            (Src::Run(a), Src::Run(b)) => wide(
                #[inline(always)]
                || {
                    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                        *o = f(x, y);
                    }
                },
            ),
            (Src::Run(a), Src::Const(y)) => wide(
                #[inline(always)]
                || {
                    for (o, &x) in out.iter_mut().zip(a) {
                        *o = f(x, y);
                    }
                },
            ),
            (Src::Const(x), Src::Run(b)) => wide(
                #[inline(always)]
                || {
                    for (o, &y) in out.iter_mut().zip(b) {
                        *o = f(x, y);
                    }
                },
            ),
            (Src::Const(x), Src::Const(y)) => out.fill(f(x, y)),
        },
    )
}

/// True when `t` is its storage's elements in order, all of them (a fused
/// op reads the storage directly).
fn dense<T: Element>(t: &Tensor<T>) -> bool {
    t.layout.offset == 0 && t.is_contiguous() && t.data.len() == t.numel()
}

/// `t` as an operand of a deferred op of `shape`: itself when dense with
/// that shape, its one value when it holds one (a broadcast scalar).
fn operand<T: Element>(t: &Tensor<T>, shape: &[usize]) -> Option<Arg<T>> {
    if t.shape() == shape && dense(t) {
        return Some(Arg::Tensor(t.clone()));
    }
    // `single_value` reads the storage: only for views of one element
    let one = t.numel() == 1 || t.strides().iter().all(|&s| s == 0);
    one.then(|| t.single_value()).flatten().map(Arg::Const)
}

/// A deferred tensor of `shape` computing `kernel` over `args`; operands
/// whose chains would make it longer than [`MAX_NODES`] are evaluated
/// first.
fn defer<T: Element>(shape: &[usize], kernel: Kernel<T>, args: SmallVec<[Arg<T>; 2]>) -> Tensor<T> {
    let chain = |a: &Arg<T>| match a {
        Arg::Tensor(t) => t.data.nodes(),
        Arg::Const(_) => 0,
    };
    let mut nodes = 1 + args.iter().map(chain).sum::<u32>();
    if nodes > MAX_NODES {
        for a in &args {
            if let Arg::Tensor(t) = a {
                let _ = &t.data[..]; // evaluates it
            }
        }
        nodes = 1;
    }
    let n = shape.iter().product();
    let expr = Expr {
        kernel,
        args,
        nodes,
    };
    Tensor {
        data: Arc::new(Storage::deferred(n, expr)),
        layout: crate::layout::Layout::contiguous(shape),
    }
}

/// `f` over `t`, deferred when `t` is large and dense (None: run it now).
/// The test on the storage's length comes first and inline: it is all a
/// small tensor's op pays (W2).
#[inline(always)]
fn defer_map<T: Element, F>(t: &Tensor<T>, f: F) -> Option<Tensor<T>>
where
    F: Fn(T) -> T + Copy + Send + Sync + 'static,
{
    if t.data.len() < FUSE_MIN || !dense(t) {
        return None;
    }
    let args = smallvec::smallvec![Arg::Tensor(t.clone())];
    Some(defer(t.shape(), unary_kernel(f), args))
}

/// `f` over `a` and `b`, deferred when the result is large and each
/// operand is dense with the result's shape or a single value (None: run
/// it now, where a shape mismatch panics). An operand that joins is
/// dense with the result's shape, so one of them stores at least
/// [`FUSE_MIN`] elements: that test comes first, inline.
#[inline(always)]
fn defer_zip<T: Element, F>(a: &Tensor<T>, b: &Tensor<T>, f: F) -> Option<Tensor<T>>
where
    F: Fn(T, T) -> T + Copy + Send + Sync + 'static,
{
    if a.data.len() < FUSE_MIN && b.data.len() < FUSE_MIN {
        return None;
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let args = smallvec::smallvec![operand(a, &shape)?, operand(b, &shape)?];
    Some(defer(&shape, binary_kernel(f), args))
}

/// Where a step's operand comes from within a block.
#[derive(Clone, Copy)]
enum Ref<T> {
    /// The `i`-th evaluated operand.
    Leaf(usize),
    Const(T),
    /// The block the `i`-th step computed.
    Step(usize),
}

/// One op of a flattened chain (a function of one element has a
/// constant second operand it ignores).
struct Step<T: Element> {
    kernel: Kernel<T>,
    args: [Ref<T>; 2],
}

/// A chain flattened into steps in evaluation order (each shared operand
/// once), over evaluated operands.
struct Plan<T: Element> {
    leaves: Vec<Tensor<T>>,
    steps: Vec<Step<T>>,
}

impl<T: Element> Plan<T> {
    fn new(root: &Expr<T>) -> Self {
        let mut plan = Plan {
            leaves: Vec::new(),
            steps: Vec::new(),
        };
        plan.push(root, &mut Vec::new());
        plan
    }

    /// Appends `e`'s operands' steps, then `e`'s; returns its index.
    fn push(&mut self, e: &Expr<T>, seen: &mut Vec<(usize, Ref<T>)>) -> usize {
        let mut args = [Ref::Const(T::zero()); 2];
        for (r, a) in args.iter_mut().zip(&e.args) {
            *r = match a {
                Arg::Const(c) => Ref::Const(*c),
                Arg::Tensor(t) => self.operand(t, seen),
            };
        }
        self.steps.push(Step {
            kernel: e.kernel.clone(),
            args,
        });
        self.steps.len() - 1
    }

    fn operand(&mut self, t: &Tensor<T>, seen: &mut Vec<(usize, Ref<T>)>) -> Ref<T> {
        let id = t.storage_id();
        if let Some(&(_, r)) = seen.iter().find(|(s, _)| *s == id) {
            return r;
        }
        let r = match t.data.pending() {
            Some(e) => Ref::Step(self.push(&e, seen)),
            None => {
                self.leaves.push(t.clone());
                Ref::Leaf(self.leaves.len() - 1)
            }
        };
        seen.push((id, r));
        r
    }

    /// The evaluated operands' elements.
    fn leaf_slices(&self) -> Vec<&[T]> {
        self.leaves
            .iter()
            .map(|t| t.data.ready().expect("an operand without an expression"))
            .collect()
    }

    /// Computes elements `start..start + out.len()` of the chain into `out`,
    /// block by block; `scratch` holds the blocks of all steps but the last.
    fn run(&self, leaves: &[&[T]], start: usize, out: &mut [T], scratch: &mut Vec<T>) {
        let last = self.steps.len() - 1;
        // one op keeps no blocks between ops: it runs over the whole range
        // in one call (per-block calls cost ~5 % of a ReLU)
        let block = if last == 0 { out.len().max(1) } else { BLOCK };
        scratch.resize(last * block, T::zero());
        for (b, o) in out.chunks_mut(block).enumerate() {
            let (at, len) = (start + b * block, o.len());
            for (i, step) in self.steps.iter().enumerate() {
                let (done, rest) = scratch.split_at_mut(i.min(last) * block);
                let src = |r: Ref<T>| match r {
                    Ref::Leaf(j) => Src::Run(&leaves[j][at..at + len]),
                    Ref::Const(c) => Src::Const(c),
                    Ref::Step(j) => Src::Run(&done[j * block..j * block + len]),
                };
                let (a, b) = (src(step.args[0]), src(step.args[1]));
                let dst = if i == last { &mut *o } else { &mut rest[..len] };
                (step.kernel)(a, b, dst);
            }
        }
    }
}

/// The `n` elements `expr` computes, in one fused pass (split across
/// threads when large).
pub(crate) fn materialize<T: Element>(expr: &Expr<T>, n: usize) -> Vec<T> {
    let plan = Plan::new(expr);
    let leaves = plan.leaf_slices();
    // every element is written below
    let mut out = crate::pool::overwritable(n);
    par_pieces(&mut out, PAR_CHUNK, &|i, o| {
        plan.run(&leaves, i * PAR_CHUNK, o, &mut Vec::new())
    });
    out
}

/// The sum of a deferred tensor's elements, computed block by block
/// without writing them (None when `t` is not deferred and dense). The
/// same chunks and order as [`det_sum`](super::reduce::det_sum), so the
/// same bits as summing the evaluated tensor.
pub(crate) fn fused_sum<T: Element>(t: &Tensor<T>) -> Option<T> {
    if !dense(t) {
        return None;
    }
    let expr = t.data.pending()?;
    let plan = Plan::new(&expr);
    let leaves = plan.leaf_slices();
    let n = t.numel();
    let chunk_sum = |c: usize, buf: &mut Vec<T>, scratch: &mut Vec<T>| {
        let start = c * SUM_CHUNK;
        buf.resize(SUM_CHUNK.min(n - start), T::zero());
        plan.run(&leaves, start, buf, scratch);
        lane_sum(buf)
    };
    if n <= SUM_CHUNK {
        return Some(chunk_sum(0, &mut Vec::new(), &mut Vec::new()));
    }
    let chunks = n.div_ceil(SUM_CHUNK);
    let partials: Vec<T> = if super::parallel(n) {
        (0..chunks)
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(buf, scratch), c| chunk_sum(c, buf, scratch),
            )
            .collect()
    } else {
        let (mut buf, mut scratch) = (Vec::new(), Vec::new());
        (0..chunks)
            .map(|c| chunk_sum(c, &mut buf, &mut scratch))
            .collect()
    };
    Some(partials.into_iter().fold(T::zero(), |a, x| a + x))
}

impl<T: Element> Tensor<T> {
    /// As [`Tensor::map`], for a function that captures only copies (a
    /// `Copy + 'static` closure): on a tensor of at least [`FUSE_MIN`]
    /// elements the op is deferred and fused with the elementwise ops
    /// around it (see the [module](self)); the values are the same.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f32>::linspace(-1.0, 1.0, 1 << 17);
    /// let y = x.map_fused(|v| v * 2.0).map_fused(|v| v + 1.0); // deferred
    /// assert_eq!(y.to_vec(), x.map(|v| v * 2.0 + 1.0).to_vec()); // evaluated
    /// ```
    pub fn map_fused<F>(&self, f: F) -> Self
    where
        F: Fn(T) -> T + Copy + Send + Sync + 'static,
    {
        defer_map(self, f).unwrap_or_else(|| self.map(f))
    }

    /// As [`Tensor::map_fused`] for an owned tensor: written in place at
    /// once when this tensor is computed and owns its buffer alone,
    /// deferred otherwise (a large tensor), else run at once.
    pub fn map_fused_owned<F>(mut self, f: F) -> Self
    where
        F: Fn(T) -> T + Copy + Send + Sync + 'static,
    {
        if self.data.len() < FUSE_MIN || (!self.is_deferred() && self.is_unique_dense()) {
            // small, or in place in the buffer the last op just wrote
            // (still in cache): a chain starting here would write a fresh one
            return self.map_owned(f);
        }
        match defer_map(&self, f) {
            Some(t) => t,
            None => self.map_owned(f),
        }
    }

    /// As [`Tensor::zip_with`] for a `Copy + 'static` function, deferred
    /// and fused as [`Tensor::map_fused`] when the result has at least
    /// [`FUSE_MIN`] elements and each operand has the result's shape or
    /// holds one value.
    ///
    /// # Panics
    /// When the shapes cannot be broadcast together.
    #[track_caller]
    pub fn zip_fused<F>(&self, other: &Self, op: &str, f: F) -> Self
    where
        F: Fn(T, T) -> T + Copy + Send + Sync + 'static,
    {
        // a match, not `unwrap_or_else`: a closure would hide the caller's
        // line from a shape panic
        match defer_zip(self, other, f) {
            Some(t) => t,
            None => self.zip_with(other, op, f),
        }
    }

    /// As [`Tensor::zip_fused`] for an owned left operand: written in
    /// place at once when both operands are computed and this one owns its
    /// buffer alone, deferred otherwise (large tensors), else run at once.
    ///
    /// # Panics
    /// When the shapes cannot be broadcast together.
    #[track_caller]
    pub fn zip_fused_owned<F>(mut self, other: &Self, op: &str, f: F) -> Self
    where
        F: Fn(T, T) -> T + Copy + Send + Sync + 'static,
    {
        let small = self.data.len() < FUSE_MIN && other.data.len() < FUSE_MIN;
        if small || (!self.is_deferred() && !other.is_deferred() && self.is_unique_dense()) {
            // small, or in place (see `map_fused_owned`): W6's ReLU
            // backward was 4 % slower written to a fresh buffer
            return self.zip_with_owned(other, op, f);
        }
        match defer_zip(&self, other, f) {
            Some(t) => t,
            None => self.zip_with_owned(other, op, f),
        }
    }

    /// True while this tensor's values are a deferred expression not yet
    /// evaluated (see [`Tensor::map_fused`]); reading them evaluates it.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f32>::ones(&[1 << 16]);
    /// let y = &(&x + 1.0) * 2.0;       // deferred: nothing computed yet
    /// assert!(y.is_deferred());
    /// assert_eq!(y.sum_all().item(), 4.0 * 65536.0); // summed block by block
    /// let y = y.evaluated();           // computed now, once
    /// assert!(!y.is_deferred());
    /// assert!(!Tensor::<f32>::ones(&[3]).exp().is_deferred()); // small: at once
    /// ```
    pub fn is_deferred(&self) -> bool {
        self.data.ready().is_none()
    }

    /// Evaluates a deferred tensor now (nothing to do for others) and
    /// returns it: for timing a computation, or to evaluate a value that
    /// many later chains will read once rather than in each of them.
    pub fn evaluated(self) -> Self {
        let _ = &self.data[..];
        self
    }
}
