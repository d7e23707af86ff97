"""Load throughput: how fast ``myia_sx.load_string`` reads and compiles a module.

    python3 bench/load_throughput.py [--mb 1.0] [--runs 3] [--profile WORKLOAD]

Workloads (each at two sizes, a third and the whole, to show whether the time
is linear in the size):

  defn        one-line top-level functions ``(defn fK [x] (+ x K))``
  def         top-level constants ``(def xK K)``
  source      the programs of tests/programs/ and examples/, their top-level
              names renamed apart per copy, as many copies as make --mb
  serialized  the same, compiled and written as serialized IR (``(%stage lanf)``
              and one form per line, as ``Module.export`` writes it): the
              exchange format, which loads with no pass run

For each it prints the source size, the best time of --runs, MB/s, the time
per top-level definition, and the ratio of the per-definition times at the
two sizes (1.0: linear).  Verification (``MYIA_SX_VERIFY``) is off, as users
run.  Not a test: nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import myia_sx  # noqa: E402
from myia_sx import pipeline  # noqa: E402
from myia_sx.forms import Form, Symbol, head_name, map_tree  # noqa: E402
from myia_sx.printer import dumps  # noqa: E402
from myia_sx.reader import read  # noqa: E402

pipeline.VERIFY = False

_DEFINERS = {"def", "defn", "defrecord", "defmacro", "deflayer", "defmodel"}


def defns(n: int) -> str:
    return "".join(f"(defn f{k} [x] (+ x {k}))\n" for k in range(n))


def defs(n: int) -> str:
    return "".join(f"(def x{k} {k})\n" for k in range(n))


def _programs():
    """The top-level forms of every test program and example, one tuple each."""
    files = sorted((ROOT / "tests" / "programs").glob("*.sx")) + sorted(
        (ROOT / "examples").glob("*.sx"))
    return [read(f.read_text(encoding="utf-8"), str(f)) for f in files]


def _renamed(forms, k):
    """``forms`` with every top-level name ``n`` written ``cK-n`` (and the
    names ``n-...`` that ``deflayer`` and ``defmodel`` derive from theirs)."""
    names = {f.items[1].name for f in forms
             if head_name(f) in _DEFINERS and len(f.items) > 1 and type(f.items[1]) is Symbol}
    derived = tuple(f.items[1].name + "-" for f in forms
                    if head_name(f) in ("deflayer", "defmodel"))

    def leaf(x):
        if type(x) is Symbol and (x.name in names or x.name.startswith(derived)):
            return Symbol(f"c{k}-{x.name}")
        return x

    return [map_tree(f, leaf, lambda seq, items: type(seq)(items)) for f in forms]


def program_source(target_bytes: int) -> str:
    """Copies of the test programs and examples, renamed apart, to about ``target_bytes``."""
    programs = _programs()
    parts, size, k = [], 0, 0
    while size < target_bytes:
        for forms in programs:
            text = "\n".join(dumps(f) for f in _renamed(forms, k)) + "\n"
            parts.append(text)
            size += len(text)
            k += 1
    return "".join(parts)


def serialized(target_bytes: int) -> str:
    """The source workload compiled and written as serialized IR (``(%stage
    lanf)``, then one ``dumps`` line per top-level form: ``Module.export``)."""
    final, _ = myia_sx.api.compile_source(program_source(target_bytes))
    return pipeline.stage_text(final)


def count_definitions(text: str) -> int:
    return sum(1 for f in read(text) if type(f) is Form and head_name(f) not in ("require",))


def best_time(text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        myia_sx.load_string(text, filename="<bench>")
        best = min(best, time.perf_counter() - t0)
    return best


def measure(name: str, make, sizes, runs: int) -> None:
    per_def = []
    for size in sizes:
        text = make(size)
        n = count_definitions(text)
        t = best_time(text, runs)
        mb = len(text.encode("utf-8")) / 1e6
        per_def.append(t / n)
        print(f"{name:>10}  {mb:6.2f} MB  {n:7d} defs  {t:7.3f} s  {mb / t:5.2f} MB/s  "
              f"{1e6 * t / n:7.1f} us/def")
    print(f"{'':>10}  per-definition time, large / small: {per_def[-1] / per_def[0]:.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0,
                    help="size of the source and serialized workloads in MB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", choices=["defn", "def", "source", "serialized"],
                    help="profile one load of this workload (large size) instead")
    args = ap.parse_args(argv)
    size = int(args.mb * 1e6)
    workloads = {
        "defn": (defns, (10_000, 30_000)),
        "def": (defs, (30_000, 100_000)),
        "source": (program_source, (size // 3, size)),
        "serialized": (serialized, (size // 3, size)),
    }
    if args.profile:
        make, sizes = workloads[args.profile]
        text = make(sizes[-1])
        cProfile.runctx("myia_sx.load_string(text)", globals(), {"text": text}, "/tmp/load.prof")
        pstats.Stats("/tmp/load.prof").sort_stats("tottime").print_stats(30)
        return
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}")
    for name, (make, sizes) in workloads.items():
        measure(name, make, sizes, args.runs)


if __name__ == "__main__":
    main()
