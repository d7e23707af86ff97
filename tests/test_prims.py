"""Every primitive in ``PRIMS``, with expected values worked out by hand or by numpy.

``test_every_primitive_is_exercised`` reads the sx snippets in this file and
checks that each primitive's name appears in at least one of them.
"""

import ast
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import myia_sx
from myia_sx import (Form, Keyword, SxRuntimeError, SxShapeError, SxSyntaxError,
                     SxTypeError, Symbol, Vec)
from myia_sx.prims import PRIMS
from myia_sx.values import ZERO, Buffer

INF = math.inf
NAN = math.nan
I64_MIN = -(2 ** 63)
I64_MAX = 2 ** 63 - 1


def run(src, *args, **kwargs):
    return myia_sx.load_string(src).main(*args, **kwargs)


def ev(expr):
    return run(f"(defn main [] {expr})")


def ev_args(params, expr, *args):
    return run(f"(defn main [{params}] {expr})", *args)


def same(got, want):
    """``got`` equals ``want`` and has its exact type (NaN equals NaN; arrays by dtype)."""
    if isinstance(want, np.ndarray):
        assert type(got) is np.ndarray, (got, want)
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        assert got.shape == want.shape, (got.shape, want.shape)
        np.testing.assert_array_equal(got, want)
        return
    assert type(got) is type(want), (got, type(got), want, type(want))
    if type(want) is tuple:
        assert len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            same(g, w)
    elif type(want) in (float, np.float32) and math.isnan(want):
        assert math.isnan(got)
    elif type(want) is float and want == 0.0:
        assert got == 0.0 and math.copysign(1, got) == math.copysign(1, want)
    else:
        assert got == want, (got, want)


def check(expr, want):
    same(ev(expr), want)


def i64(xs):
    return np.array(xs, dtype=np.int64)


def f64(xs):
    return np.array(xs, dtype=np.float64)


def f32(xs):
    return np.array(xs, dtype=np.float32)


# -- scalar arithmetic ---------------------------------------------------------------

@pytest.mark.parametrize("expr, want", [
    ("(+ 1 2)", 3),
    ("(+ 1 2.5)", 3.5),
    ("(+ 1.5 2)", 3.5),
    ("(+ -0.0 -0.0)", -0.0),
    ("(- 10 3)", 7),
    ("(- 1.5 2)", -0.5),
    ("(- 3 10)", -7),
    ("(* 6 7)", 42),
    ("(* 2 0.25)", 0.5),
    ("(* -3 4)", -12),
    # i64 wraps around (two's complement)
    ("(+ 9223372036854775807 1)", I64_MIN),
    ("(- -9223372036854775808 1)", I64_MAX),
    ("(* 4611686018427387904 2)", I64_MIN),
    # 3037000500^2 = 9223372037000250000 = 2^64 - 9223372036709301616
    ("(* 3037000500 3037000500)", -9223372036709301616),
    ("(neg -9223372036854775808)", I64_MIN),
    ("(abs -9223372036854775808)", I64_MIN),
    # true division always gives f64
    ("(/ 7 2)", 3.5),
    ("(/ 6 3)", 2.0),
    ("(/ -1 4)", -0.25),
    ("(/ 1 4.0)", 0.25),
    # IEEE
    ("(/ 1.0 0.0)", INF),
    ("(/ -1.0 0.0)", -INF),
    ("(/ 1 0.0)", INF),
    ("(/ 0.0 0.0)", NAN),
    ("(+ Inf -Inf)", NAN),
    ("(* Inf 0.0)", NAN),
    # floor division and remainder: Python semantics (remainder has the divisor's sign)
    ("(// 7 2)", 3),
    ("(// -7 2)", -4),
    ("(// 7 -2)", -4),
    ("(// -7 -2)", 3),
    ("(% 7 3)", 1),
    ("(% -7 3)", 2),
    ("(% 7 -3)", -2),
    ("(% -7 -3)", -1),
    ("(// 7.5 2)", 3.0),
    ("(// -7.5 2)", -4.0),
    ("(% -7.5 2)", 0.5),
    ("(% 7.5 -2)", -0.5),
    ("(// 1.0 0.0)", INF),
    ("(% 1.0 0.0)", NAN),
    # power
    ("(** 2 10)", 1024),
    ("(** 2 0)", 1),
    ("(** 0 0)", 1),
    ("(** -3 3)", -27),
    ("(** 2 63)", I64_MIN),
    ("(** 2 64)", 0),
    # 3^40 = 12157665459056928801 = 2^64 - 6289078614652622815
    ("(** 3 40)", -6289078614652622815),
    ("(** 2.0 3)", 8.0),
    ("(** 2 -1.0)", 0.5),
    ("(** 4 0.5)", 2.0),
    ("(** 2.0 -2)", 0.25),
    ("(** -1.0 0.5)", NAN),
    ("(** 0.0 -1.0)", INF),
    ("(** 10.0 400)", INF),
    ("(** 10.0 -400)", 0.0),
    # negation and absolute value
    ("(neg 5)", -5),
    ("(neg -2.5)", 2.5),
    ("(neg 0.0)", -0.0),
    ("(abs -3)", 3),
    ("(abs 4)", 4),
    ("(abs -2.5)", 2.5),
])
def test_scalar_arithmetic(expr, want):
    check(expr, want)


@pytest.mark.parametrize("expr, msg", [
    ("(/ 1 0)", "integer division by zero"),
    ("(// 1 0)", "integer division by zero in //"),
    ("(% 5 0)", "integer division by zero in %"),
    ("(** 2 -1)", "integer to a negative integer power"),
])
def test_scalar_runtime_errors(expr, msg):
    with pytest.raises(SxRuntimeError, match=msg):
        ev(expr)


@pytest.mark.parametrize("expr, want", [
    ("(exp 0)", 1.0),
    ("(exp 1.0)", math.e),
    ("(exp 1000.0)", INF),
    ("(exp -1000.0)", 0.0),
    ("(log 1)", 0.0),
    ("(log 0.0)", -INF),
    ("(log -1.0)", NAN),
    ("(log Inf)", INF),
    ("(sqrt 16)", 4.0),
    ("(sqrt 0.25)", 0.5),
    ("(sqrt -1.0)", NAN),
    ("(sin 0.0)", 0.0),
    ("(cos 0)", 1.0),
    ("(tan 0.0)", 0.0),
    ("(tanh 0)", 0.0),
    ("(tanh Inf)", 1.0),
])
def test_unary_math_exact(expr, want):
    check(expr, want)


