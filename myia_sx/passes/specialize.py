"""specialize: Ltyped -> Lmono.

Writes what inference (:mod:`myia_sx.passes.infer_types`) found as a
program: one top-level function per context (a code, the types of what it
captured and an argument signature) that the entry point reaches, every
value typed.

  - A function version is the definition ``name@signature``.  A version of
    a closure takes what the closure captured as its first parameter, a
    tuple (``env@``), which its body takes apart into the captured names.
  - A closure value is the tuple of what it captured, in the order of its
    type (sorted names): the code is known from the type, so a call of a
    closure is a direct call of the version its signature needs, with the
    tuple as first argument.  A ``letrec`` leaves nothing behind but the
    tuples of its functions' values.  Closures of one code have one layout
    whatever is known about their captured values, so values that meet in
    an ``if``, a loop or a buffer need no conversion.
  - A union of functions (closures of different codes that meet in an
    ``if``, a function's result or a buffer) is held as ``[tag value]``
    (:class:`myia_sx.types.TaggedT`): a call of it dispatches on the tag,
    and a value is tagged (coerced) where it meets the union.  A sum
    (:class:`myia_sx.types.SumT`, what such a call returns where its
    members' tuples cannot be joined) is held tagged the same way; a
    pattern that fits one member takes it apart as that member.
  - ``%J``, ``%J-shallow`` and the makers (``%grad`` ...) become calls of
    the functions inference made of their code (the J-maker of a closure
    gets the J-values of the closure's tuple).
  - A binding whose value is known (a constant, a type test, ``%zero?``, a
    known shape) is replaced by the constant (with ``fold``); an ``if``
    whose condition is known is the branch taken.

Every value is written ``(%the T e)``, T a type as :func:`myia_sx.types.show`
writes it (a version's is ``(-> [param types] result)``, a closure's the
tuple type of what it captured), so the interpreter checks each value
against its type as it runs.

Lmono (the output; :class:`myia_sx.languages.Lmono` checks it): top-level
definitions ``(def name (%the (-> ...) (fn [p ...] body)))`` over Lanf
bodies with no ``fn`` and no ``letrec``, each let value typed; binders
unique within a definition; no ``%J``, ``%J-shallow`` or maker; no primitive
that asks what kind a value is (:data:`TYPE_QUESTIONS`); every call is of a
primitive, a record constructor or a top-level version.  The program reads
the module's data and record types by name, so it runs in (a copy of) the
module's environment.  With ``fold`` off the output is Ltyped as printed:
the same program with known bindings still computed.
"""

from __future__ import annotations

from .. import core
from ..errors import SxTypeError
from ..forms import Form, Symbol, Vec, head_name, user_name
from ..prims import PRIMS
from ..prims.type_rules import (sens_add, sens_fill, sens_type, sum_member,
                                typed)
from ..types import (BOTTOM, ArrowT, BufferT, CtorT, FnT, JoinError, PrimT, RecordT, Scalar,
                     SumT, TupleT, UnionT, ZeroT, flat, join_results, memo, show, widen)
from ..types import form as type_form

# Primitives whose result the types of their arguments decide: after
# specialization none is called (each is a constant).
TYPE_QUESTIONS = frozenset({"%zero?", "none?", "tuple?", "record?", "array?", "number?",
                            "bool?", "function?", "symbol?", "keyword?", "string?", "list?",
                            "vector?"})

# The primitives that transform code: specialization writes calls of what
# inference made of them.
CODE_MAKERS = frozenset({"%J", "%J-shallow", "%grad", "%value-and-grad", "%vjp", "%jvp"})

ENV = "env@"       # the parameter of a closure's version that holds what it captured
MAX_NAME = 48      # a specialized name longer than this is numbered instead


def S(name, span=None):
    return Symbol(name, span)


def signature(types):
    """Text naming a signature (part of a function's specialized name)."""
    return ",".join(map(_sig, types)) or "_"


