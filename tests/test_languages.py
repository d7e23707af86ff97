"""The language checkers (myia_sx.languages) and verification in the pipeline.

Every stage of every program in tests/programs is in its language; for each
checker, hand-written modules outside it are rejected with a message naming
the offending form; a sabotaged pass is caught, naming the pass, only when
verification is on; ``myia-sx show --verify``.
"""

import dataclasses
import os
import subprocess
import sys

import pytest

from myia_sx import cli, library, load_string, pipeline
from myia_sx.errors import SxInternalError, SxSyntaxError
from myia_sx.forms import Form, Symbol, Vec
from myia_sx.languages import (LANGUAGES, LanguageError, check_lanf, check_lcore, check_lmono,
                               check_lresolved, check_ltyped, show)
from myia_sx.reader import read, read_file

from conftest import PROGRAMS, ROOT

PROGRAM_FILES = sorted(PROGRAMS.glob("*.sx"))


@pytest.fixture(scope="module")
def ctx():
    """A context over the base environment (built now, before any test
    sabotages a pass), without verification: the tests call the checkers."""
    c = library.context()
    c.verify = False
    return c


def rejects(check, module, ctx, message):
    """Assert that ``check`` rejects ``module`` (text or tuple of forms) with
    an error containing ``message``."""
    forms = read(module) if type(module) is str else module
    with pytest.raises(LanguageError) as info:
        check(forms, ctx)
    assert message in str(info.value)
    return str(info.value)


# -- the passes write their languages ----------------------------------------------------------

def test_every_pass_names_a_checked_language():
    assert [(p.reads, p.writes) for p in pipeline.PASSES] == [
        ("Lsurface", "Lcore"), ("Lcore", "Lresolved"), ("Lresolved", "Lanf"), ("Lanf", "Lanf")]
    assert all(p.writes in LANGUAGES for p in pipeline.PASSES)


def check_every_stage(forms, ctx):
    """Check the output of each pass on ``forms`` against the language the
    pass writes; return the last one."""
    writes = {p.name: p.writes for p in pipeline.PASSES}
    checked = []
    for name, module in pipeline.stages(forms, ctx):
        if name in writes:
            LANGUAGES[writes[name]](module, ctx)
            checked.append(name)
    assert checked == list(pipeline.PASS_NAMES)
    return module


@pytest.mark.parametrize("path", PROGRAM_FILES, ids=lambda p: p.stem)
def test_every_stage_of_every_program_is_in_its_language(path, ctx):
    check_every_stage(read_file(path), ctx)


def test_top_level_expressions_are_left_for_the_interpreter(ctx):
    """Outside the REPL a top-level expression is a user error, which the
    interpreter reports: every language lets it through (normalize_anf leaves
    it as it is)."""
    forms = read("(def f (fn [x] x)) (+ 1 (f 2))")
    assert check_every_stage(forms, ctx)[1] == forms[1]
    with pytest.raises(SxSyntaxError, match="top-level forms are definitions"):
        load_string("(def f (fn [x] x)) (+ 1 (f 2))")


def test_later_languages_are_inside_earlier_ones(ctx):
    anf = pipeline.compile_module(read_file(PROGRAMS / "closures.sx"), ctx, "normalize_anf")
    check_lresolved(anf, ctx)
    check_lcore(anf, ctx)


# -- Lcore ---------------------------------------------------------------------------------------

def test_lcore_rejects_a_do_left_unexpanded(ctx):
    rejects(check_lcore, "(def f (fn [x] (do (g x) x)))", ctx,
            "output is not Lcore: do is a macro-only name, left unexpanded in (do (g x) x)")


def test_lcore_rejects_quasiquote_and_defmacro(ctx):
    rejects(check_lcore, "(def f (fn [x] (quasiquote (a (unquote x)))))", ctx,
            "quasiquote is a macro-only name, left unexpanded in (quasiquote (a (unquote x)))")
    rejects(check_lcore, "(defmacro m [x] x)", ctx,
            "defmacro is a macro-only name, left unexpanded in (defmacro m [x] x)")


def test_lcore_accepts_a_local_with_a_macro_only_name(ctx):
    check_lcore(read("(def f (fn [do] (do (quote (do 1)))))"), ctx)


def test_lcore_accepts_unbound_names(ctx):
    """Unbound names are user errors, which resolve_names reports."""
    check_lcore(read("(def f (fn [] (g y do)))"), ctx)


