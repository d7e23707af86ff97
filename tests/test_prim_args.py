"""Every primitive, called with wrong kinds of arguments, either works or
raises a located :class:`SxError`: never a raw Python exception, never an
internal error.

The calls go through the interpreter (a module of functions that call each
primitive by name, loaded with ``load_string``), so spans are attached as
for user code.  The values cover every kind the language has: strings, None,
bools, integers at the ends of i64, IEEE specials, f32, tuples (nested,
mixed), records, forms, symbols, keywords, buffers, the zero sensitivity,
arrays of every dtype and rank (0-d and empty ones included), functions,
primitives and record constructors.
"""

import itertools
import random

import pytest

import myia_sx
from myia_sx import SxError
from myia_sx.prims import PRIMS, Prim

VALUES = [
    '""', '"s"', "None", "True", "False", "0", "1", "-1", "2",
    "9223372036854775807", "-9223372036854775808", "2.5", "-0.0", "NaN", "Inf",
    "(f32 1.5)", "[]", "[1 2]", "[[1 2] [3 4]]", '[1.0 "s"]', "[(array [1.0]) 2.0]",
    "[(array [1.0]) (array [2.0 3.0])]", "[[1.0] [2.0 3.0]]",
    "(R 1.0)", "(Q 1 (R 2.0))", "'(a b)", "'x", ":k", ":axis", "'[a 1]", "'()",
    "(%buf-new)", "(%buf-push (%buf-new) 1.0)", "%zero",
    "(array [1.0 2.0])", "(array [[1 2] [3 4]])", "(> (array [1.0 0.0]) 0.5)",
    "(f32 (array [1.0 -2.0]))", "(zeros [])", "(zeros [0])", "(zeros [2 0 3])",
    "(fn [x] x)", "(fn [] 1.0)", "+", "R",
]

# The values tried in every position of calls of three or more arguments
# (the full product would be too long to run).
SMALL = ['"s"', "None", "True", "1", "-1", "9223372036854775807", "2.5", "[1 2]",
         "(R 1.0)", "'(a b)", "'x", "(%buf-new)", "%zero", "(array [1.0 2.0])",
         "(array [[1 2] [3 4]])", "(zeros [])", "(fn [x] x)",
         "[(array [1.0]) (array [2.0 3.0])]", "[[1.0] [2.0 3.0]]"]

HEADER = f"""
(defrecord R [a])
(defrecord Q [a b])
(def vals [{" ".join(VALUES)}])
"""

PRIM_NAMES = sorted(n for n, p in PRIMS.items() if type(p) is Prim)


def _arities(p):
    hi = p.max_args if p.max_args is not None else p.min_args + 2
    return range(p.min_args, hi + 1)


def _fn(name, k):
    ps = " ".join(f"i{j}" for j in range(k))
    args = " ".join(f"(get vals i{j})" for j in range(k))
    return f"(defn {name} [{ps}] ({{prim}} {args}))"


def _module(prim_name):
    p = PRIMS[prim_name]
    parts = [HEADER]
    for k in _arities(p):
        parts.append(_fn(f"call{k}", k).format(prim=prim_name))
    positional = " (get vals i)" * max(p.min_args, 1)
    for kw in p.kwargs:
        parts.append(f"(defn kw-{kw} [i j] ({prim_name}{positional} :{kw} (get vals j)))")
    parts.append(f"(defn bad-kw [i] ({prim_name}{positional} :nope 1))")
    parts.append(f"(def the-prim {prim_name})")
    parts.append("(defn dyn [f args] (if (= (len args) 0) (f) (if (= (len args) 1) "
                 "(f (get args 0)) (if (= (len args) 2) (f (get args 0) (get args 1)) "
                 "(if (= (len args) 3) (f (get args 0) (get args 1) (get args 2)) "
                 "(f (get args 0) (get args 1) (get args 2) (get args 3)))))))")
    return myia_sx.load_string("\n".join(parts), filename=f"<{prim_name}>")


def _call(fn, args, failures, label):
    try:
        fn(*args)
    except SxError as e:
        if e.span is None:
            failures.append(f"{label}: unlocated {type(e).__name__}: {e.message}")
    except Exception as e:   # noqa: BLE001 (what the test looks for)
        failures.append(f"{label}: {type(e).__name__}: {e}")


def _index_sets(k):
    """Every combination of values for up to two arguments; for more, every
    combination of the SMALL ones and a fixed sample of all the others."""
    if k <= 2:
        return itertools.product(range(len(VALUES)), repeat=k)
    small = [VALUES.index(v) for v in SMALL]
    rng = random.Random(k)
    sample = [tuple(rng.randrange(len(VALUES)) for _ in range(k)) for _ in range(3000)]
    return itertools.chain(itertools.product(small, repeat=k), sample)


def _show(idx):
    return " ".join(VALUES[i] for i in idx)


@pytest.mark.parametrize("name", PRIM_NAMES)
def test_primitive_rejects_bad_arguments_with_located_errors(name):
    m = _module(name)
    p = PRIMS[name]
    failures = []
    for k in _arities(p):
        fn = m[f"call{k}"]
        for idx in _index_sets(k):
            _call(fn, idx, failures, f"({name} {_show(idx)})")
    small = [VALUES.index(v) for v in SMALL]
    for kw in p.kwargs:
        fn = m[f"kw-{kw}"]
        for i in small:
            for j in range(len(VALUES)):
                _call(fn, (i, j), failures, f"({name} {VALUES[i]} :{kw} {VALUES[j]})")
    _call(m["bad-kw"], (0,), failures, f"({name} ... :nope 1)")
    # wrong arities, called dynamically (statically they do not compile)
    dyn = m["dyn"]
    for k in range(5):
        if k in _arities(p):
            continue
        _call(dyn, (m["the-prim"], tuple(range(1, k + 1))), failures, f"({name} ×{k})")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"


@pytest.mark.parametrize("k", [0, 1, 3])
def test_wrong_arity_of_a_primitive_is_a_located_compile_error(k):
    with pytest.raises(myia_sx.SxTypeError, match="takes 2 arguments") as e:
        myia_sx.load_string("(defn f [] (get-at" + " 1" * k + "))")
    assert e.value.span is not None


@pytest.mark.parametrize("src, message", [
    ('(get-at "s" 1.0)', "get-at expects an index tuple, got f64"),
    ("(get-at 1 10)", "get-at expects an index tuple, got i64"),
    ('(get-at "s" [1])', "get expects a tuple, array or form, got string"),
    ('(%sens+ "" 1)', "cannot add sensitivities string and i64"),
    ("(%zero 1)", "cannot call a value of type zero"),
    ("(sum (array [1.0]) :keepdims 1)", ":keepdims of sum must be True or False, got i64"),
    ("(zeros [2] :dtype (array [1.0]))", ":dtype of zeros must be :f64, :f32 or :i64"),
    ("(cut (zeros []) 0 1)", "cut of a rank-0 array"),
    ('(syntax-error "no")', "no"),
])
def test_reported_cases(src, message):
    m = myia_sx.load_string(f"(defn main []\n  {src})", filename="m.sx")
    with pytest.raises(SxError, match=message) as e:
        m.main()
    assert str(e.value).startswith("m.sx:2:3: ")
