"""The import hook: ``import model`` loads ``model.sx``, with a compile cache.

:class:`SxFinder` is a :class:`importlib.abc.MetaPathFinder` appended to
``sys.meta_path`` by :func:`install` (``import myia_sx.hook`` or
``myia_sx.install_import_hook()``).  Being last, it is asked only after
Python's own finders found nothing, so a Python module of the same name
anywhere on the path wins over a ``.sx`` file.  It looks for ``NAME.sx`` in
each ``sys.path`` entry (or in the package's ``__path__`` for ``pkg.NAME``) and
returns a :class:`~importlib.machinery.ModuleSpec` whose :class:`SxLoader`
compiles the file into a :class:`myia_sx.api.Module` (kept as
``module.__sx_module__``), copies the file's definitions onto the Python
module under their mangled names, and delegates other attributes (the
prelude's names) to it through a module ``__getattr__``.

The loader caches compiled forms in ``__pycache__/NAME.sxc`` next to the
source.  A cache file holds the forms after the last pass, with every span and
source text, in a flat encoding (so forms of any depth are stored without
recursion) written with :mod:`marshal`; it is used only if its key, a hash of
the cache format, ``myia_sx.version.__version__``, the source path and text, the path
and contents of every library file the compilation read and the ``.sx`` files
beside them, matches.  An unreadable, corrupt or stale file is ignored and
rewritten; an unwritable ``__pycache__`` means no caching.  ``MYIA_SX_CACHE=0``
turns the cache off.  See ``docs/import.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import marshal
import os
import sys

from . import api, version
from .errors import entry_point
from .forms import Form, Keyword, Source, Span, Symbol, Vec
from .values import mangle

SUFFIX = ".sx"
CACHE_SUFFIX = ".sxc"
# Start of every cache file; a change of the encoding changes it.
MAGIC = b"myia_sx cache 1\n"


def install() -> SxFinder:
    """Append the ``.sx`` finder to ``sys.meta_path`` unless it is there; return it."""
    for finder in sys.meta_path:
        if isinstance(finder, SxFinder):
            return finder
    finder = SxFinder()
    sys.meta_path.append(finder)
    return finder


class SxFinder(importlib.abc.MetaPathFinder):
    """Finds ``NAME.sx`` for ``import NAME`` / ``import pkg.NAME``."""

    def find_spec(self, fullname, path=None, target=None):
        """A spec for the first ``.sx`` file of that name on ``path`` (or ``sys.path``)."""
        filename = fullname.rpartition(".")[2] + SUFFIX
        for entry in sys.path if path is None else path:
            if not isinstance(entry, str):
                continue
            directory = os.path.abspath(entry)
            origin = os.path.join(directory, filename)
            if os.path.isfile(origin) and _exact_case(directory, filename):
                spec = importlib.machinery.ModuleSpec(fullname, SxLoader(origin), origin=origin)
                spec.has_location = True
                spec.cached = cache_path(origin)
                return spec
        return None


def _exact_case(directory, filename):
    """True if ``filename`` is spelled exactly so in ``directory`` (as Python's
    own finder requires, on case-insensitive file systems too)."""
    try:
        return filename in os.listdir(directory)
    except OSError:
        return False


class SxLoader(importlib.abc.Loader):
    """Loads one ``.sx`` file as a Python module (through the cache).

    After :meth:`exec_module`, ``cache_status`` says how the forms were
    obtained: ``"hit"`` (from the cache), ``"missing"`` (no cache file that
    could be opened), ``"stale"`` (a cache file with another key),
    ``"corrupt"`` (a damaged cache file) or ``"disabled"``
    (``MYIA_SX_CACHE=0``); ``cache_written`` says whether a new cache file was
    written.
    """

    def __init__(self, path: str):
        self.path = path
        self.cache_status = None
        self.cache_written = False

    @entry_point   # an error in the .sx file shows no frames of myia_sx
    def exec_module(self, module):
        """Compile (or fetch from the cache) and run the file; fill ``module``."""
        with open(self.path, encoding="utf-8") as f:
            text = f.read()
        sx_module = api.module_from_forms(self._final_forms(text), self.path)
        module.__sx_module__ = sx_module
        module.__getattr__ = sx_module.__getattr__
        for attr in {mangle(name) for name in sx_module.names}:
            if not attr.startswith("__"):
                setattr(module, attr, getattr(sx_module, attr))

    def _final_forms(self, text):
        """The compiled forms of ``text``: from the cache, or compiled (and cached)."""
        self.cache_written = False
        if os.environ.get("MYIA_SX_CACHE") == "0":
            self.cache_status = "disabled"
            return api.compile_source(text, self.path)[0]
        cached = cache_path(self.path)
        self.cache_status, forms = read_cache(cached, text, self.path)
        if forms is None:
            forms, dependencies = api.compile_source(text, self.path)
            self.cache_written = write_cache(cached, text, self.path, forms, dependencies)
        return forms


def cache_path(source_path: str) -> str:
    """Where the cache of ``source_path`` lives: ``DIR/__pycache__/NAME.sxc``."""
    directory, filename = os.path.split(source_path)
    return os.path.join(directory, "__pycache__", filename.removesuffix(SUFFIX) + CACHE_SUFFIX)


def cache_key(text: str, filename: str, dependencies) -> str:
    """The hex digest that a cache file must carry to be used.

    It covers the cache format, ``myia_sx.version.__version__``, the source's path
    (spans name it) and text, each library file's path (a ``str``) and
    contents (a missing file counts as changed), and the names of the ``.sx``
    files in the library files' folders (so that a file added to ``prelude/``
    counts too).
    """
    folders = sorted({os.path.dirname(path) for path in dependencies})
    parts = (MAGIC.decode(), version.__version__, filename, _digest(text.encode("utf-8")),
             tuple((path, _file_digest(path)) for path in dependencies),
             tuple((folder, _sx_files(folder)) for folder in folders))
    return _digest(repr(parts).encode("utf-8"))


def _sx_files(folder: str) -> tuple:
    """The sorted names of the ``.sx`` files in ``folder`` (none if unreadable)."""
    try:
        return tuple(sorted(name for name in os.listdir(folder) if name.endswith(SUFFIX)))
    except OSError:
        return ()


def _digest(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex."""
    return hashlib.sha256(data).hexdigest()


