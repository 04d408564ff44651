"""The personal fine-tune: it learns a style MNIST lacks while MNIST holds; its command's bad inputs and kills."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT, WEIGHTS

from realtime.measure.scene import FontDigits, tight
from realtime.samples import samples_dir, save_samples
from train.checkpoint import load_weights
from train.mnist_spec import from_crop
from train.personal import SURE, PersonalConfig, few_note, folds_of, predict, run_personal

#: A 1 with a flag as long as its stem is tall (as many people write it): MNIST's writers did not, and the
#: shipped network reads most of them as 7s.
LONG_FLAG_ONE = [[(0.0, 0.45), (0.38, 0.0), (0.38, 1.0)]]
FAST = dict(steps=150, folds=0, mnist_pool=5000, outlier_bank=500)  # a small configuration: seconds


def pen(rng: np.random.Generator, strokes) -> np.ndarray:
    """One handwritten sample of a stroke skeleton (jittered, slanted, at a random pen width), as the app's 28x28."""
    size, slant, sx = 128, rng.uniform(-0.25, 0.1), rng.uniform(0.85, 1.15)
    canvas = np.zeros((size + 64, size + 64), np.uint8)
    width = int(rng.integers(6, 14))
    for stroke in strokes:
        pts = np.array(stroke, np.float32)
        t = np.linspace(0, 3, len(pts))
        knots = rng.normal(0, 0.03, (4, 2))
        pts += np.stack([np.interp(t, np.arange(4), knots[:, k]) for k in (0, 1)], 1).astype(np.float32)
        x = (pts[:, 0] * sx + slant * (pts[:, 1] - 0.5)) * size * 0.95 + 32 + size * 0.2
        y = pts[:, 1] * size * 0.95 + 32
        poly = np.round(np.stack([x, y], 1) * 4).astype(np.int32)
        cv2.polylines(canvas, [poly], False, 255, width, cv2.LINE_AA, shift=2)
    return from_crop(tight(canvas.astype(np.float32) / 255))


