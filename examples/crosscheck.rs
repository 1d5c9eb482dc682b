//! The mnemon side of the cross-check against JAX (`tools/crosscheck/`):
//! reads cases from stdin — an op, its parameters, f64 inputs, a cotangent
//! `cot` and optional directions `v` — and prints, per case, the op's
//! output, the gradient of `sum(out · cot)` with respect to every input
//! (a recorded `grad_graph`), and the Hessian-vector products
//! `∂/∂x Σᵢ ⟨gradᵢ, vᵢ⟩` through that recorded gradient. A panic prints
//! `panic` for the case. Run through `tools/crosscheck/run.py`, which
//! writes the cases, computes the same with JAX and compares.
//!
//! Case format, one block per case:
//! `case NAME OP PARAMS…` / `in DIMS… : VALUES…` (per input) /
//! `mask DIMS… : VALUES…` / `cot DIMS… : VALUES…` / `v DIMS… : VALUES…` /
//! `end`. An op prefixed `T_` transposes its first input's last two axes
//! first, `N_` narrows its first axis by one (strided views).
use mnemon::autograd::{causal_mask, Conv1dOptions, Conv2dOptions};
use mnemon::prelude::*;
use mnemon::tensor::Window2d;
use std::io::Read;

/// A tensor from `DIMS… : VALUES…`.
fn parse_t(line: &str) -> Tensor<f64> {
    let (sh, vals) = line.split_once(':').unwrap();
    let shape: Vec<usize> = sh.split_whitespace().map(|s| s.parse().unwrap()).collect();
    let v: Vec<f64> = vals
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    Tensor::from_vec(v, &shape).unwrap()
}
/// Parameter `i` parsed as `T`.
fn p<T: std::str::FromStr>(ps: &[&str], i: usize) -> T
where
    T::Err: std::fmt::Debug,
{
    ps[i].parse().unwrap()
}
/// An axis parameter (negative counts from the end).
fn ax(s: &str) -> isize {
    s.parse().unwrap()
}

