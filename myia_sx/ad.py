"""Automatic differentiation at run time: the ``%J`` operator and its helpers.

The primitives that differentiation generates calls of are named with ``%``
(``%J``, ``%grad``, ``%sens+`` ...), like every name the compiler makes, so
no definition of a module can shadow them.

``%J`` maps a value to its *J-value*: data (numbers, arrays, tuples, records,
forms) maps to itself, and a function maps to its J-transform, a function
that returns ``[value backpropagator]`` where ``(backpropagator dout)``
returns ``[d-env d-arg1 ...]`` (``d-env``: the sensitivity of the variables
the closure captured, an :class:`EnvSens` keyed by their names).  A closure's
J-transform is its code transformed by :func:`myia_sx.passes.differentiate.j_fn`
(once per code) closed over the J-values of its captured variables; a
primitive's is built around its derivative rule ``d/NAME`` from
``prelude/derivatives.sx``.

``grad``, ``value-and-grad``, ``vjp`` and ``jvp`` (macros in macros/core.sx)
expand to *makers* applied to ``(%J f)``: each maker builds a closure of
generated code, for the arity of ``f``, that calls the J-function and its
backpropagator.  Everything that runs is ordinary sx code, so ``%J`` applies
to its own output: derivatives of any order.

Sensitivities: ``None`` is the zero of every type (nothing flowed back);
:func:`sens_add` adds sensitivities of the same structure, and
:func:`sens_out` turns ``None`` parts into zeros shaped like the argument
when a gradient leaves ``grad``.
"""

from __future__ import annotations

import numpy as np

from .errors import SxGradError, SxShapeError, SxTypeError
from .forms import Form, Symbol, Vec
from .values import Closure, Record, RecordType, type_name


class EnvSens:
    """The sensitivity of a closure: captured variable name -> sensitivity."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __repr__(self):
        return f"<env-sens {' '.join(sorted(self.items))}>"


# -- sensitivity arithmetic ----------------------------------------------------------

def sens_add(a, b):
    """a + b for sensitivities (None is zero; tuples, records, envs by part)."""
    if a is None:
        return b
    if b is None:
        return a
    ta = type(a)
    if ta is tuple:
        if type(b) is not tuple or len(a) != len(b):
            raise SxTypeError(f"cannot add sensitivities of {type_name(a)} and {type_name(b)}")
        return tuple(sens_add(x, y) for x, y in zip(a, b))
    if isinstance(a, Record):
        return type(a)._sx_type.make(tuple(sens_add(x, y)
                                           for x, y in zip(a._values, b._values)))
    if ta is EnvSens:
        out = dict(a.items)
        for k, v in b.items.items():
            out[k] = sens_add(out.get(k), v)
        return EnvSens(out)
    return a + b


def zeros_like(x):
    """The zero of ``x``'s type and structure."""
    t = type(x)
    if t is float:
        return 0.0
    if t is bool:
        return False
    if t is int:
        return 0
    if t is np.ndarray:
        return np.zeros_like(x)
    if t is np.float32:
        return np.float32(0.0)
    if t is tuple:
        return tuple(zeros_like(v) for v in x)
    if isinstance(x, Record):
        return type(x)._sx_type.make(tuple(zeros_like(v) for v in x._values))
    return None


def sens_out(x, s):
    """The gradient for argument ``x`` given its sensitivity ``s``: same
    structure as ``x``, zeros where nothing flowed; integers and booleans
    get zero."""
    t = type(x)
    if t is int or t is bool:
        return zeros_like(x)
    if s is None:
        return zeros_like(x)
    if t is tuple and type(s) is tuple:
        return tuple(sens_out(a, b) for a, b in zip(x, s))
    if isinstance(x, Record) and isinstance(s, Record):
        return type(x)._sx_type.make(tuple(sens_out(a, b)
                                           for a, b in zip(x._values, s._values)))
    if t is float and type(s) is np.ndarray and s.ndim == 0:
        return float(s)
    return s


def unbroadcast(d, x):
    """Sum sensitivity ``d`` down to the shape of ``x`` (undo broadcasting)."""
    if d is None:
        return None
    if type(d) is not np.ndarray:
        return d
    if type(x) is not np.ndarray:
        return d.sum().item() if type(x) is not np.float32 else np.float32(d.sum())
    if d.shape == x.shape:
        return d
    extra = d.ndim - x.ndim
    if extra:
        d = d.sum(axis=tuple(range(extra)))
    if extra < 0 or d.ndim != x.ndim:
        raise SxShapeError(f"unbroadcast: a sensitivity of shape {d.shape} does not "
                           f"broadcast from shape {x.shape}")
    axes = tuple(i for i, n in enumerate(x.shape) if n == 1 and d.shape[i] != 1)
    if axes:
        d = d.sum(axis=axes, keepdims=True)
    if d.shape != x.shape:
        raise SxShapeError(f"unbroadcast: a sensitivity of shape {d.shape} does not "
                           f"broadcast from shape {x.shape}")
    return d