@pytest.mark.parametrize("expr, want", [
    ("(sin 1.0)", 0.8414709848078965),       # sin 1
    ("(cos 1.0)", 0.5403023058681398),       # cos 1
    ("(tan 1.0)", 1.5574077246549023),       # tan 1
    ("(tanh 0.5)", 0.46211715726000974),     # (e - 1) / (e + 1) with e = exp(1)
    ("(log 10)", 2.302585092994046),         # ln 10
    ("(sqrt 2)", 1.4142135623730951),
    ("(exp -1)", 0.36787944117144233),
])
def test_unary_math_approx(expr, want):
    got = ev(expr)
    assert type(got) is float
    assert got == pytest.approx(want, rel=1e-15)


# -- f32 and promotion ------------------------------------------------------------------

@pytest.mark.parametrize("expr, want", [
    ("(f32 1.5)", np.float32(1.5)),
    ("(f32 2)", np.float32(2.0)),
    ("(f32 1e300)", np.float32(INF)),
    ("(+ (f32 1.5) (f32 2.0))", np.float32(3.5)),
    ("(* (f32 1.5) 2)", np.float32(3.0)),
    ("(exp (f32 0.0))", np.float32(1.0)),
    ("(float (f32 0.5))", 0.5),
    ("(float 3)", 3.0),
    ("(float 2.5)", 2.5),
    ("(int 2.7)", 2),
    ("(int -2.7)", -2),
    ("(int 5)", 5),
    ("(int (f32 -3.5))", -3),
])
def test_casts(expr, want):
    check(expr, want)


def test_cast_arrays():
    check("(int (array [1.5 -1.5 2.0]))", i64([1, -1, 2]))
    check("(float (array [1 2]))", f64([1.0, 2.0]))
    check("(f32 (array [1.0 2.5]))", f32([1.0, 2.5]))
    check("(f32 (array [1 2]))", f32([1.0, 2.0]))


@pytest.mark.parametrize("expr", ["(int Inf)", "(int NaN)", "(int -Inf)"])
def test_int_of_non_finite(expr):
    with pytest.raises(SxRuntimeError, match="cannot convert"):
        ev(expr)


@pytest.mark.parametrize("expr", ["(int True)", "(f32 None)", "(f32 \"x\")",
                                  "(int [1])", "(float 'a)"])
def test_cast_type_errors(expr):
    with pytest.raises(SxTypeError):
        ev(expr)


# -- comparisons and logic ------------------------------------------------------------------

@pytest.mark.parametrize("expr, want", [
    ("(< 1 2)", True), ("(< 2 1)", False), ("(< 1 1)", False), ("(< 1 1.5)", True),
    ("(<= 1 1)", True), ("(<= 2 1.5)", False),
    ("(> 2.5 2)", True), ("(> 2 2)", False),
    ("(>= 2 2.0)", True), ("(>= 1 2)", False),
    ("(< NaN 1.0)", False), ("(>= NaN NaN)", False),
    ("(< 1 (f32 2.0))", True),
    ("(= 1 1)", True), ("(= 1 2)", False), ("(= 1 1.0)", True), ("(= NaN NaN)", False),
    ("(= [1 [2 3]] [1 [2 3]])", True), ("(= [1 [2 3]] [1 [2 4]])", False),
    ("(= [1 2] [1 2 3])", False), ("(= [] [])", True), ("(= [1 [2 3]] [1 [2 3.0]])", True),
    ("(= True 1)", False), ("(= True True)", True),
    ("(= None None)", True), ("(= None 0)", False),
    ("(= 'a 'a)", True), ("(= 'a 'b)", False), ("(= '(a [1]) '(a [1]))", True),
    ("(= \"x\" \"x\")", True), ("(= \"x\" \"y\")", False),
    ("(!= 1 2)", True), ("(!= 2 2)", False),
    ("(!= [1 2] [1 3])", True), ("(!= [1 2] [1 2])", False),
    ("(not True)", False), ("(not False)", True), ("(not (< 1 2))", False),
])
def test_comparisons(expr, want):
    check(expr, want)


def test_comparisons_on_arrays():
    check("(< (array [1 2 3]) 2)", np.array([True, False, False]))
    check("(>= (array [1 2 3]) (array [3 2 1]))", np.array([False, True, True]))
    check("(= (array [1 2]) (array [1 3]))", np.array([True, False]))
    check("(!= (array [1 2]) (array [1 3]))", np.array([False, True]))
    check("(not (< (array [1 2]) 2))", np.array([False, True]))


def test_record_equality():
    src = """(defrecord P [x y])
             (defn main [] [(= (P 1 [2]) (P 1 [2])) (= (P 1 2) (P 1 3)) (!= (P 1 2) (P 1 3))])"""
    same(run(src), (True, False, True))


# -- max, min, sum, mean ---------------------------------------------------------------------

A = "(array [[1 5 2] [4 0 6]])"


@pytest.mark.parametrize("expr, want", [
    ("(max 1 2)", 2), ("(max 3 3)", 3), ("(max 2 1.0)", 2.0), ("(min 1 2.0)", 1.0),
    ("(min -1 -2)", -2), ("(max NaN 1.0)", NAN), ("(min 1.0 NaN)", NAN),
    (f"(max {A})", 6), (f"(min {A})", 0),
    (f"(sum {A})", 18), (f"(mean {A})", 3.0),
    (f"(sum {A} :axis [0 1])", 18),
    ("(sum (array [0.5 0.25]))", 0.75),
    ("(max (array [1.0 NaN]))", NAN),
    ("(mean (array [1 2 3 4]))", 2.5),
])
def test_scalar_max_min_and_full_reductions(expr, want):
    check(expr, want)


@pytest.mark.parametrize("expr, want", [
    (f"(max {A} :axis 0)", i64([4, 5, 6])),
    (f"(max {A} :axis 1)", i64([5, 6])),
    (f"(max {A} :axis -1)", i64([5, 6])),
    (f"(max {A} :axis 1 :keepdims True)", i64([[5], [6]])),
    (f"(min {A} :axis 0)", i64([1, 0, 2])),
    (f"(min {A} :axis 1)", i64([1, 0])),
    (f"(min {A} :axis 0 :keepdims True)", i64([[1, 0, 2]])),
    (f"(sum {A} :axis 0)", i64([5, 5, 8])),
    (f"(sum {A} :axis 1)", i64([8, 10])),
    (f"(sum {A} :axis 0 :keepdims True)", i64([[5, 5, 8]])),
    (f"(sum {A} :axis [0 1] :keepdims True)", i64([[18]])),
    (f"(mean {A} :axis 0)", f64([2.5, 2.5, 4.0])),
    ("(mean (array [[1 2] [3 5]]) :axis 1)", f64([1.5, 4.0])),
    ("(max (array [1 5]) (array [3 2]))", i64([3, 5])),
    ("(min (array [[1] [5]]) (array [3 2]))", i64([[1, 1], [3, 2]])),
    ("(max (array [1.5 -2.0]) 0)", f64([1.5, 0.0])),
])
def test_axis_reductions_and_elementwise_max_min(expr, want):
    check(expr, want)


