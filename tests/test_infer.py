"""Type inference and specialization (myia_sx/passes/infer_types.py,
myia_sx/passes/specialize.py): the types of core forms and primitives, one
version per signature, recursion, closures, gradients of every order, shapes,
and the errors, each at its exact place.

Every specialization in this file is checked by the Lmono checker and run by
the interpreter, which checks each value against its inferred type, and
compared with the interpreter's run of the untyped program."""

import math

import numpy as np
import pytest

import myia_sx
from myia_sx import interp, pipeline, types
from myia_sx.errors import SxGradError, SxShapeError, SxSyntaxError, SxTypeError
from myia_sx.forms import Form, Symbol, Vec
from myia_sx.passes import infer_types
from myia_sx.passes import specialize as spec_pass
from myia_sx.reader import read_one


def same(a, b):
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            np.allclose(a, b, rtol=1e-12, atol=1e-12)
    if isinstance(a, float):
        return type(b) is float and (a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b)))
    return type(a) is type(b) and a == b


def specialized(src, name="main", *args):
    """``name`` of ``src`` (a source, or a loaded module) specialized to
    ``args``: checked, run and compared with the interpreter's result; the
    Specialized."""
    m = myia_sx.load_string(src) if type(src) is str else src
    fn = m._env.globals[name]
    sp = pipeline.specialize(fn, args, env=m._env, verify=True)
    got = sp.run(m._env, args)
    want = interp.run(fn, list(args))
    assert same(got, want), (got, want)
    return sp


def sig(src, name="main", *args):
    return specialized(src, name, *args).signature()


def versions(sp, name):
    """The versions of function ``name`` in the program."""
    return [f.items[1].name for f in sp.program if f.items[1].name.startswith(name + "@")]


def symbols(forms):
    stack = list(forms)
    while stack:
        x = stack.pop()
        if type(x) is Symbol:
            yield x.name
        elif type(x) in (Form, Vec):
            stack.extend(x.items)


# -- core forms and primitives --------------------------------------------------------------

def test_literals_and_core_forms():
    assert sig("(defn main [] [1 2.5 True None \"s\"])") == \
        "(-> [] [(const i64 1) (const f64 2.5) (const bool True) None str])"
    assert sig("(defn f [x] (let [y (* x 2)] [y x]))", "f", 3) == "(-> [i64] [i64 i64])"
    assert sig("(defn f [x] (if (> x 0.0) x (neg x)))", "f", 2.0) == "(-> [f64] f64)"
    assert sig("(defn f [t] (let [[a b] t] (+ a b)))", "f", (1, 2.5)) == \
        "(-> [[i64 f64]] f64)"


def test_records_and_fields():
    src = "(defrecord P [x y]) (defn f [a] (let [p (P a [a a])] [(. p x) p]))"
    assert sig(src, "f", 1.5) == "(-> [f64] [f64 (record P :x f64 :y [f64 f64])])"


def test_arithmetic_promotes_as_python():
    assert sig("(defn f [a b] (+ a b))", "f", 1, 2.0) == "(-> [i64 f64] f64)"
    assert sig("(defn f [a b] (/ a b))", "f", 1, 2) == "(-> [i64 i64] f64)"
    assert sig("(defn f [a b] (< a b))", "f", 1, 2.0) == "(-> [i64 f64] bool)"


def test_known_values_decide_branches_and_types():
    # a known condition takes one branch: the other may have another type
    src = "(defn f [flag x] (if flag [x x] x)) (defn main [y] [(f True y) (f False y)])"
    assert sig(src, "main", 2.0) == "(-> [f64] [[f64 f64] f64])"
    # type tests are decided statically
    src = "(defn g [x] (if (tuple? x) (len x) 0)) (defn main [] [(g [1 2 3]) (g 4.0)])"
    sp = specialized(src)
    assert sp.signature() == "(-> [] [(const i64 3) (const i64 0)])"
    assert "tuple?" not in set(symbols(sp.program))


def test_a_polymorphic_function_gets_one_version_per_signature():
    src = """(defn id [x] x)
             (defn main [a n] [(id a) (id n) (id [a a]) (id a) (id 2)])"""
    sp = specialized(src, "main", 1.5, 4)
    assert sp.signature() == "(-> [f64 i64] [f64 i64 [f64 f64] f64 (const i64 2)])"
    # (id 2) is known to be 2: no call is left of it
    assert versions(sp, "id") == ["id@f64", "id@i64", "id@t<f64,f64>"]


