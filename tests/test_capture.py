"""Capture: back-off and recovery from a failing camera, newest-frame policy, clean ends."""

from __future__ import annotations

import time

import numpy as np

from realtime.capture import Backoff, Frame, Grabber, ReadError, Source, VideoSource


class FlakyCamera(Source):
    """A fake camera: delivers `good` frames, then fails `bad` reads (unplugged), then delivers again."""

    name = "fake camera"
    live = True

    def __init__(self, good: int, bad: int, period: float = 0.002) -> None:
        self.good, self.bad, self.period = good, bad, period
        self.reads = self.failures = self.reopens = self.count = 0

    def read(self) -> Frame | None:
        time.sleep(self.period)
        self.reads += 1
        if self.good <= self.reads - 1 < self.good + self.bad:
            self.failures += 1
            raise ReadError("fake camera delivered no frame")
        self.count += 1
        return Frame(np.full((4, 4, 3), self.count % 255, np.uint8), self.count - 1, self.name)

    def reopen(self) -> None:
        self.reopens += 1


def test_backoff_doubles_up_to_a_cap():
    d = Backoff(first=0.1, cap=1.0).delays()
    assert [next(d) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_a_camera_that_fails_is_retried_with_backoff_and_the_loop_resumes():
    cam = FlakyCamera(good=5, bad=4)
    messages: list[str] = []
    grab = Grabber(cam, Backoff(first=0.01, cap=0.04), log=messages.append)
    seen, statuses = [], set()
    deadline = time.time() + 5
    while time.time() < deadline and (not seen or seen[-1] < 20):
        f = grab.next(timeout=0.05)
        if grab.status:
            statuses.add(grab.status)
        if f is not None:
            seen.append(f.index)
    grab.close()
    assert seen and seen[-1] >= 20, "frames came back after the failures"
    assert cam.failures == 4 and cam.reopens == 4
    assert any("retrying" in s for s in statuses)
    assert any("retrying" in m for m in messages) and any("is back after 4 failed reads" in m for m in messages)
    assert grab.status == ""


def test_a_live_source_hands_over_the_newest_frame_not_a_backlog():
    cam = FlakyCamera(good=10_000, bad=0, period=0.001)
    grab = Grabber(cam, log=lambda m: None)
    got = []
    for _ in range(15):
        f = grab.next(timeout=0.5)
        time.sleep(0.02)  # a slow frame: ~20 camera frames arrive meanwhile
        if f is not None:
            got.append(f.index)
    newest = cam.count - 1
    grab.close()
    assert grab.dropped > 50
    assert got == sorted(got) and newest - got[-1] < 40  # no growing lag


def test_a_file_source_loses_no_frame_and_ends(tmp_path):
    import cv2

    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for i in range(25):
        w.write(np.full((48, 64, 3), i * 10, np.uint8))
    w.release()
    grab = Grabber(VideoSource(path))
    frames = []
    while not grab.ended:
        f = grab.next(timeout=1.0)
        if f is not None:
            frames.append(f.index)
    grab.close()
    assert frames == list(range(25))
