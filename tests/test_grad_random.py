"""grad on random well-typed programs, against central finite differences.

The programs come from a small typed grammar (``Grammar``): every generator
knows the type of what it writes, so every program loads and runs. The
types are

    s  a float            t  a tuple [s s]       r  a record (P a b) of floats
    v  an array (3,)      u  an array (2,)       m  an array (2, 3)
    f  a function s -> s  i  a loop counter (an integer; used as (float i))

and the grammar covers ``let`` (with tuple patterns), ``if``, closures
(lambdas capturing variables, bound by ``let``, called, passed to top-level
functions and to ``tmap``/``tfold``), the loops ``loop``/``recur``,
``dotimes`` (one or two accumulators, float or array), ``while`` and
``for-fold`` (over a literal tuple, a tuple value, tuple patterns, an array's
elements or its rows), nested loops, tuples, records, arrays with
broadcasting, reductions with and without ``:axis``, ``@``, and the prelude
functions ``sigmoid softplus square relu logsumexp``. A program may start
with up to two generated helper functions (``h0``, ``h1``) taking floats,
tuples, records, arrays and functions, called positionally or by keyword.

Values stay bounded: ``log`` and ``sqrt`` only appear as
``(log (+ 1.0 (square e)))`` and ``(sqrt (+ 1.0 (square e)))``, ``exp`` as
``(exp (tanh e))``, loops run at most 5 times and each step of an
accumulator adds at most 1 in magnitude or shrinks it (``Grammar.update``).

Inputs avoid special points: every float of the arguments is one of GENERIC,
fixed random floats at least 0.01 away from the multiples of 0.05 (so never
0, an integer, or one of the programs' literals and thresholds), and the
floats of one example are all different (equal inputs would make ties of
``max`` and ``min``, which are kinks).

The kink criterion (``compare``): ``max``, ``min``, ``relu`` and ``if`` make
programs non-differentiable at some points. For each float leaf of the
arguments, with phi(s) the function along that leaf and g(s) the gradient's
component for it, g(0) is compared with the central difference D(H) of phi
(H = 1e-6). Where they disagree, the test fails unless phi is not smooth
within the step, in which case the leaf is skipped:

- a jump of phi within [-H, H] shifts D(H) by no more than it shifts
  D(H) - D(H/4), which for smooth phi is O(H^2);
- a kink of phi within [-H, H] (a change of slope by c) shifts D(H) by at
  most c/2, and makes the second difference g(2H) - 2 g(0) + g(-2H), which
  for smooth phi is O(H^2), as large as c.

Both thresholds are a quarter of the tolerance of the comparison, so a jump
or kink small enough to pass them moves D(H) by less than half the
tolerance: a point is skipped only if it is within a step of a kink or a
jump. Each test asserts that at least 80% of its examples were checked at
every leaf.
"""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import myia_sx

from test_grad import flat, rebuild

H = 1e-6
# 64 fixed random floats in (-1.9, 1.9), each at least 0.01 away from the
# multiples of 0.05 (the literals and thresholds of the programs)
GENERIC = tuple(float(x) for x in np.random.default_rng(0).uniform(-1.9, 1.9, 200)
                if abs(20 * x - round(20 * x)) > 0.2)[:64]
LITERALS = ("0.3", "-0.7", "1.3", "0.45", "-1.15", "0.85")
THRESHOLDS = ("-0.4", "0.1", "0.6")
UNARY = ("(sin {})", "(cos {})", "(tanh {})", "(neg {})", "(sigmoid {})", "(softplus {})",
         "(relu {})", "(square {})", "(log (+ 1.0 (square {})))", "(sqrt (+ 1.0 (square {})))",
         "(exp (tanh {}))")
ARRAYS = ("v", "u", "m")
SHAPES = {"v": (3,), "u": (2,), "m": (2, 3)}
BINDABLE = ("s", "t", "r", "v", "m", "f")
RECORD = "(defrecord P [a b])"


def choice(draw, options):
    """One of options, drawn as its index. (st.sampled_from labels its draws
    with the hash of the options, and the hash of a method is that of its
    object's address: derandomized runs of sampled_from over the methods of
    Grammar draw different examples from one process to the next.)"""
    return options[draw(st.integers(0, len(options) - 1))]


