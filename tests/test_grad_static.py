"""What the differentiate pass writes is a static program a compiler can take
(docs/grad.md, "What the output is"): Lanf with unique binders, no names in
data, %J only on values that arrive from outside, loops that run in constant
stack to any order, integers without sensitivities, and gradient functions
that take keyword arguments like the function they differentiate."""

import math
import textwrap

import numpy as np
import pytest

import myia_sx
from myia_sx import core, interp, library, pipeline
from myia_sx.forms import Form, Symbol, Vec, head_name
from myia_sx.reader import read, read_file

from conftest import PROGRAMS, same
from test_golden import expected_value
from test_golden import same as close

GRAD_PROGRAMS = sorted(p for p in PROGRAMS.glob("*.sx") if "(grad" in p.read_text()
                       or "(jvp" in p.read_text() or "(vjp" in p.read_text())


def load(src):
    return myia_sx.load_string(textwrap.dedent(src))


def differentiated(forms):
    return pipeline.compile_module(forms, library.context(), "differentiate")


def run_main(module):
    env = library.new_env()
    library.load_module(env, module)
    return interp.run(env.globals["main"], ())


def symbols(x):
    stack, out = [x], []
    while stack:
        y = stack.pop()
        if type(y) is Symbol:
            out.append(y)
        elif type(y) in (Form, Vec) and head_name(y) != "quote":
            stack.extend(y.items)
    return out


def binders(module):
    """``(params, others)``: the local binders of a module, function
    parameters and let or letrec names."""
    params, others = set(), set()
    stack = list(module)
    while stack:
        y = stack.pop()
        if type(y) not in (Form, Vec) or head_name(y) == "quote":
            continue
        h = head_name(y)
        if h == "fn":
            params |= {s.name for s in symbols(y.items[1])}
        elif h in ("let", "letrec"):
            items = y.items[1].items
            others |= {s.name for i in range(0, len(items), 2) for s in symbols(items[i])}
        stack.extend(y.items)
    return params, others - params


def renamed(x, mapping):
    if type(x) is Symbol:
        return Symbol(mapping.get(x.name, x.name), x.span)
    if type(x) in (Form, Vec) and head_name(x) not in ("quote", "defrecord"):
        keep = 2 if head_name(x) == "." else len(x.items)   # field names are not variables
        return type(x)([renamed(i, mapping) if k < keep else i
                        for k, i in enumerate(x.items)], x.span)
    return x


def test_there_are_programs_that_differentiate():
    assert len(GRAD_PROGRAMS) >= 4


@pytest.mark.parametrize("path", GRAD_PROGRAMS, ids=lambda p: p.stem)
def test_renaming_every_binder_keeps_the_results(path):
    # no variable name is data: renaming every binder of the differentiated
    # program, in an order that reverses their sorted order, changes nothing
    # (a parameter keeps the name callers give its keyword argument)
    module = differentiated(read_file(path))
    params, others = binders(module)
    names = sorted(params | others)
    mapping = {n: (f"{core.user_name(n)}%{len(names) - i}" if n in params
                   else f"v{len(names) - i:05d}") for i, n in enumerate(names)}
    assert len(set(mapping.values())) == len(names)
    assert close(run_main(tuple(renamed(f, mapping) for f in module)), expected_value(path))


def j_applications(module):
    """The names ``%J`` is applied to in ``module``, and the names of the
    values that arrive from outside: parameters, what a pattern takes from
    the result of a call of a function, and what is made of those by ``%J``
    itself or by the check of a gradient function's arguments."""
    applied, defs = [], {}
    params = binders(module)[0]
    stack = list(module)
    while stack:
        y = stack.pop()
        if type(y) in (Form, Vec) and head_name(y) != "quote":
            if head_name(y) in ("%J", "%J-shallow"):
                applied.append(y.items[1].name)
            if head_name(y) == "let":
                items = y.items[1].items
                for p, c in zip(items[::2], items[1::2]):
                    for v in symbols(p):
                        defs[v.name] = (p, c)
            stack.extend(y.items)

    def outside(name, seen=()):
        if name in params:
            return True
        if name not in defs or name in seen:
            return False
        p, c = defs[name]
        if type(c) is not Form or type(c.items[0]) is not Symbol:
            return False
        h = c.items[0].name
        if not h.startswith("%"):
            return type(p) is Vec   # taken apart from the result of a call
        return h in ("%J", "%check-tuple") and type(c.items[1]) is Symbol and \
            outside(c.items[1].name, seen + (name,))
    return applied, {a for a in applied if outside(a)}


