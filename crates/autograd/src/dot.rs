//! Graphviz export of the tape, for teaching: op names, shapes, the user's
//! source lines and, after a backward pass with norms kept, gradient norms.

use crate::tape::Tape;
use mnemon_tensor::Element;
use std::fmt::Write;

impl<T: Element> Tape<T> {
    /// The tape as Graphviz DOT text: one box per node (id, op, shape,
    /// source line, and `|grad|` when recorded by a backward pass with
    /// [`Tape::set_keep_grad_norms`] or explain mode on), one ellipse per
    /// constant input, and arrows in the direction data flowed.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.leaf(Tensor::scalar(1.0));
    /// let y = x.sigmoid();
    /// let dot = tape.to_dot();
    /// assert!(dot.starts_with("digraph tape {") && dot.contains("sigmoid") && dot.contains("n0 -> n1"));
    /// ```
    pub fn to_dot(&self) -> String {
        let nodes = self.nodes.borrow();
        let shapes = self.shapes.borrow();
        let norms = self.grad_norms.borrow();
        let mut s = String::from("digraph tape {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
        for (id, n) in nodes.iter().enumerate() {
            let mut label = format!(
                "#{id} {}\\n{:?}\\n{}:{}",
                self.display_name(id, n),
                &shapes[id][..],
                n.location.file(),
                n.location.line()
            );
            if let Some(Some(g)) = norms.get(id) {
                let _ = write!(label, "\\n|grad| = {g:.4}");
            }
            let style = if n.rule.is_none() {
                ", style=filled, fillcolor=\"#dde8ff\""
            } else {
                ""
            };
            let _ = writeln!(s, "  n{id} [label=\"{label}\"{style}];");
            for (k, input) in n.saved.inputs.iter().enumerate() {
                match input {
                    Some(i) => {
                        let _ = writeln!(s, "  n{i} -> n{id};");
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            "  c{id}_{k} [label=\"const\\n{:?}\", shape=ellipse, style=dashed];\n  c{id}_{k} -> n{id};",
                            self.kept_input(&n.saved, k)
                                .map(|v| v.shape().to_vec())
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        s.push_str("}\n");
        s
    }
}
