"""The Python API: load ``.sx`` code, call its functions, read and print forms.

``load(path)`` / ``load_string(text)`` run the pipeline (:mod:`myia_sx.pipeline`)
and give a :class:`Module` whose definitions are reachable as attributes
(kebab-case names mangled: ``m.sum_tree`` is ``sum-tree``) or by name
(``m["sum-tree"]``).  Python floats, ints, bools, None, numpy arrays (f32,
f64, i64), tuples and records go in and come out; anything else is an
:class:`SxTypeError` naming the argument.
"""

from __future__ import annotations

import numpy as np

from . import ad, interp, library, pipeline
from .errors import SxError, SxInternalError, SxSyntaxError, SxTypeError
from .forms import Seq
from .prims import Prim
from .printer import dumps as _dumps
from .printer import pretty
from .reader import read as _read
from .reader import read_one
from .values import (I64_MAX, I64_MIN, Closure, Record, RecordType, mangle,
                     type_name)

BACKENDS = ("interp",)


def read(text: str, filename: str = "<string>") -> tuple:
    """All forms in ``text`` (with spans)."""
    return _read(text, filename)


def loads(text: str, filename: str = "<string>"):
    """The one form in ``text``."""
    return read_one(text, filename)


def dumps(form, pretty_width: int | None = None) -> str:
    """Canonical text of ``form`` (multi-line layout if ``pretty_width`` is given)."""
    if pretty_width is not None:
        return pretty(form, pretty_width)
    return _dumps(form)


def load(path, backend: str | None = None, macros: dict | None = None) -> "Module":
    """Load the ``.sx`` file at ``path`` (``macros``: as for :func:`load_string`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise FileNotFoundError(f"cannot read {path}: {e.strerror}") from None
    return load_string(text, backend=backend, filename=str(path), macros=macros)


def load_string(text: str, backend: str | None = None, filename: str = "<string>",
                macros: dict | None = None) -> "Module":
    """Load ``.sx`` source text.

    ``macros`` maps names to Python (or Hy) callables used as macros in this
    module: each is called with the argument forms of a call and returns the
    form to use instead (hygiene applies as for ``defmacro``).
    """
    return load_forms(_read(text, filename), filename, backend, macros)


def load_forms(forms, filename: str = "<string>", backend: str | None = None,
               macros: dict | None = None) -> "Module":
    """Load a module given as surface forms (as the reader or the Hy bridge
    gives them); ``macros`` as for :func:`load_string`."""
    backend = _check_backend(backend)
    env = new_env(macros)
    final = compile_forms(forms, env)
    _guard("interpreter", library.load_module, env, final)
    return Module(env, final, backend, filename)


def compile_source(text: str, filename: str = "<string>"):
    """Compile ``.sx`` source: ``(final forms, dependencies)``.

    ``dependencies`` lists the library files (macro and prelude ``.sx`` files)
    the compilation read, for caches keyed on them (the import hook).
    """
    forms = _read(text, filename)
    env = new_env()
    return compile_forms(forms, env), library_files(env)


def module_from_forms(forms, filename: str = "<string>", backend: str | None = None):
    """A :class:`Module` from already compiled forms (as from :func:`compile_source`)."""
    backend = _check_backend(backend)
    env = new_env()
    _guard("interpreter", library.load_module, env, forms)
    return Module(env, forms, backend, filename)


def library_files(env) -> list:
    """The library files whose definitions ``env`` holds."""
    return list(env.libraries)


_registered_macros: dict = {}


def register_macro(name: str, fn=None):
    """Make the Python callable ``fn`` the macro ``name`` in every module
    loaded afterwards in this process (``load``, ``load_string``, sessions).
    Usable as a decorator: ``@register_macro("twice")``."""
    def register(f):
        if not callable(f):
            raise TypeError(f"macro {name} must be callable, got {type(f).__name__}")
        _registered_macros[name] = f
        return f
    return register if fn is None else register(fn)


def new_env(macros: dict | None = None):
    """A fresh global environment for one module (or one REPL session):
    the base library, then registered macros, then ``macros``."""
    from .passes.expand_macros import Macro

    env = library.new_env()
    for name, fn in {**_registered_macros, **(macros or {})}.items():
        if type(name) is not str or not callable(fn):
            raise TypeError(f"macros maps names to callables, got {name!r}: "
                            f"{type(fn).__name__}")
        env.macros[name] = Macro(name, fn, doc=(getattr(fn, "__doc__", None) or ""))
    return env


def compile_forms(forms, env, upto=None, expressions=False):
    """``forms`` after the pipeline, resolved against ``env``'s names.

    With ``expressions``, a top-level form that is not a definition becomes
    ``(def _ form)`` (REPL input), so its value can be read back as ``_``.
    """
    return pipeline.compile_module(forms, library.context(env, expressions), upto)


class Session:
    """An incremental program, fed one chunk of source at a time (the REPL).

    Definitions accumulate; a top-level expression is evaluated and its value
    returned (and bound to ``_``).  A chunk that fails anywhere leaves the
    session exactly as it was before the chunk.
    """

    def __init__(self, backend: str | None = None, macros: dict | None = None):
        self.backend = _check_backend(backend)
        self.env = new_env(macros)

    @property
    def names(self):
        """Every name defined so far (sx spelling)."""
        return sorted(self.env.names)

    def run(self, text: str, filename: str = "<repl>") -> list:
        """Run every form of ``text``; one ``(kind, payload)`` per form.

        ``kind`` is ``"value"`` (payload: the Python value) or ``"defined"``
        (payload: the list of names the form defined, macros included).
        """
        forms = _read(text, filename)
        saved = self.env.snapshot()
        results = []
        try:
            for form in forms:
                macros = dict(self.env.macros)
                final = compile_forms((form,), self.env, expressions=True)
                _guard("interpreter", library.load_module, self.env, final)
                if _is_expression(final):
                    results.append(("value", to_python(self.env.globals["_"])))
                else:
                    new_macros = [name for name, m in self.env.macros.items()
                                  if macros.get(name) is not m]
                    results.append(("defined", _defined_names(final) + new_macros))
        except BaseException:
            self.env.restore(saved)
            raise
        return results

    def ir(self, pass_name: str, text: str) -> str:
        """The pretty-printed IR of the forms in ``text`` after ``pass_name``."""
        forms = _read(text, "<repl>")
        out = compile_forms(forms, self.env, upto=pass_name, expressions=True)
        shown = [f.items[2] if _is_expression((f,)) else f for f in out]
        return "\n".join(pretty(f) for f in shown)

    def load_file(self, path) -> list:
        """Run the file at ``path`` in this session (as :meth:`run`)."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise FileNotFoundError(f"cannot read {path}: {e.strerror}") from None
        return self.run(text, str(path))


