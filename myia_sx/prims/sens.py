"""Differentiation support: the values and operations the J transform
(myia_sx/passes/differentiate.py) writes into differentiated programs.

Sensitivities have the structure of the values they belong to: a number's is
a number of its type, an array's an array of its shape and dtype, a tuple's a
tuple of its elements', a record's a record of the same type, a closure's the
tuple of the sensitivities of the variables it captured (in the sorted order
of their names), a buffer's a buffer of its elements'.  ``%zero`` (the value
:data:`~myia_sx.values.ZERO`) is the zero of every type and has its own type,
so once argument types are known each test ``(%zero? d)`` is a constant;
integers, booleans, strings and forms only ever have ``%zero``.  A
sensitivity shaped like ``%zero`` (``%sens-at``, ``%field-sens``,
``sens-index`` ... given ``%zero`` as the value to take the shape of) is
``%zero``: the sensitivity of a value of the zero type is zero.

``%J`` and the makers (``%grad`` ...) transform code at run time: their
implementations come from the AD runtime (:mod:`myia_sx.ad`), which installs
them with :func:`install_ad_runtime`; this table holds only their rows.
"""

from __future__ import annotations

import numpy as np

from ..errors import SxGradError, SxRuntimeError, SxShapeError, SxTypeError
from ..forms import Keyword, Symbol
from ..values import ZERO, Buffer, Closure, Record, RecordType, closure_env, type_name
from .table import NUMERIC_DTYPES, Prim, check_axis, check_index, constant, prim

constant("%zero", ZERO, "The zero sensitivity: the zero of every type (docs/grad.md).")

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _expect(ok, who, what, v):
    if not ok:
        raise SxTypeError(f"{who} expects {what}, got {type_name(v)}")


def _numeric(v):
    """True for a number (not a bool) or a numeric array: what a sensitivity
    of a float or a float array may be."""
    t = type(v)
    if t is np.ndarray:
        return v.dtype in NUMERIC_DTYPES
    return t is not bool and t is not np.bool_ and isinstance(v, (int, float, np.number))


def _carries_none(x):
    """True for a value whose sensitivity is always zero (integers, booleans,
    None, strings, forms, integer and boolean arrays)."""
    t = type(x)
    if t is float or t is np.float32:
        return False
    if t is np.ndarray:
        return x.dtype not in _FLOATS
    return t not in (tuple, Buffer, Closure, Prim, RecordType) and not isinstance(x, Record)


# -- the run-time half of differentiation (installed by myia_sx.ad) -------------------------

_AD: dict = {}


def install_ad_runtime(j, j_shallow, make):
    """Give ``%J``, ``%J-shallow`` and the makers their implementations."""
    _AD.update(J=j, J_shallow=j_shallow, make=make)


@prim("%J", 1)
def _j(f):
    """The J-transform of a value: functions become functions returning
    [value backpropagator]; data stays as it is."""
    return _AD["J"](f)


@prim("%J-shallow", 1)
def _j_shallow(c):
    """The J-transform of a closure whose captured values are J-values already."""
    return _AD["J_shallow"](c)


def _maker(name, kind, kwargs, doc):
    def impl(jf, **kw):
        return _AD["make"](kind, jf, **kw)
    impl.__doc__ = doc
    prim(name, 1, 1, kwargs, differentiable=False)(impl)


_maker("%grad", "grad", {"wrt": 0},
       "(%grad (%J f) :wrt w): the gradient function of f (what grad expands to).")
_maker("%value-and-grad", "value-and-grad", {"wrt": 0},
       "(%value-and-grad (%J f) :wrt w): f's [value gradient] function.")
_maker("%vjp", "vjp", None, "(%vjp (%J f)): the function of x ... giving [(f x ...) back].")
_maker("%jvp", "jvp", None,
       "(%jvp (%J f)): the function of [x ...] [dx ...] giving [value tangent].")


# -- sensitivities ------------------------------------------------------------------------

@prim("%zero?", 1)
def _is_zero(s):
    """True for the zero sensitivity %zero (decided by the type of s)."""
    return s is ZERO


