//! Random chains of views (narrow, permute, broadcast_to, reshape) with
//! extents up to and past `isize::MAX`, checked against a reference that
//! computes each element by index arithmetic: every step either gives the
//! right values, a typed error, or a panic naming the op — never a wrong
//! value, never a crash.

use mnemon_tensor::{checked_numel, Tensor};
use proptest::prelude::*;
use std::rc::Rc;

/// The value at each index of a reference view.
type Lookup = Rc<dyn Fn(&[usize]) -> f64>;

/// The reference: a shape and the value at each index.
#[derive(Clone)]
struct Reference {
    shape: Vec<usize>,
    at: Lookup,
}

#[derive(Debug, Clone)]
enum Step {
    Narrow(usize, usize, usize),
    Permute(Vec<usize>),
    Broadcast(Vec<usize>),
    Reshape(Vec<usize>),
}

fn extent() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..5,
        1 => Just(1usize << 40),
        1 => Just(isize::MAX as usize),
        1 => Just(usize::MAX),
        1 => Just(usize::MAX - 1),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..5, extent(), extent()).prop_map(|(a, s, l)| Step::Narrow(a, s, l)),
        prop::collection::vec(0usize..5, 0..5).prop_map(Step::Permute),
        prop::collection::vec(extent(), 0..5).prop_map(Step::Broadcast),
        prop::collection::vec(extent(), 0..5).prop_map(Step::Reshape),
    ]
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// What `step` should give: the new reference, or `None` when it must be
/// refused (typed error or a panic naming the op).
fn expect(r: &Reference, step: &Step) -> Option<Reference> {
    let rank = r.shape.len();
    let at = r.at.clone();
    match step.clone() {
        Step::Narrow(axis, start, len) => {
            let size = *r.shape.get(axis)?;
            if start.checked_add(len)? > size {
                return None;
            }
            let mut shape = r.shape.clone();
            shape[axis] = len;
            Some(Reference {
                shape,
                at: Rc::new(move |idx| {
                    let mut i = idx.to_vec();
                    i[axis] += start;
                    at(&i)
                }),
            })
        }
        Step::Permute(dims) => {
            let mut sorted = dims.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return None;
            }
            let shape = dims.iter().map(|&d| r.shape[d]).collect();
            Some(Reference {
                shape,
                at: Rc::new(move |idx| {
                    let mut old = vec![0; idx.len()];
                    for (i, &d) in dims.iter().enumerate() {
                        old[d] = idx[i];
                    }
                    at(&old)
                }),
            })
        }
        Step::Broadcast(to) => {
            checked_numel(&to)?;
            let lead = to.len().checked_sub(rank)?;
            let old = r.shape.clone();
            if (0..rank).any(|d| old[d] != 1 && old[d] != to[lead + d]) {
                return None;
            }
            Some(Reference {
                shape: to,
                at: Rc::new(move |idx| {
                    let i: Vec<usize> = (0..old.len())
                        .map(|d| if old[d] == 1 { 0 } else { idx[lead + d] })
                        .collect();
                    at(&i)
                }),
            })
        }
        Step::Reshape(to) => {
            if checked_numel(&to)? != checked_numel(&r.shape)? {
                return None;
            }
            let (old, new) = (r.shape.clone(), to.clone());
            Some(Reference {
                shape: to,
                at: Rc::new(move |idx| {
                    let lin = idx.iter().zip(&new).fold(0, |acc, (&i, &d)| acc * d + i);
                    at(&unravel(lin, &old))
                }),
            })
        }
    }
}

/// Applies `step`: `Ok(Some(t))`, `Ok(None)` for a typed error, or
/// `Err(message)` for a panic.
fn apply(t: &Tensor<f64>, step: &Step) -> Result<Option<Tensor<f64>>, String> {
    let t = t.clone();
    let step = step.clone();
    std::panic::catch_unwind(move || match step {
        Step::Narrow(a, s, l) => Some(t.narrow(a, s, l)),
        Step::Permute(d) => Some(t.permute(&d)),
        Step::Broadcast(to) => t.broadcast_to(&to).ok(),
        Step::Reshape(to) => t.reshape(&to).ok(),
    })
    .map_err(|e| e.downcast_ref::<String>().cloned().unwrap_or_default())
}

/// The first few elements along each axis (a small window of a possibly
/// huge view), from the tensor and from the reference.
fn window(t: &Tensor<f64>, r: &Reference) -> (Vec<f64>, Vec<f64>) {
    let mut w = t.clone();
    let mut shape = r.shape.clone();
    for (d, s) in shape.iter_mut().enumerate() {
        *s = (*s).min(3);
        w = w.narrow(d, 0, *s);
    }
    let n: usize = shape.iter().product();
    let want = (0..n).map(|i| (r.at)(&unravel(i, &shape))).collect();
    (w.to_vec(), want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn view_chains_give_right_values_or_refuse(
        base in prop::collection::vec(1usize..4, 1..4),
        steps in prop::collection::vec(step(), 1..6),
    ) {
        let n: usize = base.iter().product();
        let mut t = Tensor::from_vec((0..n).map(|i| i as f64).collect(), &base).unwrap();
        let shape0 = base.clone();
        let mut r = Reference {
            shape: base,
            at: Rc::new(move |idx| idx.iter().zip(&shape0).fold(0, |a, (&i, &d)| a * d + i) as f64),
        };
        for s in &steps {
            // reshaping a huge strided view would copy it: out of scope here
            if matches!(s, Step::Reshape(_)) && !t.is_contiguous() && t.numel() > 1 << 16 {
                continue;
            }
            let want = expect(&r, s);
            match (apply(&t, s), want) {
                (Ok(Some(got)), Some(want)) => {
                    prop_assert_eq!(got.shape(), &want.shape[..], "{:?}", s);
                    let (g, w) = window(&got, &want);
                    prop_assert_eq!(g, w, "{:?}", s);
                    t = got;
                    r = want;
                }
                (Ok(None), None) => break,
                (Err(msg), None) => {
                    let op = match s {
                        Step::Narrow(..) => "narrow:",
                        Step::Permute(_) => "permute:",
                        _ => "",
                    };
                    prop_assert!(!op.is_empty() && msg.starts_with(op), "{:?}: {}", s, msg);
                    break;
                }
                (got, want) => prop_assert!(false, "{:?}: got {:?}, expected valid = {}", s, got.map(|t| t.map(|t| t.shape().to_vec())), want.is_some()),
            }
        }
    }
}