def test_lcore_rejects_a_marked_symbol(ctx):
    marked = Symbol("x", marks=(3,))
    fn = Form((Symbol("fn"), Vec((Symbol("x"),)), marked))
    rejects(check_lcore, (Form((Symbol("def"), Symbol("f"), fn)),), ctx,
            "symbol x carries hygiene marks (3,) in (fn [x] x)")


def test_lcore_rejects_a_marked_symbol_in_quoted_data(ctx):
    quoted = Form((Symbol("quote"), Vec((1, Symbol("y", marks=(2,))))))
    rejects(check_lcore, (Form((Symbol("def"), Symbol("q"), quoted)),), ctx,
            "symbol y carries hygiene marks (2,) in (quote [1 y])")


def test_lcore_rejects_a_keyword_before_a_positional_argument(ctx):
    rejects(check_lcore, "(def f (fn [x] (g :k 1 x)))", ctx,
            "positional argument after keyword arguments in (g :k 1 x)")


def test_lcore_rejects_a_letrec_binding_a_non_fn(ctx):
    rejects(check_lcore, "(def f (letrec [g 1] g))", ctx,
            "letrec binds functions: each value must be (fn ...) in (letrec [g 1] g)")


def test_lcore_rejects_malformed_and_misplaced_core_forms(ctx):
    rejects(check_lcore, "(def f (fn x x))", ctx,
            "fn takes a parameter vector and one body expression")
    rejects(check_lcore, "(def f (fn [] (def g 1)))", ctx,
            "def is only allowed at the top level in (def g 1)")
    rejects(check_lcore, "(def f (fn [] (:k 1)))", ctx, "a keyword (:k) cannot be called")
    rejects(check_lcore, "(def f (if 1 2))", ctx, "if takes a condition")
    rejects(check_lcore, "(require)", ctx, "require names one or more libraries")
    rejects(check_lcore, "(f [x (let [y] y)])", ctx, "let bindings come in pairs")


def test_lcore_rejects_what_is_not_a_form(ctx):
    rejects(check_lcore, [Form((Symbol("def"), Symbol("f"), 1))], ctx,
            "a module is a tuple of top-level forms, got list")
    rejects(check_lcore, (Form((Symbol("def"), Symbol("f"), Vec((1, object())))),), ctx,
            "not a form: <object object")


# -- Lresolved -----------------------------------------------------------------------------------

def test_lresolved_rejects_a_binder_bound_in_two_functions(ctx):
    rejects(check_lresolved, "(def f (fn [x] x)) (def g (fn [x] (+ x 1)))", ctx,
            "output is not Lresolved: x is bound twice: in (fn [x] x) and in (fn [x] (+ x 1))")


def test_lresolved_rejects_shadowing(ctx):
    rejects(check_lresolved, "(def f (fn [x] (let [[a x] x] a)))", ctx,
            "x is bound twice: in (fn [x] (let [[a x] x] a)) and in (let [[a x] x] a)")


def test_lresolved_rejects_an_unbound_local(ctx):
    rejects(check_lresolved, "(def f (fn [x] (let [y x] z)))", ctx,
            "unbound name z in (let [y x] z)")
    rejects(check_lresolved, "(def f (fn [x] (let [y y] x)))", ctx,
            "unbound name y in (let [y y] x)")


def test_lresolved_rejects_a_local_named_as_a_top_level_definition(ctx):
    rejects(check_lresolved, "(def f (fn [g] g)) (def g 1)", ctx,
            "local g has the name of a top-level definition in (fn [g] g)")


def test_lresolved_rejects_a_name_defined_twice(ctx):
    rejects(check_lresolved, "(def f 1) (defrecord f [a])", ctx,
            "f is defined twice at the top level in (defrecord f [a])")


def test_lresolved_rejects_what_lcore_rejects(ctx):
    rejects(check_lresolved, "(def f (fn [x] (do x)))", ctx, "do is a macro-only name")


def test_lresolved_accepts_every_kind_of_reference(ctx):
    """Locals, later top-level names, records, the environment's names,
    primitives (the constant %zero too); quoted symbols and field names are
    not references."""
    check_lresolved(read("""
        (def f (fn [x [a b]] (letrec [h (fn [n] (h n))]
                               (let [y (g x) z (. y u v)] [a b h z (quote w) + %zero]))))
        (def g (fn [p] (P p sigmoid)))
        (defrecord P [u v])"""), ctx)


