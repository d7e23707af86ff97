"""Runtime values shared by the interpreter, the primitives and the API.

Scalars are Python ``int`` (i64), ``float`` (f64), ``bool``, ``None`` and
``numpy.float32`` (f32); tuples are Python tuples; arrays are numpy arrays of
f32, f64, i64 (and bool, from comparisons); records are instances of a class
made per ``defrecord``; functions are :class:`Closure`, primitives
(:class:`myia_sx.prims.Prim`) and record constructors (:class:`RecordType`).
Forms (symbols, keywords, ``Form``, ``Vec``, strings) are values too, for macros.

Differentiation adds two kinds of values (see docs/grad.md): :data:`ZERO`, the
zero sensitivity (its own type, the zero of every type: destructuring it or
reading a field of it gives ``ZERO`` again), and :class:`Buffer`, the growable
sequence in which the forward pass of a loop saves its backpropagators.
"""

from __future__ import annotations

import keyword as _pykeyword

import numpy as np

from .forms import Keyword, Seq, Symbol, form_eq, user_name

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
ARRAY_DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
                np.dtype(np.int64): "i64", np.dtype(np.bool_): "bool"}


def wrap_i64(r: int) -> int:
    """``r`` reduced to a signed 64-bit integer (two's complement wraparound)."""
    if I64_MIN <= r <= I64_MAX:
        return r
    return ((r - I64_MIN) & 0xFFFFFFFFFFFFFFFF) + I64_MIN


def mangle(name: str) -> str:
    """The Python attribute spelling of an sx name: ``sum-tree`` -> ``sum_tree``."""
    return name.replace("-", "_")


class Closure:
    """A function value: compiled code plus the values it captured."""

    __slots__ = ("code", "free")

    def __init__(self, code, free):
        self.code = code
        self.free = free

    @property
    def name(self):
        return self.code.name

    def __repr__(self):
        return f"<fn {self.code.name}>"


def closure_env(c):
    """The values a closure's sensitivity is over, in order: what it
    captured, or for a function of a letrec group, what the group captured
    (the group's functions left out: their sensitivities are the group's)."""
    code = c.code
    if code.letrec is None:
        return c.free
    where = dict(zip(code.free_names, c.free))
    return tuple(where[n] for n in code.group_free)


def flat_closures(v):
    """``v`` with each closure in it replaced by the tuple of what it
    captured (:func:`closure_env`, closures in it flattened too): how a
    specialized program holds closures."""
    t = type(v)
    if t is Closure:
        return tuple(map(flat_closures, closure_env(v)))
    if t is tuple:
        return tuple(map(flat_closures, v))
    if isinstance(v, Record):
        return t._sx_type.make(tuple(map(flat_closures, v._values)))
    if t is Buffer:
        return Buffer([flat_closures(x) for x in v.elements()[v.base:]], v.n, v.base, v.like)
    return v


class Zero:
    """The type of :data:`ZERO`, the zero sensitivity: nothing flowed back.

    Written ``%zero`` in programs.  Integers and booleans only ever have this
    sensitivity; ``(%sens-fill d x)`` turns it into zeros shaped like ``x``."""

    __slots__ = ()

    def __repr__(self):
        return "%zero"

    def __reduce__(self):
        return (_the_zero, ())


def _the_zero():
    return ZERO


ZERO = object.__new__(Zero)


class Buffer:
    """A persistent growable sequence of ``n`` elements: the first ``base``
    are :data:`ZERO`, the others are ``items[:n - base]``.

    Pushing onto a buffer that owns the end of ``items`` appends in place
    (amortized O(1)); pushing onto an older view copies first, so every
    buffer value keeps meaning what it meant (the language is pure).  The
    forward pass of a differentiated loop pushes one backpropagator per
    iteration; the backward pass pops them (``pop`` never mutates).  The
    zero prefix makes the zero sensitivity of a buffer of any length, which
    the derivative of a differentiated loop asks for at every iteration,
    cost O(1).  ``like``, when set, is the buffer whose zero the prefix is:
    an element popped from the prefix is the zero of ``like``'s element
    (``%buf-pop`` makes it), so it has the type of the others."""

    __slots__ = ("items", "n", "base", "like")

    def __init__(self, items, n, base=0, like=None):
        self.items = items
        self.n = n
        self.base = base
        self.like = like

    @staticmethod
    def zeros(n, like=None):
        """A buffer of ``n`` ZERO elements (the zeros of ``like``'s)."""
        return Buffer([], n, n, like)

    def push(self, x):
        items = self.items
        if len(items) != self.n - self.base:
            items = items[:self.n - self.base]
        items.append(x)
        return Buffer(items, self.n + 1, self.base, self.like)

    def pop(self):
        """``(rest, last)``; the buffer must not be empty.  An element of the
        zero prefix is ZERO."""
        n = self.n - 1
        if n < self.base:
            return Buffer(self.items, n, n, self.like), ZERO
        return Buffer(self.items, n, self.base, self.like), self.items[n - self.base]

    def element(self, i):
        """Element ``i`` (ZERO in the zero prefix)."""
        return ZERO if i < self.base else self.items[i - self.base]

    def elements(self):
        return [ZERO] * self.base + self.items[:self.n - self.base]

    def __len__(self):
        return self.n

    def __repr__(self):
        return f"<buffer of {self.n}>"


