"""The real loop, headless: sources, JSON lines, recording, fallbacks, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT

from realtime.cam import main
from realtime.measure.scene import FontDigits, MnistDigits, make_scene, make_video, write_images, write_video
from realtime.score import match


def run_cam(*args, cwd=ROOT) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-m", "realtime.cam", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=300, env=env)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def video(mnist, tmp_path_factory):
    """A generated video: 12 sheets, 10 frames each, a drifting camera; with its truth."""
    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("video") / "sheets.avi"
    truth = write_video(path, make_video(rng, MnistDigits(mnist.test_x.numpy(), mnist.test_y.numpy()), 120,
                                         pages=12))
    return path, truth


def test_headless_run_on_a_video_reads_it_and_writes_json_lines_and_a_recording(video, tmp_path):
    path, truth = video
    jsonl, record = tmp_path / "out.jsonl", tmp_path / "out.avi"
    code, out, err = run_cam("--source", str(path), "--headless", "--jsonl", str(jsonl), "--record", str(record),
                             "--quiet")
    assert code == 0, err
    assert "120 frames from sheets.avi" in out and "fps average" in out and "digits read" in out
    lines = [json.loads(t) for t in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(120))
    first = lines[0]
    assert set(first) >= {"frame", "source", "digits", "lines", "ms"} and first["source"] == "sheets.avi"
    assert set(first["ms"]) >= {"detect", "normalise", "classify", "draw"}
    found = boxes = right = total = 0
    for rec, sc in zip(lines, truth):
        for d in rec["digits"]:
            assert set(d) == {"box", "digit", "confidence"} and len(d["box"]) == 4
            x, y, w, h = d["box"]
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
            assert d["digit"] is None or 0 <= d["digit"] <= 9
        pairs = match([tuple(d["box"]) for d in rec["digits"]], [t.box for t in sc.digits])
        total += len(sc.digits)
        boxes += len(rec["digits"])
        found += len(pairs)
        right += sum(rec["digits"][i]["digit"] == sc.digits[j].digit for i, j in pairs)
    assert found / total >= 0.98 and found / boxes >= 0.97 and right / total >= 0.96, (total, found, boxes, right)
    cap = cv2.VideoCapture(str(record))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (480, 640, 3)
        n += 1
    assert n == 120


def test_a_folder_is_read_once_in_name_order_and_an_image_is_one_frame(mnist, tmp_path):
    rng = np.random.default_rng(2)
    src = MnistDigits(mnist.test_x.numpy(), mnist.test_y.numpy())
    write_images(tmp_path / "sheets", [make_scene(rng, src, 4) for _ in range(3)])
    jsonl = tmp_path / "f.jsonl"
    code, out, err = run_cam("--source", str(tmp_path / "sheets"), "--jsonl", str(jsonl))
    assert code == 0, err
    names = [json.loads(t)["source"] for t in jsonl.read_text().splitlines()]
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    assert out.count("frame_0000") == 3 and "3 frames from" in out
    code, out, _ = run_cam("--source", str(tmp_path / "sheets" / "frame_00001.png"))
    assert code == 0 and "frame_00001.png: " in out and "1 frames from frame_00001.png" in out


def test_bad_sources_are_clear_errors(tmp_path):
    code, _, err = run_cam("--source", str(tmp_path / "missing.mp4"))
    assert code == 2 and "no such file or folder" in err and "Traceback" not in err
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    code, _, err = run_cam("--source", str(tmp_path / "broken.jpg"))
    assert code == 2 and "cannot read image" in err and "broken.jpg" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cam("--source", str(tmp_path / "empty"))
    assert code == 2 and "no images in folder" in err
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run_cam("--source", str(tmp_path / "notes.txt"))
    assert code == 2 and "cannot open video" in err
    code, _, err = run_cam("--source", "demo", "--weights", str(tmp_path / "nope.pth"))
    assert code == 2 and "nope.pth: no such file" in err


def test_a_folder_with_an_unreadable_image_reads_the_rest_and_exits_non_zero(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    ok = make_scene(np.random.default_rng(0), FontDigits(), 3)
    cv2.imwrite(str(folder / "a.png"), ok.image)
    (folder / "b.png").write_bytes(b"\x89PNG broken")
    code, out, err = run_cam("--source", str(folder))
    assert code == 1 and "a.png: " in out and "skipped: cannot read image" in err and "b.png" in err


def test_no_camera_falls_back_to_the_demo_and_says_so(tmp_path):
    code, out, err = run_cam("--source", "9", "--max-frames", "30", "--quiet", cwd=tmp_path)
    assert code == 0
    assert "no camera at index 9" in err and "built-in demo" in err
    assert "30 frames from demo" in out and "demo truth:" in out


def test_main_job_with_no_camera_and_no_screen_does_something_useful(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["--source", "99", "--quiet"]) == 0
    shot = cv2.imread(str(tmp_path / "digitcam-demo.png"))
    assert shot is not None and shot.shape == (480, 640, 3)
