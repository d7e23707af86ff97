"""Printer: forms -> text.  The printer is the serializer.

``dumps(form)`` is canonical and deterministic: one line, single spaces,
floats printed by ``repr`` (so they read back bit-exact) with ``Inf``,
``-Inf`` and ``NaN`` spelled as the reader spells them, strings escaped, and
``loads(dumps(x)) == x`` for every form.  It is iterative: depth is bounded
by memory only.  A symbol or keyword whose name would not read back as itself
is a ``ValueError``, never silently wrong output.

``pretty(form, width)`` lays the same text out over lines for humans and golden
files; it reads back to the same form.
"""

from __future__ import annotations

import re

from .errors import SxSyntaxError
from .forms import Form, Keyword, Seq, Symbol, Vec, abbreviate
from .reader import I64_MAX, I64_MIN, INVISIBLE, PLAIN_SYMBOL, prepare, read

# Whether a name reads back as itself, by name (a bounded memo: the check
# reads the name).
_readable_cache: dict = {}
_CACHE_SIZE = 100_000


def symbol_readable(name: str) -> bool:
    """True if ``name`` reads back as the symbol ``name``."""
    return _readable(name, Symbol)


def _readable(name: str, kind) -> bool:
    """True if ``name`` reads back as itself, a :class:`Symbol` or a
    :class:`Keyword` (``kind``): the reader's own verdict, so the printer
    never writes a name that would read as something else (a number, a
    dotted name, a name in another normal form, an error)."""
    if kind is Symbol and type(name) is str and PLAIN_SYMBOL.match(name) \
            and name not in ("True", "False"):
        return True
    key = (name, kind)
    ok = _readable_cache.get(key)
    if ok is None:
        if type(name) is not str or not name or prepare(name) != name:
            ok = False
        else:
            try:
                forms = read(name if kind is Symbol else ":" + name)
            except SxSyntaxError:
                forms = ()
            ok = (len(forms) == 1 and type(forms[0]) is kind and forms[0].name == name)
        if len(_readable_cache) >= _CACHE_SIZE:
            _readable_cache.clear()
        _readable_cache[key] = ok
    return ok


_STR_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]|[^\x00-\x7f]')


def _escape_char(m):
    c = m.group()
    e = _STR_ESCAPES.get(c)
    if e is not None:
        return e
    o = ord(c)
    if o < 0x80:
        return f"\\x{o:02x}"
    if c.isprintable() and not INVISIBLE.match(c):
        return c
    return f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"


def dump_atom(x) -> str:
    t = type(x)
    if t is bool or x is None:
        return repr(x)
    if t is int:
        if not I64_MIN <= x <= I64_MAX:
            raise ValueError(f"an integer of {x.bit_length()} bits is outside i64: "
                             "it cannot be printed readably")
        return str(x)
    if t is float:
        if x != x:
            return "NaN"
        if x == float("inf"):
            return "Inf"
        if x == float("-inf"):
            return "-Inf"
        return repr(x)
    if t is str:
        return '"' + _NEEDS_ESCAPE.sub(_escape_char, x) + '"'
    if t is Symbol:
        if not symbol_readable(x.name):
            raise ValueError(f"symbol {abbreviate(x.name)!r} cannot be printed readably")
        return x.name
    if t is Keyword:
        if not _readable(x.name, Keyword):
            raise ValueError(f"keyword {abbreviate(x.name)!r} cannot be printed readably")
        return ":" + x.name
    raise ValueError(f"not a form: {x!r} of type {t.__name__}")


class _Marker(str):
    """A closing bracket or space pushed on dumps' stack (told apart from user
    strings by its exact type)."""


_CLOSE_PAREN, _CLOSE_BRACKET, _SPACE = _Marker(")"), _Marker("]"), _Marker(" ")


def dumps(form) -> str:
    """Canonical one-line text of ``form``."""
    if not isinstance(form, Seq):
        return dump_atom(form)
    out = []
    stack = [form]
    push = stack.append
    while stack:
        x = stack.pop()
        t = type(x)
        if t is _Marker:
            out.append(x)
        elif t is Form or t is Vec:
            out.append("(" if t is Form else "[")
            push(_CLOSE_PAREN if t is Form else _CLOSE_BRACKET)
            items = x.items
            for i in range(len(items) - 1, -1, -1):
                push(items[i])
                if i:
                    push(_SPACE)
        else:
            out.append(dump_atom(x))
    return "".join(out)