class Grammar:
    """Writes expressions of a given type from the variables of an environment
    (a dict from names to types) and the helper functions defined so far.

    ``expr(ty, env, depth)`` chooses a leaf (a variable or a constant) at
    depth 0 and with probability 1/5 above, and otherwise a production for
    ``ty`` whose subexpressions have depth ``depth - 1``. Productions are
    drawn with weights (``productions``) and listed simplest first, so that
    shrinking moves towards small programs."""

    def __init__(self, draw, helpers):
        self.draw = draw
        self.helpers = helpers
        self.counter = itertools.count()

    def fresh(self, base):
        return f"{base}{next(self.counter)}"

    def pick(self, options):
        return choice(self.draw, options)

    def count(self):
        """The number of iterations of a loop."""
        return self.draw(st.integers(1, 5))

    def expr(self, ty, env, depth):
        if depth == 0 or self.draw(st.integers(0, 4)) == 0:
            return self.leaf(ty, env)
        return self.production(ty, env, depth)

    def production(self, ty, env, depth):
        """An expression of type ty that is not a leaf."""
        weights = self.productions(ty)
        if any(ret == ty for _, _, ret in self.helpers):
            weights[self.call_helper] = 1
        make = self.pick([p for p, w in weights.items() for _ in range(w)])
        return make(ty, env, depth - 1)

    def productions(self, ty):
        """The productions for ty, with their weights."""
        common = {self.let: 2, self.cond: 1}
        if ty == "s":
            return {self.unary: 2, self.binary: 3, self.get_tuple: 1, self.get_field: 1,
                    self.reduce: 4, self.index: 1, self.call_function: 1, self.any_loop: 4,
                    **common}
        if ty == "t":
            return {self.pair: 2, self.tmap: 1, self.dotimes_pair: 1, **common}
        if ty == "r":
            return {self.record: 2, **common}
        if ty == "f":
            return {self.lambda_: 1}
        if ty == "v":
            return {self.unary: 1, self.broadcast: 2, self.from_matrix: 3,
                    self.fold_rows_array: 1, self.dotimes: 1, **common}
        if ty == "u":
            return {self.unary: 1, self.broadcast: 1, self.from_matrix: 3, **common}
        return {self.unary: 1, self.broadcast: 2, **common}

    def leaf(self, ty, env):
        """A variable of type ty, or for s a float read from a variable of
        another type ((float i) of a counter i, (get t 0), (. p a), (get v 2),
        (get w 1 0)): from the variable bound last with probability 1/2, so
        that bindings get used. With probability 1/6, or where there is no
        such variable, a constant."""
        readable = [reads for n, t in env.items() if (reads := self.reads(n, t, ty))]
        if not readable or self.draw(st.integers(0, 5)) == 5:
            return self.constant(ty, env)
        return self.pick(readable[-1] if self.draw(st.booleans()) else self.pick(readable))

    def reads(self, name, ty, want):
        """Leaves of type want read from variable name of type ty."""
        if ty == want:
            return [name]
        if want != "s":
            return []
        return {"i": [f"(float {name})"],
                "t": [f"(get {name} {k})" for k in (0, 1)],
                "r": [f"(. {name} {k})" for k in ("a", "b")],
                "v": [f"(get {name} {k})" for k in (0, 1, 2)],
                "m": [f"(get {name} {i} {j})" for i in (0, 1) for j in (0, 1, 2)]}.get(ty, [])

    def constant(self, ty, env):
        """A literal, or a tuple, record, function or array made of leaves."""
        if ty == "s":
            return self.pick(LITERALS)
        if ty == "t":
            return f"[{self.leaf('s', env)} {self.leaf('s', env)}]"
        if ty == "r":
            return f"(P {self.leaf('s', env)} {self.leaf('s', env)})"
        if ty == "f":
            z = self.fresh("z")
            return f"(fn [{z}] (* {z} {self.leaf('s', env)}))"
        rows = ["[" + " ".join(self.pick(LITERALS) for _ in range(SHAPES[ty][-1])) + "]"
                for _ in range(SHAPES[ty][0] if ty == "m" else 1)]
        text = rows[0] if ty != "m" else "[" + " ".join(rows) + "]"
        return f"(* {self.leaf('s', env)} (array {text}))"

    # -- every type ------------------------------------------------------------------

    def let(self, ty, env, d):
        """(let [a e] body), or (let [[a b] tuple] body)."""
        bound = self.pick(BINDABLE)
        value = self.expr(bound, env, d)
        if bound == "t" and self.draw(st.booleans()):
            a, b = self.fresh("a"), self.fresh("b")
            return f"(let [[{a} {b}] {value}] {self.expr(ty, {**env, a: 's', b: 's'}, d)})"
        a = self.fresh("a")
        return f"(let [{a} {value}] {self.expr(ty, {**env, a: bound}, d)})"

    def cond(self, ty, env, d):
        """(if (> e c) ...) with a threshold c, or (if (< e1 e2) ...)."""
        left = self.expr("s", env, d)
        right = self.expr("s", env, d) if self.draw(st.booleans()) else self.pick(THRESHOLDS)
        test = f"({self.pick(('>', '<'))} {left} {right})"
        return f"(if {test} {self.expr(ty, env, d)} {self.expr(ty, env, d)})"

    def call_helper(self, ty, env, d):
        """A call of a helper returning ty."""
        name, params, _ = self.pick([h for h in self.helpers if h[2] == ty])
        return self.call(name, params, env, d)

    def call(self, name, params, env, d):
        """A call of helper name, positional or by keyword."""
        args = [(p, self.expr(t, env, d)) for p, t in params]
        if self.draw(st.booleans()):
            return f"({name} {' '.join(a for _, a in args)})"
        return f"({name} {' '.join(f':{p} {a}' for p, a in reversed(args))})"

    # -- floats ----------------------------------------------------------------------

    def any_loop(self, ty, env, d):
        """One of the loops of a float value."""
        loop = self.pick([self.loop, self.dotimes, self.while_loop, self.fold_literal,
                          self.fold_tuple, self.fold_pairs, self.fold_array, self.fold_rows,
                          self.tfold])
        return loop(ty, env, d)

    def unary(self, ty, env, d):
        return self.pick(UNARY).format(self.expr(ty, env, d))

    def binary(self, ty, env, d):
        op = self.pick(("+", "-", "*", "max", "min"))
        return f"({op} {self.expr(ty, env, d)} {self.expr(ty, env, d)})"

    def get_tuple(self, ty, env, d):
        return f"(get {self.expr('t', env, d)} {self.pick((0, 1))})"

    def get_field(self, ty, env, d):
        return f"(. {self.expr('r', env, d)} {self.pick(('a', 'b'))})"

    def reduce(self, ty, env, d):
        """sum, mean, max (a reduction) or logsumexp of any array."""
        op = self.pick(("sum", "mean", "max", "logsumexp"))
        return f"({op} {self.expr(self.pick(ARRAYS), env, d)})"

    def index(self, ty, env, d):
        if self.draw(st.booleans()):
            return f"(get {self.expr('v', env, d)} {self.draw(st.integers(0, 2))})"
        i, j = self.draw(st.integers(0, 1)), self.draw(st.integers(0, 2))
        return f"(get {self.expr('m', env, d)} {i} {j})"

    def call_function(self, ty, env, d):
        return f"({self.expr('f', env, d)} {self.expr('s', env, d)})"

    def update(self, acc, ty, env, d):
        """The next value of accumulator acc (of type ty, in env): |new| is at
        most |acc| + 1 elementwise."""
        e = self.expr(ty, env, d)
        return self.pick([f"(+ {acc} (tanh {e}))", f"(* {acc} (sigmoid {e}))",
                          f"(+ (* 0.5 {acc}) (sin {e}))"])

    def loop(self, ty, env, d):
        i, acc = self.fresh("i"), self.fresh("acc")
        step = self.update(acc, "s", {**env, i: "i", acc: "s"}, d)
        return (f"(loop [{i} 0 {acc} {self.expr('s', env, d)}] "
                f"(if (< {i} {self.count()}) (recur (+ {i} 1) {step}) {acc}))")

    def dotimes(self, ty, env, d):
        i, acc = self.fresh("i"), self.fresh("acc")
        init = self.expr(ty, env, d)
        return f"(dotimes [{i} {self.count()} {acc} {init}] " \
               f"{self.update(acc, ty, {**env, i: 'i', acc: ty}, d)})"

    def while_loop(self, ty, env, d):
        """A while loop over a counter and an accumulator; its value, a tuple,
        is destructured."""
        i, acc, n, out = self.fresh("i"), self.fresh("acc"), self.fresh("n"), self.fresh("out")
        step = self.update(acc, "s", {**env, i: "i", acc: "s"}, d)
        return (f"(let [[{n} {out}] (while [{i} 0 {acc} {self.expr('s', env, d)}] "
                f"(< {i} {self.count()}) (+ {i} 1) {step})] {out})")

    def fold(self, pattern, kinds, sequence, env, d):
        acc = self.fresh("acc")
        init = self.expr("s", env, d)
        step = self.update(acc, "s", {**env, **kinds, acc: "s"}, d)
        return f"(for-fold [{acc} {init}] [{pattern} {sequence}] {step})"

    def fold_literal(self, ty, env, d):
        z = self.fresh("z")
        items = " ".join(self.expr("s", env, d) for _ in range(self.draw(st.integers(1, 3))))
        return self.fold(z, {z: "s"}, f"[{items}]", env, d)

    def fold_tuple(self, ty, env, d):
        z = self.fresh("z")
        return self.fold(z, {z: "s"}, self.expr("t", env, d), env, d)

    def fold_pairs(self, ty, env, d):
        a, b = self.fresh("a"), self.fresh("b")
        pairs = f"[{self.expr('t', env, d)} {self.expr('t', env, d)}]"
        return self.fold(f"[{a} {b}]", {a: "s", b: "s"}, pairs, env, d)

    def fold_array(self, ty, env, d):
        z = self.fresh("z")
        return self.fold(z, {z: "s"}, self.expr("v", env, d), env, d)

    def fold_rows(self, ty, env, d):
        row = self.fresh("row")
        return self.fold(row, {row: "v"}, self.expr("m", env, d), env, d)

    def tfold(self, ty, env, d):
        acc, z = self.fresh("acc"), self.fresh("z")
        step = self.update(acc, "s", {**env, acc: "s", z: "s"}, d)
        return f"(tfold (fn [{acc} {z}] {step}) {self.expr('s', env, d)} {self.expr('t', env, d)})"

    # -- tuples, records, functions --------------------------------------------------

    def pair(self, ty, env, d):
        return f"[{self.expr('s', env, d)} {self.expr('s', env, d)}]"

    def tmap(self, ty, env, d):
        return f"(tmap {self.expr('f', env, d)} {self.expr('t', env, d)})"

    def dotimes_pair(self, ty, env, d):
        """dotimes with two float accumulators: its value is a tuple."""
        i, a, b = self.fresh("i"), self.fresh("acc"), self.fresh("acc")
        inner = {**env, i: "i", a: "s", b: "s"}
        return (f"(dotimes [{i} {self.count()} {a} {self.expr('s', env, d)} "
                f"{b} {self.expr('s', env, d)}] "
                f"[{self.update(a, 's', inner, d)} {self.update(b, 's', inner, d)}])")

    def record(self, ty, env, d):
        a, b = self.expr("s", env, d), self.expr("s", env, d)
        return self.pick([f"(P {a} {b})", f"(P :b {b} :a {a})"])

    def lambda_(self, ty, env, d):
        """A lambda of one float, capturing whatever it uses of env."""
        z = self.fresh("z")
        return f"(fn [{z}] {self.expr('s', {**env, z: 's'}, d)})"

    # -- arrays ----------------------------------------------------------------------

    def broadcast(self, ty, env, d):
        """An elementwise operation with an array of the same shape, a float,
        or (for m) a row."""
        op = self.pick(("+", "-", "*", "max"))
        other = self.pick([ty, "s", "v"] if ty == "m" else [ty, "s"])
        a, b = self.expr(ty, env, d), self.expr(other, env, d)
        return f"({op} {a} {b})" if self.draw(st.booleans()) else f"({op} {b} {a})"

    def from_matrix(self, ty, env, d):
        """A v or a u from an m: a reduction along an axis, a row (v), or @
        (u @ m is a v, m @ v a u)."""
        m = self.expr("m", env, d)
        how = self.pick(("sum", "mean", "max", "@", "row") if ty == "v" else
                        ("sum", "mean", "max", "@"))
        if how == "@":
            return f"(@ {self.expr('u', env, d)} {m})" if ty == "v" else \
                f"(@ {m} {self.expr('v', env, d)})"
        if how == "row":
            return f"(get {m} {self.draw(st.integers(0, 1))})"
        return f"({how} {m} :axis {0 if ty == 'v' else self.pick((1, -1))})"

    def fold_rows_array(self, ty, env, d):
        """for-fold over the rows of an m with an array accumulator."""
        acc, row = self.fresh("acc"), self.fresh("row")
        init = self.expr("v", env, d)
        step = self.update(acc, "v", {**env, acc: "v", row: "v"}, d)
        return f"(for-fold [{acc} {init}] [{row} {self.expr('m', env, d)}] {step})"


