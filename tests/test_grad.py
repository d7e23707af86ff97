"""grad, value-and-grad, vjp and jvp: checked against central finite
differences (float64) and, where there is one, a derivative written by hand
(numpy for arrays)."""

import math
import textwrap

import numpy as np
import pytest

import myia_sx
from myia_sx import SxGradError, SxTypeError
from myia_sx.prims import PRIMS, Prim

from conftest import same

EPS = 1e-6


def load(src):
    return myia_sx.load_string(textwrap.dedent(src))


def flat(x):
    """The float leaves of a value (tuples, records, arrays), in order."""
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return [v for item in x for v in flat(item)]
    if hasattr(x, "_fields"):
        return [v for item in x._values for v in flat(item)]
    if isinstance(x, np.ndarray):
        return list(x.ravel())
    return [x]


def rebuild(template, values):
    """``template`` with its float leaves replaced by ``values`` (an iterator)."""
    if isinstance(template, tuple) and not hasattr(template, "_fields"):
        return tuple(rebuild(t, values) for t in template)
    if hasattr(template, "_fields"):
        return type(template)(*[rebuild(t, values) for t in template._values])
    if isinstance(template, np.ndarray):
        return np.array([next(values) for _ in range(template.size)]).reshape(template.shape)
    if isinstance(template, float):
        return next(values)
    next(values)
    return template


def numeric_grad(f, args, i):
    """Central differences of scalar f with respect to argument i (any structure)."""
    leaves = flat(args[i])
    out = []
    for k, v in enumerate(leaves):
        if not isinstance(v, float) and not isinstance(v, np.floating):
            out.append(0.0)
            continue
        def at(h):
            vals = list(leaves)
            vals[k] = float(v) + h
            a = list(args)
            a[i] = rebuild(args[i], iter(vals))
            return f(*a)
        out.append((at(EPS) - at(-EPS)) / (2 * EPS))
    return out


def check_grad(m, name, *args, wrt=None, rtol=1e-5, atol=1e-7):
    """Compare (grad name) with finite differences for every float argument."""
    f = m[name]
    idx = range(len(args)) if wrt is None else wrt
    for i in idx:
        g = myia_sx.load_string(f"(defn main [f] (grad f :wrt {i}))").main(f)
        got = g(*args)
        np.testing.assert_allclose(np.array(flat(got), dtype=float),
                                   numeric_grad(f, args, i), rtol=rtol, atol=atol)


# -- straight-line scalar code ------------------------------------------------------------

SCALAR = """
(defn poly [x] (+ (* 3.0 (* x x)) (- (* 2.0 x) 5.0)))
(defn trig [x] (* (sin x) (cos (* 2.0 x))))
(defn mixed [x y] (/ (exp (* x y)) (+ 1.0 (* y y))))
(defn powers [x y] (** x y))
(defn others [x] (+ (tanh x) (+ (sqrt (+ 2.0 x)) (+ (log (+ 3.0 x)) (tan (* 0.3 x))))))
(defn minmax [x y] (+ (max x y) (* 2.0 (min x y))))
(defn absneg [x] (+ (abs x) (neg (* x x))))
(defn prelude-fns [x] (+ (sigmoid x) (+ (softplus x) (relu x))))
"""


class TestScalar:
    def test_poly_by_hand(self):
        m = load(SCALAR)
        d = myia_sx.load_string("(defn main [f x] ((grad f) x))").main
        for x in (-2.0, 0.0, 1.5):
            same(d(m.poly, x), 6.0 * x + 2.0)

    @pytest.mark.parametrize("name, args", [
        ("poly", (1.3,)), ("trig", (0.7,)), ("mixed", (0.4, 1.2)), ("powers", (1.7, 2.5)),
        ("others", (0.5,)), ("minmax", (0.3, 1.1)), ("minmax", (2.0, -1.0)),
        ("absneg", (-0.8,)), ("absneg", (0.8,)), ("prelude-fns", (0.6,)),
        ("prelude-fns", (-0.6,)),
    ])
    def test_against_finite_differences(self, name, args):
        check_grad(load(SCALAR), name, *args)

    def test_hand_written(self):
        m = load(SCALAR + "(defn main [x y] [((grad mixed :wrt [0 1]) x y) ((grad trig) x)])")
        x, y = 0.4, 1.2
        (gx, gy), gt = m.main(x, y)
        e = math.exp(x * y)
        np.testing.assert_allclose(gx, y * e / (1 + y * y))
        np.testing.assert_allclose(gy, (x * e * (1 + y * y) - e * 2 * y) / (1 + y * y) ** 2)
        np.testing.assert_allclose(gt, math.cos(x) * math.cos(2 * x)
                                   - 2 * math.sin(x) * math.sin(2 * x))

    def test_wrt_conventions(self):
        m = load(SCALAR + """
            (defn main [x y]
              [((grad mixed) x y) ((grad mixed :wrt 1) x y) ((grad mixed :wrt [1]) x y)
               ((value-and-grad mixed :wrt [0 1]) x y)])""")
        g0, g1, g1t, (v, (a, b)) = m.main(0.4, 1.2)
        assert type(g1t) is tuple and len(g1t) == 1 and g1t[0] == g1
        assert (a, b) == (g0, g1)
        same(v, m.mixed(0.4, 1.2))

    def test_integer_and_bool_arguments_get_zero(self):
        m = load("(defn f [x n b] (if b (* x (float n)) x)) "
                 "(defn main [] ((grad f :wrt [0 1 2]) 2.0 3 True))")
        same(m.main(), (3.0, 0, False))

    def test_constant_function(self):
        same(load("(defn f [x] 7.0) (defn main [] ((grad f) 2.0))").main(), 0.0)


