"""The types of inference (:mod:`myia_sx.passes.infer_types`): abstract values.

A type describes every value a variable can hold at run time.  Scalars may
carry their value when it is known (a literal, a tuple index, a shape, the
result of a type test): only such values decide types, branches and shapes.

    Scalar(kind, value)   kind: i64 f32 f64 bool none str kw sym form; value or UNKNOWN
    ZeroT                 the zero sensitivity %zero
    TupleT(items)         a tuple of the types items
    RecordT(rtype, items) a record of record type rtype, its fields' types
    ArrayT(dtype, shape)  dtype: bool i64 f32 f64; shape: a tuple of ints, None for unknown
    FnT(code, captured)   a closure: its code and the types of what it captured
    PrimT(prim)           a primitive taken as a value
    CtorT(rtype)          a record constructor taken as a value
    BufferT(elem)         a buffer whose elements have type elem (BOTTOM: empty)
    UnionT(members)       one of several function types (a join of functions)
    SumT(members)         one of several tuple types that cannot be joined: what
                          a call of a union gives where its members give such
                          tuples (the sensitivities of closures of different
                          codes, from the backpropagators of an if's branches)
    ArrowT(params, result) a function of one signature (a version the
                          specializer wrote: its parameters' types and result)
    TaggedT(members)      a value of a union as a specialized program holds it:
                          [k v], v of type members[k]
    BOTTOM                no value yet (a call whose result is still being inferred)

Types are immutable and compare structurally, so they key the table of
specializations; :func:`join` is the least upper bound of two types (values
that differ are forgotten, shapes that differ become unknown), or raises
:class:`JoinError` for types that cannot be joined; :func:`show` writes a type
as sx text that the reader reads back (``f64``, ``(array f64 [2 ?])``,
``[f64 i64]``, ``(record Point :x f64 :y f64)``, ``(fn f [f64])``).
"""

from __future__ import annotations

from functools import reduce
from types import SimpleNamespace

import numpy as np

from .forms import Form, Keyword, Symbol, Vec
from .values import ZERO, Buffer, Closure, Record, RecordType, closure_env


class _Unknown:
    __slots__ = ()

    def __repr__(self):
        return "?"


UNKNOWN = _Unknown()

SCALARS = ("i64", "f32", "f64", "bool", "none", "str", "kw", "sym", "form")
DTYPES = ("bool", "i64", "f32", "f64")


# Interned structures: a type's key is a small integer, the same for equal
# types, so comparing and hashing types (the keys of contexts) costs O(1),
# however large (a tuple nested n deep shares its parts: 2^n leaves).
_INTERN: dict = {}


class T:
    """Base of the types: ``_structure()`` (in subclasses) is the tuple of the
    type's tag and its parts' keys."""

    __slots__ = ("_id",)

    def key(self):
        try:
            return self._id
        except AttributeError:
            s = self._structure()
            k = _INTERN.get(s)
            if k is None:
                k = _INTERN[s] = len(_INTERN)
            self._id = k
            return k

    def __repr__(self):
        return show(self)


class Scalar(T):
    __slots__ = ("kind", "value")

    def __init__(self, kind, value=UNKNOWN):
        self.kind = kind
        self.value = value

    def _structure(self):
        v = self.value
        if v is UNKNOWN or self.kind in ("sym", "kw", "form"):
            return ("s", self.kind, v)
        # -0.0 and 0.0 are two constants (and a NaN is one)
        return ("s", self.kind, (type(v), v.hex() if type(v) is float else v))

    def known(self):
        return self.value is not UNKNOWN


class _Zero(T):
    __slots__ = ()

    def _structure(self):
        return ("zero",)


ZeroT = _Zero()


class _Bottom(T):
    __slots__ = ()

    def _structure(self):
        return ("bottom",)


BOTTOM = _Bottom()


class TupleT(T):
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)

    def _structure(self):
        return ("t",) + tuple(i.key() for i in self.items)


class RecordT(T):
    __slots__ = ("rtype", "items")

    def __init__(self, rtype, items):
        self.rtype = rtype
        self.items = tuple(items)

    def _structure(self):
        return ("r", id(self.rtype)) + tuple(i.key() for i in self.items)


class ArrayT(T):
    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype = dtype
        self.shape = tuple(shape)

    @property
    def rank(self):
        return len(self.shape)

    def _structure(self):
        return ("a", self.dtype, self.shape)


