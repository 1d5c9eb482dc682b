//! Layers, losses and optimizers against values computed by hand or by an
//! independent formula; training runs that must converge.

use mnemon_autograd::check::{gradcheck, Tolerance};
use mnemon_autograd::Tape;
use mnemon_nn::*;
use mnemon_tensor::Tensor;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), s).unwrap()
}

#[test]
fn models_are_send_sync_clone() {
    fn check<M: Send + Sync + Clone>() {}
    check::<Sequential<f32>>();
    check::<Linear<f64>>();
}

#[test]
fn linear_matches_a_hand_product_and_passes_gradcheck() {
    let mut rng = StdRng::seed_from_u64(3);
    let lin = Linear::<f64>::new(3, 2, &mut rng);
    let x = t(&[1.0, 2.0, -1.0, 0.5, 0.0, 3.0], &[2, 3]);
    let tape = Tape::new();
    let y = lin.forward(&tape.constant(x.clone())).value().to_vec();
    let (w, b) = (
        lin.weight.value.to_vec(),
        lin.bias.as_ref().unwrap().value.to_vec(),
    );
    for i in 0..2 {
        for o in 0..2 {
            let want: f64 = (0..3)
                .map(|k| x.to_vec()[i * 3 + k] * w[o * 3 + k])
                .sum::<f64>()
                + b[o];
            assert!((y[i * 2 + o] - want).abs() < 1e-12);
        }
    }
    let (wv, bv) = (
        lin.weight.value.clone(),
        lin.bias.as_ref().unwrap().value.clone(),
    );
    let r = gradcheck(
        |v| (&v[0].matmul(&v[1].t()) + &v[2]).sigmoid(),
        &[x, wv, bv],
        Tolerance::default(),
    );
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn loss_values_match_formulas() {
    let tape = Tape::<f64>::new();
    let p = tape.constant(t(&[0.9, 0.2, 0.6], &[3]));
    let y = tape.constant(t(&[1.0, 0.0, 1.0], &[3]));
    let want_bce = -((0.9f64).ln() + (0.8f64).ln() + (0.6f64).ln()) / 3.0;
    assert!((bce(&p, &y, Reduction::Mean).item() - want_bce).abs() < 1e-12);
    let want_mse = (0.01 + 0.04 + 0.16) / 3.0;
    assert!((mse(&p, &y, Reduction::Mean).item() - want_mse).abs() < 1e-12);
    assert!((mse(&p, &y, Reduction::Sum).item() - 0.21).abs() < 1e-12);
    let z = tape.constant(t(&[2.0, -1.0, 0.0], &[3]));
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let want = -((sig(2.0)).ln() + (1.0 - sig(-1.0)).ln() + sig(0.0).ln()) / 3.0;
    assert!((bce_with_logits(&z, &y, Reduction::Mean).item() - want).abs() < 1e-12);
    let logits = tape.constant(t(&[1.0, 2.0, 3.0, 1.0, 1.0, 1.0], &[2, 3]));
    let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    let want_ce = ((lse - 3.0) + (3f64.ln())) / 2.0;
    assert!(
        (cross_entropy(&logits, &[2, 0], Reduction::Mean)
            .unwrap()
            .item()
            - want_ce)
            .abs()
            < 1e-12
    );
    assert!(cross_entropy(&logits, &[3, 0], Reduction::Mean).is_err());
    assert!(cross_entropy(&logits, &[0], Reduction::Mean).is_err());
}

/// `Reduction::None`: the per-element losses (per row for cross-entropy,
/// shape `[batch]`), values and gradients as torch 2.15's
/// `reduction="none"`; they sum to `Reduction::Sum`'s.
#[test]
fn unreduced_losses_match_torch() {
    let close = |got: &[f64], want: &[f64]| {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < 1e-12 * (1.0 + w.abs()),
                "{got:?} vs {want:?}"
            );
        }
    };
    let tape = Tape::<f64>::new();
    let z = tape.leaf(t(&[1.0, 2.0, 0.5, 0.0, -1.0, 3.0], &[2, 3]));
    let l = cross_entropy(&z, &[1, 2], Reduction::None).unwrap();
    assert_eq!(l.shape(), &[2]);
    close(
        &l.value().to_vec(),
        &[0.4643687841079449, 0.06588390375742911],
    );
    let sum = cross_entropy(&z, &[1, 2], Reduction::Sum).unwrap().item();
    close(&[l.value().to_vec().iter().sum()], &[sum]);
    let g = l.backward_with(&t(&[1.0, 2.0], &[2]));
    close(
        &g.wrt(&z).unwrap().to_vec(),
        &[
            0.23122389762214904,
            -0.37146828078823757,
            0.14024438316608848,
            0.09322524515594778,
            0.034295651091040776,
            -0.12752089624698848,
        ],
    );
    let p = tape.leaf(t(&[0.2, 0.9], &[2]));
    let y = tape.constant(t(&[0.0, 1.0], &[2]));
    let m = mse(&p, &y, Reduction::None);
    close(
        &m.value().to_vec(),
        &[0.04000000000000001, 0.009999999999999995],
    );
    // ∂/∂p of Σ (p − t)² = 2(p − t)
    close(
        &m.sum_all().backward().wrt(&p).unwrap().to_vec(),
        &[0.4, -0.2],
    );
    close(
        &bce(&p, &y, Reduction::None).value().to_vec(),
        &[0.22314355131420976, 0.10536051565782628],
    );
    close(
        &bce_with_logits(&p, &y, Reduction::None).value().to_vec(),
        &[0.7981388693815918, 0.3411538747320878],
    );
}