def test_lresolved_sees_the_environment_of_the_context():
    ctx = library.context()
    ctx.env.names.add("earlier")
    check_lresolved(read("(def f (fn [] earlier))"), ctx)


# -- Lanf ----------------------------------------------------------------------------------------

ANF_TOP = "(defrecord P [x y]) (def g (fn [a] a)) (def h (fn [b] b)) "


def test_lanf_rejects_a_non_atomic_call_argument(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] (g (h x))))", ctx,
            "output is not Lanf: a call argument must be an atom, got (h x) in (g (h x))")


def test_lanf_rejects_a_let_inside_a_tuple(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] [x (let [y x] y)]))", ctx,
            "a tuple element must be an atom, got (let [y x] y) in [x (let [y x] y)]")


def test_lanf_rejects_non_atomic_operands(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] (if (g x) 1 2)))", ctx,
            "the condition of an if must be an atom, got (g x) in (if (g x) 1 2)")
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] ((g h) x)))", ctx,
            "the function of a call must be an atom, got (g h) in ((g h) x)")
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] (g x :k [x])))", ctx,
            "keyword argument :k must be an atom, got [x] in (g x :k [x])")
    rejects(check_lanf, ANF_TOP + "(def f (fn [p] (. (g p) x)))", ctx,
            "the record of a field access must be an atom, got (g p) in (. (g p) x)")


def test_lanf_rejects_a_let_as_a_value(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] (let [y (let [z x] z)] y)))", ctx,
            "a let is a body, not a value, got (let [z x] z) in (let [y (let [z x] z)] y)")


def test_lanf_rejects_a_field_access_with_two_fields(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (fn [p] (. p x y)))", ctx,
            "a field access takes one field in (. p x y)")


def test_lanf_rejects_a_letrec_binding_a_non_fn(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (letrec [k (g 1)] k))", ctx,
            "letrec binds functions: each value must be (fn ...) in (letrec [k (g 1)] k)")


def test_lanf_is_scoped_as_lresolved(ctx):
    rejects(check_lanf, ANF_TOP + "(def f (fn [a] a))", ctx,
            "a is bound twice: in (fn [a] a) and in (fn [a] a)")
    rejects(check_lanf, ANF_TOP + "(def f (fn [x] (g y)))", ctx, "unbound name y in (g y)")


def test_lanf_accepts_its_grammar(ctx):
    check_lanf(read(ANF_TOP + """
        (def c (let [t (g 1)] (h t)))
        (def f (fn [x] (letrec [k (fn [n] (let [m (g n)] (if m (k m) [m :key None "s"])))]
                         (let [[u v] x w (. u x) z (quote (a (b)))] (g w :k z)))))"""), ctx)


def test_messages_cut_long_forms():
    long = Form([Symbol("g")] + list(range(200)))
    assert len(show(long)) == 120 and show(long).endswith("...")


# -- verification in the pipeline ----------------------------------------------------------------

NESTED = "(def main (fn [x] (+ 1 (* x x))))"


def identity_normalize_anf(monkeypatch):
    """Sabotage normalize_anf: it returns its input, which is not Lanf."""
    rows = tuple(dataclasses.replace(p, run=lambda module, ctx: module)
                 if p.name == "normalize_anf" else p for p in pipeline.PASSES)
    monkeypatch.setattr(pipeline, "PASSES", rows)


def test_a_sabotaged_pass_is_caught_when_verify_is_on(ctx, monkeypatch):
    identity_normalize_anf(monkeypatch)
    with pytest.raises(SxInternalError) as info:
        pipeline.compile_module(read(NESTED), dataclasses.replace(ctx, verify=True))
    assert str(info.value) == (
        "internal compiler error in pass normalize_anf: output is not Lanf: "
        "a call argument must be an atom, got (* x x) in (+ 1 (* x x))")
    assert info.value.where == "pass normalize_anf"
    assert isinstance(info.value.cause, LanguageError)


def test_a_sabotaged_pass_goes_unnoticed_when_verify_is_off(ctx, monkeypatch):
    identity_normalize_anf(monkeypatch)
    assert pipeline.compile_module(read(NESTED), ctx) == read(NESTED)


