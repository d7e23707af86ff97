"""The type and shape rule of every primitive (``Prim.type_rule``).

A rule gets ``(ctx, args, kw)``: the types (:mod:`myia_sx.types`) of the
positional arguments, of the keyword arguments by name (defaults filled in)
and an object through which differentiation's primitives ask inference for
the J-transform of a function's code (``ctx.j``, ``ctx.j_shallow``,
``ctx.make``).  It returns the type of the result, or raises an SxError
without a span (a ``PrimShapeError`` for shapes: inference says where, with
the form's text).  Every rule mirrors its implementation, and a property test
(tests/test_type_rules.py) checks each against it on random inputs.

When every argument's value is known, a rule's result is the implementation's
value (constant folding: a tuple index, a shape, a type test, a comparison
that decides a branch), unless running it fails: then only the type is kept,
for the error belongs to the run, not to inference.
"""

from __future__ import annotations

import functools

from .. import dtypes
from ..errors import SxError, SxGradError, SxTypeError
from ..forms import Form, Keyword, Symbol, Vec, user_name
from ..types import (BOTTOM, UNKNOWN, ArrayT, BufferT, CtorT, FnT, JoinError, NoneT, PrimT,
                     RecordT, Scalar, SumT, TupleT, UnionT, ZeroT, describe, flat, join,
                     join_results, memo, widen)
from .table import PRIMS, PrimShapeError

NUMBER_KINDS = ("i64", "f64", "f32")


def rule(*names):
    """Register the decorated function as the type rule of ``names``."""
    def deco(fn):
        for name in names:
            PRIMS[name].type_rule = fn
        return fn
    return deco


# -- known values ----------------------------------------------------------------------------

def value_of(t):
    """The value of type ``t`` if it is known, else UNKNOWN."""
    if type(t) is Scalar:
        return t.value
    if t is NoneT:
        return None
    if type(t) is TupleT:
        vals = [value_of(i) for i in t.items]
        return UNKNOWN if any(v is UNKNOWN for v in vals) else tuple(vals)
    return UNKNOWN


def typed(v):
    """The type of a known Python value (with its value)."""
    t = type(v)
    if t is bool:
        return Scalar("bool", v)
    if t is int:
        return Scalar("i64", v)
    if t is float:
        return Scalar("f64", v)
    if v is None:
        return NoneT
    if t is tuple:
        return TupleT(map(typed, v))
    if t is str:
        return Scalar("str", v)
    if t is Keyword:
        return Scalar("kw", v)
    if t is Symbol:
        return Scalar("sym", v)
    if t is Form or t is Vec:
        return Scalar("form", v)
    return None


def folded(name, args, kw=None):
    """The known result of primitive ``name`` on known arguments, or None."""
    vals = [value_of(a) for a in args]
    kvals = {k: value_of(v) for k, v in (kw or {}).items()}
    if any(v is UNKNOWN for v in vals) or any(v is UNKNOWN for v in kvals.values()):
        return None
    try:
        out = PRIMS[name].impl(*vals, **kvals) if kvals else PRIMS[name].impl(*vals)
    except SxError:
        return None
    return typed(out)


# -- numbers and arrays ---------------------------------------------------------------------

def numeric(name, t, k):
    """``(dtype, weak, shape)`` of a number or numeric array (shape None for a scalar)."""
    if type(t) is Scalar and t.kind in NUMBER_KINDS:
        return t.kind, t.kind != "f32", None
    if type(t) is ArrayT and t.dtype in NUMBER_KINDS:
        return t.dtype, False, t.shape
    raise SxTypeError(f"{name} expects numbers or numeric arrays, got {describe(t)} as argument {k}")


