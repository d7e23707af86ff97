"""differentiate: Lanf -> Lanf.

Reverse mode by source transformation, after Pearlmutter and Siskind's
"Lambda the Ultimate Backpropagator" and Myia's J transform.  ``(grad f)``
and its friends are macros (macros/core.sx) over ``(%J f)`` and a *maker*
(``%grad`` ...).  This pass does, ahead of time, every J-transform whose
function is known:

  - ``(%J f)`` of a top-level function, record type or primitive becomes the
    global ``f%J`` (this pass defines it for the module's own functions and
    records; the environment makes it on demand for those of libraries,
    :mod:`myia_sx.ad`); of a local ``fn`` or ``letrec`` function, the
    J-transformed code itself, closed over the J-values of what it captures;
  - a maker applied to a J-function whose parameters are known, with a
    constant ``:wrt``, becomes the gradient function it would build;
  - ``(%J x)`` stays only where ``x`` arrives from outside (a parameter, the
    result of a call): the specializer resolves those once types are known.

The J-transform of ``(fn [p ...] body)`` (:func:`j_fn`) computes what ``fn``
computes and returns ``[value bp]``; ``(bp dout)`` returns ``[d-env d-p ...]``:
the sensitivities of the parameters, after ``d-env``, the tuple of the
sensitivities of the variables the function captured, in the sorted order of
their names (no names in data).  Primitive calls keep their value and call
the primitive's derivative rule (its row's ``grad``, a ``%d/NAME`` function
of prelude/derivatives.sx) backwards; calls of other functions call their
J-transforms and keep their backpropagators.

Static by construction:
  - the zero sensitivity is ``%zero`` (its own type); a step whose input
    sensitivity may be zero is guarded by ``(%zero? s)``, a constant once
    types are known; every backpropagator returns, for each input, a
    sensitivity of that input's type (``%sens-fill``/``%zeros-like`` fill
    the gaps), so the branches of an ``if`` agree;
  - the J-transform of a self tail-recursive ``letrec`` function (every loop
    macro expands to one) is a forward loop that pushes each iteration's
    backpropagator onto a buffer, and a backward loop that pops them: both
    tail calls, so loops of any length run in constant stack, to any order;
  - other ``letrec`` groups are transformed together: the sensitivity of a
    group function is the tuple over the variables the group captures.

Invariants: input and output are Lanf with unique binders (every binder the
transform writes is fresh); the output of :func:`j_fn` is again Lanf, so it
is transformed again for higher orders.
"""

from __future__ import annotations

from .. import core
from ..errors import SxGradError
from ..forms import Form, Keyword, Symbol, Vec, head_name
from ..prims import PRIMS, Prim, PrimConst
from ..values import Buffer, Closure, Record, RecordType, type_name
from .names import NameSupply
from .normalize_anf import _Normalizer, is_atom

# Primitives that build a closure over their first argument, a J-function
# (captured as ``jf``): their J-transform transforms the closure's code only.
MAKERS = {"%grad": "grad", "%value-and-grad": "value-and-grad", "%vjp": "vjp",
          "%jvp": "jvp"}

ZERO = Symbol("%zero")


def S(name, span=None):
    return Symbol(name, span)


def L(*items, span=None):
    return Form(items, span)


def quoted(x):
    return L(S("quote"), x)


def j_name(name):
    """The name of the J-transform of global ``name``."""
    return name + "%J"


# -- what the transform knows about global names -------------------------------------------

class Global:
    """A global name, as the transform sees it.  ``kind``: ``prim`` (a
    primitive: ``prim`` is its row), ``fn`` (a function; ``params`` its
    parameter names if known), ``record`` (a record type; ``params`` its
    fields), ``data`` (surely not a function: used as its own J-value) or
    ``value`` (anything: its J-value is ``(%J g)``, made at run time)."""

    __slots__ = ("kind", "params", "prim")

    def __init__(self, kind, params=None, prim=None):
        self.kind = kind
        self.params = params
        self.prim = prim


class World:
    """Base of the global names a transform runs against.  A subclass
    defines ``lookup(name)``, giving a :class:`Global` or None (not a global),
    and ``need(jname)``, called for each global J-transform the output refers
    to, so that it exists."""

    def prim_global(self, name):
        row = PRIMS.get(name)
        if type(row) is Prim:
            return Global("prim", prim=row)
        if type(row) is PrimConst:
            return Global("data")
        return None


# J-transforms of a higher order than this are made when they run (by
# myia_sx.ad), not ahead of time: a function that differentiates itself
# through a recursion (f calls (grad g), g calls f) asks for J-transforms of
# every order, of which a run uses only as many as it goes deep.
MAX_AHEAD_ORDER = 4


def ahead_of_time(name):
    """Whether the J-transform of global ``name`` is made ahead of time."""
    return name.count("%J") < MAX_AHEAD_ORDER


def user_params(params):
    """The names callers use for ``params`` (keyword arguments)."""
    return tuple(core.user_name(p.name) if type(p) is Symbol else None for p in params)


# -- helpers over Lanf --------------------------------------------------------------------

def _flatten(body):
    """A Lanf body as ``(steps, tail)``: steps ``("let", p, c)`` / ``("letrec", pairs)``."""
    steps = []
    while True:
        h = head_name(body)
        if h == "let":
            items = body.items[1].items
            steps.extend(("let", items[i], items[i + 1]) for i in range(0, len(items), 2))
            body = body.items[2]
        elif h == "letrec":
            items = body.items[1].items
            steps.append(("letrec", [(items[i], items[i + 1]) for i in range(0, len(items), 2)]))
            body = body.items[2]
        else:
            return steps, body


def wrap_steps(steps, tail):
    """The body that runs ``steps`` then ``tail`` (consecutive lets merged)."""
    out = tail
    run = []
    for st in reversed(steps):
        if st[0] == "letrec":
            if run:
                out = L(S("let"), Vec(run), out)
                run = []
            out = L(S("letrec"), Vec([v for pair in st[1] for v in pair]), out)
        else:
            run[:0] = [st[1], st[2]]
    return L(S("let"), Vec(run), out) if run else out


def symbol_names(x):
    """Every symbol name in ``x``."""
    out = set()
    stack = [x]
    while stack:
        y = stack.pop()
        if type(y) is Symbol:
            out.add(y.name)
        elif type(y) in (Form, Vec):
            stack.extend(y.items)
    return out


def _live(steps, result):
    """The steps ``result`` needs (the language is pure: an unused
    sensitivity need not be computed)."""
    used = symbol_names(result)
    kept = []
    for st in reversed(steps):
        if symbol_names(st[1]) & used:
            kept.append(st)
            used |= symbol_names(st[2])
    kept.reverse()
    return kept


