"""Any frame a capture can hand over is processed without an exception, and gives sane boxes.

How long such frames take is measured by `python -m realtime.measure.stress`, not asserted here: a
time limit in a test fails on a busy machine for reasons that have nothing to do with the code.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from realtime.detect import DetectConfig


def check(reader, frame: np.ndarray) -> None:
    res = reader.read(frame)
    h, w = frame.shape[:2]
    for d in res.digits:
        x, y, bw, bh = d.box
        assert 0 <= x and 0 <= y and x + bw <= w + 1 and y + bh <= h + 1 and bw > 0 and bh > 0
        assert d.digit is None or 0 <= d.digit <= 9
    assert len(res.digits) <= DetectConfig.max_candidates * 3


frame_strategy = st.one_of(
    arrays(np.uint8, st.tuples(st.integers(1, 120), st.integers(1, 160))),
    arrays(np.uint8, st.tuples(st.integers(1, 120), st.integers(1, 160), st.sampled_from([1, 3, 4]))),
    arrays(np.uint16, st.tuples(st.integers(1, 90), st.integers(1, 90), st.sampled_from([1, 3]))),
    arrays(np.float32, st.tuples(st.integers(1, 60), st.integers(1, 60)),
           elements=st.floats(width=32)),  # NaN, infinities and huge values included
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frame_strategy)
def test_any_frame_is_processed_without_an_exception(reader, frame):
    check(reader, frame)


def _text_page() -> np.ndarray:
    page = np.full((720, 1280, 3), 235, np.uint8)
    for row in range(24):
        cv2.putText(page, "The quick brown fox 0123456789 jumps " * 2, (5, 30 + 29 * row),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    return page


@pytest.mark.parametrize("name, frame", [
    ("1x1", np.zeros((1, 1, 3), np.uint8)),
    ("1x1000 line", np.zeros((1, 1000), np.uint8)),  # found by python -m realtime.measure.stress
    ("1000x3 strip", np.full((1000, 3, 3), 200, np.uint8)),
    ("4000x3000 noise", np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)),
    ("all black", np.zeros((480, 640, 3), np.uint8)),
    ("all white", np.full((480, 640, 3), 255, np.uint8)),
    ("pure noise", np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)),
    ("checkerboard", np.kron((np.indices((48, 64)).sum(0) % 2) * 255, np.ones((10, 10))).astype(np.uint8)),
    ("page of text", _text_page()),
    ("16-bit BGRA", np.random.default_rng(2).integers(0, 65536, (480, 640, 4), dtype=np.uint16)),
])
def test_hostile_frames(reader, name, frame):
    check(reader, frame)
