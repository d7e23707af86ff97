"""Reader throughput: generate ~1 MB of realistic .sx text, read it 3 times,
print MB/s for each run and the best.

    python3 bench/reader_throughput.py [--mb 1.0] [--seed 0]

Not a test: nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from myia_sx.reader import read  # noqa: E402

_OPS = ["+", "-", "*", "/", "@", "max", "min", "exp", "log", "tanh", "relu", "sum",
        "mean", "dot", "reshape", "transpose", "sum-tree", "tuple-get", "matmul"]
_NAMES = ["x", "y", "w", "b", "h", "acc", "params", "grads", "n-in", "n-out", "xs",
          "loss", "lr", "state", "carry", "i", "j", "k", "w1", "b1", "w2", "b2"]


def _atom(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(_NAMES)
    if r < 0.70:
        return str(rng.randint(-1000, 1000))
    if r < 0.85:
        return repr(rng.uniform(-10, 10))
    if r < 0.90:
        return rng.choice(["Inf", "-Inf", "NaN", "True", "False", "None", "1e-3", "0x1F"])
    if r < 0.95:
        return rng.choice(['"hello"', '"line\\nbreak"', '"caf\\u00e9"', '"tab\\tsep"'])
    return rng.choice([":axis", ":keepdims", "p.w", "p.b.c", "'x", "`(f ~x ~@xs)"])


def _expr(rng: random.Random, depth: int) -> str:
    if depth <= 0 or rng.random() < 0.3:
        return _atom(rng)
    r = rng.random()
    if r < 0.15:
        binds = " ".join(f"{rng.choice(_NAMES)} {_expr(rng, depth - 1)}"
                         for _ in range(rng.randint(1, 3)))
        return f"(let [{binds}]\n    {_expr(rng, depth - 1)})"
    if r < 0.25:
        return (f"(if {_expr(rng, depth - 1)}\n      {_expr(rng, depth - 1)}\n"
                f"      {_expr(rng, depth - 1)})")
    if r < 0.32:
        return f"(fn [{rng.choice(_NAMES)}] {_expr(rng, depth - 1)})"
    if r < 0.38:
        return "[" + " ".join(_expr(rng, depth - 1) for _ in range(rng.randint(1, 4))) + "]"
    args = " ".join(_expr(rng, depth - 1) for _ in range(rng.randint(1, 3)))
    return f"({rng.choice(_OPS)} {args})"


def generate(target_bytes: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    parts = []
    size = 0
    k = 0
    while size < target_bytes:
        params = " ".join(rng.sample(_NAMES, rng.randint(1, 4)))
        text = (f";; function number {k}\n"
                f"(defn f-{k} [{params}]\n"
                f"  \"Docstring for f-{k}.\"\n"
                f"  {_expr(rng, 5)})\n\n")
        parts.append(text)
        size += len(text.encode("utf-8"))
        k += 1
    return "".join(parts)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0, help="size of the generated text in MB")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    text = generate(int(args.mb * 1_000_000), args.seed)
    mb = len(text.encode("utf-8")) / 1_000_000
    nforms = None
    rates = []
    forms = None
    for run in range(args.runs):
        forms = None  # free the previous run's forms outside the timing
        gc.collect()
        t0 = time.perf_counter()
        forms = read(text, "<bench>")
        dt = time.perf_counter() - t0
        nforms = len(forms)
        rates.append(mb / dt)
        print(f"run {run + 1}: {dt:.3f} s, {mb / dt:.2f} MB/s")
    print(f"text: {mb:.2f} MB, {text.count(chr(10))} lines, {nforms} top-level forms")
    print(f"best: {max(rates):.2f} MB/s, median: {sorted(rates)[len(rates) // 2]:.2f} MB/s")


if __name__ == "__main__":
    main()