class Record:
    """Base of the classes that ``defrecord`` makes (namedtuple-like)."""

    __slots__ = ("_values",)
    _fields: tuple = ()
    _sx_fields: tuple = ()
    _sx_type = None

    def __init__(self, *args, **kwargs):
        from .errors import SxError, hide_internal_frames

        t = type(self)._sx_type
        try:
            self._values = t.arrange(args, kwargs)
        except SxError as e:
            if e.span is None:  # called from Python: point at the defrecord
                e.span = t.span
            hide_internal_frames(e)
            raise

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def _asdict(self):
        return dict(zip(self._fields, self._values))

    def _replace(self, **kwargs):
        d = self._asdict()
        d.update(kwargs)
        return type(self)(**d)

    def __eq__(self, other):
        return values_equal(self, other)

    def __hash__(self):
        return hash((type(self).__name__, tuple(map(_hashable, self._values))))

    def __repr__(self):
        inner = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self._values))
        return f"{type(self).__name__}({inner})"


def _hashable(v):
    return v.tobytes() if isinstance(v, np.ndarray) else v


class RecordType:
    """A record type made by ``(defrecord Name [fields])``; calling it constructs."""

    __slots__ = ("name", "fields", "index", "pyclass", "span")

    def __init__(self, name: str, fields, span=None):
        self.name = name
        self.fields = tuple(fields)
        self.index = {f: i for i, f in enumerate(self.fields)}
        self.span = span
        mangled = tuple(mangle(f) for f in self.fields)
        ns = {"__slots__": (), "_fields": mangled, "_sx_fields": self.fields,
              "_sx_type": self, "__module__": "myia_sx.records"}
        for i, (f, m) in enumerate(zip(self.fields, mangled)):
            ns[m] = property(lambda self, i=i: self._values[i], doc=f"field {f}")
            self.index.setdefault(m, i)
        self.pyclass = type(mangle(name), (Record,), ns)

    @staticmethod
    def field_name_problem(name: str) -> str | None:
        """Why ``name`` cannot be a record field, or None if it can."""
        m = mangle(name)
        if not m.isidentifier() or _pykeyword.iskeyword(m) or m.startswith("_"):
            return (f"field name {name!r} must be an identifier (letters, digits, "
                    "- and _, not starting with _ or a digit, not a Python keyword)")
        return None

    def arrange(self, args, kwargs):
        """The field values, in order, from positional and keyword arguments."""
        from .errors import SxTypeError

        n = len(self.fields)
        if not kwargs:
            if len(args) != n:
                raise SxTypeError(f"{self.name} takes {n} field value(s), got {len(args)}")
            return tuple(args)
        vals = list(args) + [_MISSING] * (n - len(args))
        if len(args) > n:
            raise SxTypeError(f"{self.name} takes {n} field value(s), got {len(args)}")
        for k, v in kwargs.items():
            i = self.index.get(k)
            if i is None:
                raise SxTypeError(f"{self.name} has no field {k}")
            if vals[i] is not _MISSING:
                raise SxTypeError(f"field {k} of {self.name} given twice")
            vals[i] = v
        missing = [f for f, v in zip(self.fields, vals) if v is _MISSING]
        if missing:
            raise SxTypeError(f"{self.name}: missing field(s) {' '.join(missing)}")
        return tuple(vals)

    def make(self, values):
        r = object.__new__(self.pyclass)
        r._values = values
        return r

    def __call__(self, *args, **kwargs):
        return self.make(self.arrange(args, kwargs))

    def __repr__(self):
        return f"<record {self.name}>"


_MISSING = object()


