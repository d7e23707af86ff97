"""infer_types: Lanf (a function and its argument types) -> Ltyped.

Abstract interpretation over *contexts*: a context is a function's code,
the types of what its closure captured and the types of its arguments.  A
plain worklist evaluates each context's body with types for values; a call
of a function looks up or creates the callee's context and reads its
result so far (BOTTOM while it is being inferred; the caller is evaluated
again when it grows), so the base case of a recursion types it first.  An
``if`` whose condition is known takes one branch; otherwise the types of
both branches are joined.  Primitives are typed by the rule in their row of
the table (``Prim.type_rule``, :mod:`myia_sx.prims.type_rules`); ``%J``,
``%J-shallow`` and the makers by the J-transform of the code of the function
they get (made on demand, through ``services``, and inferred like any
code), so after inference no question of differentiation is left open.

Polyvariance: each function is inferred once per argument signature.
Values that decide types (integers, booleans, strings, keywords, symbols)
stay in the signature where control flow decides them, and are forgotten in
a call on a path no known condition decided (the next iteration of a loop
whose bound is unknown), so loops whose state keeps its type type-check
once; floats are always forgotten.

Output (an :class:`Inference`): the table of contexts, each with the type of
every binder of its code and the context each of its calls reaches; the
specializer (:mod:`myia_sx.passes.specialize`) writes the program.  Errors
are located SxErrors with the call path from the entry point: wrong
argument count or kind, branches that cannot be joined, a function that can
never return, a state that grows without bound, a missing record field, a
shape mismatch.  Inference runs nothing.  An error is kept on its context
until no type grows, and reported if the entry point still reaches that
context (one made while its caller's types were growing, with one member of
a sum before the others arrived, may be left behind); the limits stop it at
once.  A call of a union whose members return tuples that cannot be joined
returns their sum (:class:`myia_sx.types.SumT`), taken apart where one
member fits a pattern.
"""

from __future__ import annotations

from collections import deque
from functools import reduce

from .. import core
from ..errors import SxError, SxGradError, SxShapeError, SxTypeError
from ..forms import Form, Symbol, Vec, head_name, span_text
from ..interp import locate, written_span
from ..prims import PRIMS, Prim, PrimConst, PrimShapeError
from ..prims.type_rules import typed
from ..types import (BOTTOM, ArrayT, BufferT, Code, CtorT, FnT, JoinError, PrimT, RecordT,
                     Scalar, SumT, TupleT, UnionT, ZeroT, depth, describe, forget, forget_floats,
                     join, join_results, of_value)

MAX_DEPTH = 64          # deeper nesting of a loop's state: it grows without bound (4th-order
                        # backpropagators nest deeper than 24)
MAX_CONTEXTS = 2000     # contexts of one code
MAX_VARIANTS = 6        # contexts of one code and signature that differ only in values
MAX_ORDER = 5           # J-transforms of J-transforms (a function that differentiates itself
                        # through a recursion asks for every order)


class Ctx:
    """One context: ``code`` called with ``args`` (and ``captured``)."""

    __slots__ = ("key", "code", "captured", "args", "result", "readers", "types", "calls",
                 "caller", "site", "evaluated", "error")

    def __init__(self, key, code, captured, args, caller, site):
        self.key = key
        self.code = code
        self.captured = captured
        self.args = args
        self.result = BOTTOM
        self.readers = {}    # the contexts that read the result (an ordered set)
        self.types = {}      # the last evaluation's types: of binder names, of patterns
                             # (id), of the tail of each body (("tail", id)), of
                             # each member's call in a call of a union (("members", id))
        self.calls = {}      # id(call form) -> Ctx, or list of Ctx for a union of functions
        self.caller = caller
        self.site = site
        self.evaluated = False
        self.error = None    # the error of the last evaluation

    def __repr__(self):
        return f"<ctx {self.code.name} {' '.join(map(describe, self.args))}>"


