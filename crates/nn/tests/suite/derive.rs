//! `#[derive(Module)]`: names from fields (nested, `Vec`, `Option`,
//! renamed, skipped), the train/eval switch reaching every layer, and the
//! inherent `forward` called through the trait.

use mnemon_autograd::{Tape, Var};
use mnemon_nn::{Dropout, GradsParamExt, Linear, Module, Param, Relu};
use mnemon_tensor::{Element, Tensor};
use rand::{rngs::StdRng, SeedableRng};

#[derive(Module, Clone)]
struct Block<T: Element> {
    fc: Linear<T>,
    scale: Param<T>,
    extra: Option<Linear<T>>,
}

impl<T: Element> Block<T> {
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        let h = &self.fc.forward(x).relu() * &x.tape().param_of(&self.scale);
        match &self.extra {
            Some(e) => e.forward(&h),
            None => h,
        }
    }
}

trait ParamOf<T: Element> {
    fn param_of(&self, p: &Param<T>) -> Var<'_, T>;
}
impl<T: Element> ParamOf<T> for Tape<T> {
    fn param_of(&self, p: &Param<T>) -> Var<'_, T> {
        mnemon_nn::TapeParamExt::param(self, p)
    }
}

#[derive(Module, Clone)]
struct Net {
    #[module(name = "encoder")]
    blocks: Vec<Block<f32>>,
    drop: Dropout,
    act: Relu,
    head: Option<Linear>,
    #[module(skip)]
    width: usize,
}

impl Net {
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Var<'t, f32> {
        let mut h = x.clone();
        for b in &self.blocks {
            h = self.drop.forward(&self.act.forward(&b.forward(&h)));
        }
        self.head.as_ref().map_or(h.clone(), |l| l.forward(&h))
    }
}

fn net() -> Net {
    let mut rng = StdRng::seed_from_u64(0);
    let block = |rng: &mut StdRng, extra: bool| Block {
        fc: Linear::new(4, 4, rng),
        scale: Param::new(Tensor::ones(&[4])),
        extra: extra.then(|| Linear::new(4, 4, rng)),
    };
    Net {
        blocks: vec![block(&mut rng, false), block(&mut rng, true)],
        drop: Dropout::new(0.5, 1),
        act: Relu,
        head: Some(Linear::new(4, 2, &mut rng)),
        width: 4,
    }
}

#[test]
fn names_come_from_fields() {
    let m = net();
    assert_eq!(m.width, 4);
    let names: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "encoder.0.fc.weight",
            "encoder.0.fc.bias",
            "encoder.0.scale",
            "encoder.1.fc.weight",
            "encoder.1.fc.bias",
            "encoder.1.scale",
            "encoder.1.extra.weight",
            "encoder.1.extra.bias",
            "head.weight",
            "head.bias"
        ]
    );
    let mut n = 0;
    let mut m2 = m.clone();
    m2.visit_mut("model", &mut |name, _| {
        assert!(name.starts_with("model.encoder.") || name.starts_with("model.head."));
        n += 1;
    });
    assert_eq!(n, 10);
}

#[test]
fn forward_and_the_train_switch_work_through_the_trait() {
    let mut m = net();
    let x = Tensor::ones(&[3, 4]);
    m.set_training(false);
    assert!(!m.drop.training);
    let a = Module::predict(&m, &x);
    assert_eq!(
        a.to_vec(),
        Module::predict(&m, &x).to_vec(),
        "eval is deterministic"
    );
    m.set_training(true);
    assert!(m.drop.training);
    let tape = Tape::new();
    let y = Module::forward(&m, &tape.constant(x)).sum_all();
    let g = y.backward();
    assert!(g.param(&m.head.as_ref().unwrap().weight).is_some());
}

#[test]
fn a_frozen_target_network_sends_no_gradient_back() {
    // DQN: loss = (Q(x) − (r + γ·Q_target(x')))², Q_target a copy of Q
    let mut rng = StdRng::seed_from_u64(0);
    let mut q = Linear::<f64>::new(1, 1, &mut rng);
    q.weight.value = Tensor::from_vec(vec![2.0], &[1, 1]).unwrap();
    q.bias.as_mut().unwrap().value = Tensor::from_vec(vec![0.0], &[1]).unwrap();
    let grad_w = |target: &Linear<f64>| {
        let tape = Tape::new();
        let x = tape.constant(Tensor::from_vec(vec![1.0], &[1, 1]).unwrap());
        let y = &target.forward(&x).mul_scalar(0.9) + 1.0; // r = 1, γ = 0.9
        let loss = (&q.forward(&x) - &y).powi(2).sum_all();
        loss.backward().param(&q.weight).unwrap().item()
    };
    // as a constant: 2·(Q − y)·x = 2·(2 − 2.8) = −1.6
    assert!((grad_w(&q.frozen()) + 1.6).abs() < 1e-12);
    // a plain clone shares ids: the target's path adds −0.9·2·(Q − y) back
    assert!((grad_w(&q.clone()) - (-1.6 + 0.9 * 1.6)).abs() < 1e-12);
    // a fresh copy has its own ids (and still takes gradients of its own)
    let fresh = q.fresh_copy();
    assert_ne!(fresh.weight.id(), q.weight.id());
    assert!(fresh.weight.requires_grad);
    assert!((grad_w(&fresh) + 1.6).abs() < 1e-12);
}
