"""Shared test helpers."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from myia_sx import pipeline
from myia_sx.forms import Form, Vec

# Every compilation in the test suite checks the output of every pass against
# the language the pass writes (myia_sx.languages).
pipeline.VERIFY = True

# Every hypothesis test of the suite draws the same examples on every run and
# machine (derandomized, no example database), without time limits; a failure
# prints the blob that reproduces it.
settings.register_profile("sx", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("sx")

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "tests" / "programs"
GOLDEN = ROOT / "tests" / "golden"
UPDATE_GOLDEN = os.environ.get("SX_UPDATE_GOLDEN") == "1"


def run_cli(*args, input=None, timeout=120):
    """Run ``python -m myia_sx ARGS`` in a subprocess; return CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MYIA_SX_VERIFY="1")
    return subprocess.run([sys.executable, "-m", "myia_sx", *map(str, args)],
                          capture_output=True, text=True, input=input, timeout=timeout,
                          env=env, cwd=ROOT)


@pytest.fixture
def cli():
    return run_cli


def same(got, want):
    """Assert equal values of the same Python type (tuples element by element,
    arrays with the same dtype and shape)."""
    assert type(got) is type(want), (got, want)
    if type(want) is tuple:
        assert len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            same(g, w)
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    else:
        assert got == want, (got, want)


def F(*items):
    """A paren form of ``items``."""
    return Form(items)


def V(*items):
    """A bracket form of ``items``."""
    return Vec(items)
