"""Semantics of the core forms, run by the reference interpreter.

Every expected value here is worked out by hand from the program text.
"""

import numpy as np
import pytest

import myia_sx
from conftest import same
from myia_sx import (Form, SxError, SxNameError, SxRuntimeError, SxShapeError,
                     SxSyntaxError, SxTypeError, Symbol)

# In ``(defn main [] EXPR)`` the expression starts at column 15.
BODY_COL = 15


def load(src, filename="<string>"):
    return myia_sx.load_string(src, filename=filename)


def run(src, *args, **kwargs):
    """Load ``src`` and call its ``main``."""
    return load(src).main(*args, **kwargs)


def ev(expr):
    """The value of one expression (the body of a ``main`` of no arguments)."""
    return run(f"(defn main [] {expr})")


def where(err):
    return (err.span.line, err.span.col)


# -- fn ------------------------------------------------------------------------

class TestFn:
    def test_immediate_application(self):
        same(ev("((fn [x y] (- x y)) 10 3)"), 7)

    def test_zero_parameters(self):
        same(ev("((fn [] 42))"), 42)

    def test_function_is_a_value(self):
        same(ev("(function? (fn [x] x))"), True)

    def test_destructuring_parameters(self):
        same(ev("((fn [[a b] c] [b a c]) [1 2] 3)"), (2, 1, 3))

    def test_nested_destructuring_parameters(self):
        same(ev("((fn [[a [b c]] d] (+ (* a b) (- c d))) [2 [3 10]] 4)"), 12)

    def test_duplicate_parameter_is_syntax_error(self):
        with pytest.raises(SxSyntaxError, match="x appears twice"):
            ev("(fn [x x] x)")

    def test_fn_needs_one_body(self):
        with pytest.raises(SxSyntaxError, match="fn takes a parameter vector"):
            ev("(fn [x] x x)")

    def test_destructuring_parameter_wrong_size(self):
        with pytest.raises(SxTypeError, match="cannot destructure tuple of 3 into 2 names"):
            ev("((fn [[a b]] a) [1 2 3])")


# -- let -------------------------------------------------------------------------

class TestLet:
    def test_simple(self):
        same(ev("(let [x 2 y 3] (* x y))"), 6)

    def test_sequential(self):
        # each binding sees the ones before it
        same(ev("(let [x 1 y (+ x 1) z (* y 10)] [x y z])"), (1, 2, 20))

    def test_shadowing_in_same_let(self):
        same(ev("(let [x 1 x (+ x 1) x (* x 10)] x)"), 20)

    def test_shadowing_nested(self):
        same(ev("(let [x 1] [(let [x (+ x 10)] x) x])"), (11, 1))

    def test_shadowing_a_parameter(self):
        same(run("(defn main [x] (let [x (* x 2)] x))", 21), 42)

    def test_shadowing_a_primitive(self):
        same(ev("(let [sum (fn [x] (* x 100))] (sum 3))"), 300)

    def test_shadowing_a_global(self):
        src = "(def k 5) (defn main [] [(let [k 7] k) k])"
        same(run(src), (7, 5))

    def test_closure_sees_binding_at_its_creation(self):
        same(ev("(let [x 1 f (fn [] x) x 2] [(f) x])"), (1, 2))

    def test_destructure_tuple(self):
        same(ev("(let [[a b] [1 2]] (- a b))"), -1)

    def test_destructure_nested(self):
        same(ev("(let [[a [b [c d]] e] [1 [2 [3 4]] 5]] [e d c b a])"), (5, 4, 3, 2, 1))

    def test_destructure_then_use_in_next_binding(self):
        same(ev("(let [[a b] [3 4] c (+ (* a a) (* b b))] c)"), 25)

    def test_destructure_size_mismatch(self):
        with pytest.raises(SxTypeError, match="cannot destructure tuple of 3 into 2 names"):
            ev("(let [[a b] [1 2 3]] a)")

    def test_destructure_non_tuple(self):
        with pytest.raises(SxTypeError, match="cannot destructure i64 into 2 names"):
            ev("(let [[a b] 1] a)")

    def test_odd_bindings(self):
        with pytest.raises(SxSyntaxError, match="bindings come in pairs"):
            ev("(let [x] 1)")

    def test_cannot_bind_special_form(self):
        with pytest.raises(SxSyntaxError, match="special form name fn"):
            ev("(let [fn 1] fn)")

    def test_empty_pattern(self):
        with pytest.raises(SxSyntaxError, match="empty pattern"):
            ev("(let [[] []] 1)")


