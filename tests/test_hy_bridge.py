"""The Hy front end: Hy models <-> forms (myia_sx.hy_bridge) and the Hy macros
of myia_sx/sx.hy, used from the Hy programs in tests/hy_programs/."""

import fractions
import importlib
import math
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# hy is a dependency of the package: where it is missing (a Python without
# the project installed), this file is skipped rather than stopping the
# whole run at collection, and tests/test_layers.py's check of the declared
# dependencies fails instead, naming it
hy = pytest.importorskip("hy", reason="hy is not installed: pip install -e '.[test]'")
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import myia_sx
from myia_sx import hy_bridge
from myia_sx.errors import SxError, SxNameError, SxRuntimeError, SxSyntaxError
from myia_sx.forms import Form, Keyword, Source, Span, Symbol, Vec, form_eq
from myia_sx.hy_bridge import from_hy, hy_macro, read_hy, to_hy
from myia_sx.printer import dumps, pretty, symbol_readable
from myia_sx.reader import read

HY_DIR = ROOT / "tests" / "hy_programs"
M = hy.models


def spans(forms):
    """(line, col, end line, end col) of every symbol, keyword and sequence, in preorder."""
    return [None if x.span is None else (x.span.line, x.span.col, x.span.end_line, x.span.end_col)
            for x in hy_bridge._preorder_nodes(forms)]


def same_models(a, b):
    """Hy models equal in type, value (NaN equal to itself, -0.0 apart from 0.0) and position."""
    assert type(a) is type(b), (a, b)
    atom = type(a) in (M.Integer, M.Float, M.String) or str(a) in ("True", "False", "None")
    if not atom:  # forms keep no positions for atoms: to_hy gives them their form's
        assert (a.start_line, a.start_column, a.end_line, a.end_column) == \
            (b.start_line, b.start_column, b.end_line, b.end_column), (a, b)
    if isinstance(a, M.Sequence):
        assert len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            same_models(x, y)
    else:
        assert form_eq(float(a), float(b)) if type(a) is M.Float else a == b, (a, b)


def same_forms(a, b):
    assert len(a) == len(b), (a, b)
    for x, y in zip(a, b):
        assert form_eq(x, y), (x, y)
    assert spans(a) == spans(b)


# --------------------------------------------------------------------------
# Hy stays out of plain .sx use


def test_myia_sx_never_imports_hy():
    code = ("import sys, myia_sx, myia_sx.hy_bridge\n"
            "m = myia_sx.load_string('(defn f [x] (* x 2))')\n"
            "assert m.f(21) == 42\n"
            "assert 'hy' not in sys.modules, 'hy was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode == 0, out.stderr


# --------------------------------------------------------------------------
# Hy models -> forms


@pytest.mark.parametrize("text", [
    "42 -7 +5 0x1F 0o17 0b101 1_000 1.0 -2.5e-3 1e3 1. .5 Inf -Inf NaN -0.0",
    "(defn sum-tree [t] (if (tuple? t) (+ (sum-tree t.left) (sum-tree t.right)) t))",
    "'x `(a ~b ~@c) :axis \"caf\\u00e9\\n\" [1 [2 (3)]] a.b.c ... . ->",
    "(f None True False [None])\n  (g\n\t:k \"multi\nline\" p.x)  ; comment\n()",
    "(quote x) (. a b) (unquote-splice y) [] \"\"",
])
def test_hy_models_read_to_our_forms_and_spans(text):
    same_forms(read_hy(text), read(text))


def test_corpus_reads_the_same():
    files = sorted({*ROOT.glob("tests/programs/*.sx"), *ROOT.glob("examples/*.sx"),
                    *ROOT.glob("macros/*.sx"), *ROOT.glob("prelude/*.sx")})
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        ours = read(text, str(path))
        theirs = read_hy(text, str(path))
        same_forms(theirs, ours)
        assert all(s.span.source.text == text for s in theirs if hasattr(s, "span"))
        # and back: forms -> models -> forms keeps trees and spans
        same_forms(tuple(from_hy(to_hy(f)) for f in ours), ours)


def test_dotted_symbol_becomes_dot_form_with_part_spans():
    (f,) = read_hy("  p.weight.T")
    assert f == Form([Symbol("."), Symbol("p"), Symbol("weight"), Symbol("T")])
    assert spans((f,)) == [(1, 3, 1, 13), (1, 3, 1, 13), (1, 3, 1, 4), (1, 5, 1, 11),
                           (1, 12, 1, 13)]


SYMBOL_ALPHABET = string.ascii_letters + string.digits + "-_?!*+<>=&%$@" + "\u03bb\u00e9"
symbols = st.text(SYMBOL_ALPHABET, min_size=1, max_size=6).filter(symbol_readable).map(Symbol)
keywords = st.text(SYMBOL_ALPHABET, min_size=1, max_size=6).map(Keyword)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1e22])
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
atoms = st.one_of(st.integers(-2 ** 63, 2 ** 63 - 1), floats, st.booleans(), st.none(), texts, symbols, keywords)
dotted = st.lists(symbols, min_size=2, max_size=3).map(lambda s: Form([Symbol("."), *s]))
prefixed = st.tuples(st.sampled_from(["quote", "quasiquote", "unquote", "unquote-splice"]),
                     symbols | dotted)