HELPER_PARAMS = ("s", "t", "r", "v", "m", "f")


@st.composite
def programs(draw, params, depth):
    """The text of a module defining P, up to two helpers ``h0``, ``h1`` and
    ``f``, the function of ``params`` ((name, type) pairs) to differentiate,
    of a float value. ``f`` binds the result of a call of each helper, then
    computes its value from them and its parameters."""
    helpers, defs = [], []
    for k in range(draw(st.integers(0, 2))):
        types = [choice(draw, HELPER_PARAMS) for _ in range(draw(st.integers(1, 2)))]
        hparams = [(f"q{j}", t) for j, t in enumerate(types)]
        ret = choice(draw, ("s", "t", "r"))
        body = Grammar(draw, helpers).production(ret, dict(hparams), depth - 1)
        defs.append(f"(defn h{k} [{' '.join(p for p, _ in hparams)}] {body})")
        helpers.append((f"h{k}", hparams, ret))
    grammar, env, bindings = Grammar(draw, helpers), dict(params), []
    for name, hparams, ret in helpers:
        r = grammar.fresh("r")
        bindings.append(f"{r} {grammar.call(name, hparams, env, depth - 1)}")
        env[r] = ret
    body = grammar.production("s", env, depth)
    if bindings:
        body = f"(let [{' '.join(bindings)}] {body})"
    return "\n".join([RECORD, *defs, f"(defn f [{' '.join(p for p, _ in params)}] {body})"])


