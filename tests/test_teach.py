"""Teaching without a window: the sample store, `digitcam --teach`, listing and removing, and which weights run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, WEIGHTS

from realtime.measure.scene import FontDigits, make_scene
from realtime.samples import SampleError, describe, load_samples, remove_samples, samples_dir, save_samples
from realtime.score import match


def run_cam(*args, data_home: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["XDG_DATA_HOME"] = str(data_home)
    r = subprocess.run([sys.executable, "-m", "realtime.cam", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env=env)
    return r.returncode, r.stdout, r.stderr


def sheet(reader, path: Path, seed: int = 1, n: int = 10) -> tuple[list[int], list]:
    """A generated sheet written to `path`; its true digits in the Reader's reading order, and its digits."""
    scene = make_scene(np.random.default_rng(seed), FontDigits(), n)
    cv2.imwrite(str(path), scene.image)
    digits = reader.read(scene.image, still=True).digits
    pairs = dict(match([d.box for d in digits], [t.box for t in scene.digits]))
    assert len(pairs) == len(digits) == len(scene.digits), "the sheet must be read whole for this test"
    return [scene.digits[pairs[i]].digit for i in range(len(digits))], digits


def fake_items(labels: list[int]) -> list:
    rng = np.random.default_rng(0)
    return [(rng.random((28, 28)).astype(np.float32), np.full((40, 30, 3), 200, np.uint8), d, (10 * d, 5, 30, 40))
            for d in labels]


def test_samples_are_stored_one_file_each_loaded_back_and_a_corrupt_one_is_skipped_and_named(tmp_path):
    items = fake_items([3, 1, 4])
    ids = save_samples(items, "sheet.jpg", tmp_path)
    again = save_samples(fake_items([1, 5]), "other.jpg", tmp_path)  # the same second: another prefix
    assert len(set(i.rsplit("-", 1)[0] for i in ids + again)) == 2
    bad = samples_dir(tmp_path) / "20000101-000000-00.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    samples, problems = load_samples(tmp_path)
    assert [s.label for s in samples] == [3, 1, 4, 1, 5] and [s.id for s in samples] == ids + again
    assert np.array_equal(samples[0].image, items[0][0]) and samples[0].crop.shape == (40, 30, 3)
    assert samples[0].source == "sheet.jpg" and samples[0].box == (30, 5, 30, 40) and samples[0].date[:2] == "20"
    assert len(problems) == 1 and str(bad) in problems[0] and "skipped" in problems[0]
    assert not list(samples_dir(tmp_path).glob("*.tmp")), "atomic writes leave no temporary file"
    text = describe(tmp_path)
    assert "5 samples" in text and "314" in text and "15" in text and "1: 2" in text
    assert "personal weights: none" in text


def test_samples_are_removed_by_id_by_photo_or_all_and_a_typo_removes_nothing(tmp_path):
    ids = save_samples(fake_items([1, 2, 3]), "a.jpg", tmp_path)
    other = save_samples(fake_items([7, 8]), "b.jpg", tmp_path)
    with pytest.raises(SampleError, match="no sample 'nope'"):
        remove_samples([ids[0], "nope"], tmp_path)
    assert len(load_samples(tmp_path)[0]) == 5
    assert remove_samples([ids[1]], tmp_path) == [ids[1]]
    assert remove_samples([other[0].rsplit("-", 1)[0]], tmp_path) == other
    assert [s.id for s in load_samples(tmp_path)[0]] == [ids[0], ids[2]]
    assert remove_samples(["all"], tmp_path) == [ids[0], ids[2]] and load_samples(tmp_path) == ([], [])


