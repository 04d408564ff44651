"""MNIST as four uint8 tensors, from wherever it is.

Where it looks, in order: `--data-dir`, the `DIGITCAM_DATA` environment variable, then
`~/.cache/digitcam`. A folder holding torchvision's layout (`MNIST/raw/*-ubyte.gz`) is read in place,
after checking the files against the published MD5s, so a read-only copy works (and needs no torchvision).
Otherwise `torchvision.datasets.MNIST(..., download=True)` fetches it (the usual path for a user who is
online; torchvision comes with the `train` extra). A download that fails removes the folders it made.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "DIGITCAM_DATA"
DEFAULT_ROOT = Path.home() / ".cache" / "digitcam"
#: MD5 of each file as published with MNIST (and in torchvision's MNIST.resources).
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(Exception):
    """MNIST is missing or damaged; the message says where it looked."""


@dataclass
class Mnist:
    train_x: torch.Tensor  # (60000, 28, 28) uint8
    train_y: torch.Tensor  # (60000,) int64
    test_x: torch.Tensor  # (10000, 28, 28) uint8
    test_y: torch.Tensor  # (10000,) int64
    source: str


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder to use: the argument, else $DIGITCAM_DATA, else ~/.cache/digitcam."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return DEFAULT_ROOT


def read_idx(path: Path, md5: str | None = None) -> np.ndarray:
    """Read an IDX file (gzip or plain), checking its MD5 when given and its header always."""
    raw = path.read_bytes()
    if md5 is not None and hashlib.md5(raw).hexdigest() != md5:
        raise DataError(f"{path}: MD5 mismatch (the file is corrupt or not the original MNIST file)")
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: not a readable gzip file ({e})") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DataError(f"{path}: truncated: header says {dims}, holds {len(raw) - offset} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _find(raw_dir: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (raw_dir / name).is_file():
            return raw_dir / name
    return None


def _read_local(raw_dir: Path) -> Mnist:
    arrays = {}
    for key, stem in FILES.items():
        path = _find(raw_dir, stem)
        assert path is not None
        arrays[key] = read_idx(path, MD5.get(path.name))
    expect = {"train_images": (60000, 28, 28), "train_labels": (60000,), "test_images": (10000, 28, 28),
              "test_labels": (10000,)}
    for key, shape in expect.items():
        if arrays[key].shape != shape:
            raise DataError(f"{raw_dir}: {FILES[key]} has shape {arrays[key].shape}, expected {shape}")
    return Mnist(
        torch.from_numpy(arrays["train_images"].copy()),
        torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        torch.from_numpy(arrays["test_images"].copy()),
        torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        str(raw_dir),
    )


def _first_missing(folder: Path) -> Path | None:
    """The outermost of `folder` and its parents that does not exist yet (what a download would create)."""
    top = None
    for p in (folder, *folder.parents):
        if p.exists():
            break
        top = p
    return top


def _download(root: Path) -> Mnist:
    """torchvision's download into `root`; on failure, the folders it created (and any partial file in
    them) are removed, so that a failed look-up leaves nothing behind."""
    from train.extras import install_hint, missing

    if missing("torchvision"):
        raise DataError(f"MNIST not found in {root / 'MNIST' / 'raw'}, and downloading it needs torchvision, "
                        f"from the 'train' extra: {install_hint()} (or point --data-dir or ${ENV_VAR} at a "
                        "folder holding MNIST/raw/*-ubyte.gz)")
    created = _first_missing(root / "MNIST" / "raw")
    try:
        from torchvision.datasets import MNIST

        train = MNIST(str(root), train=True, download=True)
        test = MNIST(str(root), train=False, download=True)
    except Exception as e:  # network, permissions, torchvision's own checks: all mean "no data here"
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"MNIST not found in {root / 'MNIST' / 'raw'} and the download into {root} failed ({first}). "
            f"Point --data-dir or ${ENV_VAR} at a folder holding MNIST/raw/*-ubyte.gz."
        ) from None
    return Mnist(train.data, train.targets.long(), test.data, test.targets.long(), str(root))


def load_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> Mnist:
    """Load MNIST from the folder `data_root(data_dir)` names, downloading it there when allowed."""
    root = data_root(data_dir)
    raw_dir = root / "MNIST" / "raw"
    found = {stem: _find(raw_dir, stem) for stem in FILES.values()}
    if all(found.values()):
        return _read_local(raw_dir)
    if not download:
        missing = [s for s, p in found.items() if p is None]
        raise DataError(f"MNIST not found: looked in {raw_dir} for {', '.join(missing)} (.gz or plain)")
    return _download(root)
