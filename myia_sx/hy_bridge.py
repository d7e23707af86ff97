"""hy_bridge: Hy models <-> forms, and the run-time half of ``myia_sx/sx.hy``.

Input: Hy models (what ``hy.read_many`` gives, or what Hy code builds).
Output: forms (:mod:`myia_sx.forms`) with spans, the same tree our reader gives
for the same text; and back (:func:`to_hy`), so a Hy function can act as a
macro over forms (:func:`hy_macro`).

Invariants:
  - Hy is imported lazily, inside the functions that need it: importing
    :mod:`myia_sx` or running ``.sx`` code never imports Hy;
  - Hy's positions (1-based, end column inclusive) become spans (1-based, end
    exclusive) in a :class:`Source` that carries the file text when it is
    known, so errors show the ``.hy`` line and a caret; a model without a
    position (one a Hy function built) gets the span of the model around it;
  - what the reader would reject is rejected here too, with a message naming
    the feature at the model's position: Hy-only models (sets, dicts, tuples
    ``#(...)``, f-strings, complex numbers, byte strings, bracket strings,
    unpacking ``#*``) and, when the source text is known, tokens Hy reads but
    ``.sx`` does not (``1,000``, ``007``, raw strings);
  - a dotted symbol ``a.b`` (Hy reads it as ``(. a b)``, all three models at
    the token's position) becomes ``(. a b)`` with the spans our reader gives,
    and so do the reader prefixes ``'x`` ```x`` ``~x`` ``~@x``;
  - conversion is iterative (depth bounded by memory).

The macros of ``sx.hy`` convert their arguments at expansion time and emit a
call to :func:`function_from_packed` or :func:`module_from_packed` whose
argument (a tuple of strings and integers, see :func:`pack`) rebuilds the
forms with their spans when the Hy code runs: Hy's quoting would lose them.
"""

from __future__ import annotations

import fractions
import re

from . import api, errors
from .errors import SxError, SxSyntaxError, entry_point
from .forms import Form, Keyword, Seq, Source, Span, Symbol, Vec, is_form, span_of
from .printer import dumps, symbol_readable
from .reader import parse_number, read

_PREFIX_WIDTH = {"quote": 1, "quasiquote": 1, "unquote": 1, "unquote-splice": 2}
_UNPACK = {"unpack-iterable": "#*", "unpack-mapping": "#**"}
_FRACTION = re.compile(r"[+-]?[0-9]+/[0-9]+\Z")
_KEYWORD_BAD = re.compile(r"[\s()\[\]{}\";'`~]")
_ATOM_NAMES = {"True": True, "False": False, "None": None}
_PACK_TAG = "myia_sx.hy_bridge/1"


def _models():
    """The module ``hy.models`` (imported on first use)."""
    import hy.models

    return hy.models


# ---------------------------------------------------------------- Hy -> forms

def from_hy(model, filename=None, source=None, span=None):
    """The form for the Hy model ``model``.

    ``filename`` names the file the model was read from (``"<string>"`` if
    not given); ``source`` is its text (a ``str`` or a :class:`Source`); when
    it is not given and ``filename`` is a readable file, the file is read.
    ``span`` is the span given to a model that has no position of its own and
    no enclosing model with one.  Plain Python values (numbers, strings,
    lists) and forms are accepted too, so a Hy function may return them.
    """
    return _Converter(_source(filename, source)).convert(model, span)


def read_hy(text: str, filename: str = "<string>") -> tuple:
    """Read ``text`` with Hy's reader and convert every model (see :func:`from_hy`)."""
    import hy

    conv = _Converter(Source(filename, text))
    return tuple(conv.convert(m, None) for m in hy.read_many(text, filename=filename))


def _source(filename, source):
    """The :class:`Source` for :func:`from_hy`'s ``filename`` and ``source``."""
    if isinstance(source, Source):
        return source
    name = filename if filename is not None else "<string>"
    if source is None and filename is not None:
        try:
            with open(filename, encoding="utf-8") as f:
                source = f.read()
        except (OSError, ValueError):
            source = ""
    return Source(name, source or "")


class _Frame:
    """A sequence being converted: its class, span, models left, items done."""

    __slots__ = ("cls", "i", "items", "models", "span")

    def __init__(self, cls, span, models, items):
        self.cls = cls
        self.span = span
        self.models = models
        self.i = 0
        self.items = items


