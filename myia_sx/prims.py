"""The primitive table: one row per primitive.

Each :class:`Prim` row holds the name, the arity (positional minimum and
maximum, ``None`` for variadic), the keyword arguments it declares with their
defaults, the Python implementation used by the reference interpreter, and
slots that later stages fill in: the type/shape rule, the derivative rule
(written in ``.sx``) and the backend emitters.  Nothing outside this module
lists primitives.

Implementations raise :class:`SxError` subclasses without a span; the
interpreter attaches the span of the calling form.  Scalars follow Python
(``i64`` wraps around at 64 bits, mixed ``i64``/``f64`` promotes to ``f64``,
``/`` is true division), floats follow IEEE (``(/ 1.0 0.0)`` is ``Inf``,
``(log -1.0)`` is ``NaN``), arrays follow numpy broadcasting.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import warnings

import numpy as np

from .errors import SxRuntimeError, SxShapeError, SxSyntaxError, SxTypeError
from .forms import Form, Keyword, Seq, Symbol, Vec
from .values import (Closure, Record, RecordType, type_name,
                     values_equal, wrap_i64)


class MacroSyntaxError(SxSyntaxError):
    """A syntax error a macro reports about its input (``syntax-error``)."""


# The hygiene marks of the macro call being expanded (set by expand_macros):
# ``unhygienic`` gives symbols these marks, so they read as the user's own.
CALL_SITE_MARKS = contextvars.ContextVar("call_site_marks", default=None)


class PrimShapeError(SxShapeError):
    """A shape error raised inside a primitive; the interpreter prefixes
    ``shape mismatch in (form):`` and attaches the form's span."""


class Prim:
    """One row of the primitive table."""

    __slots__ = ("name", "impl", "min_args", "max_args", "kwargs", "doc",
                 "type_rule", "grad", "emit")

    def __init__(self, name, impl, min_args, max_args, kwargs=None, doc=""):
        self.name = name
        self.impl = impl
        self.min_args = min_args
        self.max_args = max_args
        self.kwargs = dict(kwargs or {})
        self.doc = doc
        self.type_rule = None
        self.grad = None
        self.emit = None

    def arity_text(self):
        lo, hi = self.min_args, self.max_args
        if hi is None:
            return f"at least {lo} argument{'s' * (lo != 1)}"
        if lo == hi:
            return f"{lo} argument{'s' * (lo != 1)}"
        return f"{lo} to {hi} arguments"

    def __repr__(self):
        return f"<primitive {self.name}>"


PRIMS: dict[str, Prim] = {}


def prim(name, min_args, max_args=-1, kwargs=None):
    """Register the decorated function as primitive ``name``."""
    def deco(fn):
        hi = min_args if max_args == -1 else max_args
        PRIMS[name] = Prim(name, fn, min_args, hi, kwargs, (fn.__doc__ or "").strip())
        return fn
    return deco


# -- helpers -----------------------------------------------------------------

_NUMERIC_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def _num_or_array(name, x, k):
    t = type(x)
    if t is float or t is int or t is np.float32:
        return
    if t is np.ndarray and x.dtype in _NUMERIC_DTYPES:
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


def _shape_text(x):
    return str(tuple(x.shape)) if type(x) is np.ndarray else type_name(x)


def _array_binop(name, npop, a, b):
    _num_or_array(name, a, 1)
    _num_or_array(name, b, 2)
    try:
        with np.errstate(all="ignore"):
            return scalar(npop(a, b))
    except ValueError:
        raise PrimShapeError(f"{_shape_text(a)} {name} {_shape_text(b)}") from None


def _is_int(x):
    return type(x) is int or (type(x) is np.ndarray and x.dtype == np.int64)


def _int_zero_divisor(a, b):
    if _is_int(a) and _is_int(b):
        if type(b) is int:
            return b == 0
        return bool((b == 0).any())
    return False


# -- scalar and elementwise arithmetic --------------------------------------