class Code:
    """The code of a function, as inference sees it: its ``fn`` form, the
    namespace its global names live in, a readable name and its ``order``,
    how many times it was differentiated (the ``%J`` in a global's name; one
    more than the code it is the J-transform of; a function inside a code,
    the code's).  Compared by identity: an inference makes one per form
    (``Inference.code``)."""

    __slots__ = ("fn", "ns", "name", "group", "number", "order")
    made = [0]

    def __init__(self, fn, ns, name, group=None, order=None):
        Code.made[0] += 1
        self.number = Code.made[0]   # never reused (an id() of a freed form would be)
        self.fn = fn
        self.ns = ns
        self.name = name
        self.group = group   # (pairs, member) for a function of a letrec group
        self.order = name.count("%J") if order is None else order

    def key(self):
        return self.number


class FnT(T):
    """A closure: ``code`` and the types of the variables it captured, by name
    (sorted, as the closure captures them)."""

    __slots__ = ("code", "captured")

    def __init__(self, code, captured=()):
        self.code = code
        self.captured = tuple(captured)   # ((name, type), ...)

    def _structure(self):
        return ("f", self.code.key()) + tuple((n, t.key()) for n, t in self.captured)


class PrimT(T):
    __slots__ = ("prim",)

    def __init__(self, prim):
        self.prim = prim

    def _structure(self):
        return ("p", self.prim.name)


class CtorT(T):
    __slots__ = ("rtype",)

    def __init__(self, rtype):
        self.rtype = rtype

    def _structure(self):
        return ("c", id(self.rtype))


class BufferT(T):
    __slots__ = ("elem",)

    def __init__(self, elem):
        self.elem = elem

    def _structure(self):
        return ("b", self.elem.key())


class UnionT(T):
    __slots__ = ("members",)

    def __init__(self, members):
        self.members = tuple(sorted(members, key=show))

    def _structure(self):
        return ("u",) + tuple(m.key() for m in self.members)


class SumT(T):
    """A value of one of the tuple types ``members``, which one decided at run
    time (:func:`join_results`): a specialized program holds it tagged, as a
    union (:class:`TaggedT`), and takes it apart where one member fits."""

    __slots__ = ("members",)

    def __init__(self, members):
        self.members = tuple(sorted(members, key=show))

    def _structure(self):
        return ("sum",) + tuple(m.key() for m in self.members)


class TaggedT(T):
    """A value of one of the types ``members``, written with its tag: the
    tuple ``[k v]``, v of type ``members[k]`` (how a specialized program holds
    a value of a union of function types)."""

    __slots__ = ("members",)

    def __init__(self, members):
        self.members = tuple(members)

    def _structure(self):
        return ("tag",) + tuple(m.key() for m in self.members)


class ArrowT(T):
    __slots__ = ("params", "result")

    def __init__(self, params, result):
        self.params = tuple(params)
        self.result = result

    def _structure(self):
        return ("->", tuple(p.key() for p in self.params), self.result.key())


def _eq(a, b):
    return a is b or a.key() == b.key()


def _hash(self):
    return hash(self.key())


for _cls in (Scalar, _Zero, _Bottom, TupleT, RecordT, ArrayT, FnT, PrimT, CtorT, BufferT,
             UnionT, SumT, ArrowT, TaggedT):
    _cls.__eq__ = _eq
    _cls.__hash__ = _hash


def F64(value=UNKNOWN):
    return Scalar("f64", value)


def I64(value=UNKNOWN):
    return Scalar("i64", value)


def Bool(value=UNKNOWN):
    return Scalar("bool", value)


NoneT = Scalar("none", None)


# -- joins --------------------------------------------------------------------------------

MEMO_SIZE = 200_000


def memo(fn):
    """``fn`` of a type (or two), remembered by key: a type that shares its
    parts (a tuple nested n deep, 2^n leaves) is walked once per part."""
    table = {}

    def memo(*ts):
        k = tuple(t.key() for t in ts)
        got = table.get(k)
        if got is None:
            if len(table) > MEMO_SIZE:
                table.clear()
            got = table[k] = fn(*ts)
        return got
    memo.__doc__ = fn.__doc__
    memo.__name__ = fn.__name__
    return memo


class JoinError(Exception):
    """Two types with no common type (the caller says where)."""


