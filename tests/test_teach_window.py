"""Teach mode in the real window under Xvfb: t freezes and numbers the digits, a wrong count is refused,
the digits typed in order are stored, a click picks one box for its own digit, Esc goes back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from conftest import ROOT
from test_teach import sheet
from test_window import display, find_window, key, shown_when, xdotool  # noqa: F401 - display is a fixture

from realtime.draw import BLUE
from realtime.samples import load_samples


def wait_for(log: Path, text: str, timeout: float = 60.0) -> str:
    """Wait until the app's stderr (a file) says `text`; return what it said so far."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        said = log.read_text()
        if text in said:
            return said
        time.sleep(0.2)
    raise AssertionError(f"the app never said {text!r}; it said:\n{log.read_text()}")


def border_shows(fb: Path, screen_name: str, window: str, blue: bool, timeout: float = 10.0) -> bool:
    """Whether the window's border is (or is not, with blue=False) teach mode's blue within `timeout` s: the
    log line comes just before the window is drawn, and a busy machine may take a while to draw it."""
    def blue_edge(img: np.ndarray) -> bool:
        near = np.all(np.abs(img.astype(int) - BLUE) < 30, axis=2)
        return bool(near[:, :3].all() and near[-3:].all())

    return blue_edge(shown_when(fb, screen_name, window, lambda img: blue_edge(img) == blue, timeout)) == blue


def type_keys(screen_name: str, window: str, text: str) -> None:
    for ch in text:
        key(screen_name, window, ch, 0.15)


def test_teach_mode_numbers_the_digits_refuses_a_wrong_count_and_stores_typed_and_clicked_labels(
        display, reader, tmp_path):  # noqa: F811 - the fixture
    display, fb = display
    truth, digits = sheet(reader, tmp_path / "sheet.png")
    log = tmp_path / "stderr.txt"
    env = {**os.environ, "DISPLAY": display, "QT_LOGGING_RULES": "*=false", "XDG_DATA_HOME": str(tmp_path)}
    with open(log, "w") as err:
        app = subprocess.Popen([sys.executable, "-m", "realtime.cam", "--source", str(tmp_path / "sheet.png")],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    window = find_window(display)
    wait_for(log, "end of sheet.png: its last frame stays")
    xdotool(display, "windowfocus", "--sync", window)
    root = tmp_path / "digitcam"

    key(display, window, "t", 0.5)
    wait_for(log, f"teach: {len(truth)} digits numbered")
    type_keys(display, window, "12")
    key(display, window, "Return", 0.5)
    wait_for(log, f"2 digits given but the frame shows {len(truth)}")
    assert border_shows(fb, display, window, blue=True), "teach mode: a blue border"
    assert load_samples(root) == ([], []), "a wrong count stores nothing"

    key(display, window, "BackSpace", 0.2)
    key(display, window, "BackSpace", 0.2)
    type_keys(display, window, "".join(map(str, truth)))
    key(display, window, "Return", 0.5)
    wait_for(log, f"teach: stored {''.join(map(str, truth))}")
    assert [s.label for s in load_samples(root)[0]] == truth

    pick = 2
    x, y, w, h = digits[pick].box
    for attempt in range(3):  # a click lost by a busy X server is sent again: picking a box twice is the same
        xdotool(display, "mousemove", "--window", window, str(x + w // 2), str(y + h // 2), "click", "1")
        try:
            wait_for(log, f"box {pick + 1} picked", timeout=20)
            break
        except AssertionError:
            if attempt == 2:
                raise
    key(display, window, str(truth[pick]), 0.5)
    wait_for(log, f"stored box {pick + 1} as {truth[pick]}")
    samples = load_samples(root)[0]
    assert len(samples) == len(truth) + 1 and samples[-1].label == truth[pick] and samples[-1].box == digits[pick].box

    key(display, window, "Escape", 0.5)
    wait_for(log, "teach: back to the video")
    assert border_shows(fb, display, window, blue=False), "the border goes with teach mode"
    key(display, window, "q", 0)
    out, _ = app.communicate(timeout=30)
    assert app.returncode == 0, log.read_text()
    assert "1 frames from sheet.png" in out
