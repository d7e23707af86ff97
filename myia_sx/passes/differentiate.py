"""differentiate: Lanf -> Lanf.

Reverse mode by source transformation, after Pearlmutter and Siskind's
"Lambda the Ultimate Backpropagator" and Myia's J transform.  ``(grad f)``,
``value-and-grad``, ``vjp`` and ``jvp`` are macros (macros/core.sx) that
expand to a *maker* primitive applied to ``(%J f)``; ``%J`` is the operator of
:mod:`myia_sx.ad`.  This module holds the transformation itself,
:func:`j_fn`, which ``%J`` applies to a closure's code, and the pass, which
applies it ahead of time to every top-level function whose J-transform the
module asks for with ``(%J name)``: it adds ``(def name%J (fn ...))`` and uses
it, and replaces a maker applied to it (arity known, constant ``:wrt``) by the
function the maker would build, so the printed program shows the
backpropagators and no ``grad`` is left.

The J-transform of ``(fn [p ...] body)`` is ``(fn [p ...] body')`` where
``body'`` computes what ``body`` computes, but each call ``(f a ...)`` becomes
a call of the J-function of ``f``, giving ``[value bp]``, and the result is
``[value (fn [dout] ...)]``: the backpropagator runs the bindings backwards,
adding up each variable's sensitivity, and returns ``[d-env d-p ...]``, where
``d-env`` (``env-sens``) holds the sensitivities of the variables the function
captured, by name, so they flow back to where those variables were bound.
No tape: an ``if`` branch computes its own value and backpropagator; loops
(tail recursion), recursion and closures are all calls of closures.  Primitive calls are
inlined: the value is computed as before and the backpropagator calls the
primitive's derivative rule ``d/NAME`` (prelude/derivatives.sx).

Invariants: input and output are Lanf with unique binders; the output of
:func:`j_fn` is again Lanf, so it can be transformed again (higher order).
"""

from __future__ import annotations

from .. import core
from ..errors import SxGradError
from ..forms import Form, Keyword, Symbol, Vec, head_name
from .names import NameSupply
from .normalize_anf import _Normalizer, is_atom

# Primitives that build a closure over their first argument, a J-function
# (captured as ``jf``): their J-transform transforms the closure's code only.
MAKERS = {"%grad": "grad", "%value-and-grad": "value-and-grad", "%vjp": "vjp",
          "%jvp": "jvp"}


def S(name):
    return Symbol(name)


def L(*items):
    return Form(items)


def quoted(name):
    return L(S("quote"), S(name))


# -- helpers over Lcore --------------------------------------------------------------

def normal_fn(fn):
    """``fn`` in Lanf (a no-op on Lanf input)."""
    return _Normalizer(NameSupply((fn,))).body(fn)


def free_variables(x, is_global, bound=frozenset()):
    """The names ``x`` uses that it does not bind and that are not global."""
    out = set()
    stack = [(x, bound)]
    while stack:
        y, b = stack.pop()
        t = type(y)
        if t is Symbol:
            if y.name not in b and not is_global(y.name) and y.name not in core.SPECIAL_FORMS:
                out.add(y.name)
            continue
        if t is Vec:
            stack.extend((i, b) for i in y.items)
            continue
        if t is not Form or not y.items:
            continue
        h = head_name(y)
        if h == "quote":
            continue
        if h == "fn":
            params, body = y.items[1].items, y.items[2]
            stack.append((body, b | {s.name for p in params for s in core.pattern_symbols(p)}))
        elif h == "let":
            bb = b
            items = y.items[1].items
            for i in range(0, len(items), 2):
                stack.append((items[i + 1], bb))
                bb = bb | {s.name for s in core.pattern_symbols(items[i])}
            stack.append((y.items[2], bb))
        elif h == "letrec":
            items = y.items[1].items
            bb = b | {items[i].name for i in range(0, len(items), 2)}
            stack.extend((items[i + 1], bb) for i in range(0, len(items), 2))
            stack.append((y.items[2], bb))
        elif h == ".":
            stack.append((y.items[1], b))
        else:
            stack.extend((i, b) for i in y.items if type(i) is not Keyword)
    return out


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


def _wrap(steps, tail):
    out = tail
    for st in reversed(steps):
        if st[0] == "letrec":
            out = L(S("letrec"), Vec([v for pair in st[1] for v in pair]), out)
        else:
            out = L(S("let"), Vec([st[1], st[2]]), out)
    return _merge_lets(out)


