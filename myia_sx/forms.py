"""Forms: the one data structure for source, IR at every stage, and exchange.

A form is one of
  - an atom: ``int``, ``float``, ``bool``, ``str`` (a string literal), ``None``;
  - a :class:`Symbol` or a :class:`Keyword` (both carry a span);
  - a :class:`Form` (``( ... )``) or a :class:`Vec` (``[ ... ]``): an immutable
    sequence of forms with a span.

Spans live on symbols, keywords and sequences.  Atoms are plain Python values
(so macro code can do arithmetic on them); an atom's position is that of the
form that contains it.  Structural equality (``==``) ignores spans but tells
``True`` from ``1``, ``1`` from ``1.0``, ``0.0`` from ``-0.0``, and treats
``NaN`` as equal to itself so that ``loads(dumps(x)) == x`` holds for every
form.  Equality and hashing are iterative, so forms nested 10,000 deep compare
without touching Python's recursion limit.
"""

from __future__ import annotations

import gc
import math
import re
import sys
from contextlib import contextmanager


_LINE_BREAK = re.compile(r"\r\n?|\n")


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector paused for a while, then resumed as
    it was.  Reading and compiling build many long-lived objects and few
    cycles: each collection would walk all of them again, and did cost more
    than the reader itself on large modules.  On resuming, what was built
    goes straight to the oldest generation (``gc.freeze`` then
    ``gc.unfreeze``, unless something else holds objects frozen), so the
    young collections that follow do not walk it either; it is collected
    as usual from then on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        gc.enable()


class Source:
    """A named text that spans point into (a file, or ``<string>``)."""

    __slots__ = ("name", "text", "_lines")

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self._lines = None

    def line(self, n: int) -> str:
        """The text of 1-based line ``n`` without its line break ('' if absent)."""
        if self._lines is None:
            # LF, CRLF and CR end a line, as for the reader (str.splitlines
            # would also split at \f, \x1c, U+2028, ...).
            self._lines = _LINE_BREAK.split(self.text)
        if 1 <= n <= len(self._lines):
            return self._lines[n - 1]
        return ""

    def __repr__(self):
        return f"Source({self.name!r})"


class Span:
    """A region of a source: 1-based line and column, end exclusive.

    ``expansion`` is None for text the user wrote.  A form that a macro
    introduced carries the span of the macro call, with ``expansion`` set to
    ``(macro name, call span)`` (the call span may itself come from an
    expansion), so errors in generated code point at the user's source and
    name the macros that produced it.
    """

    __slots__ = ("source", "line", "col", "end_line", "end_col", "expansion")

    def __init__(self, source, line, col, end_line, end_col, expansion=None):
        self.source = source
        self.line = line
        self.col = col
        self.end_line = end_line
        self.end_col = end_col
        self.expansion = expansion

    @property
    def file(self) -> str:
        return self.source.name if self.source is not None else "<unknown>"

    def __repr__(self):
        return f"<{self.file}:{self.line}:{self.col}-{self.end_line}:{self.end_col}>"


class Symbol:
    """A name.  Names are interned strings; equality is by name alone.

    ``marks`` is the macro expander's hygiene bookkeeping (a tuple of
    expansion numbers, empty for symbols the user wrote): it never shows in
    printing or equality, and no symbol leaving ``expand_macros`` has any.
    """

    __slots__ = ("name", "span", "marks")

    def __init__(self, name: str, span: Span | None = None, marks: tuple = ()):
        self.name = sys.intern(name)
        self.span = span
        self.marks = marks

    def __eq__(self, other):
        return type(other) is Symbol and other.name is self.name

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("sym", self.name))

    def __repr__(self):
        return f"Symbol({self.name!r})"

    def __str__(self):
        return self.name


class Keyword:
    """A keyword such as ``:axis`` (name stored without the colon)."""

    __slots__ = ("name", "span")

    def __init__(self, name: str, span: Span | None = None):
        self.name = sys.intern(name)
        self.span = span

    def __eq__(self, other):
        return type(other) is Keyword and other.name is self.name

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("kw", self.name))

    def __repr__(self):
        return f"Keyword({self.name!r})"

    def __str__(self):
        return ":" + self.name


class Seq:
    """Base of :class:`Form` and :class:`Vec`: an immutable sequence of forms.

    ``_hash`` caches the structural hash, ``_free`` the free names
    (:func:`myia_sx.core.free_names`), both computed on demand: the form
    never changes, so neither does either."""

    __slots__ = ("items", "span", "_hash", "_free")

    def __init__(self, items=(), span: Span | None = None):
        self.items = tuple(items)
        self.span = span
        self._hash = None
        self._free = None

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return type(self)(self.items[i], self.span)
        return self.items[i]

    def __bool__(self):
        return bool(self.items)

    def __eq__(self, other):
        return form_eq(self, other)

    def __ne__(self, other):
        return not form_eq(self, other)

    def __hash__(self):
        if self._hash is None:
            _hash_seqs(self)
        return self._hash

    def __repr__(self):
        # a debugging view (myia_sx.printer writes forms as text to read back)
        parts = []
        stack = [self]
        while stack:
            x = stack.pop()
            if isinstance(x, Seq):
                opening, closing = ("(", ")") if type(x) is Form else ("[", "]")
                stack.append(_Tok(closing))
                for i, y in enumerate(reversed(x.items)):
                    stack.append(y)
                    if i < len(x.items) - 1:
                        stack.append(_Tok(" "))
                parts.append(opening)
            elif type(x) is _Tok:
                parts.append(str(x))
            elif type(x) is Symbol:
                parts.append(x.name)
            elif type(x) is Keyword:
                parts.append(":" + x.name)
            else:
                parts.append(repr(x))
        return f"{type(self).__name__}<{''.join(parts)}>"


