//! The README's code, kept true.

use mnemon::prelude::*;

#[test]
fn readme_tensor_taste() {
    let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let w = Tensor::<f32>::ones(&[3, 2]);
    let y = x.matmul(&w).sigmoid().sum(1, false);
    let s = |v: f32| 1.0 / (1.0 + (-v).exp());
    let want = [2.0 * s(6.0), 2.0 * s(15.0)];
    for (a, b) in y.to_vec().iter().zip(want) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn readme_tape_taste() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(3.0));
    let y = &x * &x + x.sin();
    let dy = y.backward().wrt(&x).unwrap().item();
    assert!((dy - (6.0 + 3f64.cos())).abs() < 1e-12);
}

#[test]
fn grads_from_another_tape_are_refused() {
    let a = Tape::<f64>::new();
    let b = Tape::<f64>::new();
    let xa = a.leaf(Tensor::scalar(1.0));
    let xb = b.leaf(Tensor::scalar(1.0));
    let grads = (&xa * 2.0).backward();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grads.wrt(&xb).is_some()))
        .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("belongs to another tape"), "{msg}");
}

mod property_test_of_your_own_function {
    use mnemon::autograd::check::strategies;
    use mnemon::prelude::*;
    use proptest::prelude::*;

    /// My function, built from mnemon ops: its gradient comes from the tape.
    fn gated<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
        &x.softplus() * &x.tanh()
    }

    proptest! {
        #[test]
        fn gated_has_right_gradients(
            x in strategies::shape(3, 4).prop_flat_map(|s| strategies::tensor(s, -3.0, 3.0))
        ) {
            let f = check::func_n(|v| gated(&v[0]));
            let inputs = [x];
            prop_assert!(gradcheck(f, &inputs, Tolerance::default()).is_ok());
            prop_assert!(gradgradcheck(f, &inputs, Tolerance::default()).is_ok());
        }
    }
}