def test_ieee_edge_cases_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check("(mean (zeros [0]))", NAN)
        check("(f32 1e300)", np.float32(INF))
        check("(f32 (array [1e300]))", f32([INF]))
        check("(/ (array [1.0]) 0.0)", f64([INF]))
        check("(log (array [0.0]))", f64([-INF]))


def test_reductions_match_numpy():
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    for name, npfn in [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)]:
        for axis in [0, 1, 2, -1]:
            got = ev_args("x", f"({name} x :axis {axis})", x)
            np.testing.assert_allclose(got, npfn(x, axis=axis), rtol=1e-12)
        got = ev_args("x", f"({name} x :axis [0 2] :keepdims True)", x)
        assert got.shape == (1, 4, 1)
        np.testing.assert_allclose(got, npfn(x, axis=(0, 2), keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("expr, err, msg", [
    ("(max (zeros [0]))", SxRuntimeError, "max of an empty array"),
    ("(sum 3.0)", SxTypeError, "reduces an array"),
    ("(max 1.0 :axis 0)", SxTypeError, "reduces an array"),
    (f"(sum {A} :axis 2)", SxShapeError, "axis 2 out of range for an array of rank 2"),
    (f"(sum {A} :axis [0 0])", SxShapeError, "repeated axis"),
    (f"(mean {A} :axis 1.0)", SxTypeError, ":axis of mean must be an integer"),
    (f"(sum {A} :foo 1)", SxTypeError, "sum has no keyword argument :foo"),
    ("(max (ones [2]) (ones [2]) :axis 0)", SxTypeError, "max of two values takes no :axis"),
    ("(min 1 None)", SxTypeError, "min expects numbers or numeric arrays, got None"),
])
def test_reduction_errors(expr, err, msg):
    with pytest.raises(err, match=msg):
        ev(expr)


# -- elementwise on arrays, against numpy -------------------------------------------------------

RNG = np.random.default_rng(0)
XA = RNG.standard_normal((3, 1))
XB = RNG.standard_normal((4,))

BINARY = [("+", np.add), ("-", np.subtract), ("*", np.multiply), ("/", np.true_divide),
          ("max", np.maximum), ("min", np.minimum), ("<", np.less), ("<=", np.less_equal),
          (">", np.greater), (">=", np.greater_equal), ("=", np.equal), ("!=", np.not_equal)]


@pytest.mark.parametrize("op, npop", BINARY)
def test_binary_broadcasting_matches_numpy(op, npop):
    got = ev_args("a b", f"({op} a b)", XA, XB)
    want = npop(XA, XB)
    assert got.shape == (3, 4)
    same(got, want)


@pytest.mark.parametrize("op, npop", BINARY)
def test_binary_array_scalar_matches_numpy(op, npop):
    same(ev_args("a", f"({op} a 0.5)", XA), npop(XA, 0.5))
    same(ev_args("a", f"({op} 0.5 a)", XB), npop(0.5, XB))


def test_power_on_arrays_matches_numpy():
    base = np.abs(XA) + 0.5
    same(ev_args("a b", "(** a b)", base, XB), np.power(base, XB))
    same(ev_args("a", "(** a 2)", i64([2, 3, -4])), i64([4, 9, 16]))
    same(ev("(** 2.0 (array [1 2 3]))"), f64([2.0, 4.0, 8.0]))
    with pytest.raises(SxRuntimeError, match="negative integer power"):
        ev("(** (array [2 3]) -1)")


def test_integer_floor_division_and_remainder_on_arrays():
    a = i64([7, -7, 7, -7, 0])
    b = i64([2, 2, -2, -2, 3])
    same(ev_args("a b", "(// a b)", a, b), i64([3, -4, -4, 3, 0]))
    same(ev_args("a b", "(% a b)", a, b), i64([1, 1, -1, -1, 0]))
    same(ev_args("a b", "(// a b)", a, b), np.floor_divide(a, b))
    same(ev_args("a b", "(% a b)", a, b), np.mod(a, b))
    with pytest.raises(SxRuntimeError, match="integer division by zero"):
        ev_args("a", "(% a 0)", a)
    with pytest.raises(SxRuntimeError, match="integer division by zero"):
        ev("(/ (array [1 2]) (array [0 1]))")


def test_float_division_by_zero_on_arrays():
    same(ev("(/ (array [1.0 -1.0 0.0]) 0.0)"), f64([INF, -INF, NAN]))
    same(ev("(/ (array [1 2]) 0.0)"), f64([INF, INF]))


@pytest.mark.parametrize("name, npfn", [
    ("exp", np.exp), ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("tanh", np.tanh),
    ("neg", np.negative), ("abs", np.abs)])
def test_unary_on_arrays_matches_numpy(name, npfn):
    same(ev_args("a", f"({name} a)", XA), npfn(XA))


def test_log_sqrt_on_arrays():
    x = np.abs(XA) + 0.1
    same(ev_args("a", "(log a)", x), np.log(x))
    same(ev_args("a", "(sqrt a)", x), np.sqrt(x))
    same(ev("(sqrt (array [4 9]))"), f64([2.0, 3.0]))
    same(ev("(log (array [-1.0 0.0]))"), f64([NAN, -INF]))


def test_int_float_promotion_on_arrays():
    same(ev("(+ (array [1 2]) 0.5)"), f64([1.5, 2.5]))
    same(ev("(+ (array [1 2]) 1)"), i64([2, 3]))
    same(ev("(/ (array [1 2]) 2)"), f64([0.5, 1.0]))
    same(ev("(* (array [1 2]) (array [0.5 0.5]))"), f64([0.5, 1.0]))
    same(ev("(neg (array [1 -2]))"), i64([-1, 2]))


def test_f32_arrays_stay_f32():
    a = f32([1.0, 2.0])
    same(ev_args("a", "(+ a a)", a), f32([2.0, 4.0]))
    same(ev_args("a", "(* a 2.0)", a), f32([2.0, 4.0]))
    same(ev_args("a", "(exp a)", a), np.exp(a))
    same(ev_args("a", "(sum a)", a), np.float32(3.0))


# -- arrays -----------------------------------------------------------------------------------

def test_matmul_matches_numpy():
    a = RNG.standard_normal((2, 3))
    b = RNG.standard_normal((3, 4))
    same(ev_args("a b", "(@ a b)", a, b), np.matmul(a, b))
    v = RNG.standard_normal((3,))
    same(ev_args("a v", "(@ a v)", a, v), np.matmul(a, v))
    same(ev("(@ (array [1.0 2.0]) (array [3.0 4.0]))"), 11.0)
    same(ev("(@ (array [[1 2] [3 4]]) (array [[5 6] [7 8]]))"), i64([[19, 22], [43, 50]]))


def test_reshape():
    same(ev("(reshape (array [1 2 3 4 5 6]) [2 3])"), i64([[1, 2, 3], [4, 5, 6]]))
    same(ev("(reshape (array [1 2 3 4 5 6]) [3 -1])"), i64([[1, 2], [3, 4], [5, 6]]))
    same(ev("(reshape (array [[1 2] [3 4]]) 4)"), i64([1, 2, 3, 4]))
    same(ev("(reshape (array [[1 2] [3 4]]) [-1])"), i64([1, 2, 3, 4]))


def test_transpose():
    same(ev("(transpose (array [[1 2 3] [4 5 6]]))"), i64([[1, 4], [2, 5], [3, 6]]))
    x = RNG.standard_normal((2, 3, 4))
    same(ev_args("x", "(transpose x)", x), np.transpose(x))
    same(ev_args("x", "(transpose x :axes [1 0 2])", x), np.transpose(x, (1, 0, 2)))
    with pytest.raises(SxShapeError, match="not a permutation"):
        ev_args("x", "(transpose x :axes [0 0 1])", x)
    with pytest.raises(SxTypeError, match=":axes of transpose"):
        ev_args("x", "(transpose x :axes [1.0 0 2])", x)


def test_shape():
    same(ev("(shape (zeros [2 3]))"), (2, 3))
    same(ev("(shape (zeros []))"), ())
    same(ev("(shape (array [1 2 3]))"), (3,))
    with pytest.raises(SxTypeError, match="shape expects an array"):
        ev("(shape 1)")


@pytest.mark.parametrize("expr, want", [
    ("(zeros [2 3])", np.zeros((2, 3))),
    ("(zeros 3)", f64([0.0, 0.0, 0.0])),
    ("(zeros [2] :dtype :f32)", f32([0.0, 0.0])),
    ("(zeros [])", np.zeros(())),
    ("(ones [1 2])", f64([[1.0, 1.0]])),
    ("(ones [2] :dtype :i64)", i64([1, 1])),
    ("(ones [2] :dtype :f64)", f64([1.0, 1.0])),
    ("(full [2 2] 7)", i64([[7, 7], [7, 7]])),
    ("(full [2] 2.5)", f64([2.5, 2.5])),
    ("(full [3] 1.5 :dtype :f32)", f32([1.5, 1.5, 1.5])),
    ("(full [2] 2 :dtype :f64)", f64([2.0, 2.0])),
    ("(full [2] (f32 0.5))", f32([0.5, 0.5])),
    ("(array [[1 2] [3 4]])", i64([[1, 2], [3, 4]])),
    ("(array [1 2.5])", f64([1.0, 2.5])),
    ("(array [1 2] :dtype :f32)", f32([1.0, 2.0])),
    ("(array [3])", i64([3])),
])
def test_constructors(expr, want):
    check(expr, want)


@pytest.mark.parametrize("expr, err, msg", [
    ("(zeros [2] :dtype :i32)", SxTypeError, ":dtype of zeros must be :f64, :f32 or :i64"),
    ("(ones [2.5])", SxTypeError, "ones expects a shape"),
    ("(zeros [-1])", SxShapeError, "negative dimension"),
    ("(full [2] True)", SxTypeError, "expected a number, got bool"),
    ("(array [[1 2] [3]])", SxShapeError, "nested tuples of different lengths"),
    ("(array [])", SxTypeError, "at least one element"),
    ("(array [1 True])", SxTypeError, "array elements must be numbers"),
])
def test_constructor_errors(expr, err, msg):
    with pytest.raises(err, match=msg):
        ev(expr)


def test_where():
    check("(where (> (array [1 2 3]) 1) (array [10 20 30]) 0)", i64([0, 20, 30]))
    check("(where (> (array [[1] [3]]) 2) (array [1 2]) -1)", i64([[-1, -1], [1, 2]]))
    check("(where True 1.0 2.0)", 1.0)
    check("(where False 1 2)", 2)
    c = XB > 0
    same(ev_args("c a b", "(where c a b)", c, XA, XB), np.where(c, XA, XB))
    with pytest.raises(SxTypeError, match="where expects a bool array condition"):
        ev("(where 1 1 2)")


# -- tuples, arrays and forms as sequences ----------------------------------------------------------

@pytest.mark.parametrize("expr, want", [
    ("(tuple 1 2)", (1, 2)),
    ("(tuple)", ()),
    ("(tuple 1 [2.5 None])", (1, (2.5, None))),
    ("(get [10 20 30] 1)", 20),
    ("(get [10 20 30] -1)", 30),
    ("(get [[1 2] 3] 0)", (1, 2)),
    (f"(get {A} 1 2)", 6),
    (f"(get {A} -1 0)", 4),
    (f"(get {A} 1)", i64([4, 0, 6])),
    ("(get (array [1.5 2.5]) 1)", 2.5),
    ("(get '(a b c) 1)", Symbol("b")),
    ("(len [1 2 3])", 3),
    ("(len [])", 0),
    (f"(len {A})", 2),
    ("(len '(a b c))", 3),
    ("(len \"abcd\")", 4),
    ("(cut [1 2 3 4] 1 3)", (2, 3)),
    ("(cut [1 2 3 4] 1)", (2, 3, 4)),
    ("(cut [1 2 3 4] None 2)", (1, 2)),
    ("(cut [1 2 3 4] -1)", (4,)),
    ("(cut [1 2 3 4] 3 1)", ()),
    ("(cut (array [1 2 3 4]) 1 3)", i64([2, 3])),
    ("(concat [1] [2 3] [])", (1, 2, 3)),
    ("(concat [1 2])", (1, 2)),
])
def test_sequences(expr, want):
    check(expr, want)


def test_cut_and_concat_on_forms():
    got = ev("(cut '(a b c) 1)")
    assert type(got) is Form and got == myia_sx.loads("(b c)")
    got = ev("(concat '(a) '(b c))")
    assert type(got) is Form and got == myia_sx.loads("(a b c)")


def test_concat_arrays_matches_numpy():
    a = np.arange(4.0).reshape(2, 2)
    b = np.arange(2.0).reshape(1, 2)
    same(ev_args("a b", "(concat a b)", a, b), np.concatenate([a, b]))
    c = np.arange(6.0).reshape(2, 3)
    same(ev_args("a c", "(concat a c :axis 1)", a, c), np.concatenate([a, c], axis=1))
    same(ev_args("a c", "(concat a c :axis -1)", a, c), np.concatenate([a, c], axis=1))
    same(ev("(concat (array [1 2]) (array [3]))"), i64([1, 2, 3]))


@pytest.mark.parametrize("expr, err, msg", [
    ("(get [1 2] 2)", SxRuntimeError, "index 2 out of range for tuple of length 2"),
    ("(get [1 2] -3)", SxRuntimeError, "index -3 out of range"),
    (f"(get {A} 2 0)", SxRuntimeError, "index 2 out of range for axis 0 of an array of length 2"),
    ("(get [1 2] 0.0)", SxTypeError, "index must be an integer, got f64"),
    ("(get [1 2] True)", SxTypeError, "index must be an integer, got bool"),
    ("(get [1 2] 0 1)", SxTypeError, "get on a tuple takes one index"),
    (f"(get {A} 0 0 0)", SxShapeError, "3 indices for an array of rank 2"),
    ("(get 3 0)", SxTypeError, "get expects a tuple, array or form"),
    ("(len 3)", SxTypeError, "len expects a tuple, array or form"),
    ("(len (zeros []))", SxShapeError, "len of a rank-0 array"),
    ("(cut [1 2] 0.5)", SxTypeError, "cut bounds must be integers"),
    ("(cut 1 0)", SxTypeError, "cut expects a tuple, array or form"),
    ("(concat [1] (ones [2]))", SxTypeError, "concat expects all arrays, all tuples"),
    ("(concat (ones [2 2]) (ones [2 2]) :axis 2)", SxShapeError, "axis 2 out of range"),
])
def test_sequence_errors(expr, err, msg):
    with pytest.raises(err, match=msg):
        ev(expr)


# -- forms (for macros) -----------------------------------------------------------------------------

def test_first_rest_cons():
    same(ev("(first '(a b c))"), Symbol("a"))
    same(ev("(first [1 2])"), 1)
    got = ev("(rest '(a b c))")
    assert type(got) is Form and got == myia_sx.loads("(b c)")
    got = ev("(rest '[a b])")
    assert type(got) is Vec and got == myia_sx.loads("[b]")
    same(ev("(rest [1 2 3])"), (2, 3))
    same(ev("(rest [])"), ())
    got = ev("(cons 'z '(a b))")
    assert type(got) is Form and got == myia_sx.loads("(z a b)")
    got = ev("(cons 1 '[2])")
    assert type(got) is Vec and got == myia_sx.loads("[1 2]")
    same(ev("(cons 0 [1 2])"), (0, 1, 2))


def test_list_vector():
    got = ev("(list 'a 1 \"s\" (list))")
    assert type(got) is Form and got == myia_sx.loads('(a 1 "s" ())')
    got = ev("(vector 'a 1.5)")
    assert type(got) is Vec and got == myia_sx.loads("[a 1.5]")
    # forms built by list are ordinary data: take them apart again
    same(ev("(get (list 'f 2) 1)"), 2)


def test_symbols_and_names():
    same(ev("(symbol \"abc\")"), Symbol("abc"))
    same(ev("(name 'abc)"), "abc")
    same(ev("(name ':axis)"), "axis")
    same(ev("(name (symbol \"sum-tree\"))"), "sum-tree")
    same(ev("(= (symbol \"x\") 'x)"), True)


def test_gensym():
    a, b = ev("[(gensym) (gensym)]")
    assert type(a) is Symbol and type(b) is Symbol and a != b
    t = ev("(gensym \"tmp\")")
    assert t.name.startswith("tmp") and t.name != "tmp"
    v = ev("(gensym 'v)")
    assert v.name.startswith("v") and v.name != "v"
    same(ev("(symbol? (gensym))"), True)
    same(ev("(let [g (gensym)] (= g g))"), True)


def test_str():
    same(ev("(str \"dense\" '-apply)"), "dense-apply")
    same(ev("(str ':axis 1 2.5 True None)"), "axis12.5TrueNone")
    same(ev("(str)"), "")
    same(ev("(symbol (str 'make- 'point))"), Symbol("make-point"))


def test_concat_splices_tuples_into_forms():
    got = ev("(concat '(f a) [1 2] '[b])")
    assert type(got) is Form and got == myia_sx.loads("(f a 1 2 b)")


def test_syntax_error_raises_at_the_form():
    with pytest.raises(SxSyntaxError, match="bad input") as info:
        ev("(syntax-error \"bad input\" '(a b))")
    assert info.value.span is not None and info.value.span.col == 42   # the (a b)


def test_unhygienic_outside_a_macro():
    with pytest.raises(SxRuntimeError, match="only meaningful while a macro expands"):
        ev("(unhygienic 'recur)")


@pytest.mark.parametrize("expr, err, msg", [
    ("(str [1])", SxTypeError, "str expects strings, symbols, keywords or numbers"),
    ("(syntax-error 'x)", SxTypeError, "syntax-error expects a message string"),
    ("(unhygienic 1)", SxTypeError, "unhygienic expects a symbol"),
    ("(concat [1] '(a))", SxTypeError, "concat expects all arrays, all tuples or all forms"),
    ("(first [])", SxRuntimeError, "first of an empty sequence"),
    ("(first 'a)", SxTypeError, "first expects a form or tuple"),
    ("(rest 1)", SxTypeError, "rest expects a form or tuple"),
    ("(cons 1 2)", SxTypeError, "cons expects a form or tuple as argument 2"),
    ("(gensym 1)", SxTypeError, "gensym expects a string or symbol"),
    ("(symbol \"\")", SxTypeError, "symbol expects a non-empty string"),
    ("(symbol 'a)", SxTypeError, "symbol expects a non-empty string"),
    ("(name 1)", SxTypeError, "name expects a symbol or keyword"),
])
def test_form_function_errors(expr, err, msg):
    with pytest.raises(err, match=msg):
        ev(expr)


# -- differentiation helpers (myia_sx/ad.py) ---------------------------------------------

def test_sensitivity_arithmetic():
    same(ev("(%sens+ %zero 2.0)"), 2.0)
    same(ev("(%sens+ [1.0 %zero] [2.0 3.0])"), (3.0, 3.0))
    same(ev("(%sens-get %zero 1)"), ZERO)
    same(ev("(%sens-get [1.0 2.0] 1)"), 2.0)
    same(ev("(%sens-at [5 6 7] 1 2.0)"), (ZERO, 2.0, ZERO))
    same(ev("(%sens-at [5 6 7] 1 %zero)"), ZERO)
    with pytest.raises(SxTypeError, match="cannot add sensitivities"):
        ev("(%sens+ 1.0 \"s\")")


def test_gradients_have_the_arguments_types():
    same(ev("(%sens-out [1.0 2 True] %zero)"), (0.0, 0, False))
    same(ev("(%sens-out [1.0 2.0] [%zero 3.0])"), (0.0, 3.0))
    # integers and booleans carry no sensitivity, whatever flowed
    same(ev("(%sens-out (array [1 2]) (array [2.5 2.5]))"), np.zeros(2, dtype=np.int64))
    same(ev("(%sens-out (f32 1.0) 2.0)"), np.float32(2.0))
    same(ev("(%sens-out sin 1.0)"), None)


def test_zeros_of_every_type():
    same(ev("(%zeros-like [1.5 [2 (array [1.0 2.0])]])"), (0.0, (ZERO, np.zeros(2))))
    same(ev("(%zeros-like (array [1 2]))"), ZERO)
    same(ev("(%zeros-like (f32 2.0))"), np.float32(0.0))
    same(ev("(%sens-fill [%zero [%zero 1.0]] [1.5 [(array [1.0]) 2.0]])"),
         (0.0, (np.zeros(1), 1.0)))
    same(ev("(%sens-fill %zero 3)"), ZERO)
    same(ev("(%sens-fill 2.0 3.0)"), 2.0)
    # the zero of a tuple or a record has zero parts
    same(ev("(let [[a [b c]] %zero] [a b c (. %zero x)])"), (ZERO, ZERO, ZERO, ZERO))


def test_closures_as_tuples():
    # how a specialized program holds a closure it reads from a global: the
    # tuple of what the closure captured, closures in it flattened too
    src = """(defn adder [k] (fn [x] (+ x k)))
             (def add2 (adder 2.0))
             (defn twice [f] (fn [x] (f (f x))))
             (def add4 (twice add2))
             (defn main [] [(%closure-tuple add2) (%closure-tuple [1 add4]) (%closure-tuple 3)])"""
    same(run(src), ((2.0,), (1, ((2.0,),)), 3))


def test_record_sensitivities():
    src = """(defrecord P [a b])
             (defn main [] (let [s (%field-sens (P 1.0 2.0) 'b 5.0)]
                             [(. s a) (. s b) (%sens-field s 'b) (%sens-field %zero 'a)
                              (%field-sens (P 1.0 2.0) 'a %zero)]))"""
    same(run(src), (ZERO, 5.0, 5.0, ZERO, ZERO))
    with pytest.raises(SxTypeError, match="expects a field of P"):
        run("(defrecord P [a]) (defn main [] (%field-sens (P 1.0) 'z 1.0))")


def test_broadcast_helpers():
    same(ev("(unbroadcast (ones [2 3]) (zeros [3]))"), np.full(3, 2.0))
    same(ev("(unbroadcast (ones [2 3]) (zeros [2 1]))"), np.full((2, 1), 3.0))
    same(ev("(unbroadcast (ones [2 3]) 1.0)"), 6.0)
    same(ev("(unbroadcast (ones [2]) (zeros [2] :dtype :f32))"), np.ones(2, np.float32))
    same(ev("(unbroadcast (ones [2]) (zeros [2] :dtype :i64))"), ZERO)
    same(ev("(unbroadcast 1.0 3)"), ZERO)
    same(ev("(unbroadcast [1.0 2.0] [1.5 2])"), (1.0, ZERO))
    same(ev("(unreduce 2.0 (zeros [2]) None False)"), np.full(2, 2.0))
    same(ev("(unreduce (array [1.0 2.0]) (zeros [2 2]) 1 False)"),
         np.array([[1.0, 1.0], [2.0, 2.0]]))
    same(ev("(unreduce 2.0 (zeros [2] :dtype :i64) None False)"), ZERO)
    same(ev("(size (zeros [2 3]))"), 6)
    same(ev("(size 1.5)"), 1)


def test_indexing_and_splitting_helpers():
    same(ev("(sens-index (zeros [2 2]) [1 0] 3.0)"), np.array([[0.0, 0.0], [3.0, 0.0]]))
    same(ev("(sens-index (zeros [2 2]) [1 0] %zero)"), ZERO)
    same(ev("(get-at (array [[1.0 2.0] [3.0 4.0]]) [1 1])"), 4.0)
    same(ev("(to-tuple (array [[1.0 2.0] [3.0 4.0]]))"), ((1.0, 2.0), (3.0, 4.0)))
    a, b = ev("(split-like (array [1.0 2.0 3.0]) [(zeros [1]) (zeros [2])] 0)")
    same(a, np.array([1.0]))
    same(b, np.array([2.0, 3.0]))
    same(ev("(split-like (array [1.0 2.0]) [(zeros [1]) (zeros [1] :dtype :i64)] 0)"),
         (np.array([1.0]), ZERO))
    same(ev("(split-like [1 2 3] [[0] [0 0]] 0)"), ((1,), (2, 3)))
    same(ev("(join-like [%zero (array [5.0])] [(zeros [2]) (zeros [1])] 0)"),
         np.array([0.0, 0.0, 5.0]))


def test_sens_cut():
    same(ev("(sens-cut [1 2 3] 1 None [5.0 6.0])"), (ZERO, 5.0, 6.0))
    same(ev("(sens-cut (zeros [3]) 0 1 (array [4.0]))"), np.array([4.0, 0.0, 0.0]))
    same(ev("(sens-cut [1 2] 0 1 %zero)"), ZERO)


def test_buffers():
    src = """(defn main []
               (let [b (%buf-new) b1 (%buf-push b 1.0) b2 (%buf-push b1 2.0)
                     b3 (%buf-push b1 3.0)       ; pushing onto b1 again: b2 is unchanged
                     [r x] (%buf-pop b2) [r3 y] (%buf-pop b3)]
                 [(%buf-len b) (%buf-len b2) x y (%buf-len r) (get (%buf-pop r) 1)]))"""
    same(run(src), (0, 2, 2.0, 3.0, 1, 1.0))
    with pytest.raises(SxRuntimeError, match="%buf-pop of an empty buffer"):
        ev("(%buf-pop (%buf-new))")
    with pytest.raises(SxTypeError, match="%buf-push expects a buffer"):
        ev("(%buf-push 1.0 2.0)")
    total = ev("(let [b (%buf-push (%buf-push (%buf-new) 1.0) 2.0)] (%sens+ b b))")
    assert type(total) is Buffer and total.elements() == [2.0, 4.0]
    # the zero of a buffer of backpropagators: %zero elements
    zeros = ev("(let [z (%zeros-like (%buf-push (%buf-new) sin))] [z (%buf-push z 2.0)])")
    assert zeros[0].elements() == [ZERO] and zeros[1].elements() == [ZERO, 2.0]
    # popped, an element of it is the zero of the element it stands for
    # (a primitive's sensitivity: the empty tuple), of the others' type
    rest, last = ev("(%buf-pop (%zeros-like (%buf-push (%buf-new) sin)))")
    assert last == () and len(rest) == 0
    rest, last = ev("(%buf-pop (%zeros-like (%buf-push (%buf-new) [1.0 (ones [2])])))")
    same(last, (0.0, np.zeros(2)))


def test_structure_checks():
    same(ev("(%check-like [1.0 (zeros [2])] [%zero (ones [2])] \"x\")"), (ZERO, np.ones(2)))
    with pytest.raises(myia_sx.SxGradError, match="x must have the structure of tuple of 2"):
        ev("(%check-like [1.0 2.0] [1.0] \"x\")")
    same(ev("(%check-tuple [1 2] 2 \"p\")"), (1, 2))
    with pytest.raises(myia_sx.SxGradError, match="p must be a tuple of 3"):
        ev("(%check-tuple [1 2] 3 \"p\")")
    # where the structures differ is named
    with pytest.raises(myia_sx.SxGradError) as info:
        ev("(%check-like [1.0 [(zeros [2])]] [1.0 [[2.0]]] \"x\")")
    assert info.value.message == ("x must have the structure of tuple of 2: at [1][0], "
                                  "expected array f64[2], got tuple of 1")
    # what jvp and vjp give back holds no function
    same(ev("(%check-data [1.0 (ones [2])] None \"jvp\")"), (1.0, np.ones(2)))
    with pytest.raises(myia_sx.SxGradError) as info:
        ev("(%check-data [1.0 sin] None \"vjp\")")
    assert info.value.message == ("vjp needs a function whose output is numbers, arrays, "
                                  "tuples or records, got tuple of 2 with a function at [1] "
                                  "from the function")


def test_param_index():
    same(ev("(%param-index (fn [a b] a) ':b)"), 2)
    with pytest.raises(SxTypeError, match="has no parameter named c"):
        ev("(%param-index (fn [a b] a) ':c)")


def test_zero_sensitivity():
    same(ev("[(%zero? %zero) (%zero? 0.0) (%zero? None)]"), (True, False, False))


def test_grad_seed():
    same(ev("(%grad-seed 3.0 None)"), 1.0)
    same(ev("(%grad-seed (f32 3.0) None)"), np.float32(1.0))
    same(ev("(%grad-seed 3 None)"), ZERO)   # an integer output has no sensitivity
    with pytest.raises(myia_sx.SxGradError, match="output is a scalar"):
        ev("(%grad-seed [1.0] None)")


def test_j_and_makers():
    src = """(defn f [x] (* x x))
             (defn main []
               (let [[y bp] ((%J f) 3.0)
                     jf (%J f)]
                 [y (get (bp 1.0) 1) ((%grad jf) 3.0) ((%value-and-grad jf :wrt 0) 3.0)
                  (get ((%vjp jf) 3.0) 0) ((%jvp jf) [3.0] [1.0])
                  (get ((%J-shallow (%grad (%J jf))) 3.0) 0)]))"""
    same(run(src), (9.0, 6.0, 6.0, (9.0, 6.0), 9.0, (9.0, 6.0), 6.0))


# -- predicates --------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, want", [
    ("(tuple? [1 2])", True), ("(tuple? [])", True), ("(tuple? 1)", False),
    ("(tuple? (array [1]))", False), ("(tuple? '(a))", False),
    ("(array? (zeros [1]))", True), ("(array? (zeros []))", True), ("(array? [1])", False),
    ("(array? 1.0)", False),
    ("(number? 1)", True), ("(number? 1.5)", True), ("(number? (f32 1))", True),
    ("(number? True)", False), ("(number? (zeros []))", False), ("(number? None)", False),
    ("(bool? True)", True), ("(bool? (< 1 2))", True), ("(bool? 1)", False),
    ("(none? None)", True), ("(none? 0)", False), ("(none? [])", False),
    ("(function? +)", True), ("(function? (fn [x] x))", True), ("(function? 1)", False),
    ("(function? '+)", False),
    ("(symbol? 'a)", True), ("(symbol? \"a\")", False), ("(symbol? ':a)", False),
    ("(keyword? ':a)", True), ("(keyword? 'a)", False),
    ("(list? '(a b))", True), ("(list? '[a b])", False), ("(list? [1 2])", False),
    ("(vector? '[a b])", True), ("(vector? '(a))", False), ("(vector? [1])", False),
    ("(string? \"s\")", True), ("(string? 's)", False), ("(string? 1)", False),
])
def test_predicates(expr, want):
    check(expr, want)