@memo
def forget(t):
    """``t`` without the values of its scalars (what a call's parameter gets)."""
    if type(t) is Scalar:
        return t if t.kind in ("none", "sym", "kw", "form") or not t.known() else Scalar(t.kind)
    if type(t) is TupleT:
        return TupleT(map(forget, t.items))
    if type(t) is RecordT:
        return RecordT(t.rtype, map(forget, t.items))
    return t


@memo
def forget_floats(t):
    """``t`` without the values of its floats (which never decide a type)."""
    if type(t) is Scalar:
        return Scalar(t.kind) if t.kind in ("f64", "f32") and t.known() else t
    if type(t) is TupleT:
        return TupleT(map(forget_floats, t.items))
    if type(t) is RecordT:
        return RecordT(t.rtype, map(forget_floats, t.items))
    return t


@memo
def widen(t):
    """``t`` with every value forgotten, those closures captured included (the
    type of what a buffer holds: one type for the values of every iteration)."""
    tt = type(t)
    if tt is Scalar or tt is TupleT or tt is RecordT:
        t = forget(t)
        if tt is Scalar:
            return t
        return type(t)(*((t.rtype,) if tt is RecordT else ()), map(widen, t.items))
    if tt is FnT:
        return FnT(t.code, ((n, widen(x)) for n, x in t.captured))
    if tt is BufferT:
        return BufferT(widen(t.elem))
    if tt is SumT:
        return reduce(_sum, map(widen, t.members))
    return t


@memo
def join(a, b):
    """The least type both ``a`` and ``b`` are (BOTTOM is below everything)."""
    if a is BOTTOM:
        return b
    if b is BOTTOM or _eq(a, b):
        return a
    ta, tb = type(a), type(b)
    if ta is Scalar and tb is Scalar and a.kind == b.kind:
        return Scalar(a.kind)
    if ta is TupleT and tb is TupleT and len(a.items) == len(b.items):
        return TupleT(map(join, a.items, b.items))
    if ta is RecordT and tb is RecordT and a.rtype is b.rtype:
        return RecordT(a.rtype, map(join, a.items, b.items))
    if ta is ArrayT and tb is ArrayT and a.dtype == b.dtype and a.rank == b.rank:
        return ArrayT(a.dtype, (x if x == y else None for x, y in zip(a.shape, b.shape)))
    if ta is BufferT and tb is BufferT:
        return BufferT(join(a.elem, b.elem))
    if ta is FnT and tb is FnT and a.code is b.code and \
            [n for n, _ in a.captured] == [n for n, _ in b.captured]:
        return FnT(a.code, [(n, join(x, y)) for (n, x), (_, y) in zip(a.captured, b.captured)])
    if _is_function(a) and _is_function(b):
        members = {}   # closures of one code joined: a union's members differ in code
        for m in _members(a) + _members(b):
            same = id(m.code) if type(m) is FnT else m.key()
            members[same] = join(members[same], m) if same in members else m
        return UnionT(members.values())
    if ta is SumT and tb in (TupleT, SumT) or tb is SumT and ta is TupleT:
        return _sum(a, b)
    raise JoinError(f"{show(a)} and {show(b)}")


@memo
def join_results(a, b):
    """The type of the result of a call of a union whose members give ``a``
    and ``b``: their join, but where two tuples cannot be joined (the
    sensitivities of closures of different codes), their sum; the zero
    sensitivity and an f64 sensitivity join to f64."""
    try:
        return join(a, b)
    except JoinError:
        pass
    ta, tb = type(a), type(b)
    if a is ZeroT and tb is Scalar and b.kind == "f64":
        return Scalar("f64")     # the zero held as 0.0
    if b is ZeroT and ta is Scalar and a.kind == "f64":
        return Scalar("f64")
    if ta is TupleT and tb is TupleT and len(a.items) == len(b.items):
        try:
            return TupleT(map(join_results, a.items, b.items))
        except JoinError:
            pass
    if ta in (TupleT, SumT) and tb in (TupleT, SumT):
        return _sum(a, b)
    raise JoinError(f"{show(a)} and {show(b)}")


def _sum(a, b):
    """The sum of tuple types and sums ``a`` and ``b``: members that join, joined."""
    members = []
    for m in _members(a) + _members(b):
        for i, n in enumerate(members):
            try:
                members[i] = join(n, m)
                break
            except JoinError:
                pass
        else:
            members.append(m)
    return members[0] if len(members) == 1 else SumT(members)