# -- letrec ---------------------------------------------------------------------------

class TestLetrec:
    def test_self_recursion(self):
        src = "(letrec [fact (fn [n] (if (= n 0) 1 (* n (fact (- n 1)))))] (fact 10))"
        same(ev(src), 3628800)

    def test_mutual_recursion(self):
        src = """(letrec [even? (fn [n] (if (= n 0) True (odd? (- n 1))))
                          odd? (fn [n] (if (= n 0) False (even? (- n 1))))]
                   [(even? 10) (odd? 10) (even? 7) (odd? 7)])"""
        same(ev(src), (True, False, False, True))

    def test_captures_enclosing_local(self):
        src = """(defn main [k]
                   (letrec [count (fn [n acc] (if (= n 0) acc (count (- n 1) (+ acc k))))]
                     (count 4 0)))"""
        same(run(src, 3), 12)

    def test_closure_escapes_with_letrec_names(self):
        # g is returned out of the letrec; calling it later still reaches f
        src = """(defn mk []
                   (letrec [f (fn [n] (if (= n 0) 100 (g (- n 1))))
                            g (fn [n] (+ 1 (f n)))]
                     g))
                 (defn main [] ((mk) 3))"""
        # g 3 = 1 + f 3 = 1 + g 2 = 2 + f 2 = ... = 4 + f 0 = 104
        same(run(src), 104)

    def test_inner_fn_captures_letrec_name(self):
        src = """(letrec [f (fn [n] (if (= n 0) 0 (let [h (fn [m] (f m))] (+ 1 (h (- n 1))))))]
                   (f 5))"""
        same(ev(src), 5)

    def test_letrec_returns_function_of_itself(self):
        src = "(letrec [f (fn [n] (if (= n 0) g (f (- n 1)))) g (fn [] 7)] ((f 3)))"
        same(ev(src), 7)

    def test_letrec_needs_fn_values(self):
        with pytest.raises(SxSyntaxError, match="letrec binds functions"):
            ev("(letrec [f 1] f)")

    def test_letrec_plain_names(self):
        with pytest.raises(SxSyntaxError, match="letrec binds plain names"):
            ev("(letrec [[f g] (fn [] 1)] 1)")


# -- if --------------------------------------------------------------------------------

class TestIf:
    def test_branches(self):
        same(ev("[(if True 1 2) (if False 1 2) (if (< 1 2) 'yes 'no)]"),
             (1, 2, Symbol("yes")))

    def test_only_taken_branch_runs(self):
        # the other branch would divide by zero / index out of range
        same(ev("(if True 1 (// 1 0))"), 1)
        same(ev("(if False (get [1 2] 9) 2)"), 2)

    def test_untaken_recursive_branch(self):
        src = "(defn boom [] (boom)) (defn main [] (if (= 1 1) 0 (boom)))"
        same(run(src), 0)

    def test_if_in_non_tail_position(self):
        same(ev("(+ 1 (if (> 3 2) 10 20))"), 11)
        same(ev("(+ 1 (if (< 3 2) 10 20))"), 21)

    def test_numpy_bool_condition(self):
        same(run("(defn main [a] (if (get (> a 1) 0) 1 2))", np.array([5.0])), 1)

    @pytest.mark.parametrize("cond, tname", [("1", "i64"), ("None", "None"),
                                              ("[]", "tuple of 0"), ("0.0", "f64")])
    def test_non_bool_condition(self, cond, tname):
        with pytest.raises(SxTypeError, match=f"if expects a bool condition, got {tname}"):
            ev(f"(if {cond} 1 2)")

    def test_array_condition_is_type_error(self):
        with pytest.raises(SxTypeError, match="bool condition, got array bool"):
            ev("(if (> (array [1 2]) 0) 1 2)")

    def test_non_bool_condition_span(self):
        src = "(defn main [x]\n  (if x 1 2))"
        with pytest.raises(SxTypeError) as ei:
            run(src, 3)
        assert where(ei.value) == (2, 7)  # the condition x

    def test_wrong_number_of_parts(self):
        with pytest.raises(SxSyntaxError, match=r"\(if c a b\)"):
            ev("(if True 1)")


