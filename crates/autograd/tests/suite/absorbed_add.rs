//! A scalar added to an op's unshared, just-made result (`x * a + b`: the
//! `+ b` gets the temporary) is absorbed into that op's node: the node
//! stands for the sum and no node of its own is recorded. These tests
//! check when that happens, that the gradients (first and second order)
//! are those of the two separate ops, and that it never happens where a
//! separate node is needed: a result also held elsewhere, or read by a
//! later op, a leaf, explain mode.

use crate::{t, TOL};
use mnemon_autograd::check::{gradcheck, gradgradcheck};
use mnemon_autograd::{Tape, Var};
use mnemon_tensor::Tensor;

#[test]
fn an_add_to_a_fresh_temporary_records_no_node() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, -2.0]));
    let y = &x * 3.0 + 1.0 - 0.5; // two adds, both absorbed into `* 3.0`
    assert_eq!(tape.len(), 2, "the leaf and the product: {}", tape.to_dot());
    assert_eq!(y.value().to_vec(), vec![3.5, -5.5]);
    assert!(
        tape.to_dot().contains("mul_scalar + c"),
        "the picture says so"
    );
    let z = (y * 2.0).sum_all();
    let g = z.backward();
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![6.0, 6.0]);
    // the W2 iteration: two nodes, not three
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(0.5));
    let y = (&x * 1.01 + 0.1).sigmoid();
    assert_eq!(tape.len(), 3);
    let s = 1.0 / (1.0 + (-(0.5f64 * 1.01 + 0.1)).exp());
    let g = y.backward().wrt(&x).unwrap().item();
    assert!((g - 1.01 * s * (1.0 - s)).abs() < 1e-15, "{g}");
}

#[test]
fn a_result_held_or_read_elsewhere_keeps_the_add_as_a_node() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0]));
    // a clone of the product is still held: its gradient and the sum's
    // differ, so the sum needs a node of its own
    let p = &x * 3.0;
    let held = p.clone();
    let s = p + 1.0;
    assert_eq!(tape.len(), 3);
    s.retain_grad();
    held.retain_grad();
    let loss = (&s * &s).sum_all() + (&held * 10.0).sum_all();
    let g = loss.backward();
    assert_eq!(g.wrt(&s).unwrap().to_vec(), vec![8.0, 14.0], "2s only");
    assert_eq!(g.wrt(&held).unwrap().to_vec(), vec![18.0, 24.0], "2s + 10");
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![54.0, 72.0]);
    // read by a later op that keeps no copy (only its shape): the product
    // is not the tape's last node, so the add is recorded
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0]));
    let p = &x * 3.0;
    let total = p.sum_all();
    let s = p + 1.0;
    assert_eq!(tape.len(), 4);
    s.retain_grad();
    let loss = (&s * &s).sum_all() + total * 10.0;
    let g = loss.backward();
    assert_eq!(g.wrt(&s).unwrap().to_vec(), vec![8.0, 14.0]);
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![54.0, 72.0]);
}

#[test]
fn leaves_and_explain_mode_keep_the_add_as_a_node() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0]));
    let y = x + 1.0; // the leaf given up: its value is its own
    assert_eq!(tape.len(), 2);
    assert_eq!(y.value().to_vec(), vec![2.0]);
    let tape = Tape::<f64>::new();
    tape.set_explain(true);
    let x = tape.leaf(t(&[1.0]));
    let _y = &x * 2.0 + 1.0;
    assert_eq!(tape.len(), 3, "explain mode prints every step");
}

#[test]
fn a_hook_on_the_absorbing_node_sees_the_gradient_of_the_sum() {
    // d(sum)/d(product) = 1: the gradient at the node is the same either way
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0]));
    let p = &x * 3.0;
    p.register_hook(|g| Some(g * 2.0));
    let s = p + 1.0;
    let g = (&s * &s).sum_all().backward();
    // 2s · 2 (the hook) · 3
    assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![48.0, 84.0]);
}

fn chain<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    let h = (&v[0] * &v[1] + 0.5).tanh() * 2.0 - 1.0;
    ((h.exp() + 2.0).log() + 0.25) * &v[1]
}

#[test]
fn first_and_second_order_through_absorbed_adds() {
    let inputs = [t(&[0.3, -0.7, 1.1]), t(&[0.9, 0.2, -0.4])];
    gradcheck(chain, &inputs, TOL).unwrap();
    gradgradcheck(chain, &inputs, TOL).unwrap();
}
