"""Derivatives of a long scalar loop under the reference interpreter: time,
peak interpreter frames and peak Python memory.

    python3 bench/grad_loop.py [--n 1000000] [--orders-n 100000]

The loop is ``acc <- acc + x * sin acc``, n times.  ``grad`` runs at n
iterations; ``jvp``, ``jvp`` of ``grad`` and ``grad`` of ``grad`` (each many
times slower under the interpreter) at ``--orders-n``.  The frame count is
the deepest stack of interpreter frames: a loop and its derivatives of any
order run in constant stack, so it does not grow with n.  Memory is the peak
traced by tracemalloc in a second run (the buffer of backpropagators a
differentiated loop keeps: one closure per iteration).  Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import myia_sx  # noqa: E402
from myia_sx import interp  # noqa: E402

SRC = """
(defn f [x n] (loop [i 0 acc 0.0] (if (< i n) (recur (+ i 1) (+ acc (* x (sin acc)))) acc)))
(defn grad-f [x n] ((grad f) x n))
(defn jvp-f [x n] (get (jvp f [x n] [1.0 0]) 1))
(defn jvp-grad-f [x n] (get (jvp grad-f [x n] [1.0 0]) 1))
(defn grad-grad-f [x n] ((grad grad-f) x n))
"""


def measure(fn, n):
    """Seconds, peak frames, peak traced bytes (a second run: tracing is slow)."""
    interp.STATS["peak_frames"] = 0
    t = time.perf_counter()
    fn(0.3, n)
    seconds = time.perf_counter() - t
    tracemalloc.start()
    fn(0.3, n)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, interp.STATS["peak_frames"], peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--orders-n", type=int, default=100_000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    m = myia_sx.load_string(SRC)
    m.grad_grad_f(0.3, 3)   # compile every derived J-transform once
    m.jvp_grad_f(0.3, 3)
    rows = [("f", "f", args.n), ("grad", "grad-f", 1000), ("grad", "grad-f", args.n)]
    rows += [(label, name, n) for label, name in (("jvp", "jvp-f"), ("jvp of grad", "jvp-grad-f"),
                                                  ("grad of grad", "grad-grad-f"))
             for n in (1000, args.orders_n)]
    print(f"{'what':<14}{'iterations':>12}{'seconds':>10}{'us/iter':>10}"
          f"{'peak frames':>13}{'peak MB':>10}")
    for label, name, n in rows:
        seconds, frames, peak = measure(m[name], n)
        print(f"{label:<14}{n:>12}{seconds:>10.2f}{seconds / n * 1e6:>10.1f}{frames:>13}"
              f"{peak / 2**20:>10.1f}")


if __name__ == "__main__":
    main()