def _is_self_tail_loop(name, fn):
    """True if letrec function ``name`` (``fn``) calls itself only in tail
    position of its own body, with positional arguments."""
    def ok(x):
        steps, tail = _flatten(x)
        for st in steps:
            if st[0] == "letrec":
                if any(name in symbol_names(f) for _, f in st[1]):
                    return False
            elif name in symbol_names(st[2]):
                return False
        if head_name(tail) == "if":
            return name not in symbol_names(tail.items[1]) and ok(tail.items[2]) and \
                ok(tail.items[3])
        if type(tail) is Form and tail.items and tail.items[0] == S(name):
            return name not in symbol_names(Vec(tail.items[1:])) and \
                len(tail.items) - 1 == len(fn.items[1].items) and \
                not any(type(a) is Keyword for a in tail.items)
        return name not in symbol_names(tail)
    return ok(fn.items[2])


def _used_as_value(name, nparams, x):
    """True if ``x`` uses ``name`` other than as the head of a call with
    ``nparams`` positional arguments outside any nested function."""
    stack = [x]
    while stack:
        y = stack.pop()
        if type(y) is Symbol and y.name == name:
            return True
        if head_name(y) == "fn":
            if name in symbol_names(y.items[2]):
                return True
        elif type(y) is Form and y.items and y.items[0] == S(name) and \
                len(y.items) - 1 == nparams and not any(type(a) is Keyword for a in y.items):
            stack.extend(y.items[1:])
        elif type(y) in (Form, Vec) and head_name(y) != "quote":
            stack.extend(y.items)
    return False


# -- the backward pass being built --------------------------------------------------------------

class _Back:
    """The bindings of a backpropagator, and each variable's sensitivity so far."""

    def __init__(self, t):
        self.t = t
        self.sens = {}
        self.steps = []

    def bind(self, base, c, span=None):
        name = self.t.fresh(base, span)
        self.steps.append(("let", name, c))
        return name

    def destructure(self, s, bases):
        """Names for the parts of tuple sensitivity ``s`` (%zero has zero parts)."""
        names = [self.t.fresh(b) for b in bases]
        self.steps.append(("let", Vec(names), s))
        return names

    def guarded(self, s, call, bases):
        """The parts of ``call``'s result, or %zero parts when ``s`` is %zero."""
        z = self.bind("z", L(S("%zero?"), s))
        return self.destructure(L(S("if"), z, ZERO, call), bases)

    def add(self, x, s):
        """Add sensitivity ``s`` (an atom or None) to J-variable ``x``."""
        if s is None or type(x) is not Symbol:
            return
        name = x.name
        t = self.t
        if name in t.flat:
            # a function of a letrec group: its sensitivity is the tuple over
            # the variables the group captures, added to theirs right away
            group = t.flat[name]
            for v, d in zip(group, self.destructure(s, ["d" + v.name for v in group])):
                self.add(v, d)
            return
        if not t.sensvar(name):
            return
        cur = self.sens.get(name)
        self.sens[name] = s if cur is None else self.bind(
            "d" + name, L(S("%sens+"), cur, s))

    def of(self, p):
        """The sensitivity (an atom, or None) of J-pattern ``p``."""
        if type(p) is Symbol:
            return self.sens.get(p.name)
        parts = [self.of(q) for q in p.items]
        if all(s is None for s in parts):
            return None
        return self.bind("dt", Vec([ZERO if s is None else s for s in parts]))

    def filled(self, p):
        """The sensitivity of J-pattern ``p``, with its gaps filled by zeros."""
        if type(p) is Vec:
            return self.bind("dt", Vec([self.filled(q) for q in p.items]))
        s = self.sens.get(p.name) if self.t.sensvar(p.name) else None
        if s is None:
            return self.bind("d" + p.name, L(S("%zeros-like"), p))
        return self.bind("d" + p.name, L(S("%sens-fill"), s, p))

    def sparse(self, v):
        s = self.sens.get(v.name)
        return ZERO if s is None else s


# -- the J transform --------------------------------------------------------------------------

class _Loop:
    """A self tail-recursive letrec function being transformed: its forward
    and backward loops, the sensitivity-carrying variables it captures, its
    parameters, the function whose body binds it (a call there is a loop
    entry; a nested function calls it through its value, a function that runs
    both loops); ``buf``, inside the forward loop, is its buffer parameter."""

    def __init__(self, name, forward, backward, captured, params, home, buf=None):
        self.name = name
        self.forward = forward
        self.backward = backward
        self.captured = captured
        self.params = params
        self.home = home
        self.buf = buf


