//! In-place updates for optimizers: SGD's parameter from its gradient,
//! and Adam's parameter, first and second moments in one pass over memory
//! instead of four (each pass a trip through the cache for the whole
//! model's state).

use crate::element::Element;
use crate::tensor::Tensor;
use rayon::prelude::*;

impl<T: Element> Tensor<T> {
    /// Writes `a = f(a, x)` elementwise into `self` (`a`), in its own
    /// buffer when it owns it alone (else in a fresh one, leaving whatever
    /// shared the old buffer untouched); `x` is read only. Plain SGD's
    /// update: the same values as `a.zip_with(x, ..)`, without moving the
    /// tensor out and back.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let mut w = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let shared = w.clone();
    /// let g = Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap();
    /// w.update_in_place(&g, |w, g| w - 0.5 * g);
    /// assert_eq!(w.to_vec(), vec![0.75, 2.5]);
    /// assert_eq!(shared.to_vec(), vec![1.0, 2.0]); // its buffer untouched
    /// ```
    ///
    /// # Panics
    /// When the shapes differ, naming both and the caller's line.
    #[track_caller]
    pub fn update_in_place<F>(&mut self, x: &Self, f: F)
    where
        F: Fn(T, T) -> T + Sync + Send,
    {
        assert!(
            crate::layout::same_shape(self.shape(), x.shape()),
            "update_in_place: shapes {:?} and {:?} differ, called at {}",
            self.shape(),
            x.shape(),
            std::panic::Location::caller()
        );
        if !self.is_unique_dense() {
            *self = Tensor::from_parts(self.to_vec(), self.shape());
        }
        let dense;
        let xs = match x.as_slice() {
            Some(xs) => xs,
            None => {
                dense = x.contiguous();
                dense.as_slice().expect("contiguous")
            }
        };
        let a = unique_slice(self);
        // equal shapes, both dense: a zip that stopped early would leave
        // elements un-updated
        assert_eq!(a.len(), xs.len(), "update_in_place: buffer lengths");
        let run = |a: &mut [T], x: &[T]| {
            super::wide::wide(
                #[inline(always)]
                || {
                    for (a, &x) in a.iter_mut().zip(x) {
                        *a = f(*a, x);
                    }
                },
            )
        };
        if super::parallel(xs.len()) {
            a.par_chunks_mut(super::PAR_CHUNK)
                .zip(xs.par_chunks(super::PAR_CHUNK))
                .for_each(|(a, x)| run(a, x));
        } else {
            run(a, xs);
        }
    }

    /// Writes `(a, b, c) = f(a, b, c, x)` elementwise into `self` (`a`),
    /// `b` and `c`, in one pass; `x` is read only. Each of the three is
    /// updated in its own buffer when it owns it alone (else it gets a
    /// fresh one first, leaving whatever shared its old buffer untouched).
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let mut p = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let (mut m, mut v) = (Tensor::zeros(&[2]), Tensor::zeros(&[2]));
    /// let g = Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap();
    /// p.update3_in_place(&mut m, &mut v, &g, |p, m, v, g| (p - g, m + g, v + g * g));
    /// assert_eq!(p.to_vec(), vec![0.5, 3.0]);
    /// assert_eq!(v.to_vec(), vec![0.25, 1.0]);
    /// ```
    ///
    /// # Panics
    /// When the four shapes are not the same, naming them and the
    /// caller's line.
    #[track_caller]
    pub fn update3_in_place<F>(&mut self, b: &mut Self, c: &mut Self, x: &Self, f: F)
    where
        F: Fn(T, T, T, T) -> (T, T, T) + Sync + Send,
    {
        assert!(
            self.shape() == b.shape() && self.shape() == c.shape() && self.shape() == x.shape(),
            "update3_in_place: shapes {:?}, {:?}, {:?} and {:?} differ, called at {}",
            self.shape(),
            b.shape(),
            c.shape(),
            x.shape(),
            std::panic::Location::caller()
        );
        for t in [&mut *self, &mut *b, &mut *c] {
            if !t.is_unique_dense() {
                *t = Tensor::from_parts(t.to_vec(), t.shape());
            }
        }
        let x = x.contiguous();
        let xs = x.as_slice().expect("contiguous");
        let (sa, sb, sc) = (unique_slice(self), unique_slice(b), unique_slice(c));
        let run = |a: &mut [T], b: &mut [T], c: &mut [T], x: &[T]| {
            super::wide::wide(
                #[inline(always)]
                || {
                    for (((a, b), c), &x) in a.iter_mut().zip(b).zip(c).zip(x) {
                        (*a, *b, *c) = f(*a, *b, *c, x);
                    }
                },
            )
        };
        if super::parallel(xs.len()) {
            sa.par_chunks_mut(super::PAR_CHUNK)
                .zip(sb.par_chunks_mut(super::PAR_CHUNK))
                .zip(sc.par_chunks_mut(super::PAR_CHUNK))
                .zip(xs.par_chunks(super::PAR_CHUNK))
                .for_each(|(((a, b), c), x)| run(a, b, c, x));
        } else {
            run(sa, sb, sc, xs);
        }
    }
}

/// The elements of a tensor made unique and dense above: its whole
/// buffer, which `is_unique_dense` (or the fresh copy) showed holds exactly
/// its elements from offset 0.
fn unique_slice<T: Element>(t: &mut Tensor<T>) -> &mut [T] {
    std::sync::Arc::get_mut(&mut t.data).expect("made unique above")
}
