//! Scalar arithmetic on an owned Var (`x * 2.0 + 1.0`: the `+ 1.0` gets the
//! temporary `x * 2.0`) writes into that Var's buffer when no one else
//! holds it. These tests check that it does, and that it never overwrites
//! a buffer the tape or the user still reads; and that a rule fused into
//! one pass for plain backward gives the bits of its recorded form.

use crate::{t, TOL};
use mnemon_autograd::check::{gradcheck, gradgradcheck};
use mnemon_autograd::{Tape, Var};
use mnemon_tensor::Tensor;

#[test]
fn an_owned_temporary_is_reused_and_the_gradient_is_unchanged() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, -2.0, 0.5]));
    let a = &x * 2.0;
    let buffer = a.value().storage_id();
    let b = a + 1.0;
    assert_eq!(b.value().storage_id(), buffer, "written in place");
    let c = b / 4.0;
    assert_eq!(c.value().storage_id(), buffer, "written in place");
    let d = c - 0.25;
    assert_eq!(d.value().to_vec(), vec![0.5, -1.0, 0.25]);
    let g = d.sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![0.5; 3]);
    // the scalar on the left
    let e = 3.0 - (&x * 2.0);
    assert_eq!(e.value().to_vec(), vec![1.0, 7.0, 2.0]);
    let f = 2.0 * (&x + 1.0);
    assert_eq!(f.value().to_vec(), vec![4.0, -2.0, 3.0]);
    let g = (e + f).sum_all().backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![0.0; 3]);
}

#[test]
fn a_buffer_the_tape_keeps_is_not_overwritten() {
    // sigmoid keeps its output for its rule: `* 3.0` must not write there
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[0.0, 1.0]));
    let s = x.sigmoid();
    let s_value = s.value().to_vec();
    let y = s * 3.0 + 1.0;
    let g = y.sum_all().backward();
    let want: Vec<f64> = s_value.iter().map(|s| 3.0 * s * (1.0 - s)).collect();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), want);
    // a Var the user still holds a clone of
    let x2 = x.clone();
    let z = x2 * 10.0;
    assert_eq!(x.value().to_vec(), vec![0.0, 1.0]);
    assert_eq!(z.value().to_vec(), vec![0.0, 10.0]);
}

#[test]
fn untracked_and_no_grad_owned_ops_stay_untracked() {
    let tape = Tape::<f64>::new();
    let c = tape.constant(t(&[1.0, 2.0])) * 2.0 + 1.0;
    assert!(!c.requires_grad());
    assert_eq!(c.value().to_vec(), vec![3.0, 5.0]);
    let x = tape.leaf(t(&[1.0]));
    let n = tape.no_grad(|| (&x * 2.0) + 1.0);
    assert!(!n.requires_grad());
    assert_eq!(n.value().to_vec(), vec![3.0]);
}

fn chain_of_scalar_ops<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    (((&v[0] * &v[0]) * 3.0 + 1.0).sigmoid() / 2.0 - 0.5) * 1.5
}

fn scalars_on_the_left<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    2.0 - (1.0 + (&v[0] * 0.5).tanh()) * 4.0
}

#[test]
fn first_and_second_order_through_owned_scalar_ops() {
    let inputs = [t(&[0.3, -0.7, 1.1, 0.0])];
    gradcheck(chain_of_scalar_ops, &inputs, TOL).unwrap();
    gradgradcheck(chain_of_scalar_ops, &inputs, TOL).unwrap();
    gradcheck(scalars_on_the_left, &inputs, TOL).unwrap();
    gradgradcheck(scalars_on_the_left, &inputs, TOL).unwrap();
}

#[test]
fn explain_mode_still_prints_the_input_value() {
    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    let x = tape.leaf(Tensor::scalar(2.0));
    let y = (&x * 3.0) + 1.0;
    y.backward();
    let log = tape.explain_log();
    let line = log
        .iter()
        .find(|l| l.contains("`add_scalar`"))
        .expect("an add_scalar step");
    assert!(
        line.contains("(node 1, value 6.000000)"),
        "the input of add_scalar is printed: {line}"
    );
}

/// The bits of an f32 tensor's elements, to compare exactly.
fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.to_vec().iter().map(|f| f.to_bits()).collect()
}

/// squared_error's rule runs as one pass in plain backward and as
/// recorded ops when building gradients of gradients: the same bits.
#[test]
fn squared_errors_one_pass_rule_gives_the_recorded_rules_bits() {
    let tape = Tape::<f32>::new();
    let xs: Vec<f32> = (0..7).map(|i| (i as f32 * 0.37).sin() * 3.1).collect();
    let ts: Vec<f32> = (0..7).map(|i| (i as f32 * 0.91).cos() / 1.7).collect();
    let x = tape.leaf(Tensor::from_vec(xs, &[7]).unwrap());
    let t = tape.leaf(Tensor::from_vec(ts, &[7]).unwrap());
    for mean in [true, false] {
        let l = x.squared_error(&t, mean).mul_scalar(1.3);
        let plain = l.backward();
        let graph = l.grad_graph(&[&x, &t]);
        for (v, g) in [(&x, &graph[0]), (&t, &graph[1])] {
            assert_eq!(
                bits(plain.wrt(v).unwrap()),
                bits(g.value()),
                "mean = {mean}"
            );
        }
    }
}

/// linear's rule takes plain tensor products in plain backward and
/// recorded ops for gradients of gradients: the same bits, with and
/// without a bias, for tiny and gemm-sized products.
#[test]
fn linears_plain_rule_gives_the_recorded_rules_bits() {
    let vals = |n: usize, s: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * s).sin()).collect() };
    for (rows, n_in, n_out) in [(4, 2, 8), (4, 8, 1), (3, 5, 7), (33, 40, 20)] {
        let tape = Tape::<f32>::new();
        let x = tape.leaf(Tensor::from_vec(vals(rows * n_in, 0.37), &[rows, n_in]).unwrap());
        let w = tape.leaf(Tensor::from_vec(vals(n_out * n_in, 0.53), &[n_out, n_in]).unwrap());
        let b = tape.leaf(Tensor::from_vec(vals(n_out, 0.71), &[n_out]).unwrap());
        for bias in [Some(&b), None] {
            let y = x.linear(&w, bias).sigmoid().sum_all();
            let plain = y.backward();
            let mut wrt = vec![&x, &w];
            wrt.extend(bias);
            let graph = y.grad_graph(&wrt);
            for (v, g) in wrt.iter().zip(&graph) {
                assert_eq!(
                    bits(plain.wrt(v).unwrap()),
                    bits(g.value()),
                    "[{rows}, {n_in}] -> {n_out}, bias {}",
                    bias.is_some()
                );
            }
        }
    }
}
