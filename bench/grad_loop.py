"""Derivatives of a long scalar loop under the reference interpreter: time,
peak interpreter frames and peak memory.

    python3 bench/grad_loop.py [--n 1000000] [--orders-n 100000]

The loop is ``acc <- acc + x * sin acc``, n times.  ``grad`` runs at n
iterations; ``jvp``, ``jvp`` of ``grad`` and ``grad`` of ``grad`` (each many
times slower under the interpreter) at ``--orders-n``.  Each row runs in a
process of its own, pinned to one core.  Frames are the deepest stack of
interpreter frames: a loop and its derivatives of any order run in constant
stack, so that column does not grow with n.  Memory is the growth of the
process's peak resident size during the run: the buffers of
backpropagators a differentiated loop keeps (a closure per iteration, per
order).  Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

SRC = """
(defn f [x n] (loop [i 0 acc 0.0] (if (< i n) (recur (+ i 1) (+ acc (* x (sin acc)))) acc)))
(defn grad-f [x n] ((grad f) x n))
(defn jvp-f [x n] (get (jvp f [x n] [1.0 0]) 1))
(defn jvp-grad-f [x n] (get (jvp grad-f [x n] [1.0 0]) 1))
(defn grad-grad-f [x n] ((grad grad-f) x n))
"""


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def row(name, n):
    """Run one row here; print its measures as JSON."""
    import myia_sx
    from myia_sx import interp

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    m = myia_sx.load_string(SRC)
    m[name](0.3, 3)   # compile the J-transforms it makes on first use
    before = peak_rss()
    interp.STATS["peak_frames"] = 0
    t = time.perf_counter()
    m[name](0.3, n)
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "frames": interp.STATS["peak_frames"],
                      "bytes": peak_rss() - before}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--orders-n", type=int, default=100_000)
    ap.add_argument("--row", nargs=2, metavar=("NAME", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        row(args.row[0], int(args.row[1]))
        return
    rows = [("f", "f", args.n), ("grad", "grad-f", 1000), ("grad", "grad-f", args.n)]
    rows += [(label, name, n) for label, name in (("jvp", "jvp-f"), ("jvp of grad", "jvp-grad-f"),
                                                  ("grad of grad", "grad-grad-f"))
             for n in (1000, args.orders_n)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    print(f"{'what':<14}{'iterations':>12}{'seconds':>10}{'us/iter':>10}"
          f"{'peak frames':>13}{'memory MB':>11}")
    for label, name, n in rows:
        out = subprocess.run([sys.executable, __file__, "--row", name, str(n)], env=env,
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.splitlines()[-1])
        print(f"{label:<14}{n:>12}{r['seconds']:>10.2f}{r['seconds'] / n * 1e6:>10.1f}"
              f"{r['frames']:>13}{r['bytes'] / 2**20:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