def _arith(name, op, npop, doc):
    def impl(a, b):
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            r = op(a, b)
            return wrap_i64(r) if type(r) is int else r
        return _array_binop(name, npop, a, b)
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
    if _int_zero_divisor(a, b):
        raise SxRuntimeError("integer division by zero")
    return _array_binop("/", np.true_divide, a, b)


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
        if _int_zero_divisor(a, b):
            raise SxRuntimeError(f"integer division by zero in {name}")
        return _array_binop(name, npop, a, b)
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
    if _is_int(a) and _is_int(b) and (np.asarray(b) < 0).any():
        raise SxRuntimeError("integer to a negative integer power")
    return _array_binop("**", np.power, a, b)


_ONE_ARG = object()  # (max x) reduces; (max a b) compares, even if b is None


def _minmax(name, pick, npop, npreduce):
    def impl(a, b=_ONE_ARG, axis=None, keepdims=False):
        if b is _ONE_ARG:
            return _reduce(name, npreduce, a, axis, keepdims)
        if axis is not None or keepdims:
            raise SxTypeError(f"{name} of two values takes no :axis or :keepdims")
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            if a != a or b != b:
                return math.nan
            r = a if pick(a, b) else b
            return float(r) if (ta is float or tb is float) else r
        return _array_binop(name, npop, a, b)
    impl.__doc__ = (f"(({name} a b)) elementwise {name}imum; (({name} x :axis k)) "
                    "reduction over an array").replace("((", "`(").replace("))", ")`")
    prim(name, 1, 2, {"axis": None, "keepdims": False})(impl)


def _check_axis(axis, ndim, name):
    axes = axis if type(axis) is tuple else (axis,)
    for ax in axes:
        if type(ax) is not int:
            raise SxTypeError(f":axis of {name} must be an integer or a tuple of integers, "
                              f"got {type_name(ax)}")
        if not -ndim <= ax < ndim:
            raise PrimShapeError(f"axis {ax} out of range for an array of rank {ndim}")
    if len({ax % ndim for ax in axes}) != len(axes):
        raise PrimShapeError(f"repeated axis in :axis {axis}")


def _reduce(name, fn, x, axis, keepdims):
    if type(x) is not np.ndarray or x.dtype not in _NUMERIC_DTYPES:
        raise SxTypeError(f"{name} with one argument reduces an array, got {type_name(x)}")
    if axis is not None:
        _check_axis(axis, x.ndim, name)
    if x.size == 0 and name in ("max", "min"):
        raise SxRuntimeError(f"{name} of an empty array")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an empty array is NaN
        return scalar(fn(x, axis=axis, keepdims=bool(keepdims)))


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
        _num_or_array(name, x, 1)
        with np.errstate(all="ignore"):
            return scalar(npfn(x))
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
    _num_or_array("neg", x, 1)
    return np.negative(x)


@prim("abs", 1)
def _abs(x):
    """Absolute value."""
    t = type(x)
    if t is int:
        return wrap_i64(abs(x))
    if t is float:
        return abs(x)
    _num_or_array("abs", x, 1)
    return np.abs(x)


@prim("float", 1)
def _float(x):
    """Convert to f64 (numbers, bools, and arrays of them)."""
    t = type(x)
    if t is float or t is int or t is np.float32 or t is bool:
        return float(x)
    if t is np.ndarray and x.dtype == np.bool_:
        return x.astype(np.float64)
    _num_or_array("float", x, 1)
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
    _num_or_array("int", x, 1)
    return x.astype(np.int64)


@prim("f32", 1)
def _f32(x):
    """Convert to f32 (scalars and arrays)."""
    t = type(x)
    with np.errstate(all="ignore"):  # out of f32 range is +-Inf, as IEEE says
        if t is float or t is int or t is np.float32:
            return np.float32(x)
        _num_or_array("f32", x, 1)
        return x.astype(np.float32)


# -- comparisons and logic ------------------------------------------------------

def _compare(name, op, npop):
    def impl(a, b):
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int):
            return op(a, b)
        if ta is np.ndarray or tb is np.ndarray or ta is np.float32 or tb is np.float32:
            return _array_binop(name, npop, a, b)
        raise SxTypeError(f"{name} compares numbers or arrays, got {type_name(a)} "
                          f"and {type_name(b)}")
    impl.__doc__ = f"Comparison {name}; elementwise on arrays (giving a bool array)."
    prim(name, 2)(impl)


