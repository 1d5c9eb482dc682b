//! Pictures of learning: the tape of one XOR pass (DOT and SVG), the loss
//! curve of training, and the learned decision boundary over the unit
//! square — SVG files, the plots drawn with `plotters` (labelled axes,
//! ticks, a legend and a colour scale), no system tool or font needed.
//!
//! What it teaches: what the tape recorded (every op, its shape, the line
//! of code that made it and, after backward, the size of the gradient that
//! flowed through it), and what training did to the function.
//!
//! Run: `cargo run --release --example pictures` (prints the folder).
#![allow(dead_code)] // the integration test uses the plots, not `main`

mod common;

use common::{mse_step, xor_data, xor_net};
use mnemon::prelude::*;
use plotters::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::path::PathBuf;

/// A line chart of `ys` (log scale), as SVG.
/// Any plotting error, as an I/O error (`main`'s error type).
fn plot_err<E: std::fmt::Display>(e: E) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The training loss per step, on a log scale.
pub fn loss_svg(path: &std::path::Path, losses: &[f32]) -> std::io::Result<()> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let lo = losses
        .iter()
        .fold(f64::INFINITY, |m, &l| m.min(f64::from(l)));
    let hi = losses.iter().fold(0f64, |m, &l| m.max(f64::from(l)));
    let mut chart = ChartBuilder::on(&root)
        .caption("XOR: training loss", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..losses.len() as f64, (lo * 0.5..hi * 2.0).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("gradient-descent step")
        .y_desc("MSE loss (log scale)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(plot_err)?;
    let points = losses
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as f64, f64::from(l)));
    chart
        .draw_series(LineSeries::new(points, RED.stroke_width(2)))
        .map_err(plot_err)?
        .label("loss (2 → 8 → 1 sigmoid network, lr 1)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)
}

/// The colour of a network output `p` in [0, 1]: blue (0) to red (1).
fn shade(p: f64) -> RGBColor {
    let p = p.clamp(0.0, 1.0);
    RGBColor((255.0 * p) as u8, 90, (255.0 * (1.0 - p)) as u8)
}

/// The network's output over the unit square, the four XOR points, and
/// a colour scale.
pub fn boundary_svg(path: &std::path::Path, model: &Sequential<f32>) -> std::io::Result<()> {
    let n = 60;
    let grid: Vec<f32> = (0..n * n)
        .flat_map(|k| [(k % n) as f32 / n as f32, (k / n) as f32 / n as f32])
        .collect();
    let out = model.predict(&Tensor::from_vec(grid, &[n * n, 2]).expect("n²×2"));
    let root = SVGBackend::new(path, (640, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (plot, scale) = root.split_horizontally(540);
    let mut chart = ChartBuilder::on(&plot)
        .caption("XOR: what the trained network outputs", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("input x₁")
        .y_desc("input x₂")
        .draw()
        .map_err(plot_err)?;
    let step = 1.0 / n as f64;
    let cells = out.to_vec().into_iter().enumerate().map(|(k, p)| {
        let (x, y) = ((k % n) as f64 * step, (k / n) as f64 * step);
        Rectangle::new([(x, y), (x + step, y + step)], shade(f64::from(p)).filled())
    });
    chart.draw_series(cells).map_err(plot_err)?;
    for (target, colour) in [(0.0, BLACK), (1.0, WHITE)] {
        let points = [
            (0.0, 0.0, 0.0),
            (0.0, 1.0, 1.0),
            (1.0, 0.0, 1.0),
            (1.0, 1.0, 0.0),
        ];
        let at = points.into_iter().filter(move |p| p.2 == target);
        let circle = |(x, y, _): (f64, f64, f64)| {
            let (x, y) = (0.04 + 0.92 * x, 0.04 + 0.92 * y); // inside the frame
            Circle::new((x, y), 8, colour.filled())
        };
        chart
            .draw_series(at.map(circle))
            .map_err(plot_err)?
            .label(format!("XOR target {target}"))
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(RGBColor(200, 200, 200).mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    let mut bar = ChartBuilder::on(&scale)
        .margin_top(40)
        .margin_bottom(52)
        .margin_right(40)
        .y_label_area_size(36)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(plot_err)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc("output p")
        .draw()
        .map_err(plot_err)?;
    let levels = (0..100).map(|i| {
        let v = i as f64 / 100.0;
        Rectangle::new([(0.0, v), (1.0, v + 0.01)], shade(v + 0.005).filled())
    });
    bar.draw_series(levels).map_err(plot_err)?;
    root.present().map_err(plot_err)
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
    loss_svg(&dir.join("loss.svg"), &losses)?;
    boundary_svg(&dir.join("decision_boundary.svg"), &model)?;

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