# -- quote -------------------------------------------------------------------------------

class TestQuote:
    def test_symbol(self):
        same(ev("'abc"), Symbol("abc"))
        same(ev("(quote abc)"), Symbol("abc"))

    def test_form(self):
        got = ev("'(f 1 [x 2.5] :k \"s\")")
        assert got == myia_sx.loads('(f 1 [x 2.5] :k "s")')
        assert isinstance(got, Form)

    def test_quoted_code_is_not_run(self):
        got = ev("'(// 1 0)")
        assert got == myia_sx.loads("(// 1 0)")

    def test_quoted_unbound_name_is_fine(self):
        same(ev("'nowhere-defined"), Symbol("nowhere-defined"))

    def test_atoms(self):
        same(ev("[(quote 1) '2.5 'True 'None '\"s\"]"), (1, 2.5, True, None, "s"))

    def test_quote_arity(self):
        with pytest.raises(SxSyntaxError, match="quote takes exactly one form"):
            ev("(quote a b)")


# -- def ------------------------------------------------------------------------------------

class TestDef:
    def test_non_function_values(self):
        m = load("(def k 42) (def t [k 1.5]) (def s (+ k 1)) (defn main [] [k t s])")
        same(m.main(), (42, (42, 1.5), 43))
        same(m.k, 42)
        same(m.t, (42, 1.5))

    def test_top_level_mutual_recursion(self):
        src = """(defn ev? [n] (if (= n 0) True (od? (- n 1))))
                 (defn od? [n] (if (= n 0) False (ev? (- n 1))))
                 (defn main [n] [(ev? n) (od? n)])"""
        same(run(src, 9), (False, True))
        same(run(src, 12), (True, False))

    def test_function_may_refer_to_later_definition(self):
        same(run("(defn main [] (helper 2)) (defn helper [x] (* x 21))"), 42)

    def test_value_may_use_earlier_definition(self):
        same(load("(defn sq [x] (* x x)) (def nine (sq 3))").nine, 9)

    def test_use_before_definition(self):
        with pytest.raises(SxNameError, match="y is used before its definition has run") as ei:
            load("(def x (+ y 1))\n(def y 2)")
        assert where(ei.value) == (1, 11)

    def test_call_before_definition(self):
        with pytest.raises(SxNameError, match="f is used before its definition"):
            load("(def a (f 1))\n(defn f [x] x)")

    def test_defined_twice(self):
        with pytest.raises(SxNameError, match="defined twice") as ei:
            load("(def a 1)\n(def a 2)")
        assert where(ei.value) == (2, 6)

    def test_def_inside_function(self):
        with pytest.raises(SxSyntaxError, match="only allowed at the top level"):
            ev("(def x 1)")

    def test_top_level_expression_rejected(self):
        with pytest.raises(SxSyntaxError, match="top-level forms are definitions"):
            load("(+ 1 2)")

    def test_global_shadows_primitive(self):
        same(run("(defn max [a b] 42) (defn main [] (max 1 2))"), 42)

    def test_defn_docstring(self):
        same(run('(defn main [] "the answer" 42)'), 42)


# -- defrecord ---------------------------------------------------------------------------------

REC = "(defrecord Point [x y])\n"