def test_record_predicate():
    src = "(defrecord P [x]) (defn main [] [(record? (P 1)) (record? [1]) (function? P)])"
    same(run(src), (True, False, True))


def test_record_values_and_record_like():
    src = ("(defrecord P [x y]) (defrecord Q [x y]) "
           "(defn main [] (let [p (P 1 [2.0 3.0])] "
           "[(record-values p) (record-like p [4 5]) (record-like (Q 0 0) (record-values p))]))")
    m = myia_sx.load_string(src)
    values, p2, q = m.main()
    same(values, (1, (2.0, 3.0)))
    assert p2 == m.P(4, 5) and q == m.Q(1, (2.0, 3.0))
    for bad, message in (("(record-values [1 2])", "record-values expects a record, got tuple"),
                         ("(record-like (P 1 2) [1])", "record-like expects a tuple of 2 values "
                                                      "(the fields of P) as argument 2"),
                         ("(record-like [1 2] [1 2])", "record-like expects a record as "
                                                       "argument 1")):
        with pytest.raises(myia_sx.SxTypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
            run(f"(defrecord P [x y]) (defn main [] {bad})")


def test_arange_and_threefry():
    same(run("(defn main [] [(arange 4) (arange 0)])"), (np.arange(4), np.arange(0)))
    got = run("(defn main [] (threefry2x32 (array [0 0]) (array [0 0])))")
    assert got.tolist() == [0x6B200159, 0x99BA4EFE]
    with pytest.raises(myia_sx.SxShapeError, match="arange of a negative length"):
        run("(defn main [] (arange -1))")


def test_argmax():
    same(run("(defn main [] [(argmax (array [1 5 5 2])) "
             "(argmax (array [[1.0 9.0] [7.0 3.0]]) :axis -1) "
             "(argmax (array [[1.0 9.0] [7.0 3.0]]) :axis 0)])"),
         (1, np.array([1, 0]), np.array([1, 0])))
    with pytest.raises(SxRuntimeError, match="argmax of an empty array"):
        run("(defn main [] (argmax (zeros [0])))")


def test_conv2d_and_its_adjoints():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 5, 6, 3)), rng.normal(size=(3, 2, 3, 4))
    m = myia_sx.load_string("(defn c [x w] (conv2d x w)) (defn gx [d w x] (conv2d-grad-x d w x))"
                            " (defn gw [x d w] (conv2d-grad-w x d w))")
    y = m.c(x, w)
    want = np.zeros((2, 3, 5, 4))
    for n in range(2):
        for i in range(3):
            for j in range(5):
                want[n, i, j] = np.einsum("klc,klcf->f", x[n, i:i + 3, j:j + 2], w)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    # the adjoints: <conv(s, w), d> = <s, grad-x(d, w)>, <conv(x, t), d> = <t, grad-w(x, d)>
    d, s, t = rng.normal(size=y.shape), rng.normal(size=x.shape), rng.normal(size=w.shape)
    assert abs(np.sum(m.c(s, w) * d) - np.sum(s * m.gx(d, w, x))) < 1e-9
    assert abs(np.sum(m.c(x, t) * d) - np.sum(t * m.gw(x, d, w))) < 1e-9
    with pytest.raises(SxShapeError, match="channels must agree"):
        m.c(x, np.ones((3, 2, 2, 4)))
    with pytest.raises(myia_sx.SxTypeError, match="a float array of rank 4"):
        m.c(x, np.ones((3, 2)))


