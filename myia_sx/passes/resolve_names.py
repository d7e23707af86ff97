"""resolve_names: Lcore -> Lcore (alpha-renamed, closed).

Removes: shadowing and unbound names.  Adds: nothing.

Invariants of the output:
  - every local binder (parameter, ``let``/``letrec`` name, pattern name) has
    a name bound nowhere else in the module and different from every top-level
    name and primitive; a binder keeps its own name when that is already true,
    else it becomes ``name%k``;
  - every symbol in an evaluated position refers to a local binder in scope, a
    top-level definition (of this module or of the environment, e.g. earlier
    REPL input) or a primitive; anything else is an :class:`SxNameError` at the
    symbol's span, with suggestions for likely misspellings;
  - a top-level name is defined once per module.
"""

from __future__ import annotations

import difflib

from .. import core
from ..errors import SxNameError, SxSyntaxError
from ..forms import Form, Symbol, Vec, head_name
from ..prims import PRIMS
from .names import NameSupply


def run(module, ctx):
    defined = {}
    for form in module:
        name = core.top_level_name(form)
        if name is None:
            continue
        if name.name in defined:
            err = SxNameError(f"{name.name} is defined twice in this module", name.span)
            err.add_note("first defined here", defined[name.name].span)
            raise err
        defined[name.name] = name
    globals_ = set(defined) | set(ctx.global_names)
    r = _Resolver(globals_, NameSupply(module))
    return tuple(r.top(form) for form in module)


class _Resolver:
    def __init__(self, globals_, supply):
        self.globals = globals_
        self.supply = supply
        self.taken = set()

    def is_global(self, name):
        return name in self.globals or name in PRIMS

    def top(self, form):
        h = head_name(form)
        if h == "def":
            name, e = core.def_parts(form)
            return Form((form.items[0], name, self.expr(e, ())), form.span)
        if h in ("defrecord", "require"):
            return form
        return self.expr(form, ())

    def binder(self, s, scope):
        name = s.name
        new = name
        if name in self.taken or self.is_global(name):
            new = self.supply.fresh(name)
        self.taken.add(new)
        scope[name] = new
        return Symbol(new, s.span)

    def pattern(self, p, scope):
        if type(p) is Symbol:
            return self.binder(p, scope)
        return Vec([self.pattern(q, scope) for q in p.items], p.span)

    def ref(self, s, scopes):
        for scope in reversed(scopes):
            new = scope.get(s.name)
            if new is not None:
                return s if new == s.name else Symbol(new, s.span)
        if self.is_global(s.name):
            return s
        if s.name in core.SPECIAL_FORMS:
            raise SxSyntaxError(f"{s.name} is a special form, not a value", s.span)
        raise self.unbound(s, scopes)

    def unbound(self, s, scopes):
        known = set(self.globals) | set(PRIMS)
        for scope in scopes:
            known |= set(scope)
        close = difflib.get_close_matches(s.name, sorted(known), n=3, cutoff=0.65)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        return SxNameError(f"unbound name {s.name}{hint}", s.span)

    def expr(self, x, scopes):
        t = type(x)
        if t is Symbol:
            return self.ref(x, scopes)
        if t is Vec:
            return Vec([self.expr(i, scopes) for i in x.items], x.span)
        if t is not Form:
            return x
        h = head_name(x)
        if h in core.SPECIAL_FORMS:
            return getattr(self, "form_" + {".": "dot"}.get(h, h))(x, scopes)
        f, args, kwargs = core.call_parts(x)
        items = [self.expr(f, scopes)] + [self.expr(a, scopes) for a in args]
        for k, v in kwargs:
            items.extend((k, self.expr(v, scopes)))
        return Form(items, x.span)

    def form_quote(self, x, scopes):
        return x

    def form_dot(self, x, scopes):
        e, fields = core.dot_parts(x)
        return Form((x.items[0], self.expr(e, scopes), *fields), x.span)

    def form_if(self, x, scopes):
        return Form((x.items[0],) + tuple(self.expr(i, scopes) for i in core.if_parts(x)),
                    x.span)

    def form_fn(self, x, scopes):
        params, body = core.fn_parts(x)
        scope = {}
        new_params = Vec([self.pattern(p, scope) for p in params], x.items[1].span)
        return Form((x.items[0], new_params, self.expr(body, scopes + (scope,))), x.span)

    def form_let(self, x, scopes):
        pairs, body = core.let_parts(x)
        b = []
        for p, e in pairs:
            e2 = self.expr(e, scopes)
            scope = {}
            b.extend((self.pattern(p, scope), e2))
            scopes = scopes + (scope,)
        return Form((x.items[0], Vec(b, x.items[1].span), self.expr(body, scopes)), x.span)

    def form_letrec(self, x, scopes):
        pairs, body = core.letrec_parts(x)
        scope = {}
        names = [self.binder(p, scope) for p, _ in pairs]
        scopes = scopes + (scope,)
        b = []
        for new, (_, e) in zip(names, pairs):
            b.extend((new, self.form_fn(e, scopes)))
        return Form((x.items[0], Vec(b, x.items[1].span), self.expr(body, scopes)), x.span)

    def form_def(self, x, scopes):
        core.fail("def is only allowed at the top level", x)

    form_defrecord = form_def
