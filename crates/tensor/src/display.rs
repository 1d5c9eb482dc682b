//! `Display` like NumPy (nested rows, `...` eliding the middle of large
//! tensors) and a compact `Debug`.

use crate::element::Element;
use crate::tensor::Tensor;
use std::fmt;

/// Tensors with more elements than this print with their middles elided.
const ELIDE_ABOVE: usize = 1000;
/// How many leading and trailing entries an elided axis shows.
const EDGE: usize = 3;

struct Printer<'a, T> {
    data: &'a [T],
    shape: &'a [usize],
    cells: Vec<String>,
    elide: bool,
    width: usize,
}

impl<T: Element> Printer<'_, T> {
    /// Indices along an axis of size `n` that are shown (`None` marks `...`).
    fn shown(&self, n: usize) -> Vec<Option<usize>> {
        if self.elide && n > 2 * EDGE {
            (0..EDGE)
                .map(Some)
                .chain([None])
                .chain((n - EDGE..n).map(Some))
                .collect()
        } else {
            (0..n).map(Some).collect()
        }
    }

    fn write(&self, out: &mut String, axis: usize, base: usize, indent: usize) {
        if axis == self.shape.len() {
            out.push_str(&format!("{:>w$}", self.cells[base], w = self.width));
            return;
        }
        let stride: usize = self.shape[axis + 1..].iter().product();
        out.push('[');
        let shown = self.shown(self.shape[axis]);
        let last_axis = axis + 1 == self.shape.len();
        for (i, ix) in shown.iter().enumerate() {
            if i > 0 {
                if last_axis {
                    out.push_str(", ");
                } else {
                    out.push(',');
                    out.push_str(&"\n".repeat(self.shape.len() - axis - 1));
                    out.push_str(&" ".repeat(indent + 1));
                }
            }
            match ix {
                Some(ix) => self.write(out, axis + 1, base + ix * stride, indent + 1),
                None => out.push_str("..."),
            }
        }
        out.push(']');
    }
}

impl<T: Element> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.to_vec();
        let prec = f.precision().unwrap_or(4);
        let cells: Vec<String> = data.iter().map(|v| format!("{v:.prec$}")).collect();
        let width = cells.iter().map(String::len).max().unwrap_or(0);
        let p = Printer {
            data: &data,
            shape: self.shape(),
            cells,
            elide: data.len() > ELIDE_ABOVE,
            width,
        };
        let mut s = String::from("tensor(");
        debug_assert_eq!(p.data.len(), self.numel());
        p.write(&mut s, 0, 0, "tensor(".len());
        write!(f, "{s}, shape={:?}, dtype={})", self.shape(), T::DTYPE)
    }
}

impl<T: Element> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor {{ shape: {:?}, strides: {:?}, offset: {}, dtype: {}, values: {} }}",
            self.shape(),
            self.strides(),
            self.layout.offset,
            T::DTYPE,
            self
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_numpy() {
        let t = Tensor::<f32>::from_vec(vec![1., 2., 3., 40.], &[2, 2]).unwrap();
        assert_eq!(
            format!("{t:.1}"),
            "tensor([[ 1.0,  2.0],\n        [ 3.0, 40.0]], shape=[2, 2], dtype=f32)"
        );
        assert_eq!(
            format!("{}", Tensor::<f64>::scalar(0.5)),
            "tensor(0.5000, shape=[], dtype=f64)"
        );
        let big = Tensor::<f32>::zeros(&[2000]);
        let s = format!("{big:.0}");
        assert!(s.starts_with("tensor([0, 0, 0, ..., 0, 0, 0]"), "{s}");
    }
}