#[test]
fn losses_are_stable_at_large_logits() {
    let tape = Tape::<f32>::new();
    let z = tape.leaf(Tensor::from_vec(vec![1e4, -1e4, 1e4, -1e4], &[2, 2]).unwrap());
    let y = tape.constant(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap());
    let l = bce_with_logits(&z, &y, Reduction::Sum);
    assert_eq!(l.item(), 2e4); // two wrong by 1e4 each, two exactly right
    let g = l.backward();
    assert_eq!(g.wrt(&z).unwrap().to_vec(), vec![0.0, 0.0, 1.0, -1.0]);
    let ce = cross_entropy(&z, &[0, 1], Reduction::Mean).unwrap();
    assert_eq!(ce.item(), 1e4); // row 0 right (0), row 1 wrong by 2e4
    let gce = ce.backward();
    assert!(gce.wrt(&z).unwrap().to_vec().iter().all(|v| v.is_finite()));
    let s = z.sigmoid();
    assert_eq!(s.value().to_vec(), vec![1.0, 0.0, 1.0, 0.0]);
    let p = tape.constant(Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap());
    let yy = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    assert_eq!(bce(&p, &yy, Reduction::Mean).item(), 100.0); // logs clamped at -100
}

#[test]
fn losses_pass_gradcheck() {
    let y = t(&[1.0, 0.0, 1.0, 0.0], &[2, 2]);
    let z = t(&[0.3, -1.2, 2.0, 0.1], &[2, 2]);
    let tol = Tolerance::default();
    assert!(gradcheck(
        |v| mse(&v[0], &v[0].tape().constant(y.clone()), Reduction::Mean),
        std::slice::from_ref(&z),
        tol
    )
    .is_ok());
    assert!(gradcheck(
        |v| bce_with_logits(&v[0], &v[0].tape().constant(y.clone()), Reduction::Mean),
        std::slice::from_ref(&z),
        tol
    )
    .is_ok());
    assert!(gradcheck(
        |v| bce(
            &v[0].sigmoid(),
            &v[0].tape().constant(y.clone()),
            Reduction::Sum
        ),
        std::slice::from_ref(&z),
        tol
    )
    .is_ok());
    assert!(gradcheck(
        |v| cross_entropy(&v[0], &[1, 0], Reduction::Mean).unwrap(),
        &[z],
        tol
    )
    .is_ok());
}