def _merge_lets(x):
    """Merge directly nested single lets into one (readability)."""
    if head_name(x) != "let":
        return x
    binds = list(x.items[1].items)
    body = x.items[2]
    while head_name(body) == "let":
        binds.extend(body.items[1].items)
        body = body.items[2]
    return L(S("let"), Vec(binds), body)


def _live(bindings, result):
    """The (name, value) bindings ``result`` needs: dead ones dropped (the
    language is pure, so an unused sensitivity need not be computed)."""
    pairs = [(bindings[i], bindings[i + 1]) for i in range(0, len(bindings), 2)]
    used = _symbols(result)
    kept = []
    for name, value in reversed(pairs):
        if _symbols(name) & used:
            kept.append((name, value))
            used |= _symbols(value)
    return [v for pair in reversed(kept) for v in pair]


def _symbols(x):
    out = set()
    stack = [x]
    while stack:
        y = stack.pop()
        if type(y) is Symbol:
            out.add(y.name)
        elif type(y) in (Form, Vec):
            stack.extend(y.items)
    return out


# -- the J transform --------------------------------------------------------------------

def j_fn(fn, is_global, prim_of=None, supply=None, group=(), group_free=frozenset()):
    """The J-transform of the Lanf ``(fn [p ...] body)``.

    ``is_global(name)`` tells top-level names (and primitives) from local
    ones; ``prim_of(name)`` gives the primitive a global name denotes, if any.
    ``group``: the names of the letrec group ``fn`` belongs to, whose
    sensitivities are flattened into those of ``group_free``, the variables
    the group captures.
    """
    if prim_of is None:
        from ..prims import PRIMS

        def prim_of(name):
            return PRIMS.get(name)
    supply = supply or NameSupply((fn,))
    params, body = core.fn_parts(fn)
    jb = _JBody(supply, is_global, prim_of)
    new_body = jb.body(body, params, free_variables(fn, is_global), set(group), group_free)
    return Form((S("fn"), Vec(params), new_body), fn.span)


class _Back:
    """The backpropagator being built: bindings, and each variable's sensitivity."""

    def __init__(self, supply, is_local):
        self.supply = supply
        self.is_local = is_local
        self.sens = {}
        self.bindings = []

    def bind(self, base, c):
        name = S(self.supply.fresh(base))
        self.bindings.extend((name, c))
        return name

    def guarded(self, bases, s, c):
        """Bind names for the tuple of sensitivities ``c`` gives for output
        sensitivity ``s`` (one per base name), or Nones when ``s`` is None at
        run time; returns the names."""
        z = self.bind("z", L(S("%zero?"), s))
        names = [S(self.supply.fresh(b)) for b in bases]
        self.bindings.extend((Vec(names), L(S("if"), z, Vec([None] * len(names)), c)))
        return names

    def add(self, x, s):
        """Add sensitivity (an atom) ``s`` to variable ``x`` (if ``x`` is a local symbol)."""
        if s is None or type(x) is not Symbol or not self.is_local(x.name):
            return
        cur = self.sens.get(x.name)
        self.sens[x.name] = s if cur is None else self.bind(
            "d" + x.name.split("%")[0], L(S("%sens+"), cur, s))

    def add_each(self, xs, ss):
        """Add each sensitivity of ``ss`` to the corresponding ``xs``."""
        for x, s in zip(xs, ss):
            self.add(x, s)

    def of(self, p):
        """The sensitivity (an atom, or None) of pattern ``p``."""
        if type(p) is Symbol:
            return self.sens.get(p.name)
        parts = [self.of(q) for q in p.items]
        if all(s is None for s in parts):
            return None
        return self.bind("dt", Vec(parts))