forms = st.recursive(
    atoms | dotted | prefixed.map(lambda p: Form([Symbol(p[0]), p[1]])),
    lambda children: st.one_of(st.lists(children, max_size=4).map(Form),
                               st.lists(children, max_size=4).map(Vec)),
    max_leaves=25,
)
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FAST
@given(st.lists(forms, min_size=1, max_size=3), st.sampled_from([1, 10, 30, 80]))
def test_printed_forms_read_the_same_through_hy(xs, width):
    text = "\n".join(pretty(x, width) for x in xs)
    ours = read(text)
    theirs = read_hy(text)
    same_forms(theirs, ours)
    # models -> forms -> models is the identity on what Hy read
    for model, form in zip(hy.read_many(text), theirs):
        same_models(to_hy(form), model)


PIECES = (list("0123456789+-._,:eExobIiNnafr#'`~@()[]{} \"\\;\n/")
          + ["\u0663", "\u03bb", "Inf", "NaN", "True", "None", "0x", "\\x41", "\\u00e9",
             "#(", "#{", "#*", "#**", "#[[", "]]", "f\"", "b\"", "r\"", "1j", "3/4", "a.b", ".a"])


@FAST
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join))
def test_from_hy_accepts_exactly_what_the_reader_accepts(text):
    try:
        models = list(hy.read_many(text))
    except (hy.errors.HyError, ValueError):
        return  # Hy rejects it: nothing to convert
    try:
        ours = read(text)
    except SxSyntaxError:
        ours = None
    conv = hy_bridge._Converter(Source("<string>", text))
    try:
        theirs = tuple(conv.convert(m, None) for m in models)
    except SxSyntaxError:
        theirs = None
    if ours is None or theirs is None:
        assert ours is theirs, (text, ours, theirs)
    else:
        same_forms(theirs, ours)


@pytest.mark.parametrize("text, line, col, fragment", [
    ("(f #{1 2})", 1, 4, "set literals"),
    ("(f\n  {1 2})", 2, 3, "dict literals"),
    ("#(1 2)", 1, 1, "tuple literals"),
    ('(f f"x{y}")', 1, 4, "f-strings"),
    ("[1j]", 1, 2, "complex literals"),
    ("(+ 3/4 1)", 1, 4, "fractions (3/4)"),
    ('b"x"', 1, 1, "byte strings"),
    ("#[[x]]", 1, 1, "bracket strings"),
    ('r"x"', 1, 1, "raw strings"),
    ("(f 1,000)", 1, 4, "digit-group commas"),
    ("007", 1, 1, "leading zeros"),
    ("(f #* xs)", 1, 4, "unpacking #*"),
    ("(f :)", 1, 4, "malformed keyword"),
    ("  .foo", 1, 3, "malformed dotted name .foo"),
    ("True.x", 1, 1, "malformed dotted name True.x"),
])
def test_hy_only_syntax_is_an_error_at_its_position(text, line, col, fragment):
    with pytest.raises(SxSyntaxError) as info:
        read_hy(text, "prog.hy")
    err = info.value
    assert fragment in err.message
    assert str(err).startswith(f"prog.hy:{line}:{col}: ")


def test_source_text_comes_from_the_file(tmp_path):
    path = tmp_path / "prog.hy"
    path.write_text("(setv x 1)\n(f [a\n     #{b}])\n", encoding="utf-8")
    model = list(hy.read_many(path.read_text(), filename=str(path)))[1]
    form_span = from_hy(model[0], filename=str(path)).span
    assert form_span.source.text == path.read_text() and form_span.file == str(path)
    with pytest.raises(SxSyntaxError) as info:
        from_hy(model, filename=str(path))
    assert info.value.format().splitlines()[1:] == ["   3 |      #{b}])",
                                                     "            ^~~~"]


def test_models_without_positions_take_the_enclosing_span():
    outer = Span(Source("gen", ""), 4, 2, 4, 9)
    model = M.Expression([M.Symbol("f"), M.List([M.Symbol("x")])])
    form = from_hy(model, span=outer)
    assert spans((form,)) == [(4, 2, 4, 9)] * 4
    assert form.span is outer