def sens_add(a, b):
    """a + b for sensitivities of the same value (%zero is zero)."""
    if a is ZERO:
        return b
    if b is ZERO:
        return a
    ta = type(a)
    if ta is tuple:
        _expect(type(b) is tuple and len(b) == len(a), "%sens+", f"a tuple of {len(a)}", b)
        return tuple(map(sens_add, a, b))
    if isinstance(a, Record):
        _expect(type(b) is ta, "%sens+", f"a record {type_name(a)}", b)
        return ta._sx_type.make(tuple(map(sens_add, a._values, b._values)))
    if ta is Buffer:
        _expect(type(b) is Buffer and b.n == a.n, "%sens+", f"a {type_name(a)}", b)
        if a.base == a.n:
            return b
        if b.base == b.n:
            return a
        base = min(a.base, b.base)   # zeros in both: they stay a zero prefix
        return Buffer(list(map(sens_add, a.elements()[base:], b.elements()[base:])), a.n, base,
                      a.like if a.base == base else b.like)
    try:
        out = a + b
    except (TypeError, ValueError):
        raise SxTypeError(f"cannot add sensitivities {type_name(a)} and {type_name(b)}") from None
    # numpy gives a scalar for rank-0 arrays: an array's sensitivity stays an array
    return np.asarray(out) if ta is np.ndarray or type(b) is np.ndarray else out


prim("%sens+", 2)(sens_add)


def zeros_like(x):
    """The materialized zero sensitivity of ``x`` (a closure's: the tuple of
    the zeros of what it captured, :func:`myia_sx.values.closure_env`)."""
    t = type(x)
    if t is float:
        return 0.0
    if t is np.float32:
        return np.float32(0.0)
    if t is np.ndarray:
        return np.zeros_like(x) if x.dtype in _FLOATS else ZERO
    if t is tuple:
        return tuple(map(zeros_like, x))
    if isinstance(x, Record):
        return t._sx_type.make(tuple(map(zeros_like, x._values)))
    if t is Buffer:
        # a buffer of backpropagators: its zero is a zero prefix, made in O(1)
        return Buffer.zeros(x.n, x)
    if t is Closure:
        return tuple(map(zeros_like, closure_env(x)))
    if t is Prim or t is RecordType:
        return ()
    return ZERO


prim("%zeros-like", 1)(zeros_like)



def sens_fill(d, like):
    """``d`` with each %zero in it replaced by zeros shaped like the matching
    part of ``like``: after it, two sensitivities of the same value have the
    same type, whichever path computed them."""
    if d is ZERO or like is ZERO:
        return zeros_like(like)
    t = type(d)
    if t is tuple and type(like) is tuple and len(like) == len(d):
        return tuple(map(sens_fill, d, like))
    if isinstance(d, Record) and type(like) is t:
        return t._sx_type.make(tuple(map(sens_fill, d._values, like._values)))
    if t is tuple and type(like) is Closure:
        env = closure_env(like)   # a closure's sensitivity: its captured values'
        if len(env) == len(d):
            return tuple(map(sens_fill, d, env))
    # a buffer's sensitivity is %zero or made by pushing filled elements
    return d


prim("%sens-fill", 2)(sens_fill)


def _primal_zero(x):
    t = type(x)
    if t is bool:
        return False
    if t is int:
        return 0
    if t is float:
        return 0.0
    if t is np.float32:
        return np.float32(0.0)
    if t is np.ndarray:
        return np.zeros_like(x)
    return None


def sens_out(x, s):
    """The gradient returned for argument ``x`` from its sensitivity ``s``:
    ``x``'s structure and types, zeros where nothing flowed back, zeros for
    integers and booleans, None for functions and other non-numbers."""
    t = type(x)
    if t is tuple:
        parts = s if type(s) is tuple and len(s) == len(x) else (ZERO,) * len(x)
        return tuple(map(sens_out, x, parts))
    if isinstance(x, Record):
        parts = s._values if type(s) is t else (ZERO,) * len(x._values)
        return t._sx_type.make(tuple(map(sens_out, x._values, parts)))
    if s is ZERO or _carries_none(x) or t in (Closure, Prim, RecordType, Buffer):
        return _primal_zero(x)
    _expect(_numeric(s) and np.shape(s) == np.shape(x), "%sens-out",
            f"a sensitivity shaped like its argument ({type_name(x)})", s)
    if t is float:
        return float(s)
    if t is np.float32:
        return np.float32(s)
    return np.asarray(s, dtype=x.dtype)


