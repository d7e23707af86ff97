"""The core language (Lcore): its special forms and their parts.

The one place that knows the shape of each core form.  Every pass and the
interpreter take forms apart with these functions, and each raises
:class:`SxSyntaxError` at the offending span when a form is malformed, so a
malformed program is rejected the same way wherever it is first seen.

Core forms::

    (fn [p ...] body)            p is a symbol or a [p ...] destructuring pattern
    (let [p e ...] body)         sequential bindings
    (letrec [f (fn ...) ...] body)
    (if c then else)
    (quote datum)
    (. e field ...)              record field access
    [e ...]                      tuple construction
    (f a ... :k v ...)           application with keyword arguments
    (def name e)  (defrecord Name [field ...])     top level only
    (require lib ...)            top level only: bring in a library (myia_sx.library)
"""

from __future__ import annotations

import re

from .errors import SxSyntaxError
from .forms import Form, Keyword, Symbol, Vec, head_name

SPECIAL_FORMS = frozenset({"fn", "let", "letrec", "if", "quote", ".", "def", "defrecord",
                           "require"})
TOP_LEVEL_ONLY = frozenset({"def", "defrecord", "require"})


def fail(message, form, fallback=None):
    span = getattr(form, "span", None) or getattr(fallback, "span", None)
    raise SxSyntaxError(message, span)


def check_pattern(p, ctx):
    """Check a binding pattern: a symbol or a vector of patterns."""
    stack = [p]
    while stack:
        q = stack.pop()
        if type(q) is Symbol:
            if q.name in SPECIAL_FORMS:
                fail(f"cannot bind the special form name {q.name}", q, ctx)
        elif type(q) is Vec:
            if not q.items:
                fail("an empty pattern [] binds nothing", q, ctx)
            stack.extend(q.items)
        else:
            fail("a binding must be a symbol or a [a b ...] pattern", q, ctx)


def pattern_symbols(p) -> list:
    """The symbols a pattern binds, left to right."""
    if type(p) is Symbol:
        return [p]
    out = []
    for q in p.items:
        out.extend(pattern_symbols(q))
    return out


def _check_distinct(symbols, ctx, what):
    seen = set()
    for s in symbols:
        if s.name in seen:
            fail(f"{s.name} appears twice in {what}", s, ctx)
        seen.add(s.name)


def fn_parts(form):
    """``(fn [params] body)`` -> (params tuple, body)."""
    items = form.items
    if len(items) != 3 or type(items[1]) is not Vec:
        fail("fn takes a parameter vector and one body expression: (fn [x y] body)", form)
    for p in items[1].items:
        check_pattern(p, form)
    _check_distinct([s for p in items[1].items for s in pattern_symbols(p)], form,
                    "the parameters")
    return items[1].items, items[2]


def let_parts(form):
    """``(let [p e ...] body)`` -> (list of (pattern, expr), body)."""
    items = form.items
    name = items[0].name
    if len(items) != 3 or type(items[1]) is not Vec:
        fail(f"{name} takes a binding vector and one body expression: "
             f"({name} [x e] body)", form)
    b = items[1].items
    if len(b) % 2:
        fail(f"{name} bindings come in pairs: the last name has no value", b[-1], form)
    pairs = [(b[i], b[i + 1]) for i in range(0, len(b), 2)]
    for p, _ in pairs:
        check_pattern(p, form)
    return pairs, items[2]


def letrec_parts(form):
    """``(letrec [f (fn ...) ...] body)`` -> (list of (symbol, fn form), body)."""
    pairs, body = let_parts(form)
    for p, e in pairs:
        if type(p) is not Symbol:
            fail("letrec binds plain names", p, form)
        if head_name(e) != "fn":
            fail("letrec binds functions: each value must be (fn ...)", e, form)
    _check_distinct([p for p, _ in pairs], form, "one letrec")
    return pairs, body


def if_parts(form):
    if len(form.items) != 4:
        fail("if takes a condition, a then branch and an else branch: (if c a b)", form)
    return form.items[1], form.items[2], form.items[3]


