//! Pictures of learning: the tape of one XOR pass (DOT and SVG), the loss
//! curve of training, and the learned decision boundary over the unit
//! square — all SVG written here, no system tool or font needed.
//!
//! What it teaches: what the tape recorded (every op, its shape, the line
//! of code that made it and, after backward, the size of the gradient that
//! flowed through it), and what training did to the function.
//!
//! Run: `cargo run --release --example pictures` (prints the folder).

mod common;

use common::{mse_step, xor_data, xor_net};
use mnemon::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::fmt::Write;
use std::path::PathBuf;

/// A line chart of `ys` (log scale), as SVG.
fn loss_svg(ys: &[f32]) -> String {
    let (w, h, pad) = (640.0, 360.0, 50.0);
    let logs: Vec<f64> = ys.iter().map(|&y| (y.max(1e-12) as f64).log10()).collect();
    let (lo, hi) = logs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
    let px = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (ys.len().max(2) - 1) as f64;
    let py = |v: f64| h - pad - (h - 2.0 * pad) * (v - lo) / (hi - lo);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let mut decade = lo;
    while decade <= hi {
        let y = py(decade);
        let _ = writeln!(s, "<line x1=\"{pad}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"5\" y=\"{:.1}\">1e{decade}</text>", w - pad, y + 4.0);
        decade += 1.0;
    }
    let points: Vec<String> = logs
        .iter()
        .enumerate()
        .map(|(i, &v)| format!("{:.1},{:.1}", px(i), py(v)))
        .collect();
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"1.5\" points=\"{}\"/>",
        points.join(" ")
    );
    let _ = writeln!(s, "<text x=\"{}\" y=\"{}\">step (0 … {})</text><text x=\"{pad}\" y=\"20\">MSE loss (log scale)</text>", w / 2.0 - 40.0, h - 15.0, ys.len());
    s.push_str("</svg>\n");
    s
}

/// The model's output over the unit square as a heat map, with the four
/// XOR points, as SVG.
fn boundary_svg(model: &Sequential<f32>) -> String {
    let n = 60;
    let grid: Vec<f32> = (0..n * n)
        .flat_map(|k| {
            [
                (k % n) as f32 / (n - 1) as f32,
                (k / n) as f32 / (n - 1) as f32,
            ]
        })
        .collect();
    let tape = Tape::new();
    let pts = Tensor::from_vec(grid, &[n * n, 2]).expect("n²×2");
    let out = model.forward(&tape.constant(pts)).value().to_vec();
    let cell = 6.0;
    let size = cell * n as f64;
    let mut s =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\">\n");
    for (k, p) in out.iter().enumerate() {
        let (i, j) = (k % n, k / n);
        let r = (255.0 * p) as u8;
        let b = (255.0 * (1.0 - p)) as u8;
        let _ = writeln!(s, "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({r},90,{b})\"/>", i as f64 * cell, size - (j + 1) as f64 * cell);
    }
    for (x, y, t) in [(0.0, 0.0, 0), (0.0, 1.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0)] {
        let fill = if t == 1 { "#fff" } else { "#000" };
        let _ = writeln!(
            s,
            "<circle cx=\"{:.0}\" cy=\"{:.0}\" r=\"8\" fill=\"{fill}\" stroke=\"#888\"/>",
            14.0 + x * (size - 28.0),
            size - 14.0 - y * (size - 28.0)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from("target").join("mnemon-pictures");
    std::fs::create_dir_all(&dir)?;
    let (x, y) = xor_data();
    let mut model = xor_net(&mut StdRng::seed_from_u64(42));
    let mut opt = Sgd::new(1.0);

    // The tape of one forward + backward pass, before training.
    let tape = Tape::new();
    tape.set_keep_grad_norms(true);
    let loss = mse(
        &model.forward(&tape.constant(x.clone())),
        &tape.constant(y.clone()),
        Reduction::Mean,
    );
    let _grads = loss.backward();
    tape.name_params(&model); // label the weight leaves `layers.0.weight`, …
    std::fs::write(dir.join("xor_tape.dot"), tape.to_dot())?;
    std::fs::write(dir.join("xor_tape.svg"), tape.to_svg())?;

    let losses: Vec<f32> = (0..5000)
        .map(|_| mse_step(&mut model, &mut opt, &x, &y))
        .collect();
    std::fs::write(dir.join("loss.svg"), loss_svg(&losses))?;
    std::fs::write(dir.join("decision_boundary.svg"), boundary_svg(&model))?;

    let abs = std::fs::canonicalize(&dir)?;
    println!(
        "wrote xor_tape.dot, xor_tape.svg, loss.svg, decision_boundary.svg to {}",
        abs.display()
    );
    println!(
        "final loss {:.6}",
        losses.last().copied().unwrap_or(f32::NAN)
    );
    Ok(())
}