def generic_values(n):
    """n different values of GENERIC."""
    return st.lists(st.integers(0, len(GENERIC) - 1), min_size=n, max_size=n,
                    unique=True).map(lambda ks: [GENERIC[k] for k in ks])


def shifted(args, k, s):
    """args with float leaf k moved by s."""
    leaves = flat(args)
    leaves[k] += s
    return rebuild(args, iter(leaves))


def compare(src, fun, grad, args, rtol, atol):
    """Check grad(*args) (a structure like args) against central differences
    of fun at every float leaf of args; where they disagree, fail unless fun
    is not smooth there (the kink criterion of the module's docstring).
    Return the number of leaves skipped that way."""
    got = flat(grad(*args))
    f0 = fun(*args)
    skipped = 0
    for k, g in enumerate(got):
        def central(h):
            return (fun(*shifted(args, k, h)) - fun(*shifted(args, k, -h))) / (2 * h)

        def slope(s):
            return flat(grad(*shifted(args, k, s)))[k]

        d1 = central(H)
        tol = atol * (1 + abs(f0)) + rtol * abs(d1)
        if abs(g - d1) <= tol:
            continue
        jump = abs(d1 - central(H / 4))
        kink = abs(slope(2 * H) - 2 * g + slope(-2 * H))
        if jump > tol / 4 or kink > tol / 4:
            skipped += 1
            continue
        raise AssertionError(f"leaf {k} of {args}: grad {g!r}, central differences {d1!r}\n{src}")
    return skipped


