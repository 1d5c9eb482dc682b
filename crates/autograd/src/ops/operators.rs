//! Operators on Vars: `+ - * /` between Vars, with tensors (taken as
//! constants) and with scalars on either side, and unary `-`.

use crate::var::Var;
use mnemon_tensor::{Element, Tensor};
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! var_operator {
    ($Trait:ident, $method:ident) => {
        impl<'t, T: Element> $Trait<&Var<'t, T>> for &Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: &Var<'t, T>) -> Var<'t, T> {
                Var::$method(self, rhs)
            }
        }
        impl<'t, T: Element> $Trait<Var<'t, T>> for &Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: Var<'t, T>) -> Var<'t, T> {
                Var::$method(self, &rhs)
            }
        }
        impl<'t, T: Element> $Trait<&Var<'t, T>> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: &Var<'t, T>) -> Var<'t, T> {
                Var::$method(&self, rhs)
            }
        }
        impl<'t, T: Element> $Trait<Var<'t, T>> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: Var<'t, T>) -> Var<'t, T> {
                Var::$method(&self, &rhs)
            }
        }
        impl<'t, T: Element> $Trait<&Tensor<T>> for &Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Var<'t, T> {
                Var::$method(self, &self.lift(rhs.clone()))
            }
        }
        impl<'t, T: Element> $Trait<&Tensor<T>> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Var<'t, T> {
                Var::$method(&self, &self.lift(rhs.clone()))
            }
        }
        impl<'t, T: Element> $Trait<&Var<'t, T>> for &Tensor<T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: &Var<'t, T>) -> Var<'t, T> {
                Var::$method(&rhs.lift(self.clone()), rhs)
            }
        }
    };
}

var_operator!(Add, add);
var_operator!(Sub, sub);
var_operator!(Mul, mul);
var_operator!(Div, div);

macro_rules! scalar_operator {
    ($Trait:ident, $method:ident, |$v:ident, $c:ident| $body:expr, $owned:expr) => {
        impl<'t, T: Element> $Trait<T> for &Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, $c: T) -> Var<'t, T> {
                let $v = self;
                $body
            }
        }
        /// On an owned Var (a temporary such as `x * 2.0` in
        /// `x * 2.0 + 1.0`) the result is written into its buffer when no
        /// one else holds it.
        impl<'t, T: Element> $Trait<T> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, $c: T) -> Var<'t, T> {
                let $v = self;
                $owned
            }
        }
    };
}

scalar_operator!(Add, add, |v, c| v.add_scalar(c), v.add_scalar_owned(c));
scalar_operator!(Sub, sub, |v, c| v.add_scalar(-c), v.add_scalar_owned(-c));
scalar_operator!(Mul, mul, |v, c| v.mul_scalar(c), v.mul_scalar_owned(c));
scalar_operator!(
    Div,
    div,
    |v, c| v.mul_scalar(T::one() / c),
    v.mul_scalar_owned(T::one() / c)
);

macro_rules! scalar_lhs {
    ($t:ty) => {
        impl<'t> Add<&Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn add(self, v: &Var<'t, $t>) -> Var<'t, $t> {
                v.add_scalar(self)
            }
        }
        impl<'t> Sub<&Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn sub(self, v: &Var<'t, $t>) -> Var<'t, $t> {
                v.neg().add_scalar_owned(self)
            }
        }
        impl<'t> Mul<&Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn mul(self, v: &Var<'t, $t>) -> Var<'t, $t> {
                v.mul_scalar(self)
            }
        }
        impl<'t> Div<&Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn div(self, v: &Var<'t, $t>) -> Var<'t, $t> {
                v.recip().mul_scalar_owned(self)
            }
        }
        impl<'t> Add<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn add(self, v: Var<'t, $t>) -> Var<'t, $t> {
                v.add_scalar_owned(self)
            }
        }
        impl<'t> Sub<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn sub(self, v: Var<'t, $t>) -> Var<'t, $t> {
                v.neg().add_scalar_owned(self)
            }
        }
        impl<'t> Mul<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn mul(self, v: Var<'t, $t>) -> Var<'t, $t> {
                v.mul_scalar_owned(self)
            }
        }
    };
}

scalar_lhs!(f32);
scalar_lhs!(f64);

impl<'t, T: Element> Neg for &Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    fn neg(self) -> Var<'t, T> {
        Var::neg(self)
    }
}

impl<'t, T: Element> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    fn neg(self) -> Var<'t, T> {
        Var::neg(&self)
    }
}