_compare("<", lambda a, b: a < b, np.less)
_compare("<=", lambda a, b: a <= b, np.less_equal)
_compare(">", lambda a, b: a > b, np.greater)
_compare(">=", lambda a, b: a >= b, np.greater_equal)


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
        try:
            return scalar(np.equal(a, b))
        except ValueError:
            raise PrimShapeError(f"{_shape_text(a)} = {_shape_text(b)}") from None
    return values_equal(a, b)


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
        return np.logical_not(x)
    raise SxTypeError(f"not expects a bool, got {type_name(x)}")


# -- arrays ----------------------------------------------------------------------

def _need_array(name, x, k=1):
    if type(x) is not np.ndarray:
        raise SxTypeError(f"{name} expects an array as argument {k}, got {type_name(x)}")


@prim("@", 2)
def _matmul(a, b):
    """Matrix product (numpy matmul semantics)."""
    _need_array("@", a, 1)
    _need_array("@", b, 2)
    _num_or_array("@", a, 1)
    _num_or_array("@", b, 2)
    if a.ndim == 0 or b.ndim == 0:
        raise PrimShapeError(f"{_shape_text(a)} @ {_shape_text(b)}: @ needs rank >= 1")
    try:
        return scalar(np.matmul(a, b))
    except ValueError:
        raise PrimShapeError(f"{_shape_text(a)} @ {_shape_text(b)}") from None


def _shape_arg(name, s):
    if type(s) is int:
        s = (s,)
    if type(s) is not tuple or not all(type(d) is int for d in s):
        raise SxTypeError(f"{name} expects a shape (a tuple of integers), got {type_name(s)}")
    if any(d < 0 for d in s):
        raise PrimShapeError(f"negative dimension in shape {s}")
    return s


_DTYPE_NAMES = {"f64": np.float64, "f32": np.float32, "i64": np.int64}


def _dtype_arg(name, dtype, default):
    if dtype is None:
        return default
    key = dtype.name if type(dtype) is Keyword else dtype
    if key not in _DTYPE_NAMES:
        raise SxTypeError(f":dtype of {name} must be :f64, :f32 or :i64")
    return _DTYPE_NAMES[key]


def _alloc(name, make, shape, *args):
    """``make(shape, *args)``; an array too big for memory is a user error, not a crash."""
    try:
        return make(shape, *args)
    except (MemoryError, ValueError):
        raise SxRuntimeError(f"{name}: cannot allocate an array of shape {shape}") from None


@prim("zeros", 1, 1, {"dtype": None})
def _zeros(shape, dtype=None):
    """Array of zeros of the given shape (f64 unless :dtype)."""
    return _alloc("zeros", np.zeros, _shape_arg("zeros", shape),
                  _dtype_arg("zeros", dtype, np.float64))


@prim("ones", 1, 1, {"dtype": None})
def _ones(shape, dtype=None):
    """Array of ones of the given shape (f64 unless :dtype)."""
    return _alloc("ones", np.ones, _shape_arg("ones", shape),
                  _dtype_arg("ones", dtype, np.float64))


def _scalar_dtype(v):
    t = type(v)
    if t is float:
        return np.float64
    if t is int:
        return np.int64
    if t is np.float32:
        return np.float32
    raise SxTypeError(f"expected a number, got {type_name(v)}")


@prim("full", 2, 2, {"dtype": None})
def _full(shape, value, dtype=None):
    """Array of the given shape filled with value (dtype of value unless :dtype)."""
    return _alloc("full", np.full, _shape_arg("full", shape), value,
                  _dtype_arg("full", dtype, _scalar_dtype(value)))


@prim("array", 1, 1, {"dtype": None})
def _array(data, dtype=None):
    """Array from a (nested) tuple of numbers."""
    leaves = list(_tuple_leaves(data))
    if not leaves:
        raise SxTypeError("array needs at least one element")
    for v in leaves:
        if type(v) not in (int, float, np.float32):
            raise SxTypeError(f"array elements must be numbers, got {type_name(v)}")
    default = np.float64 if any(type(v) is not int for v in leaves) else np.int64
    try:
        return np.array(data, dtype=_dtype_arg("array", dtype, default))
    except ValueError:
        raise PrimShapeError("nested tuples of different lengths") from None


def _tuple_leaves(x):
    stack = [x]
    while stack:
        y = stack.pop()
        if type(y) is tuple:
            stack.extend(y)
        else:
            yield y