# -- tuples and records -----------------------------------------------------------------------

STRUCT = """
(defrecord P [a b])
(defn tup [t] (* (get t 0) (+ (get t 1) (get (get t 2) 0))))
(defn mk [x] (let [[u v] [(* x x) (sin x)]] (+ u v)))
(defn rec [p] (* (. p a) (sin (. p b))))
(defn make-rec [x] (let [p (P (* 2.0 x) x)] (rec p)))
(defn nested [q] (+ (rec (get q 0)) (* (get q 1) (. (get q 0) a))))
"""


class TestStructures:
    def test_tuple_argument_gradient_has_its_structure(self):
        m = load(STRUCT + "(defn main [t] ((grad tup) t))")
        got = m.main((2.0, 3.0, (4.0,)))
        same(got, (7.0, 2.0, (2.0,)))
        check_grad(m, "tup", (2.0, 3.0, (4.0,)))

    def test_tuple_built_and_destructured(self):
        check_grad(load(STRUCT), "mk", 0.9)

    def test_record_gradient_is_a_record(self):
        m = load(STRUCT + "(defn main [p] ((grad rec) p))")
        got = m.main(m.P(3.0, 0.5))
        assert type(got) is type(m.P(1.0, 1.0))
        np.testing.assert_allclose([got.a, got.b], [math.sin(0.5), 3.0 * math.cos(0.5)])

    def test_record_built_inside(self):
        check_grad(load(STRUCT), "make-rec", 0.7)

    def test_records_in_tuples(self):
        m = load(STRUCT)
        check_grad(m, "nested", (m.P(1.5, 0.3), 2.0))

    def test_value_and_grad_on_tuples(self):
        m = load(STRUCT + "(defn main [t] ((value-and-grad tup) t))")
        v, g = m.main((2.0, 3.0, (4.0,)))
        same(v, 14.0)
        same(g, (7.0, 2.0, (2.0,)))


# -- closures and higher-order functions ------------------------------------------------------------

CLOSURES = """
(defn twice [f x] (f (f x)))
(defn passed [x] (twice (fn [y] (* x (sin y))) x))
(defn make-scaler [k] (fn [y] (* k y)))
(defn returned [x] ((make-scaler (* x x)) 3.0))
(defn in-tuple [x] (let [fs [(fn [y] (* y x)) (fn [y] (+ y (exp x)))]] ((get fs 1) ((get fs 0) x))))
(defn chosen [x c] (let [h (if c (fn [y] (* y x)) (fn [y] (+ y (* x x))))] (h 3.0)))
(defn captured-twice [x] (let [g (fn [y] (* x y)) h (fn [z] (g (g z)))] (h 2.0)))
(defn tmapped [x] (tfold + 0.0 (tmap (fn [v] (* v x)) [1.0 2.0 x])))
"""


class TestClosures:
    @pytest.mark.parametrize("name, args", [
        ("passed", (0.7,)), ("returned", (1.3,)), ("in-tuple", (0.4,)),
        ("chosen", (1.5, True)), ("chosen", (1.5, False)), ("captured-twice", (0.8,)),
        ("tmapped", (1.1,)),
    ])
    def test_against_finite_differences(self, name, args):
        check_grad(load(CLOSURES), name, *args, wrt=[0])

    def test_by_hand(self):
        m = load(CLOSURES + "(defn main [x] [((grad returned) x) ((grad chosen) x True) "
                            "((grad chosen) x False) ((grad captured-twice) x)])")
        same(m.main(1.5), (9.0, 3.0, 3.0, 6.0))   # 6x, 3, 2x, 4x

    def test_keyword_arguments_get_their_gradients(self):
        m = load("""
            (defn g [a b] (- (* a a) (sin b)))
            (defrecord P [u v])
            (defn f [x] (+ (g :b x :a (* 3.0 x)) (. (P :v x :u 1.0) v)))
            (defn main [x] [((grad f) x) ((grad (grad f)) x)])""")
        x = 0.4
        np.testing.assert_allclose(m.main(x), (18 * x - math.cos(x) + 1, 18 + math.sin(x)))

    def test_gradient_of_a_closure_argument_through_its_captures(self):
        # k is captured by the closure passed to twice; its gradient flows back
        m = load(CLOSURES + "(defn main [k] ((grad (fn [k] (twice (make-scaler k) 1.0))) k))")
        same(m.main(3.0), 6.0)   # d/dk k^2


# -- conditionals, loops, recursion ----------------------------------------------------------

