"""The import hook (``import myia_sx.hook``; ``import model`` loads ``model.sx``)
and its compile cache.

The hook changes ``sys.meta_path``, so everything that imports through it runs
in a fresh subprocess; the cache's encoding and key are also tested directly.
"""

import json
import marshal
import os
import subprocess
import sys

import pytest
from conftest import PROGRAMS, ROOT

import myia_sx
from myia_sx import api, importer
from myia_sx.forms import Form, Keyword, Source, Span, Symbol, Vec

MODEL = """\
(def f (fn [x] (* x 2.0)))
(def sum-tree (fn [t] (if (tuple? t) (+ (sum-tree (get t 0)) (sum-tree (get t 1))) t)))
(def bad (fn [n] (// 1 n)))
(def answer 42)
"""

# Imports ``model`` (the hook installed both ways) and reports what happened.
PROBE = """
import json, sys
import myia_sx, myia_sx.hook
myia_sx.install_import_hook()
import model
loader = model.__loader__
try:
    model.bad(0)
except myia_sx.SxError as e:
    error = e.format()
print(json.dumps({
    "finders": sum(type(f).__name__ == "SxFinder" for f in sys.meta_path),
    "status": loader.cache_status, "written": loader.cache_written,
    "file": model.__file__, "cached": model.__cached__,
    "f": model.f(3.0), "sum_tree": model.sum_tree(((1.0, 2.0), 3.0)),
    "answer": model.answer, "names": model.__sx_module__.names, "error": error}))
"""

# The same, with api.compile_source reporting sys.argv[1] as a library file read.
DEPENDENCY_PROBE = """
import json, sys
import myia_sx.api as api
compile_source = api.compile_source
def compile_with_dependency(text, filename):
    forms, dependencies = compile_source(text, filename)
    return forms, list(dependencies) + [sys.argv[1]]
api.compile_source = compile_with_dependency
import myia_sx.hook
import model
print(json.dumps({"status": model.__loader__.cache_status, "f": model.f(3.0)}))
"""


