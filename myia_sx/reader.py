"""Reader: ``.sx`` text -> Lsurface (forms with spans).

Input: text.  Output: a tuple of forms (see :mod:`myia_sx.forms`), each symbol,
keyword and sequence carrying its span (1-based line and column, end exclusive).

Invariants:
  - linear time: one regular-expression scan, newlines counted once;
  - iterative: nesting depth is bounded by memory, not Python's stack;
  - a strict lexical subset of Hy: what both readers accept reads to the same
    tree; Hy-only syntax (``#{}``, ``#()``, ``{}``, f-strings, ``1,000``,
    ``1j``, reader macros) is an :class:`SxSyntaxError` naming the feature;
  - a token that starts like a number but is not one is an error, not a symbol;
  - ``'x`` ``\\`x`` ``~x`` ``~@x`` read as ``(quote x)`` ``(quasiquote x)``
    ``(unquote x)`` ``(unquote-splice x)``; ``a.b.c`` reads as ``(. a b c)``.
"""

from __future__ import annotations

import re

from .errors import SxSyntaxError
from .forms import Form, Keyword, Source, Span, Symbol, Vec

# Each match is optional trivia (ASCII whitespace, comments) then one token;
# the empty ``end`` token matches at the end of input (or at a character no
# token accepts, which is then reported).
_TOKEN = re.compile(
    r"""(?:[\ \t\n\r\f\v]+|;[^\n]*)*
     (?:(?P<open>[(\[])
      |(?P<close>[)\]])
      |(?P<str>"[^"\\]*(?:\\.[^"\\]*)*")
      |(?P<unterminated>")
      |(?P<prefix>'|`|~@|~)
      |(?P<hash>\#.?)
      |(?P<brace>[{}])
      |(?P<space>\s)
      |(?P<atom>[^\s()\[\]{}";'`~]+)
      |(?P<end>))
    """,
    re.VERBOSE | re.DOTALL,
)

_PREFIX_NAMES = {"'": "quote", "`": "quasiquote", "~": "unquote", "~@": "unquote-splice"}

_HASH_FEATURES = {
    "#{": "set literals #{...}",
    "#(": "tuple literals #(...) (write [a b] or (tuple a b))",
    "#[": "bracket strings #[[...]]",
    "#_": "the discard prefix #_",
    "#*": "unpacking #*",
    "#!": "shebang lines",
}

_DEC = r"[0-9](?:_?[0-9])*"
_INT = re.compile(r"[+-]?(?:0(?:_?0)*|[1-9](?:_?[0-9])*)\Z")
_RADIX = re.compile(r"[+-]?0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)\Z")
_FLOAT = re.compile(
    rf"[+-]?(?:{_DEC}\.(?:{_DEC})?|\.{_DEC}|{_DEC})(?:[eE][+-]?{_DEC})?\Z")
_NUMBERISH = re.compile(r"[+-]?\.?[0-9]")
_SPECIAL_FLOATS = {"Inf": float("inf"), "+Inf": float("inf"), "-Inf": float("-inf"),
                   "NaN": float("nan")}

_ESCAPE = re.compile(
    r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3}|.)",
    re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
                   "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\n": ""}
_STRING_PREFIXES = {"f": "f-strings", "fr": "f-strings", "rf": "f-strings",
                    "b": "byte strings", "br": "byte strings", "rb": "byte strings",
                    "r": "raw strings"}


# A token that does not start like one of our numbers may still be one for Hy,
# which reads with Python's int/float/complex after dropping "_" and "," past
# the first character (``-_1``, ``Infinity``, ``-NaN``, ``Inf_``, non-ASCII
# digits such as ``\u0663``).  Reading those as symbols would break "what both
# readers accept reads to the same tree", so they are errors.  Every such token
# contains a decimal digit or (Hy insists on the capitalisation) Inf or NaN,
# and starts with a sign, a dot, a digit or the first letter of inf/nan
# (Hy keeps the first character when it drops separators).
_HY_NUMBER_HINT = re.compile(r"\d|Inf|NaN")
# Hy also reads the imaginary unit with a sign or separators as a complex
# number (-j, +J, j_, j,), though not j or J alone.
_IMAGINARY_UNITS = frozenset({"j", "J", "+j", "+J", "-j", "-J"})


def _int_any_base(s: str) -> int:
    return int(s, 0)


def _hy_reads_as_number(tok: str) -> bool:
    s = tok[0] + tok[1:].replace("_", "").replace(",", "") if len(tok) > 1 else tok
    for conv in (int, _int_any_base, float, complex):
        try:
            conv(s)
        except ValueError:
            continue
        return True
    return False


