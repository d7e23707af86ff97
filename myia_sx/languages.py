"""Executable definitions of the languages the passes write (Nanopass style).

Each language is a checker written as its grammar: a class whose methods are
the nonterminals, each with its production in the docstring, reading a
module by recursive descent.  :mod:`myia_sx.pipeline` runs the checker of the
language a pass writes on that pass's output when verification is on
(:data:`myia_sx.pipeline.VERIFY`, ``MYIA_SX_VERIFY=1``,
``myia-sx show --verify``), so a pass that breaks an invariant is caught at
once, naming the pass and the offending form.

``Lcore`` (expand_macros writes it)
    every form is a well-formed core form (:mod:`myia_sx.core`), ``def``,
    ``defrecord`` and ``require`` only at the top level (a top-level form
    that defines nothing is an expression, which the interpreter rejects as
    a user error); no macro form is left (a head named ``defmacro``,
    ``quasiquote``, ``unquote``, ``unquote-splice`` or ``do`` that no local
    binds); no symbol carries hygiene marks.  Unbound names are still
    allowed: resolve_names reports them to the user.
``Lresolved`` (resolve_names writes it)
    Lcore, and scoped: every local binder (parameter, ``let``/``letrec``
    name, pattern name) is bound once in the whole module and is not a
    top-level name of the module; every symbol in an evaluated position is a
    local binder in scope, a top-level name of the module or of the
    environment (``ctx.global_names``), or a primitive; each top-level name
    is defined once.
``Lanf`` (normalize_anf and differentiate write it)
    the grammar of ``docs/architecture.md`` (below), scoped as Lresolved.

"Lsurface" (the reader's output: any forms) has no checker.  A module outside
its language raises :class:`LanguageError`.
"""

from __future__ import annotations

from . import core, types
from .errors import SxSyntaxError
from .forms import ATOM_TYPES, Form, Keyword, Symbol, Vec, head_name
from .passes.expand_macros import EXPANDER_FORMS
from .passes.specialize import CODE_MAKERS, TYPE_QUESTIONS
from .prims import PRIMS
from .printer import dumps

# Forms in messages are cut to about this many characters.
SHOW_WIDTH = 120


class LanguageError(Exception):
    """A pass's output is not in the language the pass writes; ``message``
    says what is wrong, ``span`` where (that of the offending form)."""

    def __init__(self, language, message, span=None):
        super().__init__(f"output is not {language}: {message}")
        self.message = message
        self.span = span


def show(x):
    """``x`` printed on one line, cut to about :data:`SHOW_WIDTH` characters."""
    try:
        text = dumps(x)
    except ValueError:
        text = repr(x)
    return text if len(text) <= SHOW_WIDTH else text[:SHOW_WIDTH - 3] + "..."


def is_leaf(x):
    """True for a form that is neither a sequence nor a symbol: a keyword or
    an atom (``int``, ``float``, ``bool``, ``str``, ``None``)."""
    return type(x) is Keyword or isinstance(x, ATOM_TYPES)


