//! Random tensors from an explicit generator: no hidden global RNG, so every
//! example and test is reproducible from a seed.

use crate::element::Element;
use crate::tensor::Tensor;
use rand::Rng;

impl<T: Element> Tensor<T> {
    /// Values drawn uniformly from `[lo, hi)`. PyTorch: `empty(..).uniform_(lo, hi)`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let t = Tensor::<f32>::rand_uniform(&[100], -1.0, 1.0, &mut rng);
    /// assert!(t.to_vec().iter().all(|&v| (-1.0..1.0).contains(&v)));
    /// ```
    ///
    /// # Panics
    /// When the shape is too large to exist (see [`crate::checked_numel`]).
    #[track_caller]
    pub fn rand_uniform<R: Rng + ?Sized>(shape: &[usize], lo: T, hi: T, rng: &mut R) -> Self {
        let n = crate::layout::numel_or_panic("rand_uniform", shape);
        let (lo64, span) = (lo.as_f64(), hi.as_f64() - lo.as_f64());
        let data = (0..n)
            .map(|_| {
                let v = T::of_f64(lo64 + span * rng.random::<f64>());
                // rounding to f32 may land on `hi`; keep the interval half-open
                if v >= hi && hi > lo {
                    lo
                } else {
                    v
                }
            })
            .collect();
        Tensor::from_parts(data, shape)
    }

    /// Values drawn from the standard normal distribution (Box–Muller).
    /// PyTorch: `randn`.
    ///
    /// # Panics
    /// When the shape is too large to exist (see [`crate::checked_numel`]).
    #[track_caller]
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Self {
        let n = crate::layout::numel_or_panic("randn", shape);
        let mut data = Vec::with_capacity(n);
        while data.len() < n {
            // 1 - u lies in (0, 1], so the logarithm is finite
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let th = std::f64::consts::TAU * u2;
            data.push(T::of_f64(r * th.cos()));
            if data.len() < n {
                data.push(T::of_f64(r * th.sin()));
            }
        }
        Tensor::from_parts(data, shape)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use rand::SeedableRng;

    #[test]
    fn randn_moments_and_seeding() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let t = Tensor::<f64>::randn(&[20001], &mut rng);
        let mean = t.mean_all().item();
        let var = (&t - mean).square().mean_all().item();
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
        let mut a = rand::rngs::StdRng::seed_from_u64(1);
        let mut b = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            Tensor::<f32>::randn(&[5], &mut a),
            Tensor::<f32>::randn(&[5], &mut b)
        );
    }
}
