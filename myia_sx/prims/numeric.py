"""Numbers: arithmetic, math, comparisons, logic and conversions (elementwise
on arrays, with broadcasting), and the reductions ``sum mean max min``."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..dtypes import dtype_of, promote, reduction, true_divide, unary_math
from ..errors import SxRuntimeError, SxTypeError
from ..values import I64_MAX, I64_MIN, type_name, values_equal, wrap_i64
from .table import (NUMERIC_DTYPES, apply_in, array_binop, cast, check_axis, int_zero_divisor,
                    is_int, num_or_array, prim, scalar)

# -- scalar and elementwise arithmetic --------------------------------------

def _arith(name, op, npop, doc):
    def impl(a, b):
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            r = op(a, b)
            return wrap_i64(r) if type(r) is int else r
        return array_binop(name, npop, a, b)
    impl.__doc__ = doc
    prim(name, 2)(impl)


_arith("+", lambda a, b: a + b, np.add, "Addition, elementwise with broadcasting.")
_arith("-", lambda a, b: a - b, np.subtract, "Subtraction (use neg to negate).")
_arith("*", lambda a, b: a * b, np.multiply, "Multiplication, elementwise.")


def _ieee(op, a, b):
    with np.errstate(all="ignore"):
        return float(op(np.float64(a), np.float64(b)))


@prim("/", 2)
def _div(a, b):
    """True division; integers give f64; an integer divided by zero is an error."""
    ta, tb = type(a), type(b)
    if (ta is float or ta is int) and (tb is float or tb is int):
        if b == 0:
            if ta is int and tb is int:
                raise SxRuntimeError("integer division by zero")
            return _ieee(np.true_divide, a, b)
        return a / b
    if int_zero_divisor(a, b):
        raise SxRuntimeError("integer division by zero")
    return array_binop("/", np.true_divide, a, b, true_divide)


def _floor_like(name, pyop, npop, doc):
    def impl(a, b):
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            if b == 0:
                if ta is int and tb is int:
                    raise SxRuntimeError(f"integer division by zero in {name}")
                return _ieee(npop, a, b)
            r = pyop(a, b)
            return wrap_i64(r) if type(r) is int else r
        if int_zero_divisor(a, b):
            raise SxRuntimeError(f"integer division by zero in {name}")
        return array_binop(name, npop, a, b)
    impl.__doc__ = doc
    prim(name, 2)(impl)


_floor_like("//", lambda a, b: a // b, np.floor_divide, "Floor division.")
_floor_like("%", lambda a, b: a % b, np.mod, "Remainder with the sign of the divisor.")


@prim("**", 2)
def _pow(a, b):
    """Power; an integer to a negative integer power is an error."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if b < 0:
            raise SxRuntimeError("integer to a negative integer power")
        return wrap_i64(pow(a, b, 1 << 64))
    if (ta is float or ta is int) and (tb is float or tb is int):
        try:
            return math.pow(a, b)
        except (ValueError, OverflowError):
            return _ieee(np.power, a, b)
    if is_int(a) and is_int(b) and (np.asarray(b) < 0).any():
        raise SxRuntimeError("integer to a negative integer power")
    return array_binop("**", np.power, a, b)


_ONE_ARG = object()  # (max x) reduces; (max a b) compares, even if b is None


def _minmax(name, pick, npop, npreduce):
    def impl(a, b=_ONE_ARG, axis=None, keepdims=False):
        if b is _ONE_ARG:
            return _reduce(name, npreduce, a, axis, keepdims)
        if axis is not None or keepdims is not False:
            raise SxTypeError(f"{name} of two values takes no :axis or :keepdims")
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            if a != a or b != b:
                return math.nan
            r = a if pick(a, b) else b
            return float(r) if (ta is float or tb is float) else r
        return array_binop(name, npop, a, b)
    impl.__doc__ = (f"(({name} a b)) elementwise {name}imum; (({name} x :axis k)) "
                    "reduction over an array").replace("((", "`(").replace("))", ")`")
    prim(name, 1, 2, {"axis": None, "keepdims": False})(impl)



def _reduce(name, fn, x, axis, keepdims):
    if type(x) is not np.ndarray or x.dtype not in NUMERIC_DTYPES:
        raise SxTypeError(f"{name} with one argument reduces an array, got {type_name(x)}")
    if axis is not None:
        check_axis(axis, x.ndim, name)
    if type(keepdims) is not bool:
        raise SxTypeError(f":keepdims of {name} must be True or False, "
                          f"got {type_name(keepdims)}")
    if x.size == 0 and name in ("max", "min"):
        raise SxRuntimeError(f"{name} of an empty array")
    x = cast(x, reduction(name, dtype_of(x)))  # the result dtype: f64 for the mean of i64
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an empty array is NaN
        return scalar(fn(x, axis=axis, keepdims=keepdims))


@prim("argmax", 1, 1, {"axis": None})
def _argmax(x, axis=None):
    """The index (i64) of the largest element of an array, the first if tied;
    with :axis k, the indices along axis k."""
    if type(x) is not np.ndarray or x.dtype not in NUMERIC_DTYPES:
        raise SxTypeError(f"argmax expects an array of numbers, got {type_name(x)}")
    if axis is not None:
        if type(axis) is not int:
            raise SxTypeError(f":axis of argmax must be an integer, got {type_name(axis)}")
        check_axis(axis, x.ndim, "argmax")
    if x.size == 0:
        raise SxRuntimeError("argmax of an empty array")
    return scalar(np.asarray(np.argmax(x, axis=axis)).astype(np.int64))


_minmax("max", lambda a, b: a >= b, np.maximum, np.max)
_minmax("min", lambda a, b: a <= b, np.minimum, np.min)


