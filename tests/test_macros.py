"""Macros: defmacro, quasiquote, hygiene, the macro libraries, errors, require."""

import math
import textwrap

import numpy as np
import pytest

import myia_sx
from myia_sx import (Form, SxMacroError, SxNameError, SxRuntimeError, SxSyntaxError,
                     SxTypeError, Symbol)
from myia_sx.api import Session, compile_source
from myia_sx.printer import dumps

from conftest import same


def run(src, *args, **kw):
    return myia_sx.load_string(textwrap.dedent(src), **kw).main(*args)


def ev(expr, defs=""):
    return run(f"{defs}\n(defn main [] {expr})")


def expand(src):
    """The program after expand_macros, as text (one line per form)."""
    from myia_sx import library, pipeline

    forms = myia_sx.read(textwrap.dedent(src))
    return [dumps(f) for f in pipeline.compile_module(forms, library.context(),
                                                      "expand_macros")]


# -- defmacro and quasiquote ---------------------------------------------------------------

class TestDefmacro:
    def test_simple_template(self):
        same(ev("(sq 7)", "(defmacro sq [x] `(* ~x ~x))"), 49)

    def test_rest_and_splice(self):
        defs = "(defmacro my-list [&rest xs] `[~@xs])"
        same(ev("(my-list 1 2 3)", defs), (1, 2, 3))
        same(ev("(my-list)", defs), ())

    def test_fixed_params_then_rest(self):
        defs = "(defmacro call-with [f a &rest more] `(~f ~a ~@more))"
        same(ev("(call-with + 1 2)", defs), 3)
        same(ev("(call-with neg 1)", defs), -1)

    def test_docstring(self):
        same(ev("(one)", "(defmacro one [] \"the number one\" 1)"), 1)

    def test_body_computes_on_forms(self):
        # a macro that counts its arguments at expansion time
        defs = "(defmacro nargs [&rest xs] (len xs))"
        same(ev("(nargs a b (c d))", defs), 3)

    def test_macro_uses_earlier_macro(self):
        defs = """(defmacro sq [x] `(* ~x ~x))
                  (defmacro quad [x] `(sq (sq ~x)))"""
        same(ev("(quad 3)", defs), 81)

    def test_macro_body_uses_earlier_definition_of_the_module(self):
        defs = """(defn twice-form [x] `(+ ~x ~x))
                  (defmacro twice [x] (twice-form x))"""
        same(ev("(twice 21)", defs), 42)

    def test_macro_expanding_into_defmacro(self):
        defs = """(defmacro def-const-macro [name value] `(defmacro ~name [] ~value))
                  (def-const-macro five 5)"""
        same(ev("(+ (five) 1)", defs), 6)

    def test_macro_expanding_into_several_definitions(self):
        defs = """(defmacro def-pair [a b] `(do (def ~a 1) (def ~b 2)))
                  (def-pair one two)"""
        same(ev("[one two]", defs), (1, 2))

    def test_macros_see_forms_as_data(self):
        defs = """(defmacro describe [x]
                    (cond (symbol? x) (name x)
                          (list? x) (str \"call of \" (first x))
                          (vector? x) \"vector\"
                          (keyword? x) (str \":\" (name x))
                          :else \"atom\"))"""
        same(ev("[(describe abc) (describe (f 1)) (describe [1]) (describe :k) (describe 3)]",
                defs), ("abc", "call of f", "vector", ":k", "atom"))

    def test_gensym_in_template(self):
        defs = """(defmacro with-double [x body]
                    (let [g (gensym \"d\")]
                      `(let [~g (* 2 ~x)] (+ ~g ~body))))"""
        same(ev("(let [y 5] (with-double y y))", defs), 15)