class _Converter:
    """Hy models -> forms against one :class:`Source` (see :func:`from_hy`)."""

    def __init__(self, src: Source):
        self.src = src
        self.M = _models()

    def convert(self, root, span):
        """The form of ``root``; ``span`` is inherited by models without one."""
        leaf, frame = self.visit(root, span)
        if frame is None:
            return leaf
        stack = [frame]
        while True:
            f = stack[-1]
            if f.i < len(f.models):
                m = f.models[f.i]
                f.i += 1
                leaf, sub = self.visit(m, f.span)
                if sub is None:
                    f.items.append(leaf)
                else:
                    stack.append(sub)
                continue
            stack.pop()
            form = f.cls(f.items, f.span)
            if not stack:
                return form
            stack[-1].items.append(form)

    def span_of(self, m, inherited):
        """The span of model ``m``: its own position, else ``inherited``."""
        carried = getattr(m, "_sx_span", None)
        if getattr(m, "_start_line", None) is None:
            return carried if carried is not None else inherited
        line, col = m.start_line, m.start_column
        end_line, end_col = m.end_line, m.end_column + 1
        if carried is not None and (carried.line, carried.col, carried.end_line,
                                    carried.end_col) == (line, col, end_line, end_col):
            return carried
        return Span(self.src, line, col, end_line, end_col)

    def fail(self, message, span):
        """Raise an :class:`SxSyntaxError` at ``span``."""
        raise SxSyntaxError(message, span)

    def token(self, m):
        """The source text of a one-line model with its own position, or None."""
        if getattr(m, "_start_line", None) is None or m.start_line != m.end_line:
            return None
        text = self.src.line(m.start_line)
        return text[m.start_column - 1:m.end_column] or None

    def visit(self, m, inherited):
        """``(form, None)`` for a leaf, ``(None, frame)`` for a sequence."""
        M = self.M
        span = self.span_of(m, inherited)
        t = type(m)
        if t is M.Expression:
            return self.expression(m, span)
        if t is M.List:
            return None, _Frame(Vec, span, tuple(m), [])
        if t is M.Symbol:
            return self.symbol(str(m), span, m), None
        if t is M.Keyword:
            name = m.name
            if not name or name[0] == ":":
                self.fail(f"malformed keyword :{name}", span)
            if _KEYWORD_BAD.search(name):
                self.fail(f"keyword :{name} cannot be written in .sx source", span)
            return Keyword(name, span), None
        if t is M.Integer or t is M.Float:
            self.check_number(m, span)
            return (int(m) if t is M.Integer else float(m)), None
        if t is M.String:
            self.check_string(m, span)
            return str(m), None
        if isinstance(m, M.Object):
            self.fail(_hy_only(m, M), span)
        return self.python_value(m, span)

    def python_value(self, x, span):
        """A plain Python value or a form, as a Hy function may return it."""
        if x is None or type(x) in (bool, int, float, str):
            return x, None
        if type(x) in (Symbol, Keyword) or (isinstance(x, Seq) and is_form(x)):
            return x, None
        if type(x) is list:
            return None, _Frame(Vec, span, tuple(x), [])
        if isinstance(x, fractions.Fraction):
            self.fail(f"fractions ({x}) are Hy-only values", span)
        self.fail(f"a Python {type(x).__name__} is not a form", span)

    def symbol(self, name, span, m=None):
        """The form for a symbol token ``name``, as our reader reads it."""
        if name in _ATOM_NAMES:
            return _ATOM_NAMES[name]
        if _FRACTION.match(name):
            self.fail(f"fractions ({name}) are Hy-only syntax", span)
        try:
            value = parse_number(name)
        except ValueError as e:
            self.fail(str(e), span)
        if value is not None:
            return value
        if "." in name and name.strip("."):
            return self.dotted(name.split("."), name, span)
        if not symbol_readable(name):
            self.fail(f"symbol {name!r} cannot be written in .sx source", span)
        sym = Symbol(name, span)
        marks = getattr(m, "_sx_marks", ())
        if marks:
            sym.marks = marks
        return sym

    def dotted(self, parts, text, span, models=None):
        """``(. a b ...)`` for the dotted name ``text`` split into ``parts``
        (``models``: the Hy models of ``.`` and the parts, when there are any)."""
        if not all(isinstance(p, str) and symbol_readable(p) for p in parts):
            self.fail(f"malformed dotted name {text}", span)
        models = models or [None] * (len(parts) + 1)
        exact = (span is not None and span.line == span.end_line
                 and span.end_col - span.col == len(text))
        items = [Symbol(".", self.carried(models[0], span))]
        col = span.col if exact else 0
        for part, model in zip(parts, models[1:]):
            part_span = Span(span.source, span.line, col, span.line, col + len(part)) \
                if exact else span
            items.append(Symbol(part, self.carried(model, part_span)))
            col += len(part) + 1
        return Form(items, span)

    def carried(self, model, span):
        """The span ``model`` carries from :func:`to_hy` if it is where ``span``
        is, else ``span``."""
        own = getattr(model, "_sx_span", None)
        if own is not None and span is not None and (own.line, own.col, own.end_line,
                                                     own.end_col) == (
                span.line, span.col, span.end_line, span.end_col):
            return own
        return span

    def reader_made(self, m):
        """True if the expression ``m`` has the layout Hy's reader gives ``'x``,
        ``a.b`` and ``#* x``: its head at its own start (and not placed there
        by :func:`to_hy` with every child at its own span)."""
        head = m[0] if len(m) else None
        if (type(head) is not self.M.Symbol or getattr(m, "_start_line", None) is None
                or getattr(head, "_start_line", None) is None
                or (head.start_line, head.start_column) != (m.start_line, m.start_column)):
            return False
        return not all(getattr(x, "_sx_span", None) is not None
                       and self.span_of(x, None) is x._sx_span for x in m)

    def expression(self, m, span):
        """An expression; reader-made ones (``'x``, ``a.b``, ``#* x``) are fixed up."""
        if not self.reader_made(m):
            return None, _Frame(Form, span, tuple(m), [])
        head = m[0]
        name = str(head)
        whole = (head.end_line, head.end_column) == (m.end_line, m.end_column)
        if name in _PREFIX_WIDTH and len(m) == 2 and whole:
            width = _PREFIX_WIDTH[name]
            sym = Symbol(name, self.carried(head, Span(self.src, span.line, span.col,
                                                       span.line, span.col + width)))
            return None, _Frame(Form, span, (m[1],), [sym])
        if name in _UNPACK and len(m) == 2 and whole:
            self.fail(f"unpacking {_UNPACK[name]} is Hy-only syntax", span)
        if name and not name.strip(".") and all(
                getattr(x, "_start_line", None) is not None
                and (x.start_line, x.start_column, x.end_line, x.end_column)
                == (m.start_line, m.start_column, m.end_line, m.end_column)
                for x in m):
            parts = [str(x) if type(x) is self.M.Symbol else None for x in m[1:]]
            text = self.token(m) or ".".join(p or "" for p in parts)
            if name != ".":
                self.fail(f"malformed dotted name {text}", span)
            return self.dotted(parts, text, span, list(m)), None
        return None, _Frame(Form, span, tuple(m), [])

    def check_number(self, m, span):
        """Reject a number token Hy reads and our reader does not (``1,000``)."""
        tok = self.token(m)
        if tok is not None:
            try:
                parse_number(tok)
            except ValueError as e:
                self.fail(str(e), span)

    def check_string(self, m, span):
        """Reject bracket strings, and raw strings when the source shows them."""
        if m.brackets is not None:
            self.fail("bracket strings #[[...]] are Hy-only syntax", span)
        if getattr(m, "_start_line", None) is not None:
            start = self.src.line(m.start_line)[m.start_column - 1:m.start_column + 1]
            if start.lower() == 'r"':
                self.fail('raw strings (r"...") are Hy-only syntax', span)