def test_python_values_and_forms_convert():
    assert from_hy([1, 2.5, "s", None, True, Symbol("x")]) == Vec([1, 2.5, "s", None, True,
                                                                    Symbol("x")])
    assert from_hy(M.Expression([M.Symbol("g"), [M.Integer(1)]])) == Form([Symbol("g"),
                                                                          Vec([1])])
    with pytest.raises(SxSyntaxError, match="fractions"):
        from_hy(fractions.Fraction(1, 3))
    with pytest.raises(SxSyntaxError, match="a Python object is not a form"):
        from_hy(object())


def test_deep_models_convert_without_recursion():
    depth = 5000
    model = M.Integer(1)
    for _ in range(depth):
        model = M.Expression([model])
    form = from_hy(model)
    back = to_hy(form)
    for _ in range(depth):
        form, back = form.items[0], back[0]
    assert form == 1 and back == M.Integer(1)


# --------------------------------------------------------------------------
# forms -> Hy models


def test_to_hy_models_and_positions():
    (form,) = read('(f 1 2.5 "s" :k True None [x])', "a.sx")
    model = to_hy(form)
    assert model == M.Expression([M.Symbol("f"), M.Integer(1), M.Float(2.5), M.String("s"),
                                  M.Keyword("k"), M.Symbol("True"), M.Symbol("None"),
                                  M.List([M.Symbol("x")])])
    assert (model.start_line, model.start_column, model.end_line, model.end_column) == (1, 1, 1, 30)
    x = model[-1][0]
    assert (x.start_column, x.end_column) == (28, 28)
    assert model[1].start_column == 1  # an atom takes its form's position
    with pytest.raises(TypeError):
        to_hy(object())


def test_hygiene_marks_survive_a_trip_through_hy():
    sym = Symbol("x", Span(Source("m", ""), 1, 1, 1, 2))
    sym.marks = (7,)
    back = from_hy(to_hy(Form([Symbol("f"), sym])))
    assert back.items[1].marks == (7,) and back.items[1].span is sym.span
    assert back.items[0].marks == ()


# --------------------------------------------------------------------------
# Hy functions as macros over forms


@pytest.fixture(scope="module")
def hy_modules():
    """Import the .hy programs of tests/hy_programs (without writing bytecode)."""
    old = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(HY_DIR))
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(str(HY_DIR))
        sys.dont_write_bytecode = old


def test_hy_function_as_a_macro_over_forms(hy_modules):
    swap = hy_macro(hy_modules("hy_helpers").swap_call)
    assert swap.__doc__.startswith("A Hy function over models")
    (call,) = read("(swap - a\n      (g b))", "user.sx")
    result = swap(*call.items[1:])
    assert result == Form([Symbol("-"), Form([Symbol("g"), Symbol("b")]), Symbol("a")])
    # the argument forms keep their spans; the new form is placed at the first argument
    assert result.items[1].span is call.items[3].span
    assert result.items[2].span is call.items[2].span
    assert result.span is call.items[1].span


def test_hy_macro_registered_with_load_string(hy_modules):
    swap = hy_macro(hy_modules("hy_helpers").swap_call)
    m = myia_sx.load_string("(defn f [a b] (swap - a b))", macros={"swap": swap})
    assert m.f(10, 3) == -7
    # an argument keeps its own position through the Hy function
    with pytest.raises(SxNameError) as info:
        myia_sx.load_string("(defn f [a]\n  (swap - a zz))", filename="m.sx",
                            macros={"swap": swap})
    assert str(info.value).startswith("m.sx:2:13: ")


def test_hy_functions_as_macros_in_sx_module_are_hygienic(hy_modules):
    m = hy_modules("hy_hygiene").m
    assert m.f(1) == 101  # the template's tmp does not capture the parameter tmp
    assert m.g(5) == 110
    assert m.h(10, 3) == -7
    assert hy_modules("hy_hygiene").twice(4) == 8  # defn required under another name


# --------------------------------------------------------------------------
# sx.defn and sx.module in .hy files


def test_layers_program(hy_modules):
    layers = hy_modules("hy_layers")
    assert layers.cube(3) == 27 and layers.cube(1.5) == 3.375
    assert isinstance(layers.cube, myia_sx.Function)
    assert isinstance(layers.net, myia_sx.Module)
    assert layers.net.names == ["dense", "out-layer", "hidden-relu", "Params", "mlp",
                                "relu-net", "quoted"]
    p = layers.make_params(0)
    x = np.random.default_rng(1).normal(size=3)
    np.testing.assert_allclose(layers.net.mlp(p, x), layers.mlp_numpy(p, x), rtol=1e-12)
    np.testing.assert_allclose(layers.net.relu_net(p, x),
                               layers.mlp_numpy(p, x, lambda v: np.maximum(v, 0.0)),
                               rtol=1e-12)
    # quoted data is not expanded by Hy
    assert layers.net.quoted() == Form([Symbol("hy-dense"), Symbol("not"), Symbol("expanded")])


