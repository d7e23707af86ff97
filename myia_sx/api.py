"""The Python API: load ``.sx`` code, call its functions, read and print forms.

``load(path)`` / ``load_string(text)`` run the pipeline (:mod:`myia_sx.pipeline`)
and give a :class:`Module` whose definitions are reachable as attributes
(kebab-case names mangled: ``m.sum_tree`` is ``sum-tree``) or by name
(``m["sum-tree"]``).  Python floats, ints, bools, None, numpy arrays (f32,
f64, i64), tuples and records go in and come out; anything else is an
:class:`SxTypeError` naming the argument.

The functions here are the API's entry points (:func:`~myia_sx.errors.entry_point`): an
:class:`SxError` leaving one has the frames of myia_sx taken out of its
traceback (``MYIA_SX_TRACEBACK=1`` keeps them), and a mistake made in
Python (a bad argument, a bad ``wrt=``) points at the Python call.
"""

from __future__ import annotations

import sys

import numpy as np

from . import ad, core, interp, library, params, pipeline
from .backend import llvm
from .errors import (SxError, SxInternalError, SxSyntaxError, SxTypeError, entry_point,
                     hide_internal_frames, python_site)
from .forms import Form, Seq, Symbol, Vec, head_name
from .prims import Prim
from .printer import dumps as _dumps
from .printer import pretty
from .reader import read as _read
from .reader import read_one
from .values import (I64_MAX, I64_MIN, Closure, Record, RecordType, flat_closures, mangle,
                     type_name)

BACKENDS = ("interp", "llvm")


@entry_point
def read(text: str, filename: str = "<string>") -> tuple:
    """All forms in ``text`` (with spans)."""
    return _read(text, filename)


@entry_point
def loads(text: str, filename: str = "<string>"):
    """The one form in ``text``."""
    return read_one(text, filename)


def dumps(form, pretty_width: int | None = None) -> str:
    """Canonical text of ``form`` (multi-line layout if ``pretty_width`` is given)."""
    if pretty_width is not None:
        return pretty(form, pretty_width)
    return _dumps(form)


