"""Capture: cameras through a fake OpenCV capture (no webcam here), streams, devices, read failures,
back-off and recovery, the newest-frame policy, releasing only after the thread has ended, clean ends.

What a fake cannot show: that a real driver honours MJPG, the size and the one-frame buffer, how long
DirectShow or MSMF take to open, or what macOS does when camera access is refused. README.md lists these.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

import realtime.capture as capture
from realtime.capture import (
    Backoff,
    CameraSource,
    Frame,
    Grabber,
    ReadError,
    Source,
    SourceError,
    VideoSource,
    camera_apis,
    open_source,
    parse_camera,
)


def test_a_large_size_asks_for_mjpg_before_the_size_and_a_one_frame_buffer(fake_camera):
    messages: list[str] = []
    cam = CameraSource(0, 1280, 720, log=messages.append)
    calls = fake_camera.instances[-1].calls
    props = [p for p, _ in calls]
    assert calls[0] == (cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
    assert props.index(cv2.CAP_PROP_FOURCC) < props.index(cv2.CAP_PROP_FRAME_WIDTH)
    assert (cv2.CAP_PROP_BUFFERSIZE, 1) in calls
    assert messages == ["camera 0 opened with " + capture.api_name(cam.api) + ": 1280x720 MJPG at 30 fps"]
    assert cam.read().image.shape == (720, 1280, 3)


def test_a_small_size_keeps_the_cameras_format_and_a_refused_size_is_logged(fake_camera):
    messages: list[str] = []
    CameraSource(0, 640, 480, log=messages.append)
    assert cv2.CAP_PROP_FOURCC not in [p for p, _ in fake_camera.instances[-1].calls]
    assert messages[-1].endswith(": 640x480 YUYV at 30 fps")
    fake_camera.offer = (1280, 720)
    CameraSource(0, 1920, 1080, log=messages.append)
    assert "1280x720 MJPG at 30 fps (asked for 1920x1080: the camera does not offer it)" in messages[-1]


@pytest.mark.parametrize("platform, expected", [
    ("win32", [cv2.CAP_DSHOW, cv2.CAP_MSMF]),  # DirectShow first: it opens far faster
    ("darwin", [cv2.CAP_AVFOUNDATION]),
    ("linux", [cv2.CAP_V4L2]),
    ("freebsd14", [cv2.CAP_ANY]),
])
def test_each_platform_opens_cameras_with_its_own_api(platform, expected):
    assert camera_apis("auto", platform) == expected
    assert camera_apis("gstreamer", platform) == [cv2.CAP_GSTREAMER]
    assert camera_apis("msmf", platform) == [cv2.CAP_MSMF]


def test_windows_falls_back_from_directshow_to_media_foundation(fake_camera, monkeypatch):
    monkeypatch.setattr(capture.sys, "platform", "win32")
    fake_camera.opens = {cv2.CAP_MSMF}
    cam = CameraSource(0)
    assert [c.api for c in fake_camera.instances] == [cv2.CAP_DSHOW, cv2.CAP_MSMF] and cam.api == cv2.CAP_MSMF
    assert fake_camera.instances[0].released


def test_a_camera_that_does_not_open_names_the_index_what_to_try_and_on_macos_the_permission(fake_camera,
                                                                                            monkeypatch):
    fake_camera.opens = set()
    with pytest.raises(SourceError) as e:
        CameraSource(1, backend="v4l2")
    assert "no camera at index 1 through v4l2" in str(e.value) and "--camera-backend auto, dshow" in str(e.value)
    assert "Privacy" not in str(e.value)
    monkeypatch.setattr(capture.sys, "platform", "darwin")
    with pytest.raises(SourceError) as e:
        CameraSource(0)
    assert [c.api for c in fake_camera.instances[-1:]] == [cv2.CAP_AVFOUNDATION]
    assert "allow camera access" in e.value.message and "Privacy & Security > Camera" in e.value.message


def test_a_stream_url_opens_with_ffmpeg_and_timeouts_and_hides_its_password(fake_camera):
    src = open_source("rtsp://user:secret@192.168.1.20:8554/live")
    cap = fake_camera.instances[-1]
    assert src.live and cap.api == cv2.CAP_FFMPEG and cap.target == "rtsp://user:secret@192.168.1.20:8554/live"
    assert cv2.CAP_PROP_OPEN_TIMEOUT_MSEC in cap.params and cv2.CAP_PROP_READ_TIMEOUT_MSEC in cap.params
    assert src.name == "rtsp://user:***@192.168.1.20:8554/live"
    assert open_source("http://phone.local:8080/video").name == "http://phone.local:8080/video"
    fake_camera.opens = set()
    with pytest.raises(SourceError, match="cannot open the stream https://example.invalid/cam"):
        open_source("https://example.invalid/cam")


def test_a_video_device_path_is_a_live_camera(fake_camera, monkeypatch, tmp_path):
    assert parse_camera("2") == 2 and parse_camera("/dev/video12") == 12 and parse_camera("clip.mp4") is None
    link = tmp_path / "usb-cam-index0"
    link.symlink_to("/dev/video4")  # like the links in /dev/v4l/by-id/
    assert parse_camera(str(link)) == 4
    with pytest.raises(SourceError, match="usb-cam-index0: no such camera device"):
        open_source(str(link))  # the link is there, the device it names is not
    with pytest.raises(SourceError, match="/dev/video7: no such camera device"):
        open_source("/dev/video7")
    monkeypatch.setattr(capture.os.path, "exists", lambda p: True)
    monkeypatch.setattr(capture.sys, "platform", "linux")
    src = open_source("/dev/video7")
    assert src.live and src.name == "/dev/video7"
    assert fake_camera.instances[-1].target == 7 and fake_camera.instances[-1].api == cv2.CAP_V4L2


def test_a_few_failed_reads_are_read_again_and_more_reopen_the_camera(fake_camera):
    fake_camera.fail_reads = {3, 4}  # two dropped frames: fewer than tolerated
    messages: list[str] = []
    grab = Grabber(CameraSource(0), log=messages.append, tolerate=5)
    frames = _frames(grab, 10)
    grab.close()
    assert len(fake_camera.instances) == 1, "no reopen for two dropped frames"
    assert grab.failures == 2 and frames == sorted(frames) and not messages

    fake_camera.instances.clear()
    fake_camera.fail_reads = set(range(3, 10))  # seven in a row: reopened after the fifth
    grab = Grabber(CameraSource(0), Backoff(first=0.01, cap=0.02), log=messages.append, tolerate=5)
    _frames(grab, 5)
    grab.close()
    assert len(fake_camera.instances) > 1 and fake_camera.instances[0].released
    assert any("retrying" in m for m in messages) and any("is back after" in m for m in messages)


def _frames(grab: Grabber, n: int, timeout: float = 30.0) -> list[int]:
    """The indices of the next `n` frames the grabber hands over (the timeout only guards a hang)."""
    got: list[int] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        f = grab.next(timeout=0.05)
        if f is not None:
            got.append(f.index)
    return got


def test_a_live_source_logs_the_rate_it_really_delivers(fake_camera):
    messages: list[str] = []
    grab = Grabber(CameraSource(0, 640, 480), log=messages.append, rate_after=0.05)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("delivers" in m for m in messages):
        grab.next(timeout=0.05)
    grab.close()
    assert any(m.startswith("capture: camera 0 delivers 640x480 frames at ") and m.endswith(" fps") for m in messages)


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
    cam = FlakyCamera(good=5, bad=8)
    messages: list[str] = []
    grab = Grabber(cam, Backoff(first=0.01, cap=0.04), log=messages.append, tolerate=5)
    seen, statuses = [], set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not seen or seen[-1] < 20):
        f = grab.next(timeout=0.05)
        if grab.status:
            statuses.add(grab.status)
        if f is not None:
            seen.append(f.index)
    grab.close()
    assert seen and seen[-1] >= 20, "frames came back after the failures"
    assert cam.failures == 8 and cam.reopens == 4  # the first four read again at once, then reopened
    assert any("retrying" in s for s in statuses)
    assert any("retrying" in m for m in messages) and any("is back after 8 failed reads" in m for m in messages)
    assert grab.status == ""


class SteppedCamera(Source):
    """A live source that delivers one frame each time the test releases one, and counts them."""

    name = "stepped camera"
    live = True

    def __init__(self) -> None:
        self.allowed = threading.Semaphore(0)
        self.delivered = threading.Semaphore(0)
        self.count = 0

    def read(self) -> Frame | None:
        while not self.allowed.acquire(timeout=0.05):
            pass
        self.count += 1
        frame = Frame(np.zeros((2, 2, 3), np.uint8), self.count - 1, self.name)
        self.delivered.release()
        return frame


def test_a_live_source_hands_over_the_newest_frame_not_a_backlog():
    cam = SteppedCamera()
    grab = Grabber(cam, log=lambda m: None)
    for _ in range(10):  # ten frames arrive while the loop is busy with something else
        cam.allowed.release()
    for _ in range(10):
        assert cam.delivered.acquire(timeout=30)
    deadline = time.monotonic() + 30
    while grab.dropped < 9 and time.monotonic() < deadline:  # until the grabber has stored the tenth
        time.sleep(0.001)
    newest = grab.next(timeout=5)
    assert newest is not None and newest.index == 9 and grab.dropped == 9
    cam.allowed.release()
    assert grab.next(timeout=5).index == 10
    grab.close(wait=0.1)


class SlowReadSource(Source):
    """A source whose read blocks until the test lets it return; it notes a close during a read."""

    name = "slow"
    live = True

    def __init__(self) -> None:
        self.in_read = threading.Event()
        self.finish = threading.Event()
        self.reading = False
        self.closed_while_reading = False
        self.closed = threading.Event()

    def read(self) -> Frame | None:
        self.reading = True
        self.in_read.set()
        self.finish.wait(30)
        self.reading = False
        return Frame(np.zeros((2, 2, 3), np.uint8), 0, self.name)

    def close(self) -> None:
        self.closed_while_reading |= self.reading
        self.closed.set()


def test_the_camera_is_released_only_after_the_capture_thread_has_ended():
    src = SlowReadSource()
    grab = Grabber(src, log=lambda m: None)
    assert src.in_read.wait(30)
    grab.close(wait=0.05)  # the read is still blocked: close must not release under it
    assert not src.closed.is_set()
    src.finish.set()
    assert src.closed.wait(30), "released by the capture thread once its read returned"
    assert not src.closed_while_reading


def test_a_file_source_loses_no_frame_and_ends(tmp_path):
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
