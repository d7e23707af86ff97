"""resolve_names: Lcore -> Lresolved (alpha-renamed, closed).

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
  - a top-level name is defined once per module, and no module but a
    library defines a name that starts with ``%`` (those are the compiler's:
    primitives such as ``%sens+``, derivative rules ``%d/NAME``);
  - a reference to ``g%J`` where the environment defines ``g`` is bound: the
    environment makes that J-transform on demand.
"""

from __future__ import annotations

import difflib

from .. import core
from ..errors import SxNameError, SxSyntaxError
from ..forms import Form, Symbol, head_name
from ..prims import PRIMS
from .names import NameSupply
from .scopes import ScopedRewriter, Scopes


def run(module, ctx):
    defined = {}
    for form in module:
        name = core.top_level_name(form)
        if name is None:
            continue
        if name.name.startswith("%") and len(name.name) > 1 and not ctx.library:
            raise SxNameError(f"cannot define {name.name}: names that start with % are "
                              "reserved for the compiler", name.span)
        if name.name in defined:
            err = SxNameError(f"{name.name} is defined twice in this module", name.span)
            err.add_note("first defined here", defined[name.name].span)
            raise err
        defined[name.name] = name
    globals_ = set(defined) | set(ctx.global_names)
    r = _Resolver(globals_, NameSupply(module), ctx)
    return tuple(r.top(form) for form in module)


def resolve_expr(x, is_global, supply):
    """Expression ``x`` with its local binders renamed apart, as this pass
    renames them (``is_global(name)`` tells the names bound outside it).
    For code that did not come through the pass: the J transform of a
    closure compiled from an earlier stage's output."""
    r = _Resolver(set(), supply, None)
    r.is_global = is_global
    return r.expr(x, Scopes())


class _Resolver(ScopedRewriter):
    def __init__(self, globals_, supply, ctx):
        self.globals = globals_
        self.supply = supply
        self.ctx = ctx
        self.taken = set()

    def is_global(self, name):
        if name in self.globals or name in PRIMS:
            return True
        # a J-transform name (f%J) of a global of the environment is made on demand
        if name.endswith("%J") and self.ctx.derive(name):
            self.globals.add(name)
            return True
        return False

    def top(self, form):
        h = head_name(form)
        if h == "def":
            name, e = core.def_parts(form)
            return Form((form.items[0], name, self.expr(e, Scopes())), form.span)
        if h in ("defrecord", "require"):
            return form
        return self.expr(form, Scopes())

    def binder(self, s, scope):
        name = s.name
        new = name
        if name in self.taken or self.is_global(name):
            new = self.supply.fresh(name)
        self.taken.add(new)
        scope[(name, s.marks)] = new
        return Symbol(new, s.span)

    def ref(self, s, scopes):
        new = self.lookup(s, scopes)
        if new is not None:
            return s if new == s.name else Symbol(new, s.span)
        if self.is_global(s.name):
            return s
        if s.name in core.SPECIAL_FORMS:
            raise SxSyntaxError(f"{s.name} is a special form, not a value", s.span)
        raise self.unbound(s, scopes)

    def unbound(self, s, scopes):
        known = set(self.globals) | set(PRIMS) | scopes.names()
        known = {k for k in known if "%" not in k}   # compiler-made names stay hidden
        close = difflib.get_close_matches(s.name, sorted(known), n=3, cutoff=0.65)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        return SxNameError(f"unbound name {s.name}{hint}", s.span)
