"""The compiler pipeline: a literal table of passes, run in order, and the
typed passes that take a function and its argument types (:func:`specialize`).

Each row names a pass, the language it reads and the language it writes.
Every language is printable (:func:`myia_sx.printer.pretty`) and runnable by
the reference interpreter (:mod:`myia_sx.interp`), so a bug shows at the first
pass whose output computes the wrong answer.

A user error (:class:`SxError`) passes through unchanged; any other exception
escaping a pass is a compiler bug and becomes :class:`SxInternalError` naming
the pass.  Code nested too deeply for the passes' recursion is a user error at
the top-level form that holds it.

With verification on (``Context.verify``; by default :data:`VERIFY`, set by
``MYIA_SX_VERIFY=1``), each pass's output is checked against the language the
pass writes (:mod:`myia_sx.languages`); output outside it is a compiler bug,
:class:`SxInternalError` naming the pass and the offending form.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable

from . import ad, interp, languages, types
from .errors import SxError, SxInternalError, SxSyntaxError, SxTypeError
from .forms import Symbol, gc_paused, head_name
from .printer import dumps
from .values import flat_closures, type_name
from .passes import differentiate, expand_macros, infer_types, normalize_anf, resolve_names
from .passes import specialize as specialize_pass


@dataclass(frozen=True)
class Pass:
    name: str
    reads: str
    writes: str
    run: Callable


PASSES = (
    Pass("expand_macros", "Lsurface", "Lcore", expand_macros.run),
    Pass("resolve_names", "Lcore", "Lresolved", resolve_names.run),
    Pass("normalize_anf", "Lresolved", "Lanf", normalize_anf.run),
    Pass("differentiate", "Lanf", "Lanf", differentiate.run),
)

PASS_NAMES = tuple(p.name for p in PASSES)

# Whether a new Context checks every pass's output (``MYIA_SX_VERIFY=1``).
VERIFY = os.environ.get("MYIA_SX_VERIFY") == "1"


@dataclass
class Context:
    """What the passes know about the world outside the module, and the
    abilities the pipeline hands them.

    ``env`` is the global environment the module is compiled against (names
    of earlier definitions, the macros in scope, the libraries loaded);
    ``expressions``: top-level expressions are allowed (REPL input: a
    top-level expression e becomes ``(def _ e)``); ``require(env, form)``
    loads the libraries a ``require`` form names (given by the library layer,
    :func:`myia_sx.library.context`); ``library``: the module is a library
    file, which may define the reserved names that start with ``%``;
    ``verify``: check each pass's output against the language it writes
    (default :data:`VERIFY`, read when the context is made); ``trusted``:
    false for a module received from elsewhere, which the passes must not
    run code of (``expand_macros`` then runs no macro, docs/trust.md)."""

    env: object
    expressions: bool = False
    require: Callable | None = None
    library: bool = False
    verify: bool = field(default_factory=lambda: VERIFY)
    trusted: bool = True

    @property
    def global_names(self):
        return self.env.names

    def compile(self, forms, expressions=False):
        """``forms`` through the whole pipeline, in this environment (macro
        expansion compiles macro bodies, and the definitions they use, so)."""
        return compile_module(forms, replace(self, expressions=expressions))

    def derive(self, name):
        """True if ``name`` is, or can now be made, a global of the environment:
        the J-transform ``g%J`` of a global ``g`` of a library or of earlier
        input is made on demand (:func:`myia_sx.ad.derive`)."""
        return ad.derive_into(self.env, name)


def stages(module, ctx, upto=None):
    """Yield ``(pass name, module after it)`` for each pass, stopping after ``upto``."""
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
    """Pass ``p`` run on ``module``; with ``ctx.verify``, its output checked by
    the checker of the language ``p`` writes (:data:`myia_sx.languages.LANGUAGES`)."""
    check = languages.LANGUAGES.get(p.writes) if ctx.verify else None
    try:
        with deep_recursion():
            out = p.run(module, ctx)
            if check is not None:
                check(out, ctx)
            return out
    except SxError:
        raise
    except RecursionError:
        span = next((f.span for f in module if getattr(f, "span", None)), None)
        raise SxSyntaxError("code nested too deeply to compile", span) from None
    except languages.LanguageError as e:
        raise SxInternalError(f"pass {p.name}", e, str(e)) from e
    except Exception as e:
        raise SxInternalError(f"pass {p.name}", e) from e


def compile_module(module, ctx, upto=None):
    """The module after every pass (or after ``upto``); the cyclic garbage
    collector waits meanwhile (:func:`myia_sx.forms.gc_paused`: the passes
    build trees, and its full collections made loading superlinear).  A
    module that :func:`stage_of` marks as written after the last pass is
    checked instead (:func:`checked_ir`)."""
    stage = stage_of(module)
    if stage is not None:
        return checked_ir(module, stage, ctx)
    out = module
    with gc_paused():
        for _, stage in stages(module, ctx, upto):
            out = stage
    return out


# -- serialized IR ----------------------------------------------------------------------------

# The stages a module can be written at (Module.export) and read back, with
# the language each is in: after the last pass, Lanf.
STAGES = {"lanf": "Lanf"}
STAGE_MARK = "%stage"


def stage_of(module):
    """The stage a module says it was written at, ``(%stage NAME)`` as its
    first form, or None for source."""
    first = module[0] if len(module) else None
    if head_name(first) != STAGE_MARK:
        return None
    items = first.items
    if len(items) != 2 or type(items[1]) is not Symbol or items[1].name not in STAGES:
        raise SxSyntaxError(f"({STAGE_MARK} NAME) names the stage a program was written at; "
                            f"stages: {', '.join(STAGES)}", first.span)
    return items[1].name


def checked_ir(module, stage, ctx):
    """The forms of a module written at ``stage`` (after its mark): its
    libraries required, then the whole module checked against the stage's
    language, once, in time linear in its size; no pass runs, so no macro.
    A module outside the language is a user error (it came from elsewhere)."""
    language = STAGES[stage]
    forms = tuple(module[1:])
    try:
        with gc_paused(), deep_recursion():
            for f in forms:
                if head_name(f) == "require":
                    if ctx.require is None:
                        raise SxSyntaxError("require needs the library loader", f.span)
                    ctx.require(ctx.env, f)
            languages.LANGUAGES[language](forms, ctx)
    except languages.LanguageError as e:
        raise SxSyntaxError(f"not a {language} program (the language of "
                            f"{STAGE_MARK} {stage}): {e.message}", e.span) from None
    except RecursionError:
        raise SxSyntaxError("code nested too deeply to compile", module[0].span) from None
    return forms


def stage_text(forms, stage="lanf"):
    """Compiled ``forms`` as the text of a module written at ``stage``: its
    mark, then one printed form per line (read back by any loader)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return f"({STAGE_MARK} {stage})\n" + "".join(dumps(f) + "\n" for f in forms)


