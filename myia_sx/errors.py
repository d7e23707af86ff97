"""User-facing errors.

Every error a user can cause is an :class:`SxError` subclass carrying the span
of the offending form.  ``str(err)`` is the one-line ``file:line:col: message``;
``err.format()`` adds the source line, a caret under the span, and any notes
(for instance the chain of calls that led to a runtime error).

Anything else escaping a pass is a bug in the compiler, reported as
:class:`SxInternalError` naming the pass, never mixed up with user errors.
"""

from __future__ import annotations


class SxError(Exception):
    """Base of all user errors: a message, a span, and optional notes."""

    kind = "error"

    def __init__(self, message: str, span=None, notes=()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = list(notes)

    def location(self) -> str:
        s = self.span
        if s is None:
            return "<unknown>"
        return f"{s.file}:{s.line}:{s.col}"

    def __str__(self):
        return f"{self.location()}: {self.message}"

    def format(self) -> str:
        """The full report: location and message, source line, caret, notes."""
        lines = [str(self)]
        lines.extend(_excerpt(self.span))
        lines.extend(_expansions(self.span))
        for note_text, note_span in self.notes:
            where = f"{note_span.file}:{note_span.line}:{note_span.col}: " if note_span else ""
            lines.append(f"{where}note: {note_text}")
            lines.extend(_excerpt(note_span))
        return "\n".join(lines)

    def add_note(self, text: str, span=None):
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


def _excerpt(span):
    if span is None or span.source is None:
        return []
    text = span.source.line(span.line)
    if not text and span.line > 1 and not span.source.text:
        return []
    width = 1
    if span.end_line == span.line and span.end_col > span.col:
        width = span.end_col - span.col
    width = max(1, min(width, len(text) - span.col + 1))
    gutter = f"{span.line:>4} | "
    return [gutter + text, " " * (len(gutter) + span.col - 1) + "^" + "~" * (width - 1)]


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
