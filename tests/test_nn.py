"""Model building in the language: trees over tuples and records (the
records deflayer and defmodel make), and the optimizers of
prelude/optim.sx against their steps written with numpy."""

import numpy as np
import pytest

import myia_sx

SRC = """
(require macros.nn)
(deflayer dense [W b] [x] (tanh (+ (@ x W) b)))
(defmodel mlp [hidden dense out dense])
(defn loss [p x y] (mean (* (- (mlp-apply p x) y) (- (mlp-apply p x) y))))
(defn dloss [p x y] ((grad loss) p x y))
(defn scale [t k] (tree-map (fn [l] (* k l)) t))
(defn add [a b] (tree-map2 + a b))
(defn fma [a b c] (tree-map3 (fn [x y z] (+ x (* y z))) a b c))
(defn count-leaves [t] (tree-reduce (fn [n l] (+ n 1)) 0 t))
(defn sgd-steps [opt p x y n]
  (loop [i 0 p p s (sgd-init p)]
    (if (< i n)
        (let [[p2 s2] (sgd-update opt p (dloss p x y) s)] (recur (+ i 1) p2 s2))
        [p s])))
(defn adam-steps [opt p x y n]
  (loop [i 0 p p s (adam-init p)]
    (if (< i n)
        (let [[p2 s2] (adam-update opt p (dloss p x y) s)] (recur (+ i 1) p2 s2))
        [p s])))
"""


@pytest.fixture(scope="module")
def m():
    return myia_sx.load_string(SRC, filename="nn.sx")


def params(m, seed=0):
    rng = np.random.default_rng(seed)
    return m.mlp(m.dense(rng.normal(size=(3, 4)) * 0.5, rng.normal(size=4) * 0.1),
                 m.dense(rng.normal(size=(4, 2)) * 0.5, rng.normal(size=2) * 0.1))


def leaves(p):
    return [p.hidden.W, p.hidden.b, p.out.W, p.out.b]


def data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(5, 3)), rng.normal(size=(5, 2))


def test_trees_go_through_records_and_keep_their_types(m):
    p = params(m)
    q = m.scale(p, 2.0)
    assert type(q) is type(p) and type(q.hidden) is type(p.hidden)
    for a, b in zip(leaves(q), leaves(p)):
        np.testing.assert_array_equal(a, 2.0 * b)
    for a, b in zip(leaves(m.add(p, q)), leaves(p)):
        np.testing.assert_allclose(a, 3.0 * b)
    for a, b in zip(leaves(m.fma(p, q, p)), leaves(p)):
        np.testing.assert_allclose(a, b + 2.0 * b * b)
    assert m.count_leaves(p) == 4
    assert m.count_leaves((1.0, (p, np.ones(2)))) == 6
    z = m.evaluate("(zeros-like [1.5 (array [1.0 2.0])])")
    assert z[0] == 0.0 and np.array_equal(z[1], np.zeros(2))
    # a tree sum over a model record; and its gradient is a record of ones
    total = sum(float(np.sum(a)) for a in leaves(p))
    assert abs(m.evaluate("(tree-sum (mlp (dense (ones [3 4]) (ones [4])) "
                          "(dense (ones [4 2]) (ones [2]))))") - 26.0) < 1e-12
    assert np.isfinite(total)


def test_tree_functions_specialize_to_the_tree_type(m):
    p = params(m)
    sp = m.scale.specialize(p, 2.0)
    assert "record mlp" in sp.signature() and "tuple?" not in str(sp.program)


def numpy_loss_grad(p, x, y):
    """The MLP's loss gradient by hand (an oracle independent of grad)."""
    W1, b1, W2, b2 = p
    h = np.tanh(x @ W1 + b1)
    o = np.tanh(h @ W2 + b2)
    do = 2.0 * (o - y) / o.size
    dz2 = do * (1 - o ** 2)
    dh = dz2 @ W2.T
    dz1 = dh * (1 - h ** 2)
    return [x.T @ dz1, dz1.sum(0), h.T @ dz2, dz2.sum(0)]


def test_the_gradient_of_a_model_is_a_model_record(m):
    p = params(m)
    x, y = data()
    g = m.dloss(p, x, y)
    assert type(g) is type(p)
    for a, b in zip(leaves(g), numpy_loss_grad(leaves(p), x, y)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_sgd_with_momentum_is_torchs_step(m):
    p = params(m)
    x, y = data()
    got, state = m.sgd_steps(m.sgd(0.1, 0.9), p, x, y, 3)
    want, v = leaves(p), [np.zeros_like(a) for a in leaves(p)]
    for _ in range(3):
        g = numpy_loss_grad(want, x, y)
        v = [0.9 * vi + gi for vi, gi in zip(v, g)]
        want = [w - 0.1 * vi for w, vi in zip(want, v)]
    for a, b in zip(leaves(got), want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(leaves(state.velocity), v):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_and_adamw_are_torchs_steps(m, weight_decay):
    p = params(m)
    x, y = data()
    opt = m.adam(0.01) if weight_decay == 0.0 else m.adamw(0.01, weight_decay)
    got, state = m.adam_steps(opt, p, x, y, 4)
    want = leaves(p)
    mom = [np.zeros_like(a) for a in want]
    vel = [np.zeros_like(a) for a in want]
    for t in range(1, 5):
        g = numpy_loss_grad(want, x, y)
        mom = [0.9 * a + 0.1 * gi for a, gi in zip(mom, g)]
        vel = [0.999 * a + 0.001 * gi * gi for a, gi in zip(vel, g)]
        want = [w - 0.01 * ((a / (1 - 0.9 ** t)) / (np.sqrt(b / (1 - 0.999 ** t)) + 1e-8)
                            + weight_decay * w)
                for w, a, b in zip(want, mom, vel)]
    assert state.count == 4.0
    for a, b in zip(leaves(got), want):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_training_lowers_the_loss(m):
    p = params(m)
    x, y = data()
    y = np.tanh(y) * 0.5
    trained, _ = m.adam_steps(m.adam(0.05), p, x, y, 60)
    assert m.loss(trained, x, y) < 0.2 * m.loss(p, x, y)


def test_an_optimizer_on_mismatched_trees_is_a_located_error(m):
    with pytest.raises(myia_sx.SxError) as e:
        m.evaluate("(sgd-update (sgd 0.1 0.0) [1.0 2.0] [1.0] (sgd-init [1.0 2.0]))")
    assert e.value.span is not None
