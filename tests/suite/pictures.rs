//! The pictures example: both plots have labelled axes, ticks and a
//! legend, and the decision boundary a colour scale; the tape picture
//! names parameters.

#[path = "../../examples/pictures.rs"]
mod example;

fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            Some(
                t.split_once('>')?
                    .1
                    .split_once("</text>")?
                    .0
                    .trim()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn plots_have_axes_legends_and_a_colour_scale() {
    use mnemon::prelude::*;
    use rand::SeedableRng;
    let dir = std::env::temp_dir().join(format!("mnemon-pictures-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let losses: Vec<f32> = (1..=100).map(|i| 1.0 / i as f32).collect();
    example::loss_svg(&dir.join("loss.svg"), &losses).unwrap();
    let t = texts(&std::fs::read_to_string(dir.join("loss.svg")).unwrap());
    for want in [
        "gradient-descent step",
        "MSE loss (log scale)",
        "1e-2",
        "1e-1",
        "50",
    ] {
        assert!(t.iter().any(|s| s == want), "{want} missing from {t:?}");
    }
    assert!(
        t.iter().any(|s| s.starts_with("loss (")),
        "legend missing: {t:?}"
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let model = Sequential::new()
        .push(Linear::new(2, 1, &mut rng))
        .push(Sigmoid);
    example::boundary_svg(&dir.join("b.svg"), &model).unwrap();
    let t = texts(&std::fs::read_to_string(dir.join("b.svg")).unwrap());
    for want in [
        "input x₁",
        "input x₂",
        "output p",
        "XOR target 0",
        "XOR target 1",
        "0.5",
    ] {
        assert!(t.iter().any(|s| s == want), "{want} missing from {t:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