class _Transform:
    """One J-transform (of a function and everything nested in it)."""

    def __init__(self, world, supply, subst=None):
        self.world = world
        self.supply = supply
        self.rn = dict(subst or {})   # original local -> J atom
        self.nosens = set()           # J names whose values carry no sensitivity
        self.flat = {}                # J name of a letrec group function -> group's captures
        self.loops = {}               # original name of a loop function -> _Loop
        self.params = {}              # J name -> parameter names of the function it holds
        self.frame = None             # the function whose body is being transformed

    def fresh(self, base, span=None):
        return S(self.supply.fresh(base.lstrip("%") or "t"), span)

    def sensvar(self, name):
        return name not in self.nosens and name not in self.flat

    # -- names
    def binder(self, p):
        """A fresh J-pattern for original pattern ``p`` (recorded in ``rn``)."""
        if type(p) is Vec:
            return Vec([self.binder(q) for q in p.items], p.span)
        new = self.fresh(p.name, p.span)
        self.rn[p.name] = new
        return new

    def is_jglobal(self, name):
        return self.world.lookup(name) is not None or name.endswith("%J") or name in PRIMS

    def is_global(self, name):
        return name not in self.rn and name not in self.loops and \
            self.world.lookup(name) is not None

    def refs(self, name, every=False):
        """The J-variables a closure of the J-code captures for original free
        variable ``name``: one for one (``every``: so a J-closure captures as
        many values as the closure it is the J-transform of), or those whose
        sensitivities it passes on (through a letrec group function or a loop
        taken as a value, to the variables they capture)."""
        j = self.rn.get(name, S(name))
        if every:
            return [j]
        return [j] + self.flat.get(j.name, [])

    def captured(self, x, exclude=(), every=False):
        """The J-variables expression ``x`` captures (but for the original
        names ``exclude``), sorted: those that carry a sensitivity, or
        ``every`` one (a closure's sensitivity is a tuple over every variable
        it captures, as its zero at run time is, ``%zeros-like``)."""
        out = {}
        for v in core.free_variables(x, self.is_global):
            if v in exclude:
                continue
            for j in self.refs(v, every):
                if type(j) is Symbol and (every or self.sensvar(j.name)) and \
                        not self.is_jglobal(j.name):
                    out[j.name] = j
        return [out[k] for k in sorted(out)]

    def global_value(self, name, fwd, span=None):
        """An atom for the J-value of global ``name`` (binding it if needed)."""
        g = self.world.lookup(name)
        if g.kind in ("fn", "record", "prim") and ahead_of_time(name):
            jn = j_name(name)
            self.world.need(jn)
            self.params.setdefault(jn, g.params)
            self.nosens.add(jn)
            return S(jn, span)
        if g.kind == "data":
            return S(name, span)
        j = self.fresh("j" + name, span)
        fwd.append(("let", j, L(S("%J"), S(name, span), span=span)))
        self.nosens.add(j.name)
        return j

    def atom(self, a, fwd):
        """J-code atom for original atom ``a``."""
        if type(a) is not Symbol:
            return a
        if a.name in self.rn:
            return self.rn[a.name]
        if self.world.lookup(a.name) is not None:
            return self.global_value(a.name, fwd, a.span)
        return a   # a free variable of the function being transformed at run time

    # -- functions
    def function(self, fn, mode=None, wraps=None):
        """``(fn [p ...] body)`` transformed; ``mode`` is None, ``("group",
        captures)`` or ``("loop", _Loop)``.  Returns (form, env) where env is
        the list of J-variables whose sensitivities the backpropagator returns
        first (the closure's, in sorted order)."""
        params, body = core.fn_parts(fn)
        if wraps is not None:
            # the loop taken as a value captures the loop's two functions and
            # what the loop captures
            loop = self.loops[wraps]
            env = sorted([loop.forward, loop.backward] + loop.captured, key=lambda v: v.name)
        elif mode is None:
            env = self.captured(fn, every=True)
        elif mode[0] == "group":
            env = mode[1]
        else:
            env = mode[1].captured
        jparams = [self.binder(p) for p in params]
        frame = _Frame(jparams, env, mode)
        frame.wraps = wraps
        outer, self.frame = self.frame, frame
        if mode is not None and mode[0] == "loop":
            loop = mode[1]
            buf = self.fresh("buf")
            self.nosens.add(buf.name)
            frame.loop = _Loop(loop.name, loop.forward, loop.backward, loop.captured,
                               loop.params, loop.home, buf)
            jparams = jparams + [buf]
        try:
            new_body = self.body(body, frame, [])
        finally:
            self.frame = outer
        out = Form((S("fn"), Vec(jparams, fn.items[1].span), new_body), fn.span)
        if mode is None:
            real = core.free_variables(out, self.is_jglobal)
            if [v.name for v in env] != list(real):
                raise AssertionError(f"env {[v.name for v in env]} != captured {real} of "
                                     f"{fn}")
        return out, env

    def body(self, body, frame, backs):
        steps, tail = _flatten(body)
        fwd = []
        backs = list(backs)
        for i, st in enumerate(steps):
            if st[0] == "letrec":
                self.letrec(st[1], wrap_steps(steps[i + 1:], tail), fwd)
            else:
                self.step(st[1], st[2], fwd, backs)
        return wrap_steps(fwd, self.tail(tail, frame, fwd, backs))

    def tail(self, t, frame, fwd, backs):
        if head_name(t) == "if":
            c = self.atom(t.items[1], fwd)
            return Form((t.items[0], c, self.body(t.items[2], frame, backs),
                         self.body(t.items[3], frame, backs)), t.span)
        loop = frame.loop
        if loop is not None and type(t) is Form and t.items and t.items[0] == S(loop.name):
            args = [self.atom(a, fwd) for a in t.items[1:]]
            bp = self.fresh("bp")
            fwd.append(("let", bp, self.backprop(backs, frame, next_args=args)))
            buf = self.fresh("buf")
            fwd.append(("let", buf, L(S("%buf-push"), loop.buf, bp)))
            self.nosens |= {bp.name, buf.name}
            return Form([loop.forward, *args, buf], t.span)
        if is_atom(t):
            r = self.atom(t, fwd)
        else:
            orig = S(self.supply.fresh("r"), getattr(t, "span", None))
            self.step(orig, t, fwd, backs)
            r = self.rn[orig.name]
        bp = self.fresh("bp")
        fwd.append(("let", bp, self.backprop(backs, frame, result=r)))
        if loop is not None:
            return Vec([r, bp, loop.buf])
        return Vec([r, bp])

    def backprop(self, backs, frame, result=None, next_args=None):
        """The backpropagator of a path through a body: ``backs`` run backwards
        from the sensitivity of ``result`` (or of the next iteration's
        arguments ``next_args``, in a loop)."""
        B = _Back(self)
        if next_args is not None:
            din = self.fresh("dnext")
            parts = B.destructure(din, ["d"] * len(next_args))
            for a, d in zip(next_args, parts):
                B.add(a, d)
        else:
            din = self.fresh("dout")
            B.add(result, din)
        for back in reversed(backs):
            back(B)
        if frame.mode is not None and frame.mode[0] == "loop":
            # the captured variables' sensitivities are summed over iterations
            # (sparse is fine); the parameters' become the next state, filled
            denv = B.bind("denv", Vec([B.sparse(v) for v in frame.env]))
            dps = B.bind("dps", Vec([B.filled(p) for p in frame.params]))
            result_form = Vec([denv, dps])
        elif frame.mode is not None and frame.mode[0] == "branch":
            result_form = Vec([B.filled(v) for v in frame.env])
        else:
            denv = B.bind("denv", Vec([B.filled(v) for v in frame.env]))
            result_form = Vec([denv] + [B.filled(p) for p in frame.params])
        steps = _live(B.steps, result_form)
        return L(S("fn"), Vec([din]), wrap_steps(steps, result_form))

    # -- one binding
    def step(self, p, c, fwd, backs):
        if is_atom(c):
            self.alias(p, c, fwd, backs)
            return
        if type(c) is Vec:
            items = [self.atom(a, fwd) for a in c.items]
            jp = self.binder(p)
            fwd.append(("let", jp, Vec(items, c.span)))

            def back_tuple(B):
                s = B.of(jp)
                if s is not None:
                    for a, d in zip(items, B.destructure(s, ["d"] * len(items))):
                        B.add(a, d)
            backs.append(back_tuple)
            return
        h = head_name(c)
        if h == "fn":
            jfn, env = self.function(c)
            jp = self.binder(p)
            fwd.append(("let", jp, jfn))
            if type(jp) is Symbol:
                self.params[jp.name] = user_params(c.items[1].items)

            def back_closure(B):
                s = B.of(jp)
                if s is not None:
                    for v, d in zip(env, B.destructure(s, ["d" + v.name for v in env])):
                        B.add(v, d)
            backs.append(back_closure)
        elif h == "if":
            self.branch(p, c, fwd, backs)
        elif h == ".":
            a = self.atom(c.items[1], fwd)
            jp = self.binder(p)
            fwd.append(("let", jp, Form((c.items[0], a, c.items[2]), c.span)))

            def back_field(B):
                s = B.of(jp)
                if s is not None and type(a) is Symbol:
                    B.add(a, B.bind("d", L(S("%field-sens"), a, quoted(c.items[2]), s,
                                           span=c.span)))
            backs.append(back_field)
        else:
            self.call(p, c, fwd, backs)

    def alias(self, p, c, fwd, backs):
        a = self.atom(c, fwd)
        jp = self.binder(p)
        fwd.append(("let", jp, a))
        if type(a) is Symbol and a.name in self.params and type(jp) is Symbol:
            self.params[jp.name] = self.params[a.name]
        if type(a) is not Symbol or not self.sensvar(a.name) and a.name not in self.flat:
            for s in core.pattern_symbols(jp):
                self.nosens.add(s.name)
            return
        backs.append(lambda B: B.add(a, B.of(jp)))

    def branch(self, p, c, fwd, backs):
        """A non-tail ``if``: each branch computes its value and a
        backpropagator giving the (filled) sensitivities of the variables
        either branch uses, in sorted order, so both give the same structure."""
        cond = self.atom(c.items[1], fwd)
        env = self.captured(L(S("fn"), Vec([]), Vec([c.items[2], c.items[3]])))
        frame = _Frame([], env, ("branch",))
        jthen = self.body(c.items[2], frame, [])
        jelse = self.body(c.items[3], frame, [])
        jp = self.binder(p)
        bp = self.fresh("bp")
        self.nosens.add(bp.name)
        fwd.append(("let", Vec([jp, bp]), Form((c.items[0], cond, jthen, jelse), c.span)))

        def back_branch(B):
            s = B.of(jp)
            if s is not None:
                for v, d in zip(env, B.guarded(s, L(bp, s), ["d" + v.name for v in env])):
                    B.add(v, d)
        backs.append(back_branch)

    def call(self, p, c, fwd, backs):
        f, args, kwargs = core.call_parts(c)
        if type(f) is Symbol and f.name in self.loops and not kwargs and \
                len(args) == len(self.loops[f.name].params) and \
                (self.loops[f.name].home is self.frame or self.frame.wraps == f.name):
            self.loop_entry(p, c, self.loops[f.name], fwd, backs)
            return
        params = None
        if type(f) is Symbol and self.is_global(f.name):
            g = self.world.lookup(f.name)
            if g.kind == "prim":
                self.prim_call(p, c, g.prim, fwd, backs)
                return
            if g.kind == "record":
                self.record_call(p, c, g.params, fwd, backs)
                return
            params = g.params
        jf = self.atom(f, fwd)
        if type(jf) is Symbol:
            params = params or self.params.get(jf.name)
        jargs = [self.atom(a, fwd) for a in args]
        jkw = [(k, self.atom(v, fwd)) for k, v in kwargs]
        bp = self.fresh("bp")
        self.nosens.add(bp.name)
        jp = self.binder(p)
        out = jp if type(jp) is Symbol else self.fresh("r", c.span)
        fwd.append(("let", Vec([out, bp]), Form([jf, *jargs] + [x for kv in jkw for x in kv],
                                                 c.span)))
        if out is not jp:
            fwd.append(("let", jp, out))

        def back_call(B):
            s = B.of(jp)
            if s is None:
                return
            if not jkw or params is not None:
                n = len(params) if jkw else len(jargs)
                ds = B.guarded(s, L(bp, s, span=c.span), ["d"] * (n + 1))
                B.add(jf, ds[0])
                for a, d in zip(jargs, ds[1:]):
                    B.add(a, d)
                for k, v in jkw:
                    if k.name in params:   # else the forward call fails: no backward pass
                        B.add(v, ds[1 + params.index(k.name)])
                return
            # the callee's parameter order is known at run time only (a
            # constant once its type is known)
            z = B.bind("z", L(S("%zero?"), s))
            whole = B.bind("ds", L(S("if"), z, ZERO, L(bp, s, span=c.span)))
            B.add(jf, B.bind("d", L(S("%sens-get"), whole, 0)))
            for i, a in enumerate(jargs):
                B.add(a, B.bind("d", L(S("%sens-get"), whole, i + 1)))
            for k, v in jkw:
                i = B.bind("i", L(S("%param-index"), jf, quoted(k)))
                B.add(v, B.bind("d", L(S("%sens-get"), whole, i)))
        backs.append(back_call)

    def prim_call(self, p, c, prim, fwd, backs):
        f, args, kwargs = core.call_parts(c)
        jargs = [self.atom(a, fwd) for a in args]
        jkw = [(k, self.atom(v, fwd)) for k, v in kwargs]
        jc = Form([f, *jargs] + [x for kv in jkw for x in kv], c.span)
        if prim.name in MAKERS and jargs:   # (without one, the call fails when it runs)
            self.maker_call(p, jc, jargs[0], fwd, backs)
            return
        if not any(type(a) is Symbol and self.sensvar(a.name) for a in jargs):
            jp = self.binder(p)   # constant arguments: no sensitivity to pass on
            fwd.append(("let", jp, jc))
            self.nosens.update(s.name for s in core.pattern_symbols(jp))
            return
        if prim.grad is None or self.world.lookup(prim.grad) is None:
            raise SxGradError(f"cannot differentiate: primitive {prim.name} has no "
                              "derivative rule", c.span)
        jp = self.binder(p)
        out = jp if type(jp) is Symbol else self.fresh("r", c.span)
        fwd.append(("let", out, jc))
        if out is not jp:
            fwd.append(("let", jp, out))
        given = {k.name: v for k, v in jkw}
        # the rule takes the keyword arguments by position: a keyword value
        # is quoted, else the call would read it as a keyword argument
        kw = [L(S("quote"), v) if type(v) is Keyword else v
              for v in (given.get(k, prim.kwargs[k]) for k in prim.kwargs)]

        def back_prim(B):
            s = B.of(jp)
            if s is None:
                return
            rule_args = [B.bind("xs", Vec(jargs))] if prim.variadic else list(jargs)
            rule = L(S(prim.grad), *rule_args, *kw, out, s, span=c.span)
            for a, d in zip(jargs, B.guarded(s, rule, ["d"] * len(jargs))):
                B.add(a, d)
        backs.append(back_prim)

    def maker_call(self, p, jc, jf, fwd, backs):
        """A maker applied to a J-function known only at run time: the J-value
        of the closure it builds is that closure with its code transformed."""
        m = self.fresh("m", jc.span)
        fwd.append(("let", m, jc))
        self.nosens.add(m.name)
        jp = self.binder(p)
        fwd.append(("let", jp, L(S("%J-shallow"), m, span=jc.span)))

        def back_maker(B):
            s = B.of(jp)
            if s is not None:
                B.add(jf, B.destructure(s, ["djf"])[0])   # the closure captures jf only
        backs.append(back_maker)

    def record_call(self, p, c, fields, fwd, backs):
        f, args, kwargs = core.call_parts(c)
        jargs = [self.atom(a, fwd) for a in args]
        jkw = [(k, self.atom(v, fwd)) for k, v in kwargs]
        jp = self.binder(p)
        fwd.append(("let", jp, Form([f, *jargs] + [x for kv in jkw for x in kv], c.span)))
        given = list(zip(fields, jargs)) + [(k.name, v) for k, v in jkw]

        def back_record(B):
            s = B.of(jp)
            if s is not None:
                for field, a in given:
                    B.add(a, B.bind("d", L(S("."), s, S(field))))
        backs.append(back_record)

    # -- letrec
    def letrec(self, pairs, rest, fwd):
        """A letrec whose body is ``rest``: a loop, or a group of functions."""
        if len(pairs) == 1 and _is_self_tail_loop(pairs[0][0].name, pairs[0][1]):
            name, fn = pairs[0]
            self.loop(name, fn, fwd)
            if _used_as_value(name.name, len(fn.items[1].items), rest):
                self.loop_value(name, fn, fwd)
            return
        jnames = [self.binder(n) for n, _ in pairs]
        for jn, (_, fn) in zip(jnames, pairs):
            self.params[jn.name] = user_params(fn.items[1].items)
        members = {jn.name for jn in jnames}
        env = {}
        for _, fn in pairs:
            for j in self.captured(fn, every=True):
                if j.name not in members:
                    env[j.name] = j
        captures = [env[k] for k in sorted(env)]
        for jn in jnames:
            self.flat[jn.name] = captures
        jpairs = [(jn, self.function(fn, ("group", captures))[0])
                  for jn, (_, fn) in zip(jnames, pairs)]
        real = set()
        for _, f in jpairs:
            real |= set(core.free_variables(f, self.is_jglobal))
        real -= members
        if sorted(real) != [c.name for c in captures]:
            raise AssertionError(f"group env {[c.name for c in captures]} != {sorted(real)}")
        fwd.append(("letrec", jpairs))

    def loop(self, name, fn, fwd):
        """A self tail-recursive letrec function: a forward loop pushing each
        iteration's backpropagator, and a backward loop popping them."""
        forward, backward = self.fresh(name.name), self.fresh("back")
        self.nosens |= {forward.name, backward.name}
        captured = self.captured(fn, exclude=(name.name,))
        info = _Loop(name.name, forward, backward, captured, fn.items[1].items, self.frame)
        self.loops[name.name] = info
        self.params[forward.name] = user_params(fn.items[1].items)
        jfn = self.function(fn, ("loop", info))[0]
        fwd.append(("letrec", [(forward, jfn)]))
        fwd.append(("letrec", [(backward, self.backward_loop(backward))]))

    def loop_value(self, name, fn, fwd):
        """The J-value of loop function ``name`` used as a value: a function
        that runs the forward loop, with a backpropagator that runs the
        backward one (a call site of its own)."""
        params = [S(self.supply.fresh(core.user_name(p.name) if type(p) is Symbol else "x"))
                  for p in fn.items[1].items]
        wrapper = Form((S("fn"), Vec(params), Form([name, *params], fn.span)), fn.span)
        jw, env = self.function(wrapper, wraps=name.name)
        j = self.fresh(name.name)
        fwd.append(("let", j, jw))
        self.rn[name.name] = j
        self.flat[j.name] = env
        self.params[j.name] = user_params(fn.items[1].items)

    def backward_loop(self, me):
        b, dargs, denv = self.fresh("buf"), self.fresh("dargs"), self.fresh("denv")
        n, more = self.fresh("n"), self.fresh("more")
        rest, bp, denv_k, dargs_k, denv2 = (self.fresh("buf"), self.fresh("bp"),
                                            self.fresh("denv"), self.fresh("dargs"),
                                            self.fresh("denv"))
        again = L(S("let"), Vec([Vec([rest, bp]), L(S("%buf-pop"), b),
                                 Vec([denv_k, dargs_k]), L(bp, dargs),
                                 denv2, L(S("%sens+"), denv, denv_k)]),
                  L(me, rest, dargs_k, denv2))
        body = L(S("let"), Vec([n, L(S("%buf-len"), b), more, L(S(">"), n, 0)]),
                 L(S("if"), more, again, Vec([dargs, denv])))
        return L(S("fn"), Vec([b, dargs, denv]), body)

    def loop_entry(self, p, c, loop, fwd, backs):
        args = [self.atom(a, fwd) for a in c.items[1:]]
        b0 = self.fresh("buf")
        out, bpx, bo = self.fresh("r", c.span), self.fresh("bp"), self.fresh("buf")
        self.nosens |= {b0.name, bpx.name, bo.name}
        fwd.append(("let", b0, L(S("%buf-new"))))
        jp = self.binder(p)
        if type(jp) is Symbol:
            out = jp
        fwd.append(("let", Vec([out, bpx, bo]), Form([loop.forward, *args, b0], c.span)))
        if out is not jp:
            fwd.append(("let", jp, out))

        def back_loop(B):
            s = B.of(jp)
            if s is None:
                return
            z = B.bind("z", L(S("%zero?"), s))
            denv_x, dargs_x = self.fresh("denv"), self.fresh("dargs")
            captured, denv0 = self.fresh("captured"), self.fresh("denv")
            run = L(S("let"), Vec([Vec([denv_x, dargs_x]), L(bpx, s),
                                   captured, Vec(loop.captured),
                                   denv0, L(S("%sens-fill"), denv_x, captured)]),
                    L(loop.backward, bo, dargs_x, denv0, span=c.span))
            dargs, denv = B.destructure(L(S("if"), z, ZERO, run), ["dargs", "denv"])
            for a, d in zip(args, B.destructure(dargs, ["d"] * len(args))):
                B.add(a, d)
            for v, d in zip(loop.captured, B.destructure(denv, ["d" + v.name
                                                               for v in loop.captured])):
                B.add(v, d)
        backs.append(back_loop)


