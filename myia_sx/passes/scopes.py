"""Lexical scopes over Lcore expressions (a shared helper, not a pass).

:class:`ScopedRewriter` rebuilds an expression while keeping the
:class:`Scopes` that map each identifier (a name plus its hygiene marks, see
:mod:`myia_sx.passes.expand_macros`) to the name it has in the output.  A pass
says what a binder becomes (:meth:`~ScopedRewriter.binder`) and what a
reference becomes (:meth:`~ScopedRewriter.ref`), and takes over the forms it
changes by overriding :meth:`~ScopedRewriter.form`; the shapes of ``fn``,
``let``, ``letrec``, ``if``, ``quote``, field access, tuples and calls are
walked here, once, with :mod:`myia_sx.core` checking each form.

A lookup costs the same at any nesting depth, so a pass over code nested d
deep takes time linear in its size, not in d squared.
"""

from __future__ import annotations

from .. import core
from ..errors import SxSyntaxError
from ..forms import Form, Keyword, Symbol, Vec, plain, strip_marks


class Scopes:
    """The local identifiers bound where a rewriter is: for each identifier,
    the stack of the output names of its binders, innermost last.  A scope
    (a dict from identifier to output name, filled by ``binder``) is entered
    when its binders take effect and left once the code they bind is walked."""

    __slots__ = ("_stacks",)

    def __init__(self):
        self._stacks = {}

    def get(self, key):
        """The output name of the innermost binder of identifier ``key``, or None."""
        stack = self._stacks.get(key)
        return stack[-1] if stack else None

    def enter(self, scope):
        for key, new in scope.items():
            stack = self._stacks.get(key)
            if stack is None:
                self._stacks[key] = [new]
            else:
                stack.append(new)

    def leave(self, scope):
        for key in scope:
            stack = self._stacks[key]
            stack.pop()
            if not stack:
                del self._stacks[key]

    def names(self):
        """The names bound here (for suggestions in errors)."""
        return {name for name, _ in self._stacks}


# The method of ScopedRewriter for each special form it walks (def, defrecord
# and require are top-level forms, met before).
_METHODS = {"fn": "form_fn", "let": "form_let", "letrec": "form_letrec", "if": "form_if",
            "quote": "form_quote", ".": "form_dot"}


class ScopedRewriter:
    """Base of the passes' rewriters.  A subclass defines ``binder(s, scope)``
    (the output symbol for binder ``s``, recorded in ``scope`` under the key
    ``(name, marks)``) and ``ref(s, scopes)`` (the output for a reference);
    ``expr(x, Scopes())`` rewrites an expression."""

    @staticmethod
    def lookup(s, scopes):
        """The output name of the innermost binder of ``s``, or None."""
        return scopes.get((s.name, s.marks))

    def pattern(self, p, scope):
        if type(p) is Symbol:
            return self.binder(p, scope)
        return Vec([self.pattern(q, scope) for q in p.items], p.span)

    def expr(self, x, scopes):
        t = type(x)
        if t is Symbol:
            return self.ref(x, scopes)
        if t is Vec:
            return Vec([self.expr(i, scopes) for i in x.items], x.span)
        if t is not Form:
            return x
        if not x.items:
            core.fail("() is not an expression (write [] for the empty tuple)", x)
        return self.form(x, scopes)

    def form(self, x, scopes):
        """A non-empty paren form: a special form or a call."""
        head = x.items[0]
        if type(head) is Symbol and self.lookup(head, scopes) is None:
            h = head.name
            if h in core.TOP_LEVEL_ONLY:
                core.fail(f"{h} is only allowed at the top level", x)
            method = _METHODS.get(h)
            if method is not None:
                return getattr(self, method)(x, scopes)
        return self.call(x, scopes)

    def call(self, x, scopes):
        f, args, kwargs = core.call_parts(x)
        if type(f) is Keyword:
            raise SxSyntaxError(f"a keyword (:{f.name}) cannot be called", x.span)
        items = [self.expr(f, scopes)] + [self.expr(a, scopes) for a in args]
        for k, v in kwargs:
            items.extend((k, self.expr(v, scopes)))
        return Form(items, x.span)

    def form_quote(self, x, scopes):
        return Form((plain(x.items[0]), strip_marks(core.quote_datum(x))), x.span)

    def form_dot(self, x, scopes):
        e, fields = core.dot_parts(x)
        return Form((plain(x.items[0]), self.expr(e, scopes), *map(plain, fields)), x.span)

    def form_if(self, x, scopes):
        return Form((plain(x.items[0]),) + tuple(self.expr(i, scopes)
                                                 for i in core.if_parts(x)), x.span)

    def form_fn(self, x, scopes):
        params, body = core.fn_parts(x)
        scope = {}
        new_params = Vec([self.pattern(p, scope) for p in params], x.items[1].span)
        scopes.enter(scope)
        try:
            new_body = self.expr(body, scopes)
        finally:
            scopes.leave(scope)
        return Form((plain(x.items[0]), new_params, new_body), x.span)

    def form_let(self, x, scopes):
        pairs, body = core.let_parts(x)
        b = []
        entered = []
        try:
            for p, e in pairs:
                e2 = self.expr(e, scopes)
                scope = {}
                b.extend((self.pattern(p, scope), e2))
                scopes.enter(scope)
                entered.append(scope)
            new_body = self.expr(body, scopes)
        finally:
            for scope in reversed(entered):
                scopes.leave(scope)
        return Form((plain(x.items[0]), Vec(b, x.items[1].span), new_body), x.span)

    def form_letrec(self, x, scopes):
        pairs, body = core.letrec_parts(x)
        scope = {}
        names = [self.binder(p, scope) for p, _ in pairs]
        scopes.enter(scope)
        try:
            b = []
            for new, (_, e) in zip(names, pairs):
                b.extend((new, self.form_fn(e, scopes)))
            new_body = self.expr(body, scopes)
        finally:
            scopes.leave(scope)
        return Form((plain(x.items[0]), Vec(b, x.items[1].span), new_body), x.span)
