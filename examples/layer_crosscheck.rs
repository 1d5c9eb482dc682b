//! The layers against PyTorch (`tools/crosscheck/layers.py`): for every
//! case in a directory, builds the same layer in f64, loads PyTorch's
//! `state_dict` by PyTorch's names, runs it on PyTorch's input and
//! compares the output, the gradients of `sum(output · cot)` for the input
//! and every parameter, the Hessian-vector product through the input's
//! gradient (second order through the whole layer) and, for batch norm,
//! the running statistics after the pass. Prints each value that differs
//! by more than 1e-9 of its largest entry, then a count.
//!
//! ```sh
//! python3 tools/crosscheck/layers.py 0 /tmp/layers
//! cargo run --release --example layer_crosscheck -- /tmp/layers
//! ```
use mnemon::autograd::{Conv1dOptions, Conv2dOptions};
use mnemon::nn::{
    BatchNorm, CosineAnnealing, Embedding, Gru, LrSchedule, MultiheadAttention, Optimizer, Param,
    StepLr, TransformerEncoderLayer, Warmup,
};
use mnemon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// One case's io file: its options, tensors and token ids.
struct Io {
    cfg: HashMap<String, String>,
    t: HashMap<String, Tensor<f64>>,
    /// `input.idx`: the ids and their shape.
    idx: Option<(Vec<usize>, Vec<usize>)>,
}

impl Io {
    fn read(path: &Path) -> Io {
        let bytes = std::fs::read(path).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let cfg_text = meta.metadata().as_ref().unwrap()["cfg"].clone();
        let cfg = cfg_text
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let (mut t, mut idx) = (HashMap::new(), None);
        for (name, view) in st.tensors() {
            let words = view.data().chunks_exact(8).map(|c| c.try_into().unwrap());
            if view.dtype() == safetensors::Dtype::I64 {
                let ids = words.map(|w| i64::from_le_bytes(w) as usize).collect();
                idx = Some((ids, view.shape().to_vec()));
            } else {
                let v: Vec<f64> = words.map(f64::from_le_bytes).collect();
                t.insert(name, Tensor::from_vec(v, view.shape()).unwrap());
            }
        }
        Io { cfg, t, idx }
    }

    /// Option `k` parsed.
    fn get<N: std::str::FromStr>(&self, k: &str) -> N
    where
        N::Err: std::fmt::Debug,
    {
        self.cfg[k].parse().unwrap()
    }

    /// Option `k`, a list written `3,1`.
    fn pair(&self, k: &str) -> [usize; 2] {
        let v: Vec<usize> = self.cfg[k].split(',').map(|s| s.parse().unwrap()).collect();
        [v[0], v[1]]
    }

    fn flag(&self, k: &str) -> bool {
        self.cfg[k] == "1"
    }
}

/// The largest difference of `got` from `want`, when above 1e-9 of
/// `want`'s largest entry (NaN where `want` has NaN, as a mean over an
/// empty batch is; or the shapes differ).
fn differs(got: &Tensor<f64>, want: &Tensor<f64>) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!("shape {:?} vs {:?}", got.shape(), want.shape()));
    }
    let (got, want) = (got.to_vec(), want.to_vec());
    if got.iter().zip(&want).any(|(g, w)| g.is_nan() != w.is_nan()) {
        return Some(format!("NaN where the other has none: {got:?} vs {want:?}"));
    }
    let finite = |v: &f64| !v.is_nan();
    let scale = want
        .iter()
        .filter(|v| finite(v))
        .fold(0f64, |m, v| m.max(v.abs()));
    let pairs = got.iter().zip(&want).filter(|(g, _)| finite(g));
    let worst = pairs.fold(0f64, |m, (g, w)| m.max((g - w).abs()));
    (worst > 1e-9 * scale + 1e-15).then(|| format!("max error {worst:.3e} (largest {scale:.3e})"))
}

