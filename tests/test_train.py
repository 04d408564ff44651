"""The trainer: data loading and its errors, learning, checkpoints, resume, and the shipped weights."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, WEIGHTS

from train.checkpoint import load_model, load_weights
from train.data import DataError, load_mnist
from train.evaluate import predict
from train.trainer import TrainConfig, accuracy, to_ink, train


def quick_config(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=100, train_subset=1500, val_size=500, log_every=0, lr=2e-3, ema=0.99)
    base.update(kw)
    return TrainConfig(**base)


def test_mnist_loads_in_place_from_a_read_only_copy(mnist):
    assert mnist.train_x.shape == (60000, 28, 28) and mnist.test_x.shape == (10000, 28, 28)
    assert mnist.train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert abs(mnist.train_x.float().div(255).mean().item() - 0.1307) < 1e-3


def test_missing_and_corrupt_data_are_clear_errors(tmp_path, mnist_dir):
    with pytest.raises(DataError, match=str(tmp_path / "empty" / "MNIST" / "raw")):
        load_mnist(tmp_path / "empty", download=False)
    raw = tmp_path / "bad" / "MNIST" / "raw"
    shutil.copytree(mnist_dir / "MNIST" / "raw", raw)
    labels = raw / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: MD5 mismatch"):
        load_mnist(tmp_path / "bad", download=False)
    labels.unlink()  # uncompressed but truncated: the header check catches it
    (raw / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress((mnist_dir / "MNIST/raw/t10k-labels-idx1-ubyte.gz")
                                                                 .read_bytes())[:5000])
    with pytest.raises(DataError, match="truncated"):
        load_mnist(tmp_path / "bad", download=False)


def test_short_training_on_a_subset_measurably_improves_accuracy(mnist, tmp_path):
    record = train(mnist, quick_config(augment=False, styles=0, ema=0, epochs=3), tmp_path, log=lambda s: None)
    x, y = to_ink(mnist.test_x[:2000]), mnist.test_y[:2000]
    before = accuracy(load_model(tmp_path / "FIRST.pth"), x, y)
    after = accuracy(load_model(tmp_path / "LAST.pth"), x, y)
    assert before < 30 and after > 85, (before, after)
    assert {"FIRST.pth", "MIDDLE.pth", "LAST.pth", "run.json", "state.pt"} <= {p.name for p in tmp_path.iterdir()}
    saved = json.loads((tmp_path / "run.json").read_text())
    assert len(saved["epochs"]) == 3 and saved["test_acc"] == record["test_acc"]
    assert saved["config"]["train_subset"] == 1500


def test_an_interrupted_run_resumes_to_the_same_weights(mnist, tmp_path):
    cfg = quick_config(epochs=3)
    train(mnist, cfg, tmp_path / "straight", log=lambda s: None)

    def stop_after_first(metrics):
        if metrics["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(mnist, cfg, tmp_path / "cut", log=lambda s: None, on_epoch=stop_after_first)
    train(mnist, cfg, tmp_path / "cut", resume=True, log=lambda s: None)
    a, b = load_weights(tmp_path / "straight" / "LAST.pth"), load_weights(tmp_path / "cut" / "LAST.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "train", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, **kw)


def test_kill_9_loses_at_most_the_current_epoch_and_resume_matches(mnist_dir, tmp_path):
    args = ["--data-dir", str(mnist_dir), "--epochs", "4", "--train-subset", "3000", "--val-size", "500",
            "--batch-size", "50", "--log-every", "0", "--threads", "1"]
    assert _cli(*args, "--out", str(tmp_path / "straight")).returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "train", *args, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "run.json").exists():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads((out / "run.json").read_text())["epochs"]
    assert 1 <= len(done) < 4, "the kill should land mid-run"
    load_weights(out / "LAST.pth")  # whole and valid, despite the kill
    r = _cli(*args, "--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    assert f"resuming {out} after epoch" in r.stdout
    a, b = load_weights(tmp_path / "straight" / "LAST.pth"), load_weights(out / "LAST.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_errors_are_clear_and_leave_checkpoints_alone(mnist_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = _cli("--data-dir", str(mnist_dir), "--out", str(blocker / "run"), "--epochs", "1")
    assert r.returncode == 2 and "cannot create the output folder" in r.stderr and "Traceback" not in r.stderr
    r = _cli("--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--epochs", "1")
    assert r.returncode == 2 and "MNIST not found" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "nowhere").exists(), "the failed look-up left folders behind"
    run = tmp_path / "existing"
    run.mkdir()
    (run / "LAST.pth").write_bytes(b"precious")
    r = _cli("--data-dir", str(tmp_path / "nowhere"), "--out", str(run), "--resume")
    assert r.returncode == 2 and (run / "LAST.pth").read_bytes() == b"precious"
    r = _cli("--data-dir", str(mnist_dir), "--out", str(run), "--resume", "--epochs", "1")
    assert r.returncode == 2 and "no " in r.stderr and "state.pt" in r.stderr


def test_shipped_weights_reach_99_4_percent_on_mnist_test(mnist):
    """99.4 % is what the weights are shipped at (their JSON says so, measured); the test allows a
    margin of 0.1 point so that one digit flipped by another torch release does not fail CI."""
    pred = predict(load_model(WEIGHTS), to_ink(mnist.test_x))
    acc = 100 * (pred == mnist.test_y).float().mean().item()
    assert acc >= 99.3, acc
    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert meta["mnist_test_accuracy"] >= 99.4 and abs(meta["mnist_test_accuracy"] - acc) < 0.05
    assert meta["parameters"] == 648_010 and "python -m train" in meta["command"]
    assert 0 <= meta["expected_calibration_error"] < 0.1 and meta["non_digits_rejected"]["all"] >= 80


def test_augmentation_keeps_range_and_is_reproducible(mnist):
    from train.augment import CORRUPTIONS, Augmenter, affine_grid

    x = to_ink(mnist.test_x[:64])
    a = Augmenter()(x.clone(), torch.Generator().manual_seed(3))
    b = Augmenter()(x.clone(), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and a.shape == x.shape
    assert (a - x).abs().mean() > 0.02  # it does change the digits
    z, one = torch.zeros(64), torch.ones(64)
    ident = torch.nn.functional.grid_sample(x, affine_grid(z, z, one, one, z, z), align_corners=False)
    assert torch.allclose(ident, x, atol=1e-5)
    for name, corrupt in CORRUPTIONS.items():
        c = corrupt(x)
        assert c.shape == x.shape and not torch.equal(c, x), name


def test_styles_add_flagged_ones_and_crossed_sevens(mnist):
    from train.styles import add_styles

    x, y = add_styles(mnist.train_x[:2000], mnist.train_y[:2000], seed=0, share=0.4)
    ones, sevens = int((mnist.train_y[:2000] == 1).sum()), int((mnist.train_y[:2000] == 7).sum())
    assert set(y.tolist()) == {1, 7}
    assert abs((y == 1).sum().item() - 0.4 * ones) <= 2 and abs((y == 7).sum().item() - 0.2 * sevens) <= 2
    # A flag adds ink to the upper left of the digit.
    flagged = x[y == 1].float()
    assert flagged[:, 4:12, :14].mean() > mnist.train_x[:2000][mnist.train_y[:2000] == 1].float()[:, 4:12, :14].mean()


def test_a_full_disk_mid_run_is_a_clear_error_and_keeps_the_last_good_checkpoint(mnist, tmp_path, monkeypatch):
    import errno

    from train.checkpoint import WriteError

    saved = {}

    def fill_disk_after_first(metrics):
        saved["last"] = (tmp_path / "LAST.pth").read_bytes()

        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", full)

    with pytest.raises(WriteError, match="the disk is full"):
        train(mnist, quick_config(epochs=3), tmp_path, log=lambda s: None, on_epoch=fill_disk_after_first)
    monkeypatch.undo()
    assert (tmp_path / "LAST.pth").read_bytes() == saved["last"]
    load_weights(tmp_path / "LAST.pth")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_progress_bar_shows_loss_and_accuracy(mnist, tmp_path, capsys):
    train(mnist, quick_config(epochs=1, log_every=5), tmp_path, log=print)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "batch" in err
    bar = err.replace("\r", "\n").splitlines()
    assert any("loss=" in line and "acc=" in line and "%" in line for line in bar), err[-500:]


def test_the_progress_bars_accuracy_counts_the_redrawn_digits_too(mnist, tmp_path, capsys):
    # --pen adds redrawn digits to each batch: the accuracy is over every digit the batches held
    train(mnist, quick_config(epochs=3, log_every=5, pen=1.0, pen_bank=300), tmp_path, log=print)
    shown = [float(a) for a in re.findall(r"acc=([0-9.]+)%", capsys.readouterr().err)]
    assert shown and all(0.0 <= a <= 100.0 for a in shown), shown


def test_a_failed_download_leaves_no_folders_behind(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens there: refused at once
    with pytest.raises(DataError, match="download into"):
        load_mnist(tmp_path / "cache" / "digitcam")
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "mine"
    kept.mkdir()  # a folder the user made stays, empty or not
    with pytest.raises(DataError):
        load_mnist(kept)
    assert kept.is_dir() and list(kept.iterdir()) == []


def test_curves_of_a_one_epoch_run_show_its_points():
    from train.evaluate import curves_figure

    record = {"config": {"val_size": 500}, "best_epoch": 1,
              "epochs": [{"epoch": 1, "loss": 1.85, "val_acc": 18.6, "test_acc": 15.5}]}
    fig = curves_figure(record)
    loss_ax, acc_ax = fig.axes
    for ax, values in ((loss_ax, [1.85]), (acc_ax, [18.6, 15.5])):
        lines = [ln for ln in ax.lines if len(ln.get_xdata()) == 1 and ln.get_linestyle() != "--"]
        assert len(lines) == len(values) and all(ln.get_marker() not in (None, "", "None") for ln in lines)
        lo, hi = ax.get_ylim()
        x0, x1 = ax.get_xlim()
        assert all(lo < v < hi for v in values) and x0 < 1 < x1, (ax.get_ylim(), ax.get_xlim())


def _without(module: str, code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter in which `module` cannot be imported (as if its extra were missing)."""
    return subprocess.run([sys.executable, "-c", f"import sys; sys.modules[{module!r}] = None\n{code}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_a_missing_extra_is_one_line_naming_it(mnist_dir, tmp_path):
    r = _without("tqdm", f"from train.__main__ import main; sys.exit(main(['--data-dir', {str(mnist_dir)!r}, "
                         f"'--out', {str(tmp_path / 'run')!r}, '--epochs', '1']))")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "tqdm" in r.stderr and 'pip install "digitcam[train]"' in r.stderr
    assert not (tmp_path / "run").exists()
    r = _without("matplotlib", f"from train.evaluate import main; sys.exit(main([{str(WEIGHTS)!r}]))")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "matplotlib" in r.stderr, r.stderr
    r = _without("torchvision", f"from train.data import load_mnist; load_mnist({str(tmp_path / 'none')!r})")
    assert "needs torchvision" in r.stderr and 'pip install "digitcam[train]"' in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("train.data.DataError")
    r = _without("matplotlib", "from train.__main__ import main; sys.exit(main(['--summary']))")
    assert r.returncode == 0 and "Total params: 648,010" in r.stdout  # the table needs torch alone
