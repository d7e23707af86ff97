"""Libraries: the ``.sx`` files of macros and functions that modules use.

Every module starts from the *base* environment: ``macros/core.sx`` (``defn``,
``cond``, ``loop`` ...) followed by the files of ``prelude/`` in name order
(``sigmoid``, ``softmax``, tuple helpers ...) and the derivative rules
``prelude/derivatives.sx``, each compiled by the ordinary
pipeline and evaluated once per process.  A module pulls more with
``(require macros.nn)``: the file ``macros/nn.sx``, looked up first next to the
requiring file, then in the library root.  Requiring a library brings in its
macros and its definitions, and those of the libraries it requires (so a
library macro may expand into calls of its helpers).

Libraries are cached per process by path and content hash.  An error inside a
library points into the library's file, with a note at the ``require`` form.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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


def base_files() -> list:
    """``macros/core.sx``, the prelude in name order, then its derivative rules
    (``prelude/derivatives.sx``, which may use the rest of the prelude)."""
    root = library_root()
    prelude = sorted((root / "prelude").glob("*.sx"), key=lambda p: (p.name == "derivatives.sx",
                                                                      p.name))
    return [root / "macros" / "core.sx"] + prelude


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


def context(env=None, expressions=False):
    """A pipeline context for compiling a module against ``env`` (a fresh
    environment holding the base library if None), with the library loader."""
    return pipeline.Context(env=env if env is not None else new_env(),
                            expressions=expressions, require=require)


def load_module(env, forms):
    """Evaluate compiled top-level ``forms`` into ``env`` (``require`` forms
    load their libraries)."""
    with pipeline.deep_recursion():
        interp.load(env, forms, require)


def load_file_into(env, path):
    """Compile and evaluate the library file ``path`` in ``env``."""
    text = Path(path).read_text(encoding="utf-8")
    forms = read(text, str(path))
    ctx = pipeline.Context(env=env, require=require, library=True)
    load_module(env, pipeline.compile_module(forms, ctx))
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


def find(name, near):
    """The file of library ``name`` (``a.b`` is ``a/b.sx``), or None."""
    rel = Path(name) if name.endswith(".sx") else Path(*name.split(".")).with_suffix(".sx")
    candidates = []
    if near is not None and Path(near).is_file():
        candidates.append(Path(near).resolve().parent / rel)
    candidates.append(library_root() / rel)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return None


def require(env, form):
    """Bring the libraries named by the ``require`` ``form`` into ``env``."""
    for name, where in require_names(form):
        span = getattr(where, "span", None) or form.span
        path = find(name, span.file if span is not None else None)
        if path is None:
            raise SxMacroError(f"no library {name} (looked for {name.replace('.', '/')}.sx "
                               "next to this file and in the library root)", span)
        lib = _library(path, span)
        _import(env, lib)


def _library(path, span):
    """The environment of the library at ``path`` (loaded once per content)."""
    data = path.read_bytes()
    key = (str(path), hashlib.sha256(data).hexdigest())
    lib = _libraries.get(key)
    if lib is not None:
        return lib
    if str(path) in _loading:
        raise SxMacroError(f"circular require: {' -> '.join(_loading + [str(path)])}", span)
    _loading.append(str(path))
    try:
        lib = new_env()
        load_file_into(lib, path)
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
