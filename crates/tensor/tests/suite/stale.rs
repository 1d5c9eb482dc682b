//! Kernels that write every element of their output take recycled pool
//! buffers without zero-filling them: stale values (NaN here) must never
//! show through, at any size, with any thread count.

use mnemon_tensor::kernels::window::Window2d;
use mnemon_tensor::{pool, Tensor};

/// Fills the pool with NaN buffers of `n` elements (and a little more).
fn poison(n: usize) {
    let keep: Vec<_> = [n, n + 1, n + 100, 2 * n - 1]
        .into_iter()
        .map(|len| Tensor::<f32>::full(&[len], f32::NAN))
        .collect();
    drop(keep);
    assert!(
        pool::pooled_bytes::<f32>() > 0,
        "the NaN buffers went back to the pool"
    );
}

/// A named computation producing a tensor.
type Check<'a> = (&'static str, Box<dyn Fn() -> Tensor<f32> + 'a>);

#[test]
fn recycled_buffers_never_leak_into_results() {
    // sizes from just above the pool's threshold to above the parallel one
    for n in [40_000usize, 70_000, 150_000] {
        let side = (n as f64).sqrt() as usize;
        let a = Tensor::<f32>::ones(&[side, side]);
        let x = Tensor::<f32>::ones(&[n]);
        let img = Tensor::<f32>::ones(&[1, 1, 2 * side, 2 * side]);
        let checks: Vec<Check> = vec![
            ("matmul", Box::new(|| a.matmul(&a))),
            (
                "batched matmul",
                Box::new(|| a.unsqueeze(0).matmul(&a.unsqueeze(0))),
            ),
            ("map", Box::new(|| x.gelu())),
            ("zip", Box::new(|| &x + &x)),
            ("broadcast zip", Box::new(|| &a + &a.sum(0, true))),
            ("softmax", Box::new(|| a.softmax(1))),
            (
                "max_pool",
                Box::new(|| img.max_pool2d_with_indices(Window2d::new([2, 2])).0),
            ),
        ];
        for (name, f) in checks {
            poison(f().numel());
            let got = f();
            assert!(
                got.to_vec().iter().all(|v| v.is_finite()),
                "{name} at n = {n}: stale NaN"
            );
        }
    }
}