def test_specializations_are_cached_per_signature():
    m = myia_sx.load_string("(defn f [x y] (+ x y))")
    a = m.f.specialize(1.0, 2)
    assert m.f.specialize(5.0, 7) is a               # same types: nothing inferred again
    assert m.f.specialize(1, 2) is not a             # other types: another version
    assert m.f.signature(1, 2) == "(-> [i64 i64] i64)"


# -- recursion, loops, trees ----------------------------------------------------------------

def test_recursion_types_its_base_case_first():
    src = "(defn fact [n] (if (< n 1) 1 (* n (fact (- n 1)))))"
    sp = specialized(src, "fact", 10)
    assert sp.signature() == "(-> [i64] i64)"
    assert versions(sp, "fact") == ["fact@i64"]


def test_mutual_recursion():
    src = """(defn ev? [n] (if (= n 0) True (od? (- n 1))))
             (defn od? [n] (if (= n 0) False (ev? (- n 1))))"""
    sp = specialized(src, "ev?", 7)
    assert sp.signature() == "(-> [i64] bool)"
    assert len(versions(sp, "od?")) == 1


def test_a_loop_whose_state_keeps_its_type_type_checks_once():
    src = """(defn total [n x]
               (loop [i 0 acc 0.0] (if (< i n) (recur (+ i 1) (+ acc x)) acc)))"""
    sp = specialized(src, "total", 1000, 0.5)
    assert sp.signature() == "(-> [i64 f64] f64)"
    loops = [c for c in sp.inference.reachable(sp.context) if "recur" in c.code.name]
    assert len(loops) <= 2     # the first iteration (i known to be 0) and the rest


def test_recursion_over_trees_specializes_per_subtree():
    src = """(defn tsum [t] (if (tuple? t) (+ (tsum (get t 0)) (tsum (get t 1))) t))"""
    tree = (((1.0, 2), 3.0), (4, 5.0))
    sp = specialized(src, "tsum", tree)
    assert sp.signature() == "(-> [[[[f64 i64] f64] [i64 f64]]] f64)"
    # one version per distinct subtree type
    assert len(versions(sp, "tsum")) == 6


# -- closures and higher-order functions ----------------------------------------------------

def test_closures_and_higher_order_functions():
    src = """(defn adder [k] (fn [x] (+ x k)))
             (defn compose [f g] (fn [x] (f (g x))))
             (defn twice [f x] (f (f x)))
             (defn main [a] [((compose (adder a) (adder 1)) 2) (twice (adder a) 1.0)
                             (twice (fn [t] [t t]) 1)])"""
    sp = specialized(src, "main", 0.5)
    assert sp.signature() == "(-> [f64] [f64 f64 [[(const i64 1) (const i64 1)] " \
        "[(const i64 1) (const i64 1)]]])"
    # a closure is the tuple of what it captured: no fn is left in the program
    for f in sp.program:
        assert "fn" not in list(symbols([f.items[2].items[2].items[2]]))


def test_a_union_of_functions_is_tagged_and_dispatched():
    src = """(defn pick [c] (if c (fn [x] (* x 2.0)) (fn [x] (+ x 1.0))))
             (defn main [c x] ((pick c) x))"""
    sp = specialized(src, "main", True, 3.0)
    assert sp.signature() == "(-> [bool f64] f64)"
    assert specialized(src, "main", False, 3.0).run(
        myia_sx.load_string(src)._env, [False, 3.0]) == 4.0


def test_a_closure_read_from_a_global():
    src = """(defn adder [k] (fn [x] (+ x k)))
             (def add2 (adder 2.0))
             (defn main [x] (add2 x))"""
    sp = specialized(src, "main", 1.0)
    assert "%closure-tuple" in set(symbols(sp.program))


# -- gradients ------------------------------------------------------------------------------

GRADIENT_CASES = [
    ("(defn f [x] (* x (sin x)))", 0.7),
    ("(defn f [t] (* (get t 0) (get t 1)))", (2.0, 3.0)),
    ("(defrecord P [a b]) (defn f [p] (* (. p a) (. p b)))", None),
    ("(defn f [x] (sum (* x x)))", np.array([1.0, 2.0, 3.0])),
    ("(defn f [x] (if (> x 0.0) (* x x) (neg x)))", -1.5),
    ("(defn f [x] (loop [i 0 acc x] (if (< i 3) (recur (+ i 1) (* acc x)) acc)))", 1.1),
]