FIRST_ORDER = [("x", "s"), ("y", "s"), ("t", "t"), ("p", "r"), ("v", "v"), ("w", "m")]
FIRST_ORDER_GRAD = "\n(defn df [x y t p v w] ((grad f :wrt [0 1 2 3 4 5]) x y t p v w))"


def first_order(src, values):
    """(grad f :wrt [0 1 2 3 4 5]) of f of two floats, a tuple, a record and
    two arrays (``FIRST_ORDER``), against central differences of f at each
    of its 15 floats, taken from values; the number of them skipped."""
    m = myia_sx.load_string(src + FIRST_ORDER_GRAD)
    template = (0.0, 0.0, (0.0, 0.0), m.P(0.0, 0.0), np.zeros(3), np.zeros((2, 3)))
    return compare(src, m.f, m.df, rebuild(template, iter(values)), rtol=1e-5, atol=1e-6)


SECOND_ORDER = [("x", "s"), ("y", "s")]
SECOND_ORDER_GRAD = """
(defn g [x y] (square (f x y)))
(defn dx [x y] ((grad g :wrt 0) x y))
(defn dy [x y] ((grad g :wrt 1) x y))
(defn ddx [x y] ((grad (grad g :wrt 0) :wrt [0 1]) x y))
(defn ddy [x y] ((grad (grad g :wrt 1) :wrt [0 1]) x y))"""