class TestDefrecord:
    def test_positional_and_field_access(self):
        same(run(REC + "(defn main [] (let [p (Point 1.0 2.0)] [(. p x) p.y]))"), (1.0, 2.0))

    def test_keywords(self):
        same(run(REC + "(defn main [] (let [p (Point :y 3 :x 4)] [p.x p.y]))"), (4, 3))

    def test_positional_then_keyword(self):
        same(run(REC + "(defn main [] (let [p (Point 1 :y 2)] [p.x p.y]))"), (1, 2))

    def test_nested_access(self):
        src = REC + "(defrecord Box [p]) (defn main [] (let [b (Box (Point 1 2))] [b.p.y (. b p x)]))"
        same(run(src), (2, 1))

    def test_kebab_field(self):
        src = "(defrecord R [x-val]) (defn main [] (let [r (R 5)] [r.x-val (. r x-val)]))"
        same(run(src), (5, 5))

    def test_record_value(self):
        p = run(REC + "(defn main [] (Point 1 2))")
        assert type(p).__name__ == "Point"
        assert (p.x, p.y) == (1, 2)

    def test_predicates_and_equality(self):
        src = REC + """(defn main [] [(record? (Point 1 2)) (record? [1 2])
                                       (= (Point 1 2) (Point 1 2)) (= (Point 1 2) (Point 1 3))
                                       (function? Point)])"""
        same(run(src), (True, False, True, False, True))

    def test_missing_field_access(self):
        with pytest.raises(SxTypeError, match=r"record Point has no field z \(fields: x y\)") as ei:
            run(REC + "(defn main []\n  (let [p (Point 1 2)] p.z))")
        assert where(ei.value) == (3, 24)

    def test_field_of_non_record(self):
        with pytest.raises(SxTypeError, match=r"field access .x on i64, not a record"):
            ev("(. 1 x)")

    @pytest.mark.parametrize("call, msg", [
        ("(Point 1)", r"Point takes 2 field value\(s\), got 1"),
        ("(Point 1 2 3)", r"Point takes 2 field value\(s\), got 3"),
        ("(Point 1 :z 2)", "Point has no field z"),
        ("(Point 1 :x 2)", "field x of Point given twice"),
        ("(Point :x 2)", r"missing field\(s\) y"),
    ])
    def test_constructor_errors(self, call, msg):
        with pytest.raises(SxTypeError, match=msg) as ei:
            run(REC + f"(defn main [] {call})")
        assert where(ei.value) == (2, BODY_COL)

    def test_bad_field_name(self):
        with pytest.raises(SxSyntaxError, match="field name '_x'"):
            load("(defrecord R [_x])")

    def test_duplicate_field(self):
        with pytest.raises(SxSyntaxError, match="x appears twice"):
            load("(defrecord R [x x])")


# -- application and keyword arguments -------------------------------------------------------------

class TestApplication:
    FN = "(defn f [a b] (- a b))\n"

    def test_keywords_by_parameter_name(self):
        same(run(self.FN + "(defn main [] (f :b 1 :a 10))"), 9)

    def test_positional_then_keyword(self):
        same(run(self.FN + "(defn main [] (f 10 :b 4))"), 6)

    def test_keywords_use_the_written_names(self):
        # a and sum are renamed internally (a is bound elsewhere, sum is a primitive);
        # keyword arguments still use the names the user wrote
        src = """(defn g [a] a)
                 (defn f [a sum] (- a sum))
                 (defn main [] [(f :sum 1 :a 10) (let [a 5] (f :a a :sum 2))])"""
        same(run(src), (9, 3))

    def test_keyword_tail_call(self):
        src = "(defn g [n acc] (if (= n 0) acc (g :acc (+ acc n) :n (- n 1))))" \
              "(defn main [] (g 100 0))"
        same(run(src), 5050)

    def test_kebab_parameter_keyword(self):
        same(run("(defn f [learning-rate] (* 2 learning-rate)) (defn main [] (f :learning-rate 4))"), 8)

    @pytest.mark.parametrize("call, msg", [
        ("(f 1 :a 2)", "f got parameter a twice"),
        ("(f :a 1)", r"f is missing argument\(s\) b"),
        ("(f 1 :c 2)", "f has no parameter named c"),
        ("(f 1 2 :a 2)", "f got parameter a twice|f takes 2 arguments"),
    ])
    def test_keyword_errors(self, call, msg):
        with pytest.raises(SxTypeError, match=msg) as ei:
            run(self.FN + f"(defn main [] {call})")
        assert where(ei.value) == (2, BODY_COL)

    def test_prim_keyword(self):
        got = ev("(sum (array [[1 2] [3 4]]) :axis 0)")
        same(got, np.array([4, 6]))

    def test_prim_keyword_through_a_variable(self):
        same(ev("(let [s sum] (s (array [[1 2] [3 4]]) :axis 1))"), np.array([3, 7]))

    def test_prim_unknown_keyword(self):
        with pytest.raises(SxTypeError, match="sum has no keyword argument :foo"):
            ev("(sum (array [1]) :foo 1)")

    def test_keyword_given_twice(self):
        with pytest.raises(SxSyntaxError, match=":axis given twice"):
            ev("(sum (array [1]) :axis 0 :axis 0)")

    def test_positional_after_keyword(self):
        with pytest.raises(SxSyntaxError, match="positional argument after keyword"):
            run(self.FN + "(defn main [] (f :a 1 2))")

    def test_call_non_function(self):
        with pytest.raises(SxTypeError, match="cannot call a value of type i64") as ei:
            ev("((get [1] 0) 2)")
        assert where(ei.value) == (1, BODY_COL)

    def test_call_tuple(self):
        with pytest.raises(SxTypeError, match="cannot call a value of type tuple of 2"):
            ev("([1 2] 0)")

    def test_empty_application(self):
        with pytest.raises(SxSyntaxError, match=r"\(\) is not an expression"):
            ev("()")

    def test_evaluation_order_left_to_right(self):
        # the first failing argument is the one reported
        with pytest.raises(SxRuntimeError, match="integer division by zero"):
            ev("[(// 1 0) (get [] 0)]")