def unreduce(d, x, axis, keepdims):
    """Broadcast the sensitivity of a reduction of ``x`` back to ``x``'s shape."""
    if d is None:
        return None
    if type(x) is not np.ndarray:
        return d
    d = np.asarray(d)
    try:
        if axis is not None and not keepdims:
            axes = axis if type(axis) is tuple else (axis,)
            d = np.expand_dims(d, tuple(a % x.ndim for a in axes))
        return np.broadcast_to(d, x.shape).copy()
    except (ValueError, TypeError):
        raise SxShapeError(f"unreduce: a sensitivity of shape {d.shape} does not come from "
                           f"reducing shape {x.shape} over axis {axis}") from None


def _expect(ok, who, what, v):
    if not ok:
        raise SxTypeError(f"{who} expects {what}, got {type_name(v)}")


def split_like(d, xs, axis):
    """Cut ``d`` into pieces shaped like the tuple ``xs`` (inverse of concat)."""
    _expect(type(xs) is tuple and xs, "split-like", "a non-empty tuple of pieces", xs)
    if all(type(x) is tuple for x in xs):
        _expect(type(d) is tuple, "split-like", "a tuple to split", d)
        out, i = [], 0
        for x in xs:
            out.append(d[i:i + len(x)])
            i += len(x)
        return tuple(out)
    _expect(type(d) is np.ndarray and all(type(x) is np.ndarray and x.ndim for x in xs),
            "split-like", "an array and a tuple of arrays", d)
    bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
    return tuple(np.split(d, bounds, axis=axis))


def join_like(ds, xs, axis):
    """Concatenate pieces ``ds`` (None: zeros like the piece of ``xs``)."""
    _expect(type(ds) is tuple and type(xs) is tuple and len(ds) == len(xs) and xs,
            "join-like", "two tuples of the same length", ds)
    parts = [zeros_like(x) if d is None else d for d, x in zip(ds, xs)]
    if all(type(x) is tuple for x in xs):
        return tuple(v for p in parts for v in p)
    _expect(all(type(p) is np.ndarray and p.ndim for p in parts), "join-like",
            "pieces that are all tuples or all arrays", parts[0])
    return np.concatenate(parts, axis=axis)


def env_sens(*kv):
    """``(%env-sens 'x dx 'y dy)``: the sensitivity of a closure's captured variables."""
    _expect(len(kv) % 2 == 0 and all(type(k) is Symbol for k in kv[::2]), "%env-sens",
            "symbol / sensitivity pairs", kv[0] if kv else None)
    items = {}
    for k, v in zip(kv[::2], kv[1::2]):
        if v is not None:
            items[k.name] = v
    return EnvSens(items)


def env_get(e, k):
    """The sensitivity of captured variable ``k`` in env sensitivity ``e``."""
    if e is None:
        return None
    if type(e) is not EnvSens:
        raise SxTypeError(f"%env-get expects a closure sensitivity, got {type_name(e)}")
    return e.items.get(k.name)


def sens_get(d, i):
    """Element ``i`` of a tuple sensitivity (None stays None)."""
    if d is None:
        return None
    _expect(type(d) is tuple, "%sens-get", "a tuple sensitivity", d)
    _expect(type(i) is int and -len(d) <= i < len(d), "%sens-get",
            f"an index into a tuple of {len(d)}", i)
    return d[i]


def sens_at(like, i, v):
    """A tuple sensitivity shaped like tuple ``like``: ``v`` at ``i``, None elsewhere."""
    if v is None or like is None:
        return None
    _expect(type(like) is tuple, "%sens-at", "a tuple to shape the sensitivity", like)
    _expect(type(i) is int and -len(like) <= i < len(like), "%sens-at",
            f"an index into a tuple of {len(like)}", i)
    out = [None] * len(like)
    out[i] = v
    return tuple(out)


def _field(who, r, name):
    """``(record type, index)`` of field ``name`` of record ``r``, checked."""
    _expect(isinstance(r, Record), who, "a record", r)
    rt = type(r)._sx_type
    _expect(type(name) is Symbol and name.name in rt.index, who, f"a field of {rt.name}", name)
    return rt, rt.index[name.name]