/// A one-param model whose loss gradient is exactly `g` (loss = sum(g·p)).
fn step_with<O: Optimizer<f64>>(opt: &mut O, p: &mut Linear<f64>, g: &Tensor<f64>) {
    let tape = Tape::new();
    let w = tape.param(&p.weight);
    let loss = (&w * g).sum_all();
    let grads = loss.backward();
    opt.step(p, &grads);
}

fn one_weight(v: f64) -> Linear<f64> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut l = Linear::with_init(1, 1, Init::XavierUniform, false, &mut rng);
    l.weight.value = t(&[v], &[1, 1]);
    l
}

#[test]
fn adam_first_two_steps_written_out() {
    let mut p = one_weight(1.0);
    let mut opt = Adam::new(0.1);
    let (g1, g2) = (0.5, -0.2);
    step_with(&mut opt, &mut p, &t(&[g1], &[1, 1]));
    // step 1: m̂ = g1, v̂ = g1², update = lr·g1/(|g1|+ε)
    let p1 = 1.0 - 0.1 * g1 / (g1.abs() + 1e-8);
    assert!((p.weight.value.item() - p1).abs() < 1e-12);
    step_with(&mut opt, &mut p, &t(&[g2], &[1, 1]));
    let m = 0.9 * 0.1 * g1 + 0.1 * g2;
    let v = 0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2;
    let (mh, vh) = (m / (1.0 - 0.81), v / (1.0 - 0.999f64.powi(2)));
    let p2 = p1 - 0.1 * mh / (vh.sqrt() + 1e-8);
    assert!((p.weight.value.item() - p2).abs() < 1e-12);
}

/// In f32, Adam's first step is `lr·g/(|g| + ε)`, the bias correction
/// cancelling `1 − β₂` exactly as in PyTorch (both `1 − β` rounded once
/// from f64): with `1 − fl(0.999)` in f32 the step came out 6.4e-6 too
/// long (found by the layer cross-check in float32).
#[test]
fn adam_first_f32_step_is_lr_times_the_sign() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut p = Linear::<f32>::with_init(1, 1, Init::XavierUniform, false, &mut rng);
    p.weight.value = Tensor::from_vec(vec![0.0f32], &[1, 1]).unwrap();
    let mut opt = Adam::new(0.1);
    let tape = Tape::new();
    let g = Tensor::from_vec(vec![1.0f32], &[1, 1]).unwrap();
    let grads = (&tape.param(&p.weight) * &g).sum_all().backward();
    opt.step(&mut p, &grads);
    assert_eq!(p.weight.value.item(), -0.1f32);
}

/// Adam with coupled (L2) weight decay adds `λ·p` to the gradient before
/// the moments, as PyTorch's `Adam(weight_decay=λ)`.
#[test]
fn adam_with_l2_weight_decay_written_out() {
    let mut p = one_weight(2.0);
    let mut opt = Adam::new(0.1);
    opt.weight_decay = 0.5;
    let (g1, g2) = (0.5, -0.2);
    step_with(&mut opt, &mut p, &t(&[g1], &[1, 1]));
    let d1 = g1 + 0.5 * 2.0;
    let p1 = 2.0 - 0.1 * d1 / (d1.abs() + 1e-8);
    assert!((p.weight.value.item() - p1).abs() < 1e-12);
    step_with(&mut opt, &mut p, &t(&[g2], &[1, 1]));
    let d2 = g2 + 0.5 * p1;
    let m = 0.9 * 0.1 * d1 + 0.1 * d2;
    let v = 0.999 * 0.001 * d1 * d1 + 0.001 * d2 * d2;
    let (mh, vh) = (m / (1.0 - 0.81), v / (1.0 - 0.999f64.powi(2)));
    let p2 = p1 - 0.1 * mh / (vh.sqrt() + 1e-8);
    assert!((p.weight.value.item() - p2).abs() < 1e-12);
}