def sheet_of(seed: int, ones: int, others: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Long-flagged 1s and the demo pen's other digits (2-9, 0), as ink (N, 28, 28) and labels."""
    rng, font = np.random.default_rng(seed), FontDigits()
    x = [pen(rng, LONG_FLAG_ONE) for _ in range(ones)]
    y = [1] * ones + [(2 + k % 9) % 10 for k in range(others)]
    x += [from_crop(font.sample(rng, d)) for d in y[ones:]]
    return torch.from_numpy(np.stack(x)), torch.tensor(y)


def read_right(state: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    """Percent of `x` read as `y` surely enough not to be shown as "?"."""
    p = predict(state, x.unsqueeze(1))
    return 100.0 * ((p.argmax(1) == y) & (p.max(1).values >= SURE)).float().mean().item()


def test_a_fine_tune_learns_a_style_mnist_lacks_while_mnist_and_the_rest_hold(mnist, tmp_path):
    xs, ys = sheet_of(1, 10, 18)  # what a user teaches: ten of their 1s and two of each other digit
    tx, ty = sheet_of(2, 100, 90)  # their next sheets
    start = load_weights(WEIGHTS)
    ones, rest = ty == 1, ty != 1
    assert read_right(start, tx[ones], ty[ones]) < 60, "the shipped weights should misread this style"
    out = tmp_path / "personal.pth"
    report = run_personal(mnist, xs, ys.tolist(), WEIGHTS, out, PersonalConfig(**FAST), True, log=lambda m: None)
    state = load_weights(out)
    assert read_right(state, tx[ones], ty[ones]) >= 85
    assert read_right(state, tx[rest], ty[rest]) >= 95, "other digits of the same pen still read"
    m, o = report["mnist_test"], report["outliers_rejected"]
    assert m["after"] >= m["before"] - 0.3, m
    assert o["after"] >= o["before"] - 5, o
    assert report["per_digit"]["1"] == 10 and report["samples"] == 28
    trained = {"before": round(read_right(start, xs, ys), 2), "after": round(read_right(state, xs, ys), 2)}
    assert report["samples_trained_on"] == trained and trained["after"] > trained["before"], trained
    assert report["started_from"] == {"path": str(WEIGHTS), "sha256": report["started_from"]["sha256"], "shipped": True}
    assert json.loads(out.with_suffix(".json").read_text()) == json.loads(json.dumps(report))


def test_cross_validation_holds_out_every_sample_once_and_few_samples_get_a_note():
    cfg = PersonalConfig(folds=5)
    for n in (2, 3, 7, 40):
        held = torch.cat(folds_of(n, cfg))
        assert sorted(held.tolist()) == list(range(n)) and len(folds_of(n, cfg)) == min(5, n)
    assert folds_of(1, cfg) == [] and folds_of(10, PersonalConfig(folds=0)) == []
    assert "only 3 samples" in few_note([1, 4, 7]) and few_note(list(range(10)) * 3) == ""


def train_personal(data_home: Path, mnist_dir: Path, *args: str, wait: bool = True):
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "train", "--personal", "--data-dir", str(mnist_dir), *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def teach(root: Path, labels: list[int]) -> list[str]:
    """Store samples of `labels` written by the demo's pen, as the app would."""
    rng, font = np.random.default_rng(3), FontDigits()
    crop = np.zeros((8, 8, 3), np.uint8)
    return save_samples([(from_crop(font.sample(rng, d)), crop, d, (0, 0, 8, 8)) for d in labels], "sheet.jpg", root)


def test_no_samples_is_a_clear_error_and_few_samples_still_train_past_a_corrupt_file(tmp_path, mnist_dir):
    code, out, err = train_personal(tmp_path, mnist_dir, "--steps", "20", "--folds", "2")
    assert code == 2 and err.count("\n") == 1 and "no personal samples in" in err and "--teach" in err, err
    root = tmp_path / "digitcam"
    teach(root, [2, 5, 8])
    bad = samples_dir(root) / "20000101-000000-00.npz"
    bad.write_bytes(b"garbage")
    code, out, err = train_personal(tmp_path, mnist_dir, "--steps", "20", "--folds", "2")
    assert code == 0, err
    assert str(bad) in err and "skipped" in err and "Traceback" not in err
    assert "3 samples (2: 1, 5: 1, 8: 1)" in out and "note: only 3 samples" in out and "MNIST test: " in out
    report = json.loads((root / "personal.json").read_text())
    assert report["samples"] == 3 and report["samples_cross_validated"]["folds"] == 2
    assert load_weights(root / "personal.pth")


def test_a_fine_tune_killed_midway_loses_nothing_already_stored(tmp_path, mnist_dir):
    root = tmp_path / "digitcam"
    teach(root, [1, 1, 7])
    shutil.copy(WEIGHTS, root / "personal.pth")
    before = {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    app = train_personal(tmp_path, mnist_dir, "--steps", "100000", "--folds", "0", wait=False)
    deadline = time.time() + 120
    line = ""
    while time.time() < deadline and "fine-tuning" not in line:
        line = app.stdout.readline()
        assert line or app.poll() is None, app.stderr.read()
    time.sleep(0.5)
    app.send_signal(signal.SIGKILL)
    app.wait(timeout=30)
    app.stdout.close()
    app.stderr.close()
    after = {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before, "samples and the earlier personal weights are untouched, no file half-written"


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--folds", "1"], "--folds 0 (none) or at least 2"),
    (["--init", "missing.pth"], "missing.pth: no such file"),
])
def test_bad_fine_tune_options_are_one_line_errors(args, message, tmp_path, mnist_dir):
    teach(tmp_path / "digitcam", [3])
    code, out, err = train_personal(tmp_path, mnist_dir, *args)
    assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err, err


def test_the_per_writer_measure_teaches_one_photo_reads_the_others_and_leaves_the_users_folder_alone(
        mnist_dir, tmp_path, monkeypatch, capsys):
    from realtime.measure.personal import main, teach_photo, writers
    from realtime.measure.scene import make_scene

    photos = tmp_path / "photos"
    photos.mkdir()
    labels = {}
    for k, (writer, n) in enumerate([("a/one", 10), ("a/one", 6), ("b/two", 4), ("c/alone", 5)]):
        scene = make_scene(np.random.default_rng(k), FontDigits(), n)
        cv2.imwrite(str(photos / f"p{k}.png"), scene.image)
        labels[f"p{k}.png"] = {"digits": [t.digit for t in scene.digits], "boxes": [list(t.box) for t in scene.digits],
                               "rows": scene.lines, "source": {"repo": writer}}
    (photos / "labels.json").write_text(json.dumps(labels))
    assert writers(labels) == {"a/one": ["p0.png", "p1.png"]}, "writers with one photo are left out"
    assert teach_photo(["p0.png", "p1.png"], labels) == "p0.png", "the photo with the most different digits"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user"))
    assert main(["--photos", str(photos), "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "a/one: taught p0.png (10 samples), read 1 other photos, 6 digits: right " in out, out
    assert "all writers: 6 digits of photos not taught: read right" in out and "MNIST test at most" in out
    assert not (tmp_path / "user").exists(), "the evaluation keeps its personal data in a temporary folder"