def _sig(t):
    tt = type(t)
    if tt is Scalar:
        if t.kind == "none":
            return "None"
        if t.known() and t.kind in ("i64", "bool"):
            return f"{t.kind}={t.value}"
        return t.kind
    if t is ZeroT:
        return "zero"
    if tt is TupleT:
        return "t<" + ",".join(map(_sig, t.items)) + ">"
    if tt is RecordT:
        return t.rtype.name + "<" + ",".join(map(_sig, t.items)) + ">"
    if tt is FnT:
        return "fn<" + (user_name(t.code.name.split("%")[0]) or "fn") + ">"
    if tt is BufferT:
        return "buf<" + _sig(t.elem) + ">"
    if tt is PrimT:
        return "prim<" + t.prim.name + ">"
    return show(t).replace(" ", ",").replace("(", "<").replace(")", ">").replace(
        "[", "<").replace("]", ">")


def run(inf, entry, fold=True):
    """The program of inference ``inf`` from context ``entry``, as
    ``(forms, entry name)`` (an entry that captured values takes them first,
    as a closure's version does)."""
    return _Writer(inf, entry, fold).program()


class _Writer:
    def __init__(self, inf, entry, fold):
        self.inf = inf
        self.entry = entry
        self.fold = fold
        self.names = {}        # context key -> name of its version
        self.taken = set(entry.code.ns)
        self.queue = []        # contexts whose versions are to be written
        self.count = 0

    def fresh(self, base):
        """A name for a temporary (in the reserved ``%`` names: no clash with a
        binder or a version)."""
        self.count += 1
        return f"%{base}@{self.count}"

    def version_name(self, ctx):
        name = self.names.get(ctx.key)
        if name is None:
            base = user_name(ctx.code.name) or "fn"
            name = f"{base}@{signature(ctx.args)}"
            if len(name) > MAX_NAME or name in self.taken:
                k = 1
                while f"{base}@{k}" in self.taken:
                    k += 1
                name = f"{base}@{k}"
            self.taken.add(name)
            self.names[ctx.key] = name
            self.queue.append(ctx)
        return name

    def program(self):
        name = self.version_name(self.entry)
        out = []
        done = 0
        while done < len(self.queue):
            ctx = self.queue[done]
            done += 1
            out.append(Form((S("def"), S(self.names[ctx.key]), self.function(ctx)),
                            ctx.code.fn.span))
        return tuple(out), name

    def the(self, t, e):
        """``(%the T e)``: ``e`` of (Lmono) type ``t``."""
        return Form((S("%the"), type_form(t), e), getattr(e, "span", None))

    # -- versions
    def function(self, ctx):
        """``(%the (-> ...) (fn [params] body))``: the version of context ``ctx``."""
        params, body = core.fn_parts(ctx.code.fn)
        scope = {}
        b = _Body(self, ctx, scope)
        for p, t in zip(params, ctx.args):
            self.substitute(p, t, scope)
        types = [flat(t) for t in ctx.args]
        env_type = TupleT(flat(t) for _, t in ctx.captured)

        def write():
            if ctx.captured:
                b.bind(Vec([S(n) for n, _ in ctx.captured]), self.the(env_type, S(ENV)))
                for n, t in ctx.captured:
                    self.substitute(S(n), t, scope)
            return b.inline(body, ctx.result)

        out = b.body_of(write)
        if ctx.captured:
            params = (S(ENV), *params)
            types.insert(0, env_type)
        fn = Form((S("fn"), Vec(params), out), ctx.code.fn.span)
        return self.the(ArrowT(types, flat(ctx.result)), fn)

    def substitute(self, p, t, scope):
        """Record in ``scope`` the constants the binders of ``p`` stand for."""
        if type(p) is Symbol:
            c = self.constant(t)
            if c is not None:
                scope[p.name] = c[0]
            else:
                scope.pop(p.name, None)
        else:
            parts = t.items if type(t) is TupleT and len(t.items) == len(p.items) else \
                [t if t is ZeroT else None] * len(p.items)
            for q, u in zip(p.items, parts):
                self.substitute(q, u, scope)

    def constant(self, t):
        """``(atom,)`` for a type with one value that an atom writes, else None."""
        if not self.fold or t is None:
            return None
        if t is ZeroT:
            return (S("%zero"),)
        if type(t) is Scalar and t.kind == "none":
            return (None,)
        if type(t) is Scalar and t.known() and t.kind in ("i64", "f64", "bool"):
            return (t.value,)
        return None