class TestQuasiquote:
    def test_data_outside_macros(self):
        got = ev("(let [x 1 xs '(a b)] `(f ~x ~@xs [~x] :k \"s\"))")
        assert type(got) is Form and got == myia_sx.loads('(f 1 a b [1] :k "s")')

    def test_splice_first_and_last(self):
        got = ev("(let [xs '(a b)] `(~@xs c ~@xs))")
        assert got == myia_sx.loads("(a b c a b)") and type(got) is Form

    def test_splice_into_vector_keeps_brackets(self):
        got = ev("(let [xs '(a b)] `[~@xs])")
        assert got == myia_sx.loads("[a b]") and type(got) is myia_sx.Vec

    def test_splice_a_tuple(self):
        got = ev("`(f ~@[1 2])")
        assert got == myia_sx.loads("(f 1 2)")

    def test_nested_quasiquote_keeps_inner_unquotes(self):
        got = ev("(let [x 1] `(a `(b ~(c ~x))))")
        assert got == myia_sx.loads("(a (quasiquote (b (unquote (c 1)))))")

    def test_user_local_named_list_does_not_break_templates(self):
        # the quasiquote translation calls list/concat; a user binding of
        # those names must not capture them
        defs = "(defmacro m [x] (let [list 1 concat 2] `(+ ~x ~list)))"
        same(ev("(m 10)", defs), 11)

    @pytest.mark.parametrize("src, msg", [
        ("(defn main [] ~x)", "outside a quasiquote"),
        ("(defn main [] ~@x)", "outside a quasiquote"),
        ("(defn main [] `~@x)", "must be inside a form or vector"),
        ("(defn main [] (quasiquote a b))", "quasiquote takes exactly one form"),
    ])
    def test_misuse(self, src, msg):
        with pytest.raises(SxSyntaxError, match=msg):
            myia_sx.load_string(src)


# -- hygiene -------------------------------------------------------------------------------

class TestHygiene:
    def test_free_name_means_definition_site_binding(self):
        # the user rebinds * locally; the template's * is still multiplication
        defs = "(defmacro sq [x] `(* ~x ~x))"
        same(ev("(let [* +] (sq 3))", defs), 9)
        same(ev("(let [* +] (* 3 3))", defs), 6)   # the user's own * is +

    def test_free_name_referring_to_a_module_function(self):
        defs = """(defn helper [x] (* 10 x))
                  (defmacro use-helper [x] `(helper ~x))"""
        same(ev("(let [helper neg] [(use-helper 2) (helper 2)])", defs), (20, -2))

    def test_template_binder_does_not_capture_user_variable(self):
        defs = "(defmacro my-or [a b] `(let [tmp ~a] (if tmp tmp ~b)))"
        same(ev("(let [tmp True] (my-or False tmp))", defs), True)
        same(ev("(let [tmp False] (my-or False tmp))", defs), False)

    def test_template_binder_invisible_to_user_body(self):
        defs = "(defmacro with-x [body] `(let [x 100] ~body))"
        same(ev("(let [x 1] (with-x (+ x 1)))", defs), 2)
        with pytest.raises(SxNameError, match="unbound name x"):
            myia_sx.load_string(defs + "(defn main [] (with-x x))")

    def test_nested_uses_of_the_same_macro(self):
        defs = "(defmacro my-or [a b] `(let [tmp ~a] (if tmp tmp ~b)))"
        same(ev("(let [tmp True] (my-or False (my-or False tmp)))", defs), True)

    def test_macro_passing_its_binder_to_another_macro(self):
        defs = """(defmacro inc1 [y] `(+ ~y 1))
                  (defmacro let-inc [v body] `(let [t (inc1 ~v)] (* t ~body)))"""
        # the user's t is 10; the template's t is (inc1 2) = 3
        same(ev("(let [t 10] (let-inc 2 t))", defs), 30)

    def test_macro_defining_macro_keeps_hygiene(self):
        defs = """(defmacro def-adder [name k]
                    `(defmacro ~name [x] `(let [tmp ~x] (+ tmp ~~k))))
                  (def-adder add5 5)"""
        same(ev("(let [tmp 1] (add5 tmp))", defs), 6)
        same(ev("(let [tmp 1 + -] (add5 (+ tmp 1)))", defs), 5)

    def test_unhygienic_captures_on_purpose(self):
        defs = """(defmacro with-it [value body]
                    `(let [~(unhygienic 'it) ~value] ~body))"""
        same(ev("(with-it 21 (* it 2))", defs), 42)

    def test_local_binding_shadows_a_macro(self):
        same(ev("(let [when (fn [a b] (+ a b))] (when 1 2))"), 3)

    def test_module_definition_shadows_a_library_macro(self):
        src = """(defn loop [i acc] (if (< i 3) (loop (+ i 1) (+ acc i)) acc))
                 (defn main [] (loop 0 0))"""
        same(run(src), 3)

    def test_python_macro_is_hygienic_too(self):
        def twice(x):
            return Form((Symbol("+"), x, x))
        src = "(defn main [y] (let [+ *] (twice y)))"
        same(run(src, 5, macros={"twice": twice}), 10)

    def test_expanded_output_is_plain_text_that_means_the_same(self):
        # the printed expansion, read back and run, gives the same answers
        src = """(defmacro my-or [a b] `(let [tmp ~a] (if tmp tmp ~b)))
                 (defmacro sq [x] `(* ~x ~x))
                 (defn main [tmp] [(my-or False tmp) (let [* +] (sq 3))])"""
        text = "\n".join(expand(src))
        same(myia_sx.load_string(text).main(True), (True, 9))
        same(run(src, True), (True, 9))

    def test_free_template_name_must_exist_at_definition_site(self):
        src = """(defmacro use-nothing [x] `(nothing-here ~x))
                 (defn main [nothing-here] (use-nothing 1))"""
        with pytest.raises(SxNameError, match="unbound name nothing-here"):
            myia_sx.load_string(src)