def _is_function(t):
    return type(t) in (FnT, PrimT, CtorT, UnionT)


def _members(t):
    return list(t.members) if type(t) in (UnionT, SumT) else [t]


@memo
def flat(t):
    """The type of a value of type ``t`` with each closure in it written as
    the tuple of what it captured (how a specialized program holds closures,
    :mod:`myia_sx.passes.specialize`)."""
    tt = type(t)
    if tt is FnT:
        return TupleT(flat(x) for _, x in t.captured)
    if tt is TupleT:
        return TupleT(map(flat, t.items))
    if tt is RecordT:
        return RecordT(t.rtype, map(flat, t.items))
    if tt is BufferT:
        return BufferT(flat(t.elem))
    if tt is UnionT or tt is SumT:
        return TaggedT(map(flat, t.members))
    return t


@memo
def depth(t):
    """How deeply tuples, records and buffers nest in ``t``."""
    if type(t) in (TupleT, RecordT):
        return 1 + max((depth(i) for i in t.items), default=0)
    if type(t) is BufferT:
        return 1 + depth(t.elem)
    if type(t) is FnT:
        return 1 + max((depth(i) for _, i in t.captured), default=0)
    if type(t) is SumT:
        return max(map(depth, t.members))
    return 0


# -- from values --------------------------------------------------------------------------

_DTYPE_NAMES = {np.dtype(np.float64): "f64", np.dtype(np.float32): "f32",
                np.dtype(np.int64): "i64", np.dtype(np.bool_): "bool"}


def of_value(v, code_of, unknown_dims=True):
    """The type of run-time value ``v`` (values forgotten: a signature).
    ``code_of(closure)`` gives the :class:`Code` of a closure; arrays get
    unknown dimensions unless ``unknown_dims`` is false.  None for a value
    the language has no type for."""
    t = type(v)
    if t is bool:
        return Scalar("bool")
    if t is int:
        return Scalar("i64")
    if t is float:
        return Scalar("f64")
    if t is np.float32:
        return Scalar("f32")
    if v is None:
        return NoneT
    if v is ZERO:
        return ZeroT
    if t is str:
        return Scalar("str")
    if t is np.ndarray:
        dtype = _DTYPE_NAMES.get(v.dtype)
        if dtype is None:
            return None
        return ArrayT(dtype, (None,) * v.ndim if unknown_dims else v.shape)
    if t is tuple:
        items = [of_value(x, code_of, unknown_dims) for x in v]
        return None if any(i is None for i in items) else TupleT(items)
    if isinstance(v, Record):
        items = [of_value(x, code_of, unknown_dims) for x in v._values]
        return None if any(i is None for i in items) else RecordT(t._sx_type, items)
    if t is Closure:
        code = code_of(v)
        names = v.code.free_names if v.code.letrec is None else v.code.group_free
        items = [of_value(x, code_of, unknown_dims) for x in closure_env(v)]
        if code is None or any(i is None for i in items):
            return None
        return FnT(code, zip(names, items))
    if t is RecordType:
        return CtorT(v)
    if t is Buffer:
        # a zero prefix (values.Buffer) holds the zeros of elements of any type:
        # (buffer %zero) if nothing follows it, else the type of what follows
        elem = ZeroT if v.base else BOTTOM
        for x in v.elements()[v.base:]:
            xt = of_value(x, code_of, unknown_dims)
            if xt is None:
                return None
            elem = xt if elem is ZeroT else join(elem, xt)
        return BufferT(elem)
    if getattr(t, "sx_type_name", None) == "primitive":
        return PrimT(v)
    return None