def _hy_only(m, M):
    """The message for a Hy-only model ``m``."""
    t = type(m)
    if t is M.FString:
        kind = "t-strings" if getattr(m, "is_tstring", False) else "f-strings"
        return f"{kind} are Hy-only syntax"
    if t is M.Complex:
        return f"complex literals ({complex(m)!r}) are Hy-only syntax"
    messages = {
        M.Set: "set literals #{...} are Hy-only syntax",
        M.Dict: "dict literals {...} are Hy-only syntax",
        M.Tuple: "tuple literals #(...) are Hy-only syntax (write [a b] or (tuple a b))",
        M.Bytes: 'byte strings (b"...") are Hy-only syntax',
    }
    return messages.get(t, f"Hy {t.__name__} models have no .sx form")


# ---------------------------------------------------------------- forms -> Hy

def to_hy(form):
    """The Hy model of ``form``, positions taken from its spans.

    Forms become ``Expression``, vectors ``List``, atoms ``Integer``,
    ``Float``, ``String`` and the symbols ``True``/``False``/``None``.  An
    atom gets the position of the form around it.  Each model also remembers
    its span (and a symbol its hygiene marks) so that :func:`from_hy` gives
    back the same spans for models a Hy function passes through unchanged.
    """
    M = _models()

    def leaf(x, span):
        """The model of the non-sequence form ``x`` (``span``: its form's)."""
        t = type(x)
        if t is Symbol:
            m = M.Symbol(x.name, from_parser=True)
            if getattr(x, "marks", ()):
                m._sx_marks = x.marks
        elif t is Keyword:
            m = M.Keyword(x.name, from_parser=True)
        elif t is bool or x is None:
            m = M.Symbol(str(x), from_parser=True)
        elif t is int:
            m = M.Integer(x)
        elif t is float:
            m = M.Float(x)
        elif t is str:
            m = M.String(x)
        else:
            raise TypeError(f"to_hy: {x!r} is not a form")
        return _place(m, getattr(x, "span", None) or span)

    if not isinstance(form, Seq):
        return leaf(form, None)
    stack = [(form, [], iter(form.items))]
    while True:
        seq, built, rest = stack[-1]
        for x in rest:
            if isinstance(x, Seq):
                stack.append((x, [], iter(x.items)))
                break
            built.append(leaf(x, seq.span))
        else:
            stack.pop()
            cls = M.Expression if type(seq) is Form else M.List
            model = _place(cls(built), seq.span)
            if _reader_made(seq):
                for part in model if seq.items[0].name == "." else model[:1]:
                    _position(part, seq.span)
            if not stack:
                return model
            stack[-1][1].append(model)


