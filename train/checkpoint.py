"""Writing and reading weights and training state so that nothing is lost and nothing untrusted runs.

Every file is written to a temporary name in the same folder, flushed to disk and renamed over the
target: a crash, `kill -9` or a full disk leaves either the old file or the new one, never half of one.
The file gets the permissions any new file of the user gets (0666 less the umask; the temporary file
alone would be 0600), so a run folder is readable by the user's group like any other output.
Every weights file is read with `torch.load(weights_only=True)` (no code from the file can run) and
checked against the FCL's exact names, shapes and dtype before a model sees it.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from train.model import FCL, STATE_SHAPES


class WeightsError(Exception):
    """A weights file that cannot be used; the message names the file and the problem."""


class WriteError(Exception):
    """A file could not be written; the message names it and says that the old one is untouched."""


def _umask() -> int:
    """The process's umask. Linux reports it in /proc; elsewhere it is read by setting it and back."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename), with the usual permissions of a new file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600, private to the user
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise WriteError(f"cannot write {path}: {why}; the previous file, if any, is untouched") from None


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """`torch.save` into memory, then write atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def safe_load(path: str | os.PathLike[str]) -> Any:
    """`torch.load` with `weights_only=True`, turning every failure into a WeightsError naming `path`."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such file")
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder, not a weights file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: the file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(
            f"{path}: refused to load: it holds objects other than tensors ({first}); "
            "only a plain state dict (model.state_dict()) is accepted, and nothing in the file was run"
        ) from None
    except Exception as e:  # an untrusted file can make the reader fail in any way: all mean "not weights"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"{path}: not a readable PyTorch weights file (truncated or corrupt?): {first}") from None


def check_state_dict(state: Any, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Check that `state` holds exactly the FCL's tensors, with the right shapes, float32 and finite."""
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(state).__name__}")
    if "model" in state and isinstance(state["model"], dict):  # a training-state file: use its weights
        state = state["model"]
    missing = [k for k in STATE_SHAPES if k not in state]
    extra = [k for k in state if k not in STATE_SHAPES]
    if missing or extra:
        raise WeightsError(
            f"{path}: not FCL weights: missing {missing or 'nothing'}, unexpected {extra[:5] or 'nothing'}"
        )
    for name, shape in STATE_SHAPES.items():
        t = state[name]
        if not isinstance(t, torch.Tensor):
            raise WeightsError(f"{path}: {name} is a {type(t).__name__}, not a tensor")
        if tuple(t.shape) != shape:
            raise WeightsError(f"{path}: {name} has shape {tuple(t.shape)}, expected {shape}")
        if t.dtype != torch.float32:
            raise WeightsError(f"{path}: {name} has dtype {t.dtype}, expected torch.float32")
        if not torch.isfinite(t).all():
            raise WeightsError(f"{path}: {name} holds NaN or infinite values")
    return {k: state[k] for k in STATE_SHAPES}


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read and check an FCL weights file (ours or the original tutorial's)."""
    return check_state_dict(safe_load(path), path)


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> FCL:
    model = FCL()
    model.load_state_dict(load_weights(path))
    return model.to(device).eval()
