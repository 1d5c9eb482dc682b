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
    BatchNorm, CosineAnnealing, Embedding, Gru, LrSchedule, Lstm, MultiheadAttention, Optimizer,
    Param, Rnn, StepLr, TransformerEncoderLayer, Warmup,
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

    /// A recurrent layer's `(layers, bidirectional)`: (1, false) unless
    /// the case names them.
    fn stacking(&self) -> (usize, bool) {
        let layers = self.cfg.get("layers").map_or(1, |l| l.parse().unwrap());
        (
            layers,
            self.cfg.get("bidirectional").is_some_and(|b| b == "1"),
        )
    }

    /// Tensor `name` in the layer's element type.
    fn as_t<T: Element>(&self, name: &str) -> Tensor<T> {
        self.t[name].cast()
    }

    /// The largest magnitude among the case's inputs (input, target,
    /// cotangent, direction; for an optimizer, the params along their
    /// way): float32 rounds what a layer computes from them, so a result
    /// much smaller than they are (a gradient that cancels, a param that
    /// crosses 0) carries their rounding.
    fn input_scale(&self) -> f64 {
        let optim = self.cfg["kind"] == "optim";
        let input = |k: &str| {
            matches!(k, "input.x" | "input.t" | "cot" | "v") || (optim && k.starts_with("after."))
        };
        let big = |t: &Tensor<f64>| t.to_vec().iter().fold(0f64, |m, v| m.max(v.abs()));
        self.t
            .iter()
            .filter(|(k, _)| input(k))
            .fold(0f64, |m, (_, t)| m.max(big(t)))
    }

    /// What differs in `got`, the value named `what`: against the float64
    /// truth to 1e-9 of its largest entry; in float32 (when PyTorch's
    /// float32 result is there, `torch32.NAME`), an error from the truth
    /// above 8 times PyTorch's own plus 1e-6 of the largest entry or input.
    fn differs<T: Element>(&self, what: &str, got: &Tensor<T>) -> Option<String> {
        let (got, want) = (got.cast::<f64>(), &self.t[what]);
        match self.t.get(&format!("torch32.{what}")) {
            None => differs(&got, want, |scale| 1e-9 * scale),
            Some(torch) => {
                let theirs = error(torch, want).unwrap_or(f64::INFINITY);
                let inputs = self.input_scale();
                differs(&got, want, |scale| 8.0 * theirs + 1e-6 * scale.max(inputs))
                    .map(|d| format!("{d}, PyTorch float32's {theirs:.3e}"))
            }
        }
    }
}

/// The largest difference of `got` from `want` (`None`: NaN positions
/// differ), ignoring places where both are NaN.
fn error(got: &Tensor<f64>, want: &Tensor<f64>) -> Option<f64> {
    let (got, want) = (got.to_vec(), want.to_vec());
    if got.len() != want.len() || got.iter().zip(&want).any(|(g, w)| g.is_nan() != w.is_nan()) {
        return None;
    }
    let pairs = got.iter().zip(&want).filter(|(g, _)| !g.is_nan());
    Some(pairs.fold(0f64, |m, (g, w)| m.max((g - w).abs())))
}

/// What differs in `got` from `want`: the shapes, NaN positions (a mean
/// over an empty batch is NaN), or an error above `tol(largest |want|)`.
fn differs(got: &Tensor<f64>, want: &Tensor<f64>, tol: impl Fn(f64) -> f64) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!("shape {:?} vs {:?}", got.shape(), want.shape()));
    }
    let finite = want.to_vec().into_iter().filter(|v| !v.is_nan());
    let scale = finite.fold(0f64, |m, v| m.max(v.abs()));
    match error(got, want) {
        None => Some(format!("NaN where the other has none: {got} vs {want}")),
        Some(e) if e > tol(scale) + 1e-15 => {
            Some(format!("max error {e:.3e} (largest {scale:.3e})"))
        }
        Some(_) => None,
    }
}

