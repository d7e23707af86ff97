"""A few seconds of the fuzzer (tests/fuzzing.py) with fixed seeds: random
text, mutated programs, random programs, mutated serialized IR and random
forms go through the front door (read, print back, load, run ``main``).
Nothing but an ``SxError`` may escape, no step may hang, every form read
prints and reads back as itself, and every report stays short.  Long runs
with other seeds: ``python3 bench/fuzz.py``."""

import pytest

import fuzzing

# Inputs per kind: a few seconds in all.  A step that runs past BUDGET
# seconds is a hang (generous: the slowest input here takes well under 1 s).
COUNTS = {"text": 1000, "mutant": 200, "program": 400, "ir": 150, "form": 1500}
BUDGET = 20.0


@pytest.mark.parametrize("kind", fuzzing.KINDS)
def test_the_front_door_takes_any_input(kind):
    failures = []
    for index in range(COUNTS[kind]):
        x = fuzzing.replay(kind, "suite", index)
        found = fuzzing.check_form(x) if kind == "form" else \
            fuzzing.check_text(x, BUDGET).failures
        failures += [(index, step, what) for step, what in found]
    assert not failures, failures[:5]


def test_the_generators_replay():
    for kind in fuzzing.KINDS:
        assert repr(fuzzing.replay(kind, 3, 7)) == repr(fuzzing.replay(kind, 3, 7))