def test_keyword_values():
    same(ev("':axis"), Keyword("axis"))


# -- type errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, msg", [
    ("(+ True 1)", r"\+ expects numbers or numeric arrays, got bool as argument 1"),
    ("(+ 1 None)", "got None as argument 2"),
    ("(- \"a\" 1)", "got string as argument 1"),
    ("(* [1] 2)", "got tuple of 1 as argument 1"),
    ("(/ 1 'a)", "got symbol as argument 2"),
    ("(+ (> (array [1]) 0) 1)", "got array bool"),
    ("(@ 1.0 (ones [2]))", "@ expects an array as argument 1, got f64"),
    ("(@ (ones [2]) 1.0)", "@ expects an array as argument 2, got f64"),
    ("(< [1] [2])", "< compares numbers or arrays"),
    ("(< True 1)", "< compares numbers or arrays, got bool"),
    ("(= (array [1 2]) [1 2])", "= cannot compare"),
    ("(not 1)", "not expects a bool, got i64"),
    ("(neg True)", "neg expects numbers"),
    ("(abs None)", "abs expects numbers"),
    ("(exp \"a\")", "exp expects numbers"),
    ("(log [1])", "log expects numbers"),
    ("(sqrt None)", "sqrt expects numbers"),
    ("(sin True)", "sin expects numbers"),
    ("(cos None)", "cos expects numbers"),
    ("(tan [])", "tan expects numbers"),
    ("(tanh 'x)", "tanh expects numbers"),
    ("(reshape 1 [1])", "reshape expects an array"),
    ("(reshape (ones [2]) [2 \"a\"])", "reshape expects a shape tuple"),
    ("(transpose 1)", "transpose expects an array"),
    ("(max [1] 2)", "max expects numbers"),
    ("(min 1 None)", "min expects numbers"),
    ("(% True 2)", "% expects numbers"),
    ("(// 1 None)", "// expects numbers"),
    ("(** None 2)", r"\*\* expects numbers"),
])
def test_type_errors(expr, msg):
    with pytest.raises(SxTypeError, match=msg) as ei:
        ev(expr)
    assert (ei.value.span.line, ei.value.span.col) == (1, 15)


