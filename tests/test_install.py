"""The wheel, as a user gets it: built, installed into a fresh virtual environment, run from another folder.

Installing PyTorch into the fresh environment would take minutes and gigabytes, so it sees this
environment's packages through a path line in a .pth file and gets only the wheel itself (--no-deps).
Such a line only adds the folder to sys.path: that folder's own .pth files, among them the hook of an
editable install of this repository, are not run, so what is imported is the wheel (the test checks).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

PROJECT_FILES = ("realtime", "train", "weights", "setup.cfg", "pyproject.toml", "README.md")


def run(*cmd, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the project (a build leaves build/ and egg-info behind)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    r = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", tmp / "dist",
            src, cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = (tmp / "dist").glob("digitcam-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed, seeing this environment's dependencies."""
    env = tmp_path_factory.mktemp("venv") / "env"
    r = run(sys.executable, "-m", "venv", "--without-pip", env, cwd=env.parent)
    assert r.returncode == 0, r.stderr
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=env).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "dependencies-from-the-test-environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    r = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel,
            cwd=env.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    return env


def test_the_wheel_holds_the_weights_inside_the_package_and_both_commands(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = next(z.read(n).decode() for n in names if n.endswith("entry_points.txt"))
        metadata = next(z.read(n).decode() for n in names if n.endswith("/METADATA"))
    assert "realtime/weights/fcl.pth" in names and "realtime/weights/fcl.json" in names
    assert not [n for n in names if n.startswith("weights/")], "no generic top-level 'weights' in site-packages"
    assert "digitcam = realtime.cam:main" in entry_points and "digitcam-train = train.__main__:main" in entry_points
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    plain = [r for r in requires if "extra ==" not in r]
    assert not [r for r in plain if any(p in r for p in ("matplotlib", "torchvision", "tqdm"))], plain
    assert any("matplotlib" in r and 'extra == "train"' in r for r in requires)


def test_the_installed_tool_runs_the_demo_from_another_folder(venv, tmp_path, mnist_dir):
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(bin_dir / "python", "-c", "import json, realtime, train; from realtime.reader import DEFAULT_WEIGHTS; "
                "print(json.dumps([realtime.__file__, train.__file__, str(DEFAULT_WEIGHTS)]))", cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    for path in json.loads(where.stdout):
        assert Path(path).resolve().is_relative_to(venv.resolve()), path  # the wheel, not this repository
    r = run(bin_dir / "digitcam", "--source", "demo", "--max-frames", "10", "--quiet", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert "10 frames from demo" in r.stdout and "start-up" in r.stdout and "Traceback" not in r.stderr
    r = run(bin_dir / "python", "-m", "realtime.cam", "--quiet", "--max-frames", "5", "--source", "demo",
            cwd=elsewhere)
    assert r.returncode == 0 and "5 frames from demo" in r.stdout, r.stderr
    r = run(bin_dir / "digitcam-train", "--summary", cwd=elsewhere)
    assert r.returncode == 0 and "Total params: 648,010" in r.stdout, r.stderr
    r = run(bin_dir / "python", "-m", "realtime.measure.bench", "--frames", "2", "--repeat", "1", "--calls", "20",
            cwd=elsewhere)
    assert r.returncode == 0 and "pipeline per frame" in r.stdout and "5 @1920x1080" in r.stdout, r.stderr
    r = run(bin_dir / "python", "-m", "realtime.measure.accuracy", "--scenes", "3", "--data-dir", mnist_dir,
            cwd=elsewhere)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
