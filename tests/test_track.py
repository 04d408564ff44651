"""Tracking and smoothing go by seconds, not frames: the same at 10 fps and at 120 fps."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.track import MAX_GAP_S, Tracker

BOX = [(100, 100, 40, 60)]


def probs(seven: float) -> np.ndarray:
    p = np.full((1, 10), 0.0, np.float32)
    p[0, 7], p[0, 1] = seven, 1 - seven
    return p


def delay(fps: float, level: float, timed: bool = True) -> float:
    """Seconds from a change of reading (a digit read as 1, then as 7 from t = 0.5 s on) until the smoothed
    P(7) reaches `level`, with frames at `fps` (given their times, or not: then each counts as 1/30 s)."""
    tracker = Tracker()
    for k in range(10 * int(fps)):
        t = k / fps
        _, p = tracker.update(BOX, probs(0.0 if t < 0.5 else 1.0), t if timed else None)
        if p[0, 7] >= level:
            return t - 0.5
    return float("inf")


@pytest.mark.parametrize("level", [0.5, 0.9, 0.99])
def test_smoothing_follows_a_change_in_the_same_time_at_any_frame_rate(level):
    slow, fast = delay(10, level), delay(120, level)
    assert abs(slow - fast) <= 0.1 and slow < 0.6, (slow, fast)  # within one frame of the slower camera
    # going by frames instead, the same smoothing takes 12 times longer at 10 fps than at 120 fps
    by_frames = delay(10, level, timed=False), delay(120, level, timed=False)
    if level == 0.99:
        assert by_frames[0] - by_frames[1] > 1.0, by_frames


@pytest.mark.parametrize("fps", [10, 30, 120])
def test_a_digit_unseen_for_less_than_max_gap_keeps_its_track_at_any_frame_rate(fps):
    for away, kept in ((MAX_GAP_S - 0.1, True), (MAX_GAP_S + 0.15, False)):  # 0.1 s: a frame at 10 fps
        tracker = Tracker()
        ids, _ = tracker.update(BOX, probs(1.0), 0.0)
        k = 1
        while k / fps < away:  # frames without the digit
            tracker.update([], np.zeros((0, 10), np.float32), k / fps)
            k += 1
        ids_after, _ = tracker.update(BOX, probs(1.0), k / fps)
        assert (ids_after == ids) is kept, (fps, away)


def test_without_times_frames_count_as_a_thirtieth_of_a_second():
    a, b = Tracker(), Tracker()
    for k in range(6):
        pa = a.update(BOX, probs(k % 2))[1]
        pb = b.update(BOX, probs(k % 2), k / 30)[1]
        assert np.allclose(pa, pb)
