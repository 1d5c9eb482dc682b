//! `sigmoid_owned` and `tanh_owned`: the activation of a Var the caller
//! gives up is written into that Var's buffer when nothing else holds it.
//! These tests check that it is (same storage), that values and gradients
//! (first and second order) are the borrowed op's to the bit, and that a
//! buffer held elsewhere (a clone, a param's value, a tape that kept it)
//! is never written.

use crate::{t, TOL};
use mnemon_autograd::check::{gradcheck, gradgradcheck};
use mnemon_autograd::{Tape, Var};
use mnemon_tensor::Tensor;

type Act = for<'t> fn(Var<'t, f64>) -> Var<'t, f64>;
type ActRef = for<'t> fn(&Var<'t, f64>) -> Var<'t, f64>;
fn sigmoid_owned<'t>(x: Var<'t, f64>) -> Var<'t, f64> {
    x.sigmoid_owned()
}
fn sigmoid<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
    x.sigmoid()
}
fn tanh_owned<'t>(x: Var<'t, f64>) -> Var<'t, f64> {
    x.tanh_owned()
}
fn tanh<'t>(x: &Var<'t, f64>) -> Var<'t, f64> {
    x.tanh()
}
const ACTS: [(&str, Act, ActRef); 2] = [
    ("sigmoid", sigmoid_owned, sigmoid),
    ("tanh", tanh_owned, tanh),
];

/// `x·w + b` then the activation, with `x` constant, as a layer runs it;
/// returns the output's values and the gradients of `Σ out·c` for w and b.
fn layer(act: Act, owned: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>, bool) {
    let tape = Tape::<f64>::new();
    let x =
        tape.constant(Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25, 3.0, -0.75], &[3, 2]).unwrap());
    let w = tape.leaf(Tensor::from_vec(vec![0.3, -0.2, 0.1, 0.7], &[2, 2]).unwrap());
    let b = tape.leaf(t(&[0.05, -0.4]));
    let h = x.linear(&w, Some(&b));
    let before = h.value().storage_id();
    let y = if owned { act(h) } else { act(h.clone()) };
    let in_place = y.value().storage_id() == before;
    let c =
        tape.constant(Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0, -1.0, 0.25], &[3, 2]).unwrap());
    let g = (&y * &c).sum_all().backward();
    (
        y.value().to_vec(),
        g.wrt(&w).unwrap().to_vec(),
        g.wrt(&b).unwrap().to_vec(),
        in_place,
    )
}

#[test]
fn a_given_up_result_is_overwritten_with_the_same_values_and_gradients() {
    for (name, owned, borrowed) in ACTS {
        let (y, gw, gb, in_place) = layer(owned, true);
        assert!(in_place, "{name}: written into the linear output's buffer");
        // a clone held: a buffer of its own, the same bits
        let (y2, gw2, gb2, in_place2) = layer(owned, false);
        assert!(!in_place2, "{name}: the clone's buffer is not written");
        // the borrowed op, wrapped to the same signature
        let tape = Tape::<f64>::new();
        let x = tape.leaf(t(&[-3.0, 0.0, 0.5, 40.0]));
        let (a, b) = (owned(&x * 1.0), borrowed(&(&x * 1.0)));
        assert_eq!(a.value().to_vec(), b.value().to_vec(), "{name}");
        for (u, v) in [(&y, &y2), (&gw, &gw2), (&gb, &gb2)] {
            let bits = |s: &[f64]| s.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(u), bits(v), "{name}");
        }
    }
    // the values themselves: σ(0.05 + 0.5·0.3 − 1.0·(−0.2)) = σ(0.4)
    let (y, _, _, _) = layer(sigmoid_owned, true);
    assert!(
        (y[0] - 1.0 / (1.0 + (-0.4f64).exp())).abs() < 1e-15,
        "{}",
        y[0]
    );
}

#[test]
fn a_held_buffer_is_never_written() {
    for (name, owned, _) in ACTS {
        let tape = Tape::<f64>::new();
        // a leaf's value is also the user's tensor
        let v = t(&[0.5, -1.0]);
        let x = tape.leaf(v.clone());
        let y = owned(x.clone());
        assert_eq!(v.to_vec(), vec![0.5, -1.0], "{name}");
        assert_eq!(x.value().to_vec(), vec![0.5, -1.0], "{name}");
        // an op that keeps its input's value (mul keeps both operands):
        // the product's buffer is held by nothing else, but `x·x` kept x
        let p = &x * &x;
        let kept = p.clone();
        let z = owned(p);
        assert_eq!(kept.value().to_vec(), vec![0.25, 1.0], "{name}");
        let g = (&z.sum_all() + &y.sum_all()).backward();
        let s = |u: f64| {
            if name == "sigmoid" {
                1.0 / (1.0 + (-u).exp())
            } else {
                u.tanh()
            }
        };
        let d = |u: f64| {
            if name == "sigmoid" {
                s(u) * (1.0 - s(u))
            } else {
                1.0 - s(u) * s(u)
            }
        };
        let want: Vec<f64> = [0.5f64, -1.0]
            .iter()
            .map(|&u| d(u * u) * 2.0 * u + d(u))
            .collect();
        let got = g.wrt(&x).unwrap().to_vec();
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-14, "{name}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn explain_mode_and_constants_take_the_borrowed_path() {
    for (name, owned, _) in ACTS {
        let tape = Tape::<f64>::new();
        tape.set_explain(true);
        let x = tape.leaf(t(&[0.5]));
        let h = &x * 2.0;
        let before = h.value().storage_id();
        let y = owned(h);
        assert_ne!(
            y.value().storage_id(),
            before,
            "{name}: explain keeps the input"
        );
        let _ = y.sum_all().backward();
        assert!(
            tape.explain_log().iter().any(|l| l.contains(name)),
            "{name}: {:?}",
            tape.explain_log()
        );
        // a constant input: an untracked result, computed all the same
        let tape = Tape::<f64>::new();
        let c = tape.constant(t(&[0.0]));
        let y = owned(c);
        assert!(!y.requires_grad());
        assert_eq!(y.value().item(), if name == "sigmoid" { 0.5 } else { 0.0 });
    }
}

fn chain<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    let h = (&v[0] * &v[1]).sigmoid_owned();
    let k = (&h * 3.0 - &v[0]).tanh_owned();
    (&k * &k).sum_all()
}

#[test]
fn gradients_of_every_order_through_the_owned_activations() {
    let inputs = [t(&[0.3, -1.2, 2.5]), t(&[0.7, 0.1, -0.4])];
    gradcheck(chain, &inputs, TOL).unwrap();
    gradgradcheck(chain, &inputs, TOL).unwrap();
}