def _reader_made(form) -> bool:
    """True if ``form`` is laid out as our reader reads ``a.b`` or ``'x``
    (Hy's reader gives all of ``a.b``'s models, and the ``quote`` of ``'x``,
    the position of the whole token, and :func:`to_hy` does the same)."""
    s, items = form.span, form.items
    if type(form) is not Form or s is None or not items or type(items[0]) is not Symbol:
        return False
    h = items[0].span
    if h is None or (h.line, h.col) != (s.line, s.col):
        return False
    width = _PREFIX_WIDTH.get(items[0].name)
    if width is not None:
        arg = getattr(items[1], "span", None) if len(items) == 2 else None
        return (len(items) == 2 and h.end_line == h.line and h.end_col == h.col + width
                and (arg is None or (arg.line, arg.col) == (h.line, h.end_col)))
    if items[0].name != "." or len(items) < 3 or (h.end_line, h.end_col) != (
            s.end_line, s.end_col) or s.line != s.end_line:
        return False
    col = s.col
    for part in items[1:]:
        p = getattr(part, "span", None)
        if type(part) is not Symbol or p is None or (p.line, p.col, p.end_line, p.end_col) != (
                s.line, col, s.line, col + len(part.name)):
            return False
        col += len(part.name) + 1
    return col - 1 == s.end_col


def _position(model, span):
    """Give ``model`` the position of ``span`` (Hy's end column is inclusive)."""
    model.start_line, model.start_column = span.line, span.col
    model.end_line, model.end_column = span.end_line, span.end_col - 1


def _place(model, span):
    """Give ``model`` the position of ``span`` and remember ``span`` on it."""
    if span is not None:
        _position(model, span)
        model._sx_span = span
    return model


def hy_macro(fn):
    """A macro over forms (a callable taking forms, returning a form) from the
    Hy function ``fn`` taking and returning Hy models.

    The arguments are converted with :func:`to_hy` and the result with
    :func:`from_hy`; a model the function builds without a position is placed
    at the first argument's span, in that argument's source.
    """
    def macro(*forms):
        """Run the Hy function on the argument forms; give back a form."""
        span = next((s for s in map(span_of, forms) if s is not None), None)
        result = fn(*map(to_hy, forms))
        return from_hy(result, source=span.source if span else None, span=span)

    macro.__name__ = getattr(fn, "__name__", "hy_macro")
    macro.__doc__ = getattr(fn, "__doc__", None)
    return macro