class _LocalFn:
    """A function of a letrec, in scope: its value is made where it is used."""

    __slots__ = ("type",)

    def __init__(self, t):
        self.type = t


class _Body:
    """The body of one version."""

    def __init__(self, w, ctx, scope):
        self.w = w
        self.ctx = ctx
        self.scope = scope
        self.captured = dict(ctx.captured)
        self.steps = []
        self.temps = {}     # name of a temporary -> its Lmono type
        code = ctx.code
        if code.group is not None:
            # the other functions of a letrec group: same captured values
            for n, _ in code.group[0]:
                t = ctx.types.get(n.name)
                if type(t) is FnT and n.name not in self.captured:
                    scope[n.name] = _LocalFn(t)

    # -- bodies and bindings
    def body_of(self, write):
        saved = self.steps
        self.steps = []
        tail = write()
        out = Form((S("let"), Vec([x for st in self.steps for x in st]), tail)) \
            if self.steps else tail
        self.steps = saved
        return out

    def inline(self, body, want):
        """The steps of ``body`` added here; its tail value, of type ``want``,
        returned."""
        while True:
            h = head_name(body)
            if h == "let":
                items = body.items[1].items
                for i in range(0, len(items), 2):
                    self.let(items[i], items[i + 1])
                body = body.items[2]
            elif h == "letrec":
                items = body.items[1].items
                for i in range(0, len(items), 2):
                    self.scope[items[i].name] = _LocalFn(self.ctx.types[items[i].name])
                body = body.items[2]
            else:
                value = self.c(body, want)
                have = self.ctx.types.get(("tail", id(body)))
                if self.gives_want(body) or not _needs_coercion(have, want):
                    return value
                if type(value) is Form or type(value) is Vec:
                    value = self.temp("v", flat(have), value)
                return self.coerce(value, have, want)

    def gives_want(self, x):
        """Whether :meth:`c` gives ``x``'s value as one of the type it is asked
        for itself: an ``if`` (each branch's tail is made one) and a call of a
        union of functions (each member's result is)."""
        if type(x) is not Form or not x.items:
            return False
        h = head_name(x)
        if h == "if":
            return True
        return h not in ("fn", ".", "quote") and type(self.type_of(x.items[0])) is UnionT

    def bind(self, p, value):
        self.steps.append((p, value))

    def temp(self, base, t, value):
        """A fresh name bound to ``value`` (of Lmono type ``t``)."""
        v = S(self.w.fresh(base))
        self.bind(v, self.w.the(t, value))
        self.temps[v.name] = t
        return v

    def let(self, p, c):
        t = self.ctx.types.get(p.name if type(p) is Symbol else id(p))
        if type(p) is Symbol and self.w.constant(t) is not None:
            self.scope[p.name] = self.w.constant(t)[0]
            return
        value = self.c(c, t)
        if type(p) is Vec and type(t) is SumT:
            # the member that fits the pattern (inference chose it): untagged
            tagged = value if type(value) is Symbol else self.temp("sum", flat(t), value)
            t = next(m for m in t.members if len(m.items) == len(p.items))
            value = Form((S("get"), tagged, 1))
        self.w.substitute(p, t, self.scope)
        self.bind(p, value if head_name(value) == "%the" else self.w.the(flat(t), value))

    # -- atoms
    def atom(self, a):
        if type(a) is not Symbol:
            return a
        got = self.scope.get(a.name, a)
        if type(got) is _LocalFn:
            return self.closure_value(got.type)
        if got is not a:
            return got
        if a.name in self.ctx.types or a.name in self.captured:
            return a
        t = self.w.inf.global_type(self.ctx.code.ns, a.name, a.span)
        c = self.w.constant(t)
        if c is not None:
            return c[0]
        if type(t) is FnT and not t.captured:
            return self.closure_value(t)
        if _has_closure(t):
            return self.temp("global", flat(t), Form((S("%closure-tuple"), a)))
        return a

    def closure_value(self, t):
        """An atom for a closure of type ``t``: the tuple of what it captured."""
        return self.temp("fn", flat(t), Vec([self.atom(S(n)) for n, _ in t.captured]))

    def type_of(self, a):
        if type(a) is Symbol:
            got = self.scope.get(a.name)
            if type(got) is _LocalFn:
                return got.type
            if a.name in self.ctx.types:
                return self.ctx.types[a.name]
            if a.name in self.captured:
                return self.captured[a.name]
            return self.w.inf.global_type(self.ctx.code.ns, a.name, a.span)
        return typed(a)

    # -- expressions
    def c(self, x, want):
        """The value of ``c`` form ``x``, of type ``want``."""
        if type(x) is Vec:
            return Vec([self.atom(a) for a in x.items], x.span)
        if type(x) is not Form or head_name(x) == "quote":
            return self.atom(x)
        h = head_name(x)
        if h == "fn":
            ns = self.ctx.code.ns
            free = core.free_variables(x, lambda n: n in ns or n in PRIMS or n.endswith("%J"))
            return Vec([self.atom(S(n)) for n in free], x.span)
        if h == "if":
            cond = x.items[1]
            ct = self.type_of(cond)
            if type(ct) is Scalar and ct.known():
                return self.inline(x.items[2] if ct.value else x.items[3], want)
            return Form((x.items[0], self.atom(cond),
                         self.body_of(lambda: self.inline(x.items[2], want)),
                         self.body_of(lambda: self.inline(x.items[3], want))), x.span)
        if h == ".":
            return Form((x.items[0], self.atom(x.items[1]), x.items[2]), x.span)
        return self.call(x, want)

    def call(self, x, want):
        f, args, kwargs = core.call_parts(x)
        ft = self.type_of(f)
        if type(ft) is PrimT and ft.prim.name in CODE_MAKERS:
            return self.made(ft.prim.name, x, args)
        if type(ft) is UnionT:
            return self.dispatch(x, ft, want)
        if type(ft) is PrimT and ft.prim.name in SENS_OPS and \
                any(_holds_tag(self.type_of(a)) for a in args):
            return self.sens_op(ft.prim.name, x, args, want)
        callees = self.ctx.calls.get(id(x))
        return self.direct(x, ft, lambda: self.atom(f), callees[0] if callees else None, want)

    def direct(self, x, ft, fv, callee, want):
        """Call ``x`` of a function of type ``ft`` (not a union) whose value is
        the atom ``fv()`` writes, reaching context ``callee`` (None for a
        primitive or a record constructor)."""
        f, args, kwargs = core.call_parts(x)
        if callee is None:
            head = S(ft.prim.name) if type(ft) is PrimT else \
                S(ft.rtype.name) if type(ft) is CtorT else fv()
            jargs = [self.atom(a) for a in args]
            if type(ft) is PrimT and ft.prim.name == "%buf-push" and type(want) is BufferT:
                # what a buffer holds has the buffer's element type
                jargs[1] = self.coerce(jargs[1], self.type_of(args[1]), want.elem)
            jkw = []
            for k, v in kwargs:
                jkw.extend((k, self.atom(v)))
            return Form([head, *jargs, *jkw], x.span)
        params = callee.code.fn.items[1].items
        names = [user_name(q.name) if type(q) is Symbol else None for q in params]
        ordered = [self.atom(a) for a in args] + [None] * (len(params) - len(args))
        for k, v in kwargs:
            ordered[names.index(k.name)] = self.atom(v)
        env = [fv()] if callee.captured else []
        return Form([S(self.w.version_name(callee)), *env, *ordered], x.span)

    def dispatch(self, x, ft, want):
        """A call of a value of a union of function types: on its tag, the
        call of each member, its result made a value of type ``want``."""
        f = core.call_parts(x)[0]
        fv = self.atom(f)
        tag = self.temp("tag", Scalar("i64"), Form((S("get"), fv, 0)))
        callees = iter(self.ctx.calls.get(id(x), ()))
        results = self.ctx.types[("members", id(x))]
        branches = []
        for k, (m, r) in enumerate(zip(ft.members, results)):
            callee = next(callees) if type(m) is FnT else None

            def write(k=k, m=m, r=r, callee=callee):
                mv = self.temp("member", flat(m), Form((S("get"), fv, 1)))
                value = self.direct(x, m, lambda: mv, callee, r)
                if not _needs_coercion(r, want):
                    return value
                return self.coerce(self.temp("v", flat(r), value), r, want)
            branches.append(write)
        out = self.body_of(branches[-1])
        for k in range(len(branches) - 2, -1, -1):
            test = self.temp("is", Scalar("bool"), Form((S("="), tag, k)))
            out = Form((S("if"), test, self.body_of(branches[k]), out), x.span)
            out = self.body_of(lambda out=out: out)
        return out

    # -- sensitivities of values that hold a tag
    def sens_op(self, name, x, args, want):
        """``(%zeros-like v)``, ``(%sens-fill d v)`` or ``(%sens+ a b)`` where a
        value holds a tag (a union's or a sum's), which the run-time
        primitive would take for a number: written part by part, a tagged
        part by a dispatch on its tag."""
        parts = [(self.atom(a), self.type_of(a)) for a in args]
        if name == "%zeros-like":
            v, t = self.zeros(*parts[0], x)
        elif name == "%sens-fill":
            v, t = self.fill(*parts[0], *parts[1], x)
        else:
            v, t = self.add(*parts[0], *parts[1], x)
        return self.coerce(v, t, want)

    def parts_of(self, a, t):
        """The parts of atom ``a`` of type ``t`` (a tuple, record or closure)
        as (atom, type) pairs, and a function that rebuilds the value from
        atoms of its parts."""
        tt = type(t)
        if tt is RecordT:
            return ([(self.temp("field", flat(u), Form((S("."), a, S(f)))), u)
                     for f, u in zip(t.rtype.fields, t.items)],
                    lambda items: Form([S(t.rtype.name), *items]))
        items = t.items if tt is TupleT else [u for _, u in t.captured]
        return ([(self.temp("item", flat(u), Form((S("get"), a, i))), u)
                 for i, u in enumerate(items)], Vec)

    def on_tag(self, a, t, r, write, x):
        """An atom of type ``r`` for tagged atom ``a`` of type ``t``: on its
        tag, ``write(member_atom, member)`` for each member, as type ``r``."""
        tag = self.temp("tag", Scalar("i64"), Form((S("get"), a, 0)))
        branches = []
        for m in t.members:
            def branch(m=m):
                mv = self.temp("member", flat(m), Form((S("get"), a, 1)))
                v, vt = write(mv, m)
                return self.coerce(v, vt, r)
            branches.append(branch)
        out = self.body_of(branches[-1])
        for k in range(len(branches) - 2, -1, -1):
            test = self.temp("is", Scalar("bool"), Form((S("="), tag, k)))
            out = self.body_of(lambda out=out, test=test, k=k:
                               Form((S("if"), test, self.body_of(branches[k]), out), x.span))
        return self.temp("v", flat(r), out)

    def zeros(self, a, t, x):
        """The zero sensitivity of atom ``a`` of type ``t``: (atom, type)."""
        r = sens_type(t)
        if r is ZeroT:
            return S("%zero"), r
        tt = type(t)
        if not _holds_tag(t):
            return self.temp("z", flat(r), Form((S("%zeros-like"), a), x.span)), r
        if tt in (UnionT, SumT):
            return self.on_tag(a, t, r, lambda mv, m: self.zeros(mv, m, x), x), r
        if tt in (TupleT, RecordT, FnT):
            parts, build = self.parts_of(a, t)
            zs = [self.zeros(v, u, x) for v, u in parts]
            r = RecordT(t.rtype, [u for _, u in zs]) if tt is RecordT else \
                TupleT(u for _, u in zs)
            return self.temp("z", flat(r), build([v for v, _ in zs])), r
        raise SxTypeError(f"the zero sensitivity of {_cut(show(t))}: not specialized yet",
                          x.span)

    def fill(self, d, td, w, tw, x):
        """``(%sens-fill d w)``, part by part: (atom, type)."""
        if td is ZeroT or tw is ZeroT:
            return self.zeros(w, tw, x)
        r = sens_fill(td, tw)
        if not (_holds_tag(tw) or _holds_tag(td)):
            return self.temp("d", flat(r), Form((S("%sens-fill"), d, w), x.span)), r
        if type(td) is SumT:
            return self.on_tag(d, td, r, lambda dv, m: self.fill(dv, m, w, tw, x), x), r
        if type(tw) in (SumT, UnionT):
            return self.on_tag(w, tw, r, lambda wv, k: self.fill(d, td, wv, k, x), x), r
        if type(td) is TupleT and type(tw) in (TupleT, FnT) or \
                type(td) is RecordT and type(tw) is RecordT and td.rtype is tw.rtype:
            dparts, build = self.parts_of(d, td)
            wparts, _ = self.parts_of(w, tw)
            if len(dparts) == len(wparts):
                fs = [self.fill(dv, dt, wv, wt, x) for (dv, dt), (wv, wt) in zip(dparts, wparts)]
                r = RecordT(td.rtype, [u for _, u in fs]) if type(td) is RecordT else \
                    TupleT(u for _, u in fs)
                return self.temp("d", flat(r), build([v for v, _ in fs])), r
        return d, td

    def add(self, a, ta, b, tb, x):
        """``(%sens+ a b)``, part by part: (atom, type).  A sum and a tuple are
        sensitivities of one value, so of the member of the tuple's length."""
        if ta is ZeroT:
            return b, tb
        if tb is ZeroT:
            return a, ta
        r = sens_add(ta, tb)
        if not (_holds_tag(ta) or _holds_tag(tb)):
            return self.temp("d", flat(r), Form((S("%sens+"), a, b), x.span)), r
        if type(ta) is not SumT and type(tb) is SumT:
            a, ta, b, tb = b, tb, a, ta
        if type(ta) is SumT and type(tb) is not SumT:
            m = sum_member(ta, len(tb.items))
            av = self.temp("member", flat(m), Form((S("get"), a, 1)))
            return self.add(av, m, b, tb, x)
        if type(ta) is SumT:
            def member(av, m):
                n = sum_member(tb, len(m.items))
                if n is None:    # not a sensitivity of the value b's is of
                    return av, m
                bv = self.temp("member", flat(n), Form((S("get"), b, 1)))
                return self.add(av, m, bv, n, x)
            return self.on_tag(a, ta, r, member, x), r
        if not (type(ta) is type(tb) is TupleT and len(ta.items) == len(tb.items) or
                type(ta) is type(tb) is RecordT and ta.rtype is tb.rtype):
            raise SxTypeError(f"adding sensitivities {_cut(show(ta))} and {_cut(show(tb))}: "
                              "not specialized yet", x.span)
        aparts, build = self.parts_of(a, ta)
        bparts, _ = self.parts_of(b, tb)
        sums = [self.add(av, at, bv, bt, x) for (av, at), (bv, bt) in zip(aparts, bparts)]
        r = RecordT(ta.rtype, [u for _, u in sums]) if type(ta) is RecordT else \
            TupleT(u for _, u in sums)
        return self.temp("d", flat(r), build([v for v, _ in sums])), r

    def coerce(self, a, have, want):
        """An atom for atom ``a`` of type ``have`` as a value of type ``want``,
        a type joined from ``have``: a function becomes a member of a union
        (tagged), a union a member of a larger one; tuples, records and
        closures (tuples of what they captured) itemwise."""
        if not _needs_coercion(have, want):
            return a
        th, tw = type(have), type(want)
        if have is ZeroT and tw is Scalar and want.kind == "f64":
            return 0.0
        if tw is SumT and th is not SumT:
            k = _sum_member(want, have)
            return self.temp("v", flat(want), Vec([k, self.coerce(a, have, want.members[k])]))
        if tw is th is SumT or tw is UnionT and th is UnionT:
            index = _sum_member if tw is SumT else _member_index
            tags = [index(want, m) for m in have.members]
            for m, k in zip(have.members, tags):
                if _needs_coercion(m, want.members[k]):
                    raise SxTypeError(f"a member {_cut(show(m))} of a union held as "
                                      f"{_cut(show(want.members[k]))}: not specialized yet")
            table = self.temp("tags", flat(TupleT(Scalar("i64") for _ in tags)), Vec(tags))
            old = self.temp("tag", Scalar("i64"), Form((S("get"), a, 0)))
            new = self.temp("tag", Scalar("i64"), Form((S("get"), table, old)))
            v = self.temp("member", th(map(flat, have.members)), Form((S("get"), a, 1)))
            return self.temp("v", flat(want), Vec([new, v]))
        if tw is UnionT:
            return self.temp("v", flat(want), Vec([_member_index(want, have), a]))
        if th is tw is FnT and have.code is want.code and len(have.captured) == len(want.captured):
            items = [self.coerce(self.temp("item", flat(h), Form((S("get"), a, i))), h, w)
                     for i, ((_, h), (_, w)) in enumerate(zip(have.captured, want.captured))]
            return self.temp("v", flat(want), Vec(items))
        if th is tw and th in (TupleT, RecordT) and len(have.items) == len(want.items):
            if th is TupleT:
                parts = [Form((S("get"), a, i)) for i in range(len(have.items))]
            else:
                parts = [Form((S("."), a, S(f))) for f in have.rtype.fields]
            items = [self.coerce(self.temp("item", flat(h), p), h, w)
                     for p, h, w in zip(parts, have.items, want.items)]
            value = Vec(items) if th is TupleT else Form([S(have.rtype.name), *items])
            return self.temp("v", flat(want), value)
        raise SxTypeError(f"a value of type {_cut(show(have))} where {_cut(show(want))} is "
                          "expected: not specialized yet")

    def made(self, name, x, args):
        """The value of ``(%J f)``, ``(%J-shallow f)`` or a maker ``(%grad jf ...)``."""
        callees = iter(self.ctx.calls.get(id(x), ()))
        a = args[0]
        t = self.type_of(a)
        if name == "%J":
            return self.j_value(self.atom(a), t, callees)
        if name == "%J-shallow":
            _, free = self.w.inf.services.j_maker(t.code)
            return self.call_made(next(callees), [self.captured_value(self.atom(a), t, n)
                                                  for n in free])
        return self.call_made(next(callees), [self.atom(a)])

    def call_made(self, callee, args):
        return self.w.the(flat(callee.result),
                          Form([S(self.w.version_name(callee)), *args]))

    def j_value(self, a, t, callees):
        """An atom for the J-value of atom ``a`` of type ``t``; consumes the
        contexts inference reached for it, in the order it reached them."""
        if not _has_function(t):
            return a
        tt = type(t)
        if tt is TupleT:
            items = [self.j_value(self.temp("item", flat(u), Form((S("get"), a, i))), u,
                                  callees)
                     for i, u in enumerate(t.items)]
            return self.temp("j", TupleT(map(self.type_of_temp, items)), Vec(items))
        if tt is RecordT:
            items = [self.j_value(self.temp("field", flat(u), Form((S("."), a, S(f)))), u,
                                  callees)
                     for f, u in zip(t.rtype.fields, t.items)]
            return self.temp("j", RecordT(t.rtype, map(self.type_of_temp, items)),
                             Form([S(t.rtype.name), *items]))
        if tt is FnT:
            _, free = self.w.inf.services.j_maker(t.code)
            captured = dict(t.captured)
            inputs = [self.j_value(self.captured_value(a, t, n), captured[n], callees)
                      for n in free]
            return self.made_value(next(callees), inputs)
        if tt is PrimT:
            # the J of a primitive: a closure of its rule's code, capturing nothing
            return self.temp("j", TupleT(()), Vec([]))
        if tt is CtorT:
            return self.made_value(next(callees), [a])
        raise SxTypeError(f"differentiating a value of type {show(t)} is not specialized yet")

    def made_value(self, callee, args):
        v = S(self.w.fresh("j"))
        self.bind(v, self.call_made(callee, args))
        self.temps[v.name] = flat(callee.result)
        return v

    def type_of_temp(self, a):
        """The Lmono type of an atom this writer made."""
        if type(a) is Symbol and a.name in self.temps:
            return self.temps[a.name]
        t = self.type_of(a)
        return flat(t)

    def captured_value(self, a, t, name):
        """An atom for what closure ``a`` (of type ``t``) captured as ``name``."""
        names = [n for n, _ in t.captured]
        u = t.captured[names.index(name)][1]
        c = self.w.constant(u)
        if c is not None:
            return c[0]
        return self.temp("captured", flat(u), Form((S("get"), a, names.index(name))))