/// Runs one case: `run` is the layer on the tape's input (the ids in `io`
/// for an embedding). Returns what differs.
fn check<T: Element, M: Module<T>>(
    m: &M,
    io: &Io,
    run: impl for<'t> Fn(&M, &'t Tape<T>, &Var<'t, T>) -> Var<'t, T>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut compare = |what: &str, got: &Tensor<T>| {
        if let Some(d) = io.differs(what, got) {
            bad.push(format!("{what}: {d}"));
        }
    };
    let tape = Tape::new();
    let x = match io.t.contains_key("input.x") {
        true => tape.leaf(io.as_t("input.x")),
        false => tape.constant(Tensor::zeros(&[0])),
    };
    let y = run(m, &tape, &x);
    compare("output", y.value());
    let loss = (&y * &tape.constant(io.as_t("cot"))).sum_all();
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
            let dot = (gx * &tape.constant(io.as_t("v"))).sum_all();
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
struct Params<T: Element>(Vec<Param<T>>);

impl<T: Element> Module<T> for Params<T> {
    fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T> {
        x.clone()
    }
    fn visit(&self, _: &str, f: &mut dyn FnMut(&str, &Param<T>)) {
        for (j, p) in self.0.iter().enumerate() {
            f(&j.to_string(), p);
        }
    }
    fn visit_mut(&mut self, _: &str, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        for (j, p) in self.0.iter_mut().enumerate() {
            f(&j.to_string(), p);
        }
    }
}

/// An optimizer case: each step's gradients (`grad.K.J`, absent: none
/// for that param), the case's schedule setting the rate first, and the
/// params after the step compared with `after.K.J`.
fn optim<T: Element>(mut model: Params<T>, io: &Io) -> Vec<String> {
    let (lr, wd): (f64, f64) = (io.get("lr"), io.get("wd"));
    let mut opt: Box<dyn Optimizer<T>> = match io.cfg["opt"].as_str() {
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
        let terms: Vec<Var<'_, T>> = model
            .0
            .iter()
            .enumerate()
            .filter_map(|(j, p)| {
                let g = io.t.get(&format!("grad.{k}.{j}"))?;
                Some((&tape.param(p) * &tape.constant(g.cast())).sum_all())
            })
            .collect();
        if let Some(first) = terms.first() {
            let loss = terms[1..].iter().fold(first.clone(), |acc, t| &acc + t);
            let grads = loss.backward();
            opt.step(&mut model, &grads);
        }
        for (j, p) in model.0.iter().enumerate() {
            let key = format!("after.{k}.{j}");
            if let Some(d) = io.differs(&key, &p.value) {
                bad.push(format!("{key}: {d}"));
            }
        }
    }
    bad
}

/// The vectors `vs` flattened and joined into one.
fn flat<'t, T: Element>(vs: &[Var<'t, T>]) -> Var<'t, T> {
    let parts: Vec<_> = vs
        .iter()
        .map(|v| v.reshape(&[v.value().numel()]).unwrap())
        .collect();
    Var::concat(&parts, 0)
}