class _Frame:
    """The function whose body is being transformed: its J-parameters, the
    variables whose sensitivities its backpropagators return, its mode."""

    def __init__(self, params, env, mode):
        self.params = params
        self.env = env
        self.mode = mode
        self.loop = None
        self.wraps = None   # the loop this function enters (the loop taken as a value)


def j_fn(fn, world, supply, subst=None):
    """The J-transform of the Lanf ``(fn [p ...] body)``: ``(form, env)``,
    where ``env`` lists the captured variables whose sensitivities its
    backpropagators return first, in that order.  ``subst`` maps free
    variables of ``fn`` to the atoms the J-code uses for them (by default the
    same names: the caller closes the J-code over their J-values)."""
    return _Transform(world, supply, subst).function(fn)


def j_group(pairs, world, supply, subst, member):
    """The J-transform of a ``letrec`` group, as steps binding J-functions,
    and the name of the J-transform of group function ``member``."""
    t = _Transform(world, supply, subst)
    steps = []
    t.letrec(pairs, S(member), steps)
    return steps, t.rn[member]


# -- J-transforms of primitives and record constructors, as code -----------------------------

def prim_j_form(prim):
    """``(fn [a ...] ...)``: the J-transform of primitive ``prim`` taken as a
    value (at its largest fixed arity), around its derivative rule."""
    n = prim.max_args if prim.max_args is not None else max(prim.min_args, 1)
    args = [S(f"a{i}") for i in range(n)]
    out, dout, z = S("out"), S("dout"), S("z")
    kw = [prim.kwargs[k] for k in prim.kwargs]
    binds = []
    if prim.variadic:
        binds += [S("xs"), Vec(args)]
        rule_args = [S("xs")]
    else:
        rule_args = args
    ds = [S(f"d{i}") for i in range(n)]
    filled = [S(f"f{i}") for i in range(n)]
    binds += [z, L(S("%zero?"), dout),
              Vec(ds), L(S("if"), z, ZERO, L(S(prim.grad), *rule_args, *kw, out, dout))]
    for d, f, a in zip(ds, filled, args):
        binds += [f, L(S("%sens-fill"), d, a)]
    binds += [S("e"), Vec([])]
    bp = L(S("fn"), Vec([dout]), L(S("let"), Vec(binds), Vec([S("e"), *filled])))
    return L(S("fn"), Vec(args), L(S("let"), Vec([out, L(S(prim.name), *args),
                                                   S("bp"), bp]), Vec([out, S("bp")])))