# -- from a function and argument types to the typed program ---------------------------------

@dataclass
class Specialized:
    """A function specialized to argument types: the typed program
    (``program``, Lmono, or Ltyped with ``fold`` off), the name of its entry
    version, the inference it was written from, the entry's context and the
    function (a closure: what it captured is the entry's first argument)."""

    program: tuple
    entry: str
    inference: object
    context: object
    function: object
    _loaded: object = None

    @property
    def arg_types(self):
        return self.context.args

    @property
    def result(self):
        """The type of the value the function returns."""
        return self.context.result

    def signature(self):
        """``(-> [argument types] result type)``, as text."""
        return types.show(types.ArrowT(self.context.args, self.context.result))

    def run(self, env, args):
        """Run the program in (a copy of) environment ``env`` on ``args`` with
        the reference interpreter, which checks every value against its type."""
        if self._loaded is None:
            copy = env.copy()
            interp.load(copy, self.program)
            self._loaded = copy.globals[self.entry]
        env_arg = [flat_closures(self.function)] if self.context.captured else []
        return interp.run(self._loaded, env_arg + [flat_closures(a) for a in args])


# Specializations made so far: (function, argument types, fold) -> Specialized.
# A function of the language is a closure, kept alive here with its entry.
SPECIALIZED: OrderedDict = OrderedDict()
MAX_SPECIALIZED = 512


def specialize(fn, args=(), arg_types=None, verify=None, fold=True, env=None):
    """Infer a call of function ``fn`` (a closure) with arguments ``args``
    (values; or their types, ``arg_types``) and write the typed program
    (:mod:`myia_sx.passes.infer_types`, :mod:`myia_sx.passes.specialize`).
    ``env``, the environment the program reads names from, lets ``verify``
    check the program's language.  Cached per function and argument types."""
    verify = VERIFY if verify is None else verify
    inf = infer_types.Inference(ad.InferServices())
    if arg_types is None:
        arg_types = [_type_of_argument(inf, v, i) for i, v in enumerate(args)]
    key = (id(fn), tuple(t.key() for t in arg_types), fold)
    got = SPECIALIZED.get(key)
    if got is not None and got[0] is fn:
        SPECIALIZED.move_to_end(key)
        return got[1]
    with gc_paused(), deep_recursion():
        try:
            t = types.of_value(fn, inf.code_of, unknown_dims=False)
            if type(t) is not types.FnT:
                raise SxTypeError("only a function of the language can be specialized, got "
                                  f"{type_name(fn)}")
            ctx = inf.entry(t, arg_types)
        except SxError:
            raise
        except RecursionError:
            raise SxSyntaxError("code nested too deeply to compile", None) from None
        except Exception as e:
            raise SxInternalError("pass infer_types", e) from e
        try:
            program, entry = specialize_pass.run(inf, ctx, fold)
            if verify and env is not None:
                check = languages.check_lmono if fold else languages.check_ltyped
                check(program, Context(env))
        except SxError:
            raise
        except languages.LanguageError as e:
            raise SxInternalError("pass specialize", e, str(e)) from e
        except Exception as e:
            raise SxInternalError("pass specialize", e) from e
    out = Specialized(program, entry, inf, ctx, fn)
    SPECIALIZED[key] = (fn, out)
    if len(SPECIALIZED) > MAX_SPECIALIZED:
        SPECIALIZED.popitem(last=False)
    return out


def _type_of_argument(inf, v, i):
    t = types.of_value(v, inf.code_of, unknown_dims=False)
    if t is None:
        raise SxTypeError(f"argument {i + 1}: a value of type {type_name(v)} has no type in "
                          "the language")
    return t
