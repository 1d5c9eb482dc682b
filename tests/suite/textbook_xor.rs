//! The facts the textbook walkthrough prints, asserted.

#[path = "../../examples/textbook_xor.rs"]
mod walkthrough;

#[test]
fn shape_error_names_both_shapes_and_the_line() {
    let msg = walkthrough::step1_shape_error();
    assert!(msg.contains("[2, 1]") && msg.contains("[2]"), "{msg}");
    assert!(msg.contains("textbook_xor.rs:"), "{msg}");
}

#[test]
fn hand_gradient_is_wrong_and_the_tape_is_right() {
    let (hand, tape, fd) = walkthrough::step2_gradients();
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() < tol;
    assert!(
        close(hand.0[0], 0.638, 1e-3)
            && close(hand.0[1], 0.730, 1e-3)
            && close(hand.1, 0.289, 1e-3),
        "{hand:?}"
    );
    let truth = ([0.021_340_61, 0.034_188_74], 0.085_019_57);
    for i in 0..2 {
        assert!(close(tape.0[i], truth.0[i], 1e-6), "{tape:?}");
        assert!(close(fd.0[i], truth.0[i], 1e-6), "{fd:?}");
        assert!(!close(hand.0[i], tape.0[i], 0.1));
    }
    assert!(close(tape.1, truth.1, 1e-6) && close(fd.1, truth.1, 1e-6));
    assert!(walkthrough::step2_gradcheck().is_ok());
}

#[test]
fn hand_formula_is_the_gradient_of_summed_bce() {
    let (hand, bce) = walkthrough::hand_formula_is_summed_bce();
    for (h, b) in hand.iter().zip(&bce) {
        assert!((h - b).abs() < 1e-12, "{hand:?} vs {bce:?}");
    }
    assert!((hand[0] - 0.638).abs() < 1e-3, "{hand:?}");
}

#[test]
fn single_unit_stalls_and_hidden_layer_learns() {
    let (l3, p3) = walkthrough::step3_single_unit();
    assert!(l3 > 0.2, "single unit loss {l3}");
    assert!(p3.iter().all(|p| (p - 0.5).abs() < 0.25), "{p3:?}");
    let (l4, _) = walkthrough::step4_hidden_layer();
    assert!(l4 < 0.01, "hidden layer loss {l4}");
}
