"""The real window under a virtual screen (Xvfb): it opens, shows frames, and obeys d, s and q."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import cv2
import pytest
from conftest import ROOT, need


@pytest.fixture()
def display():
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        need("Xvfb and xdotool (Debian packages xvfb, xdotool)")
    num = 90 + os.getpid() % 9
    server = subprocess.Popen(["Xvfb", f":{num}", "-screen", "0", "1024x768x24"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield f":{num}"
    server.terminate()
    server.wait(timeout=10)


def xdotool(display: str, *args: str) -> str:
    r = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                       timeout=20)
    return r.stdout.strip()


def test_window_opens_takes_keys_and_quits(display, tmp_path):
    env = {**os.environ, "DISPLAY": display, "QT_LOGGING_RULES": "*=false"}
    app = subprocess.Popen([sys.executable, "-m", "realtime.cam", "--source", "demo", "--snapshot-dir", str(tmp_path)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    window = ""
    deadline = time.time() + 60
    while time.time() < deadline and not window:
        time.sleep(0.5)
        window = xdotool(display, "search", "--name", "digitcam").split("\n")[0]
    assert window, "no window appeared"
    time.sleep(2.0)  # let frames flow
    xdotool(display, "windowfocus", "--sync", window)
    xdotool(display, "key", "d")
    time.sleep(0.5)
    xdotool(display, "key", "s")
    time.sleep(1.0)
    xdotool(display, "key", "q")
    out, err = app.communicate(timeout=30)
    assert app.returncode == 0, err
    assert "frames from demo" in out and "no screen" not in err
    shots = list(tmp_path.glob("digitcam-*.png"))
    assert len(shots) == 1 and "snapshot saved" in err
    shot = cv2.imread(str(shots[0]))
    assert shot.shape == (480, 640, 3)
    assert (shot[:120, -160:] < 20).mean() > 0.5, "the debug view's mask thumbnail (mostly black) is at the top right"