def _is_expression(final):
    from .forms import Symbol

    return (len(final) == 1 and interp.core_head(final[0]) == "def"
            and final[0].items[1] == Symbol("_"))


def _defined_names(final):
    from .core import top_level_name

    return [n.name for n in map(top_level_name, final) if n is not None]


def _check_backend(backend):
    if backend is None:
        return BACKENDS[0]
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not available in this version; "
                         f"available: {', '.join(BACKENDS)}")
    return backend


def _guard(where, fn, *args):
    try:
        with pipeline.deep_recursion():
            return fn(*args)
    except SxError:
        raise
    except RecursionError:
        raise SxSyntaxError("code nested too deeply to compile", None) from None
    except Exception as e:
        raise SxInternalError(where, e) from e


class Module:
    """A loaded program: its definitions, by name or mangled attribute."""

    def __init__(self, env, forms, backend, filename):
        self._env = env
        self._forms = forms
        self._backend = backend
        self._filename = filename
        self._names = _defined_names(forms)
        self._mangled = {}
        for name in self._names + sorted(env.globals):
            self._mangled.setdefault(mangle(name), name)

    @property
    def names(self):
        """The names this module defines, in order and in sx spelling (the
        prelude's and required libraries' names are reachable too)."""
        return list(self._names)

    @property
    def forms(self):
        """The module's forms after the last pass."""
        return self._forms

    def __getitem__(self, name):
        if name not in self._env.globals:
            raise KeyError(f"{self._filename} defines no {name!r}")
        return to_python(self._env.globals[name])

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        name = self._mangled.get(attr, attr)
        if name not in self._env.globals:
            raise AttributeError(f"{self._filename} defines no {attr!r}")
        return to_python(self._env.globals[name])

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | {mangle(n) for n in self._names})

    def __contains__(self, name):
        return name in self._env.globals

    def __repr__(self):
        return f"<myia_sx module {self._filename}: {' '.join(self._names)}>"


