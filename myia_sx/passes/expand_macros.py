"""expand_macros: Lsurface -> Lcore.

Removes: macro calls (for now the built-in ``defn``).  Adds: nothing new; every
form left is a core form (:mod:`myia_sx.core`).

Invariants of the output:
  - every special form is well formed (checked here, with the span of the
    offending form, so later passes may take core forms apart without checks);
  - ``def`` and ``defrecord`` appear only at the top level;
  - a form produced by a macro carries the span of the macro call.
"""

from __future__ import annotations

from .. import core
from ..errors import SxSyntaxError
from ..forms import Form, Keyword, Symbol, Vec, head_name, span_of


def _defn(form):
    """``(defn name [params] body)`` -> ``(def name (fn [params] body))``.

    A docstring may follow the parameters: ``(defn f [x] "doc" body)``.
    """
    items = form.items
    if len(items) == 5 and type(items[3]) is str:
        items = items[:3] + items[4:]
    if len(items) != 4 or type(items[1]) is not Symbol or type(items[2]) is not Vec:
        core.fail("defn takes a name, a parameter vector and one body expression: "
                  "(defn f [x y] body)", form)
    head = form.items[0].span
    fn = Form((Symbol("fn", head), items[2], items[3]), form.span)
    return Form((Symbol("def", head), items[1], fn), form.span)


MACROS = {"defn": _defn}
TOP_LEVEL_MACROS = frozenset({"defn"})


def run(module, ctx):
    """Expand every top-level form of ``module`` (a tuple of forms)."""
    out = tuple(_expand(form, True) for form in module)
    if ctx.expressions:
        out = tuple(f if core.top_level_name(f) is not None else
                    Form((Symbol("def", span_of(f)), Symbol("_", span_of(f)), f), span_of(f))
                    for f in out)
    return out


def _expand(x, top):
    t = type(x)
    if t is Vec:
        return Vec([_expand(i, False) for i in x.items], x.span)
    if t is not Form:
        return x
    if not x.items:
        core.fail("() is not an expression (write [] for the empty tuple)", x)
    h = head_name(x)
    if h in MACROS:
        if h in TOP_LEVEL_MACROS and not top:
            core.fail(f"{h} is only allowed at the top level", x)
        return _expand(MACROS[h](x), top)
    if h in core.TOP_LEVEL_ONLY and not top:
        core.fail(f"{h} is only allowed at the top level", x)
    rebuild = lambda items: Form(items, x.span)  # noqa: E731
    if h == "quote":
        core.quote_datum(x)
        return x
    if h == "fn":
        params, body = core.fn_parts(x)
        return rebuild((x.items[0], x.items[1], _expand(body, False)))
    if h in ("let", "letrec"):
        pairs, body = core.letrec_parts(x) if h == "letrec" else core.let_parts(x)
        b = []
        for p, e in pairs:
            b.extend((p, _expand(e, False)))
        return rebuild((x.items[0], Vec(b, x.items[1].span), _expand(body, False)))
    if h == "if":
        return rebuild((x.items[0],) + tuple(_expand(i, False) for i in core.if_parts(x)))
    if h == ".":
        e, fields = core.dot_parts(x)
        return rebuild((x.items[0], _expand(e, False), *fields))
    if h == "def":
        name, e = core.def_parts(x)
        return rebuild((x.items[0], name, _expand(e, False)))
    if h == "defrecord":
        core.defrecord_parts(x)
        return x
    f, args, kwargs = core.call_parts(x)
    items = [_expand(f, False)] + [_expand(a, False) for a in args]
    for k, v in kwargs:
        items.extend((k, _expand(v, False)))
    if type(items[0]) is Keyword:
        raise SxSyntaxError(f"a keyword (:{items[0].name}) cannot be called", x.span)
    return rebuild(items)