def shape_text(shape):
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def broadcast(name, a, b):
    """The broadcast of shapes ``a`` and ``b`` (unknown dimensions: None)."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif x is None or y is None:
            out.append(x if y is None else y)
        else:
            raise PrimShapeError(f"{shape_text(a)} {name} {shape_text(b)}")
    return tuple(reversed(out))


def result(dtype, shape, strong):
    """A scalar of ``dtype`` (a Python one unless ``strong``), or an array."""
    if shape is None:
        return Scalar(dtype if dtype != "bool" else "bool") if not strong or dtype != "f32" \
            else Scalar("f32")
    return ArrayT(dtype, shape)


def elementwise(name, args, dtype_rule):
    parts = [numeric(name, a, k) for k, a in enumerate(args, 1)]
    dtype = dtype_rule(*[(d, w) for d, w, _ in parts])
    shapes = [s for _, _, s in parts if s is not None]
    if not shapes:
        return Scalar(dtype)
    shape = shapes[0]
    for s in shapes[1:]:
        shape = broadcast(name, shape, s)
    return ArrayT(dtype, shape) if shape else Scalar(dtype)   # rank 0: a scalar


def _arith(name, dtype_rule=dtypes.promote):
    @rule(name)
    def r(ctx, args, kw):
        return folded(name, args) or elementwise(name, args, dtype_rule)


for _n in ("+", "-", "*", "//", "%", "**"):
    _arith(_n)
_arith("/", dtypes.true_divide)


def _unary(name, dtype_rule):
    @rule(name)
    def r(ctx, args, kw):
        return folded(name, args) or elementwise(name, args, dtype_rule)


for _n in ("neg", "abs"):
    _unary(_n, lambda a: a[0])
for _n in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt"):
    _unary(_n, dtypes.unary_math)


def cast_array(name, t, dtype):
    """The type of a cast of array ``t`` (astype: a rank-0 array stays an array)."""
    numeric(name, t, 1)
    return ArrayT(dtype, t.shape)


@rule("float")
def _float(ctx, args, kw):
    t = args[0]
    if type(t) is Scalar and t.kind == "bool" or type(t) is ArrayT and t.dtype == "bool":
        return Scalar("f64") if type(t) is Scalar else ArrayT("f64", t.shape)
    if type(t) is ArrayT:
        return cast_array("float", t, "f64")
    return folded("float", args) or elementwise("float", args, lambda a: "f64")


@rule("int")
def _int(ctx, args, kw):
    if type(args[0]) is ArrayT:
        return cast_array("int", args[0], "i64")
    return folded("int", args) or elementwise("int", args, lambda a: "i64")


@rule("f32")
def _f32(ctx, args, kw):
    if type(args[0]) is ArrayT:
        return cast_array("f32", args[0], "f32")
    out = elementwise("f32", args, lambda a: "f32")
    return Scalar("f32") if type(out) is Scalar else out


def _comparison(ctx, args, kw, name, kinds=NUMBER_KINDS):
    """Numbers or arrays of ``kinds`` (``<``: no bools; ``=``: bools too)."""
    a, b = args
    for k, t in enumerate(args, 1):
        if not (type(t) is Scalar and t.kind in kinds or type(t) is ArrayT and t.dtype in kinds):
            raise SxTypeError(f"comparison expects numbers, got {describe(t)} as argument {k}")
    shapes = [t.shape for t in (a, b) if type(t) is ArrayT]
    if not shapes:
        return Scalar("bool")
    shape = shapes[0]
    for s in shapes[1:]:
        shape = broadcast(name, shape, s)
    return ArrayT("bool", shape) if shape else Scalar("bool")


def _compare_rule(name):
    @rule(name)
    def r(ctx, args, kw):
        return folded(name, args) or _comparison(ctx, args, kw, name)


for _n in ("<", "<=", ">", ">="):
    _compare_rule(_n)


def _eq_rule(name):
    @rule(name)
    def r(ctx, args, kw):
        if any(type(t) is ArrayT for t in args):
            return _comparison(ctx, args, kw, name, NUMBER_KINDS + ("bool",))
        return folded(name, args) or Scalar("bool")


_eq_rule("=")
_eq_rule("!=")


@rule("not")
def _not(ctx, args, kw):
    t = args[0]
    if type(t) is Scalar and t.kind == "bool":
        return folded("not", args) or Scalar("bool")
    if type(t) is ArrayT and t.dtype == "bool":
        return t if t.rank else Scalar("bool")
    raise SxTypeError(f"not expects a bool, got {describe(t)}")


def _axes(name, axis, rank):
    v = value_of(axis)
    if v is None:
        return tuple(range(rank))
    if v is UNKNOWN:
        raise SxTypeError(f":axis of {name} must be known when the program is compiled")
    axes = v if type(v) is tuple else (v,)
    for a in axes:
        if type(a) is not int:
            raise SxTypeError(f":axis of {name} must be an integer or a tuple of integers")
        if not -rank <= a < rank:
            raise PrimShapeError(f"axis {a} out of range for an array of rank {rank}")
    if len({a % rank for a in axes}) != len(axes):
        raise PrimShapeError(f"repeated axis in :axis {v}")
    return tuple(sorted(a % rank for a in axes))


def reduce(name, x, axis, keepdims):
    if type(x) is not ArrayT or x.dtype not in NUMBER_KINDS:
        raise SxTypeError(f"{name} with one argument reduces an array, got {describe(x)}")
    dtype = dtypes.reduction(name, (x.dtype, False))
    axes = _axes(name, axis, x.rank)
    keep = value_of(keepdims)
    if keep is UNKNOWN:
        raise SxTypeError(f":keepdims of {name} must be known when the program is compiled")
    if type(keep) is not bool:
        raise SxTypeError(f":keepdims of {name} must be True or False, got {describe(keepdims)}")
    if keep:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return ArrayT(dtype, shape) if shape else Scalar(dtype)


@rule("sum")
def _sum(ctx, args, kw):
    return reduce("sum", args[0], kw["axis"], kw["keepdims"])


@rule("mean")
def _mean(ctx, args, kw):
    return reduce("mean", args[0], kw["axis"], kw["keepdims"])


@rule("argmax")
def _argmax(ctx, args, kw):
    x = args[0]
    if type(x) is not ArrayT or x.dtype not in NUMBER_KINDS:
        raise SxTypeError(f"argmax expects an array of numbers, got {describe(x)}")
    axis = value_of(kw["axis"])
    if axis is not None and axis is not UNKNOWN and type(axis) is not int:
        raise SxTypeError(f":axis of argmax must be an integer, got {describe(kw['axis'])}")
    axes = _axes("argmax", kw["axis"], x.rank)
    if any(d == 0 for d in x.shape):
        raise SxTypeError("argmax of an empty array")
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return ArrayT("i64", shape) if shape else Scalar("i64")


def _minmax(name):
    @rule(name)
    def r(ctx, args, kw):
        if len(args) == 1:
            return reduce(name, args[0], kw["axis"], kw["keepdims"])
        axis, keep = value_of(kw["axis"]), value_of(kw["keepdims"])
        if axis is not UNKNOWN and axis is not None or keep is not UNKNOWN and keep is not False:
            raise SxTypeError(f"{name} of two values takes no :axis or :keepdims")
        return folded(name, args) or elementwise(name, args, dtypes.promote)


_minmax("max")
_minmax("min")


# -- arrays ------------------------------------------------------------------------------------

def array_of(name, t, k=1):
    if type(t) is not ArrayT:
        raise SxTypeError(f"{name} expects an array as argument {k}, got {describe(t)}")
    return t


@rule("@")
def _matmul(ctx, args, kw):
    a, b = (array_of("@", t, k) for k, t in enumerate(args, 1))
    for k, t in enumerate(args, 1):
        numeric("@", t, k)
    dtype = dtypes.promote((a.dtype, False), (b.dtype, False))
    if a.rank == 0 or b.rank == 0:
        raise PrimShapeError(f"{shape_text(a.shape)} @ {shape_text(b.shape)}: @ needs rank >= 1")
    sa = a.shape if a.rank > 1 else (1,) + a.shape
    sb = b.shape if b.rank > 1 else b.shape + (1,)
    k1, k2 = sa[-1], sb[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise PrimShapeError(f"{shape_text(a.shape)} @ {shape_text(b.shape)}")
    batch = broadcast("@", sa[:-2], sb[:-2])
    shape = batch + (sa[-2],) * (a.rank > 1) + (sb[-1],) * (b.rank > 1)
    return ArrayT(dtype, shape) if shape else Scalar(dtype)


def shape_value(name, t):
    """The dimensions of a shape argument (an int or a tuple of ints; None for unknown)."""
    if type(t) is Scalar and t.kind == "i64":
        return (t.value if t.known() else None,)
    if type(t) is TupleT and all(type(i) is Scalar and i.kind == "i64" for i in t.items):
        return tuple(i.value if i.known() else None for i in t.items)
    raise SxTypeError(f"{name} expects a shape (a tuple of integers), got {describe(t)}")


def dtype_kw(name, t, default):
    """The dtype named by :dtype ``t`` (a keyword, or a string as the implementations take)."""
    v = value_of(t)
    if v is None:
        return default
    key = v.name if type(t) is Scalar and t.kind == "kw" else v if type(v) is str else None
    if key not in ("f64", "f32", "i64"):
        raise SxTypeError(f":dtype of {name} must be :f64, :f32 or :i64")
    return key


def alloc_shape(name, t):
    """The dimensions of the shape of a new array (known ones not negative)."""
    dims = shape_value(name, t)
    if any(d is not None and d < 0 for d in dims):
        raise PrimShapeError(f"negative dimension in shape {shape_text(dims)}")
    return dims


@rule("zeros", "ones")
def _zeros(ctx, args, kw):
    return ArrayT(dtype_kw("zeros", kw["dtype"], "f64"), alloc_shape("zeros", args[0]))


def _conv_types(name, *named):
    for k, (t, what) in enumerate(named, 1):
        if not (type(t) is ArrayT and t.dtype in ("f64", "f32") and t.rank == 4):
            raise SxTypeError(f"{name} expects {what} (a float array of rank 4) as argument "
                              f"{k}, got {describe(t)}")
    dtype = named[0][0].dtype
    for t, _ in named[1:]:
        dtype = dtypes.promote((dtype, False), (t.dtype, False))
    return dtype


def _conv_shape(name, x, w, out=None):
    """The output shape of conv2d of images of shape x with filters of shape w
    (None for an unknown dimension); a known mismatch is an error."""
    n, h, wd, c = x
    kh, kw, c2, f = w

    def fits(a, b):
        return a is None or b is None or a == b

    def less(a, b):
        return None if a is None or b is None else a - b + 1
    shape = (n, less(h, kh), less(wd, kw), f)
    if not fits(c, c2) or any(d is not None and d < 1 for d in shape[1:3]):
        raise PrimShapeError(f"{name}: images {shape_text(x)} and filters {shape_text(w)} "
                             "(channels must agree, the filter fit)")
    if out is not None and not all(map(fits, out, shape)):
        raise PrimShapeError(f"{name}: a sensitivity of shape {shape_text(out)} where the "
                             f"output's is {shape_text(shape)}")
    return shape


@rule("conv2d")
def _conv2d(ctx, args, kw):
    x, w = args
    dtype = _conv_types("conv2d", (x, "images"), (w, "filters"))
    return ArrayT(dtype, _conv_shape("conv2d", x.shape, w.shape))


def _conv_adjoint(name, roles):
    """The rule of an adjoint of conv2d whose arguments play ``roles`` (the
    last one, like, gives the result's shape)."""
    @rule(name)
    def r(ctx, args, kw):
        dtype = _conv_types(name, *zip(args, roles))
        part = dict(zip(roles, args))
        _conv_shape(name, part["images"].shape, part["filters"].shape,
                    part["an output sensitivity"].shape)
        return ArrayT(dtype, args[2].shape)


_conv_adjoint("conv2d-grad-x", ("an output sensitivity", "filters", "images"))
_conv_adjoint("conv2d-grad-w", ("images", "an output sensitivity", "filters"))


@rule("arange")
def _arange(ctx, args, kw):
    n = args[0]
    if not (type(n) is Scalar and n.kind == "i64"):
        raise SxTypeError(f"arange expects an integer, got {describe(n)}")
    return ArrayT("i64", alloc_shape("arange", n))


@rule("threefry2x32")
def _threefry(ctx, args, kw):
    key, counts = args
    if not (type(key) is ArrayT and key.dtype == "i64" and key.rank == 1 and
            key.shape[0] in (2, None)):
        raise SxTypeError(f"threefry2x32 expects a key (an i64 array of 2 uint32 values), got "
                          f"{describe(key)}")
    if not (type(counts) is ArrayT and counts.dtype == "i64" and counts.rank == 1):
        raise SxTypeError(f"threefry2x32 expects counters (an i64 array of uint32 values), got "
                          f"{describe(counts)}")
    return counts


@rule("full")
def _full(ctx, args, kw):
    v = args[1]
    if not (type(v) is Scalar and v.kind in NUMBER_KINDS):
        raise SxTypeError(f"expected a number, got {describe(v)}")
    return ArrayT(dtype_kw("full", kw["dtype"], v.kind), alloc_shape("full", args[0]))


def nesting(t, memo):
    """``(shape, kinds, bad)`` of nested tuple type ``t``: its dimensions (None
    if the tuples nest raggedly), the kinds of its leaves and a leaf that is
    not a number (or None); ``memo`` by type, for tuples that share parts."""
    k = t.key()
    got = memo.get(k)
    if got is not None:
        return got
    if type(t) is not TupleT:
        number = type(t) is Scalar and t.kind in NUMBER_KINDS
        got = ((), frozenset([t.kind]) if number else frozenset(), None if number else t)
    else:
        parts = [nesting(i, memo) for i in t.items]
        dims = {p[0] for p in parts}
        inner = dims.pop() if len(dims) == 1 else () if not dims else None
        got = (None if inner is None or None in dims else (len(t.items),) + inner,
               frozenset().union(*(p[1] for p in parts)),
               next((p[2] for p in parts if p[2] is not None), None))
    memo[k] = got
    return got


@rule("array")
def _array(ctx, args, kw):
    shape, kinds, bad = nesting(args[0], {})
    if not kinds and bad is None:
        raise SxTypeError("array needs at least one element")
    if bad is not None:
        raise SxTypeError(f"array elements must be numbers, got {describe(bad)}")
    if shape is None:
        raise PrimShapeError("nested tuples of different lengths")
    default = "f64" if kinds - {"i64"} else "i64"
    return ArrayT(dtype_kw("array", kw["dtype"], default), shape)


@rule("shape")
def _shape(ctx, args, kw):
    a = array_of("shape", args[0])
    return TupleT(Scalar("i64", d) if d is not None else Scalar("i64") for d in a.shape)


@rule("size")
def _size(ctx, args, kw):
    t = args[0]
    if type(t) is ArrayT:
        known = all(d is not None for d in t.shape)
        n = 1
        for d in t.shape:
            n *= d or 1
        return Scalar("i64", n) if known else Scalar("i64")
    numeric("size", t, 1)
    return Scalar("i64", 1)


@rule("reshape")
def _reshape(ctx, args, kw):
    a = array_of("reshape", args[0])
    dims = shape_value("reshape", args[1])
    # numpy takes any negative dimension for the one it computes
    dims = tuple(-1 if d is not None and d < 0 else d for d in dims)
    if dims.count(-1) > 1:
        raise PrimShapeError(f"cannot reshape {shape_text(a.shape)} to {tuple(dims)}: "
                             "more than one unknown dimension")
    if -1 in dims and all(d is not None for d in a.shape) and \
            all(d is not None for d in dims):
        total = 1
        for d in a.shape:
            total *= d
        rest = 1
        for d in dims:
            rest *= d if d != -1 else 1
        if rest == 0 or total % rest:
            raise PrimShapeError(f"cannot reshape {shape_text(a.shape)} to {tuple(dims)}")
        dims = tuple(total // rest if d == -1 else d for d in dims)
    elif -1 in dims:
        dims = tuple(None if d == -1 else d for d in dims)
    elif all(d is not None for d in a.shape + dims):
        n = m = 1
        for d in a.shape:
            n *= d
        for d in dims:
            m *= d
        if n != m:
            raise PrimShapeError(f"cannot reshape {shape_text(a.shape)} to {tuple(dims)}")
    return ArrayT(a.dtype, dims)


@rule("transpose")
def _transpose(ctx, args, kw):
    a = array_of("transpose", args[0])
    axes = value_of(kw["axes"])
    if axes is None:
        return ArrayT(a.dtype, tuple(reversed(a.shape)))
    if axes is UNKNOWN:
        raise SxTypeError(":axes of transpose must be known when the program is compiled")
    if type(axes) is not tuple or not all(type(i) is int for i in axes):
        raise SxTypeError(f":axes of transpose must be a tuple of integers, got "
                          f"{describe(kw['axes'])}")
    if sorted(axes) != list(range(a.rank)):
        raise PrimShapeError(f":axes {axes} is not a permutation of {a.rank} axes")
    return ArrayT(a.dtype, tuple(a.shape[i] for i in axes))


@rule("where")
def _where(ctx, args, kw):
    c = args[0]
    if not (type(c) is Scalar and c.kind == "bool" or type(c) is ArrayT and c.dtype == "bool"):
        raise SxTypeError(f"where expects a bool array condition, got {describe(c)}")
    out = elementwise("where", args[1:], dtypes.promote)
    if type(c) is ArrayT:
        shape = broadcast("where", c.shape, out.shape if type(out) is ArrayT else ())
        dtype = out.dtype if type(out) is ArrayT else out.kind
        return ArrayT(dtype, shape) if shape else Scalar(dtype)
    return out


def index_array(name, a, idx):
    """The type of ``a`` indexed by the tuple of integer types ``idx``."""
    if len(idx) > a.rank:
        raise PrimShapeError(f"{len(idx)} indices for an array of rank {a.rank}")
    for i, d in zip(idx, a.shape):
        integer_index(name, i)
        if i.known() and d is not None and not -d <= i.value < d:
            raise SxTypeError(f"index {i.value} out of range for an axis of length {d}")
    rest = a.shape[len(idx):]
    return ArrayT(a.dtype, rest) if rest else Scalar(a.dtype if a.dtype != "f32" else "f32")


@rule("get-at")
def _get_at(ctx, args, kw):
    a, idx = args
    if type(idx) is not TupleT:
        raise SxTypeError(f"get-at expects a tuple of indices, got {describe(idx)}")
    return _get(ctx, [a, *idx.items], kw)


@rule("to-tuple")
def _to_tuple(ctx, args, kw):
    a = array_of("to-tuple", args[0])
    leaf = Scalar(a.dtype)
    t = leaf
    for d in reversed(a.shape):
        if d is None:
            raise SxTypeError("to-tuple needs the array's shape to be known")
        t = TupleT([t] * d)
    return t


# -- sequences ---------------------------------------------------------------------------------

@rule("tuple")
def _tuple(ctx, args, kw):
    return TupleT(args)


def integer_index(name, i):
    if not (type(i) is Scalar and i.kind == "i64"):
        raise SxTypeError(f"{name}: index must be an integer, got {describe(i)}")


def tuple_index(name, t, i):
    integer_index(name, i)
    n = len(t.items)
    if not i.known():
        out = t.items[0] if t.items else None
        try:
            for x in t.items[1:]:
                out = join(out, x)
        except JoinError:
            raise SxTypeError(f"{name} with an index not known when the program is compiled, "
                              f"on a tuple of items of different types: {describe(t)}") from None
        if out is None:
            raise SxTypeError(f"{name} of an empty tuple")
        return out
    if not -n <= i.value < n:
        raise SxTypeError(f"index {i.value} out of range for tuple of length {n}")
    return t.items[i.value]


@rule("get")
def _get(ctx, args, kw):
    x, idx = args[0], args[1:]
    if type(x) is TupleT:
        if len(idx) != 1:
            raise SxTypeError("get on a tuple takes one index")
        return tuple_index("get", x, idx[0])
    if type(x) is ArrayT:
        return index_array("get", x, idx)
    if type(x) is Scalar and x.kind == "form":
        if len(idx) != 1:
            raise SxTypeError("get on a form takes one index")
        integer_index("get", idx[0])
        return Scalar("form")
    raise SxTypeError(f"get expects a tuple, array or form, got {describe(x)}")


@rule("len")
def _len(ctx, args, kw):
    x = args[0]
    if type(x) is TupleT:
        return Scalar("i64", len(x.items))
    if type(x) is ArrayT:
        if x.rank == 0:
            raise PrimShapeError("len of a rank-0 array")
        return Scalar("i64", x.shape[0]) if x.shape[0] is not None else Scalar("i64")
    if type(x) is Scalar and x.kind in ("str", "form"):
        return folded("len", args) or Scalar("i64")
    raise SxTypeError(f"len expects a tuple, array or form, got {describe(x)}")


@rule("cut")
def _cut(ctx, args, kw):
    x = args[0]
    for b in args[1:]:
        if not (b is NoneT or type(b) is Scalar and b.kind == "i64"):
            raise SxTypeError(f"cut bounds must be integers or None, got {describe(b)}")
    bounds = [value_of(b) for b in args[1:]] + [None] * (3 - len(args))
    if type(x) is TupleT:
        if any(b is UNKNOWN for b in bounds):
            raise SxTypeError("cut of a tuple needs bounds known when the program is compiled")
        return TupleT(x.items[bounds[0]:bounds[1]])
    if type(x) is ArrayT:
        if x.rank == 0:
            raise PrimShapeError("cut of a rank-0 array")
        n = x.shape[0]
        if n is not None and all(b is not UNKNOWN for b in bounds):
            n = len(range(n)[bounds[0]:bounds[1]])
        else:
            n = None
        return ArrayT(x.dtype, (n,) + x.shape[1:])
    if type(x) is Scalar and x.kind == "form":
        return x
    raise SxTypeError(f"cut expects a tuple, array or form, got {describe(x)}")


@rule("concat")
def _concat(ctx, args, kw):
    if all(type(t) is TupleT for t in args):
        return TupleT(i for t in args for i in t.items)
    if all(type(t) is ArrayT for t in args):
        axis = value_of(kw["axis"])
        if type(axis) is not int:
            raise SxTypeError(":axis of concat must be an integer known when the program "
                              "is compiled")
        for k, t in enumerate(args, 1):
            numeric("concat", t, k)
        rank = args[0].rank
        if rank == 0 or any(t.rank != rank for t in args):
            raise PrimShapeError(" ++ ".join(shape_text(t.shape) for t in args))
        if not -rank <= axis < rank:
            raise PrimShapeError(f"axis {axis} out of range for an array of rank {rank}")
        axis %= rank
        dims = []
        for i in range(rank):
            ds = [t.shape[i] for t in args]
            if i == axis:
                dims.append(None if None in ds else sum(ds))
            else:
                known = {d for d in ds if d is not None}
                if len(known) > 1:
                    raise PrimShapeError(" ++ ".join(shape_text(t.shape) for t in args))
                dims.append(known.pop() if known else None)
        dtype = dtypes.promote(*[(t.dtype, False) for t in args])
        return ArrayT(dtype, dims)
    if type(args[0]) is Scalar and args[0].kind == "form" and \
            all(type(t) is TupleT or type(t) is Scalar and t.kind == "form" for t in args):
        return Scalar("form")
    raise SxTypeError("concat expects all arrays, all tuples or all forms, got "
                      + ", ".join(describe(t) for t in args))


@rule("first")
def _first(ctx, args, kw):
    x = args[0]
    if type(x) is TupleT:
        if not x.items:
            raise SxTypeError("first of an empty sequence")
        return x.items[0]
    if type(x) is Scalar and x.kind == "form":
        return x
    raise SxTypeError(f"first expects a form or tuple, got {describe(x)}")


@rule("rest")
def _rest(ctx, args, kw):
    x = args[0]
    if type(x) is TupleT:
        return TupleT(x.items[1:])
    if type(x) is Scalar and x.kind == "form":
        return x
    raise SxTypeError(f"rest expects a form or tuple, got {describe(x)}")


@rule("cons")
def _cons(ctx, args, kw):
    x, seq = args
    if type(seq) is TupleT:
        return TupleT((x,) + seq.items)
    if type(seq) is Scalar and seq.kind == "form":
        return seq
    raise SxTypeError(f"cons expects a form or tuple as argument 2, got {describe(seq)}")


@rule("record-values")
def _record_values(ctx, args, kw):
    r = args[0]
    if type(r) is not RecordT:
        raise SxTypeError(f"record-values expects a record, got {describe(r)}")
    return TupleT(r.items)


@rule("record-like")
def _record_like(ctx, args, kw):
    r, values = args
    if type(r) is not RecordT:
        raise SxTypeError(f"record-like expects a record as argument 1, got {describe(r)}")
    n = len(r.rtype.fields)
    if type(values) is not TupleT or len(values.items) != n:
        raise SxTypeError(f"record-like expects a tuple of {n} values (the fields of "
                          f"{r.rtype.name}) as argument 2, got {describe(values)}")
    return RecordT(r.rtype, values.items)


def _pred(name, test):
    @rule(name)
    def r(ctx, args, kw):
        return Scalar("bool", test(args[0]))


_pred("tuple?", lambda t: type(t) is TupleT)
_pred("record?", lambda t: type(t) is RecordT)
_pred("array?", lambda t: type(t) is ArrayT)
_pred("number?", lambda t: type(t) is Scalar and t.kind in NUMBER_KINDS)
_pred("bool?", lambda t: type(t) is Scalar and t.kind == "bool")
_pred("none?", lambda t: t is NoneT)
_pred("function?", lambda t: type(t) in (FnT, PrimT, CtorT, UnionT))


# -- forms (macros) -----------------------------------------------------------------------------

def is_kind(t, *kinds):
    return type(t) is Scalar and t.kind in kinds


@rule("list", "vector")
def _form(ctx, args, kw):
    return Scalar("form")


@rule("gensym")
def _gensym(ctx, args, kw):
    if args and not is_kind(args[0], "str", "sym"):
        raise SxTypeError(f"gensym expects a string or symbol, got {describe(args[0])}")
    return Scalar("form")


def _kind_rule(name, kinds, what, result):
    """The rule of a macro-time primitive whose first argument is one of ``kinds``."""
    @rule(name)
    def r(ctx, args, kw):
        if not is_kind(args[0], *kinds):
            raise SxTypeError(f"{name} expects {what}, got {describe(args[0])}")
        return Scalar(result)


_kind_rule("unhygienic", ("sym",), "a symbol", "form")
_kind_rule("name", ("sym", "kw"), "a symbol or keyword", "str")
_kind_rule("syntax-error", ("str",), "a message string", "form")


@rule("symbol")
def _symbol(ctx, args, kw):
    t = args[0]
    if not is_kind(t, "str") or t.value == "":
        raise SxTypeError(f"symbol expects a non-empty string, got {describe(t)}")
    return Scalar("form")


@rule("str")
def _str(ctx, args, kw):
    for t in args:
        if not is_kind(t, "str", "sym", "kw", "none", "bool", *NUMBER_KINDS):
            raise SxTypeError(f"str expects strings, symbols, keywords or numbers, "
                              f"got {describe(t)}")
    return Scalar("str")


def _form_pred(name, kind):
    @rule(name)
    def r(ctx, args, kw):
        t = args[0]
        return Scalar("bool") if type(t) is Scalar and t.kind == "form" else \
            Scalar("bool", type(t) is Scalar and t.kind == kind)


_form_pred("symbol?", "sym")
_form_pred("keyword?", "kw")
_form_pred("string?", "str")
_form_pred("list?", "list")
_form_pred("vector?", "vector")


# -- differentiation ---------------------------------------------------------------------------

@memo
def sens_type(t):
    """The type of the (filled) sensitivity of a value of type ``t``."""
    tt = type(t)
    if tt is Scalar:
        return Scalar(t.kind) if t.kind in ("f64", "f32") else ZeroT
    if tt is ArrayT:
        return t if t.dtype in ("f64", "f32") else ZeroT
    if tt is TupleT:
        return TupleT(map(sens_type, t.items))
    if tt is RecordT:
        return RecordT(t.rtype, map(sens_type, t.items))
    if tt is BufferT:
        return BufferT(sens_type(t.elem))
    if tt is FnT:
        return TupleT(sens_type(x) for _, x in t.captured)
    if tt in (PrimT, CtorT):
        return TupleT(())
    if tt is UnionT or tt is SumT:
        # the sensitivity of whichever member the value is: a sum where
        # the members' tuples cannot be joined
        return functools.reduce(join_results, map(sens_type, t.members))
    return ZeroT


@rule("%J")
def _j(ctx, args, kw):
    return ctx.j(args[0])


@rule("%J-shallow")
def _j_shallow(ctx, args, kw):
    return ctx.j_shallow(args[0])


def _maker(name, kind):
    @rule(name)
    def r(ctx, args, kw):
        wrt = value_of(kw["wrt"]) if "wrt" in kw else None
        if kind in ("grad", "value-and-grad") and wrt is UNKNOWN:
            raise SxGradError(f"{kind}: :wrt must be known when the program is compiled")
        return ctx.make(kind, args[0], wrt)


for _n, _k in (("%grad", "grad"), ("%value-and-grad", "value-and-grad"), ("%vjp", "vjp"),
               ("%jvp", "jvp")):
    _maker(_n, _k)


@rule("%closure-tuple")
def _closure_tuple(ctx, args, kw):
    return flat(args[0])


@rule("%zero?")
def _is_zero(ctx, args, kw):
    return Scalar("bool", args[0] is ZeroT)


def sum_member(s, n):
    """The member of sum ``s`` with ``n`` items (the one a sensitivity of the
    same value as a tuple of ``n`` is), or None."""
    fits = [m for m in s.members if len(m.items) == n]
    return fits[0] if len(fits) == 1 else None


@memo
def sens_add(a, b):
    if a is ZeroT:
        return b
    if b is ZeroT:
        return a
    if type(a) is SumT or type(b) is SumT:
        return _sens_add_sums(a, b)
    if type(a) is TupleT and type(b) is TupleT and len(a.items) == len(b.items):
        return TupleT(map(sens_add, a.items, b.items))
    if type(a) is RecordT and type(b) is RecordT and a.rtype is b.rtype:
        return RecordT(a.rtype, map(sens_add, a.items, b.items))
    if type(a) is BufferT and type(b) is BufferT:
        return BufferT(sens_add(a.elem, b.elem))
    out = elementwise("%sens+", [a, b], dtypes.promote)
    if type(out) is Scalar and (type(a) is ArrayT or type(b) is ArrayT):
        return ArrayT(out.kind, ())   # a rank-0 array's sensitivity stays an array
    return out


def _sens_add_sums(a, b):
    """Two sensitivities of one value, one or both a sum: the members of the
    same length are added (the value is one of them, whichever holds it)."""
    if type(a) is not SumT:
        a, b = b, a
    if type(b) is TupleT:
        m = sum_member(a, len(b.items))
        if m is None:
            raise SxTypeError(f"cannot add sensitivities {describe(a)} and {describe(b)}")
        return sens_add(m, b)
    if type(b) is not SumT:
        raise SxTypeError(f"cannot add sensitivities {describe(a)} and {describe(b)}")
    # a member of a with none of its length in b is not what the value is
    added = [m if n is None else sens_add(m, n)
             for m in a.members for n in [sum_member(b, len(m.items))]]
    return functools.reduce(join_results, added)


@rule("%sens+")
def _sens_add(ctx, args, kw):
    return sens_add(*args)


@rule("%zeros-like")
def _zeros_like(ctx, args, kw):
    return sens_type(args[0])


@memo
def sens_fill(d, like):
    """The type of ``(%sens-fill d like)``; where ``d`` or ``like`` is one of
    several members (a sum, a union), whichever it is."""
    if d is ZeroT or like is ZeroT:
        return sens_type(like)
    if type(d) is SumT:
        return functools.reduce(join_results, (sens_fill(m, like) for m in d.members))
    if type(like) is SumT or type(like) is UnionT:
        return functools.reduce(join_results, (sens_fill(d, w) for w in like.members))
    if type(d) is TupleT and type(like) is TupleT and len(d.items) == len(like.items):
        return TupleT(map(sens_fill, d.items, like.items))
    if type(d) is RecordT and type(like) is RecordT and d.rtype is like.rtype:
        return RecordT(d.rtype, map(sens_fill, d.items, like.items))
    if type(d) is TupleT and type(like) is FnT and len(d.items) == len(like.captured):
        return TupleT(map(sens_fill, d.items, (x for _, x in like.captured)))
    return d


@rule("%sens-fill")
def _sens_fill(ctx, args, kw):
    return sens_fill(*args)


def primal_zero(x):
    tt = type(x)
    if tt is TupleT:
        return TupleT(map(primal_zero, x.items))
    if tt is RecordT:
        return RecordT(x.rtype, map(primal_zero, x.items))
    if tt is Scalar and x.kind in ("i64", "f64", "f32", "bool"):
        return Scalar(x.kind)
    if tt is ArrayT:
        return x
    return NoneT


@rule("%sens-out")
def _sens_out(ctx, args, kw):
    return primal_zero(args[0])


@rule("%sens-get")
def _sens_get(ctx, args, kw):
    d, i = args
    if d is ZeroT:
        return ZeroT
    if type(d) is not TupleT:
        raise SxTypeError(f"%sens-get expects a tuple sensitivity, got {describe(d)}")
    return tuple_index("%sens-get", d, i)


@rule("%sens-at")
def _sens_at(ctx, args, kw):
    like, i, v = args
    if v is ZeroT or like is ZeroT:
        return ZeroT
    if type(like) is not TupleT:
        raise SxTypeError(f"%sens-at expects a tuple, got {describe(like)}")
    n = len(like.items)
    if not (type(i) is Scalar and i.kind == "i64") or i.known() and not -n <= i.value < n:
        raise SxTypeError(f"%sens-at expects an index into a tuple of {n}, got {describe(i)}")
    return sens_type(like)


def _field_index(who, rt, name):
    v = value_of(name)
    if type(v) is not Symbol or v.name not in rt.index:
        raise SxTypeError(f"{who} expects a field of {rt.name}, got {describe(name)}")
    return rt.index[v.name]


@rule("%field-sens")
def _field_sens(ctx, args, kw):
    r, name, v = args
    if v is ZeroT or r is ZeroT:
        return ZeroT
    if type(r) is not RecordT:
        raise SxTypeError(f"%field-sens expects a record, got {describe(r)}")
    items = [ZeroT] * len(r.items)
    items[_field_index("%field-sens", r.rtype, name)] = v
    return RecordT(r.rtype, items)


@rule("%sens-field")
def _sens_field(ctx, args, kw):
    d, name = args
    if d is ZeroT:
        return ZeroT
    if type(d) is not RecordT:
        raise SxTypeError(f"%sens-field expects a record sensitivity, got {describe(d)}")
    return d.items[_field_index("%sens-field", d.rtype, name)]


def structure_difference(like, v, path=""):
    """None if a value of type ``v`` may have the structure of one of type
    ``like`` (as ``%check-like`` compares them: tuples, records, array shapes;
    %zero fits anything); else ``(path, part of like, part of v)`` for the
    first place they differ."""
    if v is ZeroT:
        return None
    tl, tv = type(like), type(v)
    if tl is TupleT or tl is RecordT:
        if tv is not tl or len(v.items) != len(like.items) or \
                tl is RecordT and v.rtype is not like.rtype:
            return path, like, v
        names = like.rtype.fields if tl is RecordT else None
        for k, (a, b) in enumerate(zip(like.items, v.items)):
            diff = structure_difference(a, b, f"{path}.{names[k]}" if names else f"{path}[{k}]")
            if diff is not None:
                return diff
        return None
    if tl is ArrayT:
        if tv is not ArrayT or v.rank != like.rank or any(
                a is not None and b is not None and a != b for a, b in zip(like.shape, v.shape)):
            return path, like, v
        return None
    if is_kind(like, "bool", *NUMBER_KINDS):
        if not (is_kind(v, "bool", *NUMBER_KINDS) or tv is ArrayT and v.rank == 0):
            return path, like, v
    return None


@rule("%check-like")
def _check_like(ctx, args, kw):
    like, v, what = args
    diff = structure_difference(like, v)
    if diff is not None:
        path, a, b = diff
        where = f": at {path}, expected {describe(a)}" if path else ""
        raise SxGradError(f"{text_of(what)} must have the structure of {describe(like)}{where}, "
                          f"got {describe(b)}")
    return v


def text_of(what):
    """The name of the operation in string ``what`` (grad, vjp ...) for a message."""
    v = value_of(what)
    return v if type(v) is str else "a sensitivity"


@rule("%check-tuple")
def _check_tuple(ctx, args, kw):
    v, n = args[:2]
    if type(v) is not TupleT or value_of(n) != len(v.items):
        raise SxGradError(f"{value_of(args[2])} must be a tuple of {value_of(n)} (one per "
                          f"argument), got {describe(v)}")
    return v


@rule("%grad-seed")
def _grad_seed(ctx, args, kw):
    y = args[0]
    if type(y) is Scalar and y.kind in ("f64", "f32"):
        return Scalar(y.kind)
    if type(y) is Scalar and y.kind in ("i64", "bool"):
        return ZeroT
    if type(y) is ArrayT and y.rank == 0:
        return y if y.dtype in ("f64", "f32") else ZeroT
    raise SxGradError(f"grad needs a function whose output is a scalar, got {describe(y)}")


@rule("%param-index")
def _param_index(ctx, args, kw):
    f, k = args
    if not (is_kind(k, "kw") and k.known()):
        raise SxTypeError(f"a parameter is named by a keyword, got {describe(k)}")
    if type(f) is FnT:
        names = [user_name(p.name) for p in f.code.fn.items[1].items]
        if k.value.name in names:
            return Scalar("i64", 1 + names.index(k.value.name))
    raise SxTypeError(f"{describe(f)} has no parameter named {k.value.name}")


def numeric_sens(name, d):
    """Check that ``d`` is a sensitivity of numbers: a number or a numeric array."""
    if not (is_kind(d, *NUMBER_KINDS) or type(d) is ArrayT and d.dtype in NUMBER_KINDS):
        raise SxTypeError(f"{name} expects a numeric sensitivity, got {describe(d)}")


@rule("unbroadcast")
def _unbroadcast(ctx, args, kw):
    d, x = args
    if d is ZeroT:
        return ZeroT
    if type(x) is TupleT:
        if type(d) is not TupleT or len(d.items) != len(x.items):
            raise SxTypeError(f"unbroadcast expects a tuple of {len(x.items)}, got {describe(d)}")
        return TupleT(_unbroadcast(ctx, [di, xi], kw) for di, xi in zip(d.items, x.items))
    s = sens_type(x)
    if s is ZeroT:
        return ZeroT   # integers, booleans and non-numbers carry no sensitivity
    if type(x) is not ArrayT and not is_kind(x, "f64", "f32"):
        raise SxTypeError(f"unbroadcast expects a number, an array or a tuple as argument 2, "
                          f"got {describe(x)}")
    numeric_sens("unbroadcast", d)
    if type(x) is ArrayT:
        ds = d.shape if type(d) is ArrayT else ()
        fits = len(ds) >= x.rank and all(
            a is None or b is None or a == b or a == 1
            for a, b in zip(x.shape, ds[len(ds) - x.rank:]))
        if not fits:
            raise PrimShapeError(f"unbroadcast: a sensitivity of shape {shape_text(ds)} does "
                                 f"not broadcast from shape {shape_text(x.shape)}")
    return s


@rule("unreduce")
def _unreduce(ctx, args, kw):
    d, x = args[0], args[1]
    if d is ZeroT:
        return ZeroT
    s = sens_type(x)
    if type(x) is ArrayT and s is not ZeroT:
        numeric_sens("unreduce", d)
    return s if type(x) is ArrayT or s is ZeroT else d


@rule("split-like")
def _split_like(ctx, args, kw):
    d, xs = args[0], args[1]
    if d is ZeroT or xs is ZeroT:
        return ZeroT
    return TupleT(sens_type(x) for x in xs.items)


@rule("join-like")
def _join_like(ctx, args, kw):
    ds, xs = args[0], args[1]
    if ds is ZeroT or xs is ZeroT:
        return ZeroT
    if all(type(x) is TupleT for x in xs.items):
        return TupleT(i for x in xs.items for i in sens_type(x).items)
    # a %zero piece's sensitivity is zeros: f64 ones for integer pieces
    return _concat(ctx, [ArrayT("f64", x.shape) if type(x) is ArrayT and sens_type(x) is ZeroT
                         else sens_type(x) for x in xs.items], {"axis": args[2]})


@rule("sens-index")
def _sens_index(ctx, args, kw):
    like, idx, v = args
    return ZeroT if v is ZeroT or like is ZeroT else sens_type(like)


@rule("sens-cut")
def _sens_cut(ctx, args, kw):
    like, start, end, v = args
    if v is ZeroT or like is ZeroT:
        return ZeroT
    if type(like) is TupleT:
        b = [value_of(start), value_of(end)]
        if UNKNOWN in b:
            raise SxTypeError("sens-cut of a tuple needs bounds known when the program is "
                              "compiled")
        items = [ZeroT] * len(like.items)
        items[b[0]:b[1]] = v.items
        return TupleT(items)
    return sens_type(like)


@rule("%buf-new")
def _buf_new(ctx, args, kw):
    return BufferT(BOTTOM)   # an empty buffer holds nothing yet


@rule("%buf-push")
def _buf_push(ctx, args, kw):
    b, x = args
    if type(b) is not BufferT:
        raise SxTypeError(f"%buf-push expects a buffer, got {describe(b)}")
    if b.elem is ZeroT:
        return BufferT(widen(x))   # zeros only: the zero prefix of a sensitivity buffer
    try:
        return BufferT(join(b.elem, widen(x)))
    except JoinError:
        raise SxTypeError(f"cannot push {describe(x)} onto a buffer of {describe(b.elem)}: "
                          "a buffer holds values of one type") from None


@rule("%buf-pop")
def _buf_pop(ctx, args, kw):
    b = args[0]
    if type(b) is not BufferT:
        raise SxTypeError(f"%buf-pop expects a buffer, got {describe(b)}")
    return TupleT((b, b.elem))


@rule("%buf-len")
def _buf_len(ctx, args, kw):
    if type(args[0]) is not BufferT:
        raise SxTypeError(f"%buf-len expects a buffer, got {describe(args[0])}")
    return Scalar("i64", 0) if args[0].elem is BOTTOM else Scalar("i64")   # BOTTOM: empty


def _holds_function(t):
    if type(t) in (FnT, PrimT, CtorT, UnionT):
        return True
    if type(t) in (TupleT, RecordT):
        return any(map(_holds_function, t.items))
    return False


@rule("%check-data")
def _check_data(ctx, args, kw):
    y, _, what = args
    if _holds_function(y):
        raise SxGradError(f"{value_of(what)} needs a function whose output is numbers, "
                          f"arrays, tuples or records, got {describe(y)}")
    return y
