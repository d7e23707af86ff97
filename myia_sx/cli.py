"""The ``myia-sx`` command line.

``myia-sx run FILE.sx [ARGS...]`` calls ``main`` with ARGS and prints the
result as sx (:func:`myia_sx.values.show_value`): each ARG is an sx
expression, evaluated where the module's definitions are visible (``2.5``,
``[1 2]``, ``(array [[1.0 2.0] [3.0 4.0]])``, ``(Params (zeros [2]) 0.0)``),
or the path of a ``.npy`` file, loaded with numpy (a ``.npz`` file: the
tuple of its arrays, in the order they were saved).  ``--untrusted`` loads a
file received from elsewhere (docs/trust.md) and ``--path DIR`` adds a folder
of libraries.  ``myia-sx show FILE.sx --after PASS`` prints the program after
a pass (``--verify`` checks the output of every pass up to it against the
language the pass writes, :mod:`myia_sx.languages`); after ``infer_types``
or ``specialize``, the typed program of ``main`` called with ARGS; after
``llvm``, the LLVM IR it compiles to (optimized).  ``run --backend llvm``
runs ``main`` compiled (docs/backends.md).
``myia-sx check FILE.sx [ARGS...]`` prints the inferred type of ``main``
(called with ARGS) and of each function a ``(declare f [type ...])`` of the
file names, with the types of the module's functions they reach
(docs/types.md).  A user
error prints ``file:line:col: message``, the source line and a caret, and
exits with status 1 (``--traceback`` adds the Python traceback, for compiler
developers); a compiler bug (an internal error) exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import traceback

import numpy as np

from . import api, library, pipeline, types
from .backend import llvm
from .errors import (SxError, SxInternalError, SxNameError, SxSyntaxError, SxTypeError,
                     full_tracebacks)
from .forms import head_name
from .passes import infer_types
from .prims import PRIMS
from .printer import pretty
from .reader import read_file
from .values import Closure, RecordType, show_value


def argument_value(module, text, i):
    """The value of command-line argument ``i`` (``text``): the array in a
    ``.npy`` file, the tuple of the arrays in a ``.npz`` file, or the value
    of an sx expression in ``module``."""
    if text.endswith((".npy", ".npz")):
        try:
            got = np.load(text, allow_pickle=False)
            if text.endswith(".npz"):
                with got:
                    return tuple(got[name] for name in got.files)
            return got
        except (OSError, ValueError) as e:
            raise ValueError(f"argument {i}: cannot load {text}: {e}") from None
    return module.evaluate(text, f"<argument {i}>")


def cmd_run(ns):
    module = api.load(ns.file, backend=ns.backend, paths=ns.path, trusted=not ns.untrusted)
    if "main" not in module:
        raise SxTypeError(f"{ns.file} defines no main function", None)
    args = [argument_value(module, text, i) for i, text in enumerate(ns.args, 1)]
    result = module["main"](*args)
    print(show_value(result))


def cmd_show(ns):
    if ns.after == "llvm":
        module = api.load(ns.file, paths=ns.path, trusted=not ns.untrusted)
        [(_, sp)] = specializations(ns, module, declared=False)
        print(llvm.compile_specialized(sp, module._env.globals).ir, end="")
        return
    if ns.after in TYPED_PASSES:
        module = api.load(ns.file, paths=ns.path, trusted=not ns.untrusted)
        [(_, sp)] = specializations(ns, module, declared=False)
        for form in sp.program:
            print(pretty(form, ns.width))
        return
    forms = read_file(ns.file)
    ctx = library.context(paths=ns.path, trusted=not ns.untrusted)
    if ns.verify:
        ctx.verify = True
    out = pipeline.compile_module(forms, ctx, ns.after)
    for form in out:
        print(pretty(form, ns.width))


# The passes that take a function and its argument types (pipeline.specialize).
TYPED_PASSES = ("infer_types", "specialize")


def cmd_check(ns):
    module = api.load(ns.file, paths=ns.path, trusted=not ns.untrusted)
    entries = specializations(ns, module, declared=True)
    if not entries:
        raise SxTypeError(f"{ns.file} has no main and no (declare f [types]): nothing to check",
                          None)
    own = set(module.names)
    for name, sp in entries:
        print(f"{name} : {signature(sp.context)}")
        seen = set()
        for ctx in sp.inference.reachable(sp.context):
            label = infer_types.code_label(ctx.code)
            line = f"  {label} : {signature(ctx)}"
            if label in own and ctx is not sp.context and line not in seen:   # not J-transforms
                seen.add(line)
                print(line)


def signature(ctx):
    """A context's type as text, values forgotten."""
    return types.show(types.ArrowT(map(types.widen, ctx.args), types.widen(ctx.result)))