class _JBody:
    def __init__(self, supply, is_global, prim_of):
        self.supply = supply
        self.is_global = is_global
        self.prim_of = prim_of
        self.constants = set()   # locals holding J-values of globals: no sensitivity

    def fresh(self, base):
        return S(self.supply.fresh(base))

    def local(self, name):
        return not self.is_global(name) and name not in core.SPECIAL_FORMS

    def sens_var(self, name):
        """True for a variable that gets a sensitivity."""
        return self.local(name) and name not in self.constants

    def is_local_sym(self, x):
        return type(x) is Symbol and self.local(x.name)

    def body(self, body, params, free, group, group_free):
        steps, tail = _flatten(body)
        fwd, backs = [], []
        for st in steps:
            self.step(st, fwd, backs)
        if is_atom(tail):
            r = tail
            if type(r) is Symbol and not self.local(r.name):
                r = self.fresh("g")
                fwd.append(("let", r, L(S("%J"), tail)))
        else:
            r = self.fresh("r")
            self.step(("let", r, tail), fwd, backs)
        dout = self.fresh("dout")
        B = _Back(self.supply, self.sens_var)
        if type(r) is Symbol and self.local(r.name):
            B.sens[r.name] = dout
        for back in reversed(backs):
            back(B)
        for g in sorted(group & free):
            dg = B.sens.get(g)
            for v in sorted(group_free):
                if dg is not None:
                    B.add(S(v), B.bind("d" + v.split("%")[0], L(S("%env-get"), dg, quoted(v))))
        keys = sorted((free - group) | (group_free if group & free else set()))
        env = [S("%env-sens")]
        for v in keys:
            s = B.sens.get(v)
            if s is not None:
                env.extend((quoted(v), s))
        result = Vec([Form(env)] + [B.of(p) for p in params])
        bindings = _live(B.bindings, result)
        bp = L(S("fn"), Vec([dout]), L(S("let"), Vec(bindings), result)
               if bindings else result)
        return _wrap(fwd, Vec([r, bp]))

    # -- one binding, forwards (fwd) and the code that runs it backwards (backs)
    def step(self, st, fwd, backs):
        if st[0] == "letrec":
            self.letrec(st[1], fwd, backs)
            return
        _, p, c = st
        c = self.j_globals(c, fwd)
        if is_atom(c):
            if type(c) is Symbol and not self.local(c.name):
                fwd.append(("let", p, L(S("%J"), c)))
            else:
                fwd.append(("let", p, c))
                if self.is_local_sym(c):
                    backs.append(lambda B: B.add(c, B.of(p)))
            return
        if type(c) is Vec:
            fwd.append(("let", p, c))

            def back_tuple(B):
                s = B.of(p)
                if s is not None:
                    for i, a in enumerate(c.items):
                        if self.is_local_sym(a):
                            B.add(a, B.bind("d", L(S("%sens-get"), s, i)))
            backs.append(back_tuple)
            return
        h = head_name(c)
        if h == "fn":
            self.closure(p, c, fwd, backs)
        elif h == "if":
            self.branch(p, c, fwd, backs)
        elif h == ".":
            self.field(p, c, fwd, backs)
        else:
            self.call(p, c, fwd, backs)

    def j_globals(self, c, fwd):
        """``c`` with each global name it passes as a value (an argument, a
        tuple element, a field access's record) replaced by a local bound to
        its J-value: in J-land every value is a J-value."""
        if type(c) is Vec:
            return Vec([self.j_global(a, fwd) for a in c.items], c.span)
        if type(c) is not Form or is_atom(c):
            return c
        h = head_name(c)
        if h in ("fn", "if"):
            if h == "if":
                return Form((c.items[0], self.j_global(c.items[1], fwd)) + c.items[2:], c.span)
            return c
        if h == ".":
            return Form((c.items[0], self.j_global(c.items[1], fwd)) + c.items[2:], c.span)
        items = [c.items[0]]
        for a in c.items[1:]:
            items.append(a if type(a) is Keyword else self.j_global(a, fwd))
        return Form(items, c.span)

    def j_global(self, a, fwd):
        if type(a) is not Symbol or self.local(a.name):
            return a
        g = self.fresh("j" + a.name.split("%")[0])
        fwd.append(("let", g, L(S("%J"), a)))
        self.constants.add(g.name)
        return g

    def closure(self, p, c, fwd, backs):
        fwd.append(("let", p, j_fn(c, self.is_global, self.prim_of, self.supply)))
        free = sorted(free_variables(c, self.is_global))

        def back(B):
            s = B.of(p)
            if s is not None:
                for v in free:
                    B.add(S(v), B.bind("d" + v.split("%")[0], L(S("%env-get"), s, quoted(v))))
        backs.append(back)

    def letrec(self, pairs, fwd, backs):
        group = {n.name for n, _ in pairs}
        gfree = set()
        for _, f in pairs:
            gfree |= free_variables(f, self.is_global) - group
        jpairs = []
        for n, f in pairs:
            jpairs.append((n, j_fn(f, self.is_global, self.prim_of, self.supply,
                                   group, frozenset(gfree))))
        fwd.append(("letrec", jpairs))

        def back(B):
            for n, _ in pairs:
                s = B.sens.get(n.name)
                if s is not None:
                    for v in sorted(gfree):
                        B.add(S(v), B.bind("d" + v.split("%")[0],
                                           L(S("%env-get"), s, quoted(v))))
        backs.append(back)

    def branch(self, p, c, fwd, backs):
        # each branch computes [value backpropagator] in place, as the body of
        # a function of no arguments would: its backpropagator gives the
        # sensitivities of the variables the branch uses, by name
        cond, a, b = c.items[1], c.items[2], c.items[3]
        bpk = self.fresh("bp")
        ja, jb = (_JBody(self.supply, self.is_global, self.prim_of).body(
            x, (), free_variables(x, self.is_global), set(), frozenset()) for x in (a, b))
        fwd.append(("let", Vec([p, bpk]), L(c.items[0], cond, ja, jb)))
        free = sorted(free_variables(a, self.is_global) | free_variables(b, self.is_global))

        def back(B):
            s = B.of(p)
            if s is not None:
                (dk,) = B.guarded(["dk"], s, L(bpk, s))
                for v in free:
                    B.add(S(v), B.bind("d" + v.split("%")[0], L(S("%env-get"), dk, quoted(v))))
        backs.append(back)

    def field(self, p, c, fwd, backs):
        fwd.append(("let", p, c))
        a, f = c.items[1], c.items[2]

        def back(B):
            s = B.of(p)
            if s is not None and self.is_local_sym(a):
                B.add(a, B.bind("d", L(S("%field-sens"), a, quoted(f.name), s)))
        backs.append(back)

    def call(self, p, c, fwd, backs):
        f, args, kwargs = core.call_parts(c)
        prim = None
        if type(f) is Symbol and not self.local(f.name):
            prim = self.prim_of(f.name)
        out = p if type(p) is Symbol else self.fresh("o")
        if prim is not None:
            self.prim_call(p, out, prim, c, args, kwargs, fwd, backs)
            return
        jf = f
        if type(f) is Symbol and not self.local(f.name):
            jf = self.fresh("j" + f.name.split("%")[0])
            fwd.append(("let", jf, L(S("%J"), f)))
        bp = self.fresh("bp")
        call = [jf, *args]
        for k, v in kwargs:
            call.extend((k, v))
        fwd.append(("let", Vec([out, bp]), Form(call, c.span)))
        if out is not p:
            fwd.append(("let", p, out))

        def back(B):
            s = B.of(p)
            if s is None:
                return
            if not kwargs:
                ds = B.guarded(["d"] * (len(args) + 1), s, L(bp, s))
            else:
                # the callee's parameter order is known at run time only:
                # keyword arguments find their sensitivity by name
                z = B.bind("z", L(S("%zero?"), s))
                whole = B.bind("ds", L(S("if"), z, None, L(bp, s)))
                ds = [B.bind("d", L(S("%sens-get"), whole, i)) for i in range(len(args) + 1)]
                for k, v in kwargs:
                    if self.is_local_sym(v):
                        i = B.bind("i", L(S("%param-index"), jf, L(S("quote"), k)))
                        B.add(v, B.bind("d", L(S("%sens-get"), whole, i)))
            B.add_each([f, *args], ds)
        backs.append(back)

    def prim_call(self, p, out, prim, c, args, kwargs, fwd, backs):
        name = prim.name
        fwd_c = c
        if name == "%J":
            fwd.append(("let", p, c))
            backs.append(lambda B: B.add(args[0], B.of(p)) if args else None)
            return
        if name in MAKERS:
            fwd_c = L(S("%J-shallow"), c)
        elif not any(self.is_local_sym(a) and a.name not in self.constants for a in args):
            fwd.append(("let", p, c))   # constant arguments: no sensitivity to pass on
            return
        elif "d/" + name not in self._rules():
            raise SxGradError(f"cannot differentiate: primitive {name} has no derivative rule",
                              c.span)
        fwd.append(("let", out, fwd_c))
        if out is not p:
            fwd.append(("let", p, out))

        def back(B):
            s = B.of(p)
            if s is None:
                return
            if name in MAKERS:
                if self.is_local_sym(args[0]):
                    B.add(args[0], B.bind("d", L(S("%env-get"), s, quoted("jf"))))
                return
            given = {k.name: v for k, v in kwargs}
            kw = [given.get(k, prim.kwargs[k]) for k in prim.kwargs]
            rule_args = list(args) if prim.min_args == prim.max_args else [Vec(args)]
            ds = B.guarded(["d"] * len(args), s, L(S("d/" + name), *rule_args, *kw, out, s))
            B.add_each(args, ds)
        backs.append(back)

    @staticmethod
    def _rules():
        from ..library import base_env

        return base_env().globals


