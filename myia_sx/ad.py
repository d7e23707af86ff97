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
from .values import Buffer, Closure, Record, RecordType, type_name

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
            children = _inputs(v)
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
            made = interp.run(maker, [memo[id(x)] for x in _inputs(v)])
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
    return interp.run(_j_code(c.code), list(_inputs(c)))


def _group(code):
    """For the code of a letrec function: the pairs of the functions of its
    group it reaches (itself included), and the names they capture from
    outside the group, sorted."""
    pairs, me = code.letrec
    forms = {n.name: f for n, f in pairs}
    reached, todo = {me}, [me]
    while todo:
        for n in dj.symbol_names(forms[todo.pop()]) & set(forms) - reached:
            reached.add(n)
            todo.append(n)
    sub = tuple((n, f) for n, f in pairs if n.name in reached)
    world = _Namespace(code.globals)
    free = set()
    for _, f in sub:
        free |= set(core.free_variables(f, lambda n: world.lookup(n) is not None))
    return sub, sorted(free - reached)


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


def _inputs(c):
    """The values the maker of ``c``'s J-transform is called with: what ``c``
    captured, or, for a function of a letrec group, what its group captured."""
    code = c.code
    if code.letrec is None:
        return c.free
    names = set(_group(code)[1])
    values, todo, seen = {}, [c], {id(c)}
    while todo:
        x = todo.pop()
        for n, v in zip(x.code.free_names, x.free):
            if n in names:
                values[n] = v
            elif type(v) is Closure and v.code.letrec is not None and id(v) not in seen \
                    and v.code.letrec[0] is code.letrec[0]:
                seen.add(id(v))
                todo.append(v)
    return [values[n] for n in _group(code)[1]]


def _j_code(code):
    """The closure that, called with :func:`_inputs` of a closure of
    ``code`` turned into J-values, gives the closure's J-transform."""
    if code.j_code is None:
        if code.fn_form is None:
            raise SxGradError(f"cannot differentiate {code.name}: its code is not available",
                              code.span)
        world = _Namespace(code.globals)
        if code.letrec is not None:
            # transformed with its group: a loop stays a loop
            sub, free = _group(code)
            supply = NameSupply(tuple(f for _, f in sub))
            sub = _resolved_group(sub, free, world, supply)
            steps, jme = dj.j_group(sub, world, supply, None, code.letrec[1])
            body = dj.wrap_steps(steps, jme)
        else:
            free = code.free_names
            supply = NameSupply((code.fn_form,))
            fn = resolve_expr(code.fn_form, lambda n: n in free or world.lookup(n) is not None,
                              supply)
            fn = Form((fn.items[0], fn.items[1], _Normalizer(supply).body(fn.items[2])),
                      fn.span)
            jfn, _ = dj.j_fn(fn, world, supply)
            me = Symbol(supply.fresh(code.name.split("%")[0] or "fn"))
            body = Form((Symbol("let"), Vec([me, jfn]), me))
        maker = Form((Symbol("fn"), Vec([Symbol(n) for n in free]), body), code.span)
        code.j_code = _compile(maker, code.globals, f"{code.name}%J", world.needed)
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


def _j_record(rt):
    """The J-transform of a record constructor."""
    got = _record_cache.get(id(rt))
    if got is None or got[0] is not rt:
        supply = NameSupply(())
        maker = Form((Symbol("fn"), Vec([Symbol("rec")]),
                      dj.record_j_form(Symbol("rec"), rt.fields, supply.fresh)))
        got = (rt, interp.run(_compile(maker, _RULES["ns"], f"{rt.name}%J"), [rt]))
        _record_cache[id(rt)] = got
    return got[1]


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
    params = jf.code.param_names
    if kind in ("grad", "value-and-grad"):
        dj.check_wrt(wrt, len(params), kind)
    else:
        wrt = None
    key = (kind, params, wrt)
    maker = _maker_cache.get(key)
    if maker is None:
        supply = NameSupply(())
        jfs = Symbol("jf")
        form = Form((Symbol("fn"), Vec([jfs]),
                     dj.maker_form(kind, [p or f"x{i}" for i, p in enumerate(params)], wrt,
                                   jfs, supply.fresh)))
        maker = _compile(form, _RULES["ns"], kind)
        _maker_cache[key] = maker
    return interp.run(maker, [jf])


install_ad_runtime(J, J_shallow, make)
interp.DERIVE[0] = derive
