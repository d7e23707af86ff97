"""Differentiation at run time: ``%J``, ``%J-shallow`` and the makers, and
the J-transforms of global functions made on demand.

The ``differentiate`` pass does ahead of time every J-transform it can see
(docs/grad.md).  What is left for run time:

  - ``(%J x)`` of a value that arrived from outside (a parameter, the result
    of a call, a function passed in from Python): :func:`J` maps data to
    itself and a function to its J-transform: a closure's code is
    transformed once (:func:`myia_sx.passes.differentiate.j_fn`, cached on the
    code) and closed over the J-values of what it captured; a primitive's is
    built around its derivative rule; a record constructor's gives the fields'
    sensitivities back;
  - the global ``g%J`` of a function ``g`` of a library or of earlier REPL
    input: :func:`derive` makes it in ``g``'s namespace when a pass or the
    interpreter first asks for it (redefining ``g`` forgets it, see
    :meth:`myia_sx.env.Env.define`);
  - a maker applied to a J-function the pass could not see: :func:`make`
    compiles, once per kind, parameter names and ``:wrt``, the function the
    pass would have written.

Everything here is iterative: values are walked with an explicit stack, so
a gradient that captures a long chain of values does not recurse in Python.
Importing this module installs it (the rows of ``%J`` and the makers in the
primitive table, and the interpreter's hook for missing ``%J`` globals).
"""

from __future__ import annotations

from . import core, interp
from .env import Env
from .errors import SxGradError
from .forms import Form, Symbol, Vec
from .passes import differentiate as dj
from .passes.names import NameSupply
from .passes.normalize_anf import _Normalizer
from .passes.resolve_names import resolve_expr
from .prims import PRIMS, Prim
from .prims.sens import install_ad_runtime
from .values import Buffer, Closure, Record, RecordType, closure_env, type_name

# The namespace of the library that defines the derivative rules (the base
# environment; set by myia_sx.library when it builds it).  Code made here
# (makers, J-transforms of primitives and record constructors) is compiled
# in it: it names primitives, never shadowed there, and the rules.
_RULES: dict = {}


def use_rules(namespace):
    """Take the derivative rules (``%d/NAME``) from ``namespace``."""
    _RULES.clear()
    _RULES["ns"] = namespace


class _Namespace(dj.World):
    """The globals of one namespace, for transforming code at run time.
    J-transforms of its functions are referred to by name (``g%J``) and
    made on first use (:func:`derive`)."""

    def __init__(self, ns):
        self.ns = ns
        self.needed = set()

    def lookup(self, name):
        if name in self.ns:
            return dj.env_global(self.ns[name])
        base = name
        while base.endswith("%J") and base not in self.ns:
            base = base[:-2]
        if base != name and (base in self.ns or type(PRIMS.get(base)) is Prim):
            g = self.lookup(base)
            return dj.Global("fn", g.params if g.kind != "prim" else None)
        return self.prim_global(name)

    def need(self, jname):
        self.needed.add(jname)


def _compile(form, ns, name, extra_names=()):
    """The value of expression ``form`` compiled in namespace ``ns``."""
    env = Env(ns)
    env.names |= set(extra_names)
    return interp.evaluate(env, form, name)


# -- J of values -----------------------------------------------------------------------------

