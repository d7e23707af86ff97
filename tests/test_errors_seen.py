"""Errors as users see them: from Python (the report in ``str(e)``, tracebacks
without the compiler's frames, Python mistakes located at the Python call),
from Hy (the ``.hy`` line and column, no compiler frames), and at the right
place with the user's names (the ``(grad f)`` form, no compiler-made names,
no "in expansion of" notes that have nothing to do with a macro)."""

import importlib
import subprocess
import sys
import traceback

import numpy as np
import pytest
from conftest import ROOT, run_cli

import myia_sx
from myia_sx import SxError, SxGradError, SxNameError, SxShapeError, SxTypeError, errors

SRC = """\
(defn inner [x] (@ x x))
(defn loss [x] (sum (inner x)))
(defn vecf [x] (* x 2.0))
(defn two [x y] (* x y))
(defn pat [a [b c]] (* a (* b c)))
(defn h [x] (fn [y] (* x y)))
(defn h2 [x] [x (fn [y] (* x y))])
(defn main [x] (+ 1.0 ((grad loss) x)))
(defn main2 [x] (+ 1.0 ((grad (grad loss)) x)))
(defn apg [f x] (+ 1.0 ((grad f) x)))
(defn main3 [x] (+ 1.0 (apg loss x)))
(defn vec-grad [x] ((grad vecf) x))
(defn vec-grad-late [x] (apg vecf x))
(defn bad-kw [x] ((grad two) x :z 1.0))
(defn lam [x] ((fn [a b] (* a b)) x))
(defn jvp-fn [] (jvp h [1.0] [1.0]))
(defn vjp-fn [] (vjp h2 1.0))
(defn jvp-late [f] (jvp f [1.0] [1.0]))
(defn v1-a3 [v a] (sum (@ v a)))
(defn a3-v1 [a v] (sum (@ a v)))
(defn bad-tangent [] (jvp loss [(ones [2 2])] [(ones [2])]))
"""


@pytest.fixture(scope="module")
def m():
    return myia_sx.load_string(SRC, filename="m.sx")


@pytest.fixture
def filtering(monkeypatch):
    """Tracebacks filtered, whatever the environment says."""
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)


def internal_frames(err):
    """The files of myia_sx's own modules in ``err``'s traceback."""
    return [f.filename for f in traceback.extract_tb(err.__traceback__)
            if errors.internal_file(f.filename)]


def python_call(info):
    """``(file, line)`` of the first traceback entry: the test's own call."""
    return info.tb.tb_frame.f_code.co_filename, info.tb.tb_lineno


# -- 1. errors seen from Python ------------------------------------------------------------------

def test_str_is_the_whole_report(m):
    with pytest.raises(SxShapeError) as info:
        m.main(np.ones((2, 3)))
    e = info.value
    assert str(e) == e.format() == """\
m.sx:1:17: shape mismatch in (@ x x): (2, 3) @ (2, 3)
   1 | (defn inner [x] (@ x x))
                       ^~~~~~~
m.sx:2:21: note: called from loss (differentiated)
   2 | (defn loss [x] (sum (inner x)))
                           ^~~~~~~~~
m.sx:8:24: note: called from (grad loss)
   8 | (defn main [x] (+ 1.0 ((grad loss) x)))
                              ^~~~~~~~~~~
m.sx:8:23: note: called from main
   8 | (defn main [x] (+ 1.0 ((grad loss) x)))
                             ^~~~~~~~~~~~~~~"""
    assert e.headline() == "m.sx:1:17: shape mismatch in (@ x x): (2, 3) @ (2, 3)"
    assert (e.span.line, e.span.col) == (1, 17)


def test_str_of_an_error_without_a_place_is_its_message():
    e = SxTypeError("something is wrong")
    assert str(e) == e.headline() == "something is wrong"
    e.add_note("look here")
    assert str(e) == "something is wrong\nnote: look here"


def test_traceback_shows_the_users_frames_only(m, filtering):
    with pytest.raises(SxShapeError) as info:
        m.main(np.ones((2, 3)))
    assert internal_frames(info.value) == []
    assert python_call(info) == (__file__, info.tb.tb_lineno)
    assert info.tb.tb_next is None   # nothing below the test's own call
    with pytest.raises(SxGradError) as info:
        myia_sx.grad(m.vecf)(np.ones(3))
    assert internal_frames(info.value) == []
    with pytest.raises(SxNameError) as info:
        myia_sx.load_string("(defn f [x] (+ x y))")
    assert internal_frames(info.value) == []