/// A shape written `2x3`.
fn dims(s: &str) -> Vec<usize> {
    s.split('x')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap())
        .collect()
}
/// Index parameters.
fn idx(ps: &[&str]) -> Vec<usize> {
    ps.iter().map(|p| p.parse().unwrap()).collect()
}
/// The op the case names, on the case's inputs.
fn apply<'t, T: Element + std::str::FromStr>(
    op: &str,
    ps: &[&str],
    x: &[Var<'t, T>],
    masks: &[Tensor<T>],
) -> Var<'t, T>
where
    T::Err: std::fmt::Debug,
{
    if let Some(rest) = op.strip_prefix("T_") {
        let r = x[0].shape().len();
        let mut y = x.to_vec();
        y[0] = x[0].transpose(r - 2, r - 1);
        return apply(rest, ps, &y, masks);
    }
    if let Some(rest) = op.strip_prefix("N_") {
        let n = x[0].shape()[0];
        let mut y = x.to_vec();
        y[0] = x[0].narrow(0, 1, n - 1);
        return apply(rest, ps, &y, masks);
    }
    let a = &x[0];
    match op {
        "neg" => a.neg(),
        "exp" => a.exp(),
        "log" => a.log(),
        "sqrt" => a.sqrt(),
        "abs" => a.abs(),
        "recip" => a.recip(),
        "sigmoid" => a.sigmoid(),
        "tanh" => a.tanh(),
        "relu" => a.relu(),
        "sin" => a.sin(),
        "cos" => a.cos(),
        "erf" => a.erf(),
        "softplus" => a.softplus(),
        "silu" => a.silu(),
        "log1p" => a.log1p(),
        "expm1" => a.expm1(),
        "leaky_relu" => a.leaky_relu(p(ps, 0)),
        "elu" => a.elu(p(ps, 0)),
        "gelu" => a.gelu(),
        "gelu_tanh" => a.gelu_tanh(),
        "square" => a.square(),
        "powf" => a.powf(p(ps, 0)),
        "powi" => a.powi(p(ps, 0)),
        "clamp" => a.clamp(p(ps, 0), p(ps, 1)),
        "add" => a.add(&x[1]),
        "sub" => a.sub(&x[1]),
        "mul" => a.mul(&x[1]),
        "div" => a.div(&x[1]),
        "pow" => a.pow(&x[1]),
        "maximum" => a.maximum(&x[1]),
        "minimum" => a.minimum(&x[1]),
        "sum" => a.sum(ax(ps[0]), ps[1] == "1"),
        "mean" => a.mean(ax(ps[0]), ps[1] == "1"),
        "max" => a.max(ax(ps[0]), ps[1] == "1"),
        "min" => a.min(ax(ps[0]), ps[1] == "1"),
        "sum_all" => a.sum_all(),
        "mean_all" => a.mean_all(),
        "max_all" => a.max_all(),
        "min_all" => a.min_all(),
        "logsumexp" => a.logsumexp(ax(ps[0]), ps[1] == "1"),
        "softmax" => a.softmax(ax(ps[0])),
        "log_softmax" => a.log_softmax(ax(ps[0])),
        "matmul" => a.matmul(&x[1]),
        "bce" => a.binary_cross_entropy(&x[1]),
        "bce_logits" => a.binary_cross_entropy_with_logits(&x[1]),
        "mse" => a.squared_error(&x[1], ps[0] == "1"),
        "conv2d" => {
            let o = Conv2dOptions {
                stride: [p(ps, 0), p(ps, 1)],
                padding: [p(ps, 2), p(ps, 3)],
                dilation: [p(ps, 4), p(ps, 5)],
                groups: p(ps, 6),
            };
            a.conv2d(&x[1], x.get(2), o)
        }
        "conv1d" => {
            let o = Conv1dOptions {
                stride: p(ps, 0),
                padding: p(ps, 1),
                dilation: p(ps, 2),
                groups: p(ps, 3),
            };
            a.conv1d(&x[1], x.get(2), o)
        }
        "max_pool2d" | "avg_pool2d" => {
            let w = Window2d {
                kernel: [p(ps, 0), p(ps, 1)],
                stride: [p(ps, 2), p(ps, 3)],
                padding: [p(ps, 4), p(ps, 5)],
                dilation: [p(ps, 6), p(ps, 7)],
            };
            if op == "max_pool2d" {
                a.max_pool2d(w)
            } else {
                a.avg_pool2d(w)
            }
        }
        "adaptive" => a.adaptive_avg_pool2d_1x1(),
        "layer_norm" => a.layer_norm(p(ps, 0), x.get(1), x.get(2), p(ps, 1)),
        "sdpa" => a.scaled_dot_product_attention(
            &x[1],
            &x[2],
            if ps[0] == "1" { Some(&masks[0]) } else { None },
        ),
        "masked_fill" => a.masked_fill(&masks[0], p(ps, 0)),
        "causal_sdpa" => {
            let n = a.shape()[a.shape().len() - 2];
            a.scaled_dot_product_attention(&x[1], &x[2], Some(&causal_mask(n)))
        }
        "index_select" => a.index_select(p(ps, 0), &idx(&ps[1..])).unwrap(),
        "gather" => a.gather(p(ps, 0), &idx(&ps[2..]), &dims(ps[1])).unwrap(),
        "scatter_add" => a
            .scatter_add(p(ps, 0), &idx(&ps[2..]), &dims(ps[1]))
            .unwrap(),
        "index_add" => a.index_add(p(ps, 0), &idx(&ps[2..]), &dims(ps[1])).unwrap(),
        "cross_entropy" => {
            mnemon::nn::cross_entropy(a, &idx(ps), mnemon::nn::Reduction::Mean).unwrap()
        }
        "nll" => mnemon::nn::nll_loss(a, &idx(ps), mnemon::nn::Reduction::Mean).unwrap(),
        "ce_opts" => {
            // ignore index (−1: none), label smoothing, reduction, targets
            use mnemon::nn::{CrossEntropyOptions, Reduction};
            let ignore: i64 = p(ps, 0);
            let opts = CrossEntropyOptions {
                ignore_index: usize::try_from(ignore).ok(),
                label_smoothing: p(ps, 1),
            };
            let r = [Reduction::Mean, Reduction::Sum, Reduction::None][p::<usize>(ps, 2)];
            mnemon::nn::cross_entropy_with(a, &idx(&ps[3..]), r, opts).unwrap()
        }
        "l1" => mnemon::nn::l1_loss(a, &x[1], mnemon::nn::Reduction::None),
        "smooth_l1" => mnemon::nn::smooth_l1_loss(a, &x[1], p(ps, 0), mnemon::nn::Reduction::None),
        "huber" => mnemon::nn::huber_loss(a, &x[1], p(ps, 0), mnemon::nn::Reduction::None),
        "linear" => a.linear(&x[1], x.get(2)),
        "where" => Var::where_(&masks[0], a, &x[1]),
        "concat" => Var::concat(x, p(ps, 0)),
        "stack" => Var::stack(x, p(ps, 0)),
        "permute" => a.permute(&idx(ps)),
        "matmul_sum" => a.matmul_sum(&x[1]),
        "sum_to" => a.sum_to(&dims(ps[0])),
        "broadcast_to" => a.broadcast_to(&dims(ps[0])),
        other => panic!("unknown op {other}"),
    }
}

