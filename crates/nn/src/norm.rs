//! `LayerNorm`, `GroupNorm` and `Embedding`.

use crate::module::{join, Module};
use crate::param::{Param, TapeParamExt};
use mnemon_autograd::{Tape, Var};
use mnemon_tensor::{Element, Tensor, TensorError};
use rand::Rng;

/// Layer normalization over the last axes, with a learned elementwise
/// `weight` (ones) and `bias` (zeros) of the normalized shape. PyTorch:
/// `nn.LayerNorm(normalized_shape, eps=1e-5)`.
///
/// ```
/// use mnemon_nn::{LayerNorm, Module};
/// use mnemon_tensor::Tensor;
/// let ln = LayerNorm::<f64>::new(&[4]);
/// let y = ln.predict(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4]).unwrap());
/// assert!(y.sum_all().item().abs() < 1e-12); // zero mean
/// ```
#[derive(Clone, Debug)]
pub struct LayerNorm<T: Element = f32> {
    /// Scale, shaped like the normalized axes.
    pub weight: Param<T>,
    /// Shift, shaped like the normalized axes.
    pub bias: Param<T>,
    /// Added to the variance.
    pub eps: f64,
}

impl<T: Element> LayerNorm<T> {
    /// Normalizes over axes shaped `normalized_shape` (the last ones).
    pub fn new(normalized_shape: &[usize]) -> Self {
        LayerNorm {
            weight: Param::new(Tensor::ones(normalized_shape)),
            bias: Param::new(Tensor::zeros(normalized_shape)),
            eps: 1e-5,
        }
    }
}

impl<T: Element> Module<T> for LayerNorm<T> {
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        let (w, b) = (tape.param(&self.weight), tape.param(&self.bias));
        x.layer_norm(self.weight.shape().len(), Some(&w), Some(&b), self.eps)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        f(&join(prefix, "weight"), &self.weight);
        f(&join(prefix, "bias"), &self.bias);
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
    }
}

/// Group normalization: the `C` channels of an `[N, C, *]` input split
/// into `groups` groups of adjacent channels; each group of each sample is
/// normalized to zero mean and unit (biased) variance over its channels
/// and positions, then every channel is scaled by `weight` (ones) and
/// shifted by `bias` (zeros). Built on [`Var::layer_norm`], so its
/// gradients of every order are that op's. PyTorch:
/// `nn.GroupNorm(num_groups, num_channels, eps=1e-5)`.
///
/// ```
/// use mnemon_nn::{GroupNorm, Module};
/// use mnemon_tensor::Tensor;
/// let gn = GroupNorm::<f64>::new(2, 4);
/// // two groups of two channels, one position each
/// let y = gn.predict(&Tensor::from_vec(vec![1.0, 3.0, 10.0, 10.0], &[1, 4]).unwrap());
/// assert_eq!(y.to_vec()[..2], [-1.0 / (1.0f64 + 1e-5).sqrt(), 1.0 / (1.0f64 + 1e-5).sqrt()]);
/// assert_eq!(y.to_vec()[2..], [0.0, 0.0]);
/// ```
#[derive(Clone, Debug)]
pub struct GroupNorm<T: Element = f32> {
    /// The number of channel groups.
    pub groups: usize,
    /// Per-channel scale, `[C]`.
    pub weight: Param<T>,
    /// Per-channel shift, `[C]`.
    pub bias: Param<T>,
    /// Added to the variance.
    pub eps: f64,
}

impl<T: Element> GroupNorm<T> {
    /// `groups` groups over `channels` channels.
    ///
    /// # Panics
    /// When `groups` is 0 or does not divide `channels` (PyTorch's check).
    #[track_caller]
    pub fn new(groups: usize, channels: usize) -> Self {
        assert!(
            groups > 0 && channels.is_multiple_of(groups),
            "GroupNorm: {channels} channels do not split into {groups} groups, called at {}",
            std::panic::Location::caller()
        );
        GroupNorm {
            groups,
            weight: Param::new(Tensor::ones(&[channels])),
            bias: Param::new(Tensor::zeros(&[channels])),
            eps: 1e-5,
        }
    }
}