class _Language:
    """What every language shares: the module and its top-level forms, binding
    patterns, quoted data, and the bookkeeping of the local binders in scope.

    Subclasses give ``name``, the language's name, and two nonterminals:
    ``definition(value, where)``, the value of a ``def``, and
    ``expression(form)``, a top-level form that defines nothing (outside the
    REPL, which makes it ``(def _ e)``, the passes leave it for the
    interpreter to reject as a user error)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.scope = {}   # local name -> how many of its binders are in scope

    # -- reporting -------------------------------------------------------------------
    def fail(self, message, where=None):
        raise LanguageError(self.name, message if where is None else
                            f"{message} in {show(where)}", getattr(where, "span", None))

    def parts(self, take_apart, form):
        """``take_apart(form)``, a :mod:`myia_sx.core` function, with the
        syntax error it raises on a malformed form reported as a LanguageError."""
        try:
            return take_apart(form)
        except SxSyntaxError as e:
            self.fail(e.message, form)

    # -- the module ------------------------------------------------------------------
    def module(self, module):
        """module := top ..."""
        for form in self.top_forms(module):
            self.top(form)

    def top_forms(self, module):
        """The top-level forms of ``module``, a tuple."""
        if type(module) is not tuple:
            self.fail(f"a module is a tuple of top-level forms, got {type(module).__name__}")
        return module

    def top(self, form):
        """top := (def name value) | (defrecord Name [field ...]) | (require lib lib ...)
                | expression"""
        h = head_name(form)
        if h == "def":
            name, value = self.parts(core.def_parts, form)
            self.symbol(name, form)
            self.definition(value, form)
        elif h == "defrecord":
            name, fields = self.parts(core.defrecord_parts, form)
            for s in [name, *fields]:
                self.symbol(s, form)
        elif h == "require":
            self.require(form)
        else:
            self.expression(form)

    def require(self, form):
        """(require lib lib ...)    lib := symbol | string | (. symbol symbol ...)"""
        libs = form.items[1:]
        if not libs:
            self.fail("require names one or more libraries", form)
        for lib in libs:
            dotted = head_name(lib) == "." and all(type(s) is Symbol for s in lib.items[1:])
            if not (type(lib) is Symbol or type(lib) is str or dotted):
                self.fail(f"a library name is a symbol, a string or (. a b ...), got {show(lib)}",
                          form)
            self.datum(lib, form)

    # -- symbols and data ------------------------------------------------------------
    def symbol(self, s, where):
        """Any symbol: one without hygiene marks."""
        if s.marks:
            self.fail(f"symbol {s.name} carries hygiene marks {s.marks}", where)

    def datum(self, x, where):
        """datum := any form, not evaluated (checked iteratively: data may nest deeply)."""
        stack = [x]
        while stack:
            y = stack.pop()
            if type(y) is Form or type(y) is Vec:
                stack.extend(y.items)
            elif type(y) is Symbol:
                self.symbol(y, where)
            elif not is_leaf(y):
                self.fail(f"not a form: {y!r}", where)

    def quote(self, x):
        """(quote datum)"""
        self.datum(self.parts(core.quote_datum, x), x)

    # -- binders and references ------------------------------------------------------
    def binder(self, s, where):
        """A local binder: a symbol."""
        self.symbol(s, where)

    def ref(self, s, where):
        """A symbol in an evaluated position."""
        self.symbol(s, where)

    def bind(self, pattern, where):
        """p := symbol | [p p ...]: check the pattern's binders and bring them
        into scope; return them (for :meth:`unbind`)."""
        names = core.pattern_symbols(pattern)
        for s in names:
            self.binder(s, where)
            self.scope[s.name] = self.scope.get(s.name, 0) + 1
        return names

    def unbind(self, names):
        """Take binders that :meth:`bind` returned out of scope."""
        for s in names:
            left = self.scope.pop(s.name) - 1
            if left:
                self.scope[s.name] = left

    # -- binding forms, over the nonterminals of their parts -------------------------
    def fn_form(self, x, body):
        """(fn [p ...] body)"""
        params, rest = self.parts(core.fn_parts, x)
        bound = [s for p in params for s in self.bind(p, x)]
        body(rest, x)
        self.unbind(bound)

    def let_form(self, x, value, body):
        """(let [p value ...] body): sequential, each value sees the binders before it."""
        pairs, rest = self.parts(core.let_parts, x)
        bound = []
        for p, e in pairs:
            value(e, x)
            bound += self.bind(p, x)
        body(rest, x)
        self.unbind(bound)

    def letrec_form(self, x, fn, body):
        """(letrec [f fn ...] body): every f is in scope in every fn and in body."""
        pairs, rest = self.parts(core.letrec_parts, x)
        bound = [s for f, _ in pairs for s in self.bind(f, x)]
        for _, e in pairs:
            fn(e)
        body(rest, x)
        self.unbind(bound)

    def call_parts(self, x):
        """``(f a ... :k v ...)`` -> (f, [a ...], [(k, v) ...]); f is no keyword."""
        f, args, kwargs = self.parts(core.call_parts, x)
        if type(f) is Keyword:
            self.fail(f"a keyword (:{f.name}) cannot be called", x)
        return f, args, kwargs

    def leaf(self, x, where):
        """A form that is not a sequence: a symbol (a reference), a keyword or an atom."""
        if type(x) is Symbol:
            self.ref(x, where)
        elif not is_leaf(x):
            self.fail(f"not a form: {x!r}", where)


class Lcore(_Language):
    """The core language, output of expand_macros (see the module docstring)::

        top := (def name e) | (defrecord Name [field ...]) | (require lib ...) | e
        e   := symbol | keyword | atom | (quote datum)
             | (fn [p ...] e) | (let [p e ...] e) | (letrec [f (fn [p ...] e) ...] e)
             | (if e e e) | (. e field field ...) | [e ...] | (e e ... :k e ...)
        p   := symbol | [p p ...]
    """

    name = "Lcore"

    def definition(self, value, where):
        """The value of a def: e."""
        self.expr(value, where)

    def expression(self, form):
        """A top-level expression: e."""
        self.expr(form, form)

    def expr(self, x, where):
        """e := symbol | keyword | atom | [e ...] | compound"""
        if type(x) is Vec:
            for item in x.items:
                self.expr(item, x)
        elif type(x) is Form:
            self.compound(x)
        else:
            self.leaf(x, where)

    def compound(self, x):
        """compound := (quote datum) | (fn ...) | (let ...) | (letrec ...) | (if e e e)
        | (. e field field ...) | (e e ... :k e ...)"""
        h = head_name(x)
        if h == "quote":
            self.quote(x)
        elif h == "fn":
            self.fn(x)
        elif h == "let":
            self.let_form(x, self.expr, self.expr)
        elif h == "letrec":
            self.letrec_form(x, self.fn, self.expr)
        elif h == "if":
            for e in self.parts(core.if_parts, x):
                self.expr(e, x)
        elif h == ".":
            self.dot(x)
        elif h in core.TOP_LEVEL_ONLY:
            self.fail(f"{h} is only allowed at the top level", x)
        elif h in EXPANDER_FORMS and h not in self.scope:
            self.fail(f"{h} is a macro-only name, left unexpanded", x)
        else:
            self.call(x)

    def fn(self, x):
        """(fn [p ...] e)"""
        self.fn_form(x, self.expr)

    def dot(self, x):
        """(. e field field ...)"""
        e, fields = self.parts(core.dot_parts, x)
        self.expr(e, x)
        for f in fields:
            self.symbol(f, x)

    def call(self, x):
        """(e e ... :k e ...)"""
        f, args, kwargs = self.call_parts(x)
        for e in [f, *args, *(v for _, v in kwargs)]:
            self.expr(e, x)


class _Scoped:
    """The scoping of Lresolved and Lanf (a mixin over a language): every
    local binder is bound once in the module and differs from the module's
    top-level names; every reference is bound; top-level names are defined once."""

    def module(self, module):
        self.top_names = set()
        self.binders = {}   # local name -> the form that binds it
        for form in self.top_forms(module):
            name = self.parts(core.top_level_name, form)
            if name is not None and name.name in self.top_names:
                self.fail(f"{name.name} is defined twice at the top level", form)
            if name is not None:
                self.top_names.add(name.name)
        super().module(module)

    def binder(self, s, where):
        super().binder(s, where)
        first = self.binders.get(s.name)
        if first is not None:
            self.fail(f"{s.name} is bound twice: in {show(first)} and", where)
        if s.name in self.top_names:
            self.fail(f"local {s.name} has the name of a top-level definition", where)
        self.binders[s.name] = where

    def ref(self, s, where):
        super().ref(s, where)
        n = s.name
        if not (n in self.scope or n in self.top_names or n in self.ctx.global_names
                or n in PRIMS or self.ctx.derive(n)):
            self.fail(f"unbound name {n}", where)


class Lresolved(_Scoped, Lcore):
    """Lcore with unique binders and every reference bound, output of resolve_names."""

    name = "Lresolved"


class _Anf(_Language):
    """A-normal form, output of normalize_anf and differentiate (Lanf, which
    adds the scoping of Lresolved)::

        top  := (def name body) | (defrecord Name [field ...]) | (require lib ...) | datum
        body := (let [p c ...] body) | (letrec [f (fn [p ...] body) ...] body) | c
        c    := a | (fn [p ...] body) | (if a body body) | (a a ... :k a ...)
              | (. a field) | [a ...]
        a    := symbol | number | bool | None | string | keyword | (quote datum)
        p    := symbol | [p p ...]

    scoped as Lresolved.  A top-level expression (a user error the
    interpreter reports) is left as it is by normalize_anf: any datum.
    """

    name = "Lanf"

    def definition(self, value, where):
        """The value of a def: body."""
        self.body(value, where)

    def expression(self, form):
        """A top-level expression: any datum (normalize_anf leaves it as it is)."""
        self.datum(form, form)

    def body(self, x, where):
        """body := (let [p c ...] body) | (letrec [f (fn [p ...] body) ...] body) | c"""
        h = head_name(x)
        if h == "let":
            self.let_form(x, self.c, self.body)
        elif h == "letrec":
            self.letrec_form(x, self.fn, self.body)
        else:
            self.c(x, where)

    def c(self, x, where):
        """c := a | (fn [p ...] body) | (if a body body) | (a a ... :k a ...)
        | (. a field) | [a ...]"""
        h = head_name(x)
        if type(x) is Vec:
            for item in x.items:
                self.a(item, x, "a tuple element")
        elif type(x) is not Form or h == "quote":
            self.a(x, where, "an expression")
        elif h == "fn":
            self.fn(x)
        elif h == "if":
            self.if_(x)
        elif h == ".":
            self.dot(x)
        elif h in ("let", "letrec"):
            self.fail(f"a {h} is a body, not a value, got {show(x)}", where)
        elif h in core.TOP_LEVEL_ONLY:
            self.fail(f"{h} is only allowed at the top level", x)
        else:
            self.call(x)

    def a(self, x, where, role):
        """a := symbol | number | bool | None | string | keyword | (quote datum)"""
        if head_name(x) == "quote":
            self.quote(x)
        elif type(x) is Form or type(x) is Vec:
            self.fail(f"{role} must be an atom, got {show(x)}", where)
        else:
            self.leaf(x, where)

    def fn(self, x):
        """(fn [p ...] body)"""
        self.fn_form(x, self.body)

    def if_(self, x):
        """(if a body body)"""
        test, then, orelse = self.parts(core.if_parts, x)
        self.a(test, x, "the condition of an if")
        self.body(then, x)
        self.body(orelse, x)

    def dot(self, x):
        """(. a field)"""
        e, fields = self.parts(core.dot_parts, x)
        if len(fields) != 1:
            self.fail("a field access takes one field", x)
        self.a(e, x, "the record of a field access")
        self.symbol(fields[0], x)

    def call(self, x):
        """(a a ... :k a ...)"""
        f, args, kwargs = self.call_parts(x)
        self.a(f, x, "the function of a call")
        for e in args:
            self.a(e, x, "a call argument")
        for k, v in kwargs:
            self.a(v, x, f"keyword argument :{k.name}")


class Lanf(_Scoped, _Anf):
    __doc__ = _Anf.__doc__


class Lmono(_Anf):
    """The output of specialize (typed: one version per context, no closure)::

        top  := (def name (%the (-> [T ...] T) (fn [p ...] body)))
        body := (let [p (%the T c) ...] body) | c
        c    := a | (if a body body) | (a a ... :k a ...) | (. a field) | [a ...]
        a    := symbol | number | bool | None | string | keyword | (quote datum)
        T    := a type (myia_sx.types.read)

    scoped lexically (the versions of one code repeat its binders); every
    reference is a binder in scope, a version, a global of the environment
    or a primitive; a call's function is a primitive, a record constructor or
    a version (by name); no primitive that transforms code or asks what kind
    a value is.
    """

    name = "Lmono"
    folded = True

    def module(self, module):
        self.top_names = {self.parts(core.top_level_name, f).name for f in self.top_forms(module)
                          if head_name(f) == "def"}
        super().module(module)

    def top(self, form):
        if head_name(form) != "def":
            self.fail("a top-level form is a definition of a version", form)
        super().top(form)

    def definition(self, value, where):
        """(%the (-> [T ...] T) (fn [p ...] body))"""
        t, fn = self.typed(value, where)
        if type(t) is not types.ArrowT or head_name(fn) != "fn":
            self.fail("a version is (%the (-> [T ...] T) (fn [p ...] body))", value)
        self.fn_form(fn, self.body)

    def typed(self, x, where):
        """(%the T e) -> (type, e)"""
        if head_name(x) != "%the":
            self.fail(f"a value must be typed (%the T e), got {show(x)}", where)
        t, e = self.parts(core.the_parts, x)
        try:
            return types.read(t), e
        except types.TypeSyntaxError as err:
            self.fail(str(err), x)

    def body(self, x, where):
        """body := (let [p (%the T c) ...] body) | c"""
        h = head_name(x)
        if h == "let":
            self.let_form(x, lambda e, w: self.c(self.typed(e, w)[1], w), self.body)
        elif h == "letrec":
            self.fail("no letrec in Lmono (a closure is the tuple of what it captured)", x)
        else:
            self.c(x, where)

    def fn(self, x):
        self.fail("no fn in Lmono but a version's (a closure is the tuple of what it "
                  "captured)", x)

    def call(self, x):
        """(version a ... :k a ...) | (primitive a ... :k a ...) | (Record a ...)"""
        f = self.call_parts(x)[0]
        if type(f) is not Symbol or f.name in self.scope or f.name == "%the":
            self.fail("a call's function is a primitive, a record constructor or a version", x)
        if f.name in CODE_MAKERS or (self.folded and f.name in TYPE_QUESTIONS):
            self.fail(f"{f.name} is left", x)
        super().call(x)

    def ref(self, s, where):
        super().ref(s, where)
        n = s.name
        if not (n in self.scope or n in self.top_names or n in self.ctx.global_names
                or n in PRIMS or self.ctx.derive(n)):
            self.fail(f"unbound name {n}", where)


class Ltyped(Lmono):
    """Lmono before constants are folded (specialize with ``fold`` off: what
    ``show --after infer_types`` prints): type questions may still be asked."""

    name = "Ltyped"
    folded = False


def check_lcore(module, ctx):
    """Raise :class:`LanguageError` unless ``module`` is Lcore."""
    Lcore(ctx).module(module)


def check_lresolved(module, ctx):
    """Raise :class:`LanguageError` unless ``module`` is Lresolved."""
    Lresolved(ctx).module(module)


def check_lanf(module, ctx):
    """Raise :class:`LanguageError` unless ``module`` is Lanf."""
    Lanf(ctx).module(module)


# The checker of each language a pass writes (pipeline.Pass.writes).
def check_lmono(module, ctx):
    """Raise :class:`LanguageError` unless ``module`` is Lmono."""
    Lmono(ctx).module(module)


def check_ltyped(module, ctx):
    """Raise :class:`LanguageError` unless ``module`` is Ltyped."""
    Ltyped(ctx).module(module)


LANGUAGES = {"Lcore": check_lcore, "Lresolved": check_lresolved, "Lanf": check_lanf,
             "Ltyped": check_ltyped, "Lmono": check_lmono}
