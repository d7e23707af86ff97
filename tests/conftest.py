"""Shared test helpers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "tests" / "programs"
GOLDEN = ROOT / "tests" / "golden"
UPDATE_GOLDEN = os.environ.get("SX_UPDATE_GOLDEN") == "1"


def run_cli(*args, input=None, timeout=120):
    """Run ``python -m myia_sx ARGS`` in a subprocess; return CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "myia_sx", *map(str, args)],
                          capture_output=True, text=True, input=input, timeout=timeout,
                          env=env, cwd=ROOT)


@pytest.fixture
def cli():
    return run_cli