prim("%sens-out", 2)(sens_out)


@prim("%sens-get", 2)
def _sens_get(d, i):
    """Element i of a tuple sensitivity (%zero stays %zero)."""
    if d is ZERO:
        return ZERO
    _expect(type(d) is tuple, "%sens-get", "a tuple sensitivity", d)
    _expect(type(i) is int and -len(d) <= i < len(d), "%sens-get",
            f"an index into a tuple of {len(d)}", i)
    return d[i]


@prim("%sens-at", 3)
def _sens_at(like, i, v):
    """The sensitivity of tuple like whose element i has sensitivity v: zeros
    shaped like the others (the adjoint of get, for an index that may be
    known only at run time)."""
    if v is ZERO or like is ZERO:
        return ZERO
    _expect(type(like) is tuple, "%sens-at", "a tuple to shape the sensitivity", like)
    _expect(type(i) is int and -len(like) <= i < len(like), "%sens-at",
            f"an index into a tuple of {len(like)}", i)
    out = [zeros_like(x) for x in like]
    out[i] = sens_fill(v, like[i])
    return tuple(out)


def _field_index(who, rt, name):
    _expect(type(name) is Symbol and name.name in rt.index, who, f"a field of {rt.name}", name)
    return rt.index[name.name]


@prim("%field-sens", 3)
def _field_sens(r, name, v):
    """A record sensitivity of r's type: v in field name, %zero elsewhere (the
    adjoint of field access)."""
    if v is ZERO or r is ZERO:
        return ZERO
    _expect(isinstance(r, Record), "%field-sens", "a record", r)
    rt = type(r)._sx_type
    vals = [ZERO] * len(rt.fields)
    vals[_field_index("%field-sens", rt, name)] = v
    return rt.make(tuple(vals))


@prim("%sens-field", 2)
def _sens_field(d, name):
    """Field name of a record sensitivity (%zero stays %zero)."""
    if d is ZERO:
        return ZERO
    _expect(isinstance(d, Record), "%sens-field", "a record sensitivity", d)
    return d._values[_field_index("%sens-field", type(d)._sx_type, name)]


def _structure_difference(like, v):
    """None if v has the structure of like (tuples, records, array shapes;
    %zero fits anything); else ``(path, part of like, part of v)`` for the
    first place they differ, path as ``[0].x`` ("" at the top)."""
    stack = [("", like, v)]
    while stack:
        path, a, b = stack.pop()
        if b is ZERO:
            continue
        ta, tb = type(a), type(b)
        if ta is tuple:
            if tb is not tuple or len(a) != len(b):
                return path, a, b
            stack.extend((f"{path}[{i}]", x, y) for i, x, y in
                         reversed(list(zip(range(len(a)), a, b))))
        elif isinstance(a, Record):
            if tb is not ta:
                return path, a, b
            stack.extend((f"{path}.{f}", x, y) for f, x, y in
                         reversed(list(zip(ta._sx_type.fields, a._values, b._values))))
        elif ta is np.ndarray:
            if tb is not np.ndarray or a.shape != b.shape:
                return path, a, b
        elif ta in (int, float, bool, np.float32):
            if tb not in (int, float, bool, np.float32) and not (
                    tb is np.ndarray and b.ndim == 0):
                return path, a, b
    return None


@prim("%check-like", 3)
def _check_like(like, v, what):
    """v, if it has the structure of like (tuples, records, array shapes); an
    SxGradError naming what, and where they differ, otherwise."""
    diff = _structure_difference(like, v)
    if diff is not None:
        path, a, b = diff
        where = f": at {path}, expected {type_name(a)}" if path else ""
        raise SxGradError(f"{what} must have the structure of {type_name(like)}{where}, "
                          f"got {type_name(b)}")
    return v


