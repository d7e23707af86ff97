"""normalize_anf: Lresolved -> Lanf.

Removes: nested compound expressions.  Adds: temporaries named ``t%k``.

Lanf, the output language::

    body := (let [p c ...] body) | (letrec [f (fn [p ...] body) ...] body) | c
    c    := a | (fn [p ...] body) | (if a body body) | (a a ... :k a ...)
          | (. a field) | [a ...]
    a    := symbol | number | bool | None | string | keyword | (quote datum)

Invariants of the output:
  - every argument of an application, tuple, field access and condition is an
    atom, so every intermediate value has a name;
  - evaluation order is that of the input, and only the taken branch of an
    ``if`` is evaluated (branches are bodies, not flattened);
  - a call in tail position stays in tail position (the final ``c`` of a body
    is not named), so loops keep running in constant space;
  - consecutive ``let`` bindings are merged into one ``let``; ``(. e f g)``
    becomes one access per field.

Requires Lresolved input (unique binders), so flattening a nested ``let``
cannot capture a name.
"""

from __future__ import annotations

from .. import core
from ..forms import Form, Keyword, Symbol, Vec, head_name
from .names import NameSupply


def run(module, ctx):
    n = _Normalizer(NameSupply(module))
    out = []
    for form in module:
        if head_name(form) == "def":
            name, e = core.def_parts(form)
            out.append(Form((form.items[0], name, n.body(e)), form.span))
        else:
            out.append(form)
    return tuple(out)


def is_atom(x):
    t = type(x)
    if t is Symbol or t is Keyword or t is not Form and t is not Vec:
        return True
    return head_name(x) == "quote"


class _Normalizer:
    def __init__(self, supply):
        self.supply = supply

    def body(self, x):
        steps = []
        c = self.cexpr(x, steps)
        return self.wrap(steps, c)

    def wrap(self, steps, c):
        """Rebuild a body from binding steps (('let', p, c) / ('letrec', form))."""
        out = c
        i = len(steps)
        while i > 0:
            kind = steps[i - 1][0]
            if kind == "letrec":
                _, form, pairs = steps[i - 1]
                b = [v for pair in pairs for v in pair]
                out = Form((form.items[0], Vec(b, form.items[1].span), out), form.span)
                i -= 1
                continue
            j = i
            while j > 0 and steps[j - 1][0] == "let":
                j -= 1
            b = []
            for _, p, v, _span in steps[j:i]:
                b.extend((p, v))
            span = steps[j][3]
            out = Form((Symbol("let", span), Vec(b, span), out), span)
            i = j
        return out

    def atom(self, x, steps):
        if is_atom(x):
            return x
        c = self.cexpr(x, steps)
        name = Symbol(self.supply.fresh("t"), getattr(x, "span", None))
        steps.append(("let", name, c, getattr(x, "span", None)))
        return name

    def cexpr(self, x, steps):
        t = type(x)
        if t is Vec:
            return Vec([self.atom(i, steps) for i in x.items], x.span)
        if t is not Form:
            return x
        h = head_name(x)
        if h == "quote":
            return x
        if h == "fn":
            params, body = core.fn_parts(x)
            return Form((x.items[0], x.items[1], self.body(body)), x.span)
        if h == "if":
            c, a, b = core.if_parts(x)
            return Form((x.items[0], self.atom(c, steps), self.body(a), self.body(b)), x.span)
        if h == "let":
            pairs, body = core.let_parts(x)
            for p, e in pairs:
                steps.append(("let", p, self.cexpr(e, steps), x.span))
            return self.cexpr(body, steps)
        if h == "letrec":
            pairs, body = core.letrec_parts(x)
            steps.append(("letrec", x, [(p, self.cexpr(e, steps)) for p, e in pairs]))
            return self.cexpr(body, steps)
        if h == ".":
            e, fields = core.dot_parts(x)
            a = self.atom(e, steps)
            for f in fields[:-1]:
                a = self.atom(Form((x.items[0], a, f), x.span), steps)
            return Form((x.items[0], a, fields[-1]), x.span)
        f, args, kwargs = core.call_parts(x)
        items = [self.atom(f, steps)] + [self.atom(a, steps) for a in args]
        for k, v in kwargs:
            items.extend((k, self.atom(v, steps)))
        return Form(items, x.span)
