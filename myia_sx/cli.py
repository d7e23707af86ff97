"""The ``myia-sx`` command line.

``myia-sx run FILE.sx [ARGS...]`` calls ``main`` with ARGS and prints the
result as sx (:func:`myia_sx.values.show_value`): each ARG is an sx
expression, evaluated where the module's definitions are visible (``2.5``,
``[1 2]``, ``(array [[1.0 2.0] [3.0 4.0]])``, ``(Params (zeros [2]) 0.0)``),
or the path of a ``.npy`` file, loaded with numpy.  ``--untrusted`` loads a
file received from elsewhere (docs/trust.md) and ``--path DIR`` adds a folder
of libraries.  ``myia-sx show FILE.sx --after PASS`` prints the program after
a pass (``--verify`` checks the output of every pass up to it against the
language the pass writes, :mod:`myia_sx.languages`).  A user
error prints ``file:line:col: message``, the source line and a caret, and
exits with status 1 (``--traceback`` adds the Python traceback, for compiler
developers); a compiler bug (an internal error) exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import traceback

import numpy as np

from . import api, library, pipeline
from .errors import SxError, SxInternalError, SxTypeError, full_tracebacks
from .printer import pretty
from .reader import read_file
from .values import show_value


def argument_value(module, text, i):
    """The value of command-line argument ``i`` (``text``): the array in a
    ``.npy`` file, or the value of an sx expression in ``module``."""
    if text.endswith(".npy"):
        try:
            return np.load(text, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"argument {i}: cannot load {text}: {e}") from None
    return module.evaluate(text, f"<argument {i}>")


def cmd_run(ns):
    module = api.load(ns.file, paths=ns.path, trusted=not ns.untrusted)
    if "main" not in module:
        raise SxTypeError(f"{ns.file} defines no main function", None)
    args = [argument_value(module, text, i) for i, text in enumerate(ns.args, 1)]
    result = module["main"](*args)
    print(show_value(result))


def cmd_show(ns):
    forms = read_file(ns.file)
    ctx = library.context(paths=ns.path, trusted=not ns.untrusted)
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


def _load_options(p):
    p.add_argument("--untrusted", action="store_true",
                   help="FILE comes from elsewhere: run no macro and no code while loading "
                        "(docs/trust.md)")
    p.add_argument("--path", action="append", default=[], metavar="DIR",
                   help="a folder where require may also find libraries (repeatable)")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="myia-sx", description="myia_sx: a compiled, differentiable Lisp for deep learning")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback of an error (for compiler bugs)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run FILE's main with ARGS (sx expressions or .npy files)")
    p.add_argument("file")
    p.add_argument("args", nargs="*")
    _load_options(p)
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("show", help="print FILE after a pass")
    p.add_argument("file")
    _load_options(p)
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
        with full_tracebacks(ns.traceback):   # the compiler's frames too
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