# -- grad, value-and-grad, vjp, jvp: the closures the makers build ---------------------------

def maker_form(kind, n, wrt, jf=None, fresh=None):
    """``(fn [jf] (fn [x0 ...] ...))``: the ``kind`` closure of a J-function of
    ``n`` arguments (``wrt``: an index or a tuple of indices, for grad).

    Given the symbol ``jf``, just the inner function, calling ``jf``;
    ``fresh(base)`` then names its binders."""
    nm = fresh or (lambda base: base)
    own = jf is None
    jf = jf or S("jf")
    xs = [S(nm(f"x{i}")) for i in range(n)]
    y, bp, ds = S(nm("y")), S(nm("bp")), S(nm("ds"))

    def grads(idx):
        return L(S("%sens-out"), xs[idx], L(S("%sens-get"), ds, idx + 1))

    def all_grads():
        return Vec([grads(i) for i in range(n)])

    head = [Vec([y, bp]), Form([jf, *xs])]
    if kind in ("grad", "value-and-grad"):
        g = grads(wrt) if type(wrt) is int else Vec([grads(i) for i in wrt])
        res = g if kind == "grad" else Vec([y, g])
        body = L(S("let"), Vec(head + [ds, L(bp, L(S("%grad-seed"), y, jf))]), res)
        inner = L(S("fn"), Vec(xs), body)
    elif kind == "vjp":
        ct = S(nm("ct"))
        checked = L(S("%check-like"), y, ct, "the cotangent given to vjp's back")
        back = L(S("fn"), Vec([ct]), L(S("let"), Vec([ds, L(bp, checked)]), all_grads()))
        inner = L(S("fn"), Vec(xs), L(S("let"), Vec(head), Vec([y, back])))
    else:  # jvp, as the transpose of the (linear) vjp
        prim, tan, ct = S(nm("primals")), S(nm("tangents")), S(nm("ct"))
        back, bpb, dback, z = S(nm("back")), S(nm("bpb")), S(nm("dback")), S(nm("z"))
        dxs = S(nm("dxs"))
        back_fn = L(S("fn"), Vec([ct]), L(S("let"), Vec([ds, L(bp, ct)]), all_grads()))
        body = L(S("let"), Vec([
            Vec(xs), L(S("%check-tuple"), prim, n, "jvp's primals"),
            dxs, L(S("%check-like"), prim, tan, "jvp's tangents")] + head + [
            back, back_fn,
            Vec([z, bpb]), L(L(S("%J"), back), L(S("%zeros-like"), y)),
            dback, L(bpb, dxs)]),
            Vec([y, L(S("%sens-out"), y, L(S("%sens-get"), dback, 1))]))
        inner = L(S("fn"), Vec([prim, tan]), body)
    return L(S("fn"), Vec([jf]), inner) if own else inner


