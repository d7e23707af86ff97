"""The ``myia-sx`` command line.

``myia-sx run FILE.sx [ARGS...]`` calls ``main`` with ARGS read as sx literals
and prints the result; ``myia-sx show FILE.sx --after PASS`` prints the
program after a pass (``--verify`` checks the output of every pass up to it
against the language the pass writes, :mod:`myia_sx.languages`).  A user
error prints ``file:line:col: message``, the source line and a caret, and
exits with status 1 (``--traceback`` adds the Python traceback, for compiler
developers); a compiler bug (an internal error) exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from . import api, library, pipeline
from .errors import SxError, SxInternalError, SxSyntaxError, SxTypeError
from .forms import Form, Keyword, Symbol, Vec
from .printer import pretty
from .reader import read, read_file
from .values import show_value


def literal_value(form):
    """The value of a literal argument: numbers, bools, None, strings, [tuples]."""
    t = type(form)
    if t is Vec:
        return tuple(literal_value(x) for x in form.items)
    if t in (Symbol, Form, Keyword):
        raise SxSyntaxError("command-line arguments are literals: numbers, True/False, "
                            "None, \"strings\" or [tuples]", form.span)
    return form


def _parse_args(texts):
    values = []
    for i, text in enumerate(texts, 1):
        forms = read(text, f"<argument {i}>")
        if len(forms) != 1:
            raise SxSyntaxError(f"argument {i} must be one literal, got {len(forms)} forms",
                                getattr(forms[1] if len(forms) > 1 else None, "span", None))
        values.append(literal_value(forms[0]))
    return values


def cmd_run(ns):
    module = api.load(ns.file)
    if "main" not in module:
        raise SxTypeError(f"{ns.file} defines no main function", None)
    args = _parse_args(ns.args)
    result = module["main"](*args)
    print(show_value(getattr(result, "closure", result)))


def cmd_show(ns):
    forms = read_file(ns.file)
    ctx = library.context()
    if ns.verify:
        ctx.verify = True
    out = pipeline.compile_module(forms, ctx, ns.after)
    for form in out:
        print(pretty(form, ns.width))


def cmd_repl(ns):
    from . import repl

    status = repl.main(show_traceback=ns.traceback)
    if status:
        sys.exit(status)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="myia-sx", description="myia_sx: a compiled, differentiable Lisp for deep learning")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback of an error (for compiler bugs)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run FILE's main with ARGS (sx literals)")
    p.add_argument("file")
    p.add_argument("args", nargs="*")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("show", help="print FILE after a pass")
    p.add_argument("file")
    p.add_argument("--after", default=pipeline.PASS_NAMES[-1],
                   choices=("read",) + pipeline.PASS_NAMES)
    p.add_argument("--width", type=int, default=80)
    p.add_argument("--verify", action="store_true",
                   help="check the output of every pass up to PASS against its language")
    p.set_defaults(fn=cmd_show)
    p = sub.add_parser("repl", help="interactive session (reads piped input line by line)")
    p.set_defaults(fn=cmd_repl)
    ns = parser.parse_args(argv)
    try:
        ns.fn(ns)
    except SxError as e:
        if ns.traceback:
            traceback.print_exc()
        print(e.format() if e.span is not None else f"error: {e.message}", file=sys.stderr)
        return 1
    except SxInternalError as e:
        if ns.traceback:
            traceback.print_exc()
        print(f"{e}\n(this is a bug in myia_sx; rerun with --traceback for details)",
              file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except (FileNotFoundError, ValueError) as e:
        if ns.traceback:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