def field_sens(r, name, v):
    """A record sensitivity of ``r``'s type: ``v`` in field ``name``, None elsewhere."""
    if v is None:
        return None
    rt, i = _field("%field-sens", r, name)
    vals = [None] * len(rt.fields)
    vals[i] = v
    return rt.make(tuple(vals))


def sens_field(d, name):
    """Field ``name`` of a record sensitivity (None stays None)."""
    if d is None:
        return None
    return d._values[_field("%sens-field", d, name)[1]]


def _same_structure(a, b):
    if b is None:
        return True
    ta, tb = type(a), type(b)
    if ta is tuple:
        return tb is tuple and len(a) == len(b) and all(map(_same_structure, a, b))
    if isinstance(a, Record):
        return tb is ta and all(map(_same_structure, a._values, b._values))
    if ta is np.ndarray:
        return tb is np.ndarray and a.shape == b.shape
    if ta in (int, float, bool, np.float32):
        return tb in (int, float, bool, np.float32) or (tb is np.ndarray and b.ndim == 0)
    return True


def check_like(like, v, what):
    """``v``, if it has the structure of ``like`` (tuples, records, array shapes)."""
    if not _same_structure(like, v):
        raise SxGradError(f"{what} must have the structure of {type_name(like)}, "
                          f"got {type_name(v)}")
    return v


def check_tuple(v, n, what):
    """``v``, if it is a tuple of ``n`` elements."""
    if type(v) is not tuple or len(v) != n:
        raise SxGradError(f"{what} must be a tuple of {n} (one per argument), "
                          f"got {type_name(v)}")
    return v


def grad_seed(y, f=None):
    """The output sensitivity that starts ``grad``: 1 of ``y``'s type (``f``:
    the function differentiated, whose definition an error points at)."""
    t = type(y)
    if t is float or t is int:
        return 1.0
    if t is np.float32:
        return np.float32(1.0)
    if t is np.ndarray and y.ndim == 0:
        return np.ones_like(y)
    code = getattr(f, "code", None)
    name = ""
    if code is not None:
        base = code.name
        while base.startswith("%J(") and base.endswith(")"):
            base = base[2:-1]
        base = base.split("%")[0]
        name = "" if base in ("fn", "<expr>") else f" {base}"
    raise SxGradError(f"grad needs a function whose output is a scalar, got {type_name(y)} "
                      f"from{name or ' the function'} (use vjp for other outputs)",
                      getattr(code, "span", None))


# -- J ---------------------------------------------------------------------------------

def J(v):
    """The J-value of ``v`` (see the module docstring)."""
    return _j(v, {})


def _j(v, memo):
    t = type(v)
    if t is Closure:
        got = memo.get(id(v))
        if got is not None:
            return got
        maker, names = _j_maker(v.code)
        free = dict(zip(v.code.free_names, v.free))
        out = Closure(None, None)
        memo[id(v)] = out
        made = _run(maker, [_j(free[n], memo) for n in names])
        out.code, out.free = made.code, made.free
        return out
    from .prims import Prim

    if t is Prim:
        return _j_prim(v)
    if t is RecordType:
        return _j_record(v)
    if t is tuple:
        return tuple(_j(x, memo) for x in v)
    if isinstance(v, Record):
        vals = tuple(_j(x, memo) for x in v._values)
        return v if all(a is b for a, b in zip(vals, v._values)) else type(v)._sx_type.make(vals)
    return v


def J_shallow(c):
    """A closure whose captured values are J-values already: transform its code only."""
    _expect(type(c) is Closure, "%J-shallow", "a closure", c)
    maker, names = _j_maker(c.code)
    free = dict(zip(c.code.free_names, c.free))
    return _run(maker, [free[n] for n in names])


def _run(closure, args):
    from .interp import run

    return run(closure, args)


def _compile(form, globals_, name):
    """Run ``form`` (an expression) compiled against the global dict ``globals_``."""
    from . import interp, pipeline

    env = interp.Env()
    env.globals = globals_
    env.names = set(globals_)
    with pipeline.deep_recursion():
        return interp.run(env.compile_expr(form, name), ())


