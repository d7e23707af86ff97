"""User-facing errors.

Every error a user can cause is an :class:`SxError` subclass carrying the span
of the offending form.  ``str(err)`` (and ``err.format()``, the same text) is
the full report: ``file:line:col: message``, the source line, a caret under
the span, and any notes (for instance the chain of calls that led to a
runtime error); ``err.headline()`` is its first line alone.

An error that leaves the Python API (:func:`hide_internal_frames`) loses the
traceback entries of myia_sx's own modules, so a traceback shows the user's
frames and the report shows the sx location; ``MYIA_SX_TRACEBACK=1`` in the
environment (or ``myia-sx --traceback``) keeps them, for compiler developers.
A mistake made in Python (a bad argument value, a bad ``wrt=``) points at the
Python call that made it (:func:`python_site`).

Anything else escaping a pass is a bug in the compiler, reported as
:class:`SxInternalError` naming the pass, never mixed up with user errors.
"""

from __future__ import annotations

import contextlib
import functools
import linecache
import os
import re
import sys
import types
import unicodedata

from .forms import Source, Span, abbreviate


class SxError(Exception):
    """Base of all user errors: a message, a span, and optional notes."""

    kind = "error"

    def __init__(self, message: str, span=None, notes=()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = list(notes)

    def location(self) -> str:
        """``file:line:col`` of the span (``<unknown>`` without one)."""
        s = self.span
        if s is None:
            return "<unknown>"
        return f"{s.file}:{s.line}:{s.col}"

    def headline(self) -> str:
        """The first line of the report: ``file:line:col: message`` (the
        message alone for an error without a span)."""
        if self.span is None:
            return shorten(self.message)
        return f"{self.location()}: {shorten(self.message)}"

    def __str__(self):
        return self.format()

    def format(self) -> str:
        """The full report: location and message, source line, caret, notes."""
        lines = [self.headline()]
        lines.extend(_excerpt(self.span))
        lines.extend(_expansions(self.span))
        for note_text, note_span in self.notes:
            where = f"{note_span.file}:{note_span.line}:{note_span.col}: " if note_span else ""
            lines.append(f"{where}note: {shorten(note_text)}")
            lines.extend(_excerpt(note_span))
        return "\n".join(lines)

    def add_note(self, text: str, span=None):
        """Add a note (``span``: where it points, or None); returns the error."""
        self.notes.append((text, span))
        return self


def _expansions(span):
    """Notes naming the macro calls that produced the code at ``span``
    (innermost first; a long chain shows its 4 innermost and 2 outermost)."""
    chain = []
    exp = getattr(span, "expansion", None)
    while exp is not None:
        chain.append(exp)
        exp = exp[1].expansion
    if len(chain) > 8:
        chain = chain[:4] + [len(chain) - 6] + chain[-2:]
    lines = []
    shown = span
    for item in chain:
        if type(item) is int:
            lines.append(f"note: ... {item} more expansions ...")
            continue
        name, call = item
        lines.append(f"{call.file}:{call.line}:{call.col}: note: in expansion of ({name} ...)")
        if (call.line, call.col) != (shown.line, shown.col) or call.source is not shown.source:
            lines.extend(_excerpt(call))
        shown = call
    return lines


_LONG_WORD = re.compile(r"\S{81,}")


def shorten(message: str) -> str:
    """``message`` with each run of more than 80 non-space characters (a
    name, a number, a form) abbreviated, so a report stays short whatever
    the source holds."""
    if len(message) <= 80:
        return message
    return _LONG_WORD.sub(lambda m: abbreviate(m.group(), 60), message)


# The most characters of a source line an excerpt shows (a window around the span).
EXCERPT_WIDTH = 100


def _excerpt(span):
    """The source line of ``span`` (a window of it around the span if it is
    long) and a caret line under the span.  The caret line copies the
    line's tabs and gives wide characters two columns and combining ones
    none, so the caret is under the span in a terminal."""
    if span is None or span.source is None:
        return []
    text = span.source.line(span.line)
    if not text and span.line > 1 and not span.source.text:
        return []
    start = span.col - 1
    width = 1
    if span.end_line == span.line and span.end_col > span.col:
        width = span.end_col - span.col
    width = max(1, min(width, len(text) - start))
    first = max(0, min(start - EXCERPT_WIDTH // 3, len(text) - EXCERPT_WIDTH))
    shown = text[first:first + EXCERPT_WIDTH]
    lead = "..." if first else ""
    tail = "..." if first + EXCERPT_WIDTH < len(text) else ""
    gutter = f"{span.line:>4} | "
    before = shown[:start - first]
    under = shown[start - first:start - first + width] or " "
    caret = _columns(under).replace("\t", " ")
    return [gutter + lead + shown + tail,
            " " * len(gutter + lead) + _columns(before) + "^" + "~" * (len(caret) - 1)]


def _columns(text: str) -> str:
    """Blanks as wide as ``text`` shows: its tabs, two per wide character,
    none for a combining one."""
    if text.isascii():
        return "".join("\t" if c == "\t" else " " for c in text)
    out = []
    for c in text:
        if c == "\t":
            out.append("\t")
        elif unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        else:
            out.append("  " if unicodedata.east_asian_width(c) in "WF" else " ")
    return "".join(out)


class SxSyntaxError(SxError):
    kind = "syntax error"


class SxMacroError(SxError):
    kind = "macro error"


class SxNameError(SxError):
    kind = "name error"


class SxTypeError(SxError):
    kind = "type error"


class SxShapeError(SxError):
    kind = "shape error"


class SxGradError(SxError):
    kind = "grad error"


class SxRuntimeError(SxError):
    kind = "runtime error"


class SxInternalError(Exception):
    """A bug in the compiler: an unexpected exception inside a named pass, or
    an invariant the pass broke (its output outside the language it writes).
    ``message`` says what went wrong; by default, the cause's type and text."""

    def __init__(self, where: str, cause: BaseException, message: str | None = None):
        super().__init__(f"internal compiler error in {where}: "
                         f"{message or f'{type(cause).__name__}: {cause}'}")
        self.where = where
        self.cause = cause


# -- errors seen from Python ------------------------------------------------------------------

TRACEBACK_VARIABLE = "MYIA_SX_TRACEBACK"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_full_tracebacks = [0]


def internal_file(filename: str) -> bool:
    """True for the file of one of myia_sx's own modules."""
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


@contextlib.contextmanager
def full_tracebacks(on: bool = True):
    """Within it (when ``on``), errors keep the frames of myia_sx's modules
    in their tracebacks, as with ``MYIA_SX_TRACEBACK=1``."""
    _full_tracebacks[0] += bool(on)
    try:
        yield
    finally:
        _full_tracebacks[0] -= bool(on)


def hide_internal_frames(err: BaseException) -> BaseException:
    """Drop from ``err``'s traceback the entries of myia_sx's own modules,
    as JAX filters its frames: what is left is the user's code (Python or Hy,
    a Python macro called from sx included).  Nothing is dropped when the
    environment variable ``MYIA_SX_TRACEBACK`` is set (to anything but
    ``0``) or within :func:`full_tracebacks`.  Returns ``err``."""
    if _full_tracebacks[0] or os.environ.get(TRACEBACK_VARIABLE, "0") not in ("", "0"):
        return err
    kept = []
    tb = err.__traceback__
    while tb is not None:
        if not internal_file(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    out = None
    for tb in reversed(kept):
        out = types.TracebackType(out, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    return err.with_traceback(out)


def python_site(frame):
    """The span of the call that ``frame`` (a frame of the user's Python or
    Hy code) is making, with the file's text so reports show the line and a
    caret; None for a frame of myia_sx itself, of Python's frozen modules
    (the import system), or None."""
    if frame is None or internal_file(frame.f_code.co_filename) or \
            frame.f_code.co_filename.startswith("<frozen "):
        return None
    code = frame.f_code
    line, end_line, col, end_col = frame.f_lineno, None, None, None
    if frame.f_lasti >= 0:
        for i, pos in enumerate(code.co_positions()):
            if i == frame.f_lasti // 2:
                if pos[0] is not None:
                    line, end_line, col, end_col = pos
                break
    text = "".join(linecache.getlines(code.co_filename, frame.f_globals))
    src = Source(code.co_filename, text)
    if col is None:
        return Span(src, line, 1, line, 1)
    end_line = end_line or line
    if code.co_filename.endswith(".hy"):
        col -= 1   # Hy gives its 1-based start column as Python's 0-based one
    # Python's columns count UTF-8 bytes
    col = len(src.line(line).encode()[:col].decode(errors="ignore")) + 1
    end_col = len(src.line(end_line).encode()[:end_col].decode(errors="ignore")) + 1
    return Span(src, line, col, end_line, end_col)


def entry_point(fn):
    """``fn`` as an entry point of the Python API: an :class:`SxError` it
    raises leaves without the frames of myia_sx in its traceback
    (:func:`hide_internal_frames`), and one that has no location gets the
    Python call of ``fn`` (:func:`python_site`)."""
    @functools.wraps(fn)
    def entry(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SxError as e:
            if e.span is None:
                e.span = python_site(sys._getframe(1))
            hide_internal_frames(e)
            raise
    return entry