def second_order(src, values):
    """The Hessian of g = f^2 for f of two floats, a row at a time:
    (grad (grad g :wrt i) :wrt [0 1]) against central differences of
    (grad g :wrt i); the number of floats skipped. The Hessian is
    2 (grad f)(grad f)^T + 2 f (hessian f): it is not zero where f is
    piecewise linear, and it runs the derivative of f's backpropagator
    either way."""
    m = myia_sx.load_string(src + SECOND_ORDER_GRAD)
    return sum(compare(src, first, second, tuple(values), rtol=1e-4, atol=1e-6)
               for first, second in ((m.dx, m.ddx), (m.dy, m.ddy)))


@pytest.mark.parametrize("order, params, leaves, examples", [
    (first_order, FIRST_ORDER, 15, 200),
    (second_order, SECOND_ORDER, 2, 100),
], ids=["first-order", "second-order"])
def test_random_programs_against_finite_differences(order, params, leaves, examples):
    """Random programs of depth 4; at least 80% of them checked at every
    float (the others are within a step of a kink or a jump)."""
    tally = Counter()

    @settings(max_examples=examples, suppress_health_check=[HealthCheck.too_slow])
    @given(programs(params, depth=4), generic_values(leaves))
    def check(src, values):
        tally["skipped" if order(src, values) else "checked"] += 1

    check()
    assert tally["checked"] >= 0.8 * (tally["checked"] + tally["skipped"]), tally


@pytest.mark.parametrize("order, leaves, body", [
    # (grad (grad g)) raised "%field-sens expects a record, got zero" (at bcb9662)
    pytest.param(second_order, 2, "(defn f [x y] (. (P 0.3 (. (P x y) a)) a))",
                 id="a-field-of-a-record-made-of-a-field"),
])
def test_programs_the_random_tests_found(order, leaves, body):
    """Programs on which the random tests failed, reduced by hand."""
    assert order(f"{RECORD}\n{body}", GENERIC[:leaves]) == 0


# -- the kink criterion ----------------------------------------------------------------


def relu(x):
    return max(x, 0.0)


@pytest.mark.parametrize("fun, grad, x, skipped", [
    (relu, lambda x: (float(x > 0),), 0.0, 1),                   # on a kink
    (relu, lambda x: (float(x > 0),), 5e-7, 1),                  # a kink within the step
    (lambda x: x + 1e-9 * (x > 0), lambda x: (1.0,), 0.0, 1),    # a jump of 1e-9
    (lambda x: x + 1e-14 * (x > 0), lambda x: (1.0,), 0.0, 0),   # a jump within the tolerance
    (relu, lambda x: (float(x > 0),), 0.3, 0),                   # smooth
])
def test_points_within_a_step_of_a_kink_or_jump_are_skipped(fun, grad, x, skipped):
    assert compare("", fun, grad, (x,), rtol=1e-5, atol=1e-6) == skipped


@pytest.mark.parametrize("fun, grad, x", [
    (math.sin, lambda x: (1.001 * math.cos(x),), 0.7),
    (relu, lambda x: (2.0 * (x > 0),), 1e-4),                    # near a kink, not within a step
    (lambda x: x + 0.1 * (x > 0), lambda x: (0.0,), -1e-4),      # near a jump
])
def test_wrong_gradients_fail(fun, grad, x):
    with pytest.raises(AssertionError, match="central differences"):
        compare("", fun, grad, (x,), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("body", [
    "(if (> x 0.0) (* x y) (sin x))",
    "(if (> x 0.0) (+ y 0.001) (* x y))",
    "(relu (* x y))",
    "(max x (neg x))",
])
def test_programs_at_a_kink_or_jump_do_not_fail(body):
    # x = 0.0 on (if (> x 0.0) ...) is where the random tests this file
    # replaced used to fail
    m = myia_sx.load_string(f"(defn f [x y] {body})\n(defn df [x y] ((grad f :wrt [0 1]) x y))")
    compare(body, m.f, m.df, (0.0, 0.5), rtol=1e-5, atol=1e-6)