@prim("shape", 1)
def _shape(x):
    """The shape of an array, as a tuple of integers."""
    _need_array("shape", x)
    return tuple(int(d) for d in x.shape)


@prim("reshape", 2)
def _reshape(x, shape):
    """The array with a new shape of the same size (one dimension may be -1)."""
    _need_array("reshape", x)
    if type(shape) is int:
        shape = (shape,)
    if type(shape) is not tuple or not all(type(d) is int for d in shape):
        raise SxTypeError(f"reshape expects a shape tuple, got {type_name(shape)}")
    try:
        return x.reshape(shape)
    except ValueError:
        raise PrimShapeError(f"cannot reshape {_shape_text(x)} to {shape}") from None


@prim("transpose", 1, 1, {"axes": None})
def _transpose(x, axes=None):
    """Reverse the axes of an array (or permute them by :axes)."""
    _need_array("transpose", x)
    if axes is not None:
        if type(axes) is not tuple or not all(type(a) is int for a in axes):
            raise SxTypeError(f":axes of transpose must be a tuple of integers, "
                              f"got {type_name(axes)}")
        if sorted(axes) != list(range(x.ndim)):
            raise PrimShapeError(f":axes {axes} is not a permutation of {x.ndim} axes")
    return np.transpose(x, axes)


@prim("where", 3)
def _where(c, a, b):
    """Elementwise choice: a where c is true, else b (broadcasting)."""
    if not (type(c) is bool or (type(c) is np.ndarray and c.dtype == np.bool_)):
        raise SxTypeError(f"where expects a bool array condition, got {type_name(c)}")
    _num_or_array("where", a, 2)
    _num_or_array("where", b, 3)
    try:
        return scalar(np.where(c, a, b))
    except ValueError:
        raise PrimShapeError(
            f"where {_shape_text(c)} {_shape_text(a)} {_shape_text(b)}") from None


# -- tuples, arrays and forms as sequences -------------------------------------

@prim("tuple", 0, None)
def _tuple(*xs):
    """A tuple of the arguments."""
    return xs


def _index(name, n, i, what):
    if type(i) is not int:
        raise SxTypeError(f"{name}: index must be an integer, got {type_name(i)}")
    if not -n <= i < n:
        raise SxRuntimeError(f"index {i} out of range for {what} of length {n}")
    return i


@prim("get", 2, None)
def _get(x, *idx):
    """Element i of a tuple or form; (get a i j ...) indexes an array."""
    t = type(x)
    if t is tuple:
        if len(idx) != 1:
            raise SxTypeError("get on a tuple takes one index")
        return x[_index("get", len(x), idx[0], "tuple")]
    if t is np.ndarray:
        if len(idx) > x.ndim:
            raise PrimShapeError(f"{len(idx)} indices for an array of rank {x.ndim}")
        for k, i in enumerate(idx):
            _index("get", x.shape[k], i, f"axis {k} of an array")
        return scalar(x[idx])
    if isinstance(x, Seq):
        if len(idx) != 1:
            raise SxTypeError("get on a form takes one index")
        return x.items[_index("get", len(x.items), idx[0], "form")]
    raise SxTypeError(f"get expects a tuple, array or form, got {type_name(x)}")


@prim("len", 1)
def _len(x):
    """Length of a tuple, form, string, or first axis of an array."""
    t = type(x)
    if t is tuple or t is str:
        return len(x)
    if isinstance(x, Seq):
        return len(x.items)
    if t is np.ndarray:
        if x.ndim == 0:
            raise PrimShapeError("len of a rank-0 array")
        return int(x.shape[0])
    raise SxTypeError(f"len expects a tuple, array or form, got {type_name(x)}")


@prim("cut", 1, 3)
def _cut(x, start=None, end=None):
    """Slice [start, end) of a tuple, form or array (first axis)."""
    for v in (start, end):
        if v is not None and type(v) is not int:
            raise SxTypeError(f"cut bounds must be integers or None, got {type_name(v)}")
    t = type(x)
    if t is tuple or t is np.ndarray or isinstance(x, Seq):
        return x[start:end]
    raise SxTypeError(f"cut expects a tuple, array or form, got {type_name(x)}")