def record_j_form(ctor, fields, fresh):
    """``(fn [field ...] ...)``: the J-transform of the constructor ``ctor`` (a
    symbol) of a record type with ``fields``; ``fresh(base)`` names binders."""
    params = [S(fresh(f)) for f in fields]
    r, d, bp, e = S(fresh("r")), S(fresh("dout")), S(fresh("bp")), S(fresh("denv"))
    binds, outs = [], []
    for f, p in zip(fields, params):
        part, filled = S(fresh("d" + f)), S(fresh("d" + f))
        binds += [part, L(S("."), d, S(f)), filled, L(S("%sens-fill"), part, p)]
        outs.append(filled)
    binds += [e, Vec([])]
    back = L(S("fn"), Vec([d]), L(S("let"), Vec(binds), Vec([e, *outs])))
    return L(S("fn"), Vec(params), L(S("let"), Vec([r, L(ctor, *params), bp, back]),
                                     Vec([r, bp])))


# -- grad, value-and-grad, vjp, jvp: the functions the makers build ------------------------------

def check_wrt(wrt, n, who):
    """``wrt`` (an argument index, or a non-empty tuple of them) checked
    against a function of ``n`` arguments."""
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


def maker_form(kind, params, wrt, jf, fresh, span=None):
    """``(fn [x ...] ...)``: what maker ``kind`` (grad, value-and-grad, vjp,
    jvp) builds around the J-function ``jf`` (a symbol) whose parameters are
    named ``params`` (the gradient function takes the same keyword
    arguments); ``wrt``: an index or a tuple of indices, for grad;
    ``fresh(base)`` names binders."""
    def F(*items):
        return Form(items, span)

    n = len(params)
    xs = [S(fresh(p or f"x{i}")) for i, p in enumerate(params)]
    js = [S(fresh("j")) for _ in xs]
    y, bp, de = S(fresh("y")), S(fresh("bp")), S(fresh("denv"))
    ds = [S(fresh("d")) for _ in xs]
    head = [b for x, j in zip(xs, js) for b in (j, F(S("%J"), x))]
    head += [Vec([y, bp]), F(jf, *js)]

    def grads(idx, binds):
        out = []
        for i in idx:
            g = S(fresh("g"))
            binds += [g, F(S("%sens-out"), xs[i], ds[i])]
            out.append(g)
        return out

    if kind in ("grad", "value-and-grad"):
        seed = S(fresh("seed"))
        binds = head + [seed, F(S("%grad-seed"), y, jf), Vec([de, *ds]), F(bp, seed)]
        gs = grads([wrt] if type(wrt) is int else wrt, binds)
        res = gs[0] if type(wrt) is int else S(fresh("grads"))
        if type(wrt) is not int:
            binds += [res, Vec(gs)]
        if kind == "value-and-grad":
            pair = S(fresh("vg"))
            binds += [pair, Vec([y, res])]
            res = pair
        return F(S("fn"), Vec(xs), F(S("let"), Vec(binds), res))
    if kind == "vjp":
        ct, ct2, back = S(fresh("ct")), S(fresh("ct")), S(fresh("back"))
        # the checks of what the caller passes carry no span: an error there
        # points at the caller's call
        binds = [ct2, L(S("%check-like"), y, ct, "the cotangent given to vjp's back"),
                 Vec([de, *ds]), F(bp, ct2)]
        gs = grads(range(n), binds)
        back_fn = F(S("fn"), Vec([ct]), F(S("let"), Vec(binds), Vec(gs)))
        # the output is given back: it must not hold a (J-transformed) function
        out = S(fresh("y"))
        head += [out, F(S("%check-data"), y, jf, "vjp")]
        return F(S("fn"), Vec(xs), F(S("let"), Vec(head + [back, back_fn]), Vec([out, back])))
    # jvp: the tangent is the transpose of the (linear) backpropagator, got by
    # differentiating it: a vjp of the vjp.  The function differentiated, back,
    # runs the forward pass itself, so its J-transform is that of known code
    # (jf's), made ahead of time when jf is known, never of the closures a run
    # of the forward pass left behind.
    primals, tangents, dxs = S(fresh("primals")), S(fresh("tangents")), S(fresh("dxs"))
    ct, back, jback, z = S(fresh("ct")), S(fresh("back")), S(fresh("jback")), S(fresh("z"))
    zy, bpb, deb, dct, t = (S(fresh("zy")), S(fresh("bpb")), S(fresh("denv")), S(fresh("dct")),
                            S(fresh("t")))
    y2, bp2, bde, yj = S(fresh("y")), S(fresh("bp")), S(fresh("denv")), S(fresh("y"))
    bds = [S(fresh("d")) for _ in xs]
    jprimals = S(fresh("jprimals"))
    back_fn = F(S("fn"), Vec([ct]), F(S("let"), Vec([Vec([y2, bp2]), F(jf, *js),
                                                     Vec([bde, *bds]), F(bp2, ct)]), Vec(bds)))
    # the checks of the primals and tangents are at the jvp call itself
    binds = [jprimals, F(S("%J"), primals),
             Vec(js), F(S("%check-tuple"), jprimals, n, "jvp's primals"),
             dxs, F(S("%check-like"), primals, tangents, "jvp's tangents"),
             Vec([yj, bp]), F(jf, *js), y, F(S("%check-data"), yj, jf, "jvp"),
             back, back_fn, jback, F(S("%J"), back), z, F(S("%zeros-like"), y),
             Vec([zy, bpb]), F(jback, z), Vec([deb, dct]), F(bpb, dxs),
             t, F(S("%sens-out"), y, dct)]
    return F(S("fn"), Vec([primals, tangents]), F(S("let"), Vec(binds), Vec([y, t])))