# -- the core macro library ----------------------------------------------------------------

class TestCoreMacros:
    def test_defn(self):
        same(ev("(f 2)", "(defn f [x] \"doc\" (* x 3))"), 6)

    @pytest.mark.parametrize("src, msg", [
        ("(defn 1 [x] x)", "defn needs a name"),
        ("(defn f x x)", "defn needs a parameter vector"),
        ("(defn f [x])", "defn takes one body expression"),
        ("(defn f [x] x x)", "defn takes one body expression"),
    ])
    def test_defn_errors(self, src, msg):
        with pytest.raises(SxSyntaxError, match=msg):
            myia_sx.load_string(src)

    @pytest.mark.parametrize("x, want", [(-5, -1), (0, 0), (7, 1)])
    def test_cond(self, x, want):
        same(run("(defn main [x] (cond (< x 0) -1 (= x 0) 0 :else 1))", x), want)

    @pytest.mark.parametrize("x, want", [(-5, -1), (0, 0), (7, 1)])
    def test_cond_with_true_as_its_last_test(self, x, want):
        same(run("(defn main [x] (cond (< x 0) -1 (= x 0) 0 True 1))", x), want)
        same(ev("(cond True 5)"), 5)

    def test_cond_evaluates_only_the_chosen_branch(self):
        same(ev("(cond True 1 (first []) 2 :else (first []))"), 1)

    @pytest.mark.parametrize("src, msg", [
        ("(cond)", "cond needs test/value pairs"),
        ("(cond True)", "cond takes pairs"),
        ("(cond False 1)", r"needs a final :else clause \(or True as its last test\)"),
        ("(cond (< 1 2) 1 (< 2 3) 2)", "needs a final :else"),
        ("(cond :else 1 True 2)", ":else must be the last clause"),
        ("(cond :otherwise 1)", "unknown clause :otherwise"),
    ])
    def test_cond_errors(self, src, msg):
        with pytest.raises(SxSyntaxError, match=msg):
            myia_sx.load_string(f"(defn main [] {src})")

    def test_when_unless(self):
        same(ev("[(when True 1) (when False 1) (unless True 1) (unless False 1)]"),
             (1, None, None, 1))
        with pytest.raises(SxSyntaxError, match="when takes one body expression"):
            myia_sx.load_string("(defn main [] (when True 1 2))")

    @pytest.mark.parametrize("expr, want", [
        ("(and)", True), ("(or)", False), ("(and False)", False), ("(or True)", True),
        ("(and True True False)", False), ("(and True True True)", True),
        ("(or False False True)", True), ("(or False False False)", False),
    ])
    def test_and_or(self, expr, want):
        same(ev(expr), want)

    def test_and_or_short_circuit(self):
        # (first []) would be an error if evaluated
        same(ev("[(and False (first [])) (or True (first []))]"), (False, True))

    def test_threading(self):
        same(ev("(-> 3 (+ 1) (* 2) neg)"), -8)       # (neg (* (+ 3 1) 2))
        same(ev("(->> 3 (- 10) (* 2))"), 14)          # (* 2 (- 10 3))
        same(ev("(-> 5)"), 5)

    def test_let_star(self):
        same(ev("(let* [a 1 b (+ a 1) c (* b 10)] [a b c])"), (1, 2, 20))
        same(ev("(let* [] 4)"), 4)
        with pytest.raises(SxSyntaxError, match="bindings come in pairs"):
            myia_sx.load_string("(defn main [] (let* [a] a))")

    def test_loop_recur(self):
        src = "(defn main [n] (loop [i 0 acc 0] (if (< i n) (recur (+ i 1) (+ acc i)) acc)))"
        same(run(src, 100), 4950)
        same(run(src, 0), 0)

    def test_loop_runs_long_in_constant_stack(self):
        src = "(defn main [n] (loop [i 0 acc 0.0] (if (< i n) (recur (+ i 1) (+ acc 0.5)) acc)))"
        same(run(src, 100_000), 50_000.0)

    def test_nested_loops_each_have_their_recur(self):
        src = """(defn main [n]
                   (loop [i 0 total 0]
                     (if (< i n)
                         (recur (+ i 1)
                                (+ total (loop [j 0 s 0] (if (< j i) (recur (+ j 1) (+ s j)) s))))
                         total)))"""
        # sum over i < n of i(i-1)/2
        same(run(src, 10), sum(i * (i - 1) // 2 for i in range(10)))

    def test_while(self):
        same(ev("(while [i 0 s 0.0] (< i 4) (+ i 1) (+ s 1.5))"), (4, 6.0))
        same(ev("(while [x 1] (< x 100) (* x 3))"), 243)
        with pytest.raises(SxSyntaxError, match="one update expression per state variable"):
            myia_sx.load_string("(defn main [] (while [i 0 s 0] (< i 3) (+ i 1)))")

    def test_dotimes(self):
        same(ev("(dotimes [i 5 acc 0] (+ acc i))"), 10)
        same(ev("(dotimes [i 5 a 0 b 1] [(+ a i) (* b 2)])"), (10, 32))
        same(ev("(dotimes [i 0 acc 7] (+ acc i))"), 7)
        with pytest.raises(SxSyntaxError, match="at least one accumulator"):
            myia_sx.load_string("(defn main [] (dotimes [i 3] i))")

    def test_dotimes_does_not_capture_user_n(self):
        # the template binds n internally; the user's n is still theirs
        same(run("(defn main [n] (dotimes [i 3 acc 0] (+ acc n)))", 10), 30)

    def test_for_fold(self):
        same(ev("(for-fold [acc 0.0] [x [1.0 2.0 3.0]] (+ acc (* x x)))"), 14.0)
        same(ev("(for-fold [lo 100 hi -100] [x [3 -7 5]] [(min lo x) (max hi x)])"), (-7, 5))
        got = run("(defn main [m] (for-fold [acc 0.0] [row m] (+ acc (sum row))))",
                  np.arange(6.0).reshape(3, 2))
        same(got, 15.0)
        with pytest.raises(SxSyntaxError, match="for-fold iterates with"):
            myia_sx.load_string("(defn main [] (for-fold [a 0] x a))")


# -- layers: macros/nn.sx -------------------------------------------------------------------

NN = """
(require macros.nn)
(deflayer dense [W b] [x] (tanh (+ (@ x W) b)))
(defmodel mlp [hidden dense out dense])
"""


class TestNN:
    def test_layer_and_model_match_numpy(self):
        rng = np.random.default_rng(0)
        W1, b1 = rng.normal(size=(4, 3)), rng.normal(size=3)
        W2, b2 = rng.normal(size=(3, 2)), rng.normal(size=2)
        x = rng.normal(size=(5, 4))
        m = myia_sx.load_string(NN)
        p = m.mlp(m.dense(W1, b1), m.dense(W2, b2))
        got = m.mlp_apply(p, x)
        want = np.tanh(np.tanh(x @ W1 + b1) @ W2 + b2)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(m.dense_apply(p.hidden, x), np.tanh(x @ W1 + b1))

    def test_layer_parameters_are_a_record(self):
        m = myia_sx.load_string(NN)
        assert m.dense._fields == ("W", "b")
        assert m.mlp._fields == ("hidden", "out")

    def test_macros_not_available_without_require(self):
        with pytest.raises(SxNameError):
            myia_sx.load_string("(deflayer d [W] [x] (@ x W))")

    def test_errors(self):
        with pytest.raises(SxSyntaxError, match="deflayer needs a name"):
            myia_sx.load_string("(require macros.nn) (deflayer 1 [W] [x] x)")
        with pytest.raises(SxSyntaxError, match="defmodel takes a name and"):
            myia_sx.load_string("(require macros.nn) (defmodel m [a])")


# -- the prelude -----------------------------------------------------------------------------

def _np_log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


class TestPrelude:
    def test_scalar_functions(self):
        for x in (-3.0, -0.5, 0.0, 0.7, 4.0):
            np.testing.assert_allclose(ev(f"(sigmoid {x})"), 1 / (1 + math.exp(-x)))
            same(ev(f"(relu {x})"), max(x, 0.0))
            np.testing.assert_allclose(ev(f"(softplus {x})"), math.log1p(math.exp(x)))
            same(ev(f"(square {x})"), x * x)

    def test_softplus_does_not_overflow(self):
        same(ev("(softplus 1000.0)"), 1000.0)
        same(ev("(softplus -1000.0)"), 0.0)

    def test_reductions_match_numpy(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(4, 5)) * 3
        y = rng.normal(size=(4, 5))
        labels = np.eye(5)[[0, 3, 1, 4]]
        m = myia_sx.load_string(
            "(defn f [x y l] [(logsumexp x) (softmax x) (log-softmax x) (mse x y)"
            " (cross-entropy x l)])")
        lse, sm, lsm, err, ce = m.f(x, y, labels)
        np.testing.assert_allclose(lse, np.log(np.exp(x).sum()))
        np.testing.assert_allclose(sm, np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True))
        np.testing.assert_allclose(lsm, _np_log_softmax(x))
        np.testing.assert_allclose(err, ((x - y) ** 2).mean())
        np.testing.assert_allclose(ce, -(labels * _np_log_softmax(x)).sum(axis=-1).mean())

    def test_logsumexp_stable(self):
        got = ev("(logsumexp (array [1000.0 1000.0]))")
        np.testing.assert_allclose(got, 1000.0 + math.log(2.0))

    def test_tuple_helpers(self):
        same(ev("(tmap neg [1 2 3])"), (-1, -2, -3))
        same(ev("(tmap2 + [1 2] [10 20])"), (11, 22))
        same(ev("(tfold (fn [acc x] (- acc x)) 100 [1 2 3])"), 94)
        same(ev("(tree-map square [1 [2 [3]] 4])"), (1, (4, (9,)), 16))
        same(ev("(tree-map2 - [5 [6]] [1 [2]])"), (4, (4,)))
        same(ev("(tree-sum [1.0 [(array [1.0 2.0]) 3.0]])"), 7.0)

    def test_array_helpers(self):
        a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0])
        m = myia_sx.load_string("(defn f [a b] [(dot a b) (norm a) (clip b -1.0 2.0)])")
        d, n, c = m.f(a, b)
        same(d, float(a @ b))
        np.testing.assert_allclose(n, np.linalg.norm(a))
        np.testing.assert_array_equal(c, np.clip(b, -1.0, 2.0))
        W, bias = np.ones((3, 2)), np.array([0.5, -0.5])
        np.testing.assert_allclose(
            myia_sx.load_string("(defn f [x w b] (linear x w b))").f(a[None], W, bias),
            a[None] @ W + bias)

    def test_user_definition_shadows_prelude_function(self):
        same(run("(defn relu [x] 42) (defn main [] (relu -1.0))"), 42)
        # and the prelude itself is unaffected in other modules
        same(ev("(relu -1.0)"), 0.0)


