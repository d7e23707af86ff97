"""The dtype promotion table (myia_sx.dtypes) and the primitives that follow it.

This file is the spec: the table is written out below, independently of the
module's data, and every primitive that computes a result dtype is run, both
directly (``PRIMS[name].impl``) and through a loaded module, on every
combination of the eight kinds of numeric values.  The results must not
depend on the installed numpy (1.26 and 2.x promote Python scalars
differently; the language follows numpy 2).

Bools are not numbers in the language: arithmetic, ordering comparisons,
math, reductions, ``@``, ``where`` branches, ``concat`` and ``full`` reject
bool values and bool arrays with a type error (tests/test_prims.py pins the
messages); equality takes them.  The table still has the bool rows, which
equality and later stages (type rules, code generators) use.
"""

import functools
import itertools

import numpy as np
import pytest

import myia_sx
from myia_sx import SxTypeError
from myia_sx.dtypes import (DTYPES, NUMPY, dtype_of, promote, reduction, true_divide,
                            unary_math)
from myia_sx.prims import PRIMS

# The eight kinds of numeric values: arrays of the four dtypes, then the
# Python scalars (weak) and the f32 scalar (strong).
KINDS = {
    "bool[]": np.array([[True, False], [True, True]]),
    "i64[]": np.array([[3, 2], [1, 4]], dtype=np.int64),
    "f32[]": np.array([[3.5, 2.0], [1.0, 4.25]], dtype=np.float32),
    "f64[]": np.array([[3.5, 2.0], [1.0, 4.25]], dtype=np.float64),
    "int": 2,
    "float": 2.5,
    "bool": True,
    "f32": np.float32(1.5),
}
ARRAYS = ["bool[]", "i64[]", "f32[]", "f64[]"]
# Python scalars too large for the other operand's dtype: numpy 1.x promoted
# by value (an f32 array with 1e300 gave f64), numpy 2 and the language do not.
LARGE = dict(KINDS, int=2 ** 40, float=1e300)
VALUES = pytest.mark.parametrize("values", [KINDS, LARGE], ids=["small", "large"])

# The dtype of binary arithmetic on a value of the row's kind and one of the column's.
PROMOTION = """
         bool[]  i64[]  f32[]  f64[]  int   float  bool  f32
bool[]   bool    i64    f32    f64    i64   f64    bool  f32
i64[]    i64     i64    f64    f64    i64   f64    i64   f64
f32[]    f32     f64    f32    f64    f32   f32    f32   f32
f64[]    f64     f64    f64    f64    f64   f64    f64   f64
int      i64     i64    f32    f64    i64   f64    i64   f32
float    f64     f64    f32    f64    f64   f64    f64   f32
bool     bool    i64    f32    f64    i64   f64    bool  f32
f32      f32     f64    f32    f64    f32   f32    f32   f32
"""


def _grid(text):
    header, *rows = [line.split() for line in text.strip().splitlines()]
    return {(row[0], col): cell for row in rows for col, cell in zip(header, row[1:])}


SPEC = _grid(PROMOTION)
PAIRS = list(itertools.product(KINDS, KINDS))

# true division and unary math compute in a float dtype
FLOAT = {"bool": "f64", "i64": "f64", "f32": "f32", "f64": "f64"}
# input array dtype -> result dtype of each reduction
REDUCTIONS = {
    "sum": {"bool": "i64", "i64": "i64", "f32": "f32", "f64": "f64"},
    "mean": {"bool": "f64", "i64": "f64", "f32": "f32", "f64": "f64"},
    "max": {"bool": "bool", "i64": "i64", "f32": "f32", "f64": "f64"},
    "min": {"bool": "bool", "i64": "i64", "f32": "f32", "f64": "f64"},
}
WEAK = {"int": "i64", "float": "f64", "bool": "bool"}


def is_bool(kind):
    return kind in ("bool", "bool[]")


