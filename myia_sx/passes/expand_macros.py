"""expand_macros: Lsurface -> Lcore.

Removes: macro calls (macros of ``macros/*.sx``, of required libraries, of the
module's own ``defmacro`` forms, and Python callables registered as macros),
``defmacro``, ``quasiquote``/``unquote``/``unquote-splice`` (translated to calls
of ``list``, ``vector`` and ``concat``) and top-level ``(do ...)`` (spliced).
Adds: nothing new; every form left is a core form (:mod:`myia_sx.core`).

Hygiene (Kohlbecker-style marks, resolved here so the printed output means
the same when read back):
  - each expansion gets a fresh mark; the macro's arguments are marked before
    the call and the mark is toggled on its result, so afterwards exactly the
    symbols the macro introduced carry it;
  - a binder carrying marks (introduced by a template) gets a fresh name, and
    only references with the same name and marks see it: a template's binder
    never captures user code;
  - a marked reference bound by no same-marked binder is a free name of the
    template: it denotes the top-level definition (or primitive) of that name,
    visible where the macro was defined.  So that no user binder can capture
    it, every local binder that shadows a top-level name or primitive is
    renamed (as ``resolve_names`` would do anyway);
  - ``(unhygienic 'recur)`` in a macro body gives a symbol as if the user wrote
    it at the call site (for anaphoric macros such as ``loop``).

Budgets (a macro that never stops is an error at its call, not a hang): the
expansion of one module nests at most :data:`MAX_DEPTH` deep, expands at most
:data:`MAX_EXPANSIONS` macro calls, passes to and gets back from macros at
most :data:`MAX_FORMS` forms in all, and its macro bodies (with the
definitions they use, evaluated early) make at most :data:`MACRO_CALLS` calls
of functions (:class:`myia_sx.interp.Budget`).  A module compiled untrusted
(``Context.trusted`` false) runs no macro at all: a macro call or a
``defmacro`` is an error.

Invariants of the output:
  - every special form is well formed (checked here, with the span of the
    offending form, so later passes may take core forms apart without checks);
  - ``def``, ``defrecord`` and ``require`` appear only at the top level;
  - no symbol carries marks;
  - a form a macro introduced carries the span of the macro call, whose
    ``expansion`` names the macro (errors in generated code say "in expansion
    of (m ...)"); forms passed through from the call keep their own spans.
"""

from __future__ import annotations

import itertools
import re

from .. import core, interp
from ..errors import SxError, SxMacroError, SxNameError
from ..forms import (ATOM_TYPES, Form, Keyword, Seq, Span, Symbol, Vec, head_name, map_tree,
                     plain, span_of, strip_marks)
from ..prims import CALL_SITE_MARKS, PRIMS, MacroSyntaxError
from ..values import Closure, type_name
from .names import NameSupply
from .scopes import ScopedRewriter, Scopes

# Expansions nested deeper than this are reported as a macro that never stops.
MAX_DEPTH = 1000
# The macro calls one module may expand.
MAX_EXPANSIONS = 100_000
# The forms (atoms, symbols, keywords and sequences, counted as a tree) one
# module's macro calls may take and give back, in all.
MAX_FORMS = 2_000_000
# The calls of functions one module's macro bodies may make, in all.
MACRO_CALLS = 1_000_000

# Names only this pass understands, never left in its output.
EXPANDER_FORMS = frozenset({"defmacro", "quasiquote", "unquote", "unquote-splice", "do"})

_marks = itertools.count(1)
_QQ_MARK = 0  # marks the list/vector/concat/quote a quasiquote translates to


class Macro:
    """A macro: a function from forms to a form.

    ``fn`` is an sx closure (from ``defmacro``; ``nparams`` fixed parameters,
    then a ``&rest`` parameter if ``rest``) or a Python callable (called with
    the argument forms)."""

    __slots__ = ("name", "fn", "nparams", "rest", "span", "doc")

    def __init__(self, name, fn, nparams=0, rest=True, span=None, doc=""):
        self.name = name
        self.fn = fn
        self.nparams = nparams
        self.rest = rest
        self.span = span
        self.doc = doc

    def __repr__(self):
        return f"<macro {self.name}>"

    def call(self, args, form):
        """Run the macro on (marked) argument forms of the call ``form``."""
        if type(self.fn) is not Closure:
            return self.fn(*args)
        n = len(args)
        if n < self.nparams or (not self.rest and n > self.nparams):
            want = f"at least {self.nparams}" if self.rest else str(self.nparams)
            raise SxMacroError(f"macro {self.name} takes {want} argument"
                               f"{'s' * (self.nparams != 1)}, got {n}", form.span)
        if self.rest:
            args = list(args[:self.nparams]) + [Form(args[self.nparams:], form.span)]
        return interp.run(self.fn, args)


