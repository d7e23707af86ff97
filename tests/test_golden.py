"""Golden tests: every program in tests/programs, after every pass.

For each program and pass: the pretty-printed output must match the reviewed
golden file in tests/golden/<program>/<pass>.sx (regenerate with
SX_UPDATE_GOLDEN=1 and review the diff), and running ``main`` on that stage
with the reference interpreter must give the value written by hand in the
program's ``;; expect:`` line.
"""

import re

import numpy as np
import pytest

from myia_sx import interp, library, load_string, pipeline
from myia_sx.forms import Form, Symbol, Vec
from myia_sx.passes import specialize
from myia_sx.printer import pretty
from myia_sx.reader import read, read_file

from conftest import GOLDEN, PROGRAMS, UPDATE_GOLDEN

PROGRAM_FILES = sorted(PROGRAMS.glob("*.sx"))
STAGES = pipeline.PASS_NAMES


def expected_value(path):
    m = re.search(r"^;; expect: (.*)$", path.read_text(), re.M)
    assert m, f"{path.name} has no ';; expect:' line"
    return load_string("").evaluate(m.group(1))


def same(a, b):
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and np.isclose(a, b, rtol=1e-12, atol=0)
    return type(a) is type(b) and a == b


def test_there_are_programs():
    assert len(PROGRAM_FILES) >= 6


@pytest.mark.parametrize("path", PROGRAM_FILES, ids=lambda p: p.stem)
def test_every_stage_prints_as_golden_and_runs(path):
    forms = read_file(path)
    want = expected_value(path)
    seen = []
    for name, module in pipeline.stages(forms, library.context()):
        if name == "read":
            continue
        seen.append(name)
        text = "\n".join(pretty(f) for f in module) + "\n"
        golden = GOLDEN / path.stem / f"{name}.sx"
        if UPDATE_GOLDEN:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert golden.exists(), f"missing golden file {golden}"
        assert text == golden.read_text(), f"{path.stem} after {name} differs from golden"
        # the printed stage reads back to the same forms
        assert read(text) == module
        # and it runs, giving the hand-written expected value
        env = library.new_env()
        library.load_module(env, module)
        got = interp.run(env.globals["main"], ())
        assert same(got, want), f"{path.stem} after {name}: {got!r} != {want!r}"
    assert seen == list(STAGES)


@pytest.mark.parametrize("path", PROGRAM_FILES, ids=lambda p: p.stem)
def test_typed_stages_print_as_golden_and_run(path):
    """main specialized (infer_types, specialize): the program prints as
    golden, reads back, passes its language's checker, and runs to the
    expected value with every value checked against its type."""
    want = expected_value(path)
    env = library.new_env()
    library.load_module(env, pipeline.compile_module(read_file(path), library.context(env)))
    for name, fold in (("infer_types", False), ("specialize", True)):
        sp = pipeline.specialize(env.globals["main"], (), fold=fold, env=env, verify=True)
        text = "\n".join(pretty(f) for f in sp.program) + "\n"
        golden = GOLDEN / path.stem / f"{name}.sx"
        if UPDATE_GOLDEN:
            golden.write_text(text)
        assert golden.exists(), f"missing golden file {golden}"
        assert text == golden.read_text(), f"{path.stem} after {name} differs from golden"
        program = read(text)
        assert program == sp.program
        run_env = env.copy()
        interp.load(run_env, program)
        got = interp.run(run_env.globals[sp.entry], ())
        assert same(got, want), f"{path.stem} after {name}: {got!r} != {want!r}"
        # no code is transformed at run time: no J, no maker, anywhere
        symbols = {x.name for x in walk(program) if type(x) is Symbol}
        assert not symbols & specialize.CODE_MAKERS, path.stem


def walk(forms):
    stack = list(forms)
    while stack:
        x = stack.pop()
        yield x
        if type(x) in (Form, Vec):
            stack.extend(x.items)
