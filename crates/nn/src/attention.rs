//! Multi-head attention and a pre-norm transformer encoder layer, with
//! PyTorch's parameter names and layouts (batch-first), composed from the
//! tape's `linear`, `scaled_dot_product_attention` and `layer_norm`.

use crate::linear::{init_tensor, Init, Linear};
use crate::module::{join, Module};
use crate::norm::LayerNorm;
use crate::param::{Param, TapeParamExt};
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use rand::Rng;

/// Multi-head self-attention over `[batch, seq, embed]`: q, k, v from one
/// stacked projection `in_proj_weight` `[3E, E]` (rows q, then k, then v)
/// and `in_proj_bias` `[3E]`, `heads` heads of `E/heads`, then
/// `out_proj`. Initialised as PyTorch's (Xavier-uniform `in_proj_weight`,
/// zero biases). PyTorch: `nn.MultiheadAttention(E, heads, batch_first=True)`.
#[derive(Clone, Debug)]
pub struct MultiheadAttention<T: Element = f32> {
    /// `[3E, E]`.
    pub in_proj_weight: Param<T>,
    /// `[3E]`.
    pub in_proj_bias: Param<T>,
    /// `E → E`.
    pub out_proj: Linear<T>,
    /// The number of heads.
    pub heads: usize,
}

impl<T: Element> MultiheadAttention<T> {
    /// Attention over `embed` features with `heads` heads.
    ///
    /// # Panics
    /// When `heads` does not divide `embed`.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(embed: usize, heads: usize, rng: &mut R) -> Self {
        assert!(
            heads > 0 && embed.is_multiple_of(heads),
            "MultiheadAttention: {heads} heads do not divide {embed} features, called at {}",
            std::panic::Location::caller()
        );
        let w = init_tensor(
            Init::XavierUniform,
            &[3 * embed, embed],
            embed,
            3 * embed,
            rng,
        );
        let mut out_proj = Linear::new(embed, embed, rng);
        out_proj.bias = Some(Param::new(Tensor::zeros(&[embed])));
        MultiheadAttention {
            in_proj_weight: Param::new(w),
            in_proj_bias: Param::new(Tensor::zeros(&[3 * embed])),
            out_proj,
            heads,
        }
    }

    /// Self-attention of `x` `[B, L, E]`; `mask` (`[L, L]`, 1 = may not
    /// attend, e.g. [`mnemon_autograd::causal_mask`]) broadcasts over
    /// batch and heads.
    ///
    /// # Panics
    /// When `x` is not `[B, L, E]` for this layer's `E`.
    #[track_caller]
    pub fn attend<'t>(&self, x: &Var<'t, T>, mask: Option<&Tensor<T>>) -> Var<'t, T> {
        let s = x.shape();
        let e = self.in_proj_bias.shape()[0] / 3;
        if s.len() != 3 || s[2] != e {
            panic!(
                "MultiheadAttention: input {s:?} is not [batch, seq, {e}], called at {}",
                std::panic::Location::caller()
            );
        }
        let (b, l, h) = (s[0], s[1], self.heads);
        let tape = x.tape();
        let w = tape.param(&self.in_proj_weight);
        let bias = tape.param(&self.in_proj_bias);
        // q, k and v each from its own rows of the packed [3E, E] weight:
        // the narrowed gradients that come back are the weight's and bias's
        // (E·E and E elements), not the [B, L, 3E] activation's (three
        // zero-padded copies of it, summed, took ~5 % of a W7 step)
        let split = |i: usize| {
            let (w, bias) = (w.narrow(0, i * e, e), bias.narrow(0, i * e, e));
            x.linear(&w, Some(&bias)) // [B, L, E]
                .reshape(&[b, l, h, e / h])
                .expect("E = heads · head size")
                .permute(&[0, 2, 1, 3]) // [B, H, L, E/H]
        };
        let y = split(0).scaled_dot_product_attention(&split(1), &split(2), mask);
        let y = y
            .permute(&[0, 2, 1, 3])
            .reshape(&[b, l, e])
            .expect("same count");
        self.out_proj.forward(&y)
    }
}

impl<T: Element> Module<T> for MultiheadAttention<T> {
    /// Self-attention without a mask.
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        self.attend(x, None)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        f(&join(prefix, "in_proj_weight"), &self.in_proj_weight);
        f(&join(prefix, "in_proj_bias"), &self.in_proj_bias);
        self.out_proj.visit(&join(prefix, "out_proj"), f);
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        f(&join(prefix, "in_proj_weight"), &mut self.in_proj_weight);
        f(&join(prefix, "in_proj_bias"), &mut self.in_proj_bias);
        self.out_proj.visit_mut(&join(prefix, "out_proj"), f);
    }
}

/// A pre-norm transformer encoder layer with GELU (erf) feed-forward:
/// `h = x + MHA(LN1(x)); y = h + W2·gelu(W1·LN2(h))`. Parameter names as
/// PyTorch's `nn.TransformerEncoderLayer(d, heads, ff, dropout=0,
/// activation="gelu", batch_first=True, norm_first=True)`. Its visitors
/// are derived from its fields (`#[derive(Module)]`).
#[derive(Clone, Debug, crate::Module)]
#[module(crate = "crate")]
pub struct TransformerEncoderLayer<T: Element = f32> {
    /// The attention block.
    pub self_attn: MultiheadAttention<T>,
    /// `d → ff`.
    pub linear1: Linear<T>,
    /// `ff → d`.
    pub linear2: Linear<T>,
    /// Before attention.
    pub norm1: LayerNorm<T>,
    /// Before the feed-forward block.
    pub norm2: LayerNorm<T>,
}

impl<T: Element> TransformerEncoderLayer<T> {
    /// A layer of width `d`, `heads` heads and feed-forward width `ff`.
    ///
    /// # Panics
    /// When `heads` does not divide `d`.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(d: usize, heads: usize, ff: usize, rng: &mut R) -> Self {
        TransformerEncoderLayer {
            self_attn: MultiheadAttention::new(d, heads, rng),
            linear1: Linear::new(d, ff, rng),
            linear2: Linear::new(ff, d, rng),
            norm1: LayerNorm::new(&[d]),
            norm2: LayerNorm::new(&[d]),
        }
    }

    /// The layer on `x` `[B, L, d]` with an optional `[L, L]` attention mask.
    #[track_caller]
    pub fn forward_masked<'t>(&self, x: &Var<'t, T>, mask: Option<&Tensor<T>>) -> Var<'t, T> {
        let h = x + &self.self_attn.attend(&self.norm1.forward(x), mask);
        let ff = self
            .linear2
            .forward(&self.linear1.forward(&self.norm2.forward(&h)).gelu());
        &h + &ff
    }
}

impl<T: Element> TransformerEncoderLayer<T> {
    /// The layer without a mask (what `Module::forward` runs).
    #[track_caller]
    pub fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        self.forward_masked(x, None)
    }
}
