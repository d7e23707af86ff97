"""Libraries: the ``.sx`` files of macros and functions that modules use.

Every module starts from the *base* environment: ``macros/core.sx`` (``defn``,
``cond``, ``loop`` ...) followed by the files of ``prelude/`` in the order
of :data:`PRELUDE` (``sigmoid``, ``softmax``, tree helpers, optimizers ...)
and the derivative rules ``prelude/derivatives.sx``, each compiled by the ordinary
pipeline and evaluated once per process.  A module pulls more with
``(require macros.nn)``: the file ``macros/nn.sx``, looked up first next to the
requiring file, then in the folders the user listed (``load(...,
paths=[...])``), then in the library root.  Requiring a library brings in its
macros and its definitions, and those of the libraries it requires (so a
library macro may expand into calls of its helpers).

``require`` reads nothing else: a library name is relative (no absolute path,
no ``..``), always names a ``.sx`` file, and must resolve, links followed,
inside the folder it was looked up in.  A module loaded untrusted
(``trusted=False``) gets its libraries only from the listed folders and the
library root, never from its own folder (docs/trust.md).

Evaluating top-level definitions while a module loads is bounded: at most
:data:`LOAD_CALLS` calls of functions (a loop that never ends is an error,
not a hang), and none at all for an untrusted module.

Libraries are cached per process by path, content hash and listed folders.
An error inside a library points into the library's file, with a note at the
``require`` form.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path, PurePath

from . import ad, core, interp, pipeline
from .env import Env
from .errors import SxError, SxMacroError
from .forms import Form, Symbol
from .reader import read

_HERE = Path(__file__).resolve().parent


def library_root() -> Path:
    """The folder holding ``macros/`` and ``prelude/``.

    In a source checkout (and an editable install) that is the repository
    root; an installed package carries them as ``myia_sx/macros`` and
    ``myia_sx/prelude``.
    """
    if (_HERE / "macros" / "core.sx").is_file():
        return _HERE
    return _HERE.parent


# The files of prelude/, in the order they load: each may use those before it
# (the optimizers map over trees, random numbers fold over shapes; the
# derivative rules use all the rest).
PRELUDE = ("arrays.sx", "math.sx", "tuples.sx", "optim.sx", "random.sx", "derivatives.sx")


def base_files() -> list:
    """``macros/core.sx``, then the prelude (:data:`PRELUDE`)."""
    root = library_root()
    return [root / "macros" / "core.sx"] + [root / "prelude" / name for name in PRELUDE]


# The calls of functions the top-level definitions of one module may make
# while it loads (its real work belongs in functions such as main).
LOAD_CALLS = 10_000_000

_base_env = None
_libraries: dict = {}
_loading: list = []


def base_env():
    """The environment every module starts from (built once per process)."""
    global _base_env
    if _base_env is None:
        env = Env()
        for path in base_files():
            load_file_into(env, path)
            if path.name == "derivatives.sx":
                ad.use_rules(env.globals)
        _base_env = env
    return _base_env


def new_env():
    """A fresh environment holding the base library."""
    return base_env().copy()


def loader(paths=(), trusted=True):
    """The ``require`` of a module: ``(env, form)`` brings in the libraries
    ``form`` names, looked up as :func:`find` says."""
    return functools.partial(require, paths=tuple(paths), trusted=trusted)


def context(env=None, expressions=False, paths=(), trusted=True):
    """A pipeline context for compiling a module against ``env`` (a fresh
    environment holding the base library if None), with the library loader
    (``paths``: more folders of libraries; ``trusted``: False for a module
    received from elsewhere, see :func:`find` and docs/trust.md)."""
    return pipeline.Context(env=env if env is not None else new_env(),
                            expressions=expressions, require=loader(paths, trusted),
                            trusted=trusted)


def load_module(env, forms, paths=(), trusted=True, calls=None):
    """Evaluate compiled top-level ``forms`` into ``env`` (``require`` forms
    load their libraries, as :func:`context` says).  ``calls``: the calls of
    functions the definitions may make (None: no limit, as at the REPL);
    an untrusted module's may make none."""
    if not trusted:
        budget = interp.Budget(0, "a module loaded untrusted (trusted=False) calls no "
                                  "function while it loads: its top-level definitions may use "
                                  "literals, primitives and record constructors only (call "
                                  "functions from main)")
    elif calls is not None:
        budget = interp.Budget(calls, "the top-level definitions made more than {calls} calls "
                                      "of functions while the module loaded: does a loop never "
                                      "end? (do the work in a function such as main)")
    else:
        budget = None
    with pipeline.deep_recursion(), interp.limited(budget):
        interp.load(env, forms, loader(paths, trusted))


