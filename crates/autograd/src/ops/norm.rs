//! Layer normalization, composed from reductions and elementwise ops (so
//! its gradient and its gradient's gradient need no rule of its own).

use crate::var::Var;
use mnemon_tensor::Element;
use std::panic::Location;

impl<'t, T: Element> Var<'t, T> {
    /// Normalizes over the last `dims` axes: `(x − μ)/√(σ² + eps)` with the
    /// biased variance, then `· weight + bias` when given (shaped like
    /// those axes). PyTorch: `F.layer_norm(x, x.shape[-dims:], weight,
    /// bias, eps)`.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4]).unwrap());
    /// let y = x.layer_norm(1, None, None, 0.0).value().to_vec();
    /// let s = 1.25f64.sqrt();
    /// assert!((y[0] + 1.5 / s).abs() < 1e-12 && (y[3] - 1.5 / s).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// When `dims` is 0 or above the rank, or weight/bias do not have the
    /// normalized shape.
    #[track_caller]
    pub fn layer_norm(
        &self,
        dims: usize,
        weight: Option<&Self>,
        bias: Option<&Self>,
        eps: f64,
    ) -> Self {
        let s = self.shape().to_vec();
        let tail = &s[s.len().saturating_sub(dims)..];
        let fits = dims > 0
            && dims <= s.len()
            && weight.is_none_or(|w| w.shape() == tail)
            && bias.is_none_or(|b| b.shape() == tail);
        if !fits {
            panic!(
                "layer_norm: cannot normalize the last {dims} axes of {s:?} with weight {:?} and bias {:?}, called at {}",
                weight.map(|w| w.shape().to_vec()),
                bias.map(|b| b.shape().to_vec()),
                Location::caller()
            );
        }
        let lead = &s[..s.len() - dims];
        let n: usize = tail.iter().product();
        let rows: usize = lead.iter().product();
        let flat = self.reshape_to(&[rows, n]);
        let mu = flat.mean(1, true);
        let centered = &flat - &mu;
        let var = centered.powi(2).mean(1, true);
        let inv = var.add_scalar(T::of_f64(eps)).sqrt().recip();
        let mut y = (&centered * &inv).reshape_to(&s);
        if let Some(w) = weight {
            y = &y * w;
        }
        if let Some(b) = bias {
            y = &y + b;
        }
        y
    }
}
