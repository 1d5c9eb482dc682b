//! Layers: shapes and PyTorch's parameter names, train/eval reaching every
//! layer, schedules, inference without a tape.

use mnemon_autograd::{Conv1dOptions, Conv2dOptions, Tape};
use mnemon_nn::*;
use mnemon_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

#[test]
fn conv_layers_have_pytorchs_names_shapes_and_init_bounds() {
    let mut rng = StdRng::seed_from_u64(0);
    let opts = Conv2dOptions {
        groups: 2,
        ..Default::default()
    };
    let model: Sequential = Sequential::new()
        .push(Conv2d::new(4, 6, [3, 3], opts, &mut rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten);
    let names: Vec<(String, Vec<usize>)> = model
        .named_params()
        .into_iter()
        .map(|(n, p)| (n, p.shape().to_vec()))
        .collect();
    assert_eq!(
        names,
        [
            ("layers.0.weight".to_string(), vec![6, 2, 3, 3]),
            ("layers.0.bias".to_string(), vec![6])
        ]
    );
    // PyTorch's default: U(±1/√fan_in), fan_in = 2·3·3
    let bound = 1.0 / 18f32.sqrt();
    for (_, p) in model.named_params() {
        assert!(p.value.to_vec().iter().all(|v| v.abs() <= bound));
    }
    let y = model.predict(&Tensor::ones(&[2, 4, 8, 8]));
    assert_eq!(y.shape(), &[2, 6 * 3 * 3]);
    let c1 = Conv1d::<f32>::new(
        3,
        4,
        5,
        Conv1dOptions {
            padding: 2,
            ..Default::default()
        },
        &mut rng,
    );
    assert_eq!(c1.predict(&Tensor::ones(&[2, 3, 10])).shape(), &[2, 4, 10]);
    let tape = Tape::new();
    let avg = AvgPool2d::new(2).forward(&tape.constant(Tensor::<f32>::ones(&[1, 1, 4, 4])));
    assert_eq!(avg.value().to_vec(), vec![1.0; 4]);
}

#[test]
fn eval_mode_reaches_dropout_inside_sequential() {
    let mut model: Sequential = Sequential::new().push(Dropout::new(0.5, 7)).push(Relu);
    let x = Tensor::ones(&[1000]);
    let train = model.predict(&x).to_vec();
    assert!(train.contains(&0.0) && train.contains(&2.0));
    model.set_training(false);
    assert_eq!(model.predict(&x).to_vec(), vec![1.0; 1000]);
    model.set_training(true);
    assert!(model.predict(&x).to_vec().contains(&0.0));
}

#[test]
fn schedules_drive_any_optimizer() {
    let s = StepLr {
        base: 0.1,
        every: 10,
        gamma: 0.5,
    };
    assert_eq!(
        (s.lr_at(0), s.lr_at(9), s.lr_at(10), s.lr_at(25)),
        (0.1, 0.1, 0.05, 0.025)
    );
    let w = Warmup {
        steps: 4,
        then: CosineAnnealing {
            base: 1.0,
            min: 0.1,
            total: 10,
        },
    };
    let lrs: Vec<f64> = (0..4).map(|i| w.lr_at(i)).collect();
    assert_eq!(lrs, vec![0.25, 0.5, 0.75, 1.0]);
    assert!((w.lr_at(14) - 0.1).abs() < 1e-12);
    // torch 2.15: SequentialLR([LinearLR(start_factor=0.25,
    // total_iters=3), CosineAnnealingLR(T_max=4, eta_min=0.1)],
    // milestones=[4]) from lr 1, steps 0..=8
    let short = Warmup {
        steps: 4,
        then: CosineAnnealing {
            base: 1.0,
            min: 0.1,
            total: 4,
        },
    };
    let torch = [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
        0.8681980515339464,
        0.55,
        0.23180194846605368,
        0.1,
    ];
    for (i, want) in torch.iter().enumerate() {
        let got = short.lr_at(i);
        assert!((got - want).abs() < 1e-12, "step {i}: {got} vs {want}");
    }
    let mut sgd = Sgd::<f32>::new(1.0);
    let mut adam = Adam::<f32>::new(1.0);
    s.apply(&mut sgd, 10);
    w.apply(&mut adam, 1);
    assert_eq!((sgd.lr, adam.lr), (0.05, 0.5));
}

#[test]
fn batch_norm_and_gru_gradcheck_to_second_order() {
    use mnemon_autograd::check::{gradcheck, gradgradcheck, Tolerance};
    let tol = Tolerance {
        eps: 1e-6,
        atol: 1e-5,
        rtol: 1e-4,
    };
    let x = Tensor::<f64>::from_vec(
        (0..24).map(|i| ((i * 7) % 11) as f64 / 5.0 - 1.0).collect(),
        &[2, 3, 4],
    )
    .unwrap();
    let bn = BatchNorm::<f64>::new(3);
    gradcheck(|v| bn.forward(&v[0]).powi(2), std::slice::from_ref(&x), tol).unwrap();
    gradgradcheck(|v| bn.forward(&v[0]).powi(2), std::slice::from_ref(&x), tol).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let gru = Gru::<f64>::new(4, 2, &mut rng);
    gradcheck(|v| gru.forward(&v[0]), std::slice::from_ref(&x), tol).unwrap();
    gradgradcheck(|v| gru.forward(&v[0]), std::slice::from_ref(&x), tol).unwrap();
    // names as PyTorch's nn.GRU and nn.BatchNorm1d (buffers included)
    let names: Vec<String> = gru.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    );
    let names: Vec<String> = bn.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
}