# -- closures ------------------------------------------------------------------------------------

class TestClosures:
    def test_capture_and_return(self):
        src = "(defn adder [n] (fn [x] (+ x n))) (defn main [] [((adder 1) 10) ((adder 5) 10)])"
        same(run(src), (11, 15))

    def test_passed_as_argument(self):
        src = """(defn twice [f x] (f (f x)))
                 (defn main [k] (twice (fn [x] (* x k)) 3))"""
        same(run(src, 5), 75)

    def test_stored_in_tuples(self):
        src = "(let [fs [(fn [x] (+ x 1)) (fn [x] (* x 2))]] ((get fs 1) ((get fs 0) 5)))"
        same(ev(src), 12)

    def test_nested_capture(self):
        # the innermost function captures variables of two enclosing functions
        src = "(defn main [a] (((fn [b] (fn [c] (+ (* 100 a) (+ (* 10 b) c)))) 2) 3))"
        same(run(src, 1), 123)

    def test_compose(self):
        src = """(defn compose [f g] (fn [x] (f (g x))))
                 (defn main [] ((compose (fn [x] (* x 10)) (fn [x] (+ x 1))) 4))"""
        same(run(src), 50)

    def test_capture_destructured(self):
        same(ev("(let [[a b] [3 4] f (fn [] (- a b))] (f))"), -1)

    def test_primitive_as_value(self):
        same(ev("(let [ops [+ *]] [((get ops 0) 3 4) ((get ops 1) 3 4)])"), (7, 12))

    def test_record_constructor_as_value(self):
        src = REC + "(defn app [f] (f 1 2)) (defn main [] (. (app Point) y))"
        same(run(src), 2)


# -- tail calls and deep recursion ----------------------------------------------------------------