def specializations(ns, module, declared):
    """``[(name, Specialized)]``: ``main`` called with the command line's
    arguments (if the file defines it), and, with ``declared``, each function
    a ``(declare f [type ...])`` of the file names, called with those types."""
    out = []
    fold = getattr(ns, "after", "specialize") != "infer_types"
    verify = getattr(ns, "verify", False) or None
    if "main" in module:
        args = [argument_value(module, text, i) for i, text in enumerate(ns.args, 1)]
        fn = module._env.globals["main"]
        out.append(("main", pipeline.specialize(fn, args, fold=fold, env=module._env,
                                                verify=verify)))
    elif not declared:
        raise SxTypeError(f"{ns.file} defines no main function", None)
    if declared:
        for form in read_file(ns.file):
            if head_name(form) == "declare":
                name, arg_types = declared_types(module, form)
                fn = module._env.globals[name]
                out.append((name, pipeline.specialize(fn, arg_types=arg_types, env=module._env,
                                                      verify=verify)))
    return out


def declared_types(module, form):
    """The name and the argument types of ``(declare f [type ...])``."""
    name, written = form.items[1], form.items[2]
    env = module._env

    def lookup(kind, n):
        v = PRIMS.get(n) if kind == "primitive" else env.globals.get(n)
        if not (type(v) is RecordType if kind == "record" else v is not None):
            raise types.TypeSyntaxError(f"no {kind} named {n}")
        return v
    if name.name not in env.globals or type(env.globals[name.name]) is not Closure:
        raise SxNameError(f"declare: {name.name} is not a function of {module._filename}",
                          name.span)
    out = []
    for t in written.items:
        try:
            out.append(types.read(t, lookup))
        except types.TypeSyntaxError as e:
            raise SxSyntaxError(f"declare: {e} (docs/types.md writes types)",
                                getattr(t, "span", None) or form.span) from None
    return name.name, out


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
    p = sub.add_parser("run", help="run FILE's main with ARGS (sx expressions, .npy or .npz files)")
    p.add_argument("file")
    p.add_argument("args", nargs="*")
    _load_options(p)
    p.add_argument("--backend", default="interp", choices=api.BACKENDS,
                   help="run with the reference interpreter (interp) or compiled to native "
                        "code (llvm; docs/backends.md)")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("show", help="print FILE after a pass (after infer_types or "
                       "specialize: main's typed program, called with ARGS)")
    p.add_argument("file")
    p.add_argument("args", nargs="*")
    _load_options(p)
    p.add_argument("--after", default=pipeline.PASS_NAMES[-1],
                   choices=("read",) + pipeline.PASS_NAMES + TYPED_PASSES + ("llvm",))
    p.add_argument("--width", type=int, default=80)
    p.add_argument("--verify", action="store_true",
                   help="check the output of every pass up to PASS against its language")
    p.set_defaults(fn=cmd_show)
    p = sub.add_parser("check", help="infer the types of FILE's main (called with ARGS) and "
                       "of each function a (declare f [types]) names; print them")
    p.add_argument("file")
    p.add_argument("args", nargs="*")
    _load_options(p)
    p.add_argument("--verify", action="store_true",
                   help="check the typed program against its language (Lmono)")
    p.set_defaults(fn=cmd_check)
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