@prim("%check-tuple", 3)
def _check_tuple(v, n, what):
    """v, if it is a tuple of n elements (an SxGradError naming what otherwise)."""
    _expect(type(n) is int, "%check-tuple", "an integer length", n)
    if type(v) is not tuple or len(v) != n:
        raise SxGradError(f"{what} must be a tuple of {n} (one per argument), "
                          f"got {type_name(v)}")
    return v


@prim("%grad-seed", 2)
def _grad_seed(y, f):
    """The sensitivity that starts grad: 1 of the type of the scalar y (%zero
    for an integer or boolean y); an error naming function f otherwise, at
    the call of %grad-seed (the interpreter gives it the span of the (grad f)
    form, or of the call of the gradient function)."""
    t = type(y)
    if t is float:
        return 1.0
    if t is np.float32:
        return np.float32(1.0)
    if t is int or t is bool:
        return ZERO
    if t is np.ndarray and y.ndim == 0:
        return np.ones_like(y) if y.dtype in _FLOATS else ZERO
    raise SxGradError(f"grad needs a function whose output is a scalar, got {type_name(y)} "
                      f"from {_function_name(f)} (use vjp for other outputs)")


def _function_name(f):
    """The user's name of the function whose J-transform is ``f`` (``f%J``
    is ``f``), or "the function" for an anonymous one."""
    code = getattr(f, "code", None)
    base = code.name.split("%")[0] if code is not None else ""
    return "the function" if base in ("fn", "<expr>", "") else base


@prim("%check-data", 3)
def _check_data(y, f, what):
    """y, the output of the function f given to what (jvp, vjp), if no
    function is part of it (those give the output back, and a function's
    J-transform is not the function); an SxGradError otherwise."""
    stack = [("", y)]
    while stack:
        path, v = stack.pop()
        t = type(v)
        if t in (Closure, Prim, RecordType):
            inside = f" with a function at {path}" if path else ""
            raise SxGradError(f"{what} needs a function whose output is numbers, arrays, "
                              f"tuples or records, got {type_name(y)}{inside} from "
                              f"{_function_name(f)}")
        if t is tuple:
            stack.extend((f"{path}[{i}]", x) for i, x in reversed(list(enumerate(v))))
        elif isinstance(v, Record):
            stack.extend((f"{path}.{n}", x) for n, x in
                         reversed(list(zip(t._sx_type.fields, v._values))))
    return y


@prim("%param-index", 2)
def _param_index(f, k):
    """1 + the position of the parameter named by keyword k in function f's
    parameters (where its backpropagator puts that parameter's sensitivity)."""
    code = getattr(f, "code", None)
    names = code.param_names if code is not None else ()
    if type(k) is not Keyword or k.name not in names:
        raise SxTypeError(f"{getattr(f, 'name', type_name(f))} has no parameter named "
                          f"{getattr(k, 'name', k)}")
    return 1 + names.index(k.name)


# -- arrays: undoing broadcasting and reductions ---------------------------------------------

def _sum_to(d, shape):
    extra = d.ndim - len(shape)
    if extra < 0:
        raise SxShapeError(f"unbroadcast: a sensitivity of shape {d.shape} does not "
                           f"broadcast from shape {shape}")
    if extra:
        d = d.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and d.shape[i] != 1)
    if axes:
        d = d.sum(axis=axes, keepdims=True)
    if d.shape != shape:
        raise SxShapeError(f"unbroadcast: a sensitivity of shape {d.shape} does not "
                           f"broadcast from shape {shape}")
    return d