# -- errors ------------------------------------------------------------------------------------

class TestMacroErrors:
    def test_runtime_error_in_expanded_code_names_the_macro(self):
        src = "(defmacro sq [x] `(* ~x ~x))\n(defn main [] (sq \"a\"))\n"
        with pytest.raises(SxTypeError) as info:
            myia_sx.load_string(src, filename="f.sx").main()
        err = info.value
        assert str(err).startswith("f.sx:2:15:")
        assert "note: in expansion of (sq ...)" in err.format()

    def test_error_in_user_argument_points_at_the_argument(self):
        src = "(defmacro twice [x] `(+ ~x ~x))\n(defn main [] (twice (first [])))\n"
        with pytest.raises(SxRuntimeError) as info:
            myia_sx.load_string(src, filename="f.sx").main()
        assert str(info.value).startswith("f.sx:2:22:")

    def test_nested_expansions_listed(self):
        src = ("(defmacro inner [x] `(first ~x))\n"
               "(defmacro outer [x] `(inner ~x))\n"
               "(defn main [] (outer []))\n")
        with pytest.raises(SxRuntimeError) as info:
            myia_sx.load_string(src, filename="f.sx").main()
        text = info.value.format()
        assert "in expansion of (inner ...)" in text and "in expansion of (outer ...)" in text
        assert str(info.value).startswith("f.sx:3:15:")

    def test_error_while_running_macro_body(self):
        src = "(defmacro bad [x] (first x))\n(defn main [] (bad 5))\n"
        with pytest.raises(SxMacroError, match=r"error while expanding \(bad ...\): "
                                               "first expects a form or tuple") as info:
            myia_sx.load_string(src, filename="f.sx")
        assert str(info.value).startswith("f.sx:2:15:")
        assert "raised here" in info.value.format()

    def test_syntax_error_from_macro_points_at_user_form(self):
        src = "(defn main [] (cond True 1\n  (f x) 2))\n"
        with pytest.raises(SxSyntaxError, match="needs a final :else") as info:
            myia_sx.load_string(src, filename="f.sx")
        assert str(info.value).startswith("f.sx:2:3:")

    def test_arity(self):
        with pytest.raises(SxMacroError, match="macro sq takes 1 argument, got 2"):
            myia_sx.load_string("(defmacro sq [x] x) (defn main [] (sq 1 2))")
        with pytest.raises(SxMacroError, match="takes at least 1 argument, got 0"):
            myia_sx.load_string("(defmacro m [x &rest r] x) (defn main [] (m))")

    def test_macro_returning_a_non_form(self):
        with pytest.raises(SxMacroError, match="returned a primitive, which is not a form"):
            myia_sx.load_string("(defmacro m [] neg) (defn main [] (m))")

    def test_infinite_expansion_hits_the_depth_limit(self):
        with pytest.raises(SxMacroError, match=r"deeper than 1000 levels: does \(forever"):
            myia_sx.load_string("(defmacro forever [x] `(+ 1 (forever ~x))) "
                                "(defn main [] (forever 1))")
        with pytest.raises(SxMacroError, match=r"does \(self"):
            myia_sx.load_string("(defmacro self [] '(self)) (self)")

    def test_deep_but_finite_expansion_is_fine(self):
        args = " ".join(["True"] * 300)
        same(ev(f"(and {args})"), True)

    @pytest.mark.parametrize("src, msg", [
        ("(defmacro m x x)", "defmacro takes a name, a parameter vector"),
        ("(defmacro [x] x)", "defmacro takes a name, a parameter vector"),
        ("(defmacro m [[a b]] a)", "macro parameters are symbols"),
        ("(defmacro m [&rest] 1)", "&rest comes once, just before the last parameter"),
        ("(defmacro m [&rest a b] 1)", "&rest comes once"),
        ("(defmacro if [a] a)", "cannot define a macro named if"),
        ("(defn main [] (defmacro m [] 1))", "defmacro is only allowed at the top level"),
        ("(defn main [] (do 1 2))", "do is only allowed at the top level"),
        ("(defn main [] (require macros.nn))", "require is only allowed at the top level"),
    ])
    def test_malformed(self, src, msg):
        with pytest.raises(SxSyntaxError, match=msg):
            myia_sx.load_string(src)

    def test_macro_body_using_a_later_definition(self):
        src = """(defmacro m [x] (helper x))
                 (defn helper [x] x)
                 (defn main [] (m 1))"""
        with pytest.raises(SxNameError, match="unbound name helper") as info:
            myia_sx.load_string(src)
        assert "runs while this module is being compiled" in info.value.format()

    def test_python_macro_failure_is_a_user_error(self):
        def bad(x):
            raise ValueError("nope")
        with pytest.raises(SxMacroError, match="macro bad failed: ValueError: nope"):
            myia_sx.load_string("(defn main [y] (bad y))", macros={"bad": bad})

    def test_python_macro_returning_garbage(self):
        with pytest.raises(SxMacroError, match="returned a .*which is not a form"):
            myia_sx.load_string("(defn main [y] (bad y))", macros={"bad": lambda x: object()})

    def test_bad_macros_argument(self):
        with pytest.raises(TypeError, match="macros maps names to callables"):
            myia_sx.load_string("(def x 1)", macros={"m": 3})