#[test]
fn optimizers_never_touch_batch_norm_buffers() {
    let mut bn = BatchNorm::<f64>::new(2);
    let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap();
    let tape = Tape::new();
    let y = bn.forward(&tape.constant(x));
    let grads = (&y * &y).sum_all().backward();
    let before = (bn.running_mean().to_vec(), bn.running_var().to_vec());
    Adam::adamw(0.1, 0.5).step(&mut bn, &grads);
    assert_eq!(
        (bn.running_mean().to_vec(), bn.running_var().to_vec()),
        before
    );
}

/// The tape picture labels parameter leaves with their names in the model,
/// weight before bias, at the line where the user called `forward` (not a
/// line inside the library), and a shape panic inside a layer names the
/// user's line too.
#[test]
fn pictures_name_params_at_the_users_line() {
    use mnemon_nn::TapeParamExt;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let model = mnemon_nn::Sequential::<f32>::new()
        .push(mnemon_nn::Linear::new(2, 3, &mut rng))
        .push(mnemon_nn::Sigmoid);
    let tape = mnemon_autograd::Tape::new();
    let line = line!() + 1;
    let _ = model.forward(&tape.constant(mnemon_tensor::Tensor::ones(&[4, 2])));
    tape.name_params(&model);
    let dot = tape.to_dot();
    let at = format!("{}:{line}", file!());
    assert!(
        dot.contains(&format!("#0 layers.0.weight\\n[3, 2]\\n{at}")),
        "{dot}"
    );
    assert!(
        dot.contains(&format!("#1 layers.0.bias\\n[3]\\n{at}")),
        "{dot}"
    );
    assert!(!dot.contains("linear.rs"), "{dot}");
    assert!(tape.to_svg().contains("#0 layers.0.weight"));

    let line = line!() + 2;
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = model.forward(&tape.constant(mnemon_tensor::Tensor::ones(&[4, 5])));
    }))
    .expect_err("a [4, 5] input does not fit Linear(2, 3)");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
}

#[test]
fn layers_pass_an_empty_batch_through_forward_and_backward() {
    // an empty batch of sequences: each step narrowed from `[0, T, F]`
    // (found by `tools/crosscheck/layers.py`: its gradient panicked)
    let mut rng = StdRng::seed_from_u64(2);
    let gru = Gru::<f64>::new(2, 3, &mut rng);
    let rnn = Rnn::<f64>::new(2, 3, &mut rng);
    let lstm = Lstm::<f64>::new(2, 3, &mut rng);
    fn passes<M: Module<f64>>(m: &M) {
        let tape = Tape::new();
        let x = tape.leaf(Tensor::zeros(&[0, 2, 2]));
        let y = m.forward(&x);
        assert_eq!(y.shape(), &[0, 2, 3]);
        let grads = y.sum_all().backward();
        assert_eq!(
            grads.wrt(&x).map(|g| g.shape().to_vec()),
            Some(vec![0, 2, 2])
        );
    }
    passes(&gru);
    passes(&rnn);
    passes(&lstm);
    let tape = Tape::new();
    let y = gru.forward(&tape.constant(Tensor::zeros(&[0, 2, 2])));
    let grads = (&y * &y).sum_all().backward();
    for (name, p) in gru.named_params() {
        let g = grads
            .param(&p)
            .map_or(vec![0.0; p.value.numel()], |g| g.to_vec());
        assert!(g.iter().all(|&v| v == 0.0), "{name}: {g:?}");
    }
}

/// `Sequential` hands each layer's output on given up (`forward_owned`),
/// so a sigmoid or tanh after a linear layer writes into the layer's
/// buffer: the values and gradients are those of the layers called one by
/// one, to the bit, and the caller's input is never written, even when the
/// first layer is an activation.
#[test]
fn sequential_passes_outputs_on_without_changing_a_bit() {
    let mut rng = StdRng::seed_from_u64(5);
    let model: Sequential<f64> = Sequential::new()
        .push(Tanh)
        .push(Linear::new(3, 4, &mut rng))
        .push(Sigmoid)
        .push(Linear::new(4, 2, &mut rng))
        .push(Tanh);
    let xv = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.0, 3.0, -0.25], &[2, 3]).unwrap();
    let run = |by_layer: bool| {
        let tape = Tape::new();
        let x = tape.leaf(xv.clone());
        let y = if by_layer {
            let names = model.named_params();
            let (w1, b1, w2, b2) = (&names[0].1, &names[1].1, &names[2].1, &names[3].1);
            let p = |q: &Param<f64>| tape.param(q);
            let h = x.tanh().linear(&p(w1), Some(&p(b1))).sigmoid();
            h.linear(&p(w2), Some(&p(b2))).tanh()
        } else {
            model.forward(&x)
        };
        let loss = (&y * &y).sum_all();
        let g = loss.backward();
        let gx = g.wrt(&x).unwrap().to_vec();
        let gp: Vec<Vec<f64>> = model
            .named_params()
            .iter()
            .map(|(_, q)| g.param(q).unwrap().to_vec())
            .collect();
        assert_eq!(x.value().to_vec(), xv.to_vec(), "the input is not written");
        (y.value().to_vec(), gx, gp)
    };
    let (a, b) = (run(false), run(true));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.0), bits(&b.0));
    assert_eq!(bits(&a.1), bits(&b.1));
    for (u, v) in a.2.iter().zip(&b.2) {
        assert_eq!(bits(u), bits(v));
    }
    assert_eq!(xv.to_vec(), vec![0.5, -1.0, 2.0, 0.0, 3.0, -0.25]);
}