@prim("concat", 1, None, {"axis": 0})
def _concat(*xs, axis=0):
    """Join arrays along :axis (default 0), or join tuples, or join forms (tuples
    of forms may follow a first form)."""
    if all(type(x) is np.ndarray for x in xs):
        for k, x in enumerate(xs, 1):
            _num_or_array("concat", x, k)
            if x.ndim == 0:
                raise PrimShapeError("concat of a rank-0 array")
        _check_axis(axis, xs[0].ndim, "concat")
        try:
            return np.concatenate(xs, axis=axis)
        except ValueError:
            raise PrimShapeError(" ++ ".join(_shape_text(x) for x in xs)) from None
    if all(type(x) is tuple for x in xs):
        return tuple(itertools.chain.from_iterable(xs))
    if isinstance(xs[0], Seq) and all(isinstance(x, Seq) or type(x) is tuple for x in xs):
        return type(xs[0])(itertools.chain.from_iterable(
            x if type(x) is tuple else x.items for x in xs), xs[0].span)
    raise SxTypeError("concat expects all arrays, all tuples or all forms, got "
                      + ", ".join(type_name(x) for x in xs))


@prim("first", 1)
def _first(x):
    """First element of a form or tuple."""
    items = x.items if isinstance(x, Seq) else x if type(x) is tuple else None
    if items is None:
        raise SxTypeError(f"first expects a form or tuple, got {type_name(x)}")
    if not items:
        raise SxRuntimeError("first of an empty sequence")
    return items[0]


@prim("rest", 1)
def _rest(x):
    """All but the first element of a form or tuple (same kind)."""
    if isinstance(x, Seq):
        return type(x)(x.items[1:], x.span)
    if type(x) is tuple:
        return x[1:]
    raise SxTypeError(f"rest expects a form or tuple, got {type_name(x)}")


@prim("cons", 2)
def _cons(x, seq):
    """seq with x in front (same kind)."""
    if isinstance(seq, Seq):
        return type(seq)((x,) + seq.items, seq.span)
    if type(seq) is tuple:
        return (x,) + seq
    raise SxTypeError(f"cons expects a form or tuple as argument 2, got {type_name(seq)}")


@prim("list", 0, None)
def _list(*xs):
    """A parenthesised form of the arguments."""
    return Form(xs)


@prim("vector", 0, None)
def _vector(*xs):
    """A bracket form of the arguments."""
    return Vec(xs)


_gensym_counter = itertools.count(1)


@prim("gensym", 0, 1)
def _gensym(base="g"):
    """A fresh symbol, base%gN (names with % are the compiler's: do not write them)."""
    if isinstance(base, Symbol):
        base = base.name
    if type(base) is not str:
        raise SxTypeError(f"gensym expects a string or symbol, got {type_name(base)}")
    return Symbol(f"{base}%g{next(_gensym_counter)}")


@prim("unhygienic", 1)
def _unhygienic(s):
    """Inside a macro: symbol s as if the user wrote it at the call site, so it
    binds and refers in the user's code (anaphoric macros, e.g. loop's recur)."""
    if type(s) is not Symbol:
        raise SxTypeError(f"unhygienic expects a symbol, got {type_name(s)}")
    marks = CALL_SITE_MARKS.get()
    if marks is None:
        raise SxRuntimeError("unhygienic is only meaningful while a macro expands")
    return Symbol(s.name, s.span, marks)


@prim("syntax-error", 1, 2)
def _syntax_error(message, form=None):
    """Inside a macro: report a syntax error at form (else at the macro call)."""
    if type(message) is not str:
        raise SxTypeError(f"syntax-error expects a message string, got {type_name(message)}")
    raise MacroSyntaxError(message, getattr(form, "span", None))


@prim("str", 0, None)
def _str(*xs):
    """Concatenate strings, names of symbols and keywords, and numbers as text."""
    out = []
    for x in xs:
        t = type(x)
        if t is str:
            out.append(x)
        elif t is Symbol or t is Keyword:
            out.append(x.name)
        elif t in (int, float, bool) or x is None:
            from .printer import dump_atom

            out.append(dump_atom(x))
        else:
            raise SxTypeError(f"str expects strings, symbols, keywords or numbers, "
                              f"got {type_name(x)}")
    return "".join(out)