def _sha256(data: bytes) -> bytes:
    """The SHA-256 of ``data``, as 32 bytes (the checksum in a cache file)."""
    return hashlib.sha256(data).digest()


def _file_digest(path: str) -> str:
    """The digest of the file at ``path``, or ``"missing"`` if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return _digest(f.read())
    except OSError:
        return "missing"


def read_cache(cached: str, text: str, filename: str):
    """``(status, forms)``: the cached forms of ``filename`` (None unless status is "hit")."""
    try:
        with open(cached, "rb") as f:
            data = f.read()
    except OSError:
        return "missing", None
    body = data[len(MAGIC) + 32:]
    if not data.startswith(MAGIC) or data[len(MAGIC):len(MAGIC) + 32] != _sha256(body):
        return "corrupt", None
    try:
        key, dependencies, table = marshal.loads(body)
        if type(dependencies) is not tuple or any(type(p) is not str for p in dependencies):
            return "corrupt", None
        if cache_key(text, filename, dependencies) != key:
            return "stale", None
        return "hit", decode_forms(table)
    except (EOFError, IndexError, TypeError, ValueError):  # a damaged file
        return "corrupt", None


def write_cache(cached: str, text: str, filename: str, forms, dependencies) -> bool:
    """Write the cache file atomically; False if the forms or the folder do not allow it."""
    dependencies = tuple(os.fspath(path) for path in dependencies)
    try:
        body = marshal.dumps((cache_key(text, filename, dependencies), dependencies,
                              encode_forms(forms)))
    except (TypeError, ValueError):
        return False
    temporary = f"{cached}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        with open(temporary, "wb") as f:
            f.write(MAGIC + _sha256(body) + body)
        os.replace(temporary, cached)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True


# Node codes of the flat encoding.
_ATOM, _SYMBOL, _KEYWORD, _FORM, _VEC = range(5)
_ATOM_TYPES = (int, float, bool, str, type(None))


def encode_forms(forms) -> tuple:
    """``forms`` (a tuple of forms) as nested builtins that :mod:`marshal` can write.

    The result is ``(sources, spans, nodes)``: each distinct :class:`Source`
    once, each distinct :class:`Span` once (referring to sources and to other
    spans by index, -1 for None), and the forms in postorder, each node a
    small tuple.  Raises TypeError for anything that is not a form.
    """
    sources, spans, nodes = [], [], []
    source_ids, span_ids = {}, {}

    def source_index(source):
        """The index of ``source`` in ``sources`` (added if new), -1 for None."""
        if source is None:
            return -1
        if id(source) not in source_ids:
            source_ids[id(source)] = len(sources)
            sources.append((source.name, source.text))
        return source_ids[id(source)]

    def span_index(span):
        """The index of ``span`` in ``spans``, adding it and the spans of its
        macro calls (deepest first), -1 for None."""
        chain = []
        s = span
        while s is not None and id(s) not in span_ids:
            chain.append(s)
            s = s.expansion[1] if s.expansion is not None else None
        for s in reversed(chain):
            exp = s.expansion
            if exp is not None:
                if type(exp[0]) is not str:
                    raise TypeError(f"cannot cache a span expansion naming {exp[0]!r}")
                exp = (exp[0], span_index(exp[1]))
            span_ids[id(s)] = len(spans)
            spans.append((source_index(s.source), s.line, s.col, s.end_line, s.end_col, exp))
        return -1 if span is None else span_ids[id(span)]

    stack = [(form, False) for form in reversed(forms)]
    while stack:
        node, children_done = stack.pop()
        t = type(node)
        if t is Form or t is Vec:
            if children_done:
                nodes.append((_FORM if t is Form else _VEC, len(node.items),
                              span_index(node.span)))
            else:
                stack.append((node, True))
                stack.extend((item, False) for item in reversed(node.items))
        elif t is Symbol:
            nodes.append((_SYMBOL, node.name, span_index(node.span), node.marks))
        elif t is Keyword:
            nodes.append((_KEYWORD, node.name, span_index(node.span)))
        elif t in _ATOM_TYPES:
            nodes.append((_ATOM, node))
        else:
            raise TypeError(f"cannot cache a {t.__name__} in compiled forms")
    return sources, spans, nodes


def decode_forms(table) -> tuple:
    """The forms that :func:`encode_forms` encoded into ``table``, spans included."""
    source_table, span_table, nodes = table
    sources = [Source(name, text) for name, text in source_table]
    spans = []
    for source, line, col, end_line, end_col, exp in span_table:
        if exp is not None:
            exp = (exp[0], spans[exp[1]] if exp[1] >= 0 else None)
        spans.append(Span(sources[source] if source >= 0 else None,
                          line, col, end_line, end_col, exp))

    def span(i):
        """Span number ``i``, None for -1."""
        return spans[i] if i >= 0 else None

    out = []
    for node in nodes:
        code = node[0]
        if code == _ATOM:
            out.append(node[1])
        elif code == _SYMBOL:
            out.append(Symbol(node[1], span(node[2]), node[3]))
        elif code == _KEYWORD:
            out.append(Keyword(node[1], span(node[2])))
        else:
            n = node[1]
            items = tuple(out[len(out) - n:])
            del out[len(out) - n:]
            out.append((Form if code == _FORM else Vec)(items, span(node[2])))
    return tuple(out)