# -- Python macros, register_macro ---------------------------------------------------------------

def test_register_macro_applies_to_later_modules():
    from myia_sx import api

    @myia_sx.register_macro("triple-it")
    def triple(x):
        return Form((Symbol("*"), 3, x))
    try:
        same(myia_sx.load_string("(defn main [] (triple-it 5))").main(), 15)
    finally:
        del api._registered_macros["triple-it"]
    with pytest.raises(SxNameError):
        myia_sx.load_string("(defn main [] (triple-it 5))")


# -- require ---------------------------------------------------------------------------------------

class TestRequire:
    def test_library_next_to_the_file(self, tmp_path):
        (tmp_path / "mylib.sx").write_text(
            "(defn helper [x] (* x 100))\n(defmacro hundred [x] `(helper ~x))\n")
        main = tmp_path / "main.sx"
        main.write_text("(require mylib)\n(defn main [] (hundred 2))\n")
        same(myia_sx.load(main).main(), 200)

    def test_library_macro_helper_not_captured_by_user_local(self, tmp_path):
        (tmp_path / "mylib.sx").write_text(
            "(defn helper [x] (* x 100))\n(defmacro hundred [x] `(helper ~x))\n")
        main = tmp_path / "main.sx"
        main.write_text("(require mylib)\n(defn main [] (let [helper neg] (hundred 2)))\n")
        same(myia_sx.load(main).main(), 200)

    def test_missing_library(self):
        with pytest.raises(SxMacroError, match="no library nothing.here"):
            myia_sx.load_string("(require nothing.here)")

    def test_error_inside_library_points_into_it(self, tmp_path):
        (tmp_path / "broken.sx").write_text("(defn f [x] (g x))\n")
        main = tmp_path / "main.sx"
        main.write_text("(require broken)\n")
        with pytest.raises(SxNameError, match="unbound name g") as info:
            myia_sx.load(main)
        assert str(info.value).startswith(str(tmp_path / "broken.sx") + ":1:14:")
        assert "while loading library broken.sx, required here" in info.value.format()

    def test_circular_require(self, tmp_path):
        (tmp_path / "a.sx").write_text("(require b)\n")
        (tmp_path / "b.sx").write_text("(require a)\n")
        with pytest.raises(SxMacroError, match="circular require"):
            myia_sx.load(tmp_path / "a.sx")

    def test_compile_source_lists_library_files(self):
        from myia_sx.library import base_files, library_root

        _, deps = compile_source("(require macros.nn) (def x 1)")
        assert deps[:len(base_files())] == base_files()
        assert deps[-1] == (library_root() / "macros" / "nn.sx").resolve()
        _, deps = compile_source("(def x 1)")
        assert deps == base_files()


