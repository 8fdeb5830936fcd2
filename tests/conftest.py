"""Shared fixtures: an isolated cache, the CLI runner, small data and the default model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CACHE = Path(__file__).resolve().parent / ".cache"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache():
    """One advkit cache for the whole run (the default model is trained once), kept between runs."""
    os.environ.setdefault("ADVKIT_CACHE_DIR", str(CACHE))
    # One thread per test process: the suite runs as `pytest -n 2` on 2 cores, and these tiny models
    # get slower, not faster, with more threads.
    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, whatever ran before it in this worker."""
    from advkit.seeding import seed_everything

    seed_everything(0)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """Run `advkit ARGS...` in-process; returns exit code, stdout and stderr."""
    from advkit.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


@pytest.fixture(scope="session")
def digits():
    """The digits test split (359 samples, 1 x 8 x 8)."""
    from advkit.data.dataset import load_data

    return load_data("digits", split="test")


@pytest.fixture(scope="session")
def digits_train():
    from advkit.data.dataset import load_data

    return load_data("digits", split="train")


@pytest.fixture(scope="session")
def default_model():
    """The embedded default CNN (trained once per cache)."""
    from advkit.training.default import default_model as load

    return load()


@pytest.fixture(scope="session")
def mnist_dir():
    if not MNIST_DIR.is_dir():
        pytest.skip(f"needs MNIST in {MNIST_DIR} (not there): `advkit download mnist {MNIST_DIR}` "
                    "(needs a network) runs these tests")
    return MNIST_DIR