def run(module, ctx):
    """Expand every top-level form of ``module`` (a tuple of forms)."""
    return _Expander(ctx, module).module(module)


class _Expander(ScopedRewriter):
    def __init__(self, ctx, module):
        self.ctx = ctx
        self.env = ctx.env
        self.supply = NameSupply(module)
        self.globals = set(self.env.names) | set(PRIMS)
        self.module_defs = set()
        self.pending = []   # this module's definitions, in case a macro body needs them
        self.depth = 0
        self.expansions = 0
        self.forms = 0
        self.budget = interp.Budget(
            MACRO_CALLS, "macro bodies made more than {calls} calls of functions while this "
            "module was compiled: does a macro loop forever?")

    # -- the module ----------------------------------------------------------------
    def module(self, forms):
        tops = []
        queue = list(reversed(forms))
        while queue:
            f = self.head(queue.pop())
            h = head_name(f)
            if h == "do":
                queue.extend(reversed(f.items[1:]))
            elif h == "defmacro":
                if not self.ctx.trusted:
                    raise SxMacroError("defmacro in a module loaded untrusted (trusted=False), "
                                       "which defines and runs no macro", f.span)
                self.defmacro(f)
            elif h == "require":
                if self.ctx.require is None:
                    core.fail("require needs the library loader (compile with "
                              "myia_sx.library.context)", f)
                self.ctx.require(self.env, f)
                self.globals |= self.env.names
                tops.append(Form([plain(f.items[0])] + [strip_marks(x) for x in f.items[1:]],
                                 f.span))
            else:
                name = core.top_level_name(f)
                if name is not None:
                    self.module_defs.add(name.name)
                    self.globals.add(name.name)
                    self.pending.append(f)
                elif self.ctx.expressions:
                    sp = span_of(f)
                    f = Form((Symbol("def", sp), Symbol("_", sp), f), sp)
                    self.globals.add("_")
                tops.append(f)
        return tuple(self.top(f) for f in tops)

    def head(self, f):
        """Expand macro calls at the top level until a core (or expander) form shows."""
        n = 0
        while type(f) is Form and f.items and type(f.items[0]) is Symbol \
                and f.items[0].name in self.env.macros:
            n += 1
            if n > MAX_DEPTH:
                raise self.too_deep(f)
            f = self.expand_call(f)
        return f

    def top(self, f):
        h = head_name(f)
        if h == "def":
            name, e = core.def_parts(f)
            return Form((plain(f.items[0]), plain(name), self.expr(e, Scopes())), f.span)
        if h == "defrecord":
            core.defrecord_parts(f)
            return strip_marks(f)
        if h == "require":
            return f
        if h in self.env.macros and h not in self.module_defs:
            raise SxMacroError(f"macro {h} is used at the top level before its defmacro "
                               "(top-level forms are expanded in order)", f.span)
        return self.expr(f, Scopes())

    # -- defmacro --------------------------------------------------------------------
    def defmacro(self, form):
        items = form.items
        doc = ""
        if len(items) == 5 and type(items[3]) is str:
            doc = items[3]
            items = items[:3] + items[4:]
        if len(items) != 4 or type(items[1]) is not Symbol or type(items[2]) is not Vec:
            core.fail("defmacro takes a name, a parameter vector and one body expression: "
                      "(defmacro m [a &rest more] body)", form)
        name = items[1]
        if name.name in core.SPECIAL_FORMS or name.name in EXPANDER_FORMS:
            core.fail(f"cannot define a macro named {name.name}: it is a special form",
                      name, form)
        params = list(items[2].items)
        for p in params:
            if type(p) is not Symbol:
                core.fail("macro parameters are symbols (destructure in the body)", p, form)
        rest = [i for i, p in enumerate(params) if p.name == "&rest"]
        if rest and (len(rest) > 1 or rest[0] != len(params) - 2):
            core.fail("&rest comes once, just before the last parameter: [a b &rest more]",
                      params[rest[0]], form)
        if rest:
            params.pop(rest[0])
        fn = Form((Symbol("fn", form.span), Vec(params, items[2].span), items[3]), form.span)
        closure = self.compile_macro(fn, name)
        # a name is a macro or a value, whichever was defined last
        self.env.names.discard(name.name)
        self.env.globals.pop(name.name, None)
        self.globals.discard(name.name)
        self.env.macros[name.name] = Macro(name.name, closure, len(params) - bool(rest),
                                           bool(rest), form.span, doc)

    def compile_macro(self, fn, name):
        def compile_():
            (final,) = self.ctx.compile((fn,), expressions=True)
            return interp.evaluate(self.env, final.items[2], name.name)

        note = (f"macro {name.name} runs while this module is being compiled: its body "
                "may use primitives, the prelude, required libraries and the definitions "
                "before it (which must not depend on later ones)")
        try:
            with interp.limited(self.budget):
                return compile_()
        except SxNameError as e:
            unbound = re.match(r"unbound name (\S+)", e.message)
            pending = {core.top_level_name(f).name for f in self.pending}
            if unbound is None or unbound.group(1) not in pending:
                e.add_note(note, name.span)
                raise
        # The body uses this module's earlier definitions: evaluate them now.
        try:
            forms = self.ctx.compile(tuple(self.pending))
            with interp.limited(self.budget):
                interp.load(self.env, forms, self.ctx.require)
                self.pending = []
                return compile_()
        except SxError as e:
            e.add_note(note, name.span)
            raise

    # -- expressions -------------------------------------------------------------------
    def ref(self, s, scopes):
        new = self.lookup(s, scopes)
        if new is not None:
            return s if new == s.name and not s.marks else Symbol(new, s.span)
        if s.marks:
            if s.name not in self.globals and s.name not in core.SPECIAL_FORMS:
                raise SxNameError(f"unbound name {s.name} (a free name of the macro's "
                                  "template must be defined at the top level)", s.span)
            return Symbol(s.name, s.span)
        return s

    def binder(self, s, scope):
        new = s.name
        if s.marks or new in self.globals:
            new = self.supply.fresh(s.name)
        scope[(s.name, s.marks)] = new
        return s if new == s.name and not s.marks else Symbol(new, s.span)

    def form(self, x, scopes):
        head = x.items[0]
        if type(head) is Symbol and self.lookup(head, scopes) is None:
            h = head.name
            if h in self.env.macros and (head.marks or h not in self.module_defs):
                if self.depth >= MAX_DEPTH:
                    raise self.too_deep(x)
                new = self.expand_call(x)
                self.depth += 1
                try:
                    return self.expr(new, scopes)
                finally:
                    self.depth -= 1
            if h == "quasiquote":
                if len(x.items) != 2:
                    core.fail("quasiquote takes exactly one form", x)
                return self.expr(self.quasiquote(x.items[1], 1, x.span), scopes)
            if h in ("unquote", "unquote-splice"):
                core.fail(f"{'~' if h == 'unquote' else '~@'} (unquote) outside a quasiquote", x)
            if h in ("defmacro", "do"):
                core.fail(f"{h} is only allowed at the top level", x)
        return super().form(x, scopes)

    # -- macro calls -------------------------------------------------------------------
    def too_deep(self, x):
        return SxMacroError(f"macro expansion nested deeper than {MAX_DEPTH} levels: "
                            f"does ({x.items[0].name} ...) keep expanding into itself?",
                            x.span)

    def charge(self, x, form, who):
        """Count the forms of ``form`` (given to or made by the macro of call
        ``x``) against :data:`MAX_FORMS`; True if every part of it is a form."""
        left = MAX_FORMS - self.forms
        n = 0
        ok = True
        stack = [form]
        while stack and n <= left:
            y = stack.pop()
            n += 1
            if isinstance(y, Seq):
                stack.extend(y.items)
            elif not isinstance(y, (Symbol, Keyword) + ATOM_TYPES):
                ok = False
                break
        self.forms += n
        if self.forms > MAX_FORMS:
            raise SxMacroError(f"macro expansion in this module made more than {MAX_FORMS} "
                               f"forms: does ({who} ...) grow without end?", x.span)
        return ok

    def expand_call(self, x):
        """The form macro call ``x`` expands to (hygiene marks and spans applied)."""
        head = x.items[0]
        macro = self.env.macros[head.name]
        if not self.ctx.trusted:
            raise SxMacroError(f"({head.name} ...) is a macro call, and a module loaded "
                               "untrusted (trusted=False) runs no macro: give it code "
                               "after expand_macros (myia-sx show --after)", x.span)
        self.expansions += 1
        if self.expansions > MAX_EXPANSIONS:
            raise SxMacroError(f"more than {MAX_EXPANSIONS} macro expansions in this module: "
                               f"does ({head.name} ...) keep expanding?", x.span)
        self.charge(x, x, head.name)
        m = next(_marks)
        inputs = set()

        def mark_leaf(y):
            return Symbol(y.name, y.span, y.marks + (m,)) if type(y) is Symbol else y

        def mark_node(seq, items):
            new = type(seq)(items, seq.span)
            inputs.add(id(new))
            return new

        args = [map_tree(a, mark_leaf, mark_node) for a in x.items[1:]]
        token = CALL_SITE_MARKS.set(head.marks + (m,))
        try:
            with interp.limited(self.budget):
                out = macro.call(args, x)
        except MacroSyntaxError as e:
            if e.span is None:
                e.span = x.span
            raise
        except SxMacroError:
            raise
        except SxError as e:
            err = SxMacroError(f"error while expanding ({macro.name} ...): {e.message}",
                               x.span)
            err.add_note("raised here", e.span)
            err.notes.extend(e.notes)
            raise err from None
        except RecursionError:
            raise SxMacroError(f"macro {macro.name} recursed too deeply on Python's stack",
                               x.span) from None
        except Exception as e:
            raise SxMacroError(f"macro {macro.name} failed: {type(e).__name__}: {e}",
                               x.span) from e
        finally:
            CALL_SITE_MARKS.reset(token)
        if not self.charge(x, out, head.name):
            raise SxMacroError(f"macro {macro.name} returned a {type_name(out)}, "
                               "which is not a form", x.span)
        where = x.span or Span(None, 0, 0, 0, 0)
        call_span = Span(where.source, where.line, where.col, where.end_line, where.end_col,
                         (macro.name, x.span))

        def toggle_leaf(y):
            if type(y) is not Symbol:
                return y
            if y.marks and y.marks[-1] == m:
                return Symbol(y.name, y.span, y.marks[:-1])
            return Symbol(y.name, call_span, y.marks + (m,))

        def toggle_node(seq, items):
            return type(seq)(items, seq.span if id(seq) in inputs else call_span)

        result = map_tree(out, toggle_leaf, toggle_node)
        del args
        return result

    # -- quasiquote --------------------------------------------------------------------
    def quasiquote(self, x, depth, span):
        """Core code building the datum of ``(quasiquote x)`` at nesting ``depth``."""
        def sym(name):
            return Symbol(name, span, (_QQ_MARK,))

        def call(name, *args):
            return Form((sym(name),) + args, span)

        def quoted(d):
            return Form((sym("quote"), d), span)

        t = type(x)
        if t is Symbol or t is Keyword:
            return quoted(x)
        if t is not Form and t is not Vec:
            return x
        h = head_name(x)
        if t is Form and len(x.items) == 2 and h in ("unquote", "quasiquote"):
            if h == "unquote" and depth == 1:
                return x.items[1]
            inner = depth - 1 if h == "unquote" else depth + 1
            return call("list", quoted(x.items[0]), self.quasiquote(x.items[1], inner, span))
        if t is Form and h == "unquote-splice":
            core.fail("~@ (unquote-splice) must be inside a form or vector", x)
        ctor = "list" if t is Form else "vector"
        parts, run_ = [], []
        for item in x.items:
            if type(item) is Form and head_name(item) == "unquote-splice" \
                    and len(item.items) == 2:
                if depth == 1:
                    if run_:
                        parts.append(call(ctor, *run_))
                        run_ = []
                    parts.append(item.items[1])
                    continue
                run_.append(call("list", quoted(item.items[0]),
                                 self.quasiquote(item.items[1], depth - 1, span)))
                continue
            run_.append(self.quasiquote(item, depth, span))
        if not parts:
            return call(ctor, *run_)
        if run_:
            parts.append(call(ctor, *run_))
        return call("concat", call(ctor), *parts)