def parse_number(tok: str):
    """The value of a number token, or None if it does not start like one.

    Raises ValueError with a message for a token that starts like a number but
    is not one.
    """
    if tok in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[tok]
    if not _NUMBERISH.match(tok):
        if tok not in ("j", "J") and (
                tok[0] + tok[1:].replace("_", "").replace(",", "")) in _IMAGINARY_UNITS:
            raise ValueError(f"complex literals ({tok}) are Hy-only syntax")
        if ((tok[0] in "+-.iInN" or tok[0].isdigit()) and _HY_NUMBER_HINT.search(tok)
                and _hy_reads_as_number(tok)):
            raise ValueError(f"malformed number {tok}: Hy reads it as a number "
                             f"(write plain ASCII digits, Inf, -Inf or NaN)")
        return None
    if _INT.match(tok):
        return int(tok.replace("_", ""))
    if _RADIX.match(tok):
        return int(tok.replace("_", ""), 0)
    if "." in tok or "e" in tok or "E" in tok:
        if _FLOAT.match(tok):
            return float(tok.replace("_", ""))
    if "," in tok and parse_number(tok.replace(",", "")) is not None:
        raise ValueError(f"digit-group commas ({tok}) are Hy-only syntax")
    if tok[-1] in "jJ":
        raise ValueError(f"complex literals ({tok}) are Hy-only syntax")
    if _INT.match(tok.lstrip("+-").lstrip("0") or "0") and tok.lstrip("+-")[:1] == "0":
        raise ValueError(f"malformed number {tok}: leading zeros are not allowed")
    raise ValueError(f"malformed number {tok}")


def _unescape(body: str, err):
    if "\\" not in body:
        return body

    def repl(m):
        e = m.group(1)
        c = e[0]
        if c in "xuU":
            if len(e) == 1:
                want = {"x": 2, "u": 4, "U": 8}[c]
                err(f"truncated escape \\{c} in string: needs {want} hex digits")
            code = int(e[1:], 16)
            if code > 0x10FFFF:
                err(f"escape \\{e} is beyond the last Unicode character U+10FFFF")
            return chr(code)
        if c == "N":
            import unicodedata
            try:
                return unicodedata.lookup(e[2:-1])
            except KeyError:
                err(f"unknown character name in escape \\{e}")
        if c in "01234567":
            return chr(int(e, 8))
        if c in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[c]
        err(f"invalid escape sequence \\{e} in string")

    return _ESCAPE.sub(repl, body)


class _Open:
    __slots__ = ("cls", "items", "line", "col", "char")

    def __init__(self, cls, line, col, char):
        self.cls = cls
        self.items = []
        self.line = line
        self.col = col
        self.char = char


class _Prefix:
    __slots__ = ("name", "line", "col", "end_col", "text")

    def __init__(self, name, line, col, end_col, text):
        self.name = name
        self.line = line
        self.col = col
        self.end_col = end_col
        self.text = text