/// `DIMS… : VALUES…`, values in full precision (as f64).
fn fmt<T: Element>(t: &Tensor<T>) -> String {
    let sh: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
    let v: Vec<String> = t
        .to_vec()
        .iter()
        .map(|v| format!("{:e}", v.as_f64()))
        .collect();
    format!("{} : {}", sh.join(" "), v.join(" "))
}

/// One case as read: its inputs, masks, cotangent and directions in f64.
struct Case<'a> {
    name: &'a str,
    op: &'a str,
    ps: &'a [&'a str],
    ins: &'a [Tensor<f64>],
    masks: &'a [Tensor<f64>],
    cot: &'a Tensor<f64>,
    vs: &'a [Tensor<f64>],
}

/// The case in `T` (its values cast from f64; `--f32` runs mnemon's f32
/// kernels): output, gradients and Hessian-vector products, printed in
/// f64.
fn run<T: Element + std::str::FromStr>(c: &Case) -> String
where
    T::Err: std::fmt::Debug,
{
    let tape = Tape::<T>::new();
    let x: Vec<Var<T>> = c.ins.iter().map(|t| tape.leaf(t.cast())).collect();
    let masks: Vec<Tensor<T>> = c.masks.iter().map(|m| m.cast()).collect();
    let y = apply(c.op, c.ps, &x, &masks);
    let mut out = format!("case {}\nout {}\n", c.name, fmt(y.value()));
    let l = (&y * &tape.constant(c.cot.cast())).sum_all();
    let refs: Vec<&Var<T>> = x.iter().collect();
    let g = l.grad_graph(&refs);
    for (i, gi) in g.iter().enumerate() {
        out += &format!("grad {i} {}\n", fmt(gi.value()));
    }
    if !c.vs.is_empty() {
        let mut hl = None;
        for (gi, v) in g.iter().zip(c.vs) {
            let t = (gi * &tape.constant(v.cast())).sum_all();
            hl = Some(match hl {
                None => t,
                Some(h) => &h + &t,
            });
        }
        let hl = hl.expect("one input or more");
        if hl.requires_grad() {
            let h = hl.grad_graph(&refs);
            for (i, hi) in h.iter().enumerate() {
                out += &format!("hvp {i} {}\n", fmt(hi.value()));
            }
        } else {
            for (i, t) in c.ins.iter().enumerate() {
                out += &format!("hvp {i} {}\n", fmt(&Tensor::<T>::zeros(t.shape())));
            }
        }
    }
    out
}

fn main() {
    // `--f32`: every case in f32 (the inputs rounded to it by run.py)
    let f32 = std::env::args().any(|a| a == "--f32");
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    for block in s.split("\nend").filter(|b| !b.trim().is_empty()) {
        let mut lines = block.trim().lines();
        let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        let (name, op, ps) = (head[1], head[2], &head[3..]);
        let mut ins = vec![];
        let mut masks = vec![];
        let mut cot = None;
        let mut vs = vec![];
        for l in lines {
            let (k, rest) = l.split_once(' ').unwrap();
            match k {
                "in" => ins.push(parse_t(rest)),
                "mask" => masks.push(parse_t(rest)),
                "cot" => cot = Some(parse_t(rest)),
                "v" => vs.push(parse_t(rest)),
                _ => panic!("{k}"),
            }
        }
        let case = Case {
            name,
            op,
            ps,
            ins: &ins,
            masks: &masks,
            cot: &cot.expect("a cotangent"),
            vs: &vs,
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match f32 {
            true => run::<f32>(&case),
            false => run::<f64>(&case),
        }));
        match r {
            Ok(o) => print!("{o}"),
            Err(_) => println!("case {name}\npanic"),
        }
        println!("end");
    }
}
