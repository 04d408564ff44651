"""The real window under a virtual screen (Xvfb): it opens, shows frames, and obeys d, s, space and q.

Xvfb keeps its screen in a file (-fbdir, XWD format), so the test looks at what the window really shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, need

from realtime.draw import RED


@pytest.fixture()
def display(tmp_path):
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        need("Xvfb and xdotool (Debian packages xvfb, xdotool)")
    num = 90 + os.getpid() % 9
    fb = tmp_path / "fb"
    fb.mkdir()
    server = subprocess.Popen(["Xvfb", f":{num}", "-screen", "0", "1024x768x24", "-fbdir", str(fb)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield f":{num}", fb / "Xvfb_screen0"
    server.terminate()
    server.wait(timeout=10)


def xdotool(display: str, *args: str) -> str:
    r = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                       timeout=20)
    return r.stdout.strip()


def find_window(display: str, timeout: float = 60.0) -> str:
    """The id of digitcam's window once it has appeared (a cold start compiles kernels: up to a minute)."""
    window = ""
    deadline = time.time() + timeout
    while time.time() < deadline and not window:
        time.sleep(0.5)
        window = xdotool(display, "search", "--name", "digitcam").split("\n")[0]
    assert window, "no window appeared"
    return window


def screen(fb: Path, display: str, window: str) -> np.ndarray:
    """What the window shows now, cut from Xvfb's screen file (XWD: a big-endian header, then BGRX pixels)."""
    raw = fb.read_bytes()
    head = np.frombuffer(raw[:100], ">u4")
    w, h, per_line = int(head[4]), int(head[5]), int(head[12])
    offset = int(head[0]) + 12 * int(head[19])
    pixels = np.frombuffer(raw, np.uint8, h * per_line, offset).reshape(h, per_line)[:, : 4 * w]
    img = pixels.reshape(h, w, 4)[:, :, :3]
    geo = dict(line.split("=") for line in xdotool(display, "getwindowgeometry", "--shell", window).split())
    x, y, ww, wh = (int(geo[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return img[y : y + wh, x : x + ww]


def key(display: str, window: str, name: str, settle: float = 1.0) -> None:
    xdotool(display, "key", "--window", window, name)
    time.sleep(settle)


def shown_when(fb: Path, display: str, window: str, wanted, timeout: float = 15.0) -> np.ndarray:
    """The window's picture once it satisfies `wanted`, or the last one seen after `timeout` seconds.

    A busy machine can take seconds to repaint a window the X server has just resized (it shows black
    until then), so the test waits for the state a key press leads to instead of trusting one fixed pause.
    """
    deadline = time.time() + timeout
    while True:
        img = screen(fb, display, window)
        if wanted(img) or time.time() > deadline:
            return img
        time.sleep(0.2)


def test_window_opens_takes_keys_and_quits(display, tmp_path):
    display, fb = display
    env = {**os.environ, "DISPLAY": display, "QT_LOGGING_RULES": "*=false"}
    app = subprocess.Popen([sys.executable, "-m", "realtime.cam", "--source", "demo", "--snapshot-dir", str(tmp_path)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    window = find_window(display)
    time.sleep(2.0)  # let frames flow
    xdotool(display, "windowfocus", "--sync", window)
    assert screen(fb, display, window).shape[:2] == (480, 640)
    is_red = lambda img: np.all(np.abs(img.astype(int) - RED) < 30, axis=2)  # noqa: E731
    red_edge = lambda img: is_red(img[:, :3]).all() and is_red(img[:3]).all()  # noqa: E731
    key(display, window, "d")
    key(display, window, "s")
    key(display, window, "space")
    paused = shown_when(fb, display, window, red_edge)
    key(display, window, "space")
    running = shown_when(fb, display, window, lambda img: not red_edge(img) and img.mean() > 20)
    key(display, window, "q", 0)
    out, err = app.communicate(timeout=30)
    assert app.returncode == 0, err
    assert "frames from demo" in out and "no screen" not in err and "start-up: " in err
    shots = list(tmp_path.glob("digitcam-*.png"))
    assert len(shots) == 1 and "snapshot saved" in err
    shot = cv2.imread(str(shots[0]))
    assert shot.shape[1] == 640 and shot.shape[0] > 480, "the debug panel is below the video"
    assert (shot[480 + 10 : 480 + 100, -150:] < 20).mean() > 0.5, "the mask thumbnail (mostly black) in the panel"
    assert (shot[:120, -160:] > 100).mean() > 0.5, "nothing drawn over the video's corner"
    assert paused.shape == shot.shape and red_edge(paused), "paused: red"
    assert not is_red(running[:, :3]).all() and running.mean() > 20, "the mark goes when it runs again, the video stays"