class _Tok(str):
    """Punctuation on the stack of :meth:`Seq.__repr__`."""


class Form(Seq):
    """A parenthesised form ``( ... )``: an application or a special form."""

    __slots__ = ()


class Vec(Seq):
    """A bracket vector ``[ ... ]``: parameters, bindings, literal tuples."""

    __slots__ = ()


ATOM_TYPES = (int, float, bool, str, type(None))


def _atom_eq(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if a != a:
            return b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def form_eq(a, b) -> bool:
    """Structural equality of two forms, ignoring spans (iterative)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        tx = type(x)
        if tx is not type(y):
            return False
        if tx is Form or tx is Vec:
            if len(x.items) != len(y.items):
                return False
            if x._hash is not None and y._hash is not None and x._hash != y._hash:
                return False
            stack.extend(zip(x.items, y.items))
        elif tx is Symbol or tx is Keyword:
            if x.name is not y.name:
                return False
        elif not _atom_eq(x, y):
            return False
    return True


def _atom_hash(x):
    if type(x) is float and x != x:
        return hash("nan")
    return hash((type(x).__name__, x))


def _hash_seqs(root: Seq) -> None:
    """Compute and cache ``_hash`` for ``root`` and every sequence below it."""
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if node._hash is not None:
            continue
        if not ready:
            stack.append((node, True))
            for item in node.items:
                if isinstance(item, Seq) and item._hash is None:
                    stack.append((item, False))
        else:
            parts = [type(node).__name__]
            for item in node.items:
                parts.append(item._hash if isinstance(item, Seq) else
                             hash(item) if isinstance(item, (Symbol, Keyword)) else
                             _atom_hash(item))
            node._hash = hash(tuple(parts))


def is_form(x) -> bool:
    """True if ``x`` is a form (recursively checked, iteratively)."""
    stack = [x]
    while stack:
        y = stack.pop()
        if isinstance(y, Seq):
            stack.extend(y.items)
        elif not isinstance(y, (Symbol, Keyword) + ATOM_TYPES):
            return False
    return True


def span_of(x) -> Span | None:
    """The span of a form, or None for an atom."""
    return getattr(x, "span", None)


def with_span(form, span):
    """A copy of ``form`` (symbol, keyword or sequence) carrying ``span``."""
    t = type(form)
    if t is Form or t is Vec:
        return t(form.items, span)
    if t is Symbol:
        return Symbol(form.name, span, form.marks)
    if t is Keyword:
        return Keyword(form.name, span)
    return form


def sym(name: str, span: Span | None = None) -> Symbol:
    return Symbol(name, span)


def head_name(form) -> str | None:
    """The name of the head symbol of a paren form, else None."""
    if type(form) is Form and form.items and type(form.items[0]) is Symbol:
        return form.items[0].name
    return None


def map_tree(root, leaf, node):
    """Rebuild ``root`` bottom-up, iteratively: ``leaf(x)`` for each
    non-sequence, ``node(seq, new_items)`` for each sequence."""
    if not isinstance(root, Seq):
        return leaf(root)
    stack = [[root, 0, []]]
    while True:
        top = stack[-1]
        seq, i, built = top
        if i < len(seq.items):
            top[1] = i + 1
            item = seq.items[i]
            if isinstance(item, Seq):
                stack.append([item, 0, []])
            else:
                built.append(leaf(item))
        else:
            stack.pop()
            new = node(seq, built)
            if not stack:
                return new
            stack[-1][2].append(new)


def plain(s):
    """Symbol ``s`` without hygiene marks (anything else unchanged)."""
    return Symbol(s.name, s.span) if type(s) is Symbol and s.marks else s


def strip_marks(form):
    """``form`` with no hygiene marks on its symbols (for quoted data)."""
    return map_tree(form, plain, lambda seq, items: type(seq)(items, seq.span))


def abbreviate(text: str, limit: int = 60) -> str:
    """``text``, or its start and end around a count of what is left out when
    it is longer than ``limit`` (names in messages: a name may be a million
    characters long)."""
    if len(text) <= limit:
        return text
    keep = max(limit // 2 - 12, 4)
    return f"{text[:keep]}...({len(text) - 2 * keep} more characters)...{text[-keep:]}"


_RENAMED = re.compile(r"([^%]+)%[0-9]+")


def user_name(name):
    """The name the user wrote for a binder that a pass renamed (``a%2`` -> ``a``).

    Keyword arguments and error messages use it: the renaming is an internal
    detail and depends on which other functions in the module use the same name.
    """
    m = _RENAMED.fullmatch(name)
    return m.group(1) if m else name


def source_text(form):
    """The user's text of call ``form`` (its span in the source), or None.

    Later passes name intermediate values (``t%3``), so printing the form
    itself would show names the user never wrote; the source text does not.
    Used only when the source text is a call with the same head.
    """
    if type(form) is not Form or not form.items or type(form.items[0]) is not Symbol:
        return None
    head = form.items[0]
    text = span_text(form.span)
    if text is None:
        return None
    rest = text[len(head.name) + 1:]
    if not text.startswith("(" + head.name) or rest[:1] not in (" ", ")"):
        return None
    return text


def span_text(span):
    """The source text at ``span``, on one line (whitespace collapsed, line
    comments dropped), or None without source text."""
    src = getattr(span, "source", None)
    if src is None or not src.text:
        return None
    lines = []
    for n in range(span.line, span.end_line + 1):
        line = src.line(n)
        if n == span.end_line:
            line = line[:span.end_col - 1]
        if n == span.line:
            line = line[span.col - 1:]
        if ";" in line and '"' not in line:
            line = line[:line.index(";")]
        lines.append(line)
    return " ".join(" ".join(lines).split())