# -- the table ---------------------------------------------------------------------------------

def test_spec_is_symmetric():
    assert all(SPEC[a, b] == SPEC[b, a] for a, b in PAIRS)


@pytest.mark.parametrize("kind", KINDS)
def test_dtype_of(kind):
    name = kind[:-2] if kind in ARRAYS else WEAK.get(kind, kind)
    assert dtype_of(KINDS[kind]) == (name, kind in WEAK)


def test_dtype_of_rejects_other_values():
    for v in (None, "a", (1,), np.array([1], dtype=np.int32)):
        with pytest.raises(TypeError):
            dtype_of(v)


@pytest.mark.parametrize("a, b", PAIRS)
def test_promote(a, b):
    assert promote(dtype_of(KINDS[a]), dtype_of(KINDS[b])) == SPEC[a, b]


@pytest.mark.parametrize("a, b", PAIRS)
def test_true_divide(a, b):
    assert true_divide(dtype_of(KINDS[a]), dtype_of(KINDS[b])) == FLOAT[SPEC[a, b]]


@pytest.mark.parametrize("kind, want", [
    ("bool[]", "f64"), ("i64[]", "f64"), ("f32[]", "f32"), ("f64[]", "f64"),
    ("int", "f64"), ("float", "f64"), ("bool", "f64"), ("f32", "f32")])
def test_unary_math(kind, want):
    assert unary_math(dtype_of(KINDS[kind])) == want


@pytest.mark.parametrize("op", REDUCTIONS)
def test_reduction(op):
    for kind in ARRAYS:
        d = kind[:-2]
        assert reduction(op, dtype_of(KINDS[kind])) == REDUCTIONS[op][d]


def test_promote_many():
    """concat promotes all its pieces: strong with strong, weak with weak, then
    the weak result with the strong one, whatever the order."""
    for kinds, want in [
            (("bool[]", "i64[]", "f32[]"), "f64"), (("bool[]", "f32[]", "f32[]"), "f32"),
            (("bool[]", "bool[]", "bool[]"), "bool"), (("i64[]", "i64[]"), "i64"),
            (("bool[]", "int", "f32[]"), "f32"), (("int", "float", "f32[]"), "f32"),
            (("bool", "int", "bool[]"), "i64"), (("int", "float", "bool"), "f64"),
            (("bool", "bool"), "bool"), (("f32", "float", "i64[]"), "f64"),
            (("i64[]",), "i64"), (("float",), "f64")]:
        for perm in itertools.permutations(kinds):
            assert promote(*(dtype_of(KINDS[k]) for k in perm)) == want, perm
    for kinds in itertools.product(ARRAYS, repeat=3):
        want = SPEC[SPEC[kinds[0], kinds[1]] + "[]", kinds[2]]
        assert promote(*(dtype_of(KINDS[k]) for k in kinds)) == want, kinds


def test_numpy_names():
    assert DTYPES == ("bool", "i64", "f32", "f64")
    assert [NUMPY[d] for d in DTYPES] == [np.dtype(np.bool_), np.dtype(np.int64),
                                          np.dtype(np.float32), np.dtype(np.float64)]


NUMPY_2 = pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0",
                             reason="numpy 1.x promotes Python scalars by value")


@NUMPY_2
@pytest.mark.parametrize("a, b", PAIRS)
def test_numpy_2_agrees(a, b):
    assert np.result_type(KINDS[a], KINDS[b]) == NUMPY[SPEC[a, b]]


@NUMPY_2
def test_numpy_2_agrees_on_many():
    for kinds in itertools.product(KINDS, repeat=3):
        values = [KINDS[k] for k in kinds]
        assert NUMPY[promote(*map(dtype_of, values))] == np.result_type(*values), kinds


# -- running the primitives -----------------------------------------------------------------------