/// AdamW over three steps on a weight large enough for the threaded
/// kernels, against the update written out per element.
#[test]
fn adamw_on_a_large_weight_matches_the_formula_per_element() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut p = Linear::<f64>::with_init(300, 300, Init::XavierUniform, false, &mut rng);
    let mut want = p.weight.value.to_vec();
    let (mut m, mut v) = (vec![0.0; want.len()], vec![0.0; want.len()]);
    let mut opt = Adam::adamw(0.01, 0.1);
    for step in 1..=3 {
        let g: Vec<f64> = (0..want.len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        step_with(&mut opt, &mut p, &t(&g, &[300, 300]));
        let (c1, c2) = (1.0 - 0.9f64.powi(step), 1.0 - 0.999f64.powi(step));
        for i in 0..want.len() {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
            let update = 0.01 * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8);
            want[i] = want[i] * (1.0 - 0.01 * 0.1) - update;
        }
    }
    let got = p.weight.value.to_vec();
    assert!(got
        .iter()
        .zip(&want)
        .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0)));
}

#[test]
fn adamw_decays_decoupled_and_sgd_momentum_nesterov() {
    let mut p = one_weight(2.0);
    let mut opt = Adam::adamw(0.1, 0.5);
    step_with(&mut opt, &mut p, &t(&[0.0], &[1, 1]));
    assert!((p.weight.value.item() - 2.0 * (1.0 - 0.05)).abs() < 1e-12);

    let mut p = one_weight(1.0);
    let mut opt = Sgd::new(0.1).momentum(0.9).weight_decay(0.01);
    step_with(&mut opt, &mut p, &t(&[1.0], &[1, 1]));
    let d1 = 1.0 + 0.01 * 1.0;
    let w1 = 1.0 - 0.1 * d1;
    assert!((p.weight.value.item() - w1).abs() < 1e-12);
    step_with(&mut opt, &mut p, &t(&[1.0], &[1, 1]));
    let v2 = 0.9 * d1 + (1.0 + 0.01 * w1);
    assert!((p.weight.value.item() - (w1 - 0.1 * v2)).abs() < 1e-12);

    let mut p = one_weight(1.0);
    let mut opt = Sgd::new(0.1).nesterov(0.9);
    step_with(&mut opt, &mut p, &t(&[1.0], &[1, 1]));
    assert!((p.weight.value.item() - (1.0 - 0.1 * (1.0 + 0.9))).abs() < 1e-12);
}

#[test]
fn frozen_params_and_clipping() {
    let mut p = one_weight(1.0);
    p.weight.requires_grad = false;
    let mut opt = Sgd::new(0.1);
    let tape = Tape::new();
    let x = tape.leaf(t(&[1.0], &[1, 1]));
    let loss = (&x * &tape.param(&p.weight)).sum_all();
    opt.step(&mut p, &loss.backward());
    assert_eq!(p.weight.value.item(), 1.0);

    let mut p = one_weight(0.0);
    let mut opt = Sgd::new(1.0);
    opt.clip_norm = Some(1.0);
    step_with(&mut opt, &mut p, &t(&[10.0], &[1, 1]));
    assert!((p.weight.value.item() + 1.0).abs() < 1e-6);

    // a norm equal to the clip is still scaled by clip / (norm + 1e-6),
    // as PyTorch's clip_grad_norm_ does (torch 2.15: 0.999999000001 · 2)
    let mut p = one_weight(0.0);
    let mut opt = Sgd::new(1.0);
    opt.clip_norm = Some(2.0);
    step_with(&mut opt, &mut p, &t(&[2.0], &[1, 1]));
    assert_eq!(p.weight.value.item(), -(2.0 * (2.0 / (2.0 + 1e-6))));
}

#[test]
fn param_lifted_twice_gets_the_sum() {
    let p = one_weight(3.0);
    let tape = Tape::<f64>::new();
    let a = tape.param(&p.weight);
    let b = tape.param(&p.weight);
    let loss = (&a * &b).sum_all(); // w², gradient 2w
    assert_eq!(loss.backward().param(&p.weight).unwrap().item(), 6.0);
}