@pytest.mark.parametrize("path", GRAD_PROGRAMS, ids=lambda p: p.stem)
def test_J_is_left_only_on_parameters(path):
    # these programs differentiate only functions the compiler sees: what is
    # left is the gradient functions taking their arguments (which may be
    # functions) into the J world
    module = differentiated(read_file(path))
    applied, outside = j_applications(module)
    assert set(applied) <= outside
    assert not any(s.name in ("%grad", "%value-and-grad", "%vjp", "%jvp")
                   for f in module for s in symbols(f))


def test_J_stays_on_what_arrives_from_outside():
    module = differentiated(read("""
        (defn d [f x] ((grad f) x))
        (defn sq [x] (* x x))
        (defn main [] [(d sq 3.0) ((grad sq) 3.0) ((grad sigmoid) 0.0)])"""))
    applied, outside = j_applications(module)
    assert "f" in applied and set(applied) <= outside


def test_the_rules_and_library_functions_are_named_not_looked_up():
    module = differentiated(read("(defn f [x] (sigmoid (* x x))) (defn main [] ((grad f) 1.0))"))
    names = {s.name for f in module for s in symbols(f)}
    assert {"sigmoid%J", "%d/*"} <= names
    # and the module runs where they are not defined yet: they are made on demand
    x = 1.0
    s = 1 / (1 + math.exp(-x * x))
    np.testing.assert_allclose(run_main(module), s * (1 - s) * 2 * x)


# -- loops ---------------------------------------------------------------------------------

LOOP = """
(defn f [x n] (loop [i 0 acc 0.0] (if (< i n) (recur (+ i 1) (+ acc (* x (sin acc)))) acc)))
(defn g [x n] ((grad f) x n))
(defn gg [x n] ((grad g) x n))
(defn j [x n] (get (jvp f [x n] [1.0 0]) 1))
(defn jg [x n] (get (jvp g [x n] [1.0 0]) 1))
"""


def peak_frames(fn, *args):
    interp.STATS["peak_frames"] = 0
    value = fn(*args)
    return value, interp.STATS["peak_frames"]


@pytest.mark.parametrize("name", ["f", "g", "gg", "j", "jg"])
def test_loops_and_their_derivatives_run_in_constant_stack(name):
    m = load(LOOP)
    short = peak_frames(m[name], 0.3, 30)[1]
    long = peak_frames(m[name], 0.3, 600)[1]
    assert long == short and short < 40


def test_loop_derivatives_against_finite_differences():
    m = load(LOOP)
    x, n, h = 0.3, 25, 1e-6
    for lo, hi in (("f", "g"), ("g", "gg")):
        fd = (m[lo](x + h, n) - m[lo](x - h, n)) / (2 * h)
        np.testing.assert_allclose(m[hi](x, n), fd, rtol=1e-5)
    np.testing.assert_allclose(m.j(x, n), m.g(x, n), rtol=1e-12)
    np.testing.assert_allclose(m.jg(x, n), m.gg(x, n), rtol=1e-10)


def test_jvp_through_a_long_loop():
    # it failed with "code nested too deeply to compile" before loops were static
    m = load("""(defn f [x] (loop [i 0 acc x] (if (< i 5000) (recur (+ i 1) (* acc 1.0001)) acc)))
                (defn main [x] (jvp f [x] [1.0]))""")
    y, t = m.main(2.0)
    np.testing.assert_allclose((y, t), (2.0 * 1.0001 ** 5000, 1.0001 ** 5000), rtol=1e-9)


def test_a_loop_function_taken_as_a_value():
    # the loop is returned as a function: its J-transform still loops
    m = load("""(defn make [x] (letrec [go (fn [i acc] (if (< i 3) (go (+ i 1) (* acc x)) acc))]
                                 go))
                (defn f [x] ((make x) 0 1.0))
                (defn main [x] [((grad f) x) ((grad (grad f)) x)])""")
    same(m.main(2.0), (12.0, 12.0))


# -- integers and booleans -------------------------------------------------------------------------

def test_integers_carry_no_sensitivity():
    m = load("""(defn f [a n] (sum (* a 2.5)))
                (defn g [x k] (* x (float k)))
                (defn main [a] ((grad f) a 3))""")
    same(m.main(np.array([1, 2])), np.zeros(2, dtype=np.int64))
    same(myia_sx.grad(m.g, wrt=(0, 1))(2.0, 3), (3.0, 0))
    # an integer output has a zero gradient
    same(myia_sx.grad(load("(defn f [x] (int x))").f)(2.5), 0.0)


