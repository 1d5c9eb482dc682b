//! Dropout: in training, each element is zeroed with probability `p` and
//! the rest scaled by `1/(1−p)` (inverted dropout, so evaluation is the
//! identity); in evaluation, nothing happens.

use crate::module::Module;
use crate::param::Param;
use mnemon_autograd::Var;
use mnemon_tensor::{Element, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::sync::Mutex;

/// Inverted dropout with probability `p`, drawing the mask from the
/// caller's `rng`; the gradient is the same mask. PyTorch:
/// `F.dropout(x, p, training=True)`.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::dropout;
/// use mnemon_tensor::Tensor;
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::ones(&[1000]));
/// let y = dropout(&x, 0.25, &mut rng);
/// let kept = y.value().to_vec().iter().filter(|&&v| v != 0.0).count();
/// assert!((700..800).contains(&kept));
/// assert!(y.value().to_vec().iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
/// ```
///
/// # Panics
/// When `p` is not in `[0, 1]`.
#[track_caller]
pub fn dropout<'t, T: Element, R: Rng + ?Sized>(x: &Var<'t, T>, p: f64, rng: &mut R) -> Var<'t, T> {
    assert!(
        (0.0..=1.0).contains(&p),
        "dropout: p must be in [0, 1], got {p}, called at {}",
        std::panic::Location::caller()
    );
    if p == 0.0 {
        return x.clone();
    }
    let keep = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
    let u = Tensor::<f64>::rand_uniform(x.shape(), 0.0, 1.0, rng);
    let mask: Tensor<T> = u.map(|v| if v >= p { keep } else { 0.0 }).cast();
    x * &mask
}

/// The dropout layer: drops in training mode (the default), passes
/// through in evaluation mode (see [`Module::set_training`]). It holds its
/// own generator, seeded at construction, so a run is reproducible.
/// PyTorch: `nn.Dropout`.
#[derive(Debug)]
pub struct Dropout {
    /// The probability of zeroing an element.
    pub p: f64,
    /// True in training mode.
    pub training: bool,
    rng: Mutex<StdRng>,
}

impl Dropout {
    /// A layer dropping with probability `p`, its generator seeded by `seed`.
    pub fn new(p: f64, seed: u64) -> Self {
        Dropout {
            p,
            training: true,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }
}

impl Clone for Dropout {
    fn clone(&self) -> Self {
        let rng = self.rng.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Dropout {
            p: self.p,
            training: self.training,
            rng: Mutex::new(rng),
        }
    }
}

impl<T: Element> Module<T> for Dropout {
    #[track_caller]
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        if !self.training {
            return x.clone();
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        dropout(x, self.p, &mut *rng)
    }
    fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &Param<T>)) {}
    fn visit_mut(&mut self, _: &str, _: &mut dyn FnMut(&str, &mut Param<T>)) {}
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