@prim("symbol", 1)
def _symbol(name):
    """The symbol with the given name (a string)."""
    if type(name) is not str or not name:
        raise SxTypeError(f"symbol expects a non-empty string, got {type_name(name)}")
    return Symbol(name)


@prim("name", 1)
def _name(x):
    """The name of a symbol or keyword, as a string."""
    if type(x) in (Symbol, Keyword):
        return x.name
    raise SxTypeError(f"name expects a symbol or keyword, got {type_name(x)}")


# -- predicates --------------------------------------------------------------------

def _pred(name, test, doc):
    def impl(x):
        return test(x)
    impl.__doc__ = doc
    prim(name, 1)(impl)


_pred("tuple?", lambda x: type(x) is tuple, "True for a tuple.")
_pred("record?", lambda x: isinstance(x, Record), "True for a record.")
_pred("array?", lambda x: type(x) is np.ndarray, "True for an array.")
_pred("number?", lambda x: type(x) in (int, float, np.float32), "True for a number.")
_pred("bool?", lambda x: type(x) is bool, "True for a bool.")
_pred("none?", lambda x: x is None, "True for None.")
_pred("function?", lambda x: type(x) in (Closure, Prim, RecordType), "True for a function.")
_pred("symbol?", lambda x: type(x) is Symbol, "True for a symbol.")
_pred("keyword?", lambda x: type(x) is Keyword, "True for a keyword.")
_pred("string?", lambda x: type(x) is str, "True for a string.")
_pred("list?", lambda x: type(x) is Form, "True for a parenthesised form.")
_pred("vector?", lambda x: type(x) is Vec, "True for a bracket form.")



# -- automatic differentiation (see myia_sx/ad.py and passes/differentiate.py) ---------

from . import ad as _ad_module  # noqa: E402  (ad imports this table lazily)


def _ad():
    return _ad_module


@prim("%J", 1)
def _J(f):
    """The J-transform of a value: a function returning [value backpropagator]."""
    return _ad().J(f)


@prim("%J-shallow", 1)
def _J_shallow(c):
    """The J-transform of a closure whose captured values are J-values already."""
    return _ad().J_shallow(c)


def _maker_prim(name, kind, kwargs, doc):
    def impl(jf, **kw):
        return _ad().make(kind, jf, **kw)
    impl.__doc__ = doc
    prim(name, 1, 1, kwargs)(impl)


_maker_prim("%grad", "grad", {"wrt": 0},
            "(%grad (%J f) :wrt w): the gradient function of f (what grad expands to).")
_maker_prim("%value-and-grad", "value-and-grad", {"wrt": 0},
            "(%value-and-grad (%J f) :wrt w): f's [value gradient] function.")
_maker_prim("%vjp", "vjp", None,
            "(%vjp (%J f)): the function of x ... giving [(f x ...) back].")
_maker_prim("%jvp", "jvp", None,
            "(%jvp (%J f)): the function of [x ...] [dx ...] giving [value tangent].")


@prim("%param-index", 2)
def _param_index(f, k):
    """1 + the position of the parameter named by keyword k in function f's
    parameters (where a backpropagator puts its sensitivity)."""
    code = getattr(f, "code", None)
    names = code.param_names if code is not None else ()
    if type(k) is not Keyword or k.name not in names:
        raise SxTypeError(f"{getattr(f, 'name', type_name(f))} has no parameter named "
                          f"{getattr(k, 'name', k)}")
    return 1 + names.index(k.name)


@prim("%zero?", 1)
def _sens_zero(s):
    """True for the zero sensitivity (None): a backpropagator skips its work then."""
    return s is None


@prim("%sens+", 2)
def _sens_add(a, b):
    """Add two sensitivities (None is zero; tuples, records and closure sensitivities by part)."""
    return _ad().sens_add(a, b)


@prim("%sens-out", 2)
def _sens_out(x, s):
    """The gradient for x from its sensitivity s: x's structure, zeros where None."""
    return _ad().sens_out(x, s)


@prim("%sens-get", 2)
def _sens_get(d, i):
    """Element i of a tuple sensitivity (None stays None)."""
    return _ad().sens_get(d, i)


@prim("%sens-at", 3)
def _sens_at(like, i, v):
    """A tuple sensitivity shaped like tuple like: v at i, None elsewhere."""
    return _ad().sens_at(like, i, v)