class TestRecursion:
    def test_loop_million_iterations(self):
        src = """(def n 1000000)
                 (defn loop [i acc] (if (< i n) (loop (+ i 1) (+ acc i)) acc))
                 (defn main [] (loop 0 0))"""
        # sum of 0 .. n-1 = n (n - 1) / 2
        same(run(src), 1000000 * 999999 // 2)

    def test_mutual_tail_recursion(self):
        src = """(defn ev? [n] (if (= n 0) True (od? (- n 1))))
                 (defn od? [n] (if (= n 0) False (ev? (- n 1))))
                 (defn main [] [(ev? 100000) (od? 100001)])"""
        same(run(src), (True, True))

    def test_letrec_tail_loop(self):
        src = "(letrec [f (fn [i] (if (= i 0) 'done (f (- i 1))))] (f 200000))"
        same(ev(src), Symbol("done"))

    def test_non_tail_recursion_deep(self):
        src = "(defn depth [n] (if (= n 0) 0 (+ 1 (depth (- n 1))))) (defn main [] (depth 100000))"
        same(run(src), 100000)

    def test_deep_recursion_through_closures(self):
        src = """(defn main [n]
                   (letrec [down (fn [k] (if (= k 0) [] [k (down (- k 1))]))]
                     (get (down n) 0)))"""
        same(run(src, 100000), 100000)


# -- errors: spans and notes ----------------------------------------------------------------------

class TestErrors:
    def test_arity_error_at_call_span(self):
        src = "(defn f [x] x)\n(defn main []\n    (f 1 2))"
        with pytest.raises(SxTypeError, match="f takes 1 argument, got 2") as ei:
            run(src)
        assert where(ei.value) == (3, 5)
        assert ei.value.headline() == "<string>:3:5: f takes 1 argument, got 2"

    def test_arity_error_too_few(self):
        src = "(defn g [x y] x)\n(defn main [] (g 1))"
        with pytest.raises(SxTypeError, match="g takes 2 arguments, got 1") as ei:
            run(src)
        assert where(ei.value) == (2, BODY_COL)

    def test_arity_error_of_closure_value(self):
        src = "(defn main []\n  (let [h (fn [a b] a)]\n    (h 1)))"
        with pytest.raises(SxTypeError, match="takes 2 arguments, got 1") as ei:
            run(src)
        assert where(ei.value) == (3, 5)

    def test_primitive_arity_error(self):
        with pytest.raises(SxTypeError, match=r"\+ takes 2 arguments, got 3") as ei:
            load("(defn main []\n  (+ 1 2 3))")
        assert where(ei.value) == (2, 3)

    def test_integer_division_by_zero(self):
        src = "(defn main [a b]\n  (+ 1 (// a b)))"
        with pytest.raises(SxRuntimeError, match="integer division by zero") as ei:
            run(src, 7, 0)
        assert where(ei.value) == (2, 8)

    def test_true_division_by_integer_zero(self):
        with pytest.raises(SxRuntimeError, match="integer division by zero") as ei:
            ev("(/ 1 0)")
        assert where(ei.value) == (1, BODY_COL)

    def test_tuple_index_out_of_range(self):
        src = "(defn main [t]\n  (get t 3))"
        with pytest.raises(SxRuntimeError, match="index 3 out of range for tuple of length 2") as ei:
            run(src, (1, 2))
        assert where(ei.value) == (2, 3)

    def test_array_index_out_of_range(self):
        src = "(defn main [a]\n    (get a 1 5))"
        with pytest.raises(SxRuntimeError,
                           match="index 5 out of range for axis 1 of an array of length 3") as ei:
            run(src, np.zeros((2, 3)))
        assert where(ei.value) == (2, 5)

    def test_error_notes_name_the_call_chain(self):
        src = ("(defn g [x] (get [1 2] x))\n"
               "(defn h [x] (+ 1 (g x)))\n"
               "(defn main [x] (* 2 (h x)))\n")
        with pytest.raises(SxRuntimeError) as ei:
            run(src, 7)
        e = ei.value
        assert where(e) == (1, 13)
        notes = [(text, (s.line, s.col)) for text, s in e.notes]
        assert notes == [("called from h", (2, 18)), ("called from main", (3, 21))]
        text = e.format()
        assert "note: called from h" in text and "note: called from main" in text
        assert "(defn g [x] (get [1 2] x))" in text

    def test_tail_calls_leave_no_note(self):
        # main calls g in tail position, so only the failing frame remains
        src = "(defn g [x] (get [] x))\n(defn main [] (g 0))"
        with pytest.raises(SxRuntimeError) as ei:
            run(src)
        assert ei.value.notes == []

    def test_long_call_chain_is_summarised(self):
        src = "(defn down [n] (if (= n 0) (// 1 0) (+ 1 (down (- n 1))))) (defn main [] (down 50))"
        with pytest.raises(SxRuntimeError) as ei:
            run(src)
        texts = [t for t, _ in ei.value.notes]
        assert len(texts) <= 6
        assert any("more calls" in t for t in texts)

    def test_errors_are_sx_errors(self):
        for expr in ["(// 1 0)", "(get [] 0)", "(+ True 1)", "(if 1 2 3)", "(. 1 x)"]:
            with pytest.raises(SxError):
                ev(expr)

    def test_shape_error_in_interpreter(self):
        with pytest.raises(SxShapeError, match=r"shape mismatch in \(\+ a b\)"):
            run("(defn main [a b] (+ a b))", np.ones(2), np.ones(3))

    def test_unbound_name_in_function_never_called(self):
        with pytest.raises(SxNameError, match="unbound name nothing-here") as ei:
            load("(defn unused []\n  (nothing-here 1))\n(def x (// 1 0))")
        assert where(ei.value) == (2, 4)
