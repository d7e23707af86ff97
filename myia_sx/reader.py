"""Reader: ``.sx`` text -> Lsurface (forms with spans).

Input: text.  Output: a tuple of forms (see :mod:`myia_sx.forms`), each symbol,
keyword and sequence carrying its span (1-based line and column, end exclusive).

Invariants:
  - linear time and memory: one regular-expression scan (possessive, so a
    long string literal costs no backtracking state), newlines counted once,
    escapes decoded by runs;
  - iterative: nesting depth is bounded by memory, not Python's stack;
  - a strict lexical subset of Hy: what both readers accept reads to the same
    tree; Hy-only syntax (``#{}``, ``#()``, ``{}``, f-strings, ``1,000``,
    ``1j``, reader macros) is an :class:`SxSyntaxError` naming the feature;
  - a token that starts like a number but is not one is an error, not a symbol;
    an integer literal outside i64 is an error;
  - ``'x`` ``\\`x`` ``~x`` ``~@x`` read as ``(quote x)`` ``(quasiquote x)``
    ``(unquote x)`` ``(unquote-splice x)``; ``a.b.c`` reads as ``(. a b c)``.

Text rules (docs/language.md, "Syntax"), so that what a reader of the source
sees is what the program says:
  - a line break is LF, CRLF or a lone CR; a byte order mark at the very start
    is skipped; columns count characters (a tab or a wide character is one);
  - invisible characters (:data:`INVISIBLE`: control characters other than
    ASCII whitespace, format characters such as zero-width spaces, the soft
    hyphen and bidirectional controls, line and paragraph separators, Hangul
    fillers, surrogates) are errors anywhere, in strings and comments too (a
    string spells them with an escape);
  - names (symbols, keywords, the parts of dotted names) are normalized to
    NFC; a name may not hold non-ASCII brackets or quotation marks,
    characters whose compatibility form is one of the syntax's own (the
    full-width parenthesis, the Greek question mark), private-use, unassigned
    or surrogate code points, nor start with a combining mark.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import SxSyntaxError
from .forms import Form, Keyword, Source, Span, Symbol, Vec, gc_paused

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1

# Each match is optional trivia (ASCII whitespace, comments) then one token.
# Every character starts some token, so matches follow each other without
# gaps; the empty ``end`` token matches at the end of the text.  Line breaks
# are LF only here: read() turns CRLF and CR into LF first.  The first two
# groups are shortcuts for the commonest atoms, whole tokens (the lookahead)
# that need no further checks: a plain ASCII symbol (as PLAIN_SYMBOL says;
# not before a quote, where f"..." is Hy-only syntax) and a short decimal
# integer.
_DELIMITED = r"""(?![^\s()\[\]{};'`~])"""
_TOKEN = re.compile(
    r"""(?:[\ \t\n\f\v]++|;[^\n]*+)*+
     (?:(?P<sym>[A-HK-MO-Za-hk-mo-z_*!?<>=/&%$^|@][^\x00-\x20\x7f-\U0010ffff.()\[\]{}";'`~]*+)"""
    + _DELIMITED + r"""
      |(?P<int>-?(?:[1-9][0-9]{0,17}|0))(?![^\s()\[\]{}";'`~])
      |(?P<atom>[^\s()\[\]{}";'`~]++)
      |(?P<open>[(\[])
      |(?P<close>[)\]])
      |(?P<str>"(?:[^"\\]++|\\.)*+")
      |(?P<unterminated>")
      |(?P<prefix>'|`|~@?)
      |(?P<brace>[{}])
      |(?P<space>\s)
      |(?P<end>\Z))
    """,
    re.VERBOSE | re.DOTALL,
)
(_SYM, _INTEGER, _ATOM, _OPEN, _CLOSE, _STR, _UNTERMINATED, _PREFIX, _BRACE, _SPACE,
 _END) = range(1, 12)

# Characters no .sx text may hold raw: C0 controls but ASCII whitespace, DEL
# and C1 controls, the combining grapheme joiner, Hangul fillers, format
# characters (category Cf, as of Unicode 15: the soft hyphen, Arabic and
# Syriac marks, zero-width spaces and joiners, bidirectional controls, word
# joiners and invisible operators, the byte order mark, interlinear
# annotation, tags...), line and paragraph separators, surrogates.
INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ud800-\udfff\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_PREFIX_NAMES = {"'": "quote", "`": "quasiquote", "~": "unquote", "~@": "unquote-splice"}

_HASH_FEATURES = {
    "#{": "set literals #{...}",
    "#(": "tuple literals #(...) (write [a b] or (tuple a b))",
    "#[": "bracket strings #[[...]]",
    "#_": "the discard prefix #_",
    "#*": "unpacking #*",
    "#!": "shebang lines",
}

# A token read as a symbol without further checks (the printer prints one so
# too): printable ASCII, no dot, and a first character that starts no number,
# keyword, constant or Hy-only syntax (True and False match: look them up first).
PLAIN_SYMBOL = re.compile(
    "[A-HK-MO-Za-hk-mo-z_*!?<>=/&%$^|@][^\x00-\x20\x7f-\U0010ffff.()\\[\\]{}\";'`~]*+\\Z")
_CONSTANTS = {"True": True, "False": False, "None": None}

_DEC = r"[0-9](?:_?[0-9])*"
_INT = re.compile(r"[+-]?(?:0(?:_?0)*|[1-9](?:_?[0-9])*)\Z")
_RADIX = re.compile(r"[+-]?0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)\Z")
_FLOAT = re.compile(
    rf"[+-]?(?:{_DEC}\.(?:{_DEC})?|\.{_DEC}|{_DEC})(?:[eE][+-]?{_DEC})?\Z")
_NUMBERISH = re.compile(r"[+-]?\.?[0-9]")
_SPECIAL_FLOATS = {"Inf": float("inf"), "+Inf": float("inf"), "-Inf": float("-inf"),
                   "NaN": float("nan")}
# By radix letter: the base, and the most significant digits an i64 can have.
_RADICES = {"x": (16, 16), "X": (16, 16), "o": (8, 22), "O": (8, 22), "b": (2, 64),
            "B": (2, 64)}

_SIMPLE = "ntr\\\"'abfv\n"
_ESCAPE = re.compile(
    rf"\\(?:(?P<run>[{re.escape(_SIMPLE)}](?:\\[{re.escape(_SIMPLE)}])*+)"
    r"|(?P<one>x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*+\}|[0-7]{1,3}|.))",
    re.DOTALL)
# the character each simple escape letter stands for (backslash-newline: none)
_SIMPLE_TABLE = str.maketrans({"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"',
                               "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
                               "\n": None})
_STRING_PREFIXES = {"f": "f-strings", "fr": "f-strings", "rf": "f-strings",
                    "b": "byte strings", "br": "byte strings", "rb": "byte strings",
                    "r": "raw strings"}
# ASCII characters with a meaning in the syntax, which no name character may
# look like (after compatibility normalization).
_SYNTAX_CHARS = frozenset("()[]{}\";'`~.:#\\ \t\n\r\f\v")


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


def _i64(tok: str, radix: bool) -> int:
    """The value of integer token ``tok``; ValueError if it is outside i64
    (decided from the number of digits first, so a literal of any length
    costs no more than its reading)."""
    s = tok.replace("_", "")
    digits = s.lstrip("+-")
    base, limit = 10, 19
    if radix:
        base, limit = _RADICES[digits[1]]
        digits = digits[2:]
    digits = digits.lstrip("0") or "0"
    if len(digits) <= limit:
        value = int(digits, base)
        if s[0] == "-":
            value = -value
        if I64_MIN <= value <= I64_MAX:
            return value
    raise ValueError(f"integer {tok} does not fit in i64 (from {I64_MIN} to {I64_MAX})")


def parse_number(tok: str):
    """The value of a number token, or None if it does not start like one.

    Raises ValueError with a message for a token that starts like a number but
    is not one, and for an integer outside i64.
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
        return _i64(tok, False)
    if _RADIX.match(tok):
        return _i64(tok, True)
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


def char_text(ch: str) -> str:
    """``U+XXXX (NAME)`` for a character in a message."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} ({name or 'control character'})"


def name_problem(name: str):
    """Why ``name`` cannot be a name character for character, as
    ``(index, message)``, or None (ASCII names never have one)."""
    if name.isascii():
        return None
    for i, ch in enumerate(name):
        if ch.isascii():
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cs", "Co", "Cn"):
            return i, (f"character {char_text(ch)} is unassigned, private-use or a "
                       "surrogate: not allowed in names")
        if cat in ("Ps", "Pe", "Pi", "Pf"):
            return i, (f"bracket or quotation mark {char_text(ch)} is not allowed in names "
                       "(only ASCII brackets and quotes are syntax)")
        like = unicodedata.normalize("NFKC", ch)
        if _SYNTAX_CHARS.intersection(like):
            return i, (f"character {char_text(ch)} looks like {like!r} and is not "
                       "allowed in names")
        if i == 0 and cat[0] == "M":
            return i, f"a name cannot start with the combining mark {char_text(ch)}"
    return None


def _nfc(name: str) -> str:
    if name.isascii() or unicodedata.is_normalized("NFC", name):
        return name
    return unicodedata.normalize("NFC", name)


def _unescape(body: str, err) -> str:
    """The value of a string literal's ``body``: escapes decoded, runs of
    simple escapes (``\\n\\n...``) at once, so memory stays linear."""
    if "\\" not in body:
        return body
    out = []
    pieces = []
    last = 0
    for m in _ESCAPE.finditer(body):
        pieces.append(body[last:m.start()])
        run = m.group("run")
        pieces.append(run[::2].translate(_SIMPLE_TABLE) if run is not None
                      else _escape_value(m.group("one"), err))
        last = m.end()
        if len(pieces) > 4096:
            out.append("".join(pieces))
            pieces.clear()
    pieces.append(body[last:])
    out.append("".join(pieces))
    return "".join(out)


def _escape_value(e: str, err) -> str:
    """The character escape ``\\e`` stands for (``e`` is not a simple escape)."""
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
        try:
            return unicodedata.lookup(e[2:-1])
        except KeyError:
            err(f"unknown character name in escape \\{e}")
    if c in "01234567":
        return chr(int(e, 8))
    err(f"invalid escape sequence \\{e} in string")


def prepare(text: str) -> str:
    """``text`` as the reader sees it: a leading byte order mark dropped,
    CRLF and lone CR turned into LF."""
    if text[:1] == "\ufeff":
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read(text: str, filename: str = "<string>") -> tuple:
    """Read every form in ``text``; return them as a tuple."""
    with gc_paused():
        return _read(prepare(text), filename)


def _read(text, filename):
    src = Source(filename, text)
    n = len(text)
    line, line_start = 1, 0
    next_nl = text.find("\n")     # the first line break not yet counted
    if next_nl < 0:
        next_nl = n
    # Open brackets are lists [items, line, col, char], prefixes (' ` ~ ~@)
    # tuples (name, line, col, end_col, text) waiting for their form.
    stack: list = []
    top: list = []
    items = top   # where the next form goes: the innermost open bracket's
    #               items, or None when a prefix waits for it

    def fail(message, l, c, end_col=None):
        raise SxSyntaxError(message, Span(src, l, c, l, end_col if end_col else c + 1))

    def emit(form, end_line, end_col):
        """Put ``form`` where it goes, closing the prefixes that wait for it;
        return the items list the next form goes to."""
        while stack and type(stack[-1]) is tuple:
            name, p_line, p_col, p_end, _ = stack.pop()
            form = Form((Symbol(name, Span(src, p_line, p_col, p_line, p_end)), form),
                        Span(src, p_line, p_col, end_line, end_col))
        into = stack[-1][0] if stack else top
        into.append(form)
        return into

    bad = INVISIBLE.search(text)
    limit = bad.start() if bad else n + 1
    for m in _TOKEN.finditer(text):
        kind = m.lastindex
        start, pos = m.span(kind)
        if pos > limit:
            break
        if start > next_nl:
            line += text.count("\n", next_nl, start)
            line_start = text.rindex("\n", next_nl, start) + 1
            next_nl = text.find("\n", start)
            if next_nl < 0:
                next_nl = n
        col = start - line_start + 1
        if kind == _SYM:
            tok = m.group(kind)
            form = _CONSTANTS[tok] if tok in _CONSTANTS else \
                Symbol(tok, Span(src, line, col, line, col + len(tok)))
        elif kind == _INTEGER:
            form = int(m.group(kind))
        elif kind == _OPEN:
            items = []
            stack.append([items, line, col, text[start]])
            continue
        elif kind == _CLOSE:
            ch = text[start]
            if not stack:
                fail(f"unexpected {ch!r} with no open bracket", line, col)
            o = stack.pop()
            if type(o) is tuple:
                fail(f"{o[4]!r} must be followed by a form", o[1], o[2], o[3])
            o_items, o_line, o_col, o_char = o
            if o_char == "(":
                if ch != ")":
                    fail(f"{ch!r} does not match '(' opened at {o_line}:{o_col}", line, col)
                form = Form(o_items, Span(src, o_line, o_col, line, col + 1))
            else:
                if ch != "]":
                    fail(f"{ch!r} does not match '[' opened at {o_line}:{o_col}", line, col)
                form = Vec(o_items, Span(src, o_line, o_col, line, col + 1))
            if stack and type(stack[-1]) is list:
                items = stack[-1][0]
                items.append(form)
            else:
                items = emit(form, line, col + 1)
            continue
        elif kind == _ATOM:
            tok = m.group(kind)
            end_col = col + len(tok)
            if tok in _STRING_PREFIXES and text.startswith('"', pos):
                fail(f"{_STRING_PREFIXES[tok]} ({tok}\"...\") are Hy-only syntax",
                     line, col, end_col + 1)
            if tok[0] == "#":
                key = (tok + text[pos:pos + 1])[:2]
                feature = _HASH_FEATURES.get(key, "reader macros (#...)")
                fail(f"{feature} are Hy-only syntax" if not feature.endswith("lines")
                     else f"{feature} are not supported", line, col, col + len(key))
            form = _atom(tok, src, line, col, end_col, fail)
        elif kind == _STR:
            s_line, s_col = line, col
            if pos > next_nl:
                line += text.count("\n", next_nl, pos)
                line_start = text.rindex("\n", next_nl, pos) + 1
                next_nl = text.find("\n", pos)
                if next_nl < 0:
                    next_nl = n
            form = _unescape(m.group(kind)[1:-1], lambda msg: fail(msg, s_line, s_col))
            if items is None:
                items = emit(form, line, pos - line_start + 1)
                continue
        elif kind == _PREFIX:
            tok = m.group(kind)
            stack.append((_PREFIX_NAMES[tok], line, col, col + len(tok), tok))
            items = None
            continue
        elif kind == _END:
            break
        elif kind == _UNTERMINATED:
            fail("unterminated string", line, col)
        elif kind == _BRACE:
            fail("dict literals {...} are Hy-only syntax", line, col)
        else:
            # Hy's whitespace is ASCII only: it would read this character as
            # part of a symbol.  We refuse it rather than guess.
            fail(f"character {char_text(m.group(kind))} is not whitespace in .sx source "
                 "(only ASCII spaces, tabs and line breaks are)", line, col)
        if items is not None:
            items.append(form)
        else:
            items = emit(form, line, pos - line_start + 1)
    if bad is not None:
        _invisible(text, bad.start(), src)
    if stack:
        o = stack[-1]
        if type(o) is tuple:
            fail(f"{o[4]!r} must be followed by a form", o[1], o[2], o[3])
        closer = ")" if o[3] == "(" else "]"
        fail(f"unclosed {o[3]!r}: no matching {closer!r} before end of input", o[1], o[2])
    return tuple(top)


def _invisible(text, i, src):
    """Raise the error for the invisible character at ``text[i]``."""
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    ch = text[i]
    what = "bidirectional control character" if _BIDI.match(ch) else "invisible character"
    hint = f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
    raise SxSyntaxError(f"{what} {char_text(ch)} is not allowed in .sx source "
                        f"(in a string, write it as {hint})", Span(src, line, col, line, col + 1))


def _atom(tok, src, line, col, end_col, fail):
    """The form of an atom token that is not a plain ASCII symbol."""
    span = Span(src, line, col, line, end_col)
    if tok[0] == ":":
        name = _checked_name(tok[1:], line, col + 1, fail)
        if not name or name[0] == ":":
            fail(f"malformed keyword {tok}", line, col, end_col)
        return Keyword(name, span)
    name = _checked_name(tok, line, col, fail)
    try:
        value = parse_number(name)
    except ValueError as e:
        fail(str(e), line, col, end_col)
    if value is not None:
        return value
    if "." in name and name.strip("."):
        return _dotted(tok, src, line, col, end_col, span, fail)
    if name in _CONSTANTS:
        return _CONSTANTS[name]
    return Symbol(name, span)


def _checked_name(raw, line, col, fail):
    """Name token ``raw`` (at ``line:col``) in NFC; an error if it holds a
    character names may not hold."""
    problem = name_problem(raw)
    if problem is not None:
        fail(problem[1], line, col + problem[0])
    return _nfc(raw)


def _dotted(tok, src, line, col, end_col, span, fail):
    items = [Symbol(".", span)]
    c = col
    for raw in tok.split("."):
        part = _checked_name(raw, line, c, fail)
        bad = not part or part in _CONSTANTS or part[0] in ":#"
        if not bad:
            try:
                bad = parse_number(part) is not None
            except ValueError:
                bad = True
        if bad:
            fail(f"malformed dotted name {tok}", line, col, end_col)
        items.append(Symbol(part, Span(src, line, c, line, c + len(raw))))
        c += len(raw) + 1
    return Form(items, span)


def read_one(text: str, filename: str = "<string>"):
    """Read exactly one form from ``text``."""
    forms = read(text, filename)
    if len(forms) != 1:
        where = forms[1].span if len(forms) > 1 and getattr(forms[1], "span", None) \
            else Span(Source(filename, prepare(text)), 1, 1, 1, 2)
        raise SxSyntaxError(f"expected exactly one form, found {len(forms)}", where)
    return forms[0]


def read_file(path) -> tuple:
    """Read every form of the file at ``path`` (UTF-8; bytes that are not
    UTF-8 are an error at their line and column)."""
    with open(path, "rb") as f:
        data = f.read()
    return read(decode(data, str(path)), str(path))


def decode(data: bytes, filename: str) -> str:
    """``data`` decoded as UTF-8; an invalid byte is an :class:`SxSyntaxError`
    at its position."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = prepare(data[:e.start].decode("utf-8"))
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        text = prepare(data.decode("utf-8", errors="replace"))
        raise SxSyntaxError(f"byte 0x{data[e.start]:02x} is not UTF-8 (.sx source is "
                            "UTF-8 text)", Span(Source(filename, text), line, col, line,
                                                col + 1)) from None