# -- ahead of time: the J-transforms a module asks for ----------------------------------------------

# Primitives whose result may be a function (so a variable bound to it is not
# surely data): the others compute numbers, arrays, booleans or forms.
_MAY_GIVE_FUNCTIONS = {"tuple", "get", "get-at", "first", "rest", "cut", "cons", "concat"}


class _AheadOfTime:
    """Rewrites primal code: ``(%J x)`` of an ``x`` known statically becomes its
    J-transform, and a maker applied to a J-function with known parameters
    becomes the function the maker builds."""

    def __init__(self, world, supply):
        self.world = world
        self.supply = supply
        self.lambdas = {}   # local -> its fn form (rewritten)
        self.groups = {}    # local -> the pairs of its letrec (rewritten)
        self.data = set()   # locals that are surely not functions
        self.aliases = {}   # local -> the global it names
        self.jfns = {}      # local -> parameter names of the J-function it holds
        self.consts = {}    # local -> an int or a tuple of ints (for :wrt)

    def fresh(self, base):
        return self.supply.fresh(base)

    def function(self, fn):
        return Form((fn.items[0], fn.items[1], self.body(fn.items[2])), fn.span)

    def body(self, body):
        steps, tail = _flatten(body)
        out = []
        for st in steps:
            if st[0] == "letrec":
                pairs = [(n, self.function(f)) for n, f in st[1]]
                for n, _ in pairs:
                    self.groups[n.name] = pairs
                out.append(("letrec", pairs))
            else:
                self.binding(st[1], st[2], out)
        if head_name(tail) == "if":
            tail = Form((tail.items[0], tail.items[1], self.body(tail.items[2]),
                         self.body(tail.items[3])), tail.span)
        elif head_name(tail) == "fn":
            tail = self.function(tail)
        elif not is_atom(tail) and type(tail) is Form and head_name(tail) in (("%J",) +
                                                                               tuple(MAKERS)):
            name = S(self.fresh("t"), tail.span)
            self.binding(name, tail, out)
            tail = name
        return wrap_steps(out, tail)

    def binding(self, p, c, out):
        h = head_name(c) if type(c) is Form else None
        name = p.name if type(p) is Symbol else None
        if h == "fn":
            c = self.function(c)
            if name:
                self.lambdas[name] = c
        elif h == "if":
            c = Form((c.items[0], c.items[1], self.body(c.items[2]), self.body(c.items[3])),
                     c.span)
        elif h == "%J" and len(c.items) == 2 and type(c.items[1]) is Symbol:
            made = self.j_value(c.items[1], out)
            if made is not None:
                value, params = made
                c = value
                if name:
                    self.jfns[name] = params
                    if head_name(value) == "fn":
                        self.lambdas[name] = value
                    elif type(value) is Symbol and self.world.lookup(value.name) is not None:
                        self.aliases[name] = value.name
        elif h in MAKERS:
            made = self.inline_maker(c)
            if made is not None:
                c = made
                if name:
                    self.lambdas[name] = c
        if name:
            self.classify(name, c)
        out.append(("let", p, c))

    def classify(self, name, c):
        if type(c) is Symbol:
            if c.name in self.data:
                self.data.add(name)
            elif self.world.lookup(c.name) is not None and name not in self.jfns:
                self.aliases[name] = c.name
                g = self.world.lookup(c.name)
                if g.kind == "data":
                    self.data.add(name)
            return
        if type(c) is int or type(c) is Vec and c.items and all(type(v) is int for v in c.items):
            self.consts[name] = c if type(c) is int else tuple(c.items)
        if is_atom(c) or type(c) is Vec and not c.items:
            self.data.add(name)
            return
        if type(c) is Form and type(c.items[0]) is Symbol:
            g = self.world.lookup(c.items[0].name)
            if g is not None and g.kind == "prim" and c.items[0].name not in _MAY_GIVE_FUNCTIONS \
                    and not c.items[0].name.startswith("%"):
                self.data.add(name)

    def j_value(self, x, out):
        """``(value, params)`` for ``(%J x)`` if ``x`` is known statically:
        ``value`` an atom or a fn form; else None."""
        name = x.name
        if name in self.aliases:
            name = self.aliases[name]
        if self.world.lookup(name) is not None and name not in self.lambdas:
            g = self.world.lookup(name)
            if g.kind in ("fn", "record", "prim") and not ahead_of_time(name):
                return None
            if g.kind in ("fn", "record", "prim"):
                jn = j_name(name)
                self.world.need(jn)
                params = g.params
                if g.kind == "prim":
                    n = g.prim.max_args if g.prim.max_args is not None else \
                        max(g.prim.min_args, 1)
                    params = tuple(f"a{i}" for i in range(n))
                return S(jn, x.span), params
            if g.kind == "data":
                return x, None
            return None
        if name in self.data:
            return x, None
        if name in self.lambdas:
            fn = self.lambdas[name]
            return self.closure(fn, out), user_params(fn.items[1].items)
        if name in self.groups:
            pairs = self.groups[name]
            member = dict((n.name, f) for n, f in pairs)[name]
            members = {n.name for n, _ in pairs}
            free = set()
            for _, f in pairs:
                free |= set(core.free_variables(f, self.world_global)) - members
            subst = {v: self.captured_value(v, out) for v in sorted(free)}
            steps, jname = j_group(pairs, self.world, self.supply, subst, name)
            out.extend(steps)
            return jname, user_params(member.items[1].items)
        return None

    def world_global(self, name):
        return self.world.lookup(name) is not None

    def closure(self, fn, out):
        """The J-transform of local lambda ``fn``, closed over the J-values of
        what it captures (made here, or with %J at run time)."""
        free = core.free_variables(fn, self.world_global)
        subst = {v: self.captured_value(v, out) for v in free}
        return j_fn(fn, self.world, self.supply, subst)[0]

    def captured_value(self, v, out):
        if v in self.data:
            return S(v)
        made = self.j_value(S(v), out)
        if made is not None and type(made[0]) is Symbol:
            return made[0]
        j = S(self.fresh("j" + v))
        out.append(("let", j, made[0] if made is not None else L(S("%J"), S(v))))
        if made is not None:
            self.lambdas[j.name] = made[0]
        return j

    def inline_maker(self, c):
        _, args, kwargs = core.call_parts(c)
        kw = {k.name: v for k, v in kwargs}
        if len(args) != 1 or type(args[0]) is not Symbol or set(kw) - {"wrt"}:
            return None
        jf = args[0]
        params = self.jfns.get(jf.name)
        if params is None:
            return None
        kind = MAKERS[head_name(c)]
        wrt = kw.get("wrt", 0)
        if type(wrt) is Symbol:
            wrt = self.consts.get(wrt.name)
        span = _user_span(c.span, kind)
        if kind in ("grad", "value-and-grad"):
            if wrt is None:
                return None
            try:
                check_wrt(wrt, len(params), kind)
            except SxGradError as e:
                e.span = span
                raise
        fn = maker_form(kind, params, wrt, jf, self.fresh, span)
        params_v, body = fn.items[1], fn.items[2]
        body = _Normalizer(self.supply).body(body)
        return self.function(Form((fn.items[0], params_v, body), c.span))