def test_headless_teach_stores_the_sheets_digits_with_the_labels_given_in_reading_order(reader, tmp_path):
    truth, digits = sheet(reader, tmp_path / "sheet.png")
    typed = "".join(map(str, truth))
    code, out, err = run_cam("--source", str(tmp_path / "sheet.png"), "--teach", f"{typed[:4]} {typed[4:]}",
                             data_home=tmp_path)
    assert code == 0, err
    assert f"stored {len(truth)} samples from sheet.png" in out
    samples, problems = load_samples(tmp_path / "digitcam")
    assert not problems and [s.label for s in samples] == truth
    for s, d in zip(samples, digits):
        assert s.box == d.box and np.allclose(s.image, d.image, atol=1e-6)
        assert s.source == str((tmp_path / "sheet.png").resolve()) and s.crop.ndim == 3

    code, out, err = run_cam("--source", str(tmp_path / "sheet.png"), "--teach", typed[:-1], data_home=tmp_path)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{len(truth) - 1} digits given but sheet.png shows {len(truth)}" in err and "nothing stored" in err
    assert len(load_samples(tmp_path / "digitcam")[0]) == len(truth), "a wrong count stores nothing"


@pytest.mark.parametrize("args, message", [
    (["--teach", "12a"], "argument --teach: '12a': only digits 0-9 can be taught"),
    (["--teach", "12"], "--teach needs --source IMAGE"),
    (["--teach", "12", "--source", "demo"], "--teach needs --source IMAGE"),
    (["--teach", "12", "--source", "missing.png"], "--source missing.png: no such image file"),
    (["--remove-samples", "20990101-000000"], "no sample '20990101-000000'"),
])
def test_bad_teaching_input_is_a_one_line_error(args, message, tmp_path, monkeypatch, capsys):
    from realtime.cam import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "digitcam" / "samples").exists() or not list((tmp_path / "digitcam" / "samples").iterdir())


def test_samples_and_personal_weights_are_listed_and_removed_from_the_command_line(tmp_path, monkeypatch, capsys):
    from realtime.cam import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    ids = save_samples(fake_items([4, 4, 7]), "sheet.jpg", tmp_path / "digitcam")
    shutil.copy(WEIGHTS, tmp_path / "digitcam" / "personal.pth")
    assert main(["--list-samples"]) == 0
    out = capsys.readouterr().out
    assert f"3 samples in {tmp_path / 'digitcam' / 'samples'}" in out and ids[0].rsplit("-", 1)[0] in out
    assert "447" in out and "4: 2" in out and "personal.pth" in out
    assert main(["--remove-samples", ids[1], "--remove-personal"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 samples" in out and "removed your personal weights" in out
    assert [s.id for s in load_samples(tmp_path / "digitcam")[0]] == [ids[0], ids[2]]
    assert not (tmp_path / "digitcam" / "personal.pth").exists()


def test_the_app_reads_with_personal_weights_when_there_are_unless_told_otherwise(tmp_path, monkeypatch, capsys):
    from realtime.cam import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    personal = tmp_path / "digitcam" / "personal.pth"
    personal.parent.mkdir()
    shutil.copy(WEIGHTS, personal)

    def run(*extra: str) -> str:
        assert main(["--source", "demo", "--max-frames", "2", "--quiet", "--headless", *extra]) == 0
        out, err = capsys.readouterr()
        assert "2 frames from demo" in out
        return err

    assert f"reading with your personal weights ({personal}" in run()
    assert "personal" not in run("--no-personal")
    assert "personal" not in run("--weights", str(WEIGHTS))
    (personal.with_suffix(".json")).write_text(json.dumps({"started_from": {"shipped": True, "sha256": "0" * 64}}))
    assert "made from older shipped weights" in run()
    personal.write_bytes(b"not weights")
    err = run()
    assert str(personal) in err and "reading with the shipped weights instead" in err, err


def test_the_hud_names_the_weights_that_run():
    from realtime.draw import Hud, hud_line

    assert hud_line(Hud(backend="sparse", weights="personal")).endswith("| sparse | threshold 0.00 | personal weights")
    assert "weights" not in hud_line(Hud(backend="sparse"))