def matches(v, t):
    """True if run-time value ``v`` has type ``t`` (the check the tests run on
    every value of a typed program)."""
    tt = type(t)
    if t is BOTTOM:
        return False
    if tt is Scalar:
        kinds = {"i64": int, "f64": float, "f32": np.float32, "bool": bool, "str": str}
        if t.kind == "none":
            return v is None
        want = kinds.get(t.kind)
        if want is not None and type(v) is not want:
            return False
        return not t.known() or v == t.value or t.kind in ("sym", "kw", "form") or \
            (v != v and t.value != t.value)   # a NaN constant: NaN
    if t is ZeroT:
        return v is ZERO
    if tt is TupleT:
        return type(v) is tuple and len(v) == len(t.items) and all(map(matches, v, t.items))
    if tt is RecordT:
        return isinstance(v, Record) and type(v)._sx_type is t.rtype and \
            all(map(matches, v._values, t.items))
    if tt is ArrayT:
        return type(v) is np.ndarray and _DTYPE_NAMES.get(v.dtype) == t.dtype and \
            v.ndim == t.rank and all(d is None or d == n for d, n in zip(t.shape, v.shape))
    if tt is BufferT:
        # the zero prefix of a buffer (values.Buffer) is the zero of any element type
        return type(v) is Buffer and all(matches(x, t.elem) for x in v.elements()[v.base:])
    if tt is UnionT or tt is SumT:
        return any(matches(v, m) for m in t.members)
    if tt is FnT:
        return type(v) is Closure
    if tt is ArrowT:
        return type(v) is Closure and v.code.nparams == len(t.params)
    if tt is TaggedT:
        return type(v) is tuple and len(v) == 2 and type(v[0]) is int and \
            0 <= v[0] < len(t.members) and matches(v[1], t.members[v[0]])
    if tt is CtorT:
        return v is t.rtype
    if tt is PrimT:
        return v is t.prim
    return False


# -- printing -----------------------------------------------------------------------------

def show(t, depth=-1):
    """``t`` as sx text (the reader reads it back); with ``depth`` >= 0,
    parts nested deeper are written ``...`` (for messages)."""
    if depth < 0:
        return _shown(t)
    if depth == 0:
        return "..."
    return _text(t, lambda x: show(x, depth - 1))


@memo
def _shown(t):
    return _text(t, _shown)


def _text(t, sub):
    """``t`` as text, its parts written by ``sub``."""
    tt = type(t)
    if tt is Scalar:
        if t.kind == "none":
            return "None"
        if t.known() and t.kind in ("i64", "f64", "bool"):
            return f"(const {t.kind} {_atom(t.value)})"
        return t.kind
    if t is ZeroT:
        return "%zero"
    if t is BOTTOM:
        return "(bottom)"
    if tt is TupleT:
        return "[" + " ".join(map(sub, t.items)) + "]"
    if tt is RecordT:
        return f"(record {t.rtype.name}" + "".join(
            f" :{f} {sub(i)}" for f, i in zip(t.rtype.fields, t.items)) + ")"
    if tt is ArrayT:
        dims = " ".join("?" if n is None else str(n) for n in t.shape)
        return f"(array {t.dtype} [{dims}])"
    if tt is FnT:
        captured = " ".join(sub(x) for _, x in t.captured)
        return f"(fn {t.code.name} [{captured}])"
    if tt is PrimT:
        return f"(primitive {t.prim.name})"
    if tt is CtorT:
        return f"(constructor {t.rtype.name})"
    if tt is BufferT:
        return f"(buffer {sub(t.elem)})"
    if tt is UnionT:
        return "(union " + " ".join(map(sub, t.members)) + ")"
    if tt is SumT:
        return "(sum " + " ".join(map(sub, t.members)) + ")"
    if tt is ArrowT:
        return "(-> [" + " ".join(map(sub, t.params)) + "] " + sub(t.result) + ")"
    if tt is TaggedT:
        return "(tagged " + " ".join(map(sub, t.members)) + ")"
    return "?"


@memo
def form(t):
    """``t`` as the form :func:`show`'s text reads as (parts shared)."""
    tt = type(t)
    if tt is Scalar:
        if t.kind == "none":
            return None
        if t.known() and t.kind in ("i64", "f64", "bool"):
            return Form((Symbol("const"), Symbol(t.kind), t.value))
        return Symbol(t.kind)
    if t is ZeroT:
        return Symbol("%zero")
    if t is BOTTOM:
        return Form((Symbol("bottom"),))
    if tt is TupleT:
        return Vec(tuple(map(form, t.items)))
    if tt is RecordT:
        parts = [Symbol("record"), Symbol(t.rtype.name)]
        for f, i in zip(t.rtype.fields, t.items):
            parts += [Keyword(f), form(i)]
        return Form(tuple(parts))
    if tt is ArrayT:
        dims = tuple(Symbol("?") if n is None else n for n in t.shape)
        return Form((Symbol("array"), Symbol(t.dtype), Vec(dims)))
    if tt is FnT:
        return Form((Symbol("fn"), Symbol(t.code.name), Vec(tuple(form(x) for _, x in t.captured))))
    if tt is PrimT:
        return Form((Symbol("primitive"), Symbol(t.prim.name)))
    if tt is CtorT:
        return Form((Symbol("constructor"), Symbol(t.rtype.name)))
    if tt is BufferT:
        return Form((Symbol("buffer"), form(t.elem)))
    if tt is ArrowT:
        return Form((Symbol("->"), Vec(tuple(map(form, t.params))), form(t.result)))
    head = "union" if tt is UnionT else "sum" if tt is SumT else "tagged"
    return Form((Symbol(head),) + tuple(map(form, t.members)))