def test_forms_keep_their_hy_file_positions(hy_modules):
    layers = hy_modules("hy_layers")
    path = str(HY_DIR / "hy_layers.hy")
    (defn,) = [f for f in layers.net.forms if dumps(f.items[1]) == "mlp"]
    assert (defn.span.file, defn.span.line, defn.span.col) == (path, 24, 3)


def expect_error(hy_modules, name, cls, line, col, source_line):
    """Importing tests/hy_programs/NAME.hy raises ``cls`` at LINE:COL of that file."""
    path = HY_DIR / f"{name}.hy"
    with pytest.raises(cls) as info:
        hy_modules(name)
    err = info.value
    assert str(err).startswith(f"{path}:{line}:{col}: "), str(err)
    report = err.format().splitlines()
    assert report[1] == f"{line:>4} | {source_line}"
    assert report[2].index("^") == len(f"{line:>4} | ") + col - 1
    return err


def test_unbound_name_points_into_the_hy_file(hy_modules):
    err = expect_error(hy_modules, "hy_err_unbound", SxNameError, 5, 10,
                       "    (+ x undefined-name))))")
    assert "undefined-name" in err.message


def test_hy_only_syntax_in_sx_code_points_into_the_hy_file(hy_modules):
    err = expect_error(hy_modules, "hy_err_syntax", SxSyntaxError, 4, 8, "  (+ x #{1 2}))")
    assert "set literals" in err.message


def test_malformed_special_form_points_into_the_hy_file(hy_modules):
    expect_error(hy_modules, "hy_err_form", SxSyntaxError, 4, 12, "     (let [a] x))")


def test_runtime_errors_point_into_the_hy_file(hy_modules):
    m = hy_modules("hy_runtime").m
    path = HY_DIR / "hy_runtime.hy"
    with pytest.raises(SxRuntimeError) as info:
        m.safe_div(1, 0)
    assert str(info.value).startswith(f"{path}:7:24: ")
    assert "   7 |   (defn safe-div [a b] (// a b))" in info.value.format()
    with pytest.raises(SxError) as info:
        m.mm(np.ones((2, 3)), np.ones((2, 3)))
    assert str(info.value).startswith(f"{path}:9:5: shape mismatch")
    # code a Hy macro wrote points at the macro call
    with pytest.raises(SxError) as info:
        m.layer(np.ones((2, 3)), np.ones(2), np.ones(2))
    assert str(info.value).startswith(f"{path}:10:3: shape mismatch")


def doc_blocks(tag):
    """The fenced blocks of docs/hy.md marked ``tag``."""
    text = (ROOT / "docs" / "hy.md").read_text(encoding="utf-8")
    return [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith(tag + "\n")]


def test_docs_examples_run(tmp_path, hy_modules):
    (hy_example,) = doc_blocks("hy")
    (py_example,) = doc_blocks("python")
    (tmp_path / "hy_doc_model.hy").write_text(hy_example, encoding="utf-8")
    (tmp_path / "hy_doc_python.py").write_text(py_example, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        model = hy_modules("hy_doc_model")  # the block checks itself with asserts
        python = hy_modules("hy_doc_python")
    finally:
        sys.path.remove(str(tmp_path))
    assert model.square(3) == 9
    assert python.m.f(10, 3) == -7


# --------------------------------------------------------------------------
# packing forms with their spans into Hy code


def test_pack_unpack_keeps_trees_and_spans():
    text = "(defn f [x]\n  (+ x.y 'z))\n(def k :kw)"
    forms = read(text, "p.hy")
    back = hy_bridge.unpack(hy_bridge.pack(forms, "p.hy", "; header\n" + text))
    same_forms(back, forms)
    assert back[0].span.source.line(2) == "(defn f [x]" and back[0].span.file == "p.hy"


def test_packed_error_is_raised_as_itself():
    err = SxNameError("unbound name q", Span(Source("e.hy", "a\n(f q)\n"), 2, 4, 2, 5))
    packed = hy_bridge.pack_error(err, "e.hy", "a\n(f q)\n")
    with pytest.raises(SxNameError) as info:
        hy_bridge.unpack(packed)
    assert info.value.headline() == "e.hy:2:4: unbound name q"
    assert info.value.format().splitlines()[1] == "   2 | (f q)"
    with pytest.raises(ValueError):
        hy_bridge.unpack(("other",) + packed[1:])


def test_macro_module_ships_in_the_package():
    assert Path(hy_bridge.__file__).with_name("sx.hy").is_file()