# -- the pass ----------------------------------------------------------------------------------

def run(module, ctx):
    """Add ``name%J`` for each top-level function the module takes ``(%J name)``
    of, and write out the gradient functions the makers would build for them."""
    from ..prims import PRIMS

    defs = {}
    for form in module:
        if head_name(form) == "def" and head_name(form.items[2]) == "fn":
            defs[form.items[1].name] = form.items[2]
    names = set(ctx.global_names) | {core.top_level_name(f).name for f in module
                                     if core.top_level_name(f) is not None}

    def is_global(n):
        return n in names or n in PRIMS

    def prim_of(n):
        return PRIMS.get(n) if n not in names else None

    wanted = _j_targets(module, defs)
    if not wanted:
        return module
    supply = NameSupply(module)
    out = []
    jnames = {n: n + "%J" for n in wanted}
    arity = {jnames[n]: len(defs[n].items[1].items) for n in wanted}
    inliner = _MakerInliner(arity, supply)
    for form in module:
        form = _use_static_j(form, jnames)
        if head_name(form) == "def":
            form = Form((form.items[0], form.items[1], inliner.expr(form.items[2])), form.span)
        out.append(form)
        if head_name(form) == "def" and form.items[1].name in wanted:
            name = form.items[1].name
            jfn = j_fn(defs[name], is_global, prim_of, supply)
            out.append(Form((S("def"), Symbol(jnames[name], form.items[1].span),
                             _use_static_j(jfn, jnames)), form.span))
    return tuple(out)