def load_file_into(env, path, text=None, paths=()):
    """Compile and evaluate the library file ``path`` (whose ``text`` it is,
    read from the file if None) in ``env``; its own requires may also use
    the folders ``paths``."""
    if text is None:
        text = Path(path).read_text(encoding="utf-8")
    forms = read(text, str(path))
    ctx = pipeline.Context(env=env, require=loader(paths), library=True)
    load_module(env, pipeline.compile_module(forms, ctx), paths, calls=LOAD_CALLS)
    if path not in env.libraries:
        env.libraries.append(Path(path))


def require_names(form):
    """The library names of ``(require a.b c ...)``, as dotted strings."""
    items = form.items
    if len(items) < 2:
        core.fail("require names one or more libraries: (require macros.nn)", form)
    out = []
    for x in items[1:]:
        if type(x) is Symbol:
            out.append((x.name, x))
        elif type(x) is str:
            out.append((x, form))
        elif type(x) is Form and core.head_name(x) == "." and all(
                type(p) is Symbol for p in x.items[1:]):
            out.append((".".join(p.name for p in x.items[1:]), x))
        else:
            core.fail("a library name is a symbol like macros.nn or a \"path.sx\" string",
                      x, form)
    return out


def library_file(name):
    """The relative path of the file of library ``name``: ``a.b`` is
    ``a/b.sx``, a name ending in ``.sx`` is a path; None for a name that is
    neither (empty parts, an absolute path, ``..``)."""
    if "\0" in name or "\\" in name:
        return None
    if name.endswith(".sx"):
        rel = PurePath(name)
        if rel.is_absolute() or ".." in rel.parts or rel.stem in ("", "."):
            return None
        return rel
    parts = name.split(".")
    if any(not p or "/" in p for p in parts):
        return None
    return PurePath(*parts).with_suffix(".sx")


def search_folders(near, paths=(), trusted=True):
    """The folders a ``require`` in file ``near`` may read, in the order it
    looks: ``near``'s folder (not for an untrusted module), the folders
    ``paths``, the library root."""
    folders = []
    if trusted and near is not None and Path(near).is_file():
        folders.append(Path(near).resolve().parent)
    folders.extend(Path(p).resolve() for p in paths)
    folders.append(library_root().resolve())
    return folders


def find(name, near, paths=(), trusted=True, span=None):
    """The file of library ``name`` required in file ``near`` (see
    :func:`library_file` and :func:`search_folders`), or None.  A name that
    would leave its folder is an error at ``span``."""
    rel = library_file(name)
    if rel is None:
        raise SxMacroError(f"{name!r} is not a library name: use a dotted name like "
                           "macros.nn, or a relative \"path.sx\" without ..", span)
    for folder in search_folders(near, paths, trusted):
        c = folder / rel
        if c.is_file():
            real = c.resolve()
            if not real.is_relative_to(folder):
                raise SxMacroError(f"library {name} is a link to a file outside the folders "
                                   "require may read", span)
            return real
    return None


def require(env, form, paths=(), trusted=True):
    """Bring the libraries named by the ``require`` ``form`` into ``env``
    (found as :func:`find` says)."""
    for name, where in require_names(form):
        span = getattr(where, "span", None) or form.span
        near = span.file if span is not None else None
        path = find(name, near, paths, trusted, span)
        if path is None:
            places = ("next to this file, " if trusted else "") + (
                "in the folders given to load, " if paths else "")
            raise SxMacroError(f"no library {name} (looked for {library_file(name)} "
                               f"{places}in the library root)", span)
        lib = _library(path, span, tuple(paths))
        _import(env, lib)


def _library(path, span, paths=()):
    """The environment of the library at ``path`` (loaded once per content
    and listed folders)."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as e:
        raise SxMacroError(f"cannot read library {path.name}: {e.strerror}", span) from None
    except UnicodeDecodeError:
        raise SxMacroError(f"library {path.name} is not UTF-8 text", span) from None
    key = (str(path), hashlib.sha256(data).hexdigest(), paths)
    lib = _libraries.get(key)
    if lib is not None:
        return lib
    if str(path) in _loading:
        raise SxMacroError(f"circular require: {' -> '.join(_loading + [str(path)])}", span)
    _loading.append(str(path))
    try:
        lib = new_env()
        load_file_into(lib, path, text, paths)
    except SxError as e:
        e.add_note(f"while loading library {path.name}, required here", span)
        raise
    finally:
        _loading.pop()
    _libraries[key] = lib
    return lib


def _import(env, lib):
    base = base_env()
    for name in lib.names:
        if name not in base.names or lib.globals.get(name) is not base.globals.get(name):
            if name in lib.globals:
                env.globals[name] = lib.globals[name]
            env.names.add(name)
            if name in lib.spans:
                env.spans[name] = lib.spans[name]
    env.macros.update(lib.macros)
    for p in lib.libraries:
        if p not in env.libraries:
            env.libraries.append(p)