class _Limit(Exception):
    """A limit of inference reached (:data:`MAX_DEPTH`, :data:`MAX_CONTEXTS`,
    :data:`MAX_ORDER`):
    it stops at once, with ``error``."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class Inference:
    """One inference session: the table of contexts, in creation order."""

    def __init__(self, services):
        self.services = services
        self.contexts = {}
        self.queue = deque()
        self.queued = set()
        self.codes = {}
        self.per_code = {}
        self.variants = {}

    # -- codes and globals
    def code(self, fn, ns, name, group=None, order=None):
        """The canonical :class:`Code` of ``fn`` (one per form)."""
        got = self.codes.get(id(fn))
        if got is None:
            got = self.codes[id(fn)] = Code(fn, ns, name, group, order)
        return got

    def code_of(self, closure):
        c = closure.code
        if c.fn_form is None:
            return None
        return self.code(c.fn_form, c.globals, c.name, c.letrec)

    def global_type(self, ns, name, span):
        """The type of global ``name`` in namespace ``ns``."""
        if name in ns:
            return self.value_type(ns[name], span)
        if name.endswith("%J"):
            value = self.services.derive(ns, name)
            if value is not None:
                return self.value_type(value, span)
        row = PRIMS.get(name)
        if type(row) is Prim:
            return PrimT(row)
        if type(row) is PrimConst:
            return self.value_type(row.value, span)
        raise SxTypeError(f"{name} is used before its definition has run", span)

    def value_type(self, v, span):
        if type(v) in (int, float, bool, str):
            return typed(v)
        got = of_value(v, self.code_of, unknown_dims=False)
        if got is None:
            raise SxTypeError("a global of a kind the language has no type for", span)
        return got

    # -- running
    def entry(self, fn_type, args):
        """Infer a call of ``fn_type`` with argument types ``args``; the context."""
        n = len(fn_type.code.fn.items[1].items)
        if len(args) != n:
            raise SxTypeError(f"{code_label(fn_type.code)} takes {n} argument"
                              f"{'s' * (n != 1)}, got {len(args)}",
                              written_span(fn_type.code.fn.span))
        try:
            ctx = self.context(fn_type, tuple(args), None, None)
            self.run()
        except _Limit as stop:
            raise stop.error from None
        reached = self.reachable(ctx)
        for c in reached:
            if c.error is not None:
                raise c.error
        self.check_returns(reached)
        return ctx

    def context(self, fn_type, args, caller, site):
        key = (fn_type.key(), tuple(a.key() for a in args))
        if key not in self.contexts:
            # values in a signature specialize a code; past a few variants of
            # one signature (a recursion that counts down a known number),
            # the code gets the signature without them
            plain = tuple(map(forget, args))
            base = (fn_type.key(), tuple(a.key() for a in plain))
            if base != key:
                seen = self.variants.setdefault(base, set())
                seen.add(key)
                if len(seen) > MAX_VARIANTS:
                    args, key = plain, base
        ctx = self.contexts.get(key)
        if ctx is None:
            code = fn_type.code
            n = self.per_code.get(id(code), 0) + 1
            self.per_code[id(code)] = n
            grown = next((a for a in args if depth(a) > MAX_DEPTH), None)
            if grown is not None:
                err = SxTypeError(f"the arguments of {code_label(code)} grow without bound "
                                  f"(a tuple nested deeper at every call?): "
                                  f"{_short(describe(grown))}", site)
                raise _Limit(self.located(err, caller))
            if n > MAX_CONTEXTS:
                err = SxTypeError(
                    f"{code_label(code)} would need more than {MAX_CONTEXTS} versions: the types "
                    "of its arguments or of what it captured change at every call (the "
                    "gradient of a recursion that is not a loop, as deep as a value known "
                    "only when it runs?)", site)
                raise _Limit(self.located(err, caller))
            ctx = Ctx(key, code, fn_type.captured, args, caller, site)
            self.contexts[key] = ctx
            self.enqueue(ctx)
        return ctx

    def enqueue(self, ctx):
        if ctx.key not in self.queued:
            self.queued.add(ctx.key)
            self.queue.append(ctx)

    def run(self):
        """Evaluate contexts until no result grows.  An error is kept on its
        context, not raised: a context made while a caller's types were
        still growing (one member of a sum, before the others arrived) may
        no longer be called in the end (:meth:`entry` raises the errors of
        the contexts still reached)."""
        while self.queue:
            ctx = self.queue.popleft()
            self.queued.discard(ctx.key)
            try:
                result = _Evaluator(self, ctx).function()
                ctx.evaluated = True
                new = self.join_results(ctx, result)
            except SxError as e:
                ctx.error = e
                continue
            ctx.error = None
            if new != ctx.result:
                ctx.result = new
                for r in ctx.readers:
                    self.enqueue(r)

    def join_results(self, ctx, result):
        try:
            return join(ctx.result, result)
        except JoinError as e:
            err = SxTypeError(f"{code_label(ctx.code)} returns values of types that cannot be "
                              f"joined: {e}", written_span(ctx.code.fn.span))
            raise self.located(err, ctx.caller, ctx.site) from None

    def reachable(self, entry):
        """The contexts the final evaluation of ``entry`` reaches, in creation
        order (a context made while a caller's types were still growing, and
        no longer called, is left out)."""
        seen = {entry.key}
        stack = [entry]
        while stack:
            for callees in stack.pop().calls.values():
                for c in callees:
                    if c.key not in seen:
                        seen.add(c.key)
                        stack.append(c)
        return [c for k, c in self.contexts.items() if k in seen]

    def check_returns(self, reached):
        # the last made first: a caller waits on its callee, not the other way
        for ctx in reversed(reached):
            if ctx.result is BOTTOM:
                err = SxTypeError(f"{code_label(ctx.code)} can never return (a recursion "
                                  "with no base case?)", written_span(ctx.code.fn.span))
                raise self.located(err, ctx.caller, ctx.site)

    def located(self, err, ctx, site=None):
        """``err`` with the call path from the entry point as notes: error in
        context ``ctx`` (or in a call of it at ``site``)."""
        if site is not None and ctx is not None:
            err.add_note(f"in a call from {code_label(ctx.code)}", site)
        c = ctx
        while err.span is None and c is not None:   # in code a transform wrote: its origin
            err.span = written_span(c.code.fn.span) or c.site
            c = c.caller
        path = []
        while ctx is not None and ctx.caller is not None:
            note = (f"{code_label(ctx.code)} called from {code_label(ctx.caller.code)}",
                    ctx.site)
            if path and path[-1][0] == note:
                path[-1][1] += 1      # a recursion: one note for its calls
            else:
                path.append([note, 1])
            ctx = ctx.caller
        for (text, site), n in path:
            err.add_note(text + (f" ({n} times)" if n > 1 else ""), site)
        return err

    def call(self, caller, fn_type, args, site):
        """The result type of calling ``fn_type`` (a FnT) with ``args``."""
        ctx = self.context(fn_type, args, caller, site)
        ctx.readers[caller] = None
        return ctx, ctx.result


def code_label(code):
    """What messages call the function of ``code``: its user name, with
    "(differentiated)" for a J-transform; an anonymous function is its
    source text when that is short (``(grad f)``, ``(fn [x] (* x x))``)."""
    name = core.user_name(code.name.split("%J")[0]) or "fn"
    if name == "fn" and code.fn is not None:
        text = span_text(code.fn.span)
        if text is not None and len(text) <= 40:
            name = text
    times = code.name.count("%J")
    if times:
        name += " (differentiated)" if times == 1 else f" (differentiated {times} times)"
    return name


def _short(text, n=120):
    return text if len(text) <= n else text[:n - 3] + "..."


# -- evaluating one context ------------------------------------------------------------------

class _Evaluator:
    def __init__(self, inf, ctx):
        self.inf = inf
        self.ctx = ctx
        self.ns = ctx.code.ns
        self.decided = True     # every condition on the path so far was known
        ctx.types = {}
        ctx.calls = {}

    def function(self):
        code = self.ctx.code
        params, body = core.fn_parts(code.fn)
        env = dict(self.ctx.captured)
        if code.group is not None:
            pairs, _ = code.group
            for n, f in pairs:
                if n.name not in env:
                    env[n.name] = FnT(self.inf.code(f, self.ns, n.name, (pairs, n.name),
                                                    self.ctx.code.order),
                                      self.ctx.captured)
                    self.ctx.types[n.name] = env[n.name]
        for p, t in zip(params, self.ctx.args):
            self.bind(p, t, env, code.fn)
        return self.body(body, env)

    def error(self, err, form):
        if err.span is None:
            err.span = getattr(form, "span", None)
        return self.inf.located(err, self.ctx)

    # -- bodies
    def body(self, body, env):
        while True:
            h = head_name(body)
            if h == "let":
                items = body.items[1].items
                for i in range(0, len(items), 2):
                    self.bind(items[i], self.c(items[i + 1], env), env, body)
                body = body.items[2]
            elif h == "letrec":
                items = body.items[1].items
                pairs = tuple((items[i], items[i + 1]) for i in range(0, len(items), 2))
                names = {n.name for n, _ in pairs}
                free = set()
                for _, f in pairs:
                    free |= set(core.free_variables(f, self.is_global))
                captured = tuple((n, env[n]) for n in sorted(free - names))
                for n, f in pairs:
                    env[n.name] = FnT(self.inf.code(f, self.ns, n.name, (pairs, n.name),
                                                    self.ctx.code.order),
                                      captured)
                    self.ctx.types[n.name] = env[n.name]
                body = body.items[2]
            else:
                t = self.ctx.types[("tail", id(body))] = self.c(body, env)
                return t

    def is_global(self, name):
        return name in self.ns or name in PRIMS or name.endswith("%J")

    def bind(self, p, t, env, form):
        if type(p) is Symbol:
            env[p.name] = t
            self.ctx.types[p.name] = t
            return
        n = len(p.items)
        self.ctx.types[id(p)] = t
        if t is BOTTOM or t is ZeroT:
            parts = [t] * n
        elif type(t) is TupleT and len(t.items) == n:
            parts = t.items
        elif type(t) is SumT and [len(m.items) for m in t.members].count(n) == 1:
            # the one member that fits is the one the value is (the
            # sensitivity of a closure whose code this one knows)
            parts = next(m.items for m in t.members if len(m.items) == n)
        else:
            raise self.error(SxTypeError(f"cannot destructure {describe(t)} into {n} names",
                                         p.span), form)
        for q, u in zip(p.items, parts):
            self.bind(q, u, env, form)

    # -- atoms and compound expressions
    def atom(self, a, env):
        t = type(a)
        if t is Symbol:
            if a.name in env:
                return env[a.name]
            try:
                return self.inf.global_type(self.ns, a.name, a.span)
            except SxError as e:
                raise self.error(e, a) from None
        return typed(core.quote_datum(a) if t is Form else a)

    def c(self, x, env):
        if type(x) is Vec:
            items = [self.atom(a, env) for a in x.items]
            return BOTTOM if BOTTOM in items else TupleT(items)
        if type(x) is not Form or head_name(x) == "quote":
            return self.atom(x, env)
        h = head_name(x)
        if h == "fn":
            captured = tuple((n, env[n]) for n in core.free_variables(x, self.is_global))
            if any(t is BOTTOM for _, t in captured):
                return BOTTOM
            return FnT(self.inf.code(x, self.ns, "fn", order=self.ctx.code.order), captured)
        if h == "if":
            return self.branch(x, env)
        if h == ".":
            return self.field(x, env)
        return self.call(x, env)

    def branch(self, x, env):
        cond = self.atom(x.items[1], env)
        if cond is BOTTOM:
            return BOTTOM
        if not (type(cond) is Scalar and cond.kind == "bool" or
                type(cond) is ArrayT and cond.dtype == "bool" and cond.rank == 0):
            raise self.error(SxTypeError(f"if expects a bool condition, got {describe(cond)}"), x)
        if type(cond) is Scalar and cond.known():
            return self.body(x.items[2] if cond.value else x.items[3], env)
        decided, self.decided = self.decided, False
        try:
            a = self.body(x.items[2], dict(env))
            b = self.body(x.items[3], dict(env))
        finally:
            self.decided = decided
        try:
            return join(a, b)
        except JoinError:
            raise self.error(SxTypeError(f"the branches of this if have types that cannot be "
                                         f"joined: {_short(describe(a))} and {_short(describe(b))}"),
                             x) from None

    def field(self, x, env):
        r = self.atom(x.items[1], env)
        name = x.items[2].name
        if r is BOTTOM or r is ZeroT:
            return r
        if type(r) is not RecordT:
            raise self.error(SxTypeError(f"field access .{name} on {describe(r)}, not a record"), x)
        i = r.rtype.index.get(name)
        if i is None:
            raise self.error(SxTypeError(f"record {r.rtype.name} has no field {name} "
                                         f"(fields: {' '.join(r.rtype.fields)})"), x)
        return r.items[i]

    # -- calls
    def call(self, x, env):
        f, args, kwargs = core.call_parts(x)
        ft = self.atom(f, env)
        at = [self.atom(a, env) for a in args]
        kw = [(k.name, self.atom(v, env)) for k, v in kwargs]
        if ft is BOTTOM or any(t is BOTTOM for t in at) or any(t is BOTTOM for _, t in kw):
            return BOTTOM
        return self.apply(ft, at, kw, x)

    def apply(self, ft, at, kw, x):
        t = type(ft)
        if t is PrimT:
            return self.prim(ft.prim, at, kw, x)
        if t is CtorT:
            try:
                return RecordT(ft.rtype, ft.rtype.arrange(at, dict(kw)))
            except SxError as e:
                raise self.error(e, x) from None
        if t is FnT:
            return self.closure_call(ft, at, kw, x)
        if t is UnionT:
            outs = [self.apply(m, at, kw, x) for m in ft.members]
            self.ctx.types[("members", id(x))] = outs
            try:
                return reduce(join_results, outs, BOTTOM)
            except JoinError:
                raise self.error(self.union_results_error(outs), x) from None
        raise self.error(SxTypeError(f"cannot call a value of type {describe(ft)}"), x)

    def union_results_error(self, outs):
        """The functions a call may reach return values that cannot be
        joined (their results so far: ``outs``)."""
        known = " and ".join(describe(t, 60) for t in outs if t is not BOTTOM)
        return SxTypeError("the functions this call may reach return values of types that "
                           f"cannot be joined: {known}")

    def closure_call(self, ft, at, kw, x):
        params = ft.code.fn.items[1].items
        names = [core.user_name(p.name) if type(p) is Symbol else None for p in params]
        args = list(at) + [None] * (len(params) - len(at))
        label = code_label(ft.code)
        if len(at) > len(params):
            raise self.error(SxTypeError(f"{label} takes {len(params)} argument"
                                         f"{'s' * (len(params) != 1)}, got {len(at) + len(kw)}"),
                             x)
        for k, t in kw:
            if k not in names:
                raise self.error(SxTypeError(f"{label} has no parameter named {k}"), x)
            i = names.index(k)
            if args[i] is not None:
                raise self.error(SxTypeError(f"{label} got parameter {k} twice"), x)
            args[i] = t
        if any(a is None for a in args):
            missing = [names[i] or f"#{i}" for i, a in enumerate(args) if a is None]
            raise self.error(SxTypeError(f"{label} is missing argument(s) {' '.join(missing)}"),
                             x)
        if not self.decided:
            args = [forget(a) for a in args]
        else:
            args = [forget_floats(a) for a in args]
        callee, result = self.inf.call(self.ctx, ft, tuple(args), x.span)
        self.ctx.calls.setdefault(id(x), []).append(callee)
        return result

    def prim(self, prim, at, kw, x):
        n = len(at)
        if n < prim.min_args or (prim.max_args is not None and n > prim.max_args):
            raise self.error(SxTypeError(f"{prim.name} takes {prim.arity_text()}, got {n}"), x)
        kwargs = {}
        for k, t in kw:
            if k not in prim.kwargs:
                raise self.error(SxTypeError(f"{prim.name} has no keyword argument :{k}"), x)
            kwargs[k] = t
        for k, default in prim.kwargs.items():
            kwargs.setdefault(k, self.atom(default, {}))
        if prim.type_rule is None:
            raise self.error(SxTypeError(f"primitive {prim.name} has no type rule"), x)
        try:
            return prim.type_rule(_Services(self, x), at, kwargs)
        except PrimShapeError as e:
            raise self.error(locate(e, x), x) from None
        except (SxTypeError, SxShapeError, SxGradError) as e:
            raise self.error(e, x) from None


class _Services:
    """What a primitive's type rule may ask of inference (differentiation's
    primitives transform code, which is inferred like any code)."""

    def __init__(self, ev, form):
        self.ev = ev
        self.form = form

    def call(self, fn_type, args):
        return self.ev.apply(fn_type, list(args), [], self.form)

    def j(self, t):
        """The type of the J-value of a value of type ``t``."""
        inf = self.ev.inf
        tt = type(t)
        if tt is FnT:
            maker = inf.services.j_maker(t.code)
            if maker is None:
                raise SxGradError(f"cannot differentiate {code_label(t.code)}")
            mcode = self.j_code(maker[0], t.code)
            return self.call(FnT(mcode), [self.j(c) for c in _maker_inputs(t, maker[1])])
        if tt is PrimT:
            return FnT(self.prim_code(t.prim))
        if tt is CtorT:
            form, ns = inf.services.record_j(t.rtype)
            return self.call(FnT(inf.code(form, ns, t.rtype.name + "%J")), [t])
        if tt is TupleT:
            return TupleT(map(self.j, t.items))
        if tt is RecordT:
            return RecordT(t.rtype, map(self.j, t.items))
        if tt is BufferT:
            return BufferT(self.j(t.elem))
        if tt is UnionT:
            out = BOTTOM
            for m in t.members:
                out = join(out, self.j(m))
            return out
        return t

    def j_shallow(self, t):
        if type(t) is not FnT:
            raise SxGradError(f"%J-shallow expects a closure, got {describe(t)}")
        maker = self.ev.inf.services.j_maker(t.code)
        mcode = self.j_code(maker[0], t.code)
        return self.call(FnT(mcode), list(_maker_inputs(t, maker[1])))

    def j_code(self, form, code):
        """The code of ``form``, which makes J-transforms of ``code``."""
        order = code.order + 1
        if order > MAX_ORDER:
            # a J-transform's inner function has no name of its own: the
            # user's form that asks for it names it
            label = code_label(code)
            text = span_text(self.form.span)
            if label.startswith("fn") and text is not None and len(text) <= 40:
                label = text
            err = SxGradError(f"{label} would be differentiated more than "
                              f"{MAX_ORDER} times (a function that differentiates itself "
                              "through a recursion?)", self.form.span)
            raise _Limit(self.ev.inf.located(err, self.ev.ctx))
        return self.ev.inf.code(form, code.ns, code_label(code) + "%J", order=order)

    def prim_code(self, prim):
        form, ns = self.ev.inf.services.prim_j(prim)
        return self.ev.inf.code(form, ns, prim.name + "%J")

    def make(self, kind, jf, wrt):
        if type(jf) is not FnT:
            raise SxGradError(f"{kind} needs a function, got {describe(jf)}")
        params = [core.user_name(p.name) if type(p) is Symbol else None
                  for p in jf.code.fn.items[1].items]
        form, ns = self.ev.inf.services.maker(kind, params, wrt)
        return self.call(FnT(self.ev.inf.code(form, ns, kind)), [jf])


def _maker_inputs(t, names):
    """The types the J-maker of closure type ``t`` is called with: its
    captured variables ``names`` (a letrec group's for a group function)."""
    captured = dict(t.captured)
    return [captured[n] for n in names]
