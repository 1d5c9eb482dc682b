//! An SVG picture of the tape, laid out here (no Graphviz needed): one
//! column per depth from the leaves, one box per node, arrows along the
//! data flow.

use crate::tape::Tape;
use mnemon_tensor::Element;
use std::fmt::Write;

const W: usize = 190;
const H: usize = 62;
const GAP_X: usize = 50;
const GAP_Y: usize = 18;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl<T: Element> Tape<T> {
    /// The tape as a standalone SVG document: the same content as
    /// [`Tape::to_dot`] (op, shape, source line, `|grad|` once recorded),
    /// laid out left to right by depth, leaves shaded.
    ///
    /// ```
    /// use mnemon_autograd::Tape;
    /// use mnemon_tensor::Tensor;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.leaf(Tensor::scalar(1.0));
    /// let _y = x.exp();
    /// let svg = tape.to_svg();
    /// assert!(svg.starts_with("<svg") && svg.contains("exp") && svg.contains("<line"));
    /// ```
    pub fn to_svg(&self) -> String {
        let nodes = self.nodes.borrow();
        let norms = self.grad_norms.borrow();
        let n = nodes.len();
        let mut depth = vec![0usize; n];
        for id in 0..n {
            depth[id] = nodes[id]
                .saved
                .inputs
                .iter()
                .flatten()
                .map(|i| depth[i] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut row = vec![0usize; n];
        let mut per_col: Vec<usize> = Vec::new();
        for id in 0..n {
            if per_col.len() <= depth[id] {
                per_col.resize(depth[id] + 1, 0);
            }
            row[id] = per_col[depth[id]];
            per_col[depth[id]] += 1;
        }
        let pos = |id: usize| (10 + depth[id] * (W + GAP_X), 10 + row[id] * (H + GAP_Y));
        let width = 20 + per_col.len() * (W + GAP_X);
        let height = 20 + per_col.iter().max().copied().unwrap_or(0) * (H + GAP_Y);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">\n\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">\
             <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        for id in 0..n {
            let (x, y) = pos(id);
            for i in nodes[id].saved.inputs.iter().flatten() {
                let (ix, iy) = pos(i);
                let _ = writeln!(
                    s,
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>",
                    ix + W,
                    iy + H / 2,
                    y + H / 2
                );
            }
        }
        for id in 0..n {
            let node = &nodes[id];
            let (x, y) = pos(id);
            let fill = if node.rule.is_none() {
                "#dde8ff"
            } else {
                "#f4f4f4"
            };
            let _ = writeln!(s, "<rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\" fill=\"{fill}\" stroke=\"#333\"/>");
            let consts = node.saved.inputs.iter().filter(|i| i.is_none()).count();
            let mut lines = vec![
                format!("#{id} {}", self.display_name(id, node)),
                format!(
                    "{:?}{}",
                    &self.shapes.borrow()[id][..],
                    if consts > 0 {
                        format!(" (+{consts} const)")
                    } else {
                        String::new()
                    }
                ),
                format!(
                    "{}:{}",
                    node.location.file().rsplit('/').next().unwrap_or(""),
                    node.location.line()
                ),
            ];
            if let Some(Some(g)) = norms.get(id) {
                lines.push(format!("|grad| = {g:.4}"));
            }
            for (k, line) in lines.iter().enumerate() {
                let weight = if k == 0 { " font-weight=\"bold\"" } else { "" };
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{}\"{weight}>{}</text>",
                    x + 8,
                    y + 15 + 13 * k,
                    escape(line)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}
