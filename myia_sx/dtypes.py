"""The numeric dtypes of the language and the rules that give the dtype of a
result, written out as data so that no result depends on the installed
numpy's own promotion (numpy 1.x and 2.x disagree about Python scalars).

There are four dtypes, ordered ``bool < i64 < f32 < f64``.  A value's dtype
comes with a *weakness*: Python scalars (``bool``, ``int`` as i64, ``float``
as f64) are weak, arrays and ``numpy.float32`` scalars are strong.  This is
the rule numpy 2 follows (NEP 50).

* Two strong dtypes give the larger one, except that ``i64`` with ``f32``
  gives ``f64`` (an f32 cannot hold every i64): table :data:`STRONG`.
* A weak Python scalar with a strong dtype keeps the strong dtype if it is of
  the same kind or wider: a Python int with an f32 array stays f32, and so
  does a Python float; a Python float with an i64 or bool array gives f64; a
  Python int with a bool array gives i64; a Python bool never changes the
  other dtype: table :data:`WEAK`.
* Two weak scalars follow Python (int with int is i64, int with float is
  f64, a bool counts as an int) and the result is weak: it is a Python scalar.

Derived rules (what the primitives use):

* ``+ - * // % ** max min`` (two arguments), ``@`` and the two branches of
  ``where``: :func:`promote`; ``concat``: :func:`promote` of all pieces.
* ``/`` and the unary math functions ``exp log sin cos tan tanh sqrt``: the
  promoted dtype, moved to a float by :data:`FLOAT` (bool and i64 give f64,
  f32 stays f32).
* Comparisons compare in the promoted dtype and give ``bool``.
* Reductions: :data:`REDUCE` (``sum`` of bool gives i64, ``mean`` of bool or
  i64 gives f64; otherwise the dtype stays).
* ``full``: the dtype of the value (:func:`dtype_of`).
"""

from __future__ import annotations

import numpy as np

BOOL, I64, F32, F64 = "bool", "i64", "f32", "f64"
DTYPES = (BOOL, I64, F32, F64)

NUMPY = {BOOL: np.dtype(np.bool_), I64: np.dtype(np.int64),
         F32: np.dtype(np.float32), F64: np.dtype(np.float64)}

#: strong dtype (row) with strong dtype (columns in DTYPES order: bool i64 f32 f64)
STRONG = {
    BOOL: (BOOL, I64, F32, F64),
    I64: (I64, I64, F64, F64),
    F32: (F32, F64, F32, F64),
    F64: (F64, F64, F64, F64),
}

#: weak Python scalar (row: bool, int, float) with strong dtype (columns bool i64 f32 f64)
WEAK = {
    BOOL: (BOOL, I64, F32, F64),
    I64: (I64, I64, F32, F64),
    F64: (F64, F64, F32, F64),
}

#: the float dtype that true division and unary math compute in
FLOAT = {BOOL: F64, I64: F64, F32: F32, F64: F64}

#: input dtype -> result dtype of each reduction
REDUCE = {
    "sum": {BOOL: I64, I64: I64, F32: F32, F64: F64},
    "mean": FLOAT,
    "max": {BOOL: BOOL, I64: I64, F32: F32, F64: F64},
    "min": {BOOL: BOOL, I64: I64, F32: F32, F64: F64},
}

_COLUMN = {name: k for k, name in enumerate(DTYPES)}
_OF_NUMPY = {d: name for name, d in NUMPY.items()}
_OF_PYTHON = {bool: BOOL, int: I64, float: F64}


def dtype_of(value):
    """``(name, weak)`` for a number, bool or array: weak for Python scalars."""
    t = type(value)
    if t in _OF_PYTHON:
        return _OF_PYTHON[t], True
    if t is np.float32:
        return F32, False
    if t is np.ndarray and value.dtype in _OF_NUMPY:
        return _OF_NUMPY[value.dtype], False
    raise TypeError(f"no dtype for a value of type {t.__name__}")


def promote(*types):
    """The dtype name of the result of arithmetic on values of these
    ``(name, weak)`` dtypes: two for a binary operation, any number for
    ``concat``.  The strong ones join by :data:`STRONG`, so do the weak ones
    (as Python does), and a weak result meets a strong one by :data:`WEAK`;
    the order of the arguments does not matter."""
    strong = weak = None
    for name, is_weak in types:
        if is_weak:
            weak = name if weak is None else STRONG[weak][_COLUMN[name]]
        else:
            strong = name if strong is None else STRONG[strong][_COLUMN[name]]
    if weak is None:
        return strong
    if strong is None:
        return weak
    return WEAK[weak][_COLUMN[strong]]


def true_divide(a, b):
    """The dtype name of ``(/ a b)``."""
    return FLOAT[promote(a, b)]


def unary_math(a):
    """The dtype name of ``exp log sin cos tan tanh sqrt`` of a value of
    ``(name, weak)`` dtype ``a``."""
    return FLOAT[a[0]]


def reduction(op, a):
    """The dtype name of reduction ``op`` (``sum mean max min``) of an array
    of ``(name, weak)`` dtype ``a``."""
    return REDUCE[op][a[0]]