@pytest.mark.parametrize("expr, msg", [
    ("(neg 1 2)", "neg takes 1 argument, got 2"),
    ("(get [1])", "get takes at least 2 arguments, got 1"),
    ("(cut [1] 0 1 2)", "cut takes 1 to 3 arguments, got 4"),
    ("(where True 1)", "where takes 3 arguments, got 2"),
])
def test_arity_errors(expr, msg):
    with pytest.raises(SxTypeError, match=msg):
        ev(expr)
    # also when the primitive is called through a variable
    with pytest.raises(SxTypeError, match=msg):
        ev(f"(let [f {expr[1:].split()[0]}] (f {' '.join(expr[1:-1].split()[1:])}))")


def test_keyword_as_callee():
    with pytest.raises(SxSyntaxError, match="keyword"):
        ev("(:a 1)")


# -- shape errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("src, args, text", [
    ("(+ a b)", (np.ones(2), np.ones(3)), "(+ a b): (2,) + (3,)"),
    ("(- a b)", (np.ones((2, 3)), np.ones((2,))), "(- a b): (2, 3) - (2,)"),
    ("(* a b)", (np.ones((4,)), np.ones((3,))), "(* a b): (4,) * (3,)"),
    ("(/ a b)", (np.ones((2,)), np.ones((5,))), "(/ a b): (2,) / (5,)"),
    ("(max a b)", (np.ones((2,)), np.ones((3,))), "(max a b): (2,) max (3,)"),
    ("(< a b)", (np.ones((2,)), np.ones((3,))), "(< a b): (2,) < (3,)"),
    ("(= a b)", (np.ones((2,)), np.ones((3,))), "(= a b): (2,) = (3,)"),
    ("(@ a b)", (np.ones((2, 3)), np.ones((2, 3))), "(@ a b): (2, 3) @ (2, 3)"),
    ("(@ a b)", (np.ones((3,)), np.ones((4,))), "(@ a b): (3,) @ (4,)"),
    ("(reshape a [4 2])", (np.ones(6), None), "(reshape a [4 2]): cannot reshape (6,) to (4, 2)"),
    ("(concat a b)", (np.ones((2, 2)), np.ones((2, 3))), "(concat a b): (2, 2) ++ (2, 3)"),
    ("(where (> a 0) a b)", (np.ones(2), np.ones(3)), "(where (> a 0) a b): where (2,) (2,) (3,)"),
])
def test_shape_errors(src, args, text):
    with pytest.raises(SxShapeError) as ei:
        run(f"(defn main [a b]\n  {src})", *args)
    e = ei.value
    assert e.message == "shape mismatch in " + text
    assert (e.span.line, e.span.col) == (2, 3)
    assert e.headline() == "<string>:2:3: shape mismatch in " + text