class Function:
    """A Python callable for an sx function; converts arguments and results."""

    def __init__(self, closure):
        self.closure = closure  # a Closure, or a primitive returned as a value
        self.name = closure.code.name if type(closure) is Closure else closure.name
        self.__name__ = mangle(self.name)

    def __call__(self, *args, **kwargs):
        if type(self.closure) is Closure:
            names, span = self.closure.code.param_names, self.closure.code.span
        else:
            names, span = (), None
        sx_args = [to_sx(a, _arg_label(names, i), span) for i, a in enumerate(args)]
        sx_kwargs = {k.replace("_", "-") if k.replace("_", "-") in names else k:
                     to_sx(v, k, span) for k, v in kwargs.items()}
        result = _guard("interpreter", interp.run, self.closure, sx_args, sx_kwargs or None)
        return to_python(result)

    def __repr__(self):
        return f"<sx function {self.name}>"


def _arg_label(names, i):
    if i < len(names) and names[i]:
        return f"{i + 1} ({names[i]})"
    return str(i + 1)


_OK_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int64),
              np.dtype(np.bool_))


def to_sx(v, label, span=None):
    """Check and convert a Python value passed into sx."""
    t = type(v)
    if t is float or t is bool or v is None:
        return v
    if t is int:
        if not I64_MIN <= v <= I64_MAX:
            raise SxTypeError(f"argument {label}: integer {v} does not fit in i64", span)
        return v
    if t is tuple:
        return tuple(to_sx(x, f"{label}[{i}]", span) for i, x in enumerate(v))
    if t is np.ndarray:
        if v.dtype not in _OK_DTYPES:
            raise SxTypeError(f"argument {label}: arrays of dtype {v.dtype} are not supported "
                              "(use float64, float32 or int64)", span)
        return v
    if isinstance(v, np.floating):
        if t is np.float32:
            return v
        if t is np.float64:
            return float(v)
    if isinstance(v, np.integer):
        return to_sx(int(v), label, span)
    if t is np.bool_:
        return bool(v)
    if isinstance(v, Record):
        # records are built in Python, so their fields are checked like arguments
        vals = v._values
        new = tuple(to_sx(x, f"{label}.{f}", span) for f, x in zip(v._fields, vals))
        if all(a is b for a, b in zip(new, vals)):
            return v
        return type(v)._sx_type.make(new)
    if isinstance(v, Function):
        return v.closure
    if isinstance(v, (Seq, str)):
        return v
    raise SxTypeError(f"argument {label}: cannot pass a Python {t.__name__} to sx "
                      "(expected a number, bool, None, numpy array, tuple or record)", span)


def to_python(v):
    """Convert an sx result for Python (functions become :class:`Function`)."""
    t = type(v)
    if t is tuple:
        return tuple(to_python(x) for x in v)
    if t is Closure or t is Prim:
        return Function(v)
    if t is RecordType:
        return v.pyclass
    return v


# -- differentiation from Python ---------------------------------------------------

def _sx_function(f, who):
    if isinstance(f, Function):
        return f.closure
    raise SxTypeError(f"{who} needs a function of an sx module (such as m.loss), "
                      f"got a Python {type(f).__name__}")


def _made(kind, f, wrt=0):
    closure = _sx_function(f, kind)
    return _guard("interpreter", ad.make, kind, ad.J(closure), to_sx(wrt, ":wrt"))


def grad(f, wrt=0) -> Function:
    """The gradient function of sx function ``f`` (as ``(grad f :wrt wrt)``)."""
    return Function(_made("grad", f, wrt))


def value_and_grad(f, wrt=0) -> Function:
    """The function giving ``(value, gradient)`` (as ``(value-and-grad f ...)``)."""
    return Function(_made("value-and-grad", f, wrt))


def vjp(f, *args):
    """``(f(*args), back)`` where ``back(ct)`` gives one cotangent per argument."""
    return Function(_made("vjp", f))(*args)


def jvp(f, primals, tangents):
    """``(f(*primals), tangent)``: forward mode."""
    return Function(_made("jvp", f))(tuple(primals), tuple(tangents))


__all__ = ["load", "load_string", "load_forms", "read", "loads", "dumps", "Module", "Function",
           "Session", "register_macro", "grad", "value_and_grad", "vjp", "jvp", "type_name"]