def test_record_construction_and_import_hide_the_compiler_frames(tmp_path, monkeypatch,
                                                                  filtering):
    m = myia_sx.load_string("(defrecord Point [x y])", filename="p.sx")
    with pytest.raises(SxTypeError) as info:
        m.Point(1.0)
    assert info.value.headline() == "p.sx:1:12: Point takes 2 field value(s), got 1"
    assert internal_frames(info.value) == []
    (tmp_path / "bad_sx_module.sx").write_text("(defn f [x] (+ x y))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    myia_sx.install_import_hook()
    with pytest.raises(SxNameError) as info:
        importlib.import_module("bad_sx_module")
    assert info.value.headline() == f"{tmp_path / 'bad_sx_module.sx'}:1:18: unbound name y"
    assert internal_frames(info.value) == []


def test_compiler_frames_are_kept_on_request(m, monkeypatch):
    monkeypatch.setenv(errors.TRACEBACK_VARIABLE, "1")
    with pytest.raises(SxShapeError) as info:
        m.main(np.ones((2, 3)))
    frames = internal_frames(info.value)
    assert any(f.endswith("interp.py") for f in frames)
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE)
    with errors.full_tracebacks(), pytest.raises(SxShapeError) as info:
        m.main(np.ones((2, 3)))
    assert any(f.endswith("interp.py") for f in internal_frames(info.value))


def test_cli_traceback_keeps_the_compiler_frames(tmp_path):
    f = tmp_path / "m.sx"
    f.write_text("(defn main [] (// 1 0))")
    r = run_cli("--traceback", "run", f)
    assert r.returncode == 1
    assert "myia_sx/interp.py" in r.stderr
    r = run_cli("run", f)
    assert "Traceback" not in r.stderr


def test_python_function_given_to_grad_names_the_python_call():
    with pytest.raises(SxTypeError) as info:
        myia_sx.grad(lambda x: x)
    file, line = python_call(info)
    assert info.value.headline() == (f"{file}:{line}:9: grad needs a function of an sx module "
                                     "(such as m.loss), got a Python function")
    assert str(info.value).splitlines()[1] == f"{line:>4} |         myia_sx.grad(lambda x: x)"
    with pytest.raises(SxTypeError) as info:
        myia_sx.value_and_grad(print)
    file, line = python_call(info)
    assert info.value.headline() == (f"{file}:{line}:9: value_and_grad needs a function of an "
                                     "sx module (such as m.loss), got a Python "
                                     "builtin_function_or_method")


def test_bad_wrt_names_the_python_call(m):
    with pytest.raises(SxGradError) as info:
        myia_sx.grad(m.two, wrt=2)
    file, line = python_call(info)
    assert info.value.headline() == (f"{file}:{line}:9: grad: :wrt index 2 out of range for a "
                                     "function of 2 arguments")
    with pytest.raises(SxGradError) as info:
        myia_sx.grad(m.two, wrt="x")
    file, line = python_call(info)
    assert info.value.headline() == (f"{file}:{line}:9: grad: :wrt must be an argument index or "
                                     "a tuple of them, got string")


def test_list_instead_of_array_names_the_python_call(m):
    with pytest.raises(SxTypeError) as info:
        myia_sx.grad(m.loss)([1.0, 2.0])
    file, line = python_call(info)
    assert info.value.headline() == (f"{file}:{line}:9: argument 1 (x): cannot pass a Python "
                                     "list to sx (expected a number, bool, None, numpy array, "
                                     "tuple or record)")
    # called directly, the function's definition is shown too
    with pytest.raises(SxTypeError) as info:
        m.loss([1.0, 2.0])
    file, line = python_call(info)
    assert str(info.value) == f"""\
{file}:{line}:9: argument 1 (x): cannot pass a Python list to sx (expected a number, bool, None, numpy array, tuple or record)
{line:>4} |         m.loss([1.0, 2.0])
               ^~~~~~~~~~~~~~~~~~
m.sx:2:1: note: loss is defined here
   2 | (defn loss [x] (sum (inner x)))
       ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"""


def test_wrong_arguments_from_python_name_the_python_call(m):
    with pytest.raises(SxTypeError) as info:
        m.two(1.0)
    file, line = python_call(info)
    assert info.value.headline() == f"{file}:{line}:9: two takes 2 arguments, got 1"
    assert [(t, s.line, s.col) for t, s in info.value.notes] == [("two is defined here", 4, 1)]
    with pytest.raises(SxTypeError) as info:
        myia_sx.grad(m.two)(1.0, y=2.0, z=3.0)
    file, line = python_call(info)
    assert info.value.headline() == f"{file}:{line}:9: (grad two) has no parameter named z"
    with pytest.raises(SxTypeError) as info:
        myia_sx.value_and_grad(m.two)(1.0)
    file, line = python_call(info)
    assert info.value.headline() == (f"{file}:{line}:9: (value-and-grad two) takes 2 arguments, "
                                     "got 1")