class _MakerInliner:
    """Replace ``(grad* f%J :wrt w)`` (and the other makers) by the function
    the maker would build, when ``f%J`` is a static J-transform (so its arity is
    known) and ``w`` a constant."""

    def __init__(self, arity, supply):
        self.arity = arity          # static J name -> number of parameters
        self.supply = supply
        self.alias = {}             # local name -> static J name it holds
        self.const = {}             # local name -> constant tuple of ints

    def expr(self, x):
        t = type(x)
        if t is Vec:
            return Vec([self.expr(i) for i in x.items], x.span)
        if t is not Form or is_atom(x):
            return x
        h = head_name(x)
        if h == "let":
            items = x.items[1].items
            b = []
            for i in range(0, len(items), 2):
                p, c = items[i], self.expr(items[i + 1])
                if type(p) is Symbol:
                    if type(c) is Symbol and c.name in self.arity:
                        self.alias[p.name] = c.name
                    elif type(c) is Vec and c.items and all(type(v) is int for v in c.items):
                        self.const[p.name] = tuple(c.items)
                b.extend((p, self.maker(c)))
            return Form((x.items[0], Vec(b, x.items[1].span), self.expr(x.items[2])), x.span)
        if h == "fn":
            return Form((x.items[0], x.items[1], self.expr(x.items[2])), x.span)
        if h in ("if", "letrec"):
            return Form([self.expr(i) for i in x.items], x.span)
        return self.maker(x)

    def maker(self, c):
        h = head_name(c)
        if h not in MAKERS or len(c.items) < 2 or type(c.items[1]) is not Symbol:
            return c
        jf = c.items[1]
        jname = self.alias.get(jf.name, jf.name)
        if jname not in self.arity:
            return c
        _, args, kwargs = core.call_parts(c)
        kw = {k.name: v for k, v in kwargs}
        if len(args) != 1 or set(kw) - {"wrt"}:
            return c
        wrt = kw.get("wrt", 0)
        if type(wrt) is Symbol:
            wrt = self.const.get(wrt.name)
        kind = MAKERS[h]
        if kind in ("grad", "value-and-grad"):
            if wrt is None:
                return c
            from ..ad import _check_wrt

            try:
                _check_wrt(wrt, self.arity[jname], kind)
            except SxGradError as e:
                e.span = c.span
                raise
        fn = maker_form(kind, self.arity[jname], wrt, jf, self.supply.fresh)
        return _Normalizer(self.supply).body(fn)


def _j_targets(module, defs):
    """Top-level functions whose J-transform is asked for, with those they call."""
    wanted = set()
    stack = []
    for form in module:
        stack.append(form)
    seen_j = set()
    while stack:
        x = stack.pop()
        if type(x) in (Form, Vec):
            if head_name(x) == "%J" and len(x.items) == 2 and type(x.items[1]) is Symbol \
                    and x.items[1].name in defs:
                seen_j.add(x.items[1].name)
            if head_name(x) != "quote":
                stack.extend(x.items)
    # a function's J-transform calls (%J g) for the globals it uses
    todo = list(seen_j)
    while todo:
        n = todo.pop()
        if n in wanted:
            continue
        wanted.add(n)
        for m in _globals_used(defs[n], defs):
            todo.append(m)
    return wanted


def _globals_used(fn, defs):
    out = set()
    stack = [fn]
    while stack:
        x = stack.pop()
        if type(x) is Symbol and x.name in defs:
            out.add(x.name)
        elif type(x) in (Form, Vec) and head_name(x) != "quote":
            stack.extend(x.items)
    return out


def _use_static_j(x, jnames):
    """``x`` with ``(%J name)`` replaced by ``name%J`` for the transformed globals."""
    t = type(x)
    if t is Form:
        if head_name(x) == "%J" and len(x.items) == 2 and type(x.items[1]) is Symbol \
                and x.items[1].name in jnames:
            return Symbol(jnames[x.items[1].name], x.span)
        if head_name(x) == "quote":
            return x
        return Form([_use_static_j(i, jnames) for i in x.items], x.span)
    if t is Vec:
        return Vec([_use_static_j(i, jnames) for i in x.items], x.span)
    return x
