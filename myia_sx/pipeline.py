"""The compiler pipeline: a literal table of passes, run in order.

Each row names a pass, the language it reads and the language it writes.
Every language is printable (:func:`myia_sx.printer.pretty`) and runnable by
the reference interpreter (:mod:`myia_sx.interp`), so a bug shows at the first
pass whose output computes the wrong answer.

A user error (:class:`SxError`) passes through unchanged; any other exception
escaping a pass is a compiler bug and becomes :class:`SxInternalError` naming
the pass.  Code nested too deeply for the passes' recursion is a user error at
the top-level form that holds it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from .errors import SxError, SxInternalError, SxSyntaxError
from .passes import differentiate, expand_macros, normalize_anf, resolve_names


@dataclass(frozen=True)
class Pass:
    name: str
    reads: str
    writes: str
    run: Callable


PASSES = (
    Pass("expand_macros", "Lsurface", "Lcore", expand_macros.run),
    Pass("resolve_names", "Lcore", "Lcore", resolve_names.run),
    Pass("normalize_anf", "Lcore", "Lanf", normalize_anf.run),
    Pass("differentiate", "Lanf", "Lanf", differentiate.run),
)

PASS_NAMES = tuple(p.name for p in PASSES)


@dataclass
class Context:
    """What the passes know about the world outside the module: the global
    environment it is compiled against (names of earlier definitions, the
    macros in scope, the libraries loaded), and whether top-level expressions
    are allowed (REPL input: a top-level expression e becomes ``(def _ e)``)."""

    env: object = None
    expressions: bool = False

    def __post_init__(self):
        if self.env is None:
            from .library import new_env

            self.env = new_env()

    @property
    def global_names(self):
        return self.env.names


def stages(module, ctx=None, upto=None):
    """Yield ``(pass name, module after it)`` for each pass, stopping after ``upto``."""
    ctx = ctx or Context()
    if upto is not None and upto not in PASS_NAMES and upto != "read":
        raise ValueError(f"unknown pass {upto!r}; passes: read, {', '.join(PASS_NAMES)}")
    yield "read", module
    if upto == "read":
        return
    for p in PASSES:
        module = run_pass(p, module, ctx)
        yield p.name, module
        if p.name == upto:
            return


# Passes recurse over code (not data: quoted forms and the reader are
# iterative).  This limit lets code nest a few thousand levels deep, well within
# the C stack, before it is reported as a user error.
RECURSION_LIMIT = 20_000


@contextmanager
def deep_recursion():
    """Raise Python's recursion limit to :data:`RECURSION_LIMIT` for a while."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def run_pass(p, module, ctx):
    try:
        with deep_recursion():
            return p.run(module, ctx)
    except SxError:
        raise
    except RecursionError:
        span = next((f.span for f in module if getattr(f, "span", None)), None)
        raise SxSyntaxError("code nested too deeply to compile", span) from None
    except Exception as e:
        raise SxInternalError(f"pass {p.name}", e) from e


def compile_module(module, ctx=None, upto=None):
    """The module after every pass (or after ``upto``)."""
    out = module
    for _, stage in stages(module, ctx, upto):
        out = stage
    return out
