"""Building the app's reader: the shipped (or given) weights on the fastest backend, warmed up.

The live tool and every measuring command build their Reader here, so they all read frames the same way.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from realtime.classify import pick_backend
from realtime.detect import DetectConfig
from realtime.pipeline import Reader
from train.checkpoint import load_weights


def shipped_weights(name: str = "fcl.pth") -> Path:
    """Where the shipped weights are, whatever the working directory.

    Installed (a wheel, or `pip install -e .`), they are the package data of `realtime.weights`; a checkout
    that was never installed has them in the top-level weights/ folder, which setup.cfg maps to that package.
    """
    try:
        return Path(str(resources.files("realtime.weights").joinpath(name)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "weights" / name


DEFAULT_WEIGHTS = shipped_weights()


def build_reader(weights: Path | None = None, device: str = "auto", config: DetectConfig | None = None,
                 min_confidence: float = 0.5, smooth: bool = True) -> tuple[Reader, dict]:
    """A Reader on the fastest backend for `device`, and what was measured to choose it.

    The dict holds the backend's name, every candidate's timing in microseconds, and the seconds spent
    choosing the backend and warming up (part of the start-up time the live tool reports).
    """
    t0 = time.perf_counter()
    state = load_weights(weights or DEFAULT_WEIGHTS)
    backend, timings = pick_backend(state, device)
    t1 = time.perf_counter()
    reader = Reader(backend, config, min_confidence, smooth)
    reader.warm_up()
    t2 = time.perf_counter()
    return reader, {"backend": backend.name, "timings_us": timings, "choose_s": t1 - t0, "warm_up_s": t2 - t1}
