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
(defn fit3 [p x y] (fit loss adam-update (adam 0.01) p (adam-init p) x y 5 3))
(defn fit-halves [p x y] (fit-epoch loss sgd-update (sgd 0.1 0.0) p (sgd-init p) x y 2))
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


def test_fit_is_the_optimizer_over_minibatches(m):
    p = params(m)
    x, y = data()
    # one minibatch of all 5 examples per epoch: fit is 3 steps of Adam
    got, state = m.fit3(p, x, y)
    want, _ = m.adam_steps(m.adam(0.01), p, x, y, 3)
    for a, b in zip(leaves(got), leaves(want)):
        np.testing.assert_array_equal(a, b)
    assert state.count == 3.0
    # minibatches of 2: two SGD steps (the fifth example left out)
    got, _ = m.fit_halves(p, x, y)
    want = leaves(p)
    for k in (0, 2):
        g = numpy_loss_grad(want, x[k:k + 2], y[k:k + 2])
        want = [w - 0.1 * gi for w, gi in zip(want, g)]
    for a, b in zip(leaves(got), want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


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


# -- the layers of macros/layers.sx -----------------------------------------------------------

LAYERS = myia_sx.load_string("""
(require macros.layers)
(defn dense-loss [p x] (sum (sin (dense-apply p x))))
(defn embedding-loss [p ids] (sum (sin (embedding-apply p ids))))
(defn layer-norm-loss [p x] (sum (sin (layer-norm-apply p x))))
(defn rnn-loss [p h x] (sum (sin (rnn-cell-apply p h x))))
(defn lstm-loss [p state x] (let [[h c] (lstm-cell-apply p state x)] (+ (sum (sin h)) (sum (cos c)))))
(defn init-all [seed]
  (let [ks (split (key seed) 5)]
    [(dense-init (get ks 0) 3 2) (embedding-init (get ks 1) 5 4) (layer-norm-init (get ks 2) 4)
     (rnn-cell-init (get ks 2) 3 4) (lstm-cell-init (get ks 3) 3 4)]))
(defn drop [seed rate x] (dropout (key seed) rate x))
(defn conv-loss [p x] (sum (sin (conv-apply p x))))
(defn pools [x] [(max-pool x 2) (avg-pool x 2)])
(defn pool-loss [x] (+ (sum (sin (max-pool x 2))) (sum (cos (avg-pool x 3)))))
(defn conv-init-0 [] (conv-init (key 0) 3 2 2 3))
(defn conv-x-grad [p x] ((grad conv-loss :wrt 1) p x))
(defn conv-second [p x] ((grad (fn [q] (sum (sin (. ((grad conv-loss) q x) W))))) p))
""", filename="layers.sx")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_forward(name, p, *inputs):
    """Each layer's forward pass, written with numpy."""
    if name == "dense":
        return inputs[0] @ p.W + p.b
    if name == "embedding":
        return p.table[inputs[0]]
    if name == "layer-norm":
        x = inputs[0]
        mu = x.mean(-1, keepdims=True)
        return p.gain * (x - mu) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + p.bias
    if name == "rnn":
        h, x = inputs
        return np.tanh(x @ p.Wx + h @ p.Wh + p.b)
    (h, c), x = inputs
    gate = [x @ p.Wx[k] + h @ p.Wh[k] + p.b[k] for k in range(4)]
    c2 = sigmoid(gate[1]) * c + sigmoid(gate[0]) * np.tanh(gate[2])
    return (sigmoid(gate[3]) * np.tanh(c2), c2)


def finite_difference(f, p, field, eps=1e-6):
    """The gradient of f with respect to field of record p, by central differences."""
    base = getattr(p, field)
    g = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        for sign in (1, -1):
            w = base.copy()
            w[i] += sign * eps
            values = {n: getattr(p, n) for n in p._sx_type.fields}
            g[i] += sign * f(type(p)(**{**values, field: w})) / (2 * eps)
    return g


@pytest.mark.parametrize("name", ["dense", "embedding", "layer-norm", "rnn", "lstm"])
def test_each_layer_against_numpy_and_finite_differences(name):
    dense, emb, ln, rnn, lstm = LAYERS.init_all(0)
    rng = np.random.default_rng(2)
    x3, x4 = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    ln = LAYERS.layer_norm(rng.normal(size=4), rng.normal(size=4))
    p, inputs, apply, loss = {
        "dense": (dense, (x3,), "dense-apply", "dense-loss"),
        "embedding": (emb, (np.array([1, 4, 1]),), "embedding-apply", "embedding-loss"),
        "layer-norm": (ln, (x4,), "layer-norm-apply", "layer-norm-loss"),
        "rnn": (rnn, (x4, x3), "rnn-cell-apply", "rnn-loss"),
        "lstm": (lstm, ((x4, rng.normal(size=(2, 4))), x3), "lstm-cell-apply", "lstm-loss"),
    }[name]
    want = numpy_forward(name, p, *inputs)
    got = LAYERS[apply](p, *inputs)
    for a, b in zip(got, want) if name == "lstm" else [(got, want)]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    grad = myia_sx.grad(LAYERS[loss])(p, *inputs)
    assert type(grad) is type(p)
    f = lambda q: LAYERS[loss](q, *inputs)   # noqa: E731
    for field in p._sx_type.fields:
        np.testing.assert_allclose(getattr(grad, field), finite_difference(f, p, field),
                                   rtol=1e-6, atol=1e-7)


def test_initializers_have_their_shapes_and_scales():
    dense, emb, ln, rnn, lstm = LAYERS.init_all(0)
    assert dense.W.shape == (3, 2) and np.array_equal(dense.b, np.zeros(2))
    assert emb.table.shape == (5, 4) and lstm.Wx.shape == (4, 3, 4)
    np.testing.assert_array_equal(lstm.b[1], np.ones(4))
    np.testing.assert_array_equal(ln.gain, np.ones(4))
    big = myia_sx.load_string("(require macros.layers) (defn w [] (. (dense-init (key 3) 400 300) W))").w()
    assert abs(big.std() * np.sqrt(400) - 1.0) < 0.02
    # the same key, the same parameters
    np.testing.assert_array_equal(LAYERS.init_all(0)[3].Wh, rnn.Wh)


def test_dropout_keeps_the_mean():
    x = np.ones((200, 100))
    y = LAYERS.drop(5, 0.3, x)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    np.testing.assert_array_equal(LAYERS.drop(5, 0.3, x), y)


def numpy_conv(x, w):
    n, h, wd, _ = x.shape
    kh, kw, _, f = w.shape
    out = np.zeros((n, h - kh + 1, wd - kw + 1, f))
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            out[:, i, j] = np.einsum("nklc,klcf->nf", x[:, i:i + kh, j:j + kw], w)
    return out


def test_the_conv_layer_against_numpy_and_finite_differences():
    p = LAYERS.conv_init_0()
    assert p.W.shape == (3, 2, 2, 3) and np.array_equal(p.b, np.zeros(3))
    p = LAYERS.conv(p.W, np.random.default_rng(1).normal(size=3))
    x = np.random.default_rng(2).normal(size=(2, 5, 4, 2))
    np.testing.assert_allclose(LAYERS.conv_apply(p, x), numpy_conv(x, p.W) + p.b,
                               rtol=1e-12, atol=1e-12)
    f = lambda q: LAYERS.conv_loss(q, x)   # noqa: E731
    g = myia_sx.grad(LAYERS.conv_loss)(p, x)
    for field in ("W", "b"):
        np.testing.assert_allclose(getattr(g, field), finite_difference(f, p, field),
                                   rtol=1e-6, atol=1e-7)
    dx = LAYERS.conv_x_grad(p, x)
    fx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        fx[i] = (LAYERS.conv_loss(p, x + e) - LAYERS.conv_loss(p, x - e)) / 2e-6
    np.testing.assert_allclose(dx, fx, rtol=1e-6, atol=1e-7)


def test_the_conv_layers_second_derivative_against_finite_differences():
    # the derivative rules of conv2d's adjoints, against differences of the gradient
    p = LAYERS.conv(np.random.default_rng(3).normal(size=(2, 2, 1, 2)), np.zeros(2))
    x = np.random.default_rng(4).normal(size=(1, 3, 3, 1))
    got = LAYERS.conv_second(p, x)

    def first(q):
        return float(np.sum(np.sin(myia_sx.grad(LAYERS.conv_loss)(q, x).W)))
    np.testing.assert_allclose(got.W, finite_difference(first, p, "W"), rtol=1e-5, atol=1e-7)


def test_pooling_against_numpy_and_finite_differences():
    x = np.random.default_rng(5).normal(size=(2, 6, 6, 3))
    mx, av = LAYERS.pools(x)
    windows = x.reshape(2, 3, 2, 3, 2, 3)
    np.testing.assert_array_equal(mx, windows.max(axis=(2, 4)))
    np.testing.assert_allclose(av, windows.mean(axis=(2, 4)), rtol=1e-12)
    g = myia_sx.grad(LAYERS.pool_loss)(x)
    fx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        fx[i] = (LAYERS.pool_loss(x + e) - LAYERS.pool_loss(x - e)) / 2e-6
    np.testing.assert_allclose(g, fx, rtol=1e-5, atol=1e-7)


def test_the_cnn_example_learns_the_digits():
    # examples/digits_cnn.sx at reduced size (3 epochs instead of 15)
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    m = myia_sx.load(root / "examples" / "digits_cnn.sx")
    with np.load(root / "examples" / "data" / "digits.npz") as f:
        data = tuple(f[name] for name in f.files)
    out = m.main(data, 3)
    figures = dict(zip([k.name for k in out[0::2]], out[1::2]))
    assert figures["epochs"] == 3 and figures["test-accuracy"] > 0.93
    assert figures["train-loss"] < 0.3


def test_a_trained_model_reloads_in_a_fresh_process_and_predicts_the_same(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    m = myia_sx.load(root / "examples" / "digits.sx")
    with np.load(root / "examples" / "data" / "digits.npz") as f:
        x, y = f["x_train"][:256] / 16.0, f["y_train"][:256]
    p = m.mlp_init(m.key(0))
    trained, state = m.evaluate("fit")(m.loss, m.evaluate("adam-update"), m.evaluate("(adam 0.01)"),
                                       p, m.evaluate("adam-init")(p), x, y, 32, 2)
    m.export("logits", tmp_path / "model.sx")
    myia_sx.save_params(tmp_path / "params.npz", (trained, state, 3.5))
    np.save(tmp_path / "x.npy", x[:10])
    code = ("import numpy as np, myia_sx\n"
            "m = myia_sx.load('model.sx', trusted=False)\n"
            "p, state, k = m.load_params('params.npz')\n"
            "assert k == 3.5 and state.count == 16.0\n"
            "np.save('out.npy', m.logits(p, np.load('x.npy')))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), m.logits(trained, x[:10]))


def test_loading_parameters_needs_their_record_types(tmp_path):
    myia_sx.save_params(tmp_path / "p.npz", LAYERS.init_all(0))
    assert type(LAYERS.load_params(tmp_path / "p.npz")[0]) is type(LAYERS.init_all(0)[0])
    with pytest.raises(myia_sx.SxTypeError, match="defines no record type dense") as e:
        myia_sx.load_string("(def x 1)").load_params(tmp_path / "p.npz")
    assert e.value.span.file.endswith("test_nn.py")    # the Python call
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(myia_sx.SxTypeError, match="holds no parameter tree"):
        LAYERS.load_params(tmp_path / "plain.npz")
    with pytest.raises(myia_sx.SxTypeError, match="cannot save a str"):
        myia_sx.save_params(tmp_path / "bad.npz", ("a", 1.0))


SEQUENTIAL = """
(require macros.layers)
(deflayer scale [s] [x] (* s x))
(defn scale-init [k] (scale 2.0))
(sequential net [:hidden (dense 3 4) relu :norm (layer-norm 4) (* 0.5) :gain scale
                 :out (dense 4 2)])
(defn net-loss [p x] (sum (sin (net-apply p x))))
"""


def test_sequential_composes_layers_and_steps_and_initializes_each_layer():
    m = myia_sx.load_string(SEQUENTIAL, filename="seq.sx")
    p = m.net_init(m.key(7))
    assert type(p).__name__ == "net" and p._sx_type.fields == ("hidden", "norm", "gain", "out")
    assert p.hidden.W.shape == (3, 4) and p.out.W.shape == (4, 2)
    np.testing.assert_array_equal(p.norm.gain, np.ones(4))
    # each layer from its own key: the two dense layers differ, and a key gives the same net
    assert not np.allclose(p.hidden.W[:2, :2], p.out.W[:2])
    np.testing.assert_array_equal(m.net_init(m.key(7)).out.W, p.out.W)
    x = np.random.default_rng(0).normal(size=(5, 3))
    h = np.maximum(x @ p.hidden.W + p.hidden.b, 0.0)
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)
    assert p.gain.s == 2.0
    want = (2.0 * (0.5 * (p.norm.gain * h + p.norm.bias))) @ p.out.W + p.out.b
    np.testing.assert_allclose(m.net_apply(p, x), want, rtol=1e-12, atol=1e-12)
    g = myia_sx.grad(m.net_loss)(p, x)
    assert type(g) is type(p) and type(g.out) is type(p.out)
    f = lambda q: m.net_loss(q, x)   # noqa: E731
    assert g.gain.s == pytest.approx((f(p._replace(gain=m.scale(2.0 + 1e-6)))
                                      - f(p._replace(gain=m.scale(2.0 - 1e-6)))) / 2e-6, rel=1e-6)
    for layer in ("hidden", "out"):
        sub = getattr(p, layer)
        for field in ("W", "b"):
            def through(s, layer=layer):
                return f(type(p)(**{**{n: getattr(p, n) for n in p._sx_type.fields}, layer: s}))
            np.testing.assert_allclose(getattr(getattr(g, layer), field),
                                       finite_difference(through, sub, field),
                                       rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("src, message, col", [
    ("(sequential 3 [:a dense])", "sequential needs a name", 1),  # a number has no span
    ("(sequential n (:a dense))", "takes a name and a vector of steps", 13),
    ("(sequential n [relu])", "needs at least one :field and its layer", 15),
    ("(sequential n [relu :out])", "the layer field has no layer after it", 21),
    ("(sequential n [:out 3])", "a layer field is followed by a layer type", 16),
    ("(sequential n [:a dense [1 2]])", "a step is a :field and its layer", 25),
])
def test_a_malformed_sequential_is_a_located_syntax_error(src, message, col):
    with pytest.raises(myia_sx.SxSyntaxError, match=message) as e:
        myia_sx.load_string("(require macros.layers)\n" + src, filename="s.sx")
    assert (e.value.span.line, e.value.span.col) == (2, col)
