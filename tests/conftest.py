"""Shared fixtures: where MNIST is, the shipped weights, a Reader, a fake camera.

Tests that need MNIST read it from $DIGITCAM_DATA, else ../shared/data beside the repository. Without
it they are skipped on a developer's machine, but fail under CI (the `CI` environment variable), so a
CI run can never pass by skipping them.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WEIGHTS = ROOT / "weights" / "fcl.pth"
# The user's own samples and personal weights must not change what the tests read: the tests, and the
# processes they start, get an empty data folder (platformdirs follows XDG_DATA_HOME on Linux, where
# CI runs; tests of teaching set their own).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="digitcam-test-data-")


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


class FakeCapture:
    """Stands in for cv2.VideoCapture: records what it was asked, delivers frames of the size it agreed to.

    `opens`: the APIs that open (None: all); `fail_reads`: read numbers (1-based) that fail; `offer`: the
    largest size it gives (a camera refuses bigger ones); `image`: what it films (resized to its size;
    None: a flat grey that changes with every frame)."""

    instances: list[FakeCapture] = []
    opens: set[int] | None = None
    fail_reads: set[int] = set()
    offer = (1920, 1080)
    image: np.ndarray | None = None

    def __init__(self, target, api, params=()) -> None:
        self.target, self.api, self.params = target, api, list(params)
        self.props = {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 30.0,
                      cv2.CAP_PROP_FOURCC: float(cv2.VideoWriter_fourcc(*"YUYV"))}
        self.calls: list[tuple[int, float]] = []
        self.reads = 0
        self.reading = False
        self.released = False
        self.released_while_reading = False
        FakeCapture.instances.append(self)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opens is None or self.api in self.opens

    def set(self, prop: int, value: float) -> bool:
        self.calls.append((prop, value))
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            value = min(value, self.offer[0])
        if prop == cv2.CAP_PROP_FRAME_HEIGHT:
            value = min(value, self.offer[1])
        self.props[prop] = float(value)
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def read(self):
        self.reading = True
        time.sleep(0.002)
        self.reads += 1
        self.reading = False
        if self.reads in self.fail_reads:
            return False, None
        w, h = int(self.props[cv2.CAP_PROP_FRAME_WIDTH]), int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
        if self.image is not None:
            return True, cv2.resize(self.image, (w, h), interpolation=cv2.INTER_AREA)
        return True, np.full((h, w, 3), self.reads % 255, np.uint8)

    def release(self) -> None:
        self.released_while_reading |= self.reading
        self.released = True


@pytest.fixture()
def fake_camera(monkeypatch):
    """OpenCV's capture replaced by FakeCapture (realtime.capture.open_capture), its settings reset."""
    import realtime.capture

    monkeypatch.setattr(FakeCapture, "instances", [])
    monkeypatch.setattr(FakeCapture, "opens", None)
    monkeypatch.setattr(FakeCapture, "fail_reads", set())
    monkeypatch.setattr(FakeCapture, "offer", (1920, 1080))
    monkeypatch.setattr(FakeCapture, "image", None)
    monkeypatch.setattr(realtime.capture, "open_capture", FakeCapture)
    return FakeCapture
