"""Random numbers (prelude/random.sx, the threefry2x32 primitive): the
cipher's published answers, JAX's keys and uniforms, reproducibility, the
distributions, and the types inference gives them."""

import numpy as np
import pytest

import myia_sx
from myia_sx.prims import PRIMS

THREEFRY = PRIMS["threefry2x32"].impl
F = 0xFFFFFFFF


@pytest.mark.parametrize("key, counter, want", [
    # the known answers of Threefry-2x32-20 (Random123's kat_vectors)
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((F, F), (F, F), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_threefry_gives_the_published_answers(key, counter, want):
    got = THREEFRY(np.array(key, np.int64), np.array(counter, np.int64))
    assert tuple(int(v) for v in got) == want


@pytest.fixture(scope="module")
def m():
    return myia_sx.load_string(
        "(defn keys [seed n] (split (key seed) n))\n"
        "(defn fold [seed d] (fold-in (key seed) d))\n"
        "(defn u [seed shape] (uniform (key seed) shape))\n"
        "(defn n [seed shape] (normal (key seed) shape))\n"
        "(defn b [seed p shape] (bernoulli (key seed) p shape))\n"
        "(defn u34 [seed] (uniform (key seed) [3 4]))\n"
        "(defn c [seed logits] (categorical (key seed) logits))\n"
        "(defn two-draws [seed] (let [ks (split (key seed) 2)]\n"
        "  [(uniform (get ks 0) [3]) (uniform (get ks 1) [3])]))", filename="r.sx")


def test_keys_and_uniforms_are_jaxs(m):
    # the values of jax.random (0.10, 64-bit floats) for PRNGKey(42)
    assert m.keys(42, 3).tolist() == [[1832780943, 270669613], [64467757, 2916123636],
                                      [2465931498, 255383827]]
    assert m.fold(42, 7).tolist() == [2547012911, 1371500959]
    np.testing.assert_array_equal(
        m.u(42, (2, 2)), [[0.4267275666499091, 0.015010069515314584],
                          [0.5741444178995352, 0.7298188969046309]])


def test_a_key_gives_the_same_numbers_and_split_keys_differ(m):
    np.testing.assert_array_equal(m.n(7, (5,)), m.n(7, (5,)))
    a, b = m.two_draws(7)
    assert not np.array_equal(a, b)
    assert not np.array_equal(m.u(7, (5,)), m.u(8, (5,)))


def test_the_distributions(m):
    u = m.u(3, (20000,))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.003
    z = m.n(3, (20000,))
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.01
    bits = m.b(3, 0.25, (20000,))
    assert bits.dtype == bool and abs(bits.mean() - 0.25) < 0.01


def test_categorical_draws_each_class_with_its_softmax_probability(m):
    probs = np.array([0.2, 0.5, 0.3])
    rows = np.tile(np.log(probs) + 7.0, (30000, 1))   # softmax ignores the shift
    draws = m.c(4, rows)
    assert draws.shape == (30000,) and draws.dtype == np.int64
    # 30000 draws: a frequency is within 4 standard deviations (< 0.012) of its probability
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 30000, probs, atol=0.012)
    np.testing.assert_array_equal(m.c(4, rows[:50]), m.c(4, rows[:50]))
    # a class far above the others is always drawn; shapes [.. n] give [..]
    sure = m.c(0, np.array([[[0.0, 50.0, 0.0]] * 3] * 2))
    np.testing.assert_array_equal(sure, np.ones((2, 3), np.int64))


def test_random_arrays_have_their_shapes_as_types(m):
    # a literal shape is known; one from Python is any pair of integers
    assert m.u34.specialize(42).signature() == "(-> [i64] (array f64 [3 4]))"
    assert m.u.specialize(42, (3, 4)).signature() == "(-> [i64 [i64 i64]] (array f64 [? ?]))"


def test_bad_keys_are_located_errors():
    with pytest.raises(myia_sx.SxTypeError, match="threefry2x32 expects a key") as e:
        myia_sx.load_string("(defn main [] (uniform (array [1.0 2.0]) [2]))",
                            filename="r.sx").main()
    assert e.value.span is not None
    with pytest.raises(myia_sx.SxRuntimeError, match="outside 0 .. 2\\^32-1"):
        myia_sx.load_string("(defn main [] (uniform (array [0 -1]) [2]))").main()