def read(text: str, filename: str = "<string>", source: Source | None = None) -> tuple:
    """Read every form in ``text``; return them as a tuple."""
    src = source if source is not None else Source(filename, text)
    line, line_start = 1, 0
    stack: list = []
    top: list = []

    def fail(message, l, c, end_col=None):
        raise SxSyntaxError(message, Span(src, l, c, l, end_col if end_col else c + 1))

    def emit(form, end_line, end_col):
        while stack and type(stack[-1]) is _Prefix:
            p = stack.pop()
            sp = Span(src, p.line, p.col, end_line, end_col)
            form = Form((Symbol(p.name, Span(src, p.line, p.col, p.line, p.end_col)), form), sp)
        if stack:
            stack[-1].items.append(form)
        else:
            top.append(form)

    pos = 0
    n = len(text)
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        start = m.start(kind)
        if start != pos:
            if m.start() != pos:
                fail(f"unexpected character {text[pos]!r}", line, pos - line_start + 1)
            nl = text.count("\n", pos, start)
            if nl:
                line += nl
                line_start = text.rfind("\n", pos, start) + 1
        pos = m.end()
        col = start - line_start + 1
        if kind == "atom":
            tok = m.group(kind)
            end_col = col + len(tok)
            if pos < n and text[pos] == '"' and tok in _STRING_PREFIXES:
                fail(f"{_STRING_PREFIXES[tok]} ({tok}\"...\") are Hy-only syntax",
                     line, col, end_col + 1)
            form = _atom(tok, src, line, col, end_col, fail)
            if stack and type(stack[-1]) is _Open:
                stack[-1].items.append(form)
            else:
                emit(form, line, end_col)
        elif kind == "end":
            if pos != n:
                fail(f"unexpected character {text[pos]!r}", line, pos - line_start + 1)
            break
        elif kind == "open":
            ch = m.group(kind)
            stack.append(_Open(Form if ch == "(" else Vec, line, col, ch))
        elif kind == "close":
            ch = m.group(kind)
            if not stack:
                fail(f"unexpected {ch!r} with no open bracket", line, col)
            o = stack[-1]
            if type(o) is _Prefix:
                fail(f"{o.text!r} must be followed by a form", o.line, o.col, o.end_col)
            want = ")" if o.char == "(" else "]"
            if ch != want:
                fail(f"{ch!r} does not match {o.char!r} opened at {o.line}:{o.col}",
                     line, col)
            stack.pop()
            emit(o.cls(o.items, Span(src, o.line, o.col, line, col + 1)), line, col + 1)
        elif kind == "str":
            body = m.group(kind)[1:-1]
            if "\r" in body:
                # a raw line break in a literal is "\n" whatever its spelling
                # (as in Hy, and as read_file's universal newlines give)
                body = body.replace("\r\n", "\n").replace("\r", "\n")
            s_line, s_col = line, col
            nl = text.count("\n", start, pos)
            if nl:
                line += nl
                line_start = text.rfind("\n", start, pos) + 1
            value = _unescape(body, lambda msg: fail(msg, s_line, s_col))
            emit(value, line, pos - line_start + 1)
        elif kind == "prefix":
            tok = m.group(kind)
            stack.append(_Prefix(_PREFIX_NAMES[tok], line, col, col + len(tok), tok))
        elif kind == "unterminated":
            fail("unterminated string", line, col)
        elif kind == "hash":
            tok = m.group(kind)
            feature = _HASH_FEATURES.get(tok, "reader macros (#...)")
            fail(f"{feature} are Hy-only syntax" if not feature.endswith("lines")
                 else f"{feature} are not supported", line, col, col + len(tok))
        elif kind == "brace":
            fail("dict literals {...} are Hy-only syntax", line, col)
        elif kind == "space":
            # Hy's whitespace is ASCII only: it would read this character as
            # part of a symbol.  We refuse it rather than guess.
            ch = m.group(kind)
            fail(f"character U+{ord(ch):04X} ({_char_name(ch)}) is not whitespace "
                 f"in .sx source (only ASCII spaces, tabs and line breaks are)", line, col)
    if pos != n:
        fail(f"unexpected character {text[pos]!r}", line, pos - line_start + 1)
    if stack:
        o = stack[-1]
        if type(o) is _Prefix:
            fail(f"{o.text!r} must be followed by a form", o.line, o.col, o.end_col)
        closer = ")" if o.char == "(" else "]"
        fail(f"unclosed {o.char!r}: no matching {closer!r} before end of input",
             o.line, o.col)
    return tuple(top)


def _char_name(ch: str) -> str:
    import unicodedata

    return unicodedata.name(ch, "control character")


def _atom(tok, src, line, col, end_col, fail):
    try:
        value = parse_number(tok)
    except ValueError as e:
        fail(str(e), line, col, end_col)
    if value is not None:
        return value
    if tok == "True":
        return True
    if tok == "False":
        return False
    if tok == "None":
        return None
    span = Span(src, line, col, line, end_col)
    if tok[0] == ":":
        name = tok[1:]
        if not name or name[0] == ":":
            fail(f"malformed keyword {tok}", line, col, end_col)
        return Keyword(name, span)
    if "." in tok and tok.strip("."):
        return _dotted(tok, src, line, col, end_col, span, fail)
    return Symbol(tok, span)


def _dotted(tok, src, line, col, end_col, span, fail):
    parts = tok.split(".")
    items = [Symbol(".", span)]
    c = col
    for part in parts:
        bad = not part or part in ("True", "False", "None") or part[0] in ":#"
        if not bad:
            try:
                bad = parse_number(part) is not None
            except ValueError:
                bad = True
        if bad:
            fail(f"malformed dotted name {tok}", line, col, end_col)
        items.append(Symbol(part, Span(src, line, c, line, c + len(part))))
        c += len(part) + 1
    return Form(items, span)


def read_one(text: str, filename: str = "<string>"):
    """Read exactly one form from ``text``."""
    forms = read(text, filename)
    if len(forms) != 1:
        src = Source(filename, text)
        where = forms[1].span if len(forms) > 1 and getattr(forms[1], "span", None) \
            else Span(src, 1, 1, 1, 2)
        raise SxSyntaxError(f"expected exactly one form, found {len(forms)}", where)
    return forms[0]


def read_file(path) -> tuple:
    """Read every form of the file at ``path``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return read(text, str(path))