@entry_point
def load(path, backend: str | None = None, macros: dict | None = None, paths=(),
         trusted: bool = True) -> "Module":
    """Load the ``.sx`` file at ``path`` (``macros``, ``paths``, ``trusted``:
    as for :func:`load_string`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise FileNotFoundError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise SxSyntaxError(f"{path} is not UTF-8 text", None) from None
    return load_string(text, backend=backend, filename=str(path), macros=macros, paths=paths,
                       trusted=trusted)


@entry_point
def load_string(text: str, backend: str | None = None, filename: str = "<string>",
                macros: dict | None = None, paths=(), trusted: bool = True) -> "Module":
    """Load ``.sx`` source text.

    ``macros`` maps names to Python (or Hy) callables used as macros in this
    module: each is called with the argument forms of a call and returns the
    form to use instead (hygiene applies as for ``defmacro``).  ``paths``:
    folders where ``require`` may also find libraries.  ``trusted=False``
    loads a module received from elsewhere (docs/trust.md): no macro runs,
    no function is called while it loads, and its libraries come only from
    ``paths`` and the library root.
    """
    return load_forms(_read(text, filename), filename, backend, macros, paths, trusted)


@entry_point
def load_forms(forms, filename: str = "<string>", backend: str | None = None,
               macros: dict | None = None, paths=(), trusted: bool = True) -> "Module":
    """Load a module given as surface forms (as the reader or the Hy bridge
    gives them); ``macros``, ``paths``, ``trusted`` as for :func:`load_string`.
    Its top-level definitions may make at most ``library.LOAD_CALLS`` calls
    of functions while it loads."""
    backend = _check_backend(backend)
    env = new_env(macros)
    final = compile_forms(forms, env, paths=paths, trusted=trusted)
    _guard("interpreter", library.load_module, env, final, paths, trusted, library.LOAD_CALLS)
    return Module(env, final, backend, filename)


@entry_point
def compile_source(text: str, filename: str = "<string>"):
    """Compile ``.sx`` source: ``(final forms, dependencies)``.

    ``dependencies`` lists the library files (macro and prelude ``.sx`` files)
    the compilation read, for caches keyed on them (the import hook).
    """
    forms = _read(text, filename)
    env = new_env()
    return compile_forms(forms, env), library_files(env)


@entry_point
def module_from_forms(forms, filename: str = "<string>", backend: str | None = None):
    """A :class:`Module` from already compiled forms (as from :func:`compile_source`)."""
    backend = _check_backend(backend)
    env = new_env()
    _guard("interpreter", library.load_module, env, forms, (), True, library.LOAD_CALLS)
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


def compile_forms(forms, env, upto=None, expressions=False, paths=(), trusted=True):
    """``forms`` after the pipeline, resolved against ``env``'s names.

    With ``expressions``, a top-level form that is not a definition becomes
    ``(def _ form)`` (REPL input), so its value can be read back as ``_``.
    ``paths`` and ``trusted`` as for :func:`load_string`.
    """
    return pipeline.compile_module(forms, library.context(env, expressions, paths, trusted),
                                   upto)


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

    def infer(self, text: str, filename: str = "<repl>"):
        """Infer the one expression in ``text`` without running it: the
        :class:`myia_sx.pipeline.Specialized` of a function of no arguments
        returning it (the REPL's ``:type``)."""
        forms = _read(text, filename)
        if len(forms) != 1:
            raise SxSyntaxError(f"expected one expression, got {len(forms)} forms",
                                next((f.span for f in forms if hasattr(f, "span")), None))
        span = getattr(forms[0], "span", None)
        env = self.env.copy()
        if not _is_expression(compile_forms(forms, env.copy(), expressions=True)):
            raise SxSyntaxError("expected an expression, not a definition", span)
        thunk = Form((Symbol("fn", span), Vec((), span), forms[0]), span)
        final = compile_forms((thunk,), env, expressions=True)
        _guard("interpreter", library.load_module, env, final)
        return pipeline.specialize(env.globals["_"], (), env=env)

    def load_file(self, path) -> list:
        """Run the file at ``path`` in this session (as :meth:`run`)."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise FileNotFoundError(f"cannot read {path}: {e.strerror}") from None
        return self.run(text, str(path))


def _is_expression(final):
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
    """``fn(*args)``: user errors pass, anything else is an internal error of ``where``."""
    try:
        with pipeline.deep_recursion():
            return fn(*args)
    except SxError:
        raise
    except RecursionError:
        raise SxSyntaxError("code nested too deeply to compile", None) from None
    except Exception as e:
        raise SxInternalError(where, e) from e


def _reached(forms, name):
    """The forms of compiled module ``forms`` that definition ``name`` needs:
    the definitions it reaches, its records and requires, in module order."""
    defs = {}
    for f in forms:
        n = core.top_level_name(f) if type(f) is Form else None
        if n is not None:
            defs[n.name] = f
    if name not in defs:
        raise KeyError(f"the module defines no {name!r}")
    reached, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n in reached or n not in defs:
            continue
        reached.add(n)
        f = defs[n]
        if head_name(f) == "def":
            todo.extend(core.free_names(core.def_parts(f)[1]))
    return [f for f in forms if head_name(f) in ("require", "defrecord")
            or head_name(f) == "def" and core.top_level_name(f).name in reached]


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

    @entry_point
    def export(self, name=None, path=None, stage="lanf"):
        """The module's compiled program as serialized IR, the text of a
        module written at ``stage`` (``(%stage lanf)``, then one form per
        line): with ``name``, only the definitions ``name`` reaches, its
        J-transforms included, with the module's records and ``require``s.
        Written to ``path`` when given.  Loading the text (``load``,
        ``load_string``) checks it against the stage's language and runs no
        pass and no macro."""
        forms = self._forms if name is None else _reached(self._forms,
                                                          self._mangled.get(name, name))
        text = pipeline.stage_text(forms, stage)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    @entry_point
    def load_params(self, path):
        """The parameter tree saved with :func:`save_params` in the ``.npz``
        file ``path``, its records of this module's record types."""
        return params.load_params(path, self._env.globals)

    def __getitem__(self, name):
        if name not in self._env.globals:
            raise KeyError(f"{self._filename} defines no {name!r}")
        return to_python(self._env.globals[name], self._backend)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        name = self._mangled.get(attr, attr)
        if name not in self._env.globals:
            raise AttributeError(f"{self._filename} defines no {attr!r}")
        return to_python(self._env.globals[name], self._backend)

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | {mangle(n) for n in self._names})

    def evaluate(self, text: str, filename: str = "<expr>"):
        """The value of the one sx expression in ``text``, evaluated where
        the module's definitions, macros and libraries are visible (the
        module itself is left as it was)."""
        forms = _read(text, filename)
        if len(forms) != 1:
            raise SxSyntaxError(f"expected one expression in {filename}, got {len(forms)} forms",
                                next((f.span for f in forms if hasattr(f, "span")), None))
        env = self._env.copy()
        final = compile_forms(forms, env, expressions=True)
        if not _is_expression(final):
            raise SxSyntaxError("expected an expression, got a definition",
                                getattr(forms[0], "span", None))
        _guard("interpreter", library.load_module, env, final)
        return to_python(env.globals["_"], self._backend)

    def __contains__(self, name):
        return name in self._env.globals

    def __repr__(self):
        return f"<myia_sx module {self._filename}: {' '.join(self._names)}>"