# -- functions as arguments, keyword arguments ------------------------------------------------------

def test_a_function_argument():
    m = load("""(defrecord Box [f w])
                (defn app [f x] (f x))
                (defn my-sin [x] (sin x))
                (defn in-tuple [p x] ((get p 0) (* (get p 1) x)))
                (defn in-record [b x] ((. b f) (* (. b w) x)))
                (defn main [x] [((grad app :wrt 1) sin x)
                                ((grad in-tuple :wrt 1) [sin 2.0] x)
                                ((grad in-tuple) [sin 2.0] x)
                                ((grad in-record) (Box cos 2.0) x)])""")
    x = 0.3
    a, b, (f, w), box = m.main(x)
    np.testing.assert_allclose(a, math.cos(x))
    np.testing.assert_allclose(b, 2.0 * math.cos(2.0 * x))
    # a function has no gradient: its place holds None
    assert f is None
    np.testing.assert_allclose(w, x * math.cos(2.0 * x))
    assert box.f is None
    np.testing.assert_allclose(box.w, -x * math.sin(2.0 * x))
    np.testing.assert_allclose(myia_sx.grad(m.app, wrt=1)(m.my_sin, x), math.cos(x))


def test_gradient_functions_take_keyword_arguments():
    m = load("""(defn f [a b] (- (* a a) (sin b)))
                (defn main [] [((grad f) :b 1.0 :a 3.0) ((grad f :wrt [0 1]) 3.0 :b 1.0)
                               ((value-and-grad f) :a 2.0 :b 0.0)])""")
    same(m.main(), (6.0, (6.0, -math.cos(1.0)), (4.0, 4.0)))
    same(myia_sx.grad(m.f)(b=1.0, a=3.0), 6.0)
    same(myia_sx.grad(m.f, wrt=1)(3.0, b=0.0), -1.0)


# -- kinks and ties follow JAX ---------------------------------------------------------------------

# The values JAX 0.10 gives (jax.grad of jnp.maximum, jnp.abs, jnp.clip,
# jax.nn.relu, jax.nn.sigmoid, jnp.max at these points).
@pytest.mark.parametrize("expr, x, want", [
    ("(fn [x] (max x 1.0))", 1.0, 0.5),
    ("(fn [x] (min x 1.0))", 1.0, 0.5),
    ("(fn [x] (max x 1.0))", 2.0, 1.0),
    ("abs", 0.0, 1.0),
    ("abs", -2.0, -1.0),
    ("(fn [x] (clip x 0.0 1.0))", 0.0, 0.5),
    ("(fn [x] (clip x 0.0 1.0))", 1.0, 0.5),
    ("(fn [x] (clip x 0.0 1.0))", 0.5, 1.0),
    ("relu", 0.0, 0.0),
    ("relu", 0.5, 1.0),
    ("sigmoid", -800.0, 0.0),
    ("sigmoid", 800.0, 0.0),
    ("(fn [x] (max (array [x x 0.0])))", 1.0, 1.0),
    ("(fn [x] (** 0.0 x))", 2.0, 0.0),
])
def test_kinks_and_ties_follow_jax(expr, x, want):
    got = load(f"(defn main [x] ((grad {expr}) x))").main(x)
    assert got == want


def test_sigmoid_gradient_is_finite_everywhere():
    m = load("(defn main [x] ((grad sigmoid) x))")
    for x in (-1e308, -745.0, -709.0, -40.0, 0.0, 40.0, 709.0, 1e308):
        g = m.main(x)
        s = 1 / (1 + math.exp(-x)) if x > -700 else 0.0
        assert math.isfinite(g) and abs(g - s * (1 - s)) < 1e-12


def test_redefining_a_function_at_the_repl_changes_its_gradient():
    s = myia_sx.Session()
    s.run("(defn f [x] (* x x)) (defn g [x] ((grad f) x))")
    assert s.run("(g 3.0)") == [("value", 6.0)]
    s.run("(defn f [x] (* x (* x x)))")     # g's J-transform of f is made again
    assert s.run("(g 3.0)") == [("value", 27.0)]
    assert s.run("((grad (grad f)) 1.0)") == [("value", 6.0)]
