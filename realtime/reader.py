"""Building the app's reader: the shipped (or given) weights on the fastest backend, warmed up.

The live tool and every measuring command build their Reader here, so they all read frames the same way.
"""

from __future__ import annotations

from pathlib import Path

from realtime.classify import pick_backend
from realtime.detect import DetectConfig
from realtime.pipeline import Reader
from train.checkpoint import load_weights

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = ROOT / "weights" / "fcl.pth"


def build_reader(weights: Path | None = None, device: str = "auto", config: DetectConfig | None = None,
                 min_confidence: float = 0.5, smooth: bool = True) -> tuple[Reader, dict]:
    """A Reader on the fastest backend for `device`, and what was measured to choose it."""
    state = load_weights(weights or DEFAULT_WEIGHTS)
    backend, timings = pick_backend(state, device)
    reader = Reader(backend, config, min_confidence, smooth)
    reader.warm_up()
    return reader, {"backend": backend.name, "timings_us": timings}