#[test]
fn two_moons_reach_97_percent() {
    // two interleaved half-moons with noise, generated here
    let mut rng = StdRng::seed_from_u64(7);
    let n = 400;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 2;
        let a = std::f32::consts::PI * rng.random::<f32>();
        let (px, py) = if class == 0 {
            (a.cos(), a.sin())
        } else {
            (1.0 - a.cos(), 0.5 - a.sin())
        };
        xs.push(px + 0.1 * (rng.random::<f32>() - 0.5));
        xs.push(py + 0.1 * (rng.random::<f32>() - 0.5));
        ys.push(class);
    }
    let x = Tensor::from_vec(xs, &[n, 2]).unwrap();
    let mut model = Sequential::new()
        .push(Linear::new(2, 32, &mut rng))
        .push(Tanh)
        .push(Linear::new(32, 2, &mut rng));
    let mut opt = Adam::new(0.02);
    for _ in 0..300 {
        let tape = Tape::new();
        let loss = cross_entropy(
            &model.forward(&tape.constant(x.clone())),
            &ys,
            Reduction::Mean,
        )
        .unwrap();
        opt.step(&mut model, &loss.backward());
    }
    let tape = Tape::new();
    let pred = model
        .forward(&tape.constant(x.clone()))
        .value()
        .argmax_indices(1);
    let acc = pred.iter().zip(&ys).filter(|(p, y)| p == y).count() as f64 / n as f64;
    assert!(acc >= 0.97, "accuracy {acc}");
}

/// Large elementwise results are deferred (`kernels::fuse`); what the
/// optimizers keep across steps is evaluated when stored, so no chain
/// holds the gradients of earlier steps, and the values are the ones the
/// update rule gives.
#[test]
fn optimizer_state_of_large_params_is_evaluated_when_stored() {
    let n = 1 << 17;
    let mut rng = StdRng::seed_from_u64(1);
    let mut p = Linear::with_init(n, 1, Init::XavierUniform, false, &mut rng);
    let w0 = p.weight.value.to_vec();
    let g = Tensor::<f64>::full(&[1, n], 0.5);
    let mut opt = Sgd::new(0.1).momentum(0.9);
    for _ in 0..3 {
        step_with(&mut opt, &mut p, &g);
        assert!(!p.weight.value.is_deferred());
    }
    // v = 0.5, 0.95, 1.355: p = w0 − 0.1·(0.5 + 0.95 + 1.355)
    let want: Vec<f64> = w0.iter().map(|w| w - 0.1 * (0.5 + 0.95 + 1.355)).collect();
    let got = p.weight.value.to_vec();
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
}

/// After `backward_and_free` the tape no longer shares the parameters, so
/// SGD writes each update into the parameter's own buffer (no second copy
/// of the weights at the peak of a step) — and the update is the same.
#[test]
fn sgd_after_backward_and_free_updates_in_place() {
    let step = |free: bool| {
        // built anew (a clone would share the weights' buffers)
        let mut rng = StdRng::seed_from_u64(11);
        let x = Tensor::<f32>::randn(&[8, 300], &mut rng);
        let mut m = Linear::<f32>::new(300, 200, &mut rng);
        let mut opt = Sgd::new(0.1);
        let before = m.weight.value.storage_id();
        let tape = Tape::new();
        let y = m.forward(&tape.constant(x.clone()));
        let loss = (&y * &y).mean_all();
        let grads = if free {
            loss.backward_and_free()
        } else {
            loss.backward()
        };
        opt.step(&mut m, &grads);
        let same = m.weight.value.storage_id() == before;
        (m.weight.value.to_vec(), same)
    };
    let (kept, in_place_kept) = step(false);
    let (freed, in_place_freed) = step(true);
    assert_eq!(kept, freed);
    assert!(!in_place_kept, "the tape still holds the old weights");
    assert!(in_place_freed, "nothing else holds them: updated in place");
}
