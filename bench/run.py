"""The scalar workloads of the benchmark, W1 (the gradient of a loop) and W5
(a 4th derivative, one Python call per point), on myia_sx (the interpreter
and the LLVM backend) and the peers that are installed.

    python3 bench/run.py [--quick]

W1: f(a, n): y = 0.5, n times y = a sin(y) + 0.1; df/da at a = 0.9, per
iteration (n = 10^6; the interpreter at 10^4).  W5: g(x) = sin(x)
exp(-x^2/2) + tanh(x); g''''(x) at 1000 points of [-2, 2], per point, one
call each.  Every result is checked against the reference (a hand-written
tape for W1, the closed form for W5) before it is timed.  Steady state is
the median of repeats of at least 0.1 s; the first call (inference,
specialization and compilation) is reported apart.  Each row runs in a
process of its own pinned to one core.  Peers: Python by hand, a C tape
(compiled with cc -O3 when a C compiler is there), JAX (jit of grad, when
installed).  W2 to W4 need arrays in compiled code (the LLVM backend's
part 2).  Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

SX = """
(defn f [a n] (loop [i 0 y 0.5] (if (< i n) (recur (+ i 1) (+ (* a (sin y)) 0.1)) y)))
(defn w1 [a n] ((grad f) a n))
(defn g [x] (+ (* (sin x) (exp (/ (* (neg x) x) 2.0))) (tanh x)))
(defn w5 [x] ((grad (grad (grad (grad g)))) x))
"""

C_TAPE = r"""
#include <math.h>
#include <stdlib.h>
double w1(double a, long n) {
    double *s = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
    double y = 0.5;
    for (long i = 0; i < n; i++) { s[i] = sin(y); c[i] = cos(y); y = a * s[i] + 0.1; }
    double ybar = 1.0, abar = 0.0;
    for (long i = n - 1; i >= 0; i--) { abar += ybar * s[i]; ybar = ybar * a * c[i]; }
    free(s); free(c);
    return abar;
}
"""


def w1_reference(a, n):
    tape, y = [], 0.5
    for _ in range(n):
        s = math.sin(y)
        tape.append((y, s))
        y = a * s + 0.1
    ybar, abar = 1.0, 0.0
    for y, s in reversed(tape):
        abar += ybar * s
        ybar = ybar * a * math.cos(y)
    return abar


def w5_reference(x):
    t = math.tanh(x)
    return (math.exp(-x * x / 2) * ((x ** 4 - 12 * x * x + 10) * math.sin(x)
                                    + (16 * x - 4 * x ** 3) * math.cos(x))
            + 8 * t * (t * t - 1) * (3 * t * t - 2))


def points(quick):
    n = 200 if quick else 1000
    return [i * (4.0 / (n - 1)) - 2.0 for i in range(n - 1)] + [2.0]


def steady(call, per):
    """Median seconds of call() per unit (per units a call), repeats of >= 0.1 s."""
    reps = 1
    while True:
        t = time.perf_counter()
        for _ in range(reps):
            call()
        if time.perf_counter() - t >= 0.1:
            break
        reps *= 2
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            call()
        times.append((time.perf_counter() - t) / reps / per)
    return sorted(times)[2]


def row(workload, system, quick):
    """Measure one row here; print {"per": seconds, "first": seconds} as JSON."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    xs = points(quick)
    if system in ("interp", "llvm"):
        import myia_sx
        m = myia_sx.load_string(SX, backend=system)
        if workload == "W1":
            n = 10_000 if system == "interp" else 1_000_000
            t = time.perf_counter()
            got = m.w1(0.9, n)
            first = time.perf_counter() - t
            assert abs(got - w1_reference(0.9, 10_000)) < 1e-12, got
            print(json.dumps({"per": steady(lambda: m.w1(0.9, n), n), "first": first}))
        else:
            t = time.perf_counter()
            m.w5(xs[0])
            first = time.perf_counter() - t
            for x in xs:
                assert abs(m.w5(x) - w5_reference(x)) < 1e-9, x
            w5 = m.w5
            print(json.dumps({"per": steady(lambda: [w5(x) for x in xs], len(xs)),
                              "first": first}))
    elif system == "python-hand":
        n = 100_000
        print(json.dumps({"per": steady(lambda: w1_reference(0.9, n), n), "first": None}))
    elif system == "c-tape":
        import ctypes
        with tempfile.TemporaryDirectory() as d:
            src, lib = os.path.join(d, "w1.c"), os.path.join(d, "w1.so")
            with open(src, "w") as f:
                f.write(C_TAPE)
            subprocess.run(["cc", "-O3", "-march=native", "-shared", "-fPIC", src, "-o", lib,
                            "-lm"], check=True)
            fn = ctypes.CDLL(lib).w1
            fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double, ctypes.c_long]
            n = 1_000_000
            assert abs(fn(0.9, n) - w1_reference(0.9, 10_000)) < 1e-12
            print(json.dumps({"per": steady(lambda: fn(0.9, n), n), "first": None}))
    elif system == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        if workload == "W1":
            n = 1_000_000

            def f(a):
                return jax.lax.fori_loop(0, n, lambda i, y: a * jnp.sin(y) + 0.1, 0.5)
            df = jax.jit(jax.grad(f))
            t = time.perf_counter()
            float(df(0.9))
            first = time.perf_counter() - t
            print(json.dumps({"per": steady(lambda: float(df(0.9)), n), "first": first}))
        else:
            def g(x):
                return jnp.sin(x) * jnp.exp(-x * x / 2) + jnp.tanh(x)
            d4 = jax.jit(jax.grad(jax.grad(jax.grad(jax.grad(g)))))
            t = time.perf_counter()
            float(d4(xs[0]))
            first = time.perf_counter() - t
            print(json.dumps({"per": steady(lambda: [float(d4(x)) for x in xs], len(xs)),
                              "first": first}))


def available(system):
    if system == "c-tape":
        return shutil.which("cc") is not None
    if system == "jax":
        import importlib.util
        return importlib.util.find_spec("jax") is not None
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--row", nargs=2, metavar=("WORKLOAD", "SYSTEM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        row(*args.row, args.quick)
        return
    plan = {"W1": ["c-tape", "python-hand", "jax", "interp", "llvm"],
            "W5": ["jax", "interp", "llvm"]}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    print(f"{'workload':<10}{'system':<13}{'per unit':>14}{'vs llvm':>10}{'first call':>12}")
    for workload, systems in plan.items():
        results = {}
        for system in systems:
            if not available(system):
                results[system] = None
                continue
            cmd = [sys.executable, __file__, "--row", workload, system] + \
                (["--quick"] if args.quick else [])
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            results[system] = json.loads(out.stdout.splitlines()[-1]) if out.returncode == 0 \
                else {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
        base = results.get("llvm") or {}
        for system, r in results.items():
            unit = "ns/iter" if workload == "W1" else "us/point"
            if r is None:
                print(f"{workload:<10}{system:<13}{'not installed':>14}")
                continue
            if "error" in r:
                print(f"{workload:<10}{system:<13}  error: {r['error'][:60]}")
                continue
            scale = 1e9 if workload == "W1" else 1e6
            ratio = f"{r['per'] / base['per']:9.2f}x" if base.get("per") else ""
            first = f"{r['first']:11.3f}s" if r["first"] is not None else ""
            print(f"{workload:<10}{system:<13}{r['per'] * scale:>8.1f} {unit:<5}{ratio:>10}"
                  f"{first:>12}", flush=True)


if __name__ == "__main__":
    main()