def quote_datum(form):
    if len(form.items) != 2:
        fail("quote takes exactly one form", form)
    return form.items[1]


def dot_parts(form):
    """``(. e field ...)`` -> (e, [field symbol ...])."""
    items = form.items
    if len(items) < 3:
        fail("field access needs a value and a field name: (. p x) or p.x", form)
    for f in items[2:]:
        if type(f) is not Symbol:
            fail("field names are symbols", f, form)
    return items[1], list(items[2:])


def call_parts(form):
    """``(f a ... :k v ...)`` -> (f, [positional], [(keyword, value)])."""
    items = form.items
    if not items:
        fail("() is not an expression (write [] for the empty tuple)", form)
    args, kwargs = [], []
    i, n = 1, len(items)
    seen = set()
    while i < n:
        a = items[i]
        if type(a) is Keyword:
            if i + 1 >= n:
                fail(f"keyword argument :{a.name} has no value", a, form)
            if a.name in seen:
                fail(f"keyword argument :{a.name} given twice", a, form)
            seen.add(a.name)
            kwargs.append((a, items[i + 1]))
            i += 2
        else:
            if kwargs:
                fail("positional argument after keyword arguments", a, form)
            args.append(a)
            i += 1
    return items[0], args, kwargs


def def_parts(form):
    items = form.items
    if len(items) != 3 or type(items[1]) is not Symbol:
        fail("def takes a name and a value: (def name value)", form)
    if items[1].name in SPECIAL_FORMS:
        fail(f"cannot define the special form name {items[1].name}", items[1], form)
    return items[1], items[2]


def defrecord_parts(form):
    items = form.items
    if len(items) != 3 or type(items[1]) is not Symbol or type(items[2]) is not Vec:
        fail("defrecord takes a name and a field vector: (defrecord Point [x y])", form)
    fields = items[2].items
    for f in fields:
        if type(f) is not Symbol:
            fail("record fields are symbols", f, form)
    _check_distinct(list(fields), form, "the fields")
    return items[1], list(fields)


def free_variables(x, is_global) -> tuple:
    """The names expression ``x`` uses without binding them, other than the
    globals (``is_global(name)``) and special forms, sorted: the one
    free-variable analysis of the compiler (closure captures, the order of a
    closure's sensitivity in differentiation)."""
    out = set()
    stack = [(x, frozenset())]
    while stack:
        y, bound = stack.pop()
        t = type(y)
        if t is Symbol:
            if y.name not in bound and y.name not in SPECIAL_FORMS and not is_global(y.name):
                out.add(y.name)
            continue
        if t is Vec:
            stack.extend((i, bound) for i in y.items)
            continue
        if t is not Form or not y.items:
            continue
        h = head_name(y)
        if h == "quote":
            continue
        if h == "fn":
            params, body = y.items[1].items, y.items[2]
            stack.append((body, bound | {s.name for p in params for s in pattern_symbols(p)}))
        elif h in ("let", "letrec"):
            items = y.items[1].items
            if h == "letrec":
                bound = bound | {items[i].name for i in range(0, len(items), 2)}
            for i in range(0, len(items), 2):
                stack.append((items[i + 1], bound))
                if h == "let":
                    bound = bound | {s.name for s in pattern_symbols(items[i])}
            stack.append((y.items[2], bound))
        elif h == ".":
            stack.append((y.items[1], bound))
        else:
            stack.extend((i, bound) for i in y.items if type(i) is not Keyword)
    return tuple(sorted(out))


_RENAMED = re.compile(r"([^%]+)%[0-9]+")


def user_name(name):
    """The name the user wrote for a binder that a pass renamed (``a%2`` -> ``a``).

    Keyword arguments and error messages use it: the renaming is an internal
    detail and depends on which other functions in the module use the same name.
    """
    m = _RENAMED.fullmatch(name)
    return m.group(1) if m else name


def top_level_name(form):
    """The name a top-level form defines, or None."""
    h = head_name(form)
    if h == "def":
        return def_parts(form)[0]
    if h == "defrecord":
        return defrecord_parts(form)[0]
    return None