# ------------------------------------------------- the macros of myia_sx/sx.hy

def pack(forms, filename: str, text: str | None) -> tuple:
    """A tuple of strings and integers from which :func:`unpack` rebuilds
    ``forms`` with their spans (in a :class:`Source` named ``filename``).

    It holds the forms' text (:func:`myia_sx.dumps`), their spans in preorder
    (four integers each, zeros for none), and the lines of ``text`` the spans
    cover, so error reports can show them without reading the file again.
    """
    spans = []
    for s in _preorder(forms):
        spans.append("0 0 0 0" if s is None else f"{s.line} {s.col} {s.end_line} {s.end_col}")
    first, lines = _covered_lines(forms, text)
    return (_PACK_TAG, "forms", filename, first, lines,
            " ".join(dumps(f) for f in forms), " ".join(spans))


def pack_error(err: SxError, filename: str, text: str | None) -> tuple:
    """A tuple from which :func:`unpack` re-raises ``err`` (an :class:`SxError`)."""
    s = err.span
    where = (0, 0, 0, 0) if s is None else (s.line, s.col, s.end_line, s.end_col)
    first, lines = (1, "") if s is None else _lines_of(text, s.line, s.end_line)
    return (_PACK_TAG, "error", filename, first, lines, type(err).__name__, err.message,
            *where)


def unpack(packed: tuple):
    """The forms that :func:`pack` packed (or the error that
    :func:`pack_error` packed, raised)."""
    tag, kind, filename, first, lines = packed[:5]
    if tag != _PACK_TAG:
        raise ValueError(f"not a packed form tuple: {tag!r}")
    src = Source(filename, "\n" * (first - 1) + lines)
    if kind == "error":
        cls_name, message, line, col, end_line, end_col = packed[5:]
        span = Span(src, line, col, end_line, end_col) if line else None
        raise getattr(errors, cls_name)(message, span)
    text, span_text = packed[5:]
    forms = read(text, filename)
    numbers = list(map(int, span_text.split()))
    for i, node in enumerate(_preorder_nodes(forms)):
        line, col, end_line, end_col = numbers[4 * i:4 * i + 4]
        node.span = Span(src, line, col, end_line, end_col) if line else None
    return forms


def _preorder_nodes(forms):
    """Symbols, keywords and sequences of ``forms`` in preorder (iterative)."""
    stack = list(reversed(forms))
    while stack:
        x = stack.pop()
        if isinstance(x, (Symbol, Keyword)):
            yield x
        elif isinstance(x, Seq):
            yield x
            stack.extend(reversed(x.items))


def _preorder(forms):
    """The spans of :func:`_preorder_nodes`."""
    return [x.span for x in _preorder_nodes(forms)]


def _covered_lines(forms, text):
    """``(first line, text of the lines)`` of ``text`` that ``forms``' spans cover."""
    spans = [s for s in _preorder(forms) if s is not None]
    if not spans:
        return 1, ""
    return _lines_of(text, min(s.line for s in spans), max(s.end_line for s in spans))


def _lines_of(text, first, last):
    """``(first, lines first..last of text)``, or ``(1, "")`` without text."""
    if not text:
        return 1, ""
    return first, "\n".join(text.split("\n")[first - 1:last])


@entry_point
def module_from_packed(packed: tuple, macros: dict | None = None):
    """The module of the forms of an ``(sx.module ...)`` (run-time half);
    ``macros`` maps names to Hy functions over models (see :func:`hy_macro`)."""
    wrapped = {name: hy_macro(fn) for name, fn in (macros or {}).items()}
    return api.load_forms(unpack(packed), packed[2], macros=wrapped)


@entry_point
def function_from_packed(packed: tuple):
    """The function of an ``(sx.defn name ...)`` (run-time half)."""
    forms = unpack(packed)
    module = api.load_forms(forms, packed[2])
    return module[forms[0].items[1].name]