impl<T: Element> Module<T> for GroupNorm<T> {
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let c = self.weight.shape()[0];
        let s = x.shape().to_vec();
        if s.len() < 2 || s[1] != c {
            panic!(
                "GroupNorm: input {s:?} is not [batch, {c}, ..], called at {}",
                std::panic::Location::caller()
            );
        }
        // each sample's groups as rows: [N, groups, C/groups · positions]
        let per_group = x.shape()[1..].iter().product::<usize>() / self.groups;
        let rows = x
            .reshape(&[s[0], self.groups, per_group])
            .expect("the same elements");
        let y = rows
            .layer_norm(1, None, None, self.eps)
            .reshape(&s)
            .expect("the same elements");
        // weight and bias as [C, 1, ..]: one value per channel
        let mut along = vec![c];
        along.resize(s.len() - 1, 1);
        let tape = x.tape();
        let w = tape.param(&self.weight).reshape(&along).expect("[C]");
        let b = tape.param(&self.bias).reshape(&along).expect("[C]");
        &(&y * &w) + &b
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        f(&join(prefix, "weight"), &self.weight);
        f(&join(prefix, "bias"), &self.bias);
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
    }
}

/// A lookup table of `num` vectors of `dim` (initialised N(0, 1), as
/// PyTorch's); the gradient adds into the rows looked up. PyTorch:
/// `nn.Embedding`.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{Embedding, GradsParamExt};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let emb = Embedding::<f64>::new(5, 3, &mut rng);
/// let tape = Tape::new();
/// let e = emb.lookup(&tape, &[4, 1, 4], &[3]).unwrap();
/// assert_eq!(e.shape(), &[3, 3]);
/// let g = e.sum_all().backward().param(&emb.weight).unwrap();
/// assert_eq!(g.to_vec()[12..], [2.0, 2.0, 2.0]); // row 4 looked up twice
/// assert!(emb.lookup(&tape, &[5], &[1]).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Embedding<T: Element = f32> {
    /// `[num, dim]`.
    pub weight: Param<T>,
}

impl<T: Element> Embedding<T> {
    /// A table of `num` vectors of `dim`.
    pub fn new<R: Rng + ?Sized>(num: usize, dim: usize, rng: &mut R) -> Self {
        Embedding {
            weight: Param::new(Tensor::randn(&[num, dim], rng)),
        }
    }

    /// The vectors of `ids`, shaped `[shape.., dim]` (`shape` holds
    /// `ids.len()` elements: `[batch, seq]` for token ids).
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] for an id ≥ `num`;
    /// [`TensorError::ReshapeMismatch`] when `shape` does not hold `ids.len()`.
    #[track_caller]
    pub fn lookup<'t>(
        &self,
        tape: &'t Tape<T>,
        ids: &[usize],
        shape: &[usize],
    ) -> Result<Var<'t, T>, TensorError> {
        let dim = self.weight.shape()[1];
        let rows = tape.param(&self.weight).index_select(0, ids)?;
        let mut out = shape.to_vec();
        out.push(dim);
        rows.reshape(&out)
    }
}

impl<T: Element> Module<T> for Embedding<T> {
    /// Looks up ids given as a float Var of any shape (the ids' values,
    /// as PyTorch's integer tensor would hold them).
    ///
    /// # Panics
    /// When a value is not a whole number below `num`.
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let ids: Vec<usize> = x
            .value()
            .to_vec()
            .iter()
            .map(|&v| {
                let f = v.as_f64();
                if f < 0.0 || f.fract() != 0.0 {
                    panic!(
                        "Embedding: id {f} is not a whole non-negative number, called at {}",
                        std::panic::Location::caller()
                    );
                }
                f as usize
            })
            .collect();
        self.lookup(x.tape(), &ids, x.shape()).unwrap_or_else(|e| {
            panic!(
                "Embedding: {e}, called at {}",
                std::panic::Location::caller()
            )
        })
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        f(&join(prefix, "weight"), &self.weight);
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        f(&join(prefix, "weight"), &mut self.weight);
    }
}
