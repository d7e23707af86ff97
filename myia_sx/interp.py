"""The reference interpreter: runs Lcore, and so every later language.

Input: a module (a tuple of top-level core forms, see :mod:`myia_sx.core`) or
one expression.  Each function body is compiled once into a short list of
stack-machine instructions; a small loop runs them with an explicit stack of
frames.  So:

  - calls in tail position reuse the frame: a loop written as self tail
    recursion runs 10^6 iterations (or any number) in constant space;
  - deep non-tail recursion grows a Python list, not Python's stack: a
    recursion 10^5 deep needs no recursion limit;
  - every error raised while running carries the span of the form that raised
    it, plus notes naming the calls that led there.

Top-level definitions are evaluated in order; references between top-level
names are looked up when they run, so top-level functions may be mutually
recursive.  Records are made by ``defrecord``.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import numpy as np

from . import core, types
from .errors import SxError, SxNameError, SxRuntimeError, SxSyntaxError, SxTypeError
from .forms import Form, Seq, Span, Symbol, Vec, gc_paused, source_text, span_text
from .prims import PRIMS, MacroSyntaxError, Prim, PrimConst, PrimShapeError
from .values import ZERO, Closure, RecordType, type_name

# opcodes
CONST, LOCAL, FREE, GLOBAL, STORE, UNPACK, JUMP_IF_FALSE, JUMP, CLOSURE, LETREC, \
    CALL, TAILCALL, RETURN, FIELD, TUPLE, PRIM = range(16)

MAX_FRAMES = 2_000_000

# The deepest stack of frames any run has reached (tests reset it to check
# that a loop, or the gradient of one, runs in constant space).
STATS = {"peak_frames": 0}



class Budget:
    """How many more calls of sx functions (closures) the code running under
    it may make (:func:`limited`): compile-time code (macro bodies, the
    top-level definitions a module evaluates while it loads) runs under one,
    so a loop in it is an error instead of a hang.  Every loop is tail
    recursion, so counting calls bounds the work; primitives are not counted.
    ``message`` is the error when they run out (``calls`` fills ``{calls}``)."""

    __slots__ = ("left", "calls", "message")

    def __init__(self, calls, message):
        self.left = calls
        self.calls = calls
        self.message = message

    def exhausted(self):
        return SxRuntimeError(self.message.format(calls=self.calls), None)


# The budget of the code running now (None: no limit); read once per run.
_BUDGET = contextvars.ContextVar("budget", default=None)


@contextmanager
def limited(budget):
    """Run the code inside under ``budget`` (a :class:`Budget`; None: no limit),
    in place of any budget around it."""
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


# DERIVE[0], when set (by the AD runtime, myia_sx.ad), makes a missing global
# on demand: ``DERIVE[0](namespace, name)`` gives its value or _MISSING.  The
# J-transforms ``f%J`` of global functions are made that way.
DERIVE = [None]


class Code:
    """A compiled function body.

    ``fn_form`` is the ``(fn ...)`` form it was compiled from and
    ``free_names`` the names of the variables its closures capture, in
    sorted order (so the ``J`` operator of :mod:`myia_sx.ad` can transform a
    closure's code and carry its captured values over by name); ``letrec``
    is ``(pairs, name)`` for a function of a ``letrec`` group (transformed
    with its group), which captures what the whole group captures
    (``group_free``) and the group's functions; ``j_code`` caches the
    transformation."""

    __slots__ = ("name", "nparams", "param_names", "nlocals", "instrs", "forms",
                 "span", "globals", "fn_form", "free_names", "letrec", "group_free", "j_code")

    def __init__(self, name, nparams, param_names, span, globals_):
        self.name = name
        self.nparams = nparams
        self.param_names = param_names
        self.nlocals = nparams
        self.instrs = []
        self.forms = []
        self.span = span
        self.globals = globals_
        self.fn_form = None
        self.free_names = ()
        self.letrec = None
        self.group_free = ()
        self.j_code = None


class _FnCompiler:
    """Compiles one function body; resolves names to locals, captures, globals."""

    def __init__(self, parent, code, env):
        self.parent = parent
        self.code = code
        self.env = env
        # the names each open scope binds, the stack of slots of each name
        # bound here, and (shared by the enclosing compilers) how many open
        # scopes bind each name: a lookup costs the same at any depth
        self.scopes = [[]]
        self.slots = {}
        self.bound = parent.bound if parent is not None else {}
        self.free = {}
        self.captures = []

    # -- names
    def new_slot(self):
        self.code.nlocals += 1
        return self.code.nlocals - 1

    def lookup(self, name):
        slots = self.slots.get(name)
        if slots:
            return LOCAL, slots[-1]
        idx = self.free.get(name)
        if idx is not None:
            return FREE, idx
        if self.parent is not None and name in self.bound:
            kind, where = self.parent.lookup(name)
            if kind in (LOCAL, FREE):
                idx = len(self.captures)
                self.free[name] = idx
                self.captures.append((kind, where))
                return FREE, idx
            return kind, where
        return GLOBAL, name

    def is_local(self, name):
        """True if this function or an enclosing one binds ``name``."""
        return name in self.bound

    def bind_name(self, name, slot):
        """``name`` is in ``slot`` until the innermost open scope closes."""
        self.scopes[-1].append(name)
        slots = self.slots.get(name)
        if slots is None:
            self.slots[name] = [slot]
        else:
            slots.append(slot)
        self.bound[name] = self.bound.get(name, 0) + 1

    def close_scope(self):
        """Unbind the names of the innermost open scope."""
        for name in self.scopes.pop():
            slots = self.slots[name]
            slots.pop()
            if not slots:
                del self.slots[name]
            n = self.bound[name] - 1
            if n:
                self.bound[name] = n
            else:
                del self.bound[name]

    def emit(self, op, arg, form):
        self.code.instrs.append((op, arg))
        self.code.forms.append(form)

    # -- patterns
    def bind(self, pattern, form):
        """Pop the value on the stack into ``pattern``'s names (new scope entries)."""
        if type(pattern) is Symbol:
            slot = self.new_slot()
            self.emit(STORE, slot, pattern)
            self.bind_name(pattern.name, slot)
        else:
            self.emit(UNPACK, len(pattern.items), pattern)
            for p in pattern.items:
                self.bind(p, form)

    # -- expressions
    def expr(self, x, tail):
        t = type(x)
        if t is Symbol:
            self.symbol(x)
        elif t is Form:
            self.form(x, tail)
        elif t is Vec:
            for item in x.items:
                self.expr(item, False)
            self.emit(TUPLE, len(x.items), x)
        else:
            self.emit(CONST, x, x)
        if tail and not (t is Form and self._handles_tail(x)):
            self.emit(RETURN, None, x)

    @staticmethod
    def _handles_tail(form):
        h = form.items[0].name if form.items and type(form.items[0]) is Symbol else None
        return h not in ("quote", ".", "fn")

    def symbol(self, s):
        kind, where = self.lookup(s.name)
        if kind is GLOBAL:
            if where in self.env.names or (where.endswith("%J") and where not in PRIMS
                                           and DERIVE[0] is not None):
                self.emit(GLOBAL, where, s)   # a J-transform g%J is made when first used
            elif where in PRIMS:
                row = PRIMS[where]
                self.emit(CONST, row.value if type(row) is PrimConst else row, s)
            elif where in core.SPECIAL_FORMS:
                raise SxSyntaxError(f"{where} is a special form, not a value", s.span)
            else:
                raise SxNameError(f"unbound name {where}", s.span)
        else:
            self.emit(kind, where, s)

    def form(self, x, tail):
        items = x.items
        h = items[0].name if items and type(items[0]) is Symbol else None
        if h in core.SPECIAL_FORMS or h in core.TYPED_FORMS:
            getattr(self, "form_" + {".": "dot", "%the": "the"}.get(h, h))(x, tail)
        else:
            self.call(x, tail)

    def static_prim(self, f):
        """The primitive that symbol ``f`` names here, if it surely names one."""
        if type(f) is Symbol and f.name in PRIMS and f.name not in self.env.names:
            if self.lookup(f.name)[0] is GLOBAL and type(PRIMS[f.name]) is Prim:
                return PRIMS[f.name]
        return None

    def form_quote(self, x, tail):
        self.emit(CONST, core.quote_datum(x), x)

    def form_dot(self, x, tail):
        e, fields = core.dot_parts(x)
        self.expr(e, False)
        for f in fields:
            self.emit(FIELD, f.name, x)

    def form_if(self, x, tail):
        c, a, b = core.if_parts(x)
        self.expr(c, False)
        jif = len(self.code.instrs)
        self.emit(JUMP_IF_FALSE, None, c if getattr(c, "span", None) else x)
        self.expr(a, tail)
        if not tail:
            jmp = len(self.code.instrs)
            self.emit(JUMP, None, x)
        self.code.instrs[jif] = (JUMP_IF_FALSE, len(self.code.instrs))
        self.expr(b, tail)
        if not tail:
            self.code.instrs[jmp] = (JUMP, len(self.code.instrs))

    def form_let(self, x, tail):
        pairs, body = core.let_parts(x)
        self.scopes.append([])
        for p, e in pairs:
            if type(p) is Symbol and core_head(e) == "fn":
                self.form_fn(e, False, _binder_name(p))
            elif type(p) is Symbol and core_head(e) == "%the":
                self.form_the(e, False, _binder_name(p))
            else:
                self.expr(e, False)
            self.bind(p, x)
        self.expr(body, tail)
        self.close_scope()

    def form_letrec(self, x, tail):
        pairs, body = core.letrec_parts(x)
        self.scopes.append([])
        slots = []
        for p, _ in pairs:
            slots.append(self.new_slot())
            self.bind_name(p.name, slots[-1])
        # every function of the group captures what the group captures (and
        # the group), so its sensitivity's variables are its own (values.closure_env)
        names = {p.name for p, _ in pairs}
        captures = set()
        for _, fnform in pairs:
            captures |= set(core.free_variables(fnform, lambda n: not self.is_local(n)))
        captures = sorted(captures | names)
        group = []
        for (p, fnform), slot in zip(pairs, slots):
            code, caps = self.compile_fn(fnform, p.name, captures)
            code.letrec = (tuple(pairs), p.name)
            code.group_free = tuple(n for n in captures if n not in names)
            group.append((slot, code, caps))
        self.emit(LETREC, tuple(group), x)
        self.expr(body, tail)
        self.close_scope()

    def form_fn(self, x, tail, name="fn", arrow=None):
        code, caps = self.compile_fn(x, name, None, arrow)
        self.emit(CLOSURE, (code, caps), x)

    def form_the(self, x, tail, name="fn"):
        """``(%the T e)`` (the typed languages): ``e``, whose value is checked
        against type ``T``; a function literal of type ``(-> [A ...] R)``
        checks its arguments at every call."""
        t, e = core.the_parts(x)
        arrow = self.arrow(x)
        if arrow is not None and core_head(e) == "fn":
            self.form_fn(e, False, name, arrow)
        else:
            self.expr(e, False)
            self.emit(PRIM, (_type_check(self.read_type(t, x)), 1), x)
        if tail:
            self.emit(RETURN, None, x)

    def read_type(self, t, form):
        def lookup(kind, name):
            v = PRIMS.get(name) if kind == "primitive" else self.env.globals.get(name)
            if v is None:
                raise types.TypeSyntaxError(f"unknown {kind} {name}")
            return v
        try:
            return types.read(t, lookup)
        except types.TypeSyntaxError as e:
            raise SxSyntaxError(f"{e} in (%the ...)", getattr(form, "span", None)) from None

    def arrow(self, x):
        """The function type of a typed function literal ``(%the (-> ...) (fn ...))``."""
        if core_head(x) != "%the":
            return None
        t = self.read_type(core.the_parts(x)[0], x)
        return t if type(t) is types.ArrowT else None

    def compile_fn(self, x, name, captures=None, arrow=None):
        """The code of ``fn`` form ``x``, and what its closures capture: its
        free variables, or the names ``captures`` (a letrec group's); with
        ``arrow``, a function type, the code checks its arguments' types."""
        params, body = core.fn_parts(x)
        names = tuple(core.user_name(p.name) if type(p) is Symbol else None for p in params)
        code = Code(name, len(params), names, x.span, self.env.globals)
        sub = _FnCompiler(self, code, self.env)
        for i, p in enumerate(params):
            if type(p) is Symbol:
                sub.bind_name(p.name, i)
        if captures is None:
            # nothing to capture where no local is bound (a top-level function)
            captures = core.free_variables(x, lambda n: not self.is_local(n)) \
                if self.bound else ()
        for name in captures:
            sub.lookup(name)    # captures in the sorted order of their names
        if arrow is not None:
            for i, (p, t) in enumerate(zip(params, arrow.params)):
                sub.emit(LOCAL, i, p)
                sub.emit(PRIM, (_type_check(t), 1), p)
                sub.emit(STORE, i, p)
        for i, p in enumerate(params):
            if type(p) is Vec:
                sub.emit(LOCAL, i, p)
                sub.bind(p, x)
        sub.expr(body, True)
        sub.close_scope()
        code.fn_form = x
        code.free_names = tuple(sub.free)
        return code, tuple(sub.captures)

    def form_def(self, x, tail):
        core.fail("def is only allowed at the top level", x)

    form_defrecord = form_def

    def call(self, x, tail):
        f, args, kwargs = core.call_parts(x)
        p = self.static_prim(f)
        if p is not None and not kwargs:
            n = len(args)
            if n < p.min_args or (p.max_args is not None and n > p.max_args):
                raise SxTypeError(f"{p.name} takes {p.arity_text()}, got {n}", x.span)
            for a in args:
                self.expr(a, False)
            self.emit(PRIM, (p.impl, n), x)
            if tail:
                self.emit(RETURN, None, x)
            return
        self.expr(f, False)
        for a in args:
            self.expr(a, False)
        for _, v in kwargs:
            self.expr(v, False)
        if kwargs:
            names = tuple(k.name for k, _ in kwargs)
            self.emit(TAILCALL if tail else CALL, (len(args), names), x)
        else:
            self.emit(TAILCALL if tail else CALL, len(args), x)


def _type_check(t):
    """A function that returns its argument if it has type ``t``, and raises
    otherwise (a value outside its inferred type: a bug of inference)."""
    def check(v):
        if not types.matches(v, t):
            raise SxTypeError(f"compiler bug: a value of type {type_name(v)} where inference "
                              f"found {types.show(t)}")
        return v
    return check


def _binder_name(p):
    """The name of a function bound to symbol ``p`` by ``let``: the user's
    name for ``p``, or ``fn`` (anonymous) when ``p`` is not a name the user
    wrote there: a temporary (normalize_anf gives it the span of the whole
    expression it names) or a binder a macro introduced (the macro call's
    span).  A binder without a span is the compiler's own (``back``)."""
    name = core.user_name(p.name)
    s = p.span
    if s is None or (s.line == s.end_line and s.end_col - s.col == len(name)):
        return name
    return "fn"


def compile_expr(env, form, name="<expr>"):
    """Compile ``form`` against ``env`` as a function of no arguments (a
    thunk), the cyclic garbage collector paused (:func:`myia_sx.forms.gc_paused`:
    compiling makes many objects and no garbage cycles)."""
    code = Code(name, 0, (), getattr(form, "span", None), env.globals)
    comp = _FnCompiler(None, code, env)
    with gc_paused():
        if core_head(form) == "fn" and name != "<expr>":
            comp.form_fn(form, False, name)
            comp.emit(RETURN, None, form)
        else:
            comp.expr(form, True)
    return Closure(code, ())


def evaluate(env, form, name="<expr>"):
    """The value of expression ``form`` in ``env``."""
    return run(compile_expr(env, form, name), ())


def load(env, forms, require=None):
    """Evaluate a module's top-level forms in order.  ``require(env, form)``
    brings in the libraries a ``require`` form names (the library layer
    passes it; the interpreter itself knows no files)."""
    for form in forms:
        name = core.top_level_name(form)
        if name is not None:
            env.names.add(name.name)
    for form in forms:
        try:
            define(env, form, require)
        except RecursionError:
            raise SxSyntaxError("code nested too deeply to compile",
                                getattr(form, "span", None)) from None


def define(env, form, require=None):
    """Evaluate one top-level form into ``env``."""
    h = core_head(form)
    if h == "def":
        name, e = core.def_parts(form)
        env.names.add(name.name)
        env.define(name.name, evaluate(env, e, name.name), name.span)
    elif h == "defrecord":
        name, fields = core.defrecord_parts(form)
        for f in fields:
            problem = RecordType.field_name_problem(f.name)
            if problem:
                core.fail(problem, f, form)
        env.define(name.name, RecordType(name.name, [f.name for f in fields], name.span),
                   name.span)
    elif h == "require" and require is not None:
        require(env, form)
    elif h == "require":
        core.fail("require needs the library loader (myia_sx.library.load_module)", form)
    else:
        core.fail("a module's top-level forms are definitions (def, defn, defrecord); "
                  "call functions from main", form)


def core_head(form):
    if type(form) is Form and form.items and type(form.items[0]) is Symbol:
        return form.items[0].name
    return None


# -- running ---------------------------------------------------------------------

def label(code):
    """What messages call the function of ``code``: the name the user gave it,
    with "(differentiated)" for a J-transform (``f%J`` is ``f
    (differentiated)``); an anonymous function is its source text when that
    is short (``(fn [x] (* x x))``, or ``(grad f)`` for the function a
    maker made ahead of time), else ``fn``."""
    name, times = code.name, 0
    while name.endswith("%J") and len(name) > 2:
        name, times = name[:-2], times + 1
    name = core.user_name(name)
    if name == "fn":
        text = span_text(code.span)
        if text is not None and len(text) <= 40:
            name = text
    if times:
        name += " (differentiated)" if times == 1 else f" (differentiated {times} times)"
    return name


def definition_span(code):
    """Where the function of ``code`` is defined, as the user wrote it: the
    span of its ``fn``, or of the macro call (``defn`` ...) that wrote it,
    without the "in expansion of" chain (the error is about the function,
    not the macro)."""
    return written_span(code.span)


def written_span(s):
    """Span ``s`` without its "in expansion of" chain."""
    if s is None or s.expansion is None:
        return s
    return Span(s.source, s.line, s.col, s.end_line, s.end_col)


def misfit(err, code, site, name=None):
    """Locate ``err``, about a call of the function of ``code`` that does
    not fit it: at ``site()`` (the caller's span, or None) with a note
    showing where the function is defined, or at the definition when there
    is no site.  ``name``: what messages call the function."""
    err.span = site() if site else None
    defined = definition_span(code)
    if err.span is None:
        err.span = defined
    elif defined is not None:
        err.add_note(f"{name or label(code)} is defined here", defined)


def _arity_error(name, want, got, span):
    return SxTypeError(f"{name} takes {want} argument{'s' * (want != 1)}, got {got}", span)


def _bind_kwargs(code, args, names, values, span, name=None):
    """Positional list for ``code`` from positional args plus keyword args
    (``name``: what messages call the function, by default its label)."""
    n = code.nparams
    name = name or label(code)
    if len(args) > n:
        raise _arity_error(name, n, len(args) + len(names), span)
    out = list(args) + [_MISSING] * (n - len(args))
    for k, v in zip(names, values):
        try:
            i = code.param_names.index(k)
        except ValueError:
            raise SxTypeError(f"{name} has no parameter named {k}", span) from None
        if out[i] is not _MISSING:
            raise SxTypeError(f"{name} got parameter {k} twice", span)
        out[i] = v
    missing = [code.param_names[i] or f"#{i}" for i, v in enumerate(out) if v is _MISSING]
    if missing:
        raise SxTypeError(f"{name} is missing argument(s) {' '.join(missing)}", span)
    return out


_MISSING = object()
MISSING = _MISSING   # what DERIVE[0] gives for a name it cannot make


def _call_other(f, args, kw, span):
    """Call a primitive or record constructor (or fail: not a function)."""
    tf = type(f)
    if tf is Prim:
        n = len(args)
        if n < f.min_args or (f.max_args is not None and n > f.max_args):
            raise SxTypeError(f"{f.name} takes {f.arity_text()}, got {n}", span)
        if kw:
            for k in kw:
                if k not in f.kwargs:
                    raise SxTypeError(f"{f.name} has no keyword argument :{k}", span)
            return f.impl(*args, **kw)
        return f.impl(*args)
    if tf is RecordType:
        return f.make(f.arrange(args, kw or {}))
    raise SxTypeError(f"cannot call a value of type {type_name(f)}", span)


def run(fn, args, kwargs=None, name=None, site=None):
    """Call ``fn`` (a closure, primitive or record type) on ``args``.

    A call that does not fit ``fn``'s parameters is an error at ``site()``
    (the caller's span: ``site`` is called only then), with a note showing
    where ``fn`` is defined; at the definition if there is no site.  ``name``
    is what messages call ``fn`` (by default, its :func:`label`)."""
    if type(fn) is not Closure:
        return _call_other(fn, list(args), kwargs, None)
    code = fn.code
    if kwargs or len(args) != code.nparams:
        try:
            if not kwargs:
                raise _arity_error(name or label(code), code.nparams, len(args), None)
            loc = _bind_kwargs(code, list(args), tuple(kwargs), tuple(kwargs.values()), None,
                               name)
        except SxTypeError as e:
            misfit(e, code, site, name)
            raise
    else:
        loc = list(args)
    loc.extend([None] * (code.nlocals - code.nparams))
    return _loop(code, loc, fn.free)


def _loop(code, loc, free):
    budget = _BUDGET.get()
    frames = []
    peak = 0
    tail_from = None   # the last tail call, which left no frame behind
    ins = code.instrs
    pc = 0
    stk = []
    try:
        while True:
            op, arg = ins[pc]
            pc += 1
            if op == LOCAL:
                stk.append(loc[arg])
            elif op == CONST:
                stk.append(arg)
            elif op == PRIM:
                impl, n = arg
                if n == 2:
                    b = stk.pop()
                    stk[-1] = impl(stk[-1], b)
                elif n == 1:
                    stk[-1] = impl(stk[-1])
                elif n:
                    args = stk[-n:]
                    del stk[-n:]
                    stk.append(impl(*args))
                else:
                    stk.append(impl())
            elif op == FREE:
                stk.append(free[arg])
            elif op == STORE:
                loc[arg] = stk.pop()
            elif op == CALL or op == TAILCALL:
                if type(arg) is int:
                    n, kw = arg, None
                else:
                    n, names = arg
                    kw = stk[-len(names):]
                    del stk[-len(names):]
                if n:
                    args = stk[-n:]
                    del stk[-n:]
                else:
                    args = []
                f = stk.pop()
                if type(f) is Closure:
                    if budget is not None:
                        budget.left -= 1
                        if budget.left < 0:
                            raise budget.exhausted()
                    c2 = f.code
                    if kw is not None:
                        args = _bind_kwargs(c2, args, names, kw, code.forms[pc - 1].span)
                    elif n != c2.nparams:
                        raise _arity_error(label(c2), c2.nparams, n, code.forms[pc - 1].span)
                    if op == CALL:
                        frames.append((code, ins, pc, loc, stk, free))
                        if len(frames) > peak:
                            peak = len(frames)
                            if peak > STATS["peak_frames"]:
                                STATS["peak_frames"] = peak
                            if peak > MAX_FRAMES:
                                raise SxRuntimeError(
                                    f"recursion deeper than {MAX_FRAMES} calls", None)
                        stk = []
                    else:
                        tail_from = code.forms[pc - 1]
                        if stk:
                            stk = []
                    code = c2
                    ins = c2.instrs
                    pc = 0
                    if c2.nlocals > c2.nparams:
                        args.extend([None] * (c2.nlocals - c2.nparams))
                    loc = args
                    free = f.free
                    continue
                if kw is None and type(f) is Prim and f.min_args <= n and (
                        f.max_args is None or n <= f.max_args):
                    v = f.impl(*args)
                else:
                    v = _call_other(f, args, None if kw is None else dict(zip(names, kw)),
                                    code.forms[pc - 1].span)
                if op == CALL:
                    stk.append(v)
                else:
                    if not frames:
                        return v
                    code, ins, pc, loc, stk, free = frames.pop()
                    stk.append(v)
            elif op == RETURN:
                v = stk.pop()
                if not frames:
                    return v
                code, ins, pc, loc, stk, free = frames.pop()
                stk.append(v)
            elif op == JUMP_IF_FALSE:
                c = stk.pop()
                if c is False:
                    pc = arg
                elif c is not True:
                    if type(c) is np.bool_:
                        if not c:
                            pc = arg
                    else:
                        raise SxTypeError(f"if expects a bool condition, got {type_name(c)}",
                                          code.forms[pc - 1].span)
            elif op == JUMP:
                pc = arg
            elif op == GLOBAL:
                v = code.globals.get(arg, _MISSING)
                if v is _MISSING and DERIVE[0] is not None:
                    v = DERIVE[0](code.globals, arg)
                if v is _MISSING:
                    raise SxNameError(f"{arg} is used before its definition has run",
                                      code.forms[pc - 1].span)
                stk.append(v)
            elif op == UNPACK:
                v = stk.pop()
                if type(v) is not tuple or len(v) != arg:
                    if v is not ZERO:
                        raise SxTypeError(f"cannot destructure {type_name(v)} into {arg} names",
                                          code.forms[pc - 1].span)
                    v = (ZERO,) * arg   # the zero of a tuple has zero parts
                stk.extend(reversed(v))
            elif op == TUPLE:
                if arg:
                    v = tuple(stk[-arg:])
                    del stk[-arg:]
                else:
                    v = ()
                stk.append(v)
            elif op == FIELD:
                v = stk.pop()
                rt = getattr(type(v), "_sx_type", None)
                if rt is None and v is ZERO:
                    stk.append(ZERO)   # the zero of a record has zero fields
                    continue
                if rt is None:
                    raise SxTypeError(f"field access .{arg} on {type_name(v)}, not a record",
                                      code.forms[pc - 1].span)
                i = rt.index.get(arg)
                if i is None:
                    raise SxTypeError(f"record {rt.name} has no field {arg} "
                                      f"(fields: {' '.join(rt.fields)})",
                                      code.forms[pc - 1].span)
                stk.append(v._values[i])
            elif op == CLOSURE:
                c2, caps = arg
                stk.append(Closure(c2, tuple([loc[i] if k == LOCAL else free[i]
                                              for k, i in caps])))
            elif op == LETREC:
                made = []
                for slot, c2, caps in arg:
                    clo = Closure(c2, None)
                    loc[slot] = clo
                    made.append((clo, caps))
                for clo, caps in made:
                    clo.free = tuple([loc[i] if k == LOCAL else free[i] for k, i in caps])
            else:
                raise AssertionError(f"bad opcode {op}")
    except MacroSyntaxError:
        raise   # about the macro's input: expand_macros locates it at the call
    except SxError as e:
        form = code.forms[pc - 1] if pc else None
        locate(e, form)
        if e.span is None:
            # code made at run time (e.g. by grad) has no source: blame the
            # innermost call that has one
            calls = [fr[0].forms[fr[2] - 1] for fr in reversed(frames)] + [tail_from]
            e.span = next((c.span for c in calls if getattr(c, "span", None)), None)
        # the chain of calls, innermost first; calls from generated code (a
        # backpropagator, a function made at run time: no span) are left
        # out, the nearest located call stands for them
        shown = 0
        for c, _, fpc, *_ in reversed(frames):
            span = getattr(c.forms[fpc - 1], "span", None)
            if span is None or c.span is None:
                continue
            shown += 1
            if shown <= 4:
                e.add_note(f"called from {label(c)}", span)
        if shown > 4:
            e.add_note(f"... and {shown - 4} more calls", None)
        raise


def locate(e, form):
    """Attach the span (and, for shapes, the text) of ``form`` to a primitive's error."""
    if e.span is not None:
        return
    e.span = getattr(form, "span", None)
    if isinstance(e, PrimShapeError):
        from .printer import dumps

        text = source_text(form)
        if text is None:
            try:
                text = dumps(form) if isinstance(form, Seq) else "?"
            except ValueError:
                text = "?"
        if len(text) > 60:
            text = text[:57] + "..."
        e.message = f"shape mismatch in {text}: {e.message}"
        e.args = (e.message,)
    return e