def expand(compiler, kind: str):
    """The code for the ``sx.hy`` macro call ``compiler.this`` (expansion-time half).

    ``kind`` is ``"defn"`` (the code defines the Hy name and evaluates to the
    function) or ``"module"`` (it evaluates to the module; a leading
    ``:macros EXPR`` is Hy code giving a dict of Hy functions to use as sx
    macros, see :func:`module_from_packed`).  User Hy macros in
    the call are expanded first (:func:`expand_hy_macros`); an error in the
    sx code is raised when the code runs, as the :class:`SxError` it is.
    """
    import hy

    M = hy.models
    call = compiler.this
    filename = compiler.filename or "<string>"
    text = compiler.source
    conv = _Converter(Source(filename, text or ""))
    args = list(call[1:])
    options = []
    if kind == "module" and len(args) >= 2 and args[0] == M.Keyword("macros"):
        options, args = [args[1]], args[2:]
    args = [expand_hy_macros(a, compiler) for a in args]
    try:
        if kind == "defn":
            head = M.Symbol("defn")
            head.replace(call[0])
            forms = (conv.convert(M.Expression([head, *args]).replace(call, False), None),)
        else:
            forms = tuple(conv.convert(a, conv.span_of(call, None)) for a in args)
        packed = pack(forms, filename, text)
        runner = "function_from_packed" if kind == "defn" else "module_from_packed"
    except SxError as e:
        packed = pack_error(e, filename, text)
        runner = "module_from_packed"
    # the code is placed at the head of the macro call, so a traceback
    # through it shows that line of the .hy file
    where = (call.start_line, call.start_column, call[0].end_line, call[0].end_column)
    runner = _placed(hy.read(f"hy.I.myia_sx/hy_bridge.{runner}"), where)
    code = _placed(M.Expression([runner, _placed(hy.as_model(packed), where), *options]),
                   where, deep=False)
    if kind == "defn" and args and type(args[0]) is M.Symbol:
        setv = _placed(M.Expression([_placed(M.Symbol("setv"), where), args[0], code]), where,
                       deep=False)
        return _placed(M.Expression([_placed(M.Symbol("do"), where), setv, args[0]]), where,
                       deep=False)
    return code


def _placed(model, where, deep=True):
    """``model`` given the position ``where`` (start line, start column, end
    line, end column), and with ``deep`` every model in it too."""
    stack = [model]
    while stack:
        m = stack.pop()
        m.start_line, m.start_column, m.end_line, m.end_column = where
        if deep and isinstance(m, (tuple, list)):
            stack.extend(m)
    return model


def expand_hy_macros(model, compiler):
    """``model`` with every call of a user Hy macro expanded by Hy.

    A user Hy macro is one defined or required in the module being compiled
    (not Hy's core macros, which share names with sx forms, and not those of
    ``sx.hy``).  Quoted data (``quote``, ``quasiquote``) is left alone.
    """
    import hy
    from hy.macros import macroexpand

    M = hy.models
    if isinstance(model, M.Expression):
        while _user_macro(model, compiler):
            model = macroexpand(model, compiler.module, compiler, once=True)
        if not isinstance(model, M.Expression) or (
                len(model) and model[0] in (M.Symbol("quote"), M.Symbol("quasiquote"))):
            return model
    if isinstance(model, (M.Expression, M.List)):
        return type(model)([expand_hy_macros(x, compiler) for x in model]).replace(
            model, False)
    return model


def _user_macro(model, compiler):
    """True if ``model`` (an expression) calls a user Hy macro (see
    :func:`expand_hy_macros`)."""
    import hy

    M = hy.models
    if not len(model):
        return False
    head = model[0]
    if (type(head) is M.Expression and len(head) > 1 and head[0] == M.Symbol(".")
            and all(type(x) is M.Symbol for x in head)):
        key = ".".join(map(hy.mangle, head[1:]))
    elif type(head) is M.Symbol:
        key = hy.mangle(head)
    else:
        return False
    tables = [getattr(compiler, "extra_macros", None) or {}]
    tables += [s.get("macros", {}) for s in getattr(compiler, "local_state_stack", ())]
    tables.append(getattr(compiler.module, "_hy_macros", {}))
    fn = next((t[key] for t in tables if key in t), None)
    return fn is not None and getattr(fn, "__module__", None) != "myia_sx.sx"
