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

from .errors import SxSyntaxError
from .forms import Form, Keyword, Symbol, Vec, head_name, user_name  # noqa: F401 (re-exported)

SPECIAL_FORMS = frozenset({"fn", "let", "letrec", "if", "quote", ".", "def", "defrecord",
                           "require"})
# The form of the typed languages (:mod:`myia_sx.passes.specialize`), which
# source programs cannot write (its name is reserved).
TYPED_FORMS = frozenset({"%the"})
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
    """The symbols a pattern binds, left to right (iteratively: patterns nest
    to any depth)."""
    if type(p) is Symbol:
        return [p]
    out = []
    stack = [p]
    while stack:
        q = stack.pop()
        if type(q) is Symbol:
            out.append(q)
        else:
            stack.extend(reversed(q.items))
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


def the_parts(form):
    """``(%the type e)`` -> (type form, e): ``e``, whose value has the type
    (the typed languages, :mod:`myia_sx.passes.specialize`, write it)."""
    if len(form.items) != 3:
        fail("%the takes a type and an expression: (%the f64 x)", form)
    return form.items[1], form.items[2]


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
    return tuple(sorted(n for n in free_names(x) if not is_global(n)))


_NO_NAMES = frozenset()
# The forms whose free names free_names keeps: functions, and the bodies and
# branches differentiation asks about.
_KEPT = frozenset({"fn", "let", "letrec", "if"})
_VISIT, _BIND, _UNBIND, _CLOSE = range(4)


def free_names(x):
    """The names ``x`` uses without binding them, special forms left out
    (a set not to be changed).  One walk, in time linear in the size of ``x``
    and of the answers, finds those of every ``fn``, ``let``, ``letrec`` and
    ``if`` form inside too, and keeps them on each (and on ``x``): asking
    again about a function or code around it, as the interpreter and
    differentiation do for every closure and branch, costs no second walk."""
    if type(x) is Symbol:
        return _NO_NAMES if x.name in SPECIAL_FORMS else frozenset((x.name,))
    if type(x) is not Form and type(x) is not Vec:
        return _NO_NAMES
    if x._free is not None:
        return x._free
    sets = []       # the free names found so far of each open form kept, outermost first
    binders = {}    # name -> the levels (indices in sets) of the forms binding it, innermost last

    def use(name):
        # free in each open form inside its binder (those further out have it already)
        levels = binders.get(name)
        for k in range(len(sets) - 1, levels[-1] if levels else -1, -1):
            found = sets[k]
            if name in found:
                break
            found.add(name)

    stack = [(_VISIT, x)]
    while stack:
        op, y = stack.pop()
        if op == _VISIT:
            t = type(y)
            if t is Symbol:
                if y.name not in SPECIAL_FORMS:
                    use(y.name)
                continue
            if t is not Form and t is not Vec or not y.items:
                continue
            if y._free is not None:
                for name in y._free:
                    use(name)
                continue
            h = head_name(y) if t is Form else None
            if y is x or h in _KEPT:
                stack.append((_CLOSE, y))
                sets.append(set())
            level = len(sets) - 1
            if t is Vec:
                stack.extend((_VISIT, i) for i in reversed(y.items))
            elif h == "quote":
                continue
            elif h == "%the":
                stack.append((_VISIT, y.items[2]))
            elif h == "fn":
                names = [s.name for p in y.items[1].items for s in pattern_symbols(p)]
                stack.append((_UNBIND, names))
                stack.append((_VISIT, y.items[2]))
                stack.append((_BIND, (level, names)))
            elif h == "let":
                b = y.items[1].items
                events = []
                every = []
                for i in range(0, len(b) - 1, 2):
                    names = [s.name for s in pattern_symbols(b[i])]
                    every.extend(names)
                    events.append((_VISIT, b[i + 1]))
                    events.append((_BIND, (level, names)))
                events.append((_VISIT, y.items[2]))
                events.append((_UNBIND, every))
                stack.extend(reversed(events))
            elif h == "letrec":
                b = y.items[1].items
                names = [b[i].name for i in range(0, len(b), 2)]
                stack.append((_UNBIND, names))
                stack.append((_VISIT, y.items[2]))
                stack.extend((_VISIT, b[i]) for i in range(len(b) - 1, 0, -2))
                stack.append((_BIND, (level, names)))
            elif h == ".":
                stack.append((_VISIT, y.items[1]))
            else:
                stack.extend((_VISIT, i) for i in reversed(y.items) if type(i) is not Keyword)
        elif op == _BIND:
            level, names = y
            for name in names:
                binders.setdefault(name, []).append(level)
        elif op == _UNBIND:
            for name in y:
                levels = binders[name]
                levels.pop()
                if not levels:
                    del binders[name]
        else:
            y._free = frozenset(sets.pop())
    return x._free


def _parts(y):
    """The parts of sequence ``y`` whose free names make up its own."""
    if type(y) is Vec:
        return y.items
    h = head_name(y)
    if not y.items or h == "quote":
        return ()
    if h == "%the":
        return (y.items[2],)
    if h == "fn":
        return (y.items[2],)
    if h in ("let", "letrec"):
        b = y.items[1].items
        return tuple(b[i] for i in range(1, len(b), 2)) + (y.items[2],)
    if h == ".":
        return (y.items[1],)
    return tuple(i for i in y.items if type(i) is not Keyword)


def _union(a, b):
    """The union of results ``a`` and ``b`` (the smaller added to the larger)."""
    if len(a[0]) < len(b[0]):
        a, b = b, a
    s = a[0] if a[1] else set(a[0])
    s |= b[0]
    return s, True


def _combine(y, got):
    """The free names of ``y`` from those of its parts (:func:`_parts`)."""
    h = head_name(y) if type(y) is Form else None
    if h == "fn":
        out = got[0] if got[0][1] else (set(got[0][0]), True)
        out[0].difference_update(s.name for p in y.items[1].items for s in pattern_symbols(p))
        return out
    if h == "let":
        b = y.items[1].items
        out = got[-1]
        for i in range(len(got) - 2, -1, -1):
            bound = {s.name for s in pattern_symbols(b[2 * i])}
            if not out[1]:
                out = (set(out[0]), True)
            out[0].difference_update(bound)
            out = _union(out, got[i])
        return out
    out = (_NO_NAMES, False)
    for r in got:
        out = _union(out, r) if r[0] else out
    if h == "letrec":
        b = y.items[1].items
        if not out[1]:
            out = (set(out[0]), True)
        out[0].difference_update(b[i].name for i in range(0, len(b), 2))
    return out


def top_level_name(form):
    """The name a top-level form defines, or None."""
    h = head_name(form)
    if h == "def":
        return def_parts(form)[0]
    if h == "defrecord":
        return defrecord_parts(form)[0]
    return None