def unbroadcast(d, x):
    """The sensitivity of argument x from d, the sensitivity of an elementwise
    result: summed down to x's shape (undoing broadcasting), of x's dtype,
    %zero for an integer or boolean x; element by element for tuples."""
    if d is ZERO:
        return ZERO
    t = type(x)
    if t is tuple:
        _expect(type(d) is tuple and len(d) == len(x), "unbroadcast",
                f"a tuple of {len(x)}", d)
        return tuple(map(unbroadcast, d, x))
    if _carries_none(x):
        return ZERO
    _expect(t is float or t is np.float32 or t is np.ndarray, "unbroadcast",
            "a number, an array or a tuple as argument 2", x)
    _expect(_numeric(d), "unbroadcast", "a numeric sensitivity", d)
    if t is np.ndarray:
        d = np.asarray(d)
        return _sum_to(d, x.shape).astype(x.dtype, copy=False)
    total = d.sum() if type(d) is np.ndarray else d
    return np.float32(total) if t is np.float32 else float(total)


prim("unbroadcast", 2)(unbroadcast)


@prim("unreduce", 4)
def _unreduce(d, x, axis, keepdims):
    """Broadcast the sensitivity d of a reduction of x over axis back to x's
    shape (%zero for an integer x)."""
    if d is ZERO or _carries_none(x):
        return ZERO
    if type(x) is not np.ndarray:
        return d
    _expect(_numeric(d), "unreduce", "a numeric sensitivity", d)
    _expect(type(keepdims) is bool, "unreduce", "True or False for keepdims", keepdims)
    if axis is not None:
        check_axis(axis, x.ndim, "unreduce")
    d = np.asarray(d)
    try:
        if axis is not None and not keepdims:
            axes = axis if type(axis) is tuple else (axis,)
            d = np.expand_dims(d, tuple(a % x.ndim for a in axes))
        return np.broadcast_to(d, x.shape).astype(x.dtype)
    except (ValueError, TypeError):
        raise SxShapeError(f"unreduce: a sensitivity of shape {d.shape} does not come from "
                           f"reducing shape {x.shape} over axis {axis}") from None


@prim("split-like", 3)
def _split_like(d, xs, axis):
    """Cut d (the sensitivity of a concatenation along axis) into the
    sensitivities of the pieces xs (%zero for integer pieces)."""
    if d is ZERO or xs is ZERO:
        return ZERO
    _expect(type(xs) is tuple and xs, "split-like", "a non-empty tuple of pieces", xs)
    if all(type(x) is tuple for x in xs):
        n = sum(map(len, xs))
        _expect(type(d) is tuple and len(d) == n, "split-like", f"a tuple of {n} to split", d)
        out, i = [], 0
        for x in xs:
            out.append(d[i:i + len(x)])
            i += len(x)
        return tuple(out)
    _expect(type(d) is np.ndarray and all(type(x) is np.ndarray and x.ndim for x in xs),
            "split-like", "an array and a tuple of arrays", d)
    _expect(type(axis) is int, "split-like", "an integer axis", axis)
    check_axis(axis, d.ndim, "split-like")
    _expect(all(x.ndim == d.ndim for x in xs)
            and sum(x.shape[axis] for x in xs) == d.shape[axis],
            "split-like", "a sensitivity shaped like the concatenation of the pieces", d)
    bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
    return tuple(ZERO if _carries_none(x) else p.astype(x.dtype, copy=False)
                 for x, p in zip(xs, np.split(d, bounds, axis=axis)))


@prim("join-like", 3)
def _join_like(ds, xs, axis):
    """Concatenate the sensitivities ds of the pieces xs along axis (%zero
    pieces as zeros): the adjoint of split-like."""
    if ds is ZERO or xs is ZERO:
        return ZERO
    _expect(type(ds) is tuple and type(xs) is tuple and len(ds) == len(xs) and xs,
            "join-like", "two tuples of the same length", ds)
    if all(type(x) is tuple for x in xs):
        _expect(all(d is ZERO or (type(d) is tuple and len(d) == len(x))
                    for d, x in zip(ds, xs)),
                "join-like", "tuple sensitivities as long as their pieces", ds)
        return tuple(v for d, x in zip(ds, xs) for v in sens_fill(d, x))
    _expect(all(type(x) is np.ndarray for x in xs), "join-like",
            "pieces that are all tuples or all arrays", xs)
    parts = [_zeros_for(x) if d is ZERO else d for d, x in zip(ds, xs)]
    _expect(all(type(p) is np.ndarray and p.ndim and _numeric(p) for p in parts), "join-like",
            "array sensitivities of rank >= 1", ds)
    _expect(type(axis) is int, "join-like", "an integer axis", axis)
    check_axis(axis, parts[0].ndim, "join-like")
    try:
        return np.concatenate(parts, axis=axis)
    except ValueError:
        raise SxShapeError("join-like: sensitivities of shapes "
                           f"{' '.join(type_name(p) for p in parts)} do not concatenate "
                           f"along axis {axis}") from None