def run_python(code, cwd, *args, **env):
    """Run ``python -c code args`` in ``cwd`` (myia_sx importable); its stdout as JSON."""
    environ = {k: v for k, v in os.environ.items() if k != "MYIA_SX_CACHE"}
    environ.update(env, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, check=False,
                       capture_output=True, text=True, env=environ, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def model(tmp_path):
    """``model.sx`` in a fresh folder; returns its path."""
    path = tmp_path / "model.sx"
    path.write_text(MODEL)
    return path


def cache_file(source):
    """The cache file of ``source`` (a ``model.sx``)."""
    return source.parent / "__pycache__" / "model.sxc"


# -- installing ----------------------------------------------------------------------

def test_importing_myia_sx_installs_nothing(tmp_path):
    out = run_python("""
import json, sys
before = (list(sys.meta_path), list(sys.path_hooks))
import myia_sx
after = (list(sys.meta_path), list(sys.path_hooks))
print(json.dumps([before == after, "myia_sx.importer" in sys.modules]))
""", tmp_path)
    assert out == [True, False]


# -- importing and caching -----------------------------------------------------------

def test_import_then_cache_hit_in_a_new_process(model):
    first = run_python(PROBE, model.parent)
    assert first["finders"] == 1                 # hook.py and install_import_hook() once
    assert first["status"] == "missing" and first["written"]
    assert first["file"] == str(model)
    assert first["cached"] == str(cache_file(model))
    assert cache_file(model).is_file()
    assert (first["f"], first["sum_tree"], first["answer"]) == (6.0, 6.0, 42)
    assert first["names"] == ["f", "sum-tree", "bad", "answer"]

    second = run_python(PROBE, model.parent)
    assert second["status"] == "hit" and not second["written"]
    assert {k: v for k, v in second.items() if k not in ("status", "written")} == \
        {k: v for k, v in first.items() if k not in ("status", "written")}
    # an error raised by the cached module points at the .sx file
    lines = second["error"].splitlines()
    assert lines[0] == f"{model}:3:18: integer division by zero in //"
    assert lines[1] == "   3 | (def bad (fn [n] (// 1 n)))"
    assert lines[2] == " " * 24 + "^~~~~~~~"


def test_editing_the_source_invalidates_the_cache(model):
    run_python(PROBE, model.parent)
    model.write_text(MODEL.replace("(* x 2.0)", "(* x 3.0)"))
    edited = run_python(PROBE, model.parent)
    assert edited["status"] == "stale" and edited["written"] and edited["f"] == 9.0
    assert run_python(PROBE, model.parent)["status"] == "hit"


def test_changing_a_dependency_invalidates_the_cache(model, tmp_path):
    dependency = tmp_path / "lib" / "nn.sx"
    dependency.parent.mkdir()
    dependency.write_text("(def relu (fn [x] (max x 0.0)))\n")
    assert run_python(DEPENDENCY_PROBE, tmp_path, dependency)["status"] == "missing"
    assert run_python(DEPENDENCY_PROBE, tmp_path, dependency)["status"] == "hit"
    dependency.write_text("(def relu (fn [x] (max x 1.0)))\n")
    assert run_python(DEPENDENCY_PROBE, tmp_path, dependency)["status"] == "stale"


def test_editing_a_required_library_invalidates_the_cache(tmp_path):
    (tmp_path / "helpers.sx").write_text("(def twice (fn [x] (* 2.0 x)))\n")
    (tmp_path / "model.sx").write_text("(require helpers)\n(def f (fn [x] (twice x)))\n")
    probe = """
import json
import myia_sx.hook
import model
print(json.dumps([model.__loader__.cache_status, model.f(1.0), model.twice(1.0)]))
"""
    assert run_python(probe, tmp_path) == ["missing", 2.0, 2.0]
    assert run_python(probe, tmp_path) == ["hit", 2.0, 2.0]
    (tmp_path / "helpers.sx").write_text("(def twice (fn [x] (* 4.0 x)))\n")
    assert run_python(probe, tmp_path) == ["stale", 4.0, 4.0]


def test_a_corrupt_cache_file_is_ignored_and_rewritten(model):
    run_python(PROBE, model.parent)
    cache_file(model).write_bytes(b"garbage")
    out = run_python(PROBE, model.parent)
    assert out["status"] == "corrupt" and out["written"] and out["f"] == 6.0
    assert run_python(PROBE, model.parent)["status"] == "hit"


@pytest.mark.parametrize("damage", ["empty", "garbage", "magic", "truncate", "flip"])
def test_read_cache_reports_damage(model, damage):
    text = model.read_text()
    forms, deps = api.compile_source(text, str(model))
    cached = str(cache_file(model))
    assert importer.write_cache(cached, text, str(model), forms, deps)
    assert importer.read_cache(cached, text, str(model)) == ("hit", forms)
    data = cache_file(model).read_bytes()
    damaged = {"empty": b"", "garbage": b"garbage", "magic": b"X" + data[1:],
               "truncate": data[:len(data) // 2],
               "flip": data[:-10] + bytes([data[-10] ^ 1]) + data[-9:]}[damage]
    cache_file(model).write_bytes(damaged)
    assert importer.read_cache(cached, text, str(model)) == ("corrupt", None)
    assert importer.read_cache(cached + "-absent", text, str(model)) == ("missing", None)


def test_cache_disabled_by_environment(model):
    out = run_python(PROBE, model.parent, MYIA_SX_CACHE="0")
    assert out["status"] == "disabled" and not out["written"] and out["f"] == 6.0
    assert not cache_file(model).parent.exists()


def test_unwritable_cache_folder_means_no_cache(model):
    (model.parent / "__pycache__").write_text("a file where the folder should be")
    out = run_python(PROBE, model.parent)
    assert out["status"] == "missing" and not out["written"] and out["f"] == 6.0


def test_package_module_and_python_module_precedence(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.sx").write_text(MODEL)
    (pkg / "other.sx").write_text("(def which (fn [] 1))")
    (pkg / "other.py").write_text("def which():\n    return 'python'\n")
    out = run_python("""
import json, sys
import myia_sx.hook
import pkg.model
from pkg.model import sum_tree
import pkg.other
print(json.dumps([pkg.model.f(1.5), sum_tree((1.0, 2.0)), pkg.model.__name__,
                  pkg.model.__file__, pkg.other.which(), pkg.other.__file__]))
""", tmp_path)
    assert out == [3.0, 3.0, "pkg.model", str(pkg / "model.sx"), "python",
                   str(pkg / "other.py")]
    assert (pkg / "__pycache__" / "model.sxc").is_file()


def test_errors_at_import_leave_no_module(tmp_path):
    (tmp_path / "unclosed.sx").write_text("(def f (fn [x] (+ x 1))\n")
    (tmp_path / "unbound.sx").write_text("(def f (fn [x] x))\n(def g (fn [x] (h x)))\n")
    out = run_python("""
import json, sys
import myia_sx, myia_sx.hook
out = []
for name in ("unclosed", "unbound"):
    try:
        __import__(name)
    except myia_sx.SxError as e:
        out.append([type(e).__name__, e.format().splitlines(), name in sys.modules])
print(json.dumps(out))
""", tmp_path)
    (kind1, lines1, kept1), (kind2, lines2, kept2) = out
    assert kind1 == "SxSyntaxError" and lines1[0].startswith(f"{tmp_path / 'unclosed.sx'}:1:")
    assert lines1[1] == "   1 | (def f (fn [x] (+ x 1))"
    assert kind2 == "SxNameError" and lines2[0].startswith(f"{tmp_path / 'unbound.sx'}:2:17:")
    assert lines2[1:] == ["   2 | (def g (fn [x] (h x)))", " " * 23 + "^"]
    assert not kept1 and not kept2
    assert not (tmp_path / "__pycache__").exists()


# -- the cache key -------------------------------------------------------------------

def test_cache_key(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    dependency = lib / "nn.sx"
    dependency.write_text("(def relu (fn [x] (max x 0.0)))")
    deps = [str(dependency)]
    key = importer.cache_key(MODEL, "/m/model.sx", deps)
    assert importer.cache_key(MODEL, "/m/model.sx", deps) == key
    assert importer.cache_key(MODEL + " ", "/m/model.sx", deps) != key
    assert importer.cache_key(MODEL, "/n/model.sx", deps) != key
    assert importer.cache_key(MODEL, "/m/model.sx", []) != key
    dependency.write_text("(def relu (fn [x] (max x 1.0)))")
    changed = importer.cache_key(MODEL, "/m/model.sx", deps)
    assert changed != key
    (lib / "extra.sx").write_text("(def one 1)")        # a new library file beside it
    added = importer.cache_key(MODEL, "/m/model.sx", deps)
    assert added != changed
    monkeypatch.setattr(myia_sx.version, "__version__", "99.0")
    assert importer.cache_key(MODEL, "/m/model.sx", deps) != added
    dependency.unlink()
    assert importer.cache_key(MODEL, "/m/model.sx", deps) != added


# -- the encoding of forms -----------------------------------------------------------

def spans_of(forms):
    """Every span in ``forms``, in order, as comparable tuples."""
    out, stack = [], list(reversed(forms))
    while stack:
        x = stack.pop()
        span = getattr(x, "span", None)
        while span is not None:
            source = span.source
            exp = span.expansion
            out.append((source and (source.name, source.text), span.line, span.col,
                        span.end_line, span.end_col, exp and exp[0]))
            span = exp and exp[1]
        if isinstance(x, (Form, Vec)):
            stack.extend(reversed(x.items))
    return out


def round_trip(forms):
    """``forms`` encoded, written and read by marshal, and decoded."""
    return importer.decode_forms(marshal.loads(marshal.dumps(importer.encode_forms(forms))))


@pytest.mark.parametrize("path", sorted(PROGRAMS.glob("*.sx")), ids=lambda p: p.stem)
def test_compiled_programs_round_trip_with_spans(path):
    forms, _ = api.compile_source(path.read_text(), str(path))
    back = round_trip(forms)
    assert type(back) is tuple and back == forms
    assert spans_of(back) == spans_of(forms)


def test_atoms_spans_and_expansions_round_trip():
    source = Source("m.sx", "(f :k 1)\n")
    call = Span(source, 1, 1, 1, 9)
    inner = Span(source, 1, 2, 1, 3, expansion=("my-macro", call))
    atoms = (1, -2**70, 1.5, -0.0, float("nan"), float("inf"), True, False, None, "s\u00e9\n")
    forms = (Form((Symbol("f", inner), Keyword("k", call), Vec(atoms, call)), call),
             Symbol("x"), 3)
    back = round_trip(forms)
    assert back == forms and spans_of(back) == spans_of(forms)
    assert back[0].items[0].span.expansion[1] is back[0].span    # sharing kept
    assert back[0].items[0].name is sys.intern("f")


def test_deep_forms_round_trip():
    deep = Symbol("x")
    for _ in range(20_000):
        deep = Form((Symbol("g"), deep))
    back = round_trip((deep,))
    assert back == (deep,)


def test_non_forms_are_not_cached(tmp_path):
    import numpy as np

    cached = str(tmp_path / "__pycache__" / "m.sxc")
    assert not importer.write_cache(cached, "", "m.sx", (np.float64(1.0),), [])
    assert not os.path.exists(cached)
