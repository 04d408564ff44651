"""The FCL, its file format, and the refusal of every bad weights file."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch
from torch import nn

from train.checkpoint import WeightsError, WriteError, atomic_save, load_model, load_weights
from train.model import FCL, count_parameters, summary


class TutorialFCL(nn.Module):
    """The original tutorial's model, written independently of ours: the file format's other side."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 500)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(500, 500)
        self.fc3 = nn.Linear(500, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


def test_shape_and_parameter_count():
    m = FCL()
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert count_parameters(m) == 648_010
    assert list(m.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]


def test_summary_table_rows_are_what_torch_measured():
    text = summary(FCL())
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("Linear-")]
    assert rows == [["Linear-1", "[-1,", "500]", "392,500"], ["Linear-2", "[-1,", "500]", "250,500"],
                    ["Linear-3", "[-1,", "10]", "5,010"]]
    assert "Total params: 648,010" in text and "Params size (MB): 2.47" in text


def test_tutorial_weights_load_unchanged_and_ours_load_into_theirs(tmp_path):
    torch.manual_seed(0)
    theirs = TutorialFCL()
    torch.save(theirs.state_dict(), tmp_path / "tutorial.pth")
    ours = load_model(tmp_path / "tutorial.pth")
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(ours(x), theirs(x))
    atomic_save(FCL().state_dict(), tmp_path / "ours.pth")
    TutorialFCL().load_state_dict(torch.load(tmp_path / "ours.pth", weights_only=True))  # strict by default


def _bad(tmp_path, name, obj):
    path = tmp_path / name
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.update({"fc1.weight": torch.zeros(400, 784)}), "fc1.weight has shape (400, 784), expected (500, 784)"),
    (lambda s: s.update({"fc3.bias": s["fc3.bias"].double()}), "fc3.bias has dtype torch.float64"),
    (lambda s: s.update({"fc2.bias": s["fc2.bias"].int()}), "fc2.bias has dtype torch.int32"),
    (lambda s: s.pop("fc2.weight"), "missing ['fc2.weight']"),
    (lambda s: s.update({"conv.weight": torch.zeros(1)}), "unexpected ['conv.weight']"),
    (lambda s: s["fc1.bias"].__setitem__(0, float("nan")), "NaN or infinite"),
])
def test_wrong_weights_are_refused_naming_file_and_problem(tmp_path, mutate, message):
    state = FCL().state_dict()
    mutate(state)
    path = _bad(tmp_path, "bad.pth", state)
    with pytest.raises(WeightsError) as e:
        load_weights(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_missing_empty_truncated_and_non_weights_files(tmp_path):
    with pytest.raises(WeightsError, match="no such file"):
        load_weights(tmp_path / "nope.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        load_weights(tmp_path / "empty.pth")
    good = _bad(tmp_path, "good.pth", FCL().state_dict())
    (tmp_path / "cut.pth").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsError, match="cut.pth: not a readable PyTorch weights file"):
        load_weights(tmp_path / "cut.pth")
    (tmp_path / "notes.pth").write_text("these are not weights\n")
    with pytest.raises(WeightsError, match="notes.pth"):
        load_weights(tmp_path / "notes.pth")
    with pytest.raises(WeightsError, match="expected a state dict"):
        load_weights(_bad(tmp_path, "list.pth", [1, 2, 3]))


class _Evil:
    """Unpickling this would create a file: a stand-in for arbitrary code in a .pth."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the hostile file's own pickle: torch says so
def test_a_pth_whose_pickle_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = str(tmp_path / "code-ran")
    path = tmp_path / "evil.pth"
    torch.save({"fc1.weight": _Evil(marker)}, path, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(WeightsError, match="evil.pth: refused to load") as e:
        load_weights(path)
    assert "nothing in the file was run" in str(e.value)
    assert not os.path.exists(marker)
    whole_module = tmp_path / "module.pth"
    torch.save(FCL(), whole_module)  # the tutorial-era habit of pickling the whole model
    with pytest.raises(WeightsError, match="refused to load"):
        load_weights(whole_module)


def test_atomic_save_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    path = tmp_path / "LAST.pth"
    atomic_save({"v": torch.tensor([1.0])}, path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match="LAST.pth: the disk is full; the previous file, if any, is untouched"):
        atomic_save({"v": torch.tensor([2.0])}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["LAST.pth"]  # no temporary file left behind


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_get_the_permissions_of_any_new_file(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_save({"v": torch.tensor([1.0])}, tmp_path / "LAST.pth")
    finally:
        os.umask(old)
    assert (tmp_path / "LAST.pth").stat().st_mode & 0o777 == mode  # not mkstemp's 0600
