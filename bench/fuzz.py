"""Long fuzzing runs of the front door (the generators and checks of
tests/fuzzing.py; tests/test_fuzz.py runs a few seconds of the same in the suite).

    python3 bench/fuzz.py [--seconds 600] [--seed 0] [--budget 5]
                          [--kinds text,mutant,program,ir,form] [--save DIR]

Inputs are drawn in turn from each kind: random ``text``, ``mutant`` test
programs and examples, random ``program``\\ s (main calling primitives,
macros and special forms), mutants of serialized ``ir`` (the test programs
exported) and random ``form``\\ s (for the printer).  Each text
is read, printed back, loaded and its ``main`` run, each step under --budget
seconds of wall time.  At the end it prints the inputs tried per kind, the
failures grouped by step and message (with a shortest input for each), the
hangs and the slowest inputs; --save writes each group's shortest input to
DIR.  The exit status is 1 when anything failed.  Each input is replayable:
the report gives its kind, seed and index.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import fuzzing  # noqa: E402

from myia_sx import pipeline  # noqa: E402

pipeline.VERIFY = False

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per step of one input")
    ap.add_argument("--kinds", default=",".join(fuzzing.KINDS))
    ap.add_argument("--save", type=Path, help="write a shortest input of each failure here")
    ap.add_argument("--replay", metavar="KIND:INDEX", help="check one input and print it")
    args = ap.parse_args(argv)
    if args.replay:
        kind, index = args.replay.split(":")
        x = fuzzing.replay(kind, args.seed, int(index))
        print(repr(x))
        found = fuzzing.check_form(x) if kind == "form" else \
            fuzzing.check_text(x, args.budget).failures
        print(found or "no failure")
        return 1 if found else 0
    kinds = args.kinds.split(",")
    tried = collections.Counter()
    ran = collections.Counter()
    groups: dict = {}
    hangs = 0
    slow = []
    t0 = time.perf_counter()
    index = 0
    while time.perf_counter() - t0 < args.seconds:
        for kind in kinds:
            x = fuzzing.replay(kind, args.seed, index)
            tried[kind] += 1
            if kind == "form":
                failures = fuzzing.check_form(x)
                seconds, text = 0.0, repr(x)
            else:
                out = fuzzing.check_text(x, args.budget)
                failures, seconds, text = out.failures, out.seconds, x
                ran[kind] += out.ran
                hangs += out.hang
            slow.append((seconds, kind, index))
            slow = sorted(slow, reverse=True)[:5]
            for step, what in failures:
                key = (step, what[:80])
                group = groups.setdefault(key, {"count": 0, "shortest": None})
                group["count"] += 1
                if group["shortest"] is None or len(text) < len(group["shortest"][0]):
                    group["shortest"] = (text, f"{kind}:{index}")
        index += 1
    elapsed = time.perf_counter() - t0
    total = sum(tried.values())
    print(f"{total} inputs in {elapsed:.0f} s (seed {args.seed}, budget {args.budget} s "
          f"per step): " + ", ".join(f"{k} {tried[k]}" for k in kinds))
    print("main ran to a value: " + ", ".join(f"{k} {ran[k]}" for k in kinds if k != "form"))
    print(f"failures: {sum(g['count'] for g in groups.values())} in {len(groups)} groups; "
          f"hangs: {hangs}")
    for (step, what), g in sorted(groups.items(), key=lambda kv: -kv[1]["count"]):
        text, where = g["shortest"]
        print(f"\n[{g['count']}x] {step}: {what}\n  shortest ({where}): {text[:400]!r}")
    print("\nslowest: " + ", ".join(f"{k}:{i} {s:.2f} s" for s, k, i in slow))
    if args.save and groups:
        args.save.mkdir(parents=True, exist_ok=True)
        for n, ((step, what), g) in enumerate(sorted(groups.items())):
            (args.save / f"failure{n}.sx").write_text(
                f";; {step}: {what}\n" + g["shortest"][0], encoding="utf-8")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
