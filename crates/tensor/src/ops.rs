//! Operators `+ - * /` and unary `-` for owned and borrowed tensors and
//! scalars. An owned left operand lends its buffer to the result when no
//! other tensor shares it.

use crate::element::Element;
use crate::tensor::Tensor;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! binary_operator {
    ($Trait:ident, $method:ident, $name:literal, $op:tt) => {
        impl<T: Element> $Trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                self.zip_fused(rhs, $name, |a, b| a $op b)
            }
        }
        impl<T: Element> $Trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                self.zip_fused(&rhs, $name, |a, b| a $op b)
            }
        }
        impl<T: Element> $Trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                self.zip_fused_owned(rhs, $name, |a, b| a $op b)
            }
        }
        impl<T: Element> $Trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                self.zip_fused_owned(&rhs, $name, |a, b| a $op b)
            }
        }
        impl<T: Element> $Trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map_fused(move |a| a $op rhs)
            }
        }
        impl<T: Element> $Trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map_fused_owned(move |a| a $op rhs)
            }
        }
        scalar_lhs!($Trait, $method, $op, f32);
        scalar_lhs!($Trait, $method, $op, f64);
    };
}

macro_rules! scalar_lhs {
    ($Trait:ident, $method:ident, $op:tt, $t:ty) => {
        impl $Trait<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn $method(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.map_fused(move |b| self $op b)
            }
        }
        impl $Trait<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn $method(self, rhs: Tensor<$t>) -> Tensor<$t> {
                rhs.map_fused_owned(move |b| self $op b)
            }
        }
    };
}

binary_operator!(Add, add, "add", +);
binary_operator!(Sub, sub, "sub", -);
binary_operator!(Mul, mul, "mul", *);
binary_operator!(Div, div, "div", /);

impl<T: Element> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        self.map_fused(|a| -a)
    }
}

impl<T: Element> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        self.map_fused_owned(|a| -a)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn operator_forms_agree() {
        let a = Tensor::<f64>::from_vec(vec![1., 2.], &[2]).unwrap();
        let b = Tensor::<f64>::from_vec(vec![4., 8.], &[2]).unwrap();
        assert_eq!((&a + &b).to_vec(), vec![5., 10.]);
        assert_eq!((a.clone() - &b).to_vec(), vec![-3., -6.]);
        assert_eq!((&a * b.clone()).to_vec(), vec![4., 16.]);
        assert_eq!((b.clone() / a.clone()).to_vec(), vec![4., 4.]);
        assert_eq!((2.0 - &a).to_vec(), vec![1., 0.]);
        assert_eq!((&a / 2.0).to_vec(), vec![0.5, 1.]);
        assert_eq!((-&a).to_vec(), vec![-1., -2.]);
        // `a` is still intact after being used by value elsewhere
        assert_eq!(a.to_vec(), vec![1., 2.]);
    }
}