def test_shape_error_shows_user_source_not_temporaries():
    # nested calls are named by later passes; the message quotes what the user wrote
    with pytest.raises(SxShapeError) as ei:
        ev("(+ (ones [2]) (ones [3]))")
    assert ei.value.message == "shape mismatch in (+ (ones [2]) (ones [3])): (2,) + (3,)"
    assert "%" not in str(ei.value)


# -- the table itself -----------------------------------------------------------------------------------

def test_every_primitive_has_a_docstring():
    missing = [name for name, p in PRIMS.items() if not p.doc.strip()]
    assert missing == []
    for name, p in PRIMS.items():
        assert p.name == name


def _names_in_sx_snippets():
    """Every symbol in a string constant of this file that reads as sx."""
    tree = ast.parse(Path(__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.replace("{A}", A)
            try:
                forms = myia_sx.read(text)
            except myia_sx.SxError:
                continue
            stack = list(forms)
            while stack:
                x = stack.pop()
                if type(x) in (Form, Vec):
                    stack.extend(x.items)
                elif type(x) is Symbol:
                    names.add(x.name)
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.Constant):
                    for tok in part.value.replace("(", " ").split():
                        names.add(tok)
    return names


def test_every_primitive_is_exercised():
    unexercised = sorted(set(PRIMS) - _names_in_sx_snippets())
    assert unexercised == [], f"primitives with no test: {unexercised}"