def _user_span(span, macro):
    """The span of the user's ``(macro ...)`` form when ``span`` is that of
    a form the macro introduced (errors there point at the form the user
    wrote, with no "in expansion of" note), else ``span``."""
    exp = getattr(span, "expansion", None)
    return exp[1] if exp is not None and exp[0] == macro else span


class _ModuleWorld(World):
    """The globals of a module being compiled: its own definitions, then
    those of the environment (libraries, earlier REPL input), then the
    primitives."""

    def __init__(self, module, ctx):
        self.ctx = ctx
        self.fns = {}        # the module's functions (and the J-transforms made of them)
        self.records = {}    # the module's record types: name -> fields
        self.values = set()  # the module's other definitions
        self.wanted = []     # module names whose J-transform must be written, in order
        for form in module:
            h = head_name(form)
            if h == "def" and head_name(form.items[2]) == "fn":
                self.fns[form.items[1].name] = form.items[2]
            elif h == "def":
                self.values.add(form.items[1].name)
            elif h == "defrecord":
                self.records[form.items[1].name] = tuple(f.name for f in form.items[2].items)

    def lookup(self, name):
        if name in self.fns:
            return Global("fn", user_params(self.fns[name].items[1].items))
        if name in self.records:
            return Global("record", self.records[name])
        if name in self.values:
            return Global("value")
        env = self.ctx.env
        if name in env.names:
            return env_global(env.globals.get(name, _MISSING))
        return self.prim_global(name)

    def need(self, jname):
        base = jname[:-2]
        if jname in self.fns or jname in self.ctx.env.names and base not in self.fns \
                and base not in self.records:
            return
        if base in self.fns or base in self.records:
            params = self.lookup(base).params
            self.fns[jname] = Form((S("fn"), Vec([S(p or "x") for p in params]), ZERO))
            self.wanted.append(base)
            return
        if not self.ctx.derive(jname):
            raise SxGradError(f"cannot differentiate {base}: it is not a function this "
                              "module or its libraries define")


