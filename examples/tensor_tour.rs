//! A short tour of mnemon's tensors: construction, views, broadcasting,
//! reductions and matmul. Run with `cargo run --release --example tensor_tour`.

use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

fn main() -> Result<(), TensorError> {
    let x = Tensor::<f32>::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3])?;
    println!("x =\n{x}");
    println!("x.t() (a view, no copy) =\n{}", x.t());
    let bias = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[3])?;
    println!("x + bias (broadcast over rows) =\n{}", &x + &bias);
    println!("row sums = {}", x.sum(1, false));
    println!("softmax over rows =\n{:.3}", x.softmax(1));
    let mut rng = StdRng::seed_from_u64(0);
    let w = Tensor::<f32>::randn(&[3, 2], &mut rng);
    println!("x @ w =\n{}", x.matmul(&w));
    Ok(())
}