CONTROL = """
(defn piecewise [x] (if (> x 0.0) (* x (* x x)) (sin x)))
(defn pw [x n] (loop [i 0 acc 1.0] (if (< i n) (recur (+ i 1) (* acc x)) acc)))
(defn nested-loops [x n]
  (loop [i 0 total 0.0]
    (if (< i n)
        (recur (+ i 1) (+ total (loop [j 0 s 1.0] (if (< j i) (recur (+ j 1) (* s x)) s))))
        total)))
(defn with-while [x] (get (while [i 0 s x] (< i 3) (+ i 1) (* s (+ 1.0 s))) 1))
(defn folded [x] (for-fold [acc 0.0] [v [1.0 2.0 3.0]] (+ acc (* v (sin (* x v))))))
(defn fact [x n] (if (< n 1) 1.0 (* x (fact x (- n 1)))))
(defn tree-sq [t] (if (tuple? t) (+ (tree-sq (get t 0)) (tree-sq (get t 1))) (* t t)))
(defn tree-prod [t] (if (tuple? t) (* (tree-prod (get t 0)) (tree-prod (get t 1))) t))
(defn ev? [x n] (if (= n 0) x (od? (* x 1.5) (- n 1))))
(defn od? [x n] (if (= n 0) (* x x) (ev? (sin x) (- n 1))))
"""


class TestControl:
    @pytest.mark.parametrize("name, args", [
        ("piecewise", (0.8,)), ("piecewise", (-0.8,)), ("pw", (1.3, 5)), ("pw", (1.3, 0)),
        ("nested-loops", (1.1, 4)), ("with-while", (0.3,)), ("folded", (0.4,)),
        ("fact", (1.2, 6)), ("ev?", (0.7, 5)),
    ])
    def test_against_finite_differences(self, name, args):
        check_grad(load(CONTROL), name, *args, wrt=[0])

    def test_by_hand(self):
        m = load(CONTROL + "(defn main [x] [((grad pw) x 5) ((grad nested-loops) x 4) "
                           "((grad fact) x 6)])")
        x = 1.3
        np.testing.assert_allclose(m.main(x), (5 * x ** 4, 1 + 2 * x + 3 * x * x,
                                               6 * x ** 5))

    def test_recursion_over_trees(self):
        m = load(CONTROL + "(defn main [t] [((grad tree-sq) t) ((grad tree-prod) t)])")
        t = ((1.0, 2.0), (3.0, (4.0, 5.0)))
        sq, prod = m.main(t)
        same(sq, ((2.0, 4.0), (6.0, (8.0, 10.0))))
        same(prod, ((120.0, 60.0), (40.0, (30.0, 24.0))))


# -- arrays ------------------------------------------------------------------------------------

ARRAYS = """
(defn bcast [a b] (sum (* a (+ b 1.0))))
(defn mm [w x] (sum (tanh (@ x w))))
(defn mv [w v] (sum (* (@ w v) (@ w v))))
(defn vm [v w] (sum (sin (@ v w))))
(defn vv [u v] (@ u v))
(defn reductions [a]
  (+ (sum (mean a :axis 0)) (+ (sum (max a :axis 1)) (sum (* (sum a :axis 1 :keepdims True) a)))))
(defn reshaping [a] (sum (* (reshape (transpose a) [6]) (array [1.0 2.0 3.0 4.0 5.0 6.0]))))
(defn permuted [a] (sum (* (transpose a :axes [2 0 1]) (reshape (array [1.0 2.0 3.0 4.0 5.0 6.0]) [1 2 3]))))
(defn indexing [a] (+ (* (get a 0 1) (get a 1 2)) (sum (get a 1))))
(defn joined [a b] (sum (* (concat a b :axis 1) (concat b a :axis 1))))
(defn chosen [a b] (sum (where (> a b) (* a a) (* 3.0 b))))
(defn filled [x a] (sum (* (full [2 3] x) a)))
(defn zeroed [a] (+ (sum (zeros [2])) (mean (* a a))))
(defn lse [a] (logsumexp a))
(defn soft [a w] (sum (* (softmax a) w)))
(defn batched [a b] (sum (sin (@ a b))))
(defn sliced [a t] (+ (sum (* (cut a 1 3) (array [2.0 3.0]))) (* (get (cut t 1) 0) (get t 0))))
"""


