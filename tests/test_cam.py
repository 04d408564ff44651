"""The real loop, headless: sources, JSON lines, recording, fallbacks, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
from conftest import ROOT

from realtime.cam import main
from realtime.capture import Frame, Source
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


def test_no_camera_falls_back_to_the_demo_only_by_default(fake_camera, tmp_path, monkeypatch, capsys):
    fake_camera.opens = set()  # no camera anywhere
    monkeypatch.chdir(tmp_path)
    assert main(["--max-frames", "30", "--quiet", "--headless"]) == 0
    out, err = capsys.readouterr()
    assert "no camera at index 0" in err and "built-in demo" in err and "--camera-backend" not in err
    assert "30 frames from demo" in out and "demo truth:" in out
    assert main(["--source", "1", "--headless"]) == 2  # named, so meant: an error, not a demo
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: no camera at index 1")
    assert "try another --source index, --camera-backend" in err and "frames from" not in out


def test_main_job_with_no_camera_and_no_screen_does_something_useful(fake_camera, tmp_path, monkeypatch):
    fake_camera.opens = set()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["--quiet"]) == 0
    shot = cv2.imread(str(tmp_path / "digitcam-demo.png"))
    assert shot is not None and shot.shape == (480, 640, 3)


def test_a_camera_is_read_at_the_size_asked_for_and_says_what_it_gave(fake_camera, tmp_path, capsys):
    fake_camera.image = make_scene(np.random.default_rng(3), FontDigits(), 5, size=(1280, 720)).image
    fake_camera.fail_reads = {4, 5}  # dropped frames along the way
    jsonl = tmp_path / "cam.jsonl"
    assert main(["--source", "0", "--width", "1280", "--height", "720", "--max-frames", "12", "--headless",
                 "--quiet", "--jsonl", str(jsonl)]) == 0
    out, err = capsys.readouterr()
    assert "camera 0 opened with" in err and ": 1280x720 MJPG at 30 fps" in err
    assert "12 frames from camera 0" in out and "start-up" in out and "s to the first frame" in out
    assert "start-up: " in err and "weights and backend choice" in err
    cap = fake_camera.instances[-1]
    assert cap.released and not cap.released_while_reading and len(fake_camera.instances) == 1
    records = [json.loads(t) for t in jsonl.read_text().splitlines()]
    assert len(records) == 12 and max(len(r["digits"]) for r in records) >= 4


@pytest.mark.parametrize("args, message", [
    (["--width", "-5"], "argument --width: must be from 64 to 8192 pixels, not -5"),
    (["--height", "100000"], "argument --height: must be from 64 to 8192 pixels, not 100000"),
    (["--width", "wide"], "argument --width: 'wide' is not a whole number of pixels"),
    (["--max-frames", "-1"], "argument --max-frames: must be 0 (no limit) or more, not -1"),
    (["--record", "out.xyz"], "argument --record: 'out.xyz': the file name must end in .mp4 or .avi"),
    (["--threshold", "1.5"], "argument --threshold: must be between 0 and 1, not 1.5"),
    (["--camera-backend", "quicktime"], "argument --camera-backend: invalid choice: 'quicktime'"),
])
def test_bad_options_are_one_line_errors(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert "usage:" not in err and "Traceback" not in err and "cv2.error" not in err


def test_an_explicit_stream_or_device_that_cannot_be_opened_is_an_error(fake_camera, capsys):
    fake_camera.opens = set()
    assert main(["--source", "rtsp://127.0.0.1:9/none", "--headless"]) == 2
    assert "error: cannot open the stream rtsp://127.0.0.1:9/none" in capsys.readouterr().err
    assert main(["--source", "/dev/video63", "--headless"]) == 2
    assert "error: --source /dev/video63: no such camera device" in capsys.readouterr().err


def _unused_display() -> str:
    for n in range(60, 80):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            return f":{n}"
    pytest.skip("no free X display number")


def test_a_display_that_does_not_answer_runs_headless_instead_of_aborting(tmp_path):
    display = _unused_display()
    env = {**os.environ, "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    r = subprocess.run([sys.executable, "-m", "realtime.cam", "--source", "demo", "--max-frames", "5", "--quiet"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr  # Qt would abort with 134
    said = [line for line in r.stderr.splitlines() if "DISPLAY" in line]
    assert said == [f"DISPLAY={display} is set but no X server answers there: running headless on demo with the "
                    f"{said[0].rsplit('with the ', 1)[1]}"], r.stderr
    assert "5 frames from demo" in r.stdout


class TimedSource(Source):
    """A live source whose frames carry their own capture times, `interval` apart (a camera that the
    loop keeps up with at 1 / interval fps), while it claims `fps` like a webcam does."""

    name = "timed camera"
    live = True

    def __init__(self, frames: int, interval: float, fps: float = 30.0) -> None:
        self.frames, self.interval, self.fps = frames, interval, fps
        self.count = 0
        self.image = make_scene(np.random.default_rng(1), FontDigits(), 4).image
        self.go = threading.Semaphore(1)

    def read(self) -> Frame | None:
        if self.count >= self.frames:
            return None
        while not self.go.acquire(timeout=0.05):  # the next frame only once the loop took this one
            pass
        self.count += 1
        return Frame(self.image.copy(), self.count - 1, self.name, t=100.0 + (self.count - 1) * self.interval)


def test_a_recording_plays_at_the_speed_the_frames_were_shown(reader, tmp_path):
    from realtime.cam import Loop, parser

    source = TimedSource(frames=20, interval=0.1, fps=30.0)  # shown at 10 fps, camera says 30
    path = tmp_path / "shown.avi"
    args = parser().parse_args(["--headless", "--quiet", "--record", str(path)])
    loop = Loop(args, reader, "sparse", source, window=False, fallback_demo=False)
    loop.on_frame = lambda ms: source.go.release()
    assert loop.run() == 0
    cap = cv2.VideoCapture(str(path))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert fps == 30 and frames == 1 + 19 * 3, frames  # 1.9 s of showing: 57 ticks of 1/30 s after the first
    assert frames / fps == pytest.approx(1.9 + 1 / 30)


def test_the_recorder_holds_slow_frames_and_thins_fast_ones(tmp_path):
    from realtime.record import MAX_HOLD_S, Recorder

    def frames_in(path) -> int:
        cap = cv2.VideoCapture(str(path))
        n = 0
        while cap.read()[0]:
            n += 1
        return n

    img = np.zeros((48, 64, 3), np.uint8)
    for shown_fps, seconds, expected in ((120, 1.0, 31), (10, 1.0, 31), (30, 1.0, 31)):
        rec = Recorder(tmp_path / f"r{shown_fps}.avi", 30)
        for k in range(int(shown_fps * seconds) + 1):
            rec.write(img, k / shown_fps)
        rec.close()
        assert frames_in(tmp_path / f"r{shown_fps}.avi") == expected, shown_fps
    rec = Recorder(tmp_path / "pause.avi", 10)
    rec.write(img, 0.0)
    rec.write(img, 2.0)  # two seconds paused on the first frame: 19 more ticks of it, then this one
    rec.write(img, 1000.0)  # a pause of many minutes is cut to MAX_HOLD_S
    rec.write(img, 1000.5)
    rec.close()
    assert frames_in(tmp_path / "pause.avi") == 20 + 1 + int(MAX_HOLD_S * 10) + 1 + 5