/// Runs one case: `run` is the layer on the tape's input (the ids in `io`
/// for an embedding). Returns what differs.
fn check<M: Module<f64>>(
    m: &M,
    io: &Io,
    run: impl for<'t> Fn(&M, &'t Tape<f64>, &Var<'t, f64>) -> Var<'t, f64>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut compare = |what: &str, got: &Tensor<f64>| {
        if let Some(d) = differs(got, &io.t[what]) {
            bad.push(format!("{what}: {d}"));
        }
    };
    let tape = Tape::new();
    let x = match io.t.get("input.x") {
        Some(x) => tape.leaf(x.clone()),
        None => tape.constant(Tensor::zeros(&[0])),
    };
    let y = run(m, &tape, &x);
    compare("output", y.value());
    let loss = (&y * &tape.constant(io.t["cot"].clone())).sum_all();
    let grads = loss.backward();
    m.visit("", &mut |name, p| {
        let key = format!("grad.{name}");
        if io.t.contains_key(&key) {
            let g = grads.param(p).unwrap_or_else(|| Tensor::zeros(p.shape()));
            compare(&key, &g);
        }
        let key = format!("after.{name}");
        if io.t.contains_key(&key) {
            compare(&key, &p.value);
        }
    });
    if x.requires_grad() {
        let g = grads
            .wrt(&x)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(x.shape()));
        compare("grad.input", &g);
        if io.t.contains_key("hvp.input") {
            let gx = &loss.grad_graph(&[&x])[0];
            let dot = (gx * &tape.constant(io.t["v"].clone())).sum_all();
            let h = if dot.requires_grad() {
                dot.backward().wrt(&x).cloned()
            } else {
                None
            };
            compare("hvp.input", &h.unwrap_or_else(|| Tensor::zeros(x.shape())));
        }
    }
    bad
}

/// Params named `0`, `1`, ... (an optimizer case's model).
struct Params(Vec<Param<f64>>);

impl Module<f64> for Params {
    fn forward<'t>(&self, x: &Var<'t, f64>) -> Var<'t, f64> {
        x.clone()
    }
    fn visit(&self, _: &str, f: &mut dyn FnMut(&str, &Param<f64>)) {
        for (j, p) in self.0.iter().enumerate() {
            f(&j.to_string(), p);
        }
    }
    fn visit_mut(&mut self, _: &str, f: &mut dyn FnMut(&str, &mut Param<f64>)) {
        for (j, p) in self.0.iter_mut().enumerate() {
            f(&j.to_string(), p);
        }
    }
}

/// An optimizer case: each step's gradients (`grad.K.J`, absent: none
/// for that param), the case's schedule setting the rate first, and the
/// params after the step compared with `after.K.J`.
fn optim(mut model: Params, io: &Io) -> Vec<String> {
    let (lr, wd): (f64, f64) = (io.get("lr"), io.get("wd"));
    let mut opt: Box<dyn Optimizer<f64>> = match io.cfg["opt"].as_str() {
        "sgd" => {
            let mut o = Sgd::new(lr).weight_decay(wd);
            let mu: f64 = io.get("momentum");
            if mu > 0.0 {
                o = if io.flag("nesterov") {
                    o.nesterov(mu)
                } else {
                    o.momentum(mu)
                };
            }
            o.clip_norm = Some(io.get::<f64>("clip")).filter(|&c| c > 0.0);
            Box::new(o)
        }
        kind => {
            let mut o = if kind == "adam" {
                Adam::new(lr)
            } else {
                Adam::adamw(lr, wd)
            };
            if kind == "adam" {
                o.weight_decay = wd;
            }
            (o.beta1, o.beta2, o.eps) = (io.get("beta1"), io.get("beta2"), io.get("eps"));
            o.clip_norm = Some(io.get::<f64>("clip")).filter(|&c| c > 0.0);
            Box::new(o)
        }
    };
    let steps: usize = io.get("steps");
    let rate = |k: usize| match io.cfg["schedule"].as_str() {
        "step" => StepLr {
            base: lr,
            every: 2,
            gamma: 0.5,
        }
        .lr_at(k),
        "cosine" => CosineAnnealing {
            base: lr,
            min: lr / 10.0,
            total: steps,
        }
        .lr_at(k),
        "warmup" => {
            let then = CosineAnnealing {
                base: lr,
                min: 0.0,
                total: steps - 2,
            };
            Warmup { steps: 2, then }.lr_at(k)
        }
        _ => lr,
    };
    let mut bad = Vec::new();
    for k in 0..steps {
        opt.set_lr(rate(k));
        let tape = Tape::new();
        let terms: Vec<Var<'_, f64>> = model
            .0
            .iter()
            .enumerate()
            .filter_map(|(j, p)| {
                let g = io.t.get(&format!("grad.{k}.{j}"))?;
                Some((&tape.param(p) * &tape.constant(g.clone())).sum_all())
            })
            .collect();
        if let Some(first) = terms.first() {
            let loss = terms[1..].iter().fold(first.clone(), |acc, t| &acc + t);
            let grads = loss.backward();
            opt.step(&mut model, &grads);
        }
        for (j, p) in model.0.iter().enumerate() {
            let key = format!("after.{k}.{j}");
            if let Some(d) = differs(&p.value, &io.t[&key]) {
                bad.push(format!("{key}: {d}"));
            }
        }
    }
    bad
}

