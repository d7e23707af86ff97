"""The primitive table itself: the :class:`Prim` row, the ``PRIMS`` dict and
the helpers the families of primitives share (argument checks, numpy scalars
back to Python scalars).  See :mod:`myia_sx.prims`."""

from __future__ import annotations

import contextvars

import numpy as np

from ..dtypes import NUMPY, dtype_of, promote
from ..errors import SxRuntimeError, SxShapeError, SxSyntaxError, SxTypeError
from ..values import type_name


class MacroSyntaxError(SxSyntaxError):
    """A syntax error a macro reports about its input (``syntax-error``)."""


# The hygiene marks of the macro call being expanded (set by expand_macros):
# ``unhygienic`` gives symbols these marks, so they read as the user's own.
CALL_SITE_MARKS = contextvars.ContextVar("call_site_marks", default=None)


class PrimShapeError(SxShapeError):
    """A shape error raised inside a primitive; the interpreter prefixes
    ``shape mismatch in (form):`` and attaches the form's span."""


class Prim:
    """One row of the primitive table.

    ``grad`` names the derivative rule: the library function (defined with
    ``defrule`` in prelude/derivatives.sx) that the J transform calls for this
    primitive, or None for a primitive that has none.  A rule gets the
    positional arguments one by one (as one tuple for a primitive of variable
    arity), then the keyword arguments in the order of ``kwargs``, the result
    ``out`` and its sensitivity ``dout``, and returns the tuple of the
    sensitivities of the positional arguments.  Rule names start with ``%``,
    which no module may define, so user code cannot change a derivative."""

    __slots__ = ("name", "impl", "min_args", "max_args", "kwargs", "doc",
                 "type_rule", "grad", "emit")
    sx_type_name = "primitive"

    def __init__(self, name, impl, min_args, max_args, kwargs=None, doc="", grad=None):
        self.name = name
        self.impl = impl
        self.min_args = min_args
        self.max_args = max_args
        self.kwargs = dict(kwargs or {})
        self.doc = doc
        self.type_rule = None
        self.grad = grad
        self.emit = None

    @property
    def variadic(self):
        """True when the arity varies (the derivative rule takes a tuple)."""
        return self.min_args != self.max_args

    def arity_text(self):
        lo, hi = self.min_args, self.max_args
        if hi is None:
            return f"at least {lo} argument{'s' * (lo != 1)}"
        if lo == hi:
            return f"{lo} argument{'s' * (lo != 1)}"
        return f"{lo} to {hi} arguments"

    def __repr__(self):
        return f"<primitive {self.name}>"


class PrimConst:
    """A row of the table that names a constant rather than a function
    (``%zero``, the zero sensitivity)."""

    __slots__ = ("name", "value", "doc")

    def __init__(self, name, value, doc):
        self.name = name
        self.value = value
        self.doc = doc

    def __repr__(self):
        return f"<constant {self.name}>"


PRIMS: dict[str, Prim | PrimConst] = {}


def rule_name(name):
    """The name of the derivative rule of primitive ``name``."""
    return "%d/" + name


def prim(name, min_args, max_args=-1, kwargs=None, differentiable=True):
    """Register the decorated function as primitive ``name`` (with the
    derivative rule :func:`rule_name` unless not ``differentiable``)."""
    def deco(fn):
        hi = min_args if max_args == -1 else max_args
        PRIMS[name] = Prim(name, fn, min_args, hi, kwargs, (fn.__doc__ or "").strip(),
                           rule_name(name) if differentiable else None)
        return fn
    return deco


def constant(name, value, doc):
    """Register the constant ``value`` under ``name``."""
    PRIMS[name] = PrimConst(name, value, doc)


# -- helpers -----------------------------------------------------------------

NUMERIC_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def num_or_array(name, x, k):
    t = type(x)
    if t is float or t is int or t is np.float32:
        return
    if t is np.ndarray and x.dtype in NUMERIC_DTYPES:
        return
    raise SxTypeError(f"{name} expects numbers or numeric arrays, "
                      f"got {type_name(x)} as argument {k}")


def scalar(v):
    """numpy scalar -> Python scalar (f32 stays numpy.float32)."""
    t = type(v)
    if t is np.float64:
        return float(v)
    if t is np.int64 or t is np.intp:
        return int(v)
    if t is np.bool_:
        return bool(v)
    if t is np.ndarray and v.ndim == 0:
        return scalar(v[()])
    return v


def shape_text(x):
    return str(tuple(x.shape)) if type(x) is np.ndarray else type_name(x)


def cast(x, dtype):
    """x as a numpy value of dtype ``dtype`` (a name of :mod:`myia_sx.dtypes`);
    an array of that dtype already is returned as it is.  (A float out of the
    range of f32 becomes +-Inf, with a warning that callers silence.)"""
    return np.asarray(x, dtype=NUMPY[dtype])


def apply_in(dtype, name, npop, a, b):
    """``npop`` on a and b, both cast to ``dtype`` first, so that numpy has no
    promotion of its own to do."""
    try:
        with np.errstate(all="ignore"):
            return scalar(npop(cast(a, dtype), cast(b, dtype)))
    except ValueError:
        raise PrimShapeError(f"{shape_text(a)} {name} {shape_text(b)}") from None


def array_binop(name, npop, a, b, rule=promote):
    """``npop`` on numbers or numeric arrays, computed in the dtype ``rule``
    (of :mod:`myia_sx.dtypes`) gives for their dtypes."""
    num_or_array(name, a, 1)
    num_or_array(name, b, 2)
    return apply_in(rule(dtype_of(a), dtype_of(b)), name, npop, a, b)


def is_int(x):
    return type(x) is int or (type(x) is np.ndarray and x.dtype == np.int64)


def int_zero_divisor(a, b):
    if is_int(a) and is_int(b):
        if type(b) is int:
            return b == 0
        return bool((b == 0).any())
    return False


def check_axis(axis, ndim, name):
    axes = axis if type(axis) is tuple else (axis,)
    for ax in axes:
        if type(ax) is not int:
            raise SxTypeError(f":axis of {name} must be an integer or a tuple of integers, "
                              f"got {type_name(ax)}")
        if not -ndim <= ax < ndim:
            raise PrimShapeError(f"axis {ax} out of range for an array of rank {ndim}")
    if len({ax % ndim for ax in axes}) != len(axes):
        raise PrimShapeError(f"repeated axis in :axis {axis}")


def need_array(name, x, k=1):
    if type(x) is not np.ndarray:
        raise SxTypeError(f"{name} expects an array as argument {k}, got {type_name(x)}")


def check_index(name, n, i, what):
    if type(i) is not int:
        raise SxTypeError(f"{name}: index must be an integer, got {type_name(i)}")
    if not -n <= i < n:
        raise SxRuntimeError(f"index {i} out of range for {what} of length {n}")
    return i

