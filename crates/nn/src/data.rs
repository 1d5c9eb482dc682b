//! Mini-batches over tensors with seeded shuffling.

use mnemon_tensor::{Element, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

/// Yields `(inputs, targets)` batches of rows (axis 0) of two tensors.
///
/// ```
/// use mnemon_nn::Batches;
/// use mnemon_tensor::Tensor;
/// let x = Tensor::<f32>::arange(0.0, 10.0, 1.0).reshape(&[5, 2]).unwrap();
/// let y = Tensor::<f32>::arange(0.0, 5.0, 1.0);
/// let sizes: Vec<usize> = Batches::new(&x, &y, 2).map(|(bx, _)| bx.shape()[0]).collect();
/// assert_eq!(sizes, vec![2, 2, 1]);
/// ```
pub struct Batches<T: Element> {
    x: Tensor<T>,
    y: Tensor<T>,
    order: Order,
}

/// The row order of an epoch and how far batching has got through it.
struct Order {
    rows: Vec<usize>,
    size: usize,
    at: usize,
}

impl Order {
    fn new(rows: usize, size: usize) -> Self {
        Order {
            rows: (0..rows).collect(),
            size,
            at: 0,
        }
    }

    /// The next batch's row indices.
    fn next_batch(&mut self) -> Option<&[usize]> {
        if self.at >= self.rows.len() {
            return None;
        }
        let start = self.at;
        self.at = (start + self.size).min(self.rows.len());
        Some(&self.rows[start..self.at])
    }
}

impl<T: Element> Batches<T> {
    /// Batches of `size` rows in order.
    ///
    /// # Panics
    /// When `x` and `y` have different numbers of rows, or `size` is 0.
    #[track_caller]
    pub fn new(x: &Tensor<T>, y: &Tensor<T>, size: usize) -> Self {
        let rows = x.shape().first().copied().unwrap_or(1);
        assert!(
            y.shape().first().copied().unwrap_or(1) == rows && size > 0,
            "Batches: inputs {:?} and targets {:?} differ in rows (or batch size is 0), called at {}",
            x.shape(),
            y.shape(),
            std::panic::Location::caller()
        );
        Batches {
            x: x.clone(),
            y: y.clone(),
            order: Order::new(rows, size),
        }
    }

    /// The rows shuffled by `rng` (reproducible from its seed).
    pub fn shuffled<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        self.order.rows.shuffle(rng);
        self
    }
}

impl<T: Element> Iterator for Batches<T> {
    type Item = (Tensor<T>, Tensor<T>);

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.order.next_batch()?;
        let bx = self.x.index_select(0, idx).expect("row indices in range");
        let by = self.y.index_select(0, idx).expect("row indices in range");
        Some((bx, by))
    }
}

/// Yields `(inputs, class labels)` batches: rows of a tensor with their
/// `usize` labels, ready for [`cross_entropy`](crate::cross_entropy)
/// without a conversion.
///
/// ```
/// use mnemon_autograd::Tape;
/// use mnemon_nn::{cross_entropy, LabelBatches, Linear, Module, Reduction};
/// use mnemon_tensor::Tensor;
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let x = Tensor::<f32>::arange(0.0, 10.0, 1.0).reshape(&[5, 2]).unwrap();
/// let labels = [0, 1, 2, 1, 0];
/// let model = Linear::new(2, 3, &mut rng);
/// for (bx, by) in LabelBatches::new(&x, &labels, 2).shuffled(&mut rng) {
///     let tape = Tape::new();
///     let loss = cross_entropy(&model.forward(&tape.constant(bx)), &by, Reduction::Mean).unwrap();
///     assert!(loss.item().is_finite());
/// }
/// ```
pub struct LabelBatches<T: Element> {
    x: Tensor<T>,
    labels: Vec<usize>,
    order: Order,
}

impl<T: Element> LabelBatches<T> {
    /// Batches of `size` rows in order.
    ///
    /// # Panics
    /// When `x` has not one row per label, or `size` is 0.
    #[track_caller]
    pub fn new(x: &Tensor<T>, labels: &[usize], size: usize) -> Self {
        let rows = x.shape().first().copied().unwrap_or(1);
        assert!(
            labels.len() == rows && size > 0,
            "LabelBatches: inputs {:?} have {rows} rows for {} labels (or batch size is 0), called at {}",
            x.shape(),
            labels.len(),
            std::panic::Location::caller()
        );
        LabelBatches {
            x: x.clone(),
            labels: labels.to_vec(),
            order: Order::new(rows, size),
        }
    }

    /// The rows shuffled by `rng` (reproducible from its seed).
    pub fn shuffled<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        self.order.rows.shuffle(rng);
        self
    }
}

impl<T: Element> Iterator for LabelBatches<T> {
    type Item = (Tensor<T>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.order.next_batch()?;
        let bx = self.x.index_select(0, idx).expect("row indices in range");
        Some((bx, idx.iter().map(|&i| self.labels[i]).collect()))
    }
}