def type_name(v) -> str:
    """A short name for the type of a runtime value, for error messages."""
    t = type(v)
    if t is bool or t is np.bool_:
        return "bool"
    if t is int or t is np.int64:
        return "i64"
    if t is float or t is np.float64:
        return "f64"
    if t is np.float32:
        return "f32"
    if v is None:
        return "None"
    if t is tuple:
        return "tuple of " + str(len(v))
    if t is np.ndarray:
        dt = ARRAY_DTYPES.get(v.dtype, str(v.dtype))
        return f"array {dt}{list(v.shape)}"
    if isinstance(v, Record):
        return "record " + type(v)._sx_type.name
    if t is Closure:
        return "function"
    if t is RecordType:
        return "record constructor"
    if t is Symbol:
        return "symbol"
    if t is Keyword:
        return "keyword"
    if t is str:
        return "string"
    if isinstance(v, Seq):
        return "form"
    if t is Zero:
        return "zero"
    if t is Buffer:
        return f"buffer of {v.n}"
    return getattr(t, "sx_type_name", t.__name__)


def values_equal(a, b) -> bool:
    """Structural equality of two values (arrays compared element by element)."""
    ta, tb = type(a), type(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if ta is tuple or tb is tuple:
        return ta is tb and len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Record) or isinstance(b, Record):
        return ta is tb and all(values_equal(x, y) for x, y in zip(a._values, b._values))
    if isinstance(a, (Seq, Symbol, Keyword)) or isinstance(b, (Seq, Symbol, Keyword)):
        return form_eq(a, b)
    if (ta is bool) != (tb is bool):
        return False
    return bool(a == b)   # an f32 compared with a non-number gives numpy's bool


def show_value(v) -> str:
    """sx text of a runtime value, on one line (for the CLI and the REPL).

    Numbers, tuples, records, arrays and quoted forms are written as sx that
    evaluates to an equal value (``[1 2.5]``, ``(P 1 2.0)``, ``(array [[1.0
    2.0] [3.0 4.0]])``, ``(array [1.5] :dtype :f32)``, ``'(a b)``; a bool
    array as ``(array [True False])``, the notation of the docs); a function
    as ``<function NAME at FILE:LINE:COL>``, where it is defined."""
    from .printer import dump_atom, dumps

    t = type(v)
    if t is tuple:
        return "[" + " ".join(show_value(x) for x in v) + "]"
    if isinstance(v, Record):
        return "(" + type(v)._sx_type.name + "".join(" " + show_value(x) for x in v._values) + ")"
    if t is np.ndarray:
        return _show_array(v, dump_atom)
    if t is np.float32:
        return f"(f32 {_f32_text(v, dump_atom)})"
    if isinstance(v, Seq):
        return "'" + dumps(v)
    if t is Symbol:
        return "'" + v.name
    if t in (int, float, bool, str, Keyword) or v is None:
        return dump_atom(v)
    if t is Closure:
        return f"<function {user_name(v.code.name)}{_where(v.code.span)}>"
    if t is RecordType:
        return f"<record constructor {v.name}{_where(v.span)}>"
    if isinstance(v, type) and issubclass(v, Record):   # a record type, as Python sees it
        return show_value(v._sx_type)
    inner = getattr(v, "closure", None)   # a function, as the Python API gives it
    if inner is not None:
        return show_value(inner)
    name = getattr(v, "name", None)
    if type(name) is str:
        return f"<{type_name(v)} {name}>"
    return repr(v)


def _where(span):
    return "" if span is None else f" at {span.file}:{span.line}:{span.col}"


def _f32_text(x, dump_atom):
    """The shortest decimal that reads back as the f32 ``x``."""
    return dump_atom(float(str(np.float32(x)))) if np.isfinite(x) else dump_atom(float(x))


def _show_array(a, dump_atom):
    """An array as the sx expression that makes it."""
    dt = ARRAY_DTYPES.get(a.dtype, str(a.dtype))
    if a.size == 0:
        shape = "[" + " ".join(map(str, a.shape)) + "]"
        if dt == "bool":
            return f"(> (zeros {shape}) 0.0)"
        return f"(zeros {shape}{'' if dt == 'f64' else ' :dtype :' + dt})"
    if dt == "f32":
        def atom(x):
            return _f32_text(x, dump_atom)
    else:
        atom = dump_atom

    def text(x):
        return "[" + " ".join(map(text, x)) + "]" if type(x) is list else atom(x)

    return f"(array {text(a.tolist())}{' :dtype :f32' if dt == 'f32' else ''})"