def _zeros_for(like):
    return np.zeros(like.shape, like.dtype if like.dtype in _FLOATS else np.float64)


@prim("sens-index", 3)
def _sens_index(like, idx, v):
    """Zeros shaped like array like, with v at index tuple idx (the adjoint of
    get on arrays)."""
    if v is ZERO or like is ZERO:
        return ZERO
    if type(like) is not np.ndarray or type(idx) is not tuple:
        raise SxTypeError(f"sens-index expects an array and an index tuple, got "
                          f"{type_name(like)} and {type_name(idx)}")
    if len(idx) > like.ndim:
        raise SxShapeError(f"sens-index: {len(idx)} indices for an array of rank {like.ndim}")
    for k, i in enumerate(idx):
        check_index("sens-index", like.shape[k], i, f"axis {k} of an array")
    _expect(_numeric(v), "sens-index", "a numeric sensitivity", v)
    out = _zeros_for(like)
    try:
        out[idx] = v
    except ValueError:
        raise SxShapeError(f"sens-index: a sensitivity {type_name(v)} does not fit "
                           f"index {idx} of {type_name(like)}") from None
    return out


@prim("sens-cut", 4)
def _sens_cut(like, start, end, v):
    """A sensitivity shaped like tuple or array like: v in [start, end), zero
    elsewhere (the adjoint of cut)."""
    if v is ZERO or like is ZERO:
        return ZERO
    for b in (start, end):
        _expect(b is None or type(b) is int, "sens-cut", "integer bounds or None", b)
    if type(like) is tuple:
        n = len(range(len(like))[start:end])
        _expect(type(v) is tuple and len(v) == n, "sens-cut", f"a tuple sensitivity of {n}", v)
        out = [ZERO] * len(like)
        out[start:end] = v
        return tuple(out)
    _expect(type(like) is np.ndarray and like.ndim > 0, "sens-cut",
            "a tuple or an array of rank >= 1 to shape it", like)
    _expect(_numeric(v), "sens-cut", "a numeric sensitivity", v)
    out = _zeros_for(like)
    try:
        out[start:end] = v
    except ValueError:
        raise SxShapeError(f"sens-cut: a sensitivity {type_name(v)} does not fit "
                           f"[{start}, {end}) of {type_name(like)}") from None
    return out


# -- buffers: what a differentiated loop saves for its backward pass ----------------------------

@prim("%buf-new", 0, differentiable=False)
def _buf_new():
    """A new empty buffer."""
    return Buffer([], 0)


def _buffer(who, b):
    _expect(type(b) is Buffer, who, "a buffer", b)
    return b


@prim("%buf-push", 2)
def _buf_push(b, x):
    """Buffer b with x added at its end."""
    return _buffer("%buf-push", b).push(x)


@prim("%buf-pop", 1)
def _buf_pop(b):
    """[rest last]: the buffer without its last element, and that element."""
    if _buffer("%buf-pop", b).n == 0:
        raise SxRuntimeError("%buf-pop of an empty buffer")
    rest, last = b.pop()
    if last is ZERO and b.like is not None:
        last = zeros_like(_element_of(b.like, b.n - 1))   # the zero of what it stands for
    return rest, last


def _element_of(b, i):
    """Element ``i`` of buffer ``b``, through the buffers zero prefixes stand for."""
    while i < b.base and b.like is not None:
        b = b.like
    return b.element(i)


@prim("%buf-len", 1)
def _buf_len(b):
    """The number of elements of buffer b."""
    return _buffer("%buf-len", b).n