def test_verify_defaults_to_the_module_setting(monkeypatch):
    monkeypatch.setattr(pipeline, "VERIFY", False)
    assert library.context().verify is False
    monkeypatch.setattr(pipeline, "VERIFY", True)
    assert library.context().verify is True


@pytest.mark.parametrize("value, want", [("1", "True"), ("", "False")])
def test_verify_is_turned_on_by_the_environment(value, want):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MYIA_SX_VERIFY=value)
    out = subprocess.run([sys.executable, "-c", "from myia_sx import pipeline; "
                          "print(pipeline.VERIFY)"], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == want


# -- myia-sx show --verify -----------------------------------------------------------------------

@pytest.mark.parametrize("after", ["differentiate", "resolve_names"])
def test_show_verify_prints_the_program(cli, after):
    path = PROGRAMS / "records.sx"
    plain = cli("show", path, "--after", after)
    verified = cli("show", path, "--after", after, "--verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == plain.stdout and "(defrecord Point [x y])" in verified.stdout


def test_show_verify_reports_a_broken_pass_with_status_2(tmp_path, monkeypatch, capsys, ctx):
    path = tmp_path / "nested.sx"
    path.write_text(NESTED)
    monkeypatch.setattr(pipeline, "VERIFY", False)
    identity_normalize_anf(monkeypatch)
    assert cli.main(["show", str(path)]) == 0
    assert cli.main(["show", str(path), "--after", "resolve_names", "--verify"]) == 0
    capsys.readouterr()
    assert cli.main(["show", str(path), "--verify"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("internal compiler error in pass normalize_anf: output is not Lanf: "
                          "a call argument must be an atom, got (* x x) in (+ 1 (* x x))\n")


# -- Lmono and Ltyped: the typed program ---------------------------------------------------------

GOOD_MONO = """\
(def sq@f64 (%the (-> [f64] f64) (fn [x] (let [y (%the f64 (* x x))] y))))
(def main@f64 (%the (-> [f64] [f64 f64])
  (fn [a] (let [t (%the f64 (sq@f64 a)) u (%the bool (> t 1.0))]
            (if u [t a] (let [[p q] (%the [f64 f64] [a t])] [q p]))))))
"""


def test_lmono_accepts_a_typed_program(ctx):
    check_lmono(read(GOOD_MONO), ctx)
    check_ltyped(read(GOOD_MONO), ctx)


@pytest.mark.parametrize("module, message", [
    ("(def f (fn [x] x))", "a value must be typed (%the T e), got (fn [x] x)"),
    ("(def f (%the f64 (fn [x] x)))", "a version is (%the (-> [T ...] T) (fn [p ...] body))"),
    ("(defrecord P [a])", "a top-level form is a definition of a version"),
    ("(def f (%the (-> [f64] f64) (fn [x] (let [y (* x x)] y))))",
     "a value must be typed (%the T e), got (* x x)"),
    ("(def f (%the (-> [f64] f64) (fn [x] (let [y (%the f65 (* x x))] y))))", "unknown type f65"),
    ("(def f (%the (-> [f64] f64) (fn [x] (let [g (%the [] (fn [y] y))] x))))", "no fn in Lmono"),
    ("(def f (%the (-> [f64] f64) (fn [x] (letrec [g (fn [y] y)] x))))", "no letrec in Lmono"),
    ("(def f (%the (-> [[]] f64) (fn [g] (let [y (%the f64 (g 1.0))] y))))",
     "a call's function is a primitive, a record constructor or a version"),
    ("(def f (%the (-> [f64] f64) (fn [x] (let [y (%the f64 (%J x))] y))))", "%J is left"),
    ("(def f (%the (-> [f64] bool) (fn [x] (let [y (%the bool (none? x))] y))))",
     "none? is left"),
    ("(def f (%the (-> [f64] f64) (fn [x] (let [y (%the f64 (h x))] y))))", "unbound name h"),
])
def test_lmono_rejects(ctx, module, message):
    rejects(check_lmono, module, ctx, message)


def test_ltyped_may_still_ask_type_questions(ctx):
    # before constants are folded (show --after infer_types) a type question stays
    module = "(def f (%the (-> [f64] bool) (fn [x] (let [y (%the bool (none? x))] y))))"
    check_ltyped(read(module), ctx)
    rejects(check_ltyped, "(def f (%the (-> [f64] f64) (fn [x] (let [y (%the f64 (%J x))] y))))",
            ctx, "%J is left")
