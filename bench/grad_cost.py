"""Gradient cost under the reference interpreter: time of the function, of
its gradient, and of a numpy gradient written by hand, with their ratios.

    python3 bench/grad_cost.py [--repeat 5]

Workloads: W1 a scalar loop (x^n by n multiplications, n = 1000), W2 a
two-layer tanh MLP (batch 64, 32-64-10) with a mean squared error, W5 the
fourth derivative of x^3 sin x.  The interpreter is the reference, not the
fast path (that is the LLVM backend), so the interesting columns are the
ratios.  Not a test: nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import myia_sx  # noqa: E402

SRC = """
(defn w1 [x n] (loop [i 0 acc 1.0] (if (< i n) (recur (+ i 1) (* acc x)) acc)))
(defn w2 [params x y]
  (let [[w1 b1 w2 b2] params
        h (tanh (+ (@ x w1) b1))
        out (+ (@ h w2) b2)]
    (mean (square (- out y)))))
(defn w5 [x] (* (* x (* x x)) (sin x)))
(defn d-w1 [] (grad w1))
(defn d-w2 [] (grad w2))
(defn d4-w5 [] (grad (grad (grad (grad w5)))))
"""


def best(fn, repeat):
    fn()  # warm up (compiles the J-transforms)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def numpy_w1(x, n):
    return n * x ** (n - 1)


def numpy_w2(params, x, y):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2 * (out - y) / out.size
    d_h = d_out @ w2.T * (1 - h ** 2)
    return (x.T @ d_h, d_h.sum(axis=0), h.T @ d_out, d_out.sum(axis=0))


def numpy_w5(x):
    s, c = math.sin(x), math.cos(x)
    return 24 * c - 36 * x * s - 12 * x * x * c + x ** 3 * s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    m = myia_sx.load_string(SRC)
    rng = np.random.default_rng(0)
    params = (rng.normal(size=(32, 64)), rng.normal(size=64), rng.normal(size=(64, 10)),
              rng.normal(size=10))
    x, y = rng.normal(size=(64, 32)), rng.normal(size=(64, 10))
    d1, d2, d4 = m.d_w1(), m.d_w2(), m.d4_w5()
    rows = [
        ("W1 loop x^1000", lambda: m.w1(1.0001, 1000), lambda: d1(1.0001, 1000),
         lambda: numpy_w1(1.0001, 1000)),
        ("W2 MLP 32-64-10", lambda: m.w2(params, x, y), lambda: d2(params, x, y),
         lambda: numpy_w2(params, x, y)),
        ("W5 4th derivative", lambda: m.w5(0.7), lambda: d4(0.7), lambda: numpy_w5(0.7)),
    ]
    print(f"{'workload':<22}{'f (ms)':>10}{'grad (ms)':>11}{'grad/f':>8}"
          f"{'numpy (ms)':>12}{'grad/numpy':>12}")
    for name, f, g, ref in rows:
        tf, tg, tn = best(f, args.repeat), best(g, args.repeat), best(ref, args.repeat)
        print(f"{name:<22}{tf * 1e3:>10.3f}{tg * 1e3:>11.3f}{tg / tf:>8.1f}"
              f"{tn * 1e3:>12.4f}{tg / tn:>12.0f}")
    got = d4(0.7)
    print(f"\nW5 check: {got:.12f} (hand-written {numpy_w5(0.7):.12f})")


if __name__ == "__main__":
    main()
