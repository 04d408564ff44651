"""Shared fixtures: where MNIST is, the shipped weights, a Reader.

Tests that need MNIST read it from $DIGITCAM_DATA, else ../shared/data beside the repository. Without
it they are skipped on a developer's machine, but fail under CI (the `CI` environment variable), so a
CI run can never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WEIGHTS = ROOT / "weights" / "fcl.pth"


def mnist_root() -> Path | None:
    for candidate in (os.environ.get("DIGITCAM_DATA"), SHARED):
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return Path(candidate)
    return None


def need(what: str) -> None:
    """Skip for lack of `what`, or fail when running under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing, and under CI tests must not skip")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    root = mnist_root()
    if root is None:
        need(f"MNIST (set DIGITCAM_DATA or put it in {SHARED})")
    return root


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from train.data import load_mnist

    return load_mnist(mnist_dir, download=False)


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    d = SHARED / "photos"
    if not (d / "labels.json").exists():
        need(f"the labelled photos in {d}")
    return d


@pytest.fixture(scope="session")
def state():
    from train.checkpoint import load_weights

    return load_weights(WEIGHTS)


@pytest.fixture()
def reader(state):
    from realtime.classify import SparseBackend
    from realtime.pipeline import Reader

    return Reader(SparseBackend(state))