def _needs_coercion(have, want):
    """True when a value of type ``have`` is held differently from one of type
    ``want`` (a function and a union of functions are)."""
    if have is None or want is None or have is BOTTOM or have == want:
        return False
    return not _same_layout(widen(flat(have)), widen(flat(want)))


def _same_layout(a, b):
    """Whether values of (flat) types ``a`` and ``b`` are held alike: equal
    types, but an empty buffer (``(buffer (bottom))``) is held as any buffer."""
    if a == b or a is BOTTOM:
        return True
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is BufferT:
        return a.elem is BOTTOM or _same_layout(a.elem, b.elem)
    if ta is TupleT or ta is RecordT and a.rtype is b.rtype:
        return len(a.items) == len(b.items) and all(map(_same_layout, a.items, b.items))
    return False


SENS_OPS = ("%zeros-like", "%sens-fill", "%sens+")


@memo
def _holds_tag(t):
    """Whether a value of type ``t`` holds a tag: a union's or a sum's."""
    tt = type(t)
    if tt is UnionT or tt is SumT:
        return True
    if tt is TupleT or tt is RecordT:
        return any(map(_holds_tag, t.items))
    if tt is FnT:
        return any(_holds_tag(u) for _, u in t.captured)
    if tt is BufferT:
        return _holds_tag(t.elem)
    return False