def _j_maker(code):
    """``(maker, names)``: ``maker`` called with the J-values of the captured
    variables ``names`` gives the J-transform of a closure of ``code``."""
    if code.j_code is None:
        from .passes.differentiate import free_variables, j_fn, normal_fn

        if code.fn_form is None:
            raise SxGradError(f"cannot differentiate {code.name}: its code is not available",
                              code.span)
        from .prims import PRIMS

        def is_global(n):
            return n in code.globals or n in PRIMS

        def prim_of(n):
            return None if n in code.globals else PRIMS.get(n)

        fn = normal_fn(code.fn_form)
        jfn = j_fn(fn, is_global, prim_of)
        names = sorted(free_variables(jfn, is_global))
        maker = Form((Symbol("fn"), Vec([Symbol(n) for n in names]), jfn), code.span)
        code.j_code = (_compile(maker, code.globals, f"%J({code.name})"), names)
    return code.j_code


_prim_cache: dict = {}


def _base_globals():
    from .library import base_env

    return base_env().globals


def _j_prim(p):
    """The J-transform of primitive ``p`` (around its rule ``d/NAME``)."""
    got = _prim_cache.get(p.name)
    if got is not None:
        return got
    rule = "d/" + p.name
    if rule not in _base_globals():
        raise SxGradError(f"primitive {p.name} has no derivative rule")
    n = p.max_args if p.max_args is not None else max(p.min_args, 1)
    args = [Symbol(f"a{i}") for i in range(n)]
    out, dout, z = Symbol("out"), Symbol("dout"), Symbol("z")
    kwvals = [p.kwargs[k] for k in p.kwargs]
    if p.min_args == p.max_args:
        rule_args = args + kwvals
    else:
        rule_args = [Vec(args)] + kwvals
    sens = [Symbol(f"s{i}") for i in range(n)]
    rule_call = Form([Symbol(rule), *rule_args, out, dout])
    guarded = Form([Symbol("if"), z, Vec([None] * n), rule_call])
    bp = Form((Symbol("fn"), Vec([dout]),
               Form((Symbol("let"), Vec([z, Form([Symbol("%zero?"), dout]), Vec(sens), guarded]),
                     Vec([Form([Symbol("%env-sens")]), *sens])))))
    fn = Form((Symbol("fn"), Vec(args),
               Form((Symbol("let"), Vec([out, Form([Symbol(p.name), *args])]), Vec([out, bp])))))
    got = _compile(fn, _base_globals(), f"%J({p.name})")
    _prim_cache[p.name] = got
    return got


_record_cache: dict = {}


def _j_record(rt):
    """The J-transform of a record constructor."""
    got = _record_cache.get(id(rt))
    if got is not None and got[0] is rt:
        return got[1]
    fields = [Symbol(f) for f in rt.fields]
    d = Symbol("d")
    rec = Symbol("rec")
    bp = Form((Symbol("fn"), Vec([d]),
               Vec([Form([Symbol("%env-sens")])]
                   + [Form([Symbol("%sens-field"), d, Form([Symbol("quote"), f])]) for f in fields])))
    fn = Form((Symbol("fn"), Vec([rec]),
               Form((Symbol("fn"), Vec(fields), Vec([Form([rec, *fields]), bp])))))
    maker = _compile(fn, _base_globals(), f"%J({rt.name})")
    got = _run(maker, [rt])
    _record_cache[id(rt)] = (rt, got)
    return got


# -- grad, value-and-grad, vjp, jvp ------------------------------------------------------

def _arity(jf, who):
    if type(jf) is Closure:
        return jf.code.nparams
    raise SxGradError(f"{who} needs a function, got {type_name(jf)}")


_maker_cache: dict = {}


def _maker(kind, n, wrt):
    """Compiled ``(fn [jf] (fn [x0 ...] ...))`` for ``kind`` at arity ``n``."""
    key = (kind, n, wrt)
    got = _maker_cache.get(key)
    if got is None:
        from .passes.differentiate import maker_form

        got = _compile(maker_form(kind, n, wrt), _base_globals(), kind)
        _maker_cache[key] = got
    return got


def _check_wrt(wrt, n, who):
    if type(wrt) is int:
        idx = (wrt,)
    elif type(wrt) is tuple and wrt and all(type(i) is int for i in wrt):
        idx = wrt
    else:
        raise SxGradError(f"{who}: :wrt must be an argument index or a tuple of them, "
                          f"got {type_name(wrt)}")
    for i in idx:
        if not 0 <= i < n:
            raise SxGradError(f"{who}: :wrt index {i} out of range for a function of "
                              f"{n} argument{'s' * (n != 1)}")
    return wrt


def make(kind, jf, wrt=0):
    """The closure ``kind`` (grad, value-and-grad, vjp, jvp) of J-function ``jf``."""
    n = _arity(jf, kind)
    if kind in ("grad", "value-and-grad"):
        wrt = _check_wrt(wrt, n, kind)
    else:
        wrt = None
    return _run(_maker(kind, n, wrt), [jf])