@prim("%env-sens", 0, None)
def _env_sens(*kv):
    """(%env-sens 'x dx ...): the sensitivity of a closure's captured variables."""
    return _ad().env_sens(*kv)


@prim("%env-get", 2)
def _env_get(e, k):
    """The sensitivity of captured variable k in a closure sensitivity (None if none)."""
    return _ad().env_get(e, k)


@prim("%field-sens", 3)
def _field_sens(r, name, v):
    """A record sensitivity of r's type: v in field name, None elsewhere."""
    return _ad().field_sens(r, name, v)


@prim("%sens-field", 2)
def _sens_field(d, name):
    """Field name of a record sensitivity (None stays None)."""
    return _ad().sens_field(d, name)


@prim("%check-like", 3)
def _check_like(like, v, what):
    """v, if it has the structure of like (an SxGradError naming what otherwise)."""
    return _ad().check_like(like, v, what)


@prim("%check-tuple", 3)
def _check_tuple(v, n, what):
    """v, if it is a tuple of n elements (an SxGradError naming what otherwise)."""
    return _ad().check_tuple(v, n, what)


@prim("%grad-seed", 1, 2)
def _grad_seed(y, f=None):
    """1 of the type of scalar y (an error for a non-scalar output of function f): where grad starts."""
    return _ad().grad_seed(y, f)


@prim("unbroadcast", 2)
def _unbroadcast(d, x):
    """Sum sensitivity d down to the shape of x (undo broadcasting)."""
    return _ad().unbroadcast(d, x)


@prim("unreduce", 4)
def _unreduce(d, x, axis, keepdims):
    """Broadcast the sensitivity d of a reduction over axis back to x's shape."""
    return _ad().unreduce(d, x, axis, keepdims)


@prim("%zeros-like", 1)
def _zeros_like(x):
    """The zero of x's type and structure (tuples and records by part)."""
    return _ad().zeros_like(x)


@prim("size", 1)
def _size(x):
    """The number of elements of an array (1 for a number)."""
    if type(x) is np.ndarray:
        return int(x.size)
    _num_or_array("size", x, 1)
    return 1


@prim("sens-index", 3)
def _sens_index(like, idx, v):
    """Zeros shaped like array like, with v at index tuple idx (the adjoint of get)."""
    if type(like) is not np.ndarray or type(idx) is not tuple:
        raise SxTypeError(f"sens-index expects an array and an index tuple, got "
                          f"{type_name(like)} and {type_name(idx)}")
    out = np.zeros(like.shape, dtype=np.result_type(like.dtype, np.float64))
    out[tuple(idx)] = v
    return out


@prim("sens-cut", 4)
def _sens_cut(like, start, end, v):
    """A sensitivity shaped like tuple or array like: v in [start, end), zero or None elsewhere
    (the adjoint of cut)."""
    if v is None:
        return None
    if type(like) is not tuple and type(like) is not np.ndarray:
        raise SxTypeError(f"sens-cut expects a tuple or array to shape it, got {type_name(like)}")
    if type(like) is tuple:
        out = [None] * len(like)
        out[start:end] = v
        return tuple(out)
    out = np.zeros(like.shape, dtype=np.result_type(like.dtype, np.float64))
    out[start:end] = v
    return out


@prim("get-at", 2)
def _get_at(a, idx):
    """(get a i j ...) with the indices as one tuple."""
    return _get(a, *idx)


@prim("to-tuple", 1)
def _to_tuple(a):
    """An array as nested tuples of numbers (the inverse of array)."""
    if type(a) is not np.ndarray:
        raise SxTypeError(f"to-tuple expects an array, got {type_name(a)}")
    def conv(x):
        return tuple(conv(v) for v in x) if type(x) is np.ndarray else scalar(x)
    return conv(a) if a.ndim else scalar(a[()])


@prim("split-like", 3)
def _split_like(d, xs, axis):
    """Cut d (a concatenation along axis) into pieces shaped like the tuple xs."""
    return _ad().split_like(d, xs, axis)


@prim("join-like", 3)
def _join_like(ds, xs, axis):
    """Concatenate pieces ds (None: zeros shaped like the piece of xs) along axis."""
    return _ad().join_like(ds, xs, axis)