def J(root):
    """The J-value of ``root`` (see the module docstring)."""
    memo = {}
    order = []
    stack = [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
            continue
        if id(v) in memo:
            continue
        t = type(v)
        if t is Closure:
            memo[id(v)] = Closure(None, None)   # a cycle through letrec sees this one
            children = closure_env(v)
        elif t is tuple:
            memo[id(v)] = None
            children = v
        elif isinstance(v, Record):
            memo[id(v)] = None
            children = v._values
        elif t is Buffer:
            # the views of one growing buffer share its list: walked once
            memo[id(v)] = None
            children = (v.items,)
        elif t is list:
            memo[id(v)] = None
            children = v
        else:
            memo[id(v)] = _j_leaf(v)
            continue
        stack.append((v, True))
        stack.extend((c, False) for c in children)
    for v in order:   # (every value in memo is reachable from root: ids stay unique)
        t = type(v)
        if t is Closure:
            maker = _j_code(v.code)
            made = interp.run(maker, [memo[id(x)] for x in closure_env(v)])
            out = memo[id(v)]
            out.code, out.free = made.code, made.free
        elif t is tuple:
            memo[id(v)] = tuple(memo[id(x)] for x in v)
        elif t is Buffer:
            memo[id(v)] = Buffer(memo[id(v.items)], v.n, v.base)
        elif t is list:
            memo[id(v)] = [memo[id(x)] for x in v]
        else:
            vals = tuple(memo[id(x)] for x in v._values)
            memo[id(v)] = v if all(a is b for a, b in zip(vals, v._values)) else \
                t._sx_type.make(vals)
    return memo[id(root)]


def _j_leaf(v):
    if type(v) is Prim:
        return _j_prim(v)
    if type(v) is RecordType:
        return _j_record(v)
    return v


def J_shallow(c):
    """A closure whose captured values are J-values already: its code transformed."""
    if type(c) is not Closure:
        raise SxGradError(f"%J-shallow expects a closure, got {type_name(c)}")
    return interp.run(_j_code(c.code), list(closure_env(c)))


def _group_of(letrec, ns):
    """For a function of a letrec group (``letrec`` is ``(pairs, name)``):
    the group's pairs and the names it captures, sorted (what each of its
    closures captures: :func:`myia_sx.values.closure_env`)."""
    pairs, _ = letrec
    world = _Namespace(ns)
    free = set()
    for _, f in pairs:
        free |= set(core.free_variables(f, lambda n: world.lookup(n) is not None))
    return tuple(pairs), sorted(free - {n.name for n, _ in pairs})


def _resolved_group(pairs, free, world, supply):
    """The letrec ``pairs`` with their local binders renamed apart and their
    bodies in Lanf (the group's names and ``free`` stay as they are)."""
    names = {n.name for n, _ in pairs} | set(free)
    out = []
    for n, f in pairs:
        f = resolve_expr(f, lambda v: v in names or world.lookup(v) is not None, supply)
        out.append((n, Form((f.items[0], f.items[1], _Normalizer(supply).body(f.items[2])),
                            f.span)))
    return tuple(out)


_maker_forms: dict = {}


def j_maker_form(fn, ns, letrec, name, free=None):
    """``(fn [free ...] ...)``, which, called with the J-values of what a
    closure of code ``fn`` captures (its letrec group's captures for a
    function of a group: ``letrec`` is ``(pairs, name)``), gives the
    closure's J-transform; and the names of those parameters.  ``ns`` is the
    namespace of the code's globals; ``free``, the names a closure of a
    function outside a group captures (computed if not given).  Cached by
    code."""
    got = _maker_forms.get(id(fn))
    if got is not None and got[0] is fn:
        return got[1]
    world = _Namespace(ns)
    if letrec is not None:
        # transformed with its group: a loop stays a loop
        sub, free = _group_of(letrec, ns)
        supply = NameSupply(tuple(f for _, f in sub))
        sub = _resolved_group(sub, free, world, supply)
        steps, jme = dj.j_group(sub, world, supply, None, letrec[1])
        body = dj.wrap_steps(steps, jme)
    else:
        if free is None:
            free = core.free_variables(fn, lambda n: world.lookup(n) is not None)
        supply = NameSupply((fn,))
        rfn = resolve_expr(fn, lambda n: n in free or world.lookup(n) is not None, supply)
        rfn = Form((rfn.items[0], rfn.items[1], _Normalizer(supply).body(rfn.items[2])),
                   rfn.span)
        jfn, _ = dj.j_fn(rfn, world, supply)
        me = Symbol(supply.fresh(name.split("%")[0] or "fn"))
        body = Form((Symbol("let"), Vec([me, jfn]), me))
    maker = Form((Symbol("fn"), Vec([Symbol(n) for n in free]), body), fn.span)
    made = (maker, tuple(free), world.needed)
    _maker_forms[id(fn)] = (fn, made)
    return made


def _j_code(code):
    """The closure that, called with the J-values of :func:`closure_env` of a closure of
    ``code`` turned into J-values, gives the closure's J-transform."""
    if code.j_code is None:
        if code.fn_form is None:
            raise SxGradError(f"cannot differentiate {code.name}: its code is not available",
                              code.span)
        maker, _, needed = j_maker_form(code.fn_form, code.globals, code.letrec, code.name,
                                        code.free_names)
        code.j_code = _compile(maker, code.globals, f"{code.name}%J", needed)
    return code.j_code


_prim_cache: dict = {}


def _j_prim(p):
    """The J-transform of primitive ``p`` taken as a value."""
    got = _prim_cache.get(p.name)
    if got is None:
        rule = _RULES.get("ns", {}).get(p.grad) if p.grad else None
        if rule is None:
            raise SxGradError(f"cannot differentiate: primitive {p.name} has no derivative "
                              "rule")
        got = _compile(dj.prim_j_form(p), rule.code.globals, f"{p.name}%J")
        _prim_cache[p.name] = got
    return got


_record_cache: dict = {}


def _record_maker(rt):
    """The compiled ``(fn [rec] ...)`` giving the J-transform of constructor ``rec``."""
    got = _record_cache.get(id(rt))
    if got is None or got[0] is not rt:
        supply = NameSupply(())
        maker = Form((Symbol("fn"), Vec([Symbol("rec")]),
                      dj.record_j_form(Symbol("rec"), rt.fields, supply.fresh)))
        got = (rt, _compile(maker, _RULES["ns"], f"{rt.name}%J"))
        _record_cache[id(rt)] = got
    return got[1]


def _j_record(rt):
    """The J-transform of a record constructor."""
    return interp.run(_record_maker(rt), [rt])


# -- global J-transforms, on demand -------------------------------------------------------------

def derive(ns, name):
    """The value of ``name`` in namespace ``ns`` if it is the J-transform
    ``g%J`` of a function ``g`` there (or of a primitive), made now and kept
    in ``ns``; :data:`myia_sx.interp.MISSING` otherwise."""
    if not name.endswith("%J") or len(name) == 2:
        return interp.MISSING
    base = name[:-2]
    if base in ns:
        v = ns[base]
    elif type(PRIMS.get(base)) is Prim:
        v = PRIMS[base]
    else:
        v = derive(ns, base)
    if type(v) not in (Closure, Prim, RecordType):
        return interp.MISSING
    jv = J(v)
    if type(v) is Closure and v.code.globals is not ns and v.code.globals.get(base) is v:
        v.code.globals.setdefault(name, jv)   # its home namespace shares it
    ns[name] = jv
    return jv


def derive_into(env, name):
    """True if ``name`` is a global of ``env``, made now if it is a J-transform."""
    if name in env.names:
        return True
    if derive(env.globals, name) is interp.MISSING:
        return False
    env.names.add(name)
    return True


# -- grad, value-and-grad, vjp, jvp at run time ---------------------------------------------------

_maker_cache: dict = {}


def make(kind, jf, wrt=0):
    """The function maker ``kind`` builds around the J-function ``jf``."""
    if type(jf) is not Closure:
        raise SxGradError(f"{kind} needs a function, got {type_name(jf)}")
    return interp.run(_maker(kind, jf.code.param_names, wrt), [jf])


def _maker(kind, params, wrt):
    """The compiled ``(fn [jf] ...)`` of maker ``kind`` for parameters ``params``."""
    if kind in ("grad", "value-and-grad"):
        dj.check_wrt(wrt, len(params), kind)
    else:
        wrt = None
    key = (kind, tuple(params), wrt)
    maker = _maker_cache.get(key)
    if maker is None:
        supply = NameSupply(())
        jfs = Symbol("jf")
        form = Form((Symbol("fn"), Vec([jfs]),
                     dj.maker_form(kind, [p or f"x{i}" for i, p in enumerate(params)], wrt,
                                   jfs, supply.fresh)))
        maker = _compile(form, _RULES["ns"], kind)
        _maker_cache[key] = maker
    return maker


class InferServices:
    """What type inference (:mod:`myia_sx.passes.infer_types`) asks of the
    AD runtime: the code of J-transforms, as forms (the same ones the run
    time compiles, so a code is one code), and the globals made on demand."""

    @staticmethod
    def derive(ns, name):
        v = derive(ns, name)
        return None if v is interp.MISSING else v

    @staticmethod
    def j_maker(code):
        form, free, _ = j_maker_form(code.fn, code.ns, code.group, code.name)
        return form, free

    @staticmethod
    def prim_j(prim):
        return _j_prim(prim).code.fn_form, _RULES["ns"]

    @staticmethod
    def record_j(rt):
        return _record_maker(rt).code.fn_form, _RULES["ns"]

    @staticmethod
    def maker(kind, params, wrt):
        return _maker(kind, params, wrt).code.fn_form, _RULES["ns"]


install_ad_runtime(J, J_shallow, make)
interp.DERIVE[0] = derive