@pytest.mark.parametrize("k", range(len(GRADIENT_CASES)))
def test_a_gradient_has_its_arguments_type(k):
    src, x = GRADIENT_CASES[k]
    m = myia_sx.load_string(src + " (def df (grad f))")
    if x is None:
        x = m.P(1.5, 2.0)
    sp = specialized(m, "df", x)
    assert types.widen(sp.result) == types.widen(sp.arg_types[0])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_gradients_of_every_order_leave_no_transform(order):
    g = "f"
    for _ in range(order):
        g = f"(grad {g})"
    src = f"(defn f [x] (* x (* x (sin x)))) (defn main [x] ({g} x))"
    sp = specialized(src, "main", 0.3)
    assert sp.signature() == "(-> [f64] f64)"
    assert not set(symbols(sp.program)) & spec_pass.CODE_MAKERS


def test_a_function_differentiated_where_it_arrives():
    # (grad f) of a parameter: J of a closure from elsewhere, made from its tuple
    src = """(defn d [f x] ((grad f) x))
             (defn main [a] [(d (fn [x] (* a (* x x))) 2.0) (d sin 1.0)
                             (d (fn [x] (d (fn [y] (* x (* y y))) x)) 1.5)])"""
    sp = specialized(src, "main", 3.0)
    assert sp.signature() == "(-> [f64] [f64 f64 f64])"


@pytest.mark.parametrize("body", [
    # a branch decided inside a branch that is not: its tail is made a union member once
    "(if (< x 0.6) (if (> 0.3 0.1) (* x 0.2) 0.1) 0.3)",
    # a loop in one branch: the other branch's backward pass gets an empty buffer
    "(if (< x 0.1) (dotimes [i 4 acc x] (* acc 2.0)) (sin x))",
    "(if (< x 0.1) (let [[n out] (while [i 0 acc x] (< i 4) (+ i 1) (* acc 2.0))] out) x)",
])
def test_gradients_through_branches_that_return_different_backpropagators(body):
    m = myia_sx.load_string(f"(defn f [x] {body}) (defn df [x] ((grad f) x))")
    for x in (0.05, 0.5, 0.9):
        specialized(m, "df", x)


def test_closures_of_one_code_join_in_a_union():
    # the members of a union differ in code: closures of one code join
    fa = types.FnT(types.Code(None, None, "a"), [("b", types.BufferT(types.BOTTOM))])
    fa2 = types.FnT(fa.code, [("b", types.BufferT(types.Scalar("f64")))])
    fb = types.FnT(types.Code(None, None, "b"), [])
    u = types.join(types.join(fa, fb), fa2)
    assert type(u) is types.UnionT and len(u.members) == 2
    assert types.show(u) == "(union (fn a [(buffer f64)]) (fn b []))"


def test_a_typed_program_reads_back_without_its_environment():
    # the checker reads types with records and primitives it knows by name only
    t = types.read(read_one("(union (fn f [(record P :a f64 :b i64)]) (primitive sin))"))
    assert types.show(t) == "(union (fn f [(record P :a f64 :b i64)]) (primitive sin))"


def test_sums_join_tuples_that_cannot_be_joined():
    # the results of a union's members: a sum where tuples do not join, read back
    f, z = types.Scalar("f64"), types.ZeroT
    a = types.TupleT([f, f, f])
    b = types.TupleT([f, types.TupleT([f])])
    with pytest.raises(types.JoinError):
        types.join(a, b)
    s = types.join_results(a, b)
    assert type(s) is types.SumT and set(s.members) == {a, b}
    assert types.read(read_one(types.show(s))) == s
    assert types.join_results(s, a) == s and types.join(s, a) == s
    # tuples of one length join itemwise; the zero sensitivity is held as 0.0
    assert types.join_results(types.TupleT([z, f]), types.TupleT([f, f])) == \
        types.TupleT([f, f])
    assert types.flat(s) == types.TaggedT([types.flat(m) for m in s.members])
    k = s.members.index(b)     # a value of a sum: its member's index, and the member
    assert types.matches((k, (1.0, (2.0,))), types.flat(s))
    assert not types.matches((k, (1.0, 2.0, 3.0)), types.flat(s))


def test_fourth_order_gradient_through_a_branch():
    # sums of sensitivities inside tuples: zeros, fills and additions are
    # written part by part, a tag kept a tag
    m = myia_sx.load_string("(defn g [x] (if (> x 0.0) (* x (* x x)) (sin x)))\n"
                            "(defn d4 [x] ((grad (grad (grad (grad g)))) x))")
    for x in (0.7, -0.7):
        sp = specialized(m, "d4", x)
        same(sp.run(m._env, (x,)), 0.0 if x > 0 else math.sin(x))
        assert not {"%J", "%J-shallow", "%grad"} & set(symbols(sp.program))