def describe(t, width=160):
    """``t`` for a message: :func:`show` without the values (``f64``, not
    ``(const f64 1.0)``), cut to about ``width`` characters."""
    t = widen(t)
    for depth in range(6, 0, -1):
        text = show(t, depth)
        if len(text) <= width:
            return text
    return text[:width - 3] + "..."


def _atom(v):
    if type(v) is bool:
        return "True" if v else "False"
    if type(v) is float:
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Inf" if v > 0 else "-Inf"
    return repr(v)


# -- reading ------------------------------------------------------------------------------

class TypeSyntaxError(Exception):
    """Text that is not a type (the caller says where)."""


def read(form, lookup=None):
    """The type that :func:`show` wrote as ``form`` (read by the reader);
    ``lookup("record", name)`` gives a record type by name, ``lookup("primitive",
    name)`` a primitive.  Without ``lookup`` (checking a program's shape), a
    record type is a stand-in with the fields the form names, a primitive its
    name.  A closure type reads back with its code unknown (``(fn name
    [captured ...])``: what a value check needs)."""
    if lookup is None:
        return read(form, lambda kind, name: name)
    from_name = {"i64": Scalar("i64"), "f64": Scalar("f64"), "f32": Scalar("f32"),
                 "bool": Scalar("bool"), "str": Scalar("str"), "kw": Scalar("kw"),
                 "sym": Scalar("sym"), "form": Scalar("form"), "%zero": ZeroT}
    if form is None:
        return NoneT
    if type(form) is Symbol:
        t = from_name.get(form.name)
        if t is None:
            raise TypeSyntaxError(f"unknown type {form.name}")
        return t
    if type(form) is Vec:
        return TupleT(read(i, lookup) for i in form.items)
    if type(form) is not Form or not form.items or type(form.items[0]) is not Symbol:
        raise TypeSyntaxError(f"not a type: {form!r}")
    h, args = form.items[0].name, form.items[1:]
    if h == "const" and len(args) == 2:
        return Scalar(read(args[0], lookup).kind, args[1])
    if h == "array" and len(args) == 2 and type(args[1]) is Vec:
        return ArrayT(args[0].name, (None if type(d) is Symbol else d for d in args[1].items))
    if h == "record" and args and len(args) % 2:
        rt = lookup("record", args[0].name)
        if type(rt) is str:
            rt = RecordType(rt, [k.name for k in args[1::2]])
        return RecordT(rt, (read(i, lookup) for i in args[2::2]))
    if h == "constructor" and len(args) == 1:
        rt = lookup("record", args[0].name)
        return CtorT(RecordType(rt, []) if type(rt) is str else rt)
    if h == "primitive" and len(args) == 1:
        p = lookup("primitive", args[0].name)
        return PrimT(SimpleNamespace(name=p) if type(p) is str else p)
    if h == "fn" and len(args) == 2:
        return FnT(Code(None, None, args[0].name),
                   ((f"#{i}", read(x, lookup)) for i, x in enumerate(args[1].items)))
    if h == "->" and len(args) == 2:
        return ArrowT((read(i, lookup) for i in args[0].items), read(args[1], lookup))
    if h == "buffer" and len(args) == 1:
        return BufferT(read(args[0], lookup))
    if h == "union":
        return UnionT(read(i, lookup) for i in args)
    if h == "sum":
        return SumT(read(i, lookup) for i in args)
    if h == "tagged":
        return TaggedT(read(i, lookup) for i in args)
    if h == "bottom":
        return BOTTOM
    raise TypeSyntaxError(f"not a type: ({h} ...)")