def test_a_destructured_argument_has_no_compiler_name(m):
    for f in (m.pat, myia_sx.grad(m.pat)):
        with pytest.raises(SxTypeError) as info:
            f(1.0, [2.0, 3.0])
        assert info.value.message == ("argument 2: cannot pass a Python list to sx (expected a "
                                      "number, bool, None, numpy array, tuple or record)")


# -- 2. errors seen from Hy ------------------------------------------------------------------------

@pytest.fixture
def hy_file(tmp_path, monkeypatch):
    """``load(name, text)`` writes the .hy module ``name`` and gives its path
    and a function importing it."""
    importlib.import_module("hy")   # Hy's importer of .hy files

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def load(name, text):
        path = tmp_path / f"{name}.hy"
        path.write_text(text)
        return path, lambda: importlib.import_module(name)
    return load


HY_TYPO = """\
(require myia_sx.sx :as sx)

(sx.defn sq [x]
  (* x xx))
"""


def test_a_typo_in_hy_points_at_the_hy_line(hy_file, filtering):
    path, load = hy_file("typo_hy", HY_TYPO)
    with pytest.raises(SxNameError) as info:
        load()
    assert str(info.value) == f"""\
{path}:4:8: unbound name xx (did you mean x?)
   4 |   (* x xx))
              ^~"""
    # the traceback is the .hy file's, at the sx.defn, not at the require of line 1
    assert internal_frames(info.value) == []
    hy_frames = [f for f in traceback.extract_tb(info.value.__traceback__)
                 if f.filename == str(path)]
    assert [(f.lineno, f.line) for f in hy_frames] == [(3, "(sx.defn sq [x]")]