def test_a_function_that_differentiates_itself_without_end_is_a_located_error():
    # g's gradient calls f, which differentiates g again: a J-transform of a
    # J-transform ... without end, stopped at the sixth order
    m = myia_sx.load_string("(defn g [x] (if (> x 10.0) x (* x (f x))))\n"
                            "(defn f [x] ((grad g) (+ x 4.0)))", filename="t.sx")
    with pytest.raises(SxGradError) as info:
        m.f.specialize(1.0)
    assert info.value.message.startswith("g would be differentiated more than 5 times")
    assert (info.value.span.line, info.value.span.col) == (2, 20)    # g, in (grad g)


@pytest.mark.parametrize("g", ["(grad (grad f) :wrt [0 1])", "(grad (grad f :wrt 1) :wrt 0)"])
def test_higher_order_gradients_through_a_branch(g):
    # the branches' backpropagators capture the same variables: one type
    m = myia_sx.load_string(f"(defn f [x y] (if (< y 0.0) (* x 2.0) (sin x))) "
                            f"(defn dd [x y] ({g} x y))")
    for x, y in ((0.5, -1.0), (0.5, 1.0)):
        specialized(m, "dd", x, y)


def test_higher_order_gradients_through_branches_that_capture_different_variables():
    # each branch's backpropagator captures its own values: the sensitivity
    # of the backpropagator the if chose is a sum of their tuples, tagged
    m = myia_sx.load_string(
        "(defn f [x y] (if (< y 0.0) (* x y) (sin (* x (* y y)))))\n"
        "(defn d2 [x y] ((grad (grad f) :wrt [0 1]) x y))\n"
        "(defn d3 [x y] ((grad (grad (grad f)) :wrt [0 1]) x y))", filename="t.sx")
    for x, y in ((0.5, -1.5), (0.5, 1.5), (-1.25, 0.75)):
        if y < 0:
            want2, want3 = (0.0, 1.0), (0.0, 0.0)
        else:
            s, c = math.sin(x * y * y), math.cos(x * y * y)
            want2 = (-y ** 4 * s, 2 * y * c - 2 * x * y ** 3 * s)
            want3 = (-y ** 6 * c, -4 * y ** 3 * s - 2 * x * y ** 5 * c)
        for name, want in (("d2", want2), ("d3", want3)):
            sp = specialized(m, name, x, y)
            np.testing.assert_allclose(sp.run(m._env, (x, y)), want, rtol=1e-12, atol=1e-12)
            assert not {"%J", "%J-shallow", "%grad"} & set(symbols(sp.program))
            assert any("(sum [" in types.show(t) for ctx in sp.inference.contexts.values()
                       for t in ctx.types.values() if isinstance(t, types.T)), name


def test_what_inference_cannot_type_yet_is_a_located_error():
    # docs/types.md, "Limits": the gradient of a recursion that is not a loop
    # (an integer from Python is any i64; a literal depth is known)
    m = myia_sx.load_string("(defn p [x n] (if (= n 0) 1.0 (* x (p x (- n 1)))))\n"
                            "(defn dp [x n] ((grad p) x n))\n"
                            "(defn dp3 [x] ((grad p) x 3))", filename="t.sx")
    with pytest.raises(SxTypeError) as info:
        m.dp.specialize(1.5, 3)
    assert "would need more than 2000 versions" in info.value.message
    assert info.value.span.line == 2
    sp = specialized(m, "dp3", 1.5)
    assert sp.signature() == "(-> [f64] f64)"


# -- shapes ---------------------------------------------------------------------------------

def array_sig(src, *shapes):
    args = [np.ones(s) for s in shapes]
    return sig(src, "f", *args)


def test_shapes_of_array_primitives():
    assert array_sig("(defn f [a b] (+ a b))", (2, 3), (3,)) == \
        "(-> [(array f64 [2 3]) (array f64 [3])] (array f64 [2 3]))"
    assert array_sig("(defn f [a b] (@ a b))", (4, 3), (3, 5)) == \
        "(-> [(array f64 [4 3]) (array f64 [3 5])] (array f64 [4 5]))"
    assert array_sig("(defn f [a] (sum a :axis 1))", (4, 3)) == \
        "(-> [(array f64 [4 3])] (array f64 [4]))"
    assert array_sig("(defn f [a] (reshape a [3 -1]))", (2, 6)) == \
        "(-> [(array f64 [2 6])] (array f64 [3 4]))"
    assert array_sig("(defn f [a] (transpose a))", (2, 6)) == \
        "(-> [(array f64 [2 6])] (array f64 [6 2]))"
    assert array_sig("(defn f [a b] (concat a b :axis 1))", (2, 1), (2, 3)) == \
        "(-> [(array f64 [2 1]) (array f64 [2 3])] (array f64 [2 4]))"
    assert array_sig("(defn f [a] (get a 1))", (5, 2)) == \
        "(-> [(array f64 [5 2])] (array f64 [2]))"