def rng_array(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


class TestArrays:
    @pytest.mark.parametrize("name, args", [
        ("bcast", (rng_array(2, 3), rng_array(3, seed=1))),
        ("bcast", (rng_array(2, 3), rng_array(2, 1, seed=1))),
        ("bcast", (rng_array(3), 0.5)),
        ("mm", (rng_array(3, 4), rng_array(2, 3, seed=1))),
        ("mv", (rng_array(3, 4), rng_array(4, seed=1))),
        ("vm", (rng_array(3, seed=1), rng_array(3, 4))),
        ("vv", (rng_array(4), rng_array(4, seed=1))),
        ("reductions", (rng_array(3, 4),)),
        ("reshaping", (rng_array(2, 3),)),
        ("permuted", (rng_array(2, 3, 1),)),
        ("indexing", (rng_array(2, 3),)),
        ("joined", (rng_array(2, 2), rng_array(2, 2, seed=1))),
        ("chosen", (rng_array(3, 3), rng_array(3, 3, seed=1))),
        ("filled", (0.7, rng_array(2, 3))),
        ("zeroed", (rng_array(4),)),
        ("lse", (rng_array(5),)),
        ("soft", (rng_array(2, 4), rng_array(2, 4, seed=1))),
        ("batched", (rng_array(2, 3, 4), rng_array(4, 2, seed=1))),
        ("batched", (rng_array(3, 4), rng_array(2, 4, 3, seed=1))),
        ("sliced", (rng_array(4), (1.5, 2.5, 3.5))),
    ])
    def test_against_finite_differences(self, name, args):
        check_grad(load(ARRAYS), name, *args)

    def test_broadcast_gradient_has_the_argument_shape(self):
        m = load(ARRAYS + "(defn main [a b] ((grad bcast :wrt [0 1]) a b))")
        a, b = rng_array(2, 3), rng_array(3, seed=1)
        ga, gb = m.main(a, b)
        assert ga.shape == (2, 3) and gb.shape == (3,)
        np.testing.assert_allclose(ga, np.broadcast_to(b + 1, (2, 3)))
        np.testing.assert_allclose(gb, a.sum(axis=0))

    def test_matmul_by_hand(self):
        m = load(ARRAYS + "(defn main [w x] ((grad mm :wrt [0 1]) w x))")
        w, x = rng_array(3, 4), rng_array(2, 3, seed=1)
        gw, gx = m.main(w, x)
        d = 1 - np.tanh(x @ w) ** 2
        np.testing.assert_allclose(gw, x.T @ d)
        np.testing.assert_allclose(gx, d @ w.T)


MLP = """
(defn mlp-loss [params x y]
  (let [[w1 b1 w2 b2] params
        h (tanh (+ (@ x w1) b1))
        out (+ (@ h w2) b2)]
    (mean (square (- out y)))))

(defn logistic-loss [w b x y]
  (let [p (sigmoid (+ (@ x w) b))]
    (neg (mean (+ (* y (log p)) (* (- 1.0 y) (log (- 1.0 p))))))))

(defn main [params x y] ((grad mlp-loss) params x y))
(defn logistic [w b x y] ((grad logistic-loss :wrt [0 1]) w b x y))
"""


def mlp_numpy(params, x, y):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2 * (out - y) / out.size
    d_h = d_out @ w2.T * (1 - h ** 2)
    return (x.T @ d_h, d_h.sum(axis=0), h.T @ d_out, d_out.sum(axis=0))


class TestModels:
    def test_tanh_mlp_against_numpy(self):
        m = load(MLP)
        params = (rng_array(4, 5), rng_array(5, seed=1), rng_array(5, 2, seed=2),
                  rng_array(2, seed=3))
        x, y = rng_array(8, 4, seed=4), rng_array(8, 2, seed=5)
        got = m.main(params, x, y)
        for g, w in zip(got, mlp_numpy(params, x, y)):
            np.testing.assert_allclose(g, w, rtol=1e-10)
        check_grad(m, "mlp-loss", params, x, y, wrt=[0])

    def test_logistic_regression_against_numpy(self):
        m = load(MLP)
        w, b = rng_array(3), 0.1
        x = rng_array(10, 3, seed=1)
        y = (rng_array(10, seed=2) > 0).astype(float)
        gw, gb = m.logistic(w, b, x, y)
        p = 1 / (1 + np.exp(-(x @ w + b)))
        np.testing.assert_allclose(gw, x.T @ (p - y) / len(y), rtol=1e-10)
        np.testing.assert_allclose(gb, (p - y).mean(), rtol=1e-10)


# -- higher order -------------------------------------------------------------------------------

HIGHER = CONTROL + CLOSURES + """
(defn cube [x] (* x (* x x)))
(defn g-if [x] (piecewise x))
(defn g-loop [x] (pw x 4))
(defn g-clo [x] (captured-twice x))
(defn g-tree [x] (tree-prod [[x (* x x)] (sin x)]))
(defn d1 [f] (grad f))
"""


def nth(name, n):
    expr = name
    for _ in range(n):
        expr = f"(grad {expr})"
    return expr


class TestHigherOrder:
    @pytest.mark.parametrize("name, x, derivs", [
        # value, then 1st to 4th derivatives, by hand
        ("cube", 1.5, [3.375, 6.75, 9.0, 6.0, 0.0]),
        ("g-if", 0.8, [0.512, 1.92, 4.8, 6.0, 0.0]),
        ("g-if", -0.8, [math.sin(-0.8), math.cos(-0.8), -math.sin(-0.8), -math.cos(-0.8),
                        math.sin(-0.8)]),
        ("g-loop", 1.2, [1.2 ** 4, 4 * 1.2 ** 3, 12 * 1.2 ** 2, 24 * 1.2, 24.0]),
        ("g-clo", 0.9, [2 * 0.9 ** 2, 4 * 0.9, 4.0, 0.0, 0.0]),
    ])
    def test_derivatives_to_fourth_order(self, name, x, derivs):
        m = load(HIGHER + "\n".join(f"(defn d{k}-{name} [x] ({nth(name, k)} x))"
                                    for k in range(1, 5)))
        got = [m[name](x)] + [m[f"d{k}-{name}"](x) for k in range(1, 5)]
        np.testing.assert_allclose(got, derivs, rtol=1e-9, atol=1e-9)
        # and each order against finite differences of the one before
        for k in range(1, 5):
            prev = m[name] if k == 1 else m[f"d{k - 1}-{name}"]
            fd = (prev(x + 1e-5) - prev(x - 1e-5)) / 2e-5
            np.testing.assert_allclose(got[k], fd, rtol=1e-4, atol=1e-5)

    def test_recursion_over_trees_third_order(self):
        # g-tree = x * x^2 * sin x = x^3 sin x
        calls = " ".join(f"({nth('g-tree', k)} x)" for k in (1, 2, 3))
        m = load(HIGHER + f"(defn main [x] [{calls}])")
        x = 0.7
        s, c = math.sin(x), math.cos(x)
        want = [3 * x * x * s + x ** 3 * c,
                6 * x * s + 6 * x * x * c - x ** 3 * s,
                6 * s + 18 * x * c - 9 * x * x * s - x ** 3 * c]
        np.testing.assert_allclose(m.main(x), want, rtol=1e-9)

    def test_grad_of_a_function_returned_by_a_function(self):
        m = load(HIGHER + "(defn main [x] ((d1 (d1 cube)) x))")
        same(m.main(2.0), 12.0)


# -- jvp, vjp, forward over reverse ------------------------------------------------------------

class TestForwardAndVjp:
    def test_jvp(self):
        m = load(SCALAR + "(defn main [x y dx dy] (jvp mixed [x y] [dx dy]))")
        x, y, dx, dy = 0.4, 1.2, 0.3, -0.7
        v, t = m.main(x, y, dx, dy)
        gx, gy = load(SCALAR + "(defn main [x y] ((grad mixed :wrt [0 1]) x y))").main(x, y)
        np.testing.assert_allclose(t, gx * dx + gy * dy)
        same(v, m.mixed(x, y))

    def test_vjp_with_array_output(self):
        m = load("(defn f [a] (* a (sin a))) "
                 "(defn main [a ct] (let [[y back] (vjp f a)] [y (back ct)]))")
        a, ct = rng_array(3), rng_array(3, seed=1)
        y, (g,) = m.main(a, ct)
        np.testing.assert_allclose(y, a * np.sin(a))
        np.testing.assert_allclose(g, ct * (np.sin(a) + a * np.cos(a)))

    def test_hessian_vector_product_forward_over_reverse(self):
        m = load("""
            (defn f [v] (sum (* (sin v) (* v v))))
            (defn hvp [v u] (get (jvp (grad f) [v] [u]) 1))""")
        v, u = rng_array(3), rng_array(3, seed=1)
        # the Hessian of sum(sin(v) v^2) is diagonal
        h = (2 - v * v) * np.sin(v) + 4 * v * np.cos(v)
        np.testing.assert_allclose(m.hvp(v, u), h * u, rtol=1e-10)

    def test_reverse_over_forward(self):
        m = load("""
            (defn f [x] (* (exp x) (sin x)))
            (defn df [x] (get (jvp f [x] [1.0]) 1))
            (defn main [x] ((grad df) x))""")
        x = 0.6
        # f'' = 2 e^x cos x
        np.testing.assert_allclose(m.main(x), 2 * math.exp(x) * math.cos(x))


# -- perturbation confusion ------------------------------------------------------------------------

CONFUSION = """
(defn rr [x] ((grad (fn [y] (+ x y))) 1.0))
(defn outer-rr [x] ((grad (fn [x] (* x (rr x)))) x))
(defn ff [x] (get (jvp (fn [y] (+ x y)) [1.0] [1.0]) 1))
(defn outer-ff [x] (get (jvp (fn [x] (* x (ff x))) [x] [1.0]) 1))
(defn outer-rf [x] ((grad (fn [x] (* x (ff x)))) x))
(defn outer-fr [x] (get (jvp (fn [x] (* x (rr x))) [x] [1.0]) 1))
"""


@pytest.mark.parametrize("name", ["outer-rr", "outer-ff", "outer-rf", "outer-fr"])
@pytest.mark.parametrize("x", [0.0, 1.0, -2.5, 7.0])
def test_perturbation_confusion(name, x):
    # d/dx (x * d/dy (x + y)) = d/dx (x * 1) = 1 everywhere; confusing the
    # two perturbations gives 2
    same(load(CONFUSION)[name](x), 1.0)


# -- scale -----------------------------------------------------------------------------------------

def test_long_loop_differentiates():
    m = load("""
        (defn f [x n] (loop [i 0 acc 0.0] (if (< i n) (recur (+ i 1) (+ acc (* x 1e-5))) acc)))
        (defn main [x] ((grad f) x 100000))""")
    np.testing.assert_allclose(m.main(2.0), 1.0, rtol=1e-9)


def test_deep_recursion_differentiates():
    m = load("""
        (defn f [x n] (if (= n 0) 0.0 (+ (* x x) (f x (- n 1)))))
        (defn main [x] ((grad f) x 10000))""")
    np.testing.assert_allclose(m.main(0.5), 10000.0, rtol=1e-12)


# -- errors ----------------------------------------------------------------------------------------

class TestErrors:
    def test_non_scalar_output(self):
        m = load("(defn f [a] (* a 2.0))\n(defn main [a] ((grad f) a))")
        with pytest.raises(SxGradError, match="output is a scalar, got array f64.3. from f") \
                as info:
            m.main(np.ones(3))
        # the (grad f) form, not f's definition
        assert info.value.headline() == (
            "<string>:2:17: grad needs a function whose output is a scalar, got array f64[3] "
            "from f (use vjp for other outputs)")

    def test_primitive_without_rule(self):
        # f is a top-level function, so differentiate transforms it ahead of time
        with pytest.raises(SxGradError, match="primitive str has no derivative rule") as info:
            load("(defn f [x] (len (str x)))\n(defn main [] ((grad f) 1.0))")
        assert str(info.value).startswith("<string>:1:18:")

    def test_primitive_without_rule_in_a_local_function_ahead_of_time(self):
        # the lambda is known when the module compiles: it is transformed then
        with pytest.raises(SxGradError, match="primitive str has no derivative rule") as info:
            load("(defn main [k] ((grad (fn [x] (len (str (* x k))))) 1.0))")
        assert str(info.value).startswith("<string>:1:36:")   # the (str ...)

    def test_primitive_without_rule_in_a_function_passed_in_at_run_time(self):
        m = load("(defn d [f x] ((grad f) x))\n(defn g [x] (len (str (* x 2.0))))")
        with pytest.raises(SxGradError, match="primitive str has no derivative rule") as info:
            m.d(m.g, 1.0)
        assert str(info.value).startswith("<string>:2:18:")   # the (str ...)

    def test_constant_arguments_need_no_rule(self):
        # (str 1.5) sees no sensitivity, so it needs no derivative rule
        m = load("(defn f [x] (* x (float (len (str 1.5)))))\n(defn main [] ((grad f) 1.0))")
        same(m.main(), 3.0)

    @pytest.mark.parametrize("wrt, msg", [
        ("3", "index 3 out of range for a function of 2 arguments"),
        ("-1", "index -1 out of range"),
        ("[]", ":wrt must be an argument index or a tuple of them"),
        ("1.5", ":wrt must be an argument index"),
    ])
    def test_bad_wrt(self, wrt, msg):
        # a constant :wrt of a top-level function is checked when the module
        # compiles (differentiate writes the gradient function out), else at run time
        src = f"(defn f [x y] (* x y))\n(defn main [] ((grad f :wrt {wrt}) 1.0 2.0))"
        with pytest.raises(SxGradError, match=msg) as info:
            load(src).main()
        assert info.value.span is not None and info.value.span.line == 2
        with pytest.raises(SxGradError, match=msg) as info:
            load(src.replace("(grad f", "(grad (fn [x y] (f x y))")).main()
        assert info.value.span is not None and info.value.span.line == 2

    def test_not_a_function(self):
        m = load("(defn main [] ((grad 3.0) 1.0))")
        with pytest.raises(SxGradError, match="grad needs a function, got f64") as info:
            m.main()
        assert info.value.span is not None and info.value.span.col == 16

    @pytest.mark.parametrize("call, msg, col", [
        ("(let [[y back] (vjp f 2.0)] (back [1.0 2.0]))",
         "the cotangent given to vjp's back must have the structure of f64, got tuple of 2", 43),
        ("(jvp f [2.0] [1.0 2.0])",
         "jvp's tangents must have the structure of tuple of 1, got tuple of 2", 15),
        ("(jvp f 2.0 1.0)", "jvp's primals must be a tuple of 1 (one per argument), got f64", 15),
    ])
    def test_vjp_and_jvp_check_their_inputs(self, call, msg, col):
        m = load(f"(defn f [x] (* x x))\n(defn main [] {call})")
        with pytest.raises(SxGradError) as info:
            m.main()
        assert info.value.message == msg
        assert str(info.value).startswith(f"<string>:2:{col}:")

    def test_arity_mismatch_is_a_type_error(self):
        m = load("(defn f [x y] (* x y))\n(defn main [] ((grad f) 1.0))")
        with pytest.raises(SxTypeError, match="takes 2 arguments, got 1"):
            m.main()


# -- the rule table ---------------------------------------------------------------------------------

# Primitives the J transform handles itself (the makers), those with nothing
# to differentiate (%buf-new takes no argument), and those nothing
# differentiates (forms, symbols and strings exist at macro-expansion time).
BY_THE_TRANSFORM = {"%grad", "%value-and-grad", "%vjp", "%jvp", "%buf-new"}
NOT_DIFFERENTIABLE = {"list", "vector", "gensym", "unhygienic", "syntax-error", "str",
                      "symbol", "name", "symbol?", "keyword?", "string?", "list?", "vector?",
                      "%closure-tuple"}


def functions():
    return {n: p for n, p in PRIMS.items() if type(p) is Prim}


def rules():
    """Primitive name -> its derivative rule (a closure of the base library)."""
    from myia_sx.library import base_env

    env = base_env()
    return {n: env.globals[p.grad] for n, p in functions().items()
            if p.grad is not None and p.grad in env.globals}


def test_every_primitive_has_a_rule_or_is_accounted_for():
    from myia_sx.library import base_env

    named = {n for n, p in functions().items() if p.grad is not None}
    missing = sorted(named - set(rules()))
    assert not missing, f"primitives whose rule is not defined: {missing}"
    without = set(functions()) - named
    assert without == BY_THE_TRANSFORM | NOT_DIFFERENTIABLE, sorted(without)
    # and every rule the library defines belongs to a primitive's row
    env = base_env().globals
    defined = {n for n in env if n.startswith("%d/")
               and not (n.endswith("%J") and n[:-2] in env)}   # J-transforms made of rules
    assert defined == {PRIMS[n].grad for n in named}, sorted(defined ^ {PRIMS[n].grad
                                                                        for n in named})


def test_a_module_cannot_change_a_derivative():
    # the rule of * is found through its row, not by name in the user's module
    m = load("(defn d/* [x y out dout] [0.0 0.0]) (defn sq [x] (* x x))"
             "(defn main [] ((grad sq) 3.0))")
    same(m.main(), 6.0)
    with pytest.raises(myia_sx.SxNameError, match="reserved for the compiler") as info:
        load("(defn %d/* [x y out dout] [0.0 0.0])")
    assert info.value.span.col == 7


def test_every_primitive_used_in_a_rule_has_a_rule():
    from myia_sx.forms import Form, Symbol, Vec
    from myia_sx.library import base_env

    env = base_env()
    have = set(rules())
    seen = set()
    todo = list(rules().values())
    used_prims = set()
    while todo:
        c = todo.pop()
        if id(c) in seen or not hasattr(c, "code"):
            continue
        seen.add(id(c))
        stack = [c.code.fn_form]
        while stack:
            x = stack.pop()
            if type(x) is Symbol:
                if type(PRIMS.get(x.name)) is Prim and x.name not in env.globals:
                    used_prims.add(x.name)
                elif x.name in env.globals and hasattr(env.globals[x.name], "code"):
                    todo.append(env.globals[x.name])
            elif type(x) in (Form, Vec):
                stack.extend(x.items)
    assert used_prims, "found no primitives in the rules"
    missing = sorted(used_prims - have - {"quote"} - BY_THE_TRANSFORM)
    assert not missing, f"primitives used in derivative rules without a rule: {missing}"


# -- cost: primitive operations of the gradient against the function's ------------------------

# The primitives that do arithmetic; AD's bookkeeping (get, none?, env-get,
# unbroadcast of same-shaped values, ...) moves values around.  sens+ is an
# addition and counts.
ARITHMETIC = {"+", "-", "*", "/", "**", "neg", "exp", "log", "sin", "cos", "tan", "tanh",
              "sqrt", "abs", "max", "min", "sum", "mean", "@", "where", "<", "<=", ">", ">=",
              "=", "%sens+"}


@pytest.fixture
def op_counts(monkeypatch):
    """Count calls of every primitive (the base library is rebuilt with the
    counting implementations and put back afterwards)."""
    import collections

    from myia_sx import ad, library

    counts = collections.Counter()
    for name, p in functions().items():
        def counted(*a, _impl=p.impl, _name=name, **k):
            counts[_name] += 1
            return _impl(*a, **k)
        monkeypatch.setattr(p, "impl", counted)
    monkeypatch.setattr(library, "_base_env", None)
    monkeypatch.setattr(library, "_libraries", {})
    for cache in ("_prim_cache", "_maker_cache", "_record_cache"):
        monkeypatch.setattr(ad, cache, {})
    return counts


def arithmetic(counts):
    return sum(n for name, n in counts.items() if name in ARITHMETIC)


@pytest.mark.parametrize("src, args", [
    (SCALAR + "(defn f [x] (trig x))", (0.7,)),
    (SCALAR + "(defn f [x] (+ (poly x) (mixed x 1.5)))", (0.4,)),
    (CONTROL + "(defn f [x] (pw x 50))", (1.01,)),
    (CONTROL + "(defn f [x] (nested-loops x 10))", (1.01,)),
    (MLP.replace("(defn main", "(defn unused") + "(defn f [p x y] (mlp-loss p x y))",
     ((rng_array(4, 5), rng_array(5, seed=1), rng_array(5, 2, seed=2), rng_array(2, seed=3)),
      rng_array(8, 4, seed=4), rng_array(8, 2, seed=5))),
])
def test_gradient_costs_at_most_about_four_times_the_function(op_counts, src, args):
    m = load(src + "(defn g [] (grad f))")
    g = m.g()
    g(*args)                      # the first call compiles; count the second
    op_counts.clear()
    m.f(*args)
    primal = arithmetic(op_counts)
    op_counts.clear()
    g(*args)
    ratio = arithmetic(op_counts) / primal
    print(f"op-count ratio {ratio:.2f} ({primal} primal operations)")
    assert primal > 0 and ratio <= 4.0, (primal, dict(op_counts), ratio)


# -- docs/grad.md ------------------------------------------------------------------------------------

def test_docs_list_every_rule():
    from conftest import ROOT

    text = (ROOT / "docs" / "grad.md").read_text()
    missing = [n for n in rules() if f"| `{n}` |" not in text]
    assert not missing, f"rules missing from docs/grad.md: {missing}"


def test_docs_show_what_the_pass_prints():
    import re

    from conftest import ROOT
    from myia_sx import library, pipeline
    from myia_sx.printer import pretty

    text = (ROOT / "docs" / "grad.md").read_text()
    pairs = re.findall(r"```sx\n(.*?)```\n\n(?:[^`]*?)```sx-differentiate\n(.*?)```", text, re.S)
    assert len(pairs) == 2
    for src, shown in pairs:
        out = pipeline.compile_module(myia_sx.read(src), library.context(), "differentiate")
        assert "\n".join(pretty(f) for f in out) + "\n" == shown
        assert myia_sx.load_string(src).main() is not None


def test_primitives_passed_as_values_to_any_order():
    m = load("""
        (defn f [x] (tfold * 1.0 [x x x]))
        (defn g [x] (tfold (fn [a b] (+ a (* b b))) 0.0 (tmap sin [x (* 2.0 x)])))
        (defn main [x] [((grad f) x) ((grad (grad f)) x) ((grad (grad (grad f))) x)
                        ((grad g) x) ((grad (grad g)) x)])""")
    x = 1.5
    np.testing.assert_allclose(m.main(x), (
        3 * x * x, 6 * x, 6.0,
        2 * math.sin(x) * math.cos(x) + 4 * math.sin(2 * x) * math.cos(2 * x),
        2 * math.cos(2 * x) + 8 * math.cos(4 * x)), rtol=1e-12)


# -- from Python -------------------------------------------------------------------------------

class TestPythonAPI:
    def test_grad_of_a_module_function(self):
        m = load(MLP)
        params = (rng_array(4, 5), rng_array(5, seed=1), rng_array(5, 2, seed=2),
                  rng_array(2, seed=3))
        x, y = rng_array(8, 4, seed=4), rng_array(8, 2, seed=5)
        got = myia_sx.grad(m.mlp_loss)(params, x, y)
        for g, w in zip(got, mlp_numpy(params, x, y)):
            np.testing.assert_allclose(g, w, rtol=1e-10)

    def test_wrt_value_and_grad_vjp_jvp_and_nesting(self):
        m = load("(defn f [x y] (* x (sin y)))")
        same(myia_sx.grad(m.f, wrt=(0, 1))(2.0, 0.0), (0.0, 2.0))
        v, g = myia_sx.value_and_grad(m.f, wrt=1)(2.0, 0.0)
        same((v, g), (0.0, 2.0))
        y, back = myia_sx.vjp(m.f, 2.0, 0.5)
        np.testing.assert_allclose(back(1.0), (math.sin(0.5), 2.0 * math.cos(0.5)))
        same(myia_sx.jvp(m.f, (2.0, 0.0), (1.0, 1.0)), (0.0, 2.0))
        d2 = myia_sx.grad(myia_sx.grad(m.f, wrt=1), wrt=1)
        np.testing.assert_allclose(d2(2.0, 0.5), -2.0 * math.sin(0.5))

    def test_errors(self):
        m = load("(defn f [x y] (* x y))")
        with pytest.raises(SxTypeError, match="needs a function of an sx module"):
            myia_sx.grad(lambda x: x)
        with pytest.raises(SxGradError, match=":wrt index 5 out of range"):
            myia_sx.grad(m.f, wrt=5)


def test_module_definitions_cannot_shadow_what_grad_generates():
    m = load("""
        (defn J [x] 42.0)
        (defn get [x] 1.0)
        (defn none? [x] 3)
        (defn g [x] (sin x))
        (defn main [k] [(J 1) ((grad (fn [x] (* (g x) k))) 3.0) ((grad g) 1.0)])""")
    got = m.main(2.0)
    np.testing.assert_allclose(got, (42.0, 2 * math.cos(3.0), math.cos(1.0)))


def test_bad_calls_under_grad_fail_when_they_run():
    # found by the fuzzer: a maker with no argument, and a keyword the callee
    # lacks, in a function differentiated ahead of time, are the run's errors
    m = load("(defn f [a] (number? (%jvp :axis 0)))\n"
             "(defn g [z] (sum (log-softmax z :axis 1)))\n"
             "(defn main [] ((value-and-grad f) 1.0))\n"
             "(defn main2 [] ((grad g) (ones [2 3])))")
    with pytest.raises(SxTypeError, match="%jvp takes 1 argument, got 0"):
        m.main()
    with pytest.raises(SxTypeError, match="log-softmax has no parameter named axis"):
        m.main2()


def test_a_function_that_differentiates_itself_through_recursion_loads():
    # found by the fuzzer: f calls (grad g) and g calls f asks for J-transforms
    # of every order; those above MAX_AHEAD_ORDER are made when they run
    m = load("(defn g [x] (if (> x 10.0) x (* x (f x))))\n"
             "(defn f [x] ((grad g) (+ x 4.0)))")
    same(m.f(7.0), 1.0)
    same(m.g(1.0), 1.0 * m.f(1.0))


@pytest.mark.parametrize("x", [0.7, -0.7])
def test_fifth_order_through_a_branch(x):
    # made ahead of time up to order 4, at run time beyond; and through
    # functions passed as values, transformed at run time at every order
    m = load("(defn g [x] (if (> x 0.0) (* x (* x x)) (sin x)))\n"
             "(defn d [f x] ((grad f) x))\n"
             "(defn aot [x] ((grad (grad (grad (grad (grad g))))) x))\n"
             "(defn passed [x] (d (fn [w] (d (fn [y] (d (fn [z] (d (grad g) z)) y)) w)) x))")
    want = 0.0 if x > 0 else math.cos(x)   # (x^3)''''' = 0, sin''''' = cos
    same(m.aot(x), want)
    same(m.passed(x), want)


def test_a_keyword_argument_of_a_primitive_reaches_its_rule_as_a_value():
    # (zeros [n] :dtype :i64) under grad: the rule takes :i64 by position
    m = load("(defn h [n] (+ 1 (sum (zeros [n] :dtype :i64))))\n"
             "(defn f [x] (* x (float (h 2))))\n"
             "(defn ddf [x] ((grad (grad f)) x))")
    assert myia_sx.grad(m.f)(2.0) == 1.0
    assert m.ddf(2.0) == 0.0