@prim("sum", 1, 1, {"axis": None, "keepdims": False})
def _sum(x, axis=None, keepdims=False):
    """Sum of an array's elements (over :axis if given)."""
    return _reduce("sum", np.sum, x, axis, keepdims)


@prim("mean", 1, 1, {"axis": None, "keepdims": False})
def _mean(x, axis=None, keepdims=False):
    """Mean of an array's elements (over :axis if given)."""
    return _reduce("mean", np.mean, x, axis, keepdims)


# -- unary math ----------------------------------------------------------------

def _unary(name, mathfn, npfn, doc):
    def impl(x):
        t = type(x)
        if t is float or t is int:
            try:
                return mathfn(x)
            except (ValueError, OverflowError):
                with np.errstate(all="ignore"):
                    return float(npfn(np.float64(x)))
        num_or_array(name, x, 1)
        with np.errstate(all="ignore"):
            return scalar(npfn(cast(x, unary_math(dtype_of(x)))))
    impl.__doc__ = doc
    prim(name, 1)(impl)


for _n, _m, _f in [("exp", math.exp, np.exp), ("log", math.log, np.log),
                   ("sin", math.sin, np.sin), ("cos", math.cos, np.cos),
                   ("tan", math.tan, np.tan), ("tanh", math.tanh, np.tanh),
                   ("sqrt", math.sqrt, np.sqrt)]:
    _unary(_n, _m, _f, f"{_n}, elementwise on arrays; integers promote to f64.")


@prim("neg", 1)
def _neg(x):
    """Negation."""
    t = type(x)
    if t is int:
        return wrap_i64(-x)
    if t is float:
        return -x
    num_or_array("neg", x, 1)
    return scalar(np.negative(x))


@prim("abs", 1)
def _abs(x):
    """Absolute value."""
    t = type(x)
    if t is int:
        return wrap_i64(abs(x))
    if t is float:
        return abs(x)
    num_or_array("abs", x, 1)
    return scalar(np.abs(x))


def check_i64(name, v):
    """Python int ``v``, or an :class:`SxTypeError` if it does not fit in i64
    (code can hold such an integer when a Python or Hy macro made it)."""
    if not I64_MIN <= v <= I64_MAX:
        raise SxTypeError(f"{name}: an integer of {v.bit_length()} bits does not fit in i64")
    return v


@prim("float", 1)
def _float(x):
    """Convert to f64 (numbers, bools, and arrays of them)."""
    t = type(x)
    if t is int:
        return float(check_i64("float", x))
    if t is float or t is np.float32 or t is bool:
        return float(x)
    if t is np.ndarray and x.dtype == np.bool_:
        return x.astype(np.float64)
    num_or_array("float", x, 1)
    return x.astype(np.float64)


@prim("int", 1)
def _int(x):
    """Convert to i64, truncating toward zero."""
    t = type(x)
    if t is int:
        return x
    if t is float or t is np.float32:
        if not math.isfinite(x):
            raise SxRuntimeError(f"cannot convert {x} to an integer")
        return wrap_i64(int(x))
    num_or_array("int", x, 1)
    return x.astype(np.int64)


@prim("f32", 1)
def _f32(x):
    """Convert to f32 (scalars and arrays)."""
    t = type(x)
    with np.errstate(all="ignore"):  # out of f32 range is +-Inf, as IEEE says
        if t is int:
            return np.float32(check_i64("f32", x))
        if t is float or t is np.float32:
            return np.float32(x)
        num_or_array("f32", x, 1)
        return x.astype(np.float32)


# -- comparisons and logic ------------------------------------------------------

def _compare(name, op, npop):
    def impl(a, b):
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            return op(a, b)
        if ta is np.ndarray or tb is np.ndarray or ta is np.float32 or tb is np.float32:
            return array_binop(name, npop, a, b)
        raise SxTypeError(f"{name} compares numbers or arrays, got {type_name(a)} "
                          f"and {type_name(b)}")
    impl.__doc__ = f"Comparison {name}; elementwise on arrays (giving a bool array)."
    prim(name, 2)(impl)


_compare("<", lambda a, b: a < b, np.less)
_compare("<=", lambda a, b: a <= b, np.less_equal)
_compare(">", lambda a, b: a > b, np.greater)
_compare(">=", lambda a, b: a >= b, np.greater_equal)


_NUMBERS = (int, float, np.float32)


@prim("=", 2)
def _eq(a, b):
    """Equality: elementwise on arrays, structural on everything else."""
    ta, tb = type(a), type(b)
    if (ta is float or ta is int) and (tb is float or tb is int):
        return a == b
    if ta is np.ndarray or tb is np.ndarray:
        if not (isinstance(a, (np.ndarray, int, float, np.float32, bool)) and
                isinstance(b, (np.ndarray, int, float, np.float32, bool))):
            raise SxTypeError(f"= cannot compare {type_name(a)} with {type_name(b)}")
    elif not (ta in _NUMBERS and tb in _NUMBERS):  # else an f32 with a number
        return values_equal(a, b)
    return apply_in(promote(dtype_of(a), dtype_of(b)), "=", np.equal, a, b)


@prim("!=", 2)
def _ne(a, b):
    """Inequality: the negation of =."""
    r = _eq(a, b)
    return np.logical_not(r) if type(r) is np.ndarray else not r


@prim("not", 1)
def _not(x):
    """Logical negation of a bool (or a bool array)."""
    if type(x) is bool:
        return not x
    if type(x) is np.ndarray and x.dtype == np.bool_:
        return scalar(np.logical_not(x))   # rank 0: a bool, as the other elementwise ops
    raise SxTypeError(f"not expects a bool, got {type_name(x)}")