def test_unknown_dimensions_serve_every_size():
    m = myia_sx.load_string("(defn f [x w] (tanh (@ x w)))")
    batch = types.ArrayT("f64", (None, 3))
    sp = pipeline.specialize(m._env.globals["f"], arg_types=[batch, types.ArrayT("f64", (3, 2))],
                             env=m._env, verify=True)
    assert types.show(sp.result) == "(array f64 [? 2])"
    for n in (1, 7):
        got = sp.run(m._env, [np.ones((n, 3)), np.ones((3, 2))])
        assert got.shape == (n, 2)


# -- errors, each at its exact place --------------------------------------------------------

def error_of(src, *args, name="main"):
    m = myia_sx.load_string(src, filename="t.sx")
    with pytest.raises(myia_sx.SxError) as info:
        m[name].specialize(*args)
    e = info.value
    return type(e), (e.span.line, e.span.col), e.message, str(e)


def test_wrong_argument_count():
    cls, at, msg, text = error_of("(defn f [x] x)\n(defn main []\n  (f 1 2))")
    assert (cls, at, msg) == (SxTypeError, (3, 3), "f takes 1 argument, got 2")


def test_wrong_argument_kind_with_the_call_path():
    cls, at, msg, text = error_of("(defn f [x] (sin x))\n(defn main []\n  (f [1.0 2.0]))")
    assert (cls, at) == (SxTypeError, (1, 13))
    assert msg == "sin expects numbers or numeric arrays, got [f64 f64] as argument 1"
    assert "t.sx:3:3: note: f called from main" in text


def test_branches_that_cannot_be_joined():
    cls, at, msg, _ = error_of("(defn main [c]\n  (if c 1.0 [1.0 2.0]))", True)
    assert (cls, at) == (SxTypeError, (2, 3))
    assert msg == "the branches of this if have types that cannot be joined: f64 and [f64 f64]"


def test_a_function_that_can_never_return():
    cls, at, msg, text = error_of("(defn f [x] (f x))\n(defn main []\n  (f 1.0))")
    assert (cls, at) == (SxTypeError, (1, 1))
    assert msg == "f can never return (a recursion with no base case?)"
    assert "t.sx:3:3: note: in a call from main" in text


def test_a_loop_whose_state_grows_without_bound():
    src = "(defn f [x n]\n  (if (< n 0) 0.0 (f [x x] (- n 1))))\n(defn main [n] (f 1.0 n))"
    cls, at, msg, text = error_of(src, 3)
    assert (cls, at) == (SxTypeError, (2, 19))
    assert msg.startswith("the arguments of f grow without bound")
    assert f"note: f called from f ({infer_types.MAX_DEPTH} times)" in text


def test_a_record_field_that_does_not_exist():
    src = "(defrecord P [a b])\n(defn main []\n  (. (P 1.0 2.0) z))"
    cls, at, msg, _ = error_of(src)
    assert (cls, at, msg) == (SxTypeError, (3, 3), "record P has no field z (fields: a b)")


def test_a_shape_mismatch():
    src = "(defn f [a b]\n  (@ a b))\n(defn main [x y] (f x y))"
    cls, at, msg, _ = error_of(src, np.ones((2, 2)), np.ones((3, 4)))
    assert issubclass(cls, SxShapeError) and at == (2, 3)
    assert msg == "shape mismatch in (@ a b): (2, 2) @ (3, 4)"


def test_a_python_argument_of_a_kind_the_language_has_no_type_for():
    m = myia_sx.load_string("(defn f [x] x)")
    with pytest.raises(myia_sx.SxTypeError) as info:
        m.f.specialize(np.ones(3, dtype=np.complex128))
    assert "argument 1" in info.value.message
    assert info.value.span.source.name.endswith("test_infer.py")


def test_inference_runs_nothing():
    # a loop that would never end and an error that running would raise: only types
    src = "(defn main [n] (loop [i 0] (if (< i n) (recur i) (/ 1 0))))"
    m = myia_sx.load_string(src)
    assert m.main.signature(5) == "(-> [i64] f64)"


def test_typed_forms_are_not_source():
    with pytest.raises(myia_sx.SxNameError, match="unbound name %the"):
        myia_sx.load_string("(defn f [x] (%the f64 x))")


def test_a_bad_type_in_a_typed_program_is_located():
    with pytest.raises(SxSyntaxError, match="unknown type f65"):
        m = myia_sx.load_string("")
        interp.evaluate(m._env, read_one("(%the f65 1.0)"))
