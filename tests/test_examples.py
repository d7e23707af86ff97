"""The character-level LSTM (examples/char_lstm.py) and the TreeRNN
(examples/treernn.py) at reduced size: they learn, and the gradients of
their losses agree with finite differences."""

import sys

import numpy as np
import pytest
from conftest import ROOT

import myia_sx

sys.path.insert(0, str(ROOT / "examples"))
import char_lstm  # noqa: E402
import treernn  # noqa: E402


def finite_difference_check(loss, p, leaves, rng, count=6, eps=1e-6):
    """The gradient of loss at p (a record tree) against central
    differences at count random coordinates of each named leaf."""
    g = myia_sx.grad(loss)(p)
    for path in leaves:
        a = p
        for name in path.split("."):
            a = getattr(a, name)
        ga = g
        for name in path.split("."):
            ga = getattr(ga, name)
        for _ in range(count):
            i = tuple(rng.integers(n) for n in a.shape)
            old = a[i]
            a[i] = old + eps
            up = loss(p)
            a[i] = old - eps
            down = loss(p)
            a[i] = old
            assert ga[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8), path


def test_the_char_lstm_learns_and_samples():
    figures, sample = char_lstm.main(2, progress=False)
    assert figures["held_out_bits_per_char"] < figures["frequencies_bits_per_char"] - 0.5
    text = (ROOT / "examples" / "data" / "sonnets.txt").read_text(encoding="utf-8")
    assert len(sample) == 208 and sample.startswith("Shall I ") and set(sample) <= set(text)


def test_the_char_lstm_gradient_against_finite_differences():
    m = myia_sx.load(ROOT / "examples" / "char_lstm.sx")
    rng = np.random.default_rng(0)
    x, y = rng.integers(5, size=(2, 4)), rng.integers(5, size=(2, 4))
    p = m.lm_init(m.key(3), 5, 3)
    loss = m.evaluate("(fn [x y] (fn [p] (loss p x y)))")(x, y)
    finite_difference_check(loss, p, ["embed.table", "cell.Wx", "cell.Wh", "cell.b", "out.W"],
                            rng)
    # sampling draws from keys, not a global seed
    prime = np.array([1, 2], np.int64)
    a, b = (m.sample(p, m.key(k), prime, 30, 1.0) for k in (1, 2))
    assert a.shape == (30,) and a.min() >= 0 and a.max() < 5 and not np.array_equal(a, b)
    np.testing.assert_array_equal(m.sample(p, m.key(1), prime, 30, 1.0), a)


def test_the_treernn_learns_phrases_deeper_than_it_saw():
    figures, examples = treernn.main(4, 300, 100, progress=False, lr=0.03)
    assert figures["test_accuracy"] >= 0.75 and figures["train_accuracy"] >= 0.8
    assert len(examples) == 5 and all(label in ("positive", "negative") for _, label in examples)


def test_the_treernn_gradient_against_finite_differences():
    m = myia_sx.load(ROOT / "examples" / "treernn.sx")
    rng = np.random.default_rng(1)
    trees, labels, _ = treernn.dataset(np.random.default_rng(2), 3, 3, set())
    assert any(type(t) is tuple for t in trees)
    p = m.tree_net_init(m.key(0), len(treernn.WORDS), 4, 2)
    loss = m.evaluate("(fn [ts ls] (fn [p] (loss p ts ls)))")(trees, labels)
    finite_difference_check(loss, p, ["words.table", "combine.W", "combine.b", "out.W"], rng)


def test_a_tree_with_an_unknown_word_is_a_located_error():
    m = myia_sx.load(ROOT / "examples" / "treernn.sx")
    p = m.tree_net_init(m.key(0), len(treernn.WORDS), 4, 2)
    with pytest.raises(myia_sx.SxError) as e:
        m.logits(p, (1, (2, 40)))
    assert "treernn.sx" in str(e.value) and "40" in str(e.value)