_MISSING = object()


def env_global(v):
    """What the transform knows of a global whose value is ``v``."""
    t = type(v)
    if t is Closure:
        return Global("fn", v.code.param_names)
    if t is RecordType:
        return Global("record", v.fields)
    if v is _MISSING or t in (tuple, Prim, Buffer) or isinstance(v, Record):
        return Global("value")
    return Global("data")


def run(module, ctx):
    """Do ahead of time the J-transforms the module asks for (see the module
    docstring): rewrite its definitions, and add ``(def f%J ...)`` after each
    of its functions and records whose J-transform is used."""
    if not any("%J" in symbol_names(form) for form in module):
        return module
    world = _ModuleWorld(module, ctx)
    supply = NameSupply(module)
    aot = _AheadOfTime(world, supply)
    rewritten = []
    for form in module:
        if head_name(form) == "def":
            value = form.items[2]
            new = aot.function(value) if head_name(value) == "fn" else aot.body(value)
            if head_name(value) == "fn":
                world.fns[form.items[1].name] = new
            form = Form((form.items[0], form.items[1], new), form.span)
        rewritten.append(form)
    made = {}
    i = 0
    while i < len(world.wanted):
        base = world.wanted[i]
        i += 1
        jname = j_name(base)
        if base in world.records:
            jfn = record_j_form(S(base), world.records[base], supply.fresh)
        else:
            jfn = j_fn(world.fns[base], world, supply)[0]
        world.fns[jname] = jfn
        made.setdefault(base, []).append(Form((S("def"), S(jname), jfn)))
    out = []

    def emit(form):
        out.append(form)
        name = core.top_level_name(form)
        for jdef in made.get(name.name if name is not None else None, ()):
            emit(jdef)
    for form in rewritten:
        emit(form)
    return tuple(out)