def test_a_typo_in_hy_run_by_hy(tmp_path):
    path = tmp_path / "typo.hy"
    path.write_text(HY_TYPO)
    r = subprocess.run([sys.executable, "-m", "hy", str(path)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 1
    assert "myia_sx/" not in r.stderr.replace("myia_sx.errors", "")
    assert r.stderr.splitlines()[-6:] == [
        f'  File "{path}", line 3, in <module>',
        "    (sx.defn sq [x]",
        "     ^^^^^^^",
        f"myia_sx.errors.SxNameError: {path}:4:8: unbound name xx (did you mean x?)",
        "   4 |   (* x xx))",
        "              ^~"]


def test_a_wrong_call_in_hy_points_at_the_hy_call(hy_file, filtering):
    path, load = hy_file("call_hy", "(require myia_sx.sx :as sx)\n(sx.defn sq [x] (* x x))\n"
                                    "(defn go [] (+ 1 (sq 3 4)))\n")
    module = load()
    with pytest.raises(SxTypeError) as info:
        module.go()
    assert str(info.value) == f"""\
{path}:3:18: sq takes 1 argument, got 2
   3 | (defn go [] (+ 1 (sq 3 4)))
                        ^~~~~~~~
{path}:2:1: note: sq is defined here
   2 | (sx.defn sq [x] (* x x))
       ^~~~~~~~~~~~~~~~~~~~~~~~"""
    assert internal_frames(info.value) == []


# -- 3. the right place, the user's names ----------------------------------------------------

def test_grad_of_a_non_scalar_points_at_the_grad_form(m):
    with pytest.raises(SxGradError) as info:
        m.vec_grad(np.ones(3))
    assert str(info.value) == """\
m.sx:12:21: grad needs a function whose output is a scalar, got array f64[3] from vecf (use vjp for other outputs)
  12 | (defn vec-grad [x] ((grad vecf) x))
                           ^~~~~~~~~~~"""


def test_grad_of_a_non_scalar_known_late_points_at_the_call(m):
    with pytest.raises(SxGradError) as info:
        m.vec_grad_late(np.ones(3))
    assert info.value.headline() == (
        "m.sx:10:24: grad needs a function whose output is a scalar, got array f64[3] from vecf "
        "(use vjp for other outputs)")
    assert info.value.format().splitlines()[2] == " " * 30 + "^~~~~~~~~~~~"   # ((grad f) x)
    # from Python, the Python call
    with pytest.raises(SxGradError) as info:
        myia_sx.grad(m.vecf)(np.ones(3))
    file, line = python_call(info)
    assert info.value.headline().startswith(f"{file}:{line}:9: grad needs a function whose")


def test_arity_error_from_the_command_line_has_no_expansion_note(tmp_path):
    f = tmp_path / "m.sx"
    f.write_text("(defn main [x] 1)\n")
    r = run_cli("run", f)
    assert r.returncode == 1
    assert r.stderr == f"{f}:1:1: main takes 1 argument, got 0\n   1 | (defn main [x] 1)\n" \
                       f"       ^~~~~~~~~~~~~~~~~\n"


def test_called_from_notes_name_user_functions(m):
    for call in (lambda: m.main2(np.ones((2, 3))), lambda: m.main3(np.ones((2, 3)))):
        with pytest.raises(SxShapeError) as info:
            call()
        text = str(info.value)
        assert "%" not in text and "called from fn" not in text
        assert all(span is not None for _, span in info.value.notes)
    assert [t for t, _ in info.value.notes] == ["called from loss", "called from apg",
                                               "called from main3"]
    with pytest.raises(SxShapeError) as info:
        m.main2(np.ones((2, 3)))
    assert [(t, s.line, s.col) for t, s in info.value.notes] == [
        ("called from loss (differentiated 2 times)", 2, 21),
        ("called from (grad loss)", 9, 31),
        ("called from (grad (grad loss))", 9, 25),
        ("called from main2", 9, 24)]


def test_generated_functions_are_named_by_the_users_text(m):
    with pytest.raises(SxTypeError) as info:
        m.bad_kw(1.0)
    assert info.value.headline() == "m.sx:14:18: (grad two) has no parameter named z"
    with pytest.raises(SxTypeError) as info:
        m.lam(1.0)
    assert info.value.headline() == "m.sx:15:15: (fn [a b] (* a b)) takes 2 arguments, got 1"


def test_jvp_tangent_structure_error_says_what_differs(m):
    with pytest.raises(SxGradError) as info:
        myia_sx.jvp(m.loss, (np.ones((2, 2)),), ((np.ones((2, 2)),),))
    assert info.value.message == ("jvp's tangents must have the structure of tuple of 1: at [0], "
                                  "expected array f64[2, 2], got tuple of 1")
    with pytest.raises(SxGradError) as info:
        myia_sx.jvp(m.loss, (np.ones((2, 2)),), (np.ones(2),))
    assert info.value.message == ("jvp's tangents must have the structure of tuple of 1: at [0], "
                                  "expected array f64[2, 2], got array f64[2]")
    # in sx, at the jvp form, with no note about the macro
    with pytest.raises(SxGradError) as info:
        m.bad_tangent()
    assert str(info.value) == """\
m.sx:21:22: jvp's tangents must have the structure of tuple of 1: at [0], expected array f64[2, 2], got array f64[2]
  21 | (defn bad-tangent [] (jvp loss [(ones [2 2])] [(ones [2])]))
                            ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"""


def test_jvp_of_a_function_valued_function_is_an_error_at_the_call(m):
    with pytest.raises(SxGradError) as info:
        m.jvp_fn()
    assert str(info.value) == """\
m.sx:16:17: jvp needs a function whose output is numbers, arrays, tuples or records, got function from h
  16 | (defn jvp-fn [] (jvp h [1.0] [1.0]))
                       ^~~~~~~~~~~~~~~~~~~"""
    with pytest.raises(SxGradError) as info:
        m.vjp_fn()
    assert info.value.headline() == (
        "m.sx:17:17: vjp needs a function whose output is numbers, arrays, tuples or records, "
        "got tuple of 2 with a function at [1] from h2")
    with pytest.raises(SxGradError) as info:
        m.jvp_late(m.h)
    assert info.value.headline() == (
        "m.sx:18:20: jvp needs a function whose output is numbers, arrays, tuples or records, "
        "got function from h")
    with pytest.raises(SxGradError) as info:
        myia_sx.jvp(m.h, (1.0,), (1.0,))
    file, line = python_call(info)
    assert info.value.headline() == (
        f"{file}:{line}:9: jvp needs a function whose output is numbers, arrays, tuples or "
        "records, got function from h")


def numeric_grad(f, args, i, eps=1e-6):
    """The gradient of scalar ``f`` in argument ``i`` by central differences."""
    x = args[i]
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += eps
        down[k] -= eps
        g[k] = (f(*args[:i], up, *args[i + 1:]) - f(*args[:i], down, *args[i + 1:])) / (2 * eps)
    return g


@pytest.mark.parametrize("name, shapes", [("v1_a3", ((3,), (2, 3, 4))),
                                          ("a3_v1", ((2, 4, 3), (3,)))])
def test_matmul_of_1d_and_3d_arrays_under_grad(m, name, shapes):
    rng = np.random.default_rng(0)
    args = [rng.normal(size=s) for s in shapes]
    f = getattr(m, name)
    both = myia_sx.grad(f, wrt=(0, 1))(*args)
    for i in (0, 1):
        assert both[i].shape == shapes[i]
        np.testing.assert_allclose(both[i], numeric_grad(f, args, i), rtol=1e-6, atol=1e-8)


def test_errors_keep_their_class(m):
    # what users catch: every error here is an SxError of its documented class
    with pytest.raises(SxError):
        m.jvp_fn()