ARRAY_NAMES = {np.dtype(np.bool_): "bool", np.dtype(np.int64): "i64",
               np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
SCALAR_NAMES = {bool: "bool", int: "i64", float: "f64", np.float32: "f32"}


def result_kind(v):
    """``(is an array, dtype name)`` of a primitive's result."""
    if type(v) is np.ndarray:
        return True, ARRAY_NAMES[v.dtype]
    return False, SCALAR_NAMES[type(v)]


@functools.cache
def module_main(call):
    """``main`` of a module whose main takes a b c and returns ``call``."""
    return myia_sx.load_string(f"(defn main [a b c] {call})").main


def outcomes(name, call, *args, **kwargs):
    """The result kind (or TypeError) of primitive ``name`` on ``args`` (and
    keyword arguments ``kwargs``), run directly and as ``call`` in a module
    (both must agree)."""
    got = []
    for run in (lambda: PRIMS[name].impl(*args, **kwargs),
                lambda: module_main(call)(*args, *[None] * (3 - len(args)))):
        try:
            got.append(result_kind(run()))
        except SxTypeError:
            got.append(TypeError)
    assert got[0] == got[1], (name, args, got)
    return got[0]


def check_all(cases):
    """cases: (label, got, want) triples; one failure lists every mismatch."""
    bad = [f"{label}: got {got}, want {want}" for label, got, want in cases if got != want]
    assert not bad, "\n".join(bad)


def binary_cases(name, values, want_dtype, rejects_bool=True):
    for a, b in PAIRS:
        if rejects_bool and (is_bool(a) or is_bool(b)):
            want = TypeError
        else:
            want = (a in ARRAYS or b in ARRAYS, want_dtype(SPEC[a, b]))
        yield f"({name} {a} {b})", outcomes(name, f"({name} a b)", values[a], values[b]), want


@VALUES
@pytest.mark.parametrize("name", ["+", "-", "*", "//", "%", "**", "max", "min"])
def test_arithmetic(name, values):
    check_all(binary_cases(name, values, lambda d: d))


@VALUES
def test_true_division(values):
    check_all(binary_cases("/", values, FLOAT.get))


@VALUES
@pytest.mark.parametrize("name", ["<", "<=", ">", ">="])
def test_ordering(name, values):
    check_all(binary_cases(name, values, lambda d: "bool"))


@VALUES
@pytest.mark.parametrize("name", ["=", "!="])
def test_equality(name, values):
    check_all(binary_cases(name, values, lambda d: "bool", rejects_bool=False))


@VALUES
@pytest.mark.parametrize("cond", [np.array([[True, False], [False, True]]), False])
def test_where(cond, values):
    cases = []
    for a, b in PAIRS:
        if is_bool(a) or is_bool(b):
            want = TypeError
        else:
            want = (type(cond) is np.ndarray or a in ARRAYS or b in ARRAYS, SPEC[a, b])
        got = outcomes("where", "(where a b c)", cond, values[a], values[b])
        cases.append((f"(where c {a} {b})", got, want))
    check_all(cases)


def test_matmul():
    cases = []
    for a, b in PAIRS:
        if is_bool(a) or is_bool(b) or a not in ARRAYS or b not in ARRAYS:
            want = TypeError
        else:
            want = (True, SPEC[a, b])
        cases.append((f"(@ {a} {b})", outcomes("@", "(@ a b)", KINDS[a], KINDS[b]), want))
    check_all(cases)


def test_concat():
    cases = []
    for kinds in itertools.product(ARRAYS, repeat=3):
        if any(map(is_bool, kinds)):
            want = TypeError
        else:
            want = (True, SPEC[SPEC[kinds[0], kinds[1]] + "[]", kinds[2]])
        got = outcomes("concat", "(concat a b c)", *(KINDS[k] for k in kinds))
        cases.append((f"(concat {' '.join(kinds)})", got, want))
    for a, b in itertools.product(ARRAYS, repeat=2):
        want = TypeError if is_bool(a) or is_bool(b) else (True, SPEC[a, b])
        cases.append((f"(concat {a} {b})", outcomes("concat", "(concat a b)", KINDS[a], KINDS[b]),
                      want))
    check_all(cases)


@VALUES
@pytest.mark.parametrize("name", ["exp", "log", "sin", "cos", "tan", "tanh", "sqrt"])
def test_unary_math_prims(name, values):
    cases = []
    for k, v in values.items():
        want = TypeError if is_bool(k) else (k in ARRAYS, FLOAT[dtype_of(v)[0]])
        cases.append((f"({name} {k})", outcomes(name, f"({name} a)", v), want))
    check_all(cases)


@pytest.mark.parametrize("name", ["neg", "abs"])
def test_sign_keeps_the_dtype(name):
    cases = []
    for k, v in KINDS.items():
        want = TypeError if is_bool(k) else (k in ARRAYS, dtype_of(v)[0])
        cases.append((f"({name} {k})", outcomes(name, f"({name} a)", v), want))
    check_all(cases)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions(name):
    cases = []
    for k, v in KINDS.items():
        if is_bool(k) or k not in ARRAYS:
            whole = by_axis = TypeError
        else:
            d = REDUCTIONS[name][k[:-2]]
            whole, by_axis = (False, d), (True, d)
        cases.append((f"({name} {k})", outcomes(name, f"({name} a)", v), whole))
        cases.append((f"({name} {k} :axis 0)",
                      outcomes(name, f"({name} a :axis 0)", v, axis=0), by_axis))
    check_all(cases)


@VALUES
def test_full(values):
    cases = []
    for k in ["int", "float", "bool", "f32"]:
        want = TypeError if is_bool(k) else (True, WEAK.get(k, k))
        cases.append((f"(full [2] {k})", outcomes("full", "(full a b)", (2,), values[k]), want))
    check_all(cases)


def run(expr):
    return myia_sx.load_string(f"(defn main [] {expr})").main()


def same(got, want):
    """Same type (and dtype), same value."""
    assert type(got) is type(want), (got, want)
    if type(want) is np.ndarray:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("expr, want", [
    # a weak Python float is cast to f32 before the operation
    ("(+ (f32 1.0) 1e-8)", np.float32(1.0)),
    ("(* (f32 (array [1.0 2.0])) 1e300)", np.array([np.inf, np.inf], dtype=np.float32)),
    ("(where (< (array [1 2]) 2) (f32 (array [1.0 2.0])) 1e300)",
     np.array([1.0, np.inf], dtype=np.float32)),
    ("(/ (f32 1.0) 3)", np.float32(1.0) / np.float32(3.0)),
    # comparisons happen in the promoted dtype: f32 with a Python float in f32 ...
    ("(= (f32 0.1) 0.1)", True),
    ("(!= (f32 0.1) 0.1)", False),
    ("(> (f32 0.1) 0.1)", False),
    ("(= (f32 (array [0.1])) 0.1)", np.array([True])),
    # ... i64 with f32 in f64 (16777217 is not an f32)
    ("(> (array [16777217]) (f32 16777216.0))", np.array([True])),
    ("(= (array [16777217]) (f32 16777216.0))", np.array([False])),
    # i64 @ f32 computes in f64
    ("(@ (array [[16777217]]) (f32 (array [[1.0]])))", np.array([[16777217.0]])),
    ("(concat (array [16777217]) (f32 (array [0.5])))", np.array([16777217.0, 0.5])),
    ("(mean (array [1 2]))", 1.5),
    ("(sum (f32 (array [0.5 0.25])))", np.float32(0.75)),
    # rank-0 arrays give scalars
    ("(neg (zeros []))", -0.0),
    ("(abs (zeros [] :dtype :i64))", 0),
    ("(+ (zeros [] :dtype :f32) 1)", np.float32(1.0)),
])
def test_values(expr, want):
    same(run(expr), want)