# -- pretty printing -------------------------------------------------------

# Number of arguments kept on the head's line before the body is indented.
_HEADER_ARGS = {"fn": 1, "let": 1, "letrec": 1, "loop": 1, "if": 1, "def": 1,
                "defn": 2, "defmacro": 2, "defrecord": 2, "when": 1, "unless": 1,
                "for-fold": 1, "while": 1, "dotimes": 1, "deflayer": 2, "defmodel": 2}
_BINDING_HEADS = {"let", "letrec", "loop", "let*"}
_MAX_PRETTY_DEPTH = 200


def pretty(form, width: int = 80) -> str:
    """Multi-line layout of ``form`` fitting ``width`` columns where it can."""
    flat: dict = {}
    _fill_flat(form, flat)
    return _pp(form, 0, width, flat, 0)


def _fill_flat(root, flat):
    stack = [(root, False)]
    while stack:
        x, ready = stack.pop()
        if not isinstance(x, Seq):
            continue
        if ready:
            o, c = ("(", ")") if type(x) is Form else ("[", "]")
            flat[id(x)] = o + " ".join(flat[id(i)] if isinstance(i, Seq) else dump_atom(i)
                                       for i in x.items) + c
        elif id(x) not in flat:
            stack.append((x, True))
            stack.extend((i, False) for i in x.items if isinstance(i, Seq))


def _last_col(text, col):
    nl = text.rfind("\n")
    return col + len(text) if nl < 0 else len(text) - nl - 1


def _pp(x, col, width, flat, depth):
    if not isinstance(x, Seq):
        return dump_atom(x)
    s = flat[id(x)]
    if col + len(s) <= width or depth > _MAX_PRETTY_DEPTH or len(x.items) < 2:
        return s
    o, c = ("(", ")") if type(x) is Form else ("[", "]")
    items = x.items
    head = items[0]
    pad = lambda k: "\n" + " " * k  # noqa: E731
    if type(x) is Form and type(head) is Symbol:
        name = head.name
        text = o + dump_atom(head)
        ncol = col + len(text)
        nhead = _HEADER_ARGS.get(name)
        if nhead is None:
            # ordinary call: arguments aligned under the first one
            arg_col = ncol + 1 if len(text) <= 12 else col + 2
            sep = " " if arg_col == ncol + 1 else pad(arg_col)
            for k, item in enumerate(items[1:]):
                piece = _pp(item, arg_col, width, flat, depth + 1)
                text += (sep if k == 0 else pad(arg_col)) + piece
            return text + c
        body_col = col + 2
        for k, item in enumerate(items[1:]):
            if k < nhead:
                if k == 0 and name in _BINDING_HEADS and type(item) is Vec:
                    piece = _pp_bindings(item, ncol + 1, width, flat, depth + 1)
                else:
                    piece = _pp(item, ncol + 1, width, flat, depth + 1)
                text += " " + piece
                ncol = _last_col(text, col)
            else:
                text += pad(body_col) + _pp(item, body_col, width, flat, depth + 1)
        return text + c
    # vector or call with a non-symbol head: one item per line
    text = o
    for k, item in enumerate(items):
        text += ("" if k == 0 else pad(col + 1)) + _pp(item, col + 1, width, flat, depth + 1)
    return text + c


def _pp_bindings(v, col, width, flat, depth):
    s = flat[id(v)]
    if col + len(s) <= width:
        return s
    items = v.items
    lines = []
    for k in range(0, len(items), 2):
        name = dump_atom(items[k]) if not isinstance(items[k], Seq) else flat[id(items[k])]
        if k + 1 < len(items):
            vcol = col + 1 + len(name) + 1
            lines.append(name + " " + _pp(items[k + 1], vcol, width, flat, depth + 1))
        else:
            lines.append(name)
    return "[" + ("\n" + " " * (col + 1)).join(lines) + "]"