class Function:
    """A Python callable for an sx function; converts arguments and results.

    ``name`` is what error messages call it and ``param_names`` the names
    they give its arguments (by default, the function's own).  ``backend``
    runs its calls: ``"interp"`` (the reference interpreter) or ``"llvm"``
    (each argument signature specialized and compiled once)."""

    def __init__(self, closure, name=None, param_names=None, backend="interp"):
        self.closure = closure  # a Closure, or a primitive returned as a value
        self.backend = backend
        code = closure.code if type(closure) is Closure else None
        self.name = name or (interp.label(code) if code is not None else closure.name)
        self.__name__ = mangle(code.name if code is not None else closure.name)
        if param_names is None:
            param_names = code.param_names if code is not None else ()
        self.param_names = param_names

    def __call__(self, *args, **kwargs):
        caller = sys._getframe(1)
        try:
            return self._call(args, kwargs, lambda: python_site(caller))
        except SxError as e:
            if e.span is None:
                e.span = python_site(caller)
            hide_internal_frames(e)
            raise

    def _call(self, args, kwargs, site):
        """The call, with ``site()`` the span of the Python call."""
        names = self.param_names
        try:
            sx_args = [to_sx(a, _arg_label(names, i)) for i, a in enumerate(args)]
            sx_kwargs = {k.replace("_", "-") if k.replace("_", "-") in names else k:
                         to_sx(v, k) for k, v in kwargs.items()}
        except SxTypeError as e:
            if type(self.closure) is Closure:
                interp.misfit(e, self.closure.code, site, self.name)
            raise
        if self.backend == "llvm":
            result = _guard("llvm", _native_call, self, sx_args, sx_kwargs, site)
        else:
            result = _guard("interpreter", interp.run, self.closure, sx_args,
                            sx_kwargs or None, self.name, site)
        return to_python(result, self.backend)

    def specialize(self, *args):
        """The typed program of a call with ``args``: a
        :class:`myia_sx.pipeline.Specialized` (its Lmono program, the name of
        its entry, the result's type); cached per argument types, so a later
        call with arguments of the same types infers nothing."""
        caller = sys._getframe(1)
        try:
            if type(self.closure) is not Closure:
                raise SxTypeError(f"{self.name} is a primitive: it has no code to specialize")
            sx_args = [to_sx(a, _arg_label(self.param_names, i)) for i, a in enumerate(args)]
            return pipeline.specialize(self.closure, sx_args)
        except SxError as e:
            if e.span is None:
                e.span = python_site(caller)
            hide_internal_frames(e)
            raise

    def signature(self, *args) -> str:
        """The inferred type of a call with ``args``: ``(-> [argument types]
        result type)``, as text (the syntax of docs/types.md)."""
        return self.specialize(*args).signature()

    def __repr__(self):
        return f"<sx function {self.name}>"


# Compiled code per specialization: id(Specialized) -> (Specialized, Native).
_NATIVE: dict = {}


def _native_call(f, args, kwargs, site):
    """Call ``f`` with ``args`` in compiled code (specialized and compiled
    on the first call with arguments of these types)."""
    if type(f.closure) is not Closure:
        raise llvm.Unsupported(f"the LLVM backend does not compile the primitive {f.name} "
                               "called from Python yet", site())
    if kwargs:
        raise llvm.Unsupported("the LLVM backend does not take keyword arguments from "
                               "Python yet", site())
    sp = pipeline.specialize(f.closure, args)
    got = _NATIVE.get(id(sp))
    if got is None or got[0] is not sp:
        got = _NATIVE[id(sp)] = (sp, llvm.compile_specialized(sp, f.closure.code.globals))
    env_arg = [flat_closures(f.closure)] if sp.context.captured else []
    return got[1].call(env_arg + [flat_closures(a) for a in args])


def _arg_label(names, i):
    if i < len(names) and names[i]:
        return f"{i + 1} ({names[i]})"
    return str(i + 1)


_OK_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int64),
              np.dtype(np.bool_))


def to_sx(v, label):
    """Check and convert a Python value passed into sx (``label`` names it in
    errors).  Tuples and records nest to any depth: they are converted
    without recursion."""
    if type(v) is not tuple and not isinstance(v, Record):
        return _leaf_to_sx(v, label, ())
    stack = [[v, _parts(v), 0, []]]
    while True:
        frame = stack[-1]
        items, i, out = frame[1], frame[2], frame[3]
        if i < len(items):
            frame[2] = i + 1
            x = items[i]
            if type(x) is tuple or isinstance(x, Record):
                stack.append([x, _parts(x), 0, []])
            else:
                out.append(_leaf_to_sx(x, label, stack))
            continue
        stack.pop()
        new = _rebuilt(frame[0], out)
        if not stack:
            return new
        stack[-1][3].append(new)