/// Builds the case's layer, loads PyTorch's state into it and checks it.
fn run_case<T: Element>(state: &Path, io: &Io) -> Vec<String> {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let mask = io.t.get("mask").map(|m| m.cast::<T>());
    let mask = mask.as_ref();
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
            let m = loaded!(Linear::<T>::with_init(
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
            let mut m = Conv2d::<T>::new(i, o, k, opts, &mut rng);
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
            let mut m = Conv1d::<T>::new(i, o, k, opts, &mut rng);
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
            let mut m = loaded!(LayerNorm::<T>::new(&shape));
            m.eps = io.get("eps");
            check(&m, io, |m, _, x| m.forward(x))
        }
        "group_norm" => {
            let mut m = loaded!(GroupNorm::<T>::new(io.get("groups"), io.get("channels")));
            m.eps = io.get("eps");
            check(&m, io, |m, _, x| m.forward(x))
        }
        "batch_norm" => {
            let mut m = loaded!(BatchNorm::<T>::new(io.get("channels")));
            (m.eps, m.momentum) = (io.get("eps"), io.get("momentum"));
            m.set_training(io.flag("training"));
            check(&m, io, |m, _, x| m.forward(x))
        }
        "embedding" => {
            let m = loaded!(Embedding::<T>::new(io.get("num"), io.get("dim"), &mut rng));
            let (ids, shape) = io.idx.clone().unwrap();
            check(&m, io, |m, tape, _| m.lookup(tape, &ids, &shape).unwrap())
        }
        "mha" => {
            let m = loaded!(MultiheadAttention::<T>::new(
                io.get("embed"),
                io.get("heads"),
                &mut rng
            ));
            check(&m, io, |m, _, x| m.attend(x, mask))
        }
        "encoder" => {
            let (d, heads, ff) = (io.get("d"), io.get("heads"), io.get("ff"));
            let m = loaded!(TransformerEncoderLayer::<T>::new(d, heads, ff, &mut rng));
            check(&m, io, |m, _, x| m.forward_masked(x, mask))
        }
        "gru" => {
            let (l, bi) = io.stacking();
            let (i, h) = (io.get("in"), io.get("hidden"));
            let m = loaded!(Gru::<T>::with_layers(i, h, l, bi, &mut rng));
            check(&m, io, |m, _, x| m.forward(x))
        }
        "rnn" => {
            let (l, bi) = io.stacking();
            let (i, h) = (io.get("in"), io.get("hidden"));
            let m = loaded!(Rnn::<T>::with_layers(i, h, l, bi, &mut rng));
            check(&m, io, |m, _, x| m.forward(x))
        }
        "lstm" => {
            let (l, bi) = io.stacking();
            let (i, h) = (io.get("in"), io.get("hidden"));
            let m = loaded!(Lstm::<T>::with_layers(i, h, l, bi, &mut rng));
            check(&m, io, |m, _, x| m.forward(x))
        }
        // from a given state: every state, then h_n (and c_n), flattened
        "rnn_state" | "lstm_state" | "gru_state" => {
            let (i, h) = (io.get("in"), io.get("hidden"));
            let (l, bi) = io.stacking();
            match io.cfg["kind"].as_str() {
                "rnn_state" => check(
                    &loaded!(Rnn::<T>::with_layers(i, h, l, bi, &mut rng)),
                    io,
                    |m, tape, x| {
                        let (out, h_n) =
                            m.forward_with(x, Some(&tape.constant(io.as_t("input.h0"))));
                        flat(&[out, h_n])
                    },
                ),
                "gru_state" => check(
                    &loaded!(Gru::<T>::with_layers(i, h, l, bi, &mut rng)),
                    io,
                    |m, tape, x| {
                        let (out, h_n) =
                            m.forward_with(x, Some(&tape.constant(io.as_t("input.h0"))));
                        flat(&[out, h_n])
                    },
                ),
                _ => check(
                    &loaded!(Lstm::<T>::with_layers(i, h, l, bi, &mut rng)),
                    io,
                    |m, tape, x| {
                        let h0 = tape.constant(io.as_t("input.h0"));
                        let c0 = tape.constant(io.as_t("input.c0"));
                        let (out, (h_n, c_n)) = m.forward_with(x, Some((&h0, &c0)));
                        flat(&[out, h_n, c_n])
                    },
                ),
            }
        }
        "loss" => {
            let r = match io.cfg["reduction"].as_str() {
                "mean" => Reduction::Mean,
                "sum" => Reduction::Sum,
                _ => Reduction::None,
            };
            check(&Params::<T>(Vec::new()), io, |_, tape, x| {
                let t = || tape.constant(io.as_t("input.t"));
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
            let zeros = |t: &Tensor<f64>| Param::<T>::new(Tensor::zeros(t.shape()));
            let params = (0..).map_while(|j| after(j).map(zeros)).collect();
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
        let f32 = io.cfg.get("dtype").is_some_and(|d| d == "f32");
        let result = std::panic::catch_unwind(|| match f32 {
            true => run_case::<f32>(&state, &io),
            false => run_case::<f64>(&state, &io),
        });
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
