"""Each primitive's type/shape rule (``Prim.type_rule``, myia_sx/prims/type_rules.py)
against its implementation, on random inputs.

For a call drawn at random, the implementation runs on the values.  If it
returns ``v``, the rule must give a type that ``v`` matches, applied to

* the exact types (scalars with their values known, arrays with their shape),
* the widened types (values forgotten, every array dimension unknown), except
  for the arguments a rule needs known by design (``:axis``, ``:dtype``, a
  tuple index, ``cut``'s bounds on a tuple, the array ``to-tuple`` takes
  apart ...: ``static`` below): those stay exact,
* and, when some argument is static, everything widened: then the rule may
  also raise (an error of inference: it asks for a value known when the
  program is compiled).

If the implementation raises an SxError, the rule may raise too, at every
level.  It may give a type instead on the widened types (the values that
make the call fail are forgotten), and, when the error is an
SxRuntimeError, on the exact types too: that error belongs to the run, not
to typing (an integer division by zero, an index out of range, a pop of an
empty buffer ...).  Any other rule that gives a type on the exact types
where the implementation fails is listed in :data:`PERMISSIVE` with the
reason.  A rule may only raise the errors inference turns into located
errors (SxTypeError, SxShapeError, SxGradError): anything else, a Python
exception included, fails the test.

The differentiation primitives (``%J``, ``%J-shallow`` and the makers
``%grad %value-and-grad %vjp %jvp``) are not covered: their rules ask
inference for the J-transform of code (``ctx``), which these calls do not
have; tests/test_grad_static.py types them through inference.  Every other
primitive of the table has an entry in :data:`SPECS` (a test fails when one
is added without).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import myia_sx
from myia_sx import ad
from myia_sx.errors import (SxError, SxGradError, SxRuntimeError, SxShapeError, SxSyntaxError,
                            SxTypeError)
from myia_sx.forms import Form, Keyword, Symbol, Vec
from myia_sx.passes import infer_types
from myia_sx.prims import CALL_SITE_MARKS, PRIMS, Prim
from myia_sx.prims.type_rules import typed
from myia_sx.types import (ArrayT, BufferT, FnT, RecordT, T, TupleT, forget, matches,
                           of_value, show)
from myia_sx.values import ZERO, Buffer, Closure, Record, RecordType

# The primitives whose rules need inference (ctx.j, ctx.j_shallow, ctx.make).
DIFFERENTIATION = {"%J", "%J-shallow", "%grad", "%value-and-grad", "%vjp", "%jvp"}

# The errors a rule may raise: those inference reports at the form.
RULE_ERRORS = (SxTypeError, SxShapeError, SxGradError)

# Rules that give a type, on the exact types of the arguments, where the
# implementation raises an error other than an SxRuntimeError: primitive ->
# (the implementation's errors allowed, why).
PERMISSIVE = {
    "syntax-error": (SxSyntaxError, "it reports a syntax error while a macro expands: raising "
                                    "is what it is for, and a call of it has a type like any "
                                    "other call"),
}

EXAMPLES = 40


# -- values -------------------------------------------------------------------------------------

POINT = RecordType("Point", ["x", "y"])
_CLOSURES = myia_sx.load_string("""
(defn mk [a] (fn [x y] (+ x a)))
(defn mk2 [a b] (fn [z] (tuple a b z)))
""")
_INFERENCE = infer_types.Inference(ad.InferServices())
CODE_OF = _INFERENCE.code_of

NP = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}
ALL = ("f64", "f32", "i64", "bool")
NUMERIC = ("f64", "f32", "i64")
FLOAT = ("f64", "f32")

SMALL_INTS = st.integers(-4, 4)
INTS = st.one_of(SMALL_INTS, SMALL_INTS, st.integers(-2 ** 63, 2 ** 63 - 1))
FLOATS = st.one_of(st.floats(-4, 4), st.floats(allow_nan=True, allow_infinity=True))
F32S = st.floats(width=32).map(np.float32)
BOOLS = st.booleans()
PY_NUMBERS = st.one_of(INTS, FLOATS)
NUMBERS = st.one_of(INTS, FLOATS, F32S)
STRINGS = st.sampled_from(["", "a", "xy"])
KEYWORDS = st.sampled_from(["f64", "f32", "i64", "bool", "x", "y"]).map(Keyword)
SYMBOLS = st.sampled_from(["a", "x", "y", "g"]).map(Symbol)


def elements(dtype):
    if dtype == "f64":
        return st.one_of(st.floats(-4, 4), st.floats(allow_nan=True, allow_infinity=True))
    if dtype == "f32":
        return st.floats(width=32)
    if dtype == "i64":
        return SMALL_INTS   # small: zero divisors and negative powers come up
    return BOOLS


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(dtypes=ALL, shape=None):
    """Arrays of one of ``dtypes``, of ``shape`` (a tuple or a strategy; by
    default 0 to 3 dimensions of 1 to 4)."""
    shape = shapes() if shape is None else shape
    return st.sampled_from(dtypes).flatmap(
        lambda d: hnp.arrays(NP[d], shape, elements=elements(d)))


def make_closure(kind, *captured):
    return (_CLOSURES.mk if kind == 1 else _CLOSURES.mk2)(*captured).closure


DATA_LEAVES = st.one_of(NUMBERS, BOOLS, arrays())
CLOSURES = st.one_of(
    st.builds(lambda a: make_closure(1, a), st.one_of(FLOATS, SMALL_INTS, arrays())),
    st.builds(lambda a, b: make_closure(2, a, b), st.one_of(FLOATS, F32S),
              st.tuples(FLOATS, SMALL_INTS)))
FUNCTIONS = st.one_of(CLOSURES, st.sampled_from([PRIMS["+"], PRIMS["tuple"], POINT]))
FORMS = st.one_of(
    st.lists(st.one_of(SYMBOLS, KEYWORDS, SMALL_INTS, STRINGS), max_size=3).map(Form),
    st.lists(st.one_of(SYMBOLS, SMALL_INTS), max_size=3).map(Vec))


def records(items):
    return st.builds(POINT, items, items)


def buffers(elems):
    """A buffer of elements of one kind (of one type once widened), or of %zero."""
    return st.one_of(st.integers(1, 2).map(Buffer.zeros),   # the zero of a buffer
                     st.lists(elems, max_size=3).map(lambda xs: _push_all(Buffer([], 0), xs)))


def _push_all(b, xs):
    for x in xs:
        b = b.push(x)
    return b


BUFFERS = st.one_of(
    buffers(FLOATS), buffers(arrays(("f64",), (2,))), buffers(st.tuples(FLOATS, SMALL_INTS)),
    buffers(st.builds(lambda a: make_closure(1, a), FLOATS)),
    buffers(st.builds(lambda a, b: make_closure(2, a, b), FLOATS, st.tuples(FLOATS, SMALL_INTS))))

LEAVES = st.one_of(NUMBERS, BOOLS, arrays(), st.none(), STRINGS, KEYWORDS, SYMBOLS, FORMS,
                   FUNCTIONS, BUFFERS, st.just(ZERO))
VALUES = st.recursive(
    LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3).map(tuple), records(inner)),
    max_leaves=5)
# What no numeric primitive takes.
GARBAGE = st.one_of(st.none(), STRINGS, KEYWORDS, st.tuples(FLOATS), records(FLOATS),
                    FUNCTIONS, st.just(ZERO))


def mostly(*good, bad=GARBAGE):
    """One of ``good`` three times in four, else one of ``bad``."""
    good = st.one_of(*good)
    return st.one_of(good, good, good, bad)


# -- types of values ----------------------------------------------------------------------------

def exact(v):
    """The type of ``v`` as inference may know it: scalars with their value
    (f32 scalars excepted: inference never knows one, nor a tuple holding
    arrays or closures), arrays with their shape."""
    t = type(v)
    if t is tuple:
        return TupleT(map(exact, v))
    if isinstance(v, Record):
        return RecordT(t._sx_type, map(exact, v._values))
    out = typed(v)
    if out is None:
        out = of_value(v, CODE_OF, unknown_dims=False)
    assert out is not None, f"no type for {v!r}"
    return out


def loose(t):
    """``t`` with every value forgotten and every array dimension unknown."""
    tt = type(t)
    if tt is ArrayT:
        return ArrayT(t.dtype, (None,) * t.rank)
    if tt is TupleT:
        return TupleT(map(loose, t.items))
    if tt is RecordT:
        return RecordT(t.rtype, map(loose, t.items))
    if tt is FnT:
        return FnT(t.code, ((n, loose(x)) for n, x in t.captured))
    if tt is BufferT:
        return BufferT(loose(t.elem))
    return forget(t)


# -- the check ----------------------------------------------------------------------------------

def call(args, kwargs=None, static=()):
    """A drawn call: positional arguments, keyword arguments, and the
    positions (ints) and keyword names the rule needs known."""
    return tuple(args), dict(kwargs or {}), frozenset(static)


def run_impl(p, args, kwargs):
    token = CALL_SITE_MARKS.set((0,))   # as if a macro were expanding (unhygienic)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return p.impl(*args, **kwargs), None
    except SxError as e:
        return None, e
    finally:
        CALL_SITE_MARKS.reset(token)


def run_rule(p, args, kwargs):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = p.type_rule(None, list(args), dict(kwargs))
        except RULE_ERRORS as e:
            return None, e
    assert isinstance(out, T), f"{p.name}: the rule returned {out!r}, not a type"
    return out, None


def check(name, drawn):
    p = PRIMS[name]
    args, kwargs, static = drawn
    note(f"({name} {' '.join(map(repr, args))}"
         f"{''.join(f' :{k} {v!r}' for k, v in kwargs.items())})")
    value, failed = run_impl(p, args, kwargs)
    note(f"impl: {failed!r}" if failed else f"impl: {value!r}")
    kw = {k: kwargs.get(k, default) for k, default in p.kwargs.items()}
    exact_args = [exact(a) for a in args]
    exact_kw = {k: exact(v) for k, v in kw.items()}
    levels = [("exact", exact_args, exact_kw),
              ("widened", [t if i in static else loose(t) for i, t in enumerate(exact_args)],
               {k: t if k in static else loose(t) for k, t in exact_kw.items()})]
    if static:
        levels.append(("unknown", [loose(t) for t in exact_args],
                       {k: loose(t) for k, t in exact_kw.items()}))
    for level, at, kt in levels:
        t, err = run_rule(p, at, kt)
        where = f"{name} on {level} types [{' '.join(map(show, at))}]" + \
            "".join(f" :{k} {show(v)}" for k, v in kt.items())
        note(f"rule on {level}: {err!r}" if err else f"rule on {level}: {show(t)}")
        if failed is None:
            if err is not None and level == "unknown":
                continue   # a static argument unknown: the rule may ask for it
            assert err is None, f"{where}: the rule raised {err!r}, the implementation " \
                f"returned {value!r}"
            assert matches(value, t), f"{where}: the implementation returned {value!r}, " \
                f"not of the rule's type {show(t)}"
        elif level == "exact" and t is not None and not isinstance(failed, SxRuntimeError):
            allowed, _ = PERMISSIVE.get(name, ((), ""))
            assert isinstance(failed, allowed), \
                f"{where}: the rule gave {show(t)}, the implementation raised {failed!r}"


# -- the calls of each primitive ----------------------------------------------------------------

@st.composite
def operands(draw, n, dtypes=NUMERIC):
    """``n`` numbers or arrays, of shapes that broadcast together half of the time."""
    if draw(st.booleans()):
        sh = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, max_side=4))
        sh = sh.input_shapes
    else:
        sh = [draw(shapes()) for _ in range(n)]
    return [draw(mostly(NUMBERS, arrays(dtypes, s), arrays(dtypes, s),
                        bad=st.one_of(BOOLS, arrays(("bool",), s), GARBAGE)))
            for s in sh]


def binary():
    return operands(2).map(call)


def unary():
    return operands(1, ALL).map(call)


def axis_values(rank):
    ints = st.integers(-rank - 1, rank)
    return st.one_of(ints, ints, st.lists(ints, max_size=3).map(tuple), st.none(),
                     st.sampled_from([1.5, True]))


@st.composite
def reduction(draw):
    x = draw(mostly(arrays(ALL, shapes(min_side=0, max_side=3)), bad=st.one_of(NUMBERS, GARBAGE)))
    rank = x.ndim if type(x) is np.ndarray else 0
    kw = {}
    if draw(st.booleans()):
        kw["axis"] = draw(axis_values(rank))
    if draw(st.booleans()):
        kw["keepdims"] = draw(st.one_of(BOOLS, BOOLS, st.just(1)))
    return call([x], kw, {"axis", "keepdims"})


@st.composite
def argmax(draw):
    x = draw(mostly(arrays(NUMERIC, shapes(min_side=0, max_side=3)),
                    bad=st.one_of(NUMBERS, arrays(("bool",)), GARBAGE)))
    rank = x.ndim if type(x) is np.ndarray else 0
    kw = {}
    if draw(st.booleans()):
        kw["axis"] = draw(st.one_of(st.integers(-rank - 1, rank), st.just((0,))))
    return call([x], kw, {"axis"})


@st.composite
def minmax(draw):
    if draw(st.booleans()):
        return draw(reduction())
    args = draw(operands(2))
    kw = {"axis": draw(st.integers(0, 1))} if draw(st.integers(0, 5)) == 0 else {}
    return call(args, kw, {"axis", "keepdims"})


@st.composite
def comparison_eq(draw):
    if draw(st.booleans()):
        return call(draw(operands(2, ALL)))
    return call([draw(VALUES), draw(VALUES)])


@st.composite
def where(draw):
    if draw(st.booleans()):
        sh = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4))
        sh = sh.input_shapes
    else:
        sh = [draw(shapes()) for _ in range(3)]
    c = draw(mostly(BOOLS, arrays(("bool",), sh[0]), bad=st.one_of(NUMBERS, arrays(NUMERIC))))
    ops = [draw(mostly(NUMBERS, arrays(NUMERIC, s), arrays(NUMERIC, s),
                       bad=st.one_of(BOOLS, GARBAGE))) for s in sh[1:]]
    return call([c, *ops])


@st.composite
def matmul(draw):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (1,)]))
    ra, rb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    sa = (batch + (n, k))[3 - ra:] if ra else ()
    sb = (batch + (k, m))[3 - rb:] if rb else ()
    if ra == 1:
        sa = (k,)
    if draw(st.integers(0, 4)) == 0:   # a mismatch, sometimes
        sb = tuple(d + 1 for d in sb)
    a = draw(mostly(arrays(NUMERIC, sa), bad=st.one_of(arrays(("bool",), sa), NUMBERS)))
    b = draw(mostly(arrays(NUMERIC, sb), bad=st.one_of(arrays(("bool",), sb), NUMBERS)))
    return call([a, b])


# :dtype is static: a program names the dtype of an array it makes when it is
# compiled (a string's text is forgotten once widened).
DTYPE_KW = st.one_of(KEYWORDS, st.none(), st.sampled_from(["f32", 1]))
SHAPE_ARG = st.one_of(st.lists(st.integers(0, 3), max_size=3).map(tuple), st.integers(0, 3),
                      st.just((-1, 2)), st.just((1.0,)), st.just(None))


@st.composite
def zeros(draw):
    kw = {"dtype": draw(DTYPE_KW)} if draw(st.booleans()) else {}
    return call([draw(SHAPE_ARG)], kw, {"dtype"})


@st.composite
def full(draw):
    kw = {"dtype": draw(DTYPE_KW)} if draw(st.booleans()) else {}
    return call([draw(SHAPE_ARG), draw(mostly(NUMBERS, bad=st.one_of(BOOLS, GARBAGE)))], kw,
                {"dtype"})


def _nested(x):
    return tuple(_nested(i) for i in x) if type(x) is np.ndarray else x


@st.composite
def array_data(draw):
    """Nested tuples of numbers: the rows of an array, or ragged ones."""
    kind = draw(st.integers(0, 3))
    if kind == 0:   # a regular nesting, leaves of mixed kinds
        shape = draw(shapes(min_dims=1))
        n = int(np.prod(shape))
        leaves = draw(st.lists(mostly(INTS, INTS, FLOATS, F32S, bad=st.one_of(BOOLS, STRINGS)),
                               min_size=n, max_size=n))
        return _nested(np.array(leaves, dtype=object).reshape(shape))
    if kind == 1:   # all integers, or ints then one float deeper
        shape = draw(shapes(min_dims=2, max_dims=3, max_side=3))
        leaves = _nested(np.array(draw(st.lists(SMALL_INTS, min_size=int(np.prod(shape)),
                                                 max_size=int(np.prod(shape)))),
                                  dtype=object).reshape(shape))
        if draw(st.booleans()):
            *rest, last = leaves
            leaves = (*rest, _replace_last(last, 0.5))
        return leaves
    inner = st.one_of(SMALL_INTS, FLOATS, st.tuples(SMALL_INTS),
                      st.tuples(SMALL_INTS, SMALL_INTS), st.just(()))
    return draw(st.lists(inner, max_size=3).map(tuple))   # ragged, empty, or not


def _replace_last(x, v):
    if type(x) is tuple:
        return (*x[:-1], _replace_last(x[-1], v))
    return v


@st.composite
def array(draw):
    kw = {"dtype": draw(DTYPE_KW)} if draw(st.booleans()) else {}
    return call([draw(mostly(array_data(), bad=st.one_of(NUMBERS, GARBAGE)))], kw, {"dtype"})


def one_array(dtypes=ALL, static=()):
    return mostly(arrays(dtypes), bad=st.one_of(NUMBERS, BOOLS, GARBAGE)).map(
        lambda x: call([x], static=static))


@st.composite
def reshape(draw):
    x = draw(mostly(arrays(), bad=st.one_of(NUMBERS, GARBAGE)))
    n = x.size if type(x) is np.ndarray else 1
    dims = [d for d in range(1, n + 1) if n % d == 0]
    kind = draw(st.integers(0, 5))
    if kind == 0:
        shape = draw(st.lists(st.integers(-2, 5), max_size=3).map(tuple))   # any
    elif kind == 1:
        shape = n
    else:
        a = draw(st.sampled_from(dims))
        b = draw(st.sampled_from([d for d in range(1, n // a + 1) if (n // a) % d == 0]))
        shape = draw(st.permutations([a, b, n // a // b]))
        if kind == 2:
            shape[draw(st.integers(0, 2))] = -1
        shape = tuple(shape[:3] if kind != 3 else [d for d in shape if d != 1])
    return call([x, shape])


@st.composite
def transpose(draw):
    x = draw(mostly(arrays(), bad=st.one_of(NUMBERS, GARBAGE)))
    rank = x.ndim if type(x) is np.ndarray else 0
    kw = {}
    kind = draw(st.integers(0, 3))
    if kind == 1:
        kw["axes"] = tuple(draw(st.permutations(range(rank))))
    elif kind == 2:
        kw["axes"] = draw(st.lists(st.integers(-1, rank), max_size=3).map(tuple))
    elif kind == 3:
        kw["axes"] = draw(st.sampled_from([None, 1, (0.0,)]))
    return call([x], kw, {"axes"})


def index(n):
    """An index into a sequence of length ``n``: in range mostly."""
    return mostly(st.integers(-n, n - 1) if n else st.just(0), bad=st.one_of(
        st.sampled_from([n, -n - 1, 1.0, True]), st.none()))


@st.composite
def get(draw, at=False):
    kind = draw(st.integers(0, 3))
    if kind == 0:
        x = draw(st.lists(VALUES, max_size=4).map(tuple))
        idx, static = [draw(index(len(x)))], {1}
        if draw(st.integers(0, 6)) == 0:
            idx.append(0)
    elif kind == 1:
        x = draw(arrays())
        k = draw(st.integers(0 if at else 1, x.ndim + 1))
        idx = [draw(index(x.shape[j] if j < x.ndim else 2)) for j in range(k)]
        static = ()
    elif kind == 2:
        x = draw(FORMS)
        idx, static = [draw(index(len(x.items)))], ()
    else:
        x = draw(st.one_of(NUMBERS, st.none(), STRINGS, FUNCTIONS))
        idx, static = [0], ()
    if at:
        return call([x, tuple(idx)], static={1} if static else ())
    return call([x, *idx], static=static)


@st.composite
def length(draw):
    return call([draw(st.one_of(st.lists(VALUES, max_size=3).map(tuple), arrays(), STRINGS,
                                FORMS, NUMBERS, st.none(), FUNCTIONS))])


BOUND = st.one_of(st.none(), st.integers(-5, 5), st.integers(-5, 5), st.sampled_from([1.0, True]))


@st.composite
def cut(draw):
    x = draw(st.one_of(st.lists(VALUES, max_size=4).map(tuple), arrays(), FORMS,
                       st.one_of(NUMBERS, STRINGS, st.none())))
    bounds = draw(st.lists(BOUND, max_size=2))
    return call([x, *bounds], static={1, 2} if type(x) is tuple else ())


@st.composite
def concat(draw):
    kind = draw(st.integers(0, 3))
    kw = {}
    if kind == 0:   # arrays that concatenate along some axis, or not
        shape = draw(shapes(min_dims=0))
        rank = len(shape)
        axis = draw(st.integers(-rank - 1, rank)) if rank else 0
        n = draw(st.integers(1, 3))
        pieces = []
        for _ in range(n):
            s = list(shape)
            if rank and -rank <= axis < rank:
                s[axis] = draw(st.integers(1, 3))
            if draw(st.integers(0, 6)) == 0 and s:
                s[0] += 1
            pieces.append(draw(arrays(ALL if draw(st.integers(0, 5)) == 0 else NUMERIC,
                                      tuple(s))))
        if draw(st.booleans()) or axis != 0:
            kw["axis"] = draw(st.one_of(st.just(axis), st.just(axis),
                                        st.sampled_from([1.0, None])))
        args = pieces
    elif kind == 1:
        args = draw(st.lists(st.lists(VALUES, max_size=2).map(tuple), min_size=1, max_size=3))
    elif kind == 2:
        args = [draw(FORMS), *draw(st.lists(st.one_of(FORMS, st.tuples(SYMBOLS)), max_size=2))]
    else:
        args = draw(st.lists(st.one_of(VALUES, arrays(), st.tuples(FLOATS)), min_size=1,
                             max_size=3))
    return call(args, kw, {"axis"})


def sequences():
    return st.one_of(st.lists(VALUES, max_size=3).map(tuple), FORMS)


def first_rest():
    return mostly(sequences(), bad=st.one_of(NUMBERS, arrays(), st.none(), STRINGS)).map(
        lambda x: call([x]))


def cons():
    return st.tuples(VALUES, mostly(sequences(), bad=st.one_of(NUMBERS, arrays()))).map(call)


def record_values():
    return st.tuples(mostly(records(VALUES))).map(call)


def record_like():
    # a Point, and a tuple of two values (or of another length)
    values = mostly(st.tuples(VALUES, VALUES),
                    bad=st.one_of(st.tuples(VALUES), st.tuples(VALUES, VALUES, VALUES)))
    return st.tuples(mostly(records(VALUES)), values).map(call)


def conv(kind):
    """Calls of conv2d (kind 0) or of its adjoints (1: in the images, 2: in the
    filters), on shapes that mostly fit."""
    @st.composite
    def draw_call(draw):
        n, h, w, c, kh, kw, f = (draw(st.integers(1, 3)) for _ in range(7))
        h, w = h + kh - 1, w + kw - 1
        dt = draw(st.sampled_from(["f64", "f32"]))
        x = draw(arrays((dt,), (n, h, w, c)))
        filt = draw(arrays((dt,), (kh, kw, c, f)))
        d = draw(arrays((dt,), (n, h - kh + 1, w - kw + 1, f)))
        bad = draw(st.one_of(arrays(("f64",), (2, 2)), arrays(("i64",), (1, 1, 1, 1)),
                             arrays(("f64",), (1, 1, 1, 2)), GARBAGE))
        args = [[x, filt], [d, filt, x], [x, d, filt]][kind]
        if draw(st.integers(0, 3)) == 0:
            args[draw(st.integers(0, len(args) - 1))] = bad
        return call(args)
    return draw_call()


def threefry():
    u32 = st.integers(0, 2 ** 32 - 1)
    key = mostly(st.lists(u32, min_size=2, max_size=2).map(lambda v: np.array(v, np.int64)),
                 bad=st.one_of(arrays(("i64",), (3,)), arrays(("f64",), (2,)), GARBAGE))
    counts = mostly(st.lists(u32, max_size=5).map(lambda v: np.array(v, np.int64)),
                    bad=st.one_of(arrays(("i64",), (2, 2)), arrays(("f64",), (2,)), GARBAGE))
    return st.tuples(key, counts).map(call)


def anything(n=1):
    return st.tuples(*[VALUES] * n).map(call)


def variadic(items=VALUES):
    return st.lists(items, max_size=4).map(call)


# -- syntax (macros) ----------------------------------------------------------------------------

def form_values():
    return st.one_of(SYMBOLS, KEYWORDS, STRINGS, FORMS, SMALL_INTS, FLOATS, BOOLS, st.none())


@st.composite
def gensym(draw):
    return call(draw(st.lists(mostly(STRINGS, SYMBOLS, bad=st.one_of(NUMBERS, KEYWORDS)),
                              max_size=1)))


def one(strategy):
    return strategy.map(lambda x: call([x]))


# -- differentiation's data ---------------------------------------------------------------------

PRIMAL_LEAVES = st.one_of(FLOATS, F32S, SMALL_INTS, BOOLS, arrays(ALL, shapes(min_dims=1)))
PRIMALS = st.recursive(
    st.one_of(PRIMAL_LEAVES, PRIMAL_LEAVES, CLOSURES, st.none(), STRINGS),
    lambda inner: st.one_of(st.lists(inner, max_size=3).map(tuple), records(inner)),
    max_leaves=4)


def sens_of(x, filled=False):
    """The sensitivities of primal ``x``: ``%zero`` anywhere unless ``filled``
    (then only where the type says: integers, booleans, non-numbers)."""
    t = type(x)
    if t is float:
        s = FLOATS
    elif t is np.float32:
        s = F32S
    elif t is np.ndarray:
        if x.dtype.kind != "f":
            return st.just(ZERO)
        s = hnp.arrays(x.dtype, x.shape, elements=elements("f64" if x.dtype == np.float64
                                                          else "f32"))
    elif t is tuple:
        s = st.tuples(*(sens_of(i, filled) for i in x))
    elif isinstance(x, Record):
        s = st.tuples(*(sens_of(i, filled) for i in x._values)).map(t._sx_type.make)
    elif t is Closure:
        from myia_sx.values import closure_env
        s = st.tuples(*(sens_of(i, filled) for i in closure_env(x)))
    else:
        return st.just(ZERO)
    return s if filled else st.one_of(s, s, st.just(ZERO))


def primal_and_sens(filled=False, primals=PRIMALS):
    return primals.flatmap(lambda x: st.tuples(st.just(x), sens_of(x, filled)))


@st.composite
def sens_add(draw):
    x = draw(PRIMALS)
    return call([draw(sens_of(x)), draw(sens_of(x))])


@st.composite
def sens_fill(draw):
    x, d = draw(primal_and_sens())
    return call([d, x])


@st.composite
def sens_out(draw):
    x, d = draw(primal_and_sens())
    return call([x, d])


@st.composite
def sens_get(draw):
    x = draw(st.lists(PRIMALS, max_size=3).map(tuple))
    d = draw(sens_of(x))
    return call([d, draw(index(len(x)))], static={1})


@st.composite
def sens_at(draw):
    like = draw(st.lists(PRIMALS, min_size=1, max_size=3).map(tuple))
    i = draw(index(len(like)))
    v = draw(sens_of(like[i] if type(i) is int and -len(like) <= i < len(like) else 0.0))
    return call([draw(mostly(st.just(like), bad=st.just(ZERO))), i, v])


FIELD = st.sampled_from(["x", "y"]).map(Symbol)


@st.composite
def field_sens(draw):
    r = draw(mostly(records(PRIMALS), bad=st.just(ZERO)))
    name = draw(mostly(FIELD, bad=st.sampled_from([Symbol("z"), Keyword("x")])))
    v = draw(sens_of(r.x if type(r) is POINT.pyclass and name.name == "x" else
                     r.y if type(r) is POINT.pyclass else 0.0))
    return call([r, name, v])


@st.composite
def sens_field(draw):
    r = draw(records(PRIMALS))
    name = draw(mostly(FIELD, bad=st.sampled_from([Symbol("z"), Keyword("x")])))
    return call([draw(sens_of(r)), name])


WHAT = st.sampled_from(["grad", "vjp"])


@st.composite
def check_like(draw):
    like, v = draw(primal_and_sens())
    if draw(st.integers(0, 3)) == 0:
        v = draw(VALUES)
    return call([like, v, draw(WHAT)])


@st.composite
def check_tuple(draw):
    v = draw(st.one_of(st.lists(VALUES, max_size=3).map(tuple), VALUES))
    n = len(v) if type(v) is tuple and draw(st.booleans()) else draw(st.integers(0, 3))
    return call([v, n, draw(WHAT)], static={1})


@st.composite
def param_index(draw):
    f = draw(mostly(CLOSURES, bad=st.sampled_from([PRIMS["+"], POINT, 1.0])))
    k = draw(mostly(st.sampled_from(["x", "y", "z"]).map(Keyword), bad=SYMBOLS))
    return call([f, k])


@st.composite
def unbroadcast(draw):
    """The sensitivity of an elementwise result, and an argument it broadcast from."""
    x = draw(st.one_of(FLOATS, F32S, SMALL_INTS, BOOLS, arrays(ALL, shapes(min_dims=1)),
                       st.tuples(FLOATS, arrays(FLOAT, shapes(min_dims=1)))))
    if type(x) is tuple:
        return call([draw(st.tuples(FLOATS, sens_of(x[1], True))), x])
    shape = x.shape if type(x) is np.ndarray else ()
    extra = draw(st.lists(st.integers(1, 3), max_size=2))
    out = tuple(extra) + tuple(d if d != 1 or not draw(st.booleans()) else 3 for d in shape)
    if not out:
        d = draw(st.one_of(FLOATS, F32S))
    else:
        d = draw(arrays(FLOAT if draw(st.integers(0, 4)) else ALL, out))
    return call([draw(mostly(st.just(d), bad=st.just(ZERO))), x])


@st.composite
def unreduce(draw):
    """The sensitivity of a reduction (of numbers: bools are not numbers) and its argument."""
    x = draw(st.one_of(arrays(NUMERIC, shapes(min_dims=1)), FLOATS, F32S, SMALL_INTS))
    rank = x.ndim if type(x) is np.ndarray else 0
    axis = draw(st.one_of(st.none(), st.integers(-rank, rank - 1) if rank else st.none(),
                          st.lists(st.integers(0, rank - 1) if rank else st.just(0),
                                   min_size=1, max_size=rank or 1, unique=True).map(tuple)))
    keepdims = draw(BOOLS)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = PRIMS["sum"].impl(x, axis=axis, keepdims=keepdims) \
            if type(x) is np.ndarray else x
    d = draw(sens_of(out.astype(np.float64) if type(out) is np.ndarray else
                     float(out) if type(out) in (int, bool) else out, True))
    return call([draw(mostly(st.just(d), bad=st.just(ZERO))), x, axis, keepdims],
                static={2, 3})


@st.composite
def concat_pieces(draw):
    """Pieces that concatenate along an axis (numeric arrays of rank >= 1, or tuples)."""
    if draw(st.integers(0, 3)) == 0:
        xs = tuple(draw(st.lists(st.lists(PRIMALS, max_size=2).map(tuple), min_size=1,
                                 max_size=3)))
        return xs, 0
    shape = list(draw(shapes(min_dims=1)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, 3))
        xs.append(draw(arrays(NUMERIC if draw(st.integers(0, 3)) == 0 else FLOAT,
                              tuple(shape))))
    return tuple(xs), axis


@st.composite
def split_like(draw):
    xs, axis = draw(concat_pieces())
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joined = PRIMS["concat"].impl(*xs, axis=axis)
    if type(joined) is np.ndarray:
        d = draw(arrays(FLOAT, joined.shape))
    else:
        d = draw(sens_of(joined, True))
    return call([draw(mostly(st.just(d), bad=st.just(ZERO))), xs, axis], static={2})


@st.composite
def join_like(draw):
    xs, axis = draw(concat_pieces())
    if all(type(x) is tuple for x in xs):
        ds = tuple(draw(sens_of(x, True)) for x in xs)
    else:
        ds = tuple(draw(sens_of(x)) for x in xs)
    return call([draw(mostly(st.just(ds), bad=st.just(ZERO))), xs, axis], static={2})


@st.composite
def sens_index(draw):
    like = draw(arrays(ALL, shapes(min_dims=1)))
    k = draw(st.integers(0, like.ndim))
    idx = tuple(draw(st.integers(-like.shape[j], like.shape[j] - 1)) for j in range(k))
    with np.errstate(all="ignore"):
        part = like[idx]
    part = part if type(part) is np.ndarray else PRIMS["get-at"].impl(like, idx)
    v = draw(sens_of(part.astype(like.dtype) if type(part) is np.ndarray else part, True))
    if like.dtype.kind == "f" and type(v) is not np.ndarray and v is not ZERO:
        v = float(v)
    return call([draw(mostly(st.just(like), bad=st.just(ZERO))), idx, v])


@st.composite
def sens_cut(draw):
    like = draw(st.one_of(st.lists(PRIMALS, max_size=4).map(tuple),
                          arrays(ALL, shapes(min_dims=1))))
    start, end = draw(st.none() | st.integers(-4, 4)), draw(st.none() | st.integers(-4, 4))
    v = draw(sens_of(like[start:end], True))
    return call([draw(mostly(st.just(like), bad=st.just(ZERO))), start, end, v],
                static={1, 2} if type(like) is tuple else ())


@st.composite
def buf_push(draw):
    b = draw(BUFFERS)
    elems = b.elements()
    x = elems[-1] if elems and elems[-1] is not ZERO else draw(st.one_of(FLOATS, CLOSURES))
    return call([draw(mostly(st.just(b), bad=st.one_of(st.tuples(), st.none()))), x])


def buffer_arg():
    return mostly(BUFFERS, bad=st.one_of(st.tuples(), st.none(), FLOATS)).map(
        lambda b: call([b]))


@st.composite
def grad_seed(draw):
    y = draw(st.one_of(FLOATS, F32S, SMALL_INTS, BOOLS, arrays(ALL, ()), arrays(), VALUES))
    return call([y, draw(st.one_of(CLOSURES, st.none()))])


@st.composite
def check_data(draw):
    y = draw(st.one_of(PRIMALS, VALUES))
    return call([y, draw(st.one_of(CLOSURES, st.none())), draw(WHAT)])


SPECS = {
    **{n: binary() for n in ("+", "-", "*", "/", "//", "%", "**", "<", "<=", ">", ">=")},
    **{n: comparison_eq() for n in ("=", "!=")},
    "max": minmax(), "min": minmax(),
    "sum": reduction(), "mean": reduction(), "argmax": argmax(),
    **{n: unary() for n in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "neg", "abs",
                            "float", "int", "f32")},
    "not": one(mostly(BOOLS, arrays(("bool",)), bad=st.one_of(NUMBERS, arrays(NUMERIC)))),
    "tuple": variadic(),
    "get": get(),
    "len": length(),
    "cut": cut(),
    "concat": concat(),
    "first": first_rest(), "rest": first_rest(),
    "cons": cons(),
    "record-values": record_values(), "record-like": record_like(),
    "%closure-tuple": anything(),
    **{n: anything() for n in ("tuple?", "record?", "array?", "number?", "bool?", "none?",
                               "function?")},
    "@": matmul(),
    "zeros": zeros(), "ones": zeros(),
    "full": full(),
    "array": array(),
    "shape": one_array(),
    "reshape": reshape(),
    "transpose": transpose(),
    "where": where(),
    "size": one(mostly(arrays(), NUMBERS, bad=st.one_of(BOOLS, GARBAGE))),
    "arange": st.tuples(mostly(st.integers(0, 5), bad=st.one_of(st.just(-1), FLOATS, GARBAGE))
                        ).map(lambda a: call(a, static={0})),
    "threefry2x32": threefry(),
    "conv2d": conv(0), "conv2d-grad-x": conv(1), "conv2d-grad-w": conv(2),
    "get-at": get(at=True),
    "to-tuple": one_array(static={0}),   # a tuple of as many items as the array: its shape
    "%zero?": anything(),
    "%sens+": sens_add(),
    "%zeros-like": anything(),
    "%sens-fill": sens_fill(),
    "%sens-out": sens_out(),
    "%sens-get": sens_get(),
    "%sens-at": sens_at(),
    "%field-sens": field_sens(),
    "%sens-field": sens_field(),
    "%check-like": check_like(),
    "%check-tuple": check_tuple(),
    "%grad-seed": grad_seed(),
    "%check-data": check_data(),
    "%param-index": param_index(),
    "unbroadcast": unbroadcast(),
    "unreduce": unreduce(),
    "split-like": split_like(),
    "join-like": join_like(),
    "sens-index": sens_index(),
    "sens-cut": sens_cut(),
    "%buf-new": st.just(call([])),
    "%buf-push": buf_push(),
    "%buf-pop": buffer_arg(),
    "%buf-len": buffer_arg(),
    "list": variadic(form_values()), "vector": variadic(form_values()),
    "gensym": gensym(),
    "unhygienic": one(mostly(SYMBOLS, bad=st.one_of(STRINGS, KEYWORDS))),
    "syntax-error": st.tuples(mostly(STRINGS, bad=SYMBOLS), st.lists(FORMS, max_size=1)).map(
        lambda p: call([p[0], *p[1]])),
    "str": variadic(mostly(STRINGS, SYMBOLS, KEYWORDS, SMALL_INTS, FLOATS, F32S, BOOLS, st.none(),
                           bad=st.one_of(FORMS, st.tuples(), arrays()))),
    "symbol": one(mostly(STRINGS, bad=st.one_of(SYMBOLS, NUMBERS))),
    "name": one(mostly(SYMBOLS, KEYWORDS, bad=st.one_of(STRINGS, NUMBERS))),
    **{n: one(form_values()) for n in ("symbol?", "keyword?", "string?", "list?", "vector?")},
}


def test_every_primitive_has_a_type_rule():
    missing = [n for n, p in PRIMS.items() if type(p) is Prim and p.type_rule is None]
    assert not missing


def test_every_primitive_is_covered():
    rows = {n for n, p in PRIMS.items() if type(p) is Prim} - DIFFERENTIATION
    assert rows - set(SPECS) == set()
    assert set(SPECS) - rows == set()


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_rule_agrees_with_implementation(name, data):
    check(name, data.draw(SPECS[name], label="call"))