def _parts(v):
    """The items of a tuple, the field values of a record."""
    return v if type(v) is tuple else v._values


def _rebuilt(v, items):
    """Tuple or record ``v`` with converted ``items`` (``v`` itself for a
    record whose fields needed no conversion)."""
    if type(v) is tuple:
        return tuple(items)
    if all(a is b for a, b in zip(items, v._values)):
        return v
    # records are built in Python, so their fields are checked like arguments
    return type(v)._sx_type.make(tuple(items))


def _leaf_to_sx(v, label, stack):
    """``to_sx`` of a value that is no tuple or record, found in the
    containers of ``stack`` (a path for errors: ``x[2].w``)."""
    t = type(v)
    if t is float or t is bool or v is None:
        return v
    if t is int:
        if not I64_MIN <= v <= I64_MAX:
            what = f"integer {v}" if v.bit_length() < 128 else \
                f"an integer of {v.bit_length()} bits"
            raise SxTypeError(f"argument {_path(label, stack)}: {what} does not fit in i64")
        return v
    if t is np.ndarray:
        if v.dtype not in _OK_DTYPES:
            raise SxTypeError(f"argument {_path(label, stack)}: arrays of dtype {v.dtype} "
                              "are not supported (use float64, float32 or int64)")
        return v
    if isinstance(v, np.floating):
        if t is np.float32:
            return v
        if t is np.float64:
            return float(v)
    if isinstance(v, np.integer):
        return _leaf_to_sx(int(v), label, stack)
    if t is np.bool_:
        return bool(v)
    if isinstance(v, Function):
        return v.closure
    if isinstance(v, (Seq, str)):
        return v
    raise SxTypeError(f"argument {_path(label, stack)}: cannot pass a Python {t.__name__} "
                      "to sx (expected a number, bool, None, numpy array, tuple or record)")


def _path(label, stack):
    """``label`` followed by where the current item of each frame of
    ``stack`` is: ``[i]`` in a tuple, ``.field`` in a record."""
    parts = [label]
    for v, _, i, _ in stack:
        parts.append(f"[{i - 1}]" if type(v) is tuple else f".{v._fields[i - 1]}")
    return "".join(parts)


def to_python(v, backend="interp"):
    """Convert an sx result for Python (functions become :class:`Function`
    run by ``backend``); tuples nest to any depth: they are converted
    without recursion."""
    if type(v) is not tuple:
        return _leaf_to_python(v, backend)
    stack = [[v, 0, []]]
    while True:
        frame = stack[-1]
        items, i, out = frame
        if i < len(items):
            frame[1] = i + 1
            x = items[i]
            if type(x) is tuple:
                stack.append([x, 0, []])
            else:
                out.append(_leaf_to_python(x, backend))
            continue
        stack.pop()
        if not stack:
            return tuple(out)
        stack[-1][2].append(tuple(out))


def _leaf_to_python(v, backend):
    t = type(v)
    if t is Closure or t is Prim:
        return Function(v, backend=backend)
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
    """The function maker ``kind`` builds around sx function ``f``, named
    ``(kind f)`` in messages, its arguments named as ``f``'s."""
    closure = _sx_function(f, kind.replace("-", "_"))
    made = _guard("interpreter", ad.make, kind, ad.J(closure), to_sx(wrt, "wrt"))
    params = closure.code.param_names if type(closure) is Closure else None
    return Function(made, f"({kind} {f.name})", params, f.backend)


@entry_point
def grad(f, wrt=0) -> Function:
    """The gradient function of sx function ``f`` (as ``(grad f :wrt wrt)``)."""
    return _made("grad", f, wrt)


@entry_point
def value_and_grad(f, wrt=0) -> Function:
    """The function giving ``(value, gradient)`` (as ``(value-and-grad f ...)``)."""
    return _made("value-and-grad", f, wrt)


@entry_point
def vjp(f, *args):
    """``(f(*args), back)`` where ``back(ct)`` gives one cotangent per argument."""
    return _made("vjp", f)(*args)


@entry_point
def jvp(f, primals, tangents):
    """``(f(*primals), tangent)``: forward mode."""
    return _made("jvp", f)(tuple(primals), tuple(tangents))


__all__ = ["load", "load_string", "load_forms", "read", "loads", "dumps", "Module", "Function",
           "Session", "register_macro", "grad", "value_and_grad", "vjp", "jvp", "type_name"]