def _sum_member(s, t):
    """The index of the member of sum ``s`` that values of type ``t`` belong to."""
    for k, m in enumerate(s.members):
        try:
            if join_results(m, t) == m:
                return k
        except JoinError:
            pass
    raise SxTypeError(f"{show(t)} is not a member of {_cut(show(s))}")


def _member_index(union, t):
    """The index of the member of ``union`` that values of type ``t`` belong to."""
    for k, m in enumerate(union.members):
        if type(m) is type(t) and (
                type(t) is FnT and m.code is t.code or type(t) is PrimT and m.prim is t.prim
                or type(t) is CtorT and m.rtype is t.rtype):
            return k
    raise SxTypeError(f"{show(t)} is not a member of {_cut(show(union))}")


def _cut(text, n=100):
    return text if len(text) <= n else text[:n - 3] + "..."


def _has_closure(t):
    tt = type(t)
    if tt is FnT:
        return True
    if tt in (TupleT, RecordT):
        return any(map(_has_closure, t.items))
    return False


def _has_function(t):
    tt = type(t)
    if tt in (FnT, PrimT, CtorT, UnionT):
        return True
    if tt in (TupleT, RecordT):
        return any(map(_has_function, t.items))
    if tt is BufferT:
        return _has_function(t.elem)
    return False