# -- sessions (the REPL's engine) ------------------------------------------------------------

def test_session_keeps_macros_and_rolls_back_failed_chunks():
    s = Session()
    s.run("(defmacro sq [x] `(* ~x ~x))")
    same(s.run("(sq 4)"), [("value", 16)])
    with pytest.raises(SxNameError):
        s.run("(defmacro cube [x] `(* ~x (sq ~x))) (undefined-name)")
    with pytest.raises(SxNameError):
        s.run("(cube 2)")   # cube's chunk failed, so cube is gone
    same(s.run("(sq 5)"), [("value", 25)])


def test_top_level_use_before_defmacro():
    src = "(deftwo a)\n(defmacro deftwo [n] `(def ~n 2))\n"
    with pytest.raises(SxMacroError, match="deftwo is used at the top level before its defmacro"):
        myia_sx.load_string(src)


def test_session_last_definition_wins_between_def_and_defmacro():
    s = Session()
    s.run("(defn when [a b] (+ a b))")
    same(s.run("(when 1 2)"), [("value", 3)])
    s.run("(defmacro when [a b] `(* ~a ~b))")
    same(s.run("(when 3 4)"), [("value", 12)])


def test_syntax_error_without_position_points_at_the_macro_call():
    src = "(defmacro bad [x] (syntax-error \"no good\" x))\n(defn main [] (bad 1))\n"
    with pytest.raises(SxSyntaxError, match="no good") as info:
        myia_sx.load_string(src, filename="f.sx")
    assert str(info.value).startswith("f.sx:2:15:")
    assert info.value.notes == []


def test_long_expansion_chain_is_abbreviated():
    src = ("(defmacro count-down [n] (if (= n 0) '(first []) `(+ 1 (count-down ~(- n 1)))))\n"
           "(defn main [] (count-down 50))\n")
    with pytest.raises(SxRuntimeError) as info:
        myia_sx.load_string(src, filename="f.sx").main()
    text = info.value.format()
    assert text.count("in expansion of (count-down ...)") == 6
    assert "... 45 more expansions ..." in text


def test_unbound_name_suggestions_hide_compiler_names():
    src = "(defn main [] (loop [i 0] (if (< i 3) (recur (+ i 1)) (recurr i))))"
    with pytest.raises(SxNameError) as info:
        myia_sx.load_string(src)
    assert "%" not in info.value.message
