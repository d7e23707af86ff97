"""Type inference and specialization cost: for each workload, the time to
infer a call's types (``infer_types``) and to write the typed program
(``specialize``), the contexts inferred and the versions written, and the
time of a second call with the same argument types (the cache).  With JAX
installed, its tracing and lowering time for the same gradient
(``jax.jit(...).lower``, the step that plays inference's part) is the peer.

    python3 bench/infer.py [--repeat 3]

Workloads (BENCH-style): W1 the gradient of a scalar loop; W2 the gradient of
a two-layer tanh MLP with softmax cross-entropy (batch 64, 784-256-10, the
parameters a record); W3 the gradient of a tanh RNN over 20 steps (batch 16,
32-64); W4 the gradient of a TreeRNN over a balanced tree of depth 4 (nested
tuples: one version per subtree type); W5 the fourth derivative of x^3 sin x;
and examples/logistic.sx's main.  Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import myia_sx  # noqa: E402
from myia_sx import ad, pipeline, types  # noqa: E402
from myia_sx.passes import infer_types  # noqa: E402
from myia_sx.passes import specialize as specialize_pass  # noqa: E402

SRC = """
(defn w1 [x n] (loop [i 0 acc 1.0] (if (< i n) (recur (+ i 1) (* acc x)) acc)))
(def d-w1 (grad w1))

(defrecord MLP [W1 b1 W2 b2])
(defn w2 [p X Y]
  (let [h (tanh (+ (@ X p.W1) p.b1))
        z (+ (@ h p.W2) p.b2)]
    (neg (mean (sum (* Y (log-softmax z)) :axis 1)))))
(def d-w2 (grad w2))

(defrecord RNN [Wx Wh b])
(defn w3 [p xs h0]
  (sum (for-fold [h h0] [x xs] (tanh (+ (+ (@ x p.Wx) (@ h p.Wh)) p.b)))))
(def d-w3 (grad w3))

(defn tree-rnn [W t]
  (if (tuple? t)
      (tanh (@ (concat (tree-rnn W (get t 0)) (tree-rnn W (get t 1))) W))
      t))
(defn w4 [W t] (sum (tree-rnn W t)))
(def d-w4 (grad w4))

(defn w5 [x] (* (* x (* x x)) (sin x)))
(def d4-w5 (grad (grad (grad (grad w5)))))
"""


def tree(depth, rng, d):
    if depth == 0:
        return rng.standard_normal(d)
    return (tree(depth - 1, rng, d), tree(depth - 1, rng, d))


def workloads(m, rng):
    mlp = m.MLP(rng.standard_normal((784, 256)) * 0.05, np.zeros(256),
                rng.standard_normal((256, 10)) * 0.05, np.zeros(10))
    X = rng.standard_normal((64, 784))
    Y = np.eye(10)[rng.integers(0, 10, 64)]
    rnn = m.RNN(rng.standard_normal((32, 64)) * 0.1, rng.standard_normal((64, 64)) * 0.1,
                np.zeros(64))
    xs = rng.standard_normal((20, 16, 32))
    h0 = np.zeros((16, 64))
    W = rng.standard_normal((16, 8)) * 0.3
    logistic = myia_sx.load(os.path.join(ROOT, "examples", "logistic.sx"))
    return [
        ("W1 grad of a scalar loop", m, "d-w1", (1.0001, 1000)),
        ("W2 grad of an MLP 784-256-10", m, "d-w2", (mlp, X, Y)),
        ("W3 grad of an RNN, 20 steps", m, "d-w3", (rnn, xs, h0)),
        ("W4 grad of a TreeRNN, depth 4", m, "d-w4", (W, tree(4, rng, 8))),
        ("W5 4th derivative", m, "d4-w5", (0.7,)),
        ("examples/logistic.sx main", logistic, "main", (200,)),
    ]


def measure(m, name, args, repeat):
    fn = m._env.globals[name]
    best = None
    for _ in range(repeat):
        inf = infer_types.Inference(ad.InferServices())
        arg_types = [types.of_value(a, inf.code_of, unknown_dims=False) for a in args]
        fn_type = types.of_value(fn, inf.code_of, unknown_dims=False)
        t0 = time.perf_counter()
        ctx = inf.entry(fn_type, arg_types)
        t1 = time.perf_counter()
        program, _ = specialize_pass.run(inf, ctx, True)
        t2 = time.perf_counter()
        row = (t1 - t0, t2 - t1, len(inf.contexts), len(program))
        best = row if best is None or sum(row[:2]) < sum(best[:2]) else best
    pipeline.specialize(fn, args)   # fill the cache
    t = time.perf_counter()
    pipeline.specialize(fn, args)
    cached = time.perf_counter() - t
    return best + (cached,)


def jax_peer(label, rng):
    """JAX's trace + lower time for the same gradient, or None."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    if label.startswith("W2"):
        def f(p, X, Y):
            h = jnp.tanh(X @ p[0] + p[1])
            z = h @ p[2] + p[3]
            return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(z, axis=1), axis=1))
        args = ((np.zeros((784, 256)), np.zeros(256), np.zeros((256, 10)), np.zeros(10)),
                np.zeros((64, 784)), np.zeros((64, 10)))
    elif label.startswith("W3"):
        def f(p, xs, h0):
            def step(h, x):
                h = jnp.tanh(x @ p[0] + h @ p[1] + p[2])
                return h, None
            return jnp.sum(jax.lax.scan(step, h0, xs)[0])
        args = ((np.zeros((32, 64)), np.zeros((64, 64)), np.zeros(64)),
                np.zeros((20, 16, 32)), np.zeros((16, 64)))
    elif label.startswith("W1"):
        def f(x):
            return jax.lax.fori_loop(0, 1000, lambda i, acc: acc * x, 1.0)
        args = (1.0001,)
    elif label.startswith("W5"):
        def f(x):
            return x * x * x * jnp.sin(x)
        g = jax.grad(jax.grad(jax.grad(jax.grad(f))))
        t = time.perf_counter()
        jax.jit(g).lower(0.7)
        return time.perf_counter() - t
    else:
        return None
    t = time.perf_counter()
    jax.jit(jax.grad(f)).lower(*args)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ns = ap.parse_args()
    rng = np.random.default_rng(0)
    m = myia_sx.load_string(SRC)
    header = (f"{'workload':32} {'infer ms':>9} {'spec ms':>8} {'contexts':>8} "
              f"{'versions':>8} {'cached us':>9} {'jax lower ms':>12} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for label, mod, name, args in workloads(m, rng):
        inf_s, spec_s, n_ctx, n_ver, cached = measure(mod, name, args, ns.repeat)
        peer = jax_peer(label, rng)
        peer_text = f"{peer * 1e3:12.1f}" if peer is not None else f"{'-':>12}"
        ratio = f"{(inf_s + spec_s) / peer:6.2f}" if peer else f"{'-':>6}"
        print(f"{label:32} {inf_s * 1e3:9.1f} {spec_s * 1e3:8.1f} {n_ctx:8d} {n_ver:8d} "
              f"{cached * 1e6:9.1f} {peer_text} {ratio}")
    print("\nratio: (infer + specialize) / JAX's trace and lower of the same gradient "
          "(lower is better)")


if __name__ == "__main__":
    main()