/// Builds the case's layer, loads PyTorch's state into it and checks it.
fn run_case(state: &Path, io: &Io) -> Vec<String> {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let mask = io.t.get("mask");
    macro_rules! loaded {
        ($m:expr) => {{
            let mut m = $m;
            mnemon::nn::load(&mut m, state).unwrap();
            m
        }};
    }
    match io.cfg["kind"].as_str() {
        "linear" => {
            let (i, o) = (io.get("in"), io.get("out"));
            let m = loaded!(Linear::with_init(
                i,
                o,
                Init::Default,
                io.flag("bias"),
                &mut rng
            ));
            check(&m, io, |m, _, x| m.forward(x))
        }
        "conv2d" => {
            let opts = Conv2dOptions {
                stride: io.pair("stride"),
                padding: io.pair("padding"),
                dilation: io.pair("dilation"),
                groups: io.get("groups"),
            };
            let (i, o, k) = (io.get("in"), io.get("out"), io.pair("k"));
            let mut m = Conv2d::new(i, o, k, opts, &mut rng);
            if !io.flag("bias") {
                m = m.without_bias();
            }
            let m = loaded!(m);
            check(&m, io, |m, _, x| m.forward(x))
        }
        "conv1d" => {
            let opts = Conv1dOptions {
                stride: io.get("stride"),
                padding: io.get("padding"),
                dilation: io.get("dilation"),
                groups: io.get("groups"),
            };
            let (i, o, k) = (io.get("in"), io.get("out"), io.get("k"));
            let mut m = Conv1d::new(i, o, k, opts, &mut rng);
            if !io.flag("bias") {
                m = m.without_bias();
            }
            let m = loaded!(m);
            check(&m, io, |m, _, x| m.forward(x))
        }
        "layer_norm" => {
            let shape: Vec<usize> = io.cfg["shape"]
                .split(',')
                .map(|s| s.parse().unwrap())
                .collect();
            let mut m = loaded!(LayerNorm::new(&shape));
            m.eps = io.get("eps");
            check(&m, io, |m, _, x| m.forward(x))
        }
        "batch_norm" => {
            let mut m = loaded!(BatchNorm::new(io.get("channels")));
            (m.eps, m.momentum) = (io.get("eps"), io.get("momentum"));
            m.set_training(io.flag("training"));
            check(&m, io, |m, _, x| m.forward(x))
        }
        "embedding" => {
            let m = loaded!(Embedding::new(io.get("num"), io.get("dim"), &mut rng));
            let (ids, shape) = io.idx.clone().unwrap();
            check(&m, io, |m, tape, _| m.lookup(tape, &ids, &shape).unwrap())
        }
        "mha" => {
            let m = loaded!(MultiheadAttention::new(
                io.get("embed"),
                io.get("heads"),
                &mut rng
            ));
            check(&m, io, |m, _, x| m.attend(x, mask))
        }
        "encoder" => {
            let (d, heads, ff) = (io.get("d"), io.get("heads"), io.get("ff"));
            let m = loaded!(TransformerEncoderLayer::new(d, heads, ff, &mut rng));
            check(&m, io, |m, _, x| m.forward_masked(x, mask))
        }
        "gru" => {
            let m = loaded!(Gru::new(io.get("in"), io.get("hidden"), &mut rng));
            check(&m, io, |m, _, x| m.forward(x))
        }
        "loss" => {
            let r = match io.cfg["reduction"].as_str() {
                "mean" => Reduction::Mean,
                "sum" => Reduction::Sum,
                _ => Reduction::None,
            };
            check(&Params(Vec::new()), io, |_, tape, x| {
                let t = || tape.constant(io.t["input.t"].clone());
                match io.cfg["loss"].as_str() {
                    "mse" => mse(x, &t(), r),
                    "bce" => bce(x, &t(), r),
                    "bce_logits" => bce_with_logits(x, &t(), r),
                    _ => cross_entropy(x, &io.idx.as_ref().expect("classes").0, r).unwrap(),
                }
            })
        }
        "optim" => {
            // shaped as the params after the first step
            let after = |j: usize| io.t.get(&format!("after.0.{j}"));
            let params =
                (0..).map_while(|j| after(j).map(|t| Param::new(Tensor::zeros(t.shape()))));
            let params = params.collect();
            optim(loaded!(Params(params)), io)
        }
        other => vec![format!("unknown kind {other}")],
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: layer_crosscheck DIR");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".io.safetensors"))
        .collect();
    cases.sort();
    let mut failed = 0;
    for io_path in &cases {
        let name = io_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".io.safetensors", "");
        let state = io_path.with_file_name(format!("{name}.safetensors"));
        let io = Io::read(io_path);
        let result = std::panic::catch_unwind(|| run_case(&state, &io));
        let bad = result.unwrap_or_else(|_| vec!["panic".to_string()]);
        if !bad.is_empty() {
            failed += 1;
            println!(
                "{name} ({}): {}",
                io.cfg
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                bad.join("; ")
            );
        }
    }
    println!("{failed} of {} cases differ", cases.len());
}
