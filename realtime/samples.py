"""The user's own handwriting: labelled samples kept on disk, and where the personal weights live.

A sample is one digit the user showed and named: the 28x28 image the network saw (exactly what a
fine-tune should learn from), the crop of the frame it came from (so that a person can look at it, and
a future normaliser can cut it again), its label, the date and the source. Each is one `.npz` file in
the user's data folder (the platform's convention, via platformdirs: `~/.local/share/digitcam` on
Linux, or `$XDG_DATA_HOME/digitcam`; `~/Library/Application Support/digitcam` on macOS;
`%LOCALAPPDATA%\\digitcam` on Windows), written atomically: a run killed while teaching loses at most
the sample being written, never one already stored. One file per sample keeps damage local too: a
corrupt file is skipped and named, the rest still load. Files are read with `allow_pickle=False`, so
a sample file can hold arrays and nothing that runs.

A sample's id is its file name without `.npz`: the time it was taught and its place in that photo
(`20260301-142233-03`), so that one photo's samples share a prefix and can be removed together.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from train.checkpoint import atomic_write_bytes
from train.mnist_spec import SIZE

APP = "digitcam"
FORMAT = 1  # the sample file's layout; a later layout can still read this one
CROP_MARGIN = 0.15  # the stored crop is the digit's box grown by this share of its size on each side
CROP_SIDE = 512  # ... and at most this many pixels on its longer side (a 4000x3000 photo's digit is not)


class SampleError(Exception):
    """Samples cannot be stored or removed as asked; the message says why."""


@dataclass
class Sample:
    id: str
    label: int
    image: np.ndarray  # float32 (28, 28) in [0, 1]: what the network saw
    crop: np.ndarray  # uint8 BGR: the frame around the digit
    date: str  # ISO 8601, local time with its offset
    source: str  # the image file or camera it came from
    box: tuple[int, int, int, int]  # x, y, w, h in the source's pixels


def user_dir() -> Path:
    """The user's data folder for digitcam (created when something is written to it, not before)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def samples_dir(root: Path | None = None) -> Path:
    return (root or user_dir()) / "samples"


def personal_weights(root: Path | None = None) -> Path:
    """Where `digitcam-train --personal` writes the personal weights (their figures beside, as .json)."""
    return (root or user_dir()) / "personal.pth"


def crop_around(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The frame around a digit's box (grown by CROP_MARGIN, within the frame), BGR, at most CROP_SIDE px."""
    x, y, w, h = box
    m = int(round(CROP_MARGIN * max(w, h)))
    H, W = frame.shape[:2]
    crop = frame[max(0, y - m) : min(H, y + h + m), max(0, x - m) : min(W, x + w + m)]
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    s = min(1.0, CROP_SIDE / max(crop.shape[:2]))
    if s < 1.0:
        crop = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop, dtype=np.uint8)


def _encode(image: np.ndarray, crop: np.ndarray, label: int, date: str, source: str, box) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, format=np.int64(FORMAT), image=np.asarray(image, np.float32), crop=crop,
                        label=np.int64(label), date=np.str_(date), source=np.str_(source),
                        box=np.asarray(box, np.int64))
    return buf.getvalue()


def _session(folder: Path, now: datetime) -> str:
    """A prefix no stored sample has yet: the time, made unique with a letter when taught twice a second."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    for suffix in ["", *"abcdefghijklmnopqrstuvwxyz"]:
        if not any(folder.glob(f"{stamp}{suffix}-*.npz")):
            return stamp + suffix
    raise SampleError(f"too many teaching sessions at {stamp} in {folder}")


def save_samples(items: list[tuple[np.ndarray, np.ndarray, int, tuple[int, int, int, int]]], source: str,
                 root: Path | None = None) -> list[str]:
    """Store (image, crop, label, box) samples from one frame of `source`; returns their ids.

    Each file is written atomically (train.checkpoint's helper); a failure raises WriteError naming it,
    with the samples written before it kept.
    """
    for image, _, label, _ in items:
        if not (0 <= int(label) <= 9) or np.shape(image) != (SIZE, SIZE):
            raise SampleError(f"a sample needs a 28x28 image and a label 0-9, not {np.shape(image)} and {label!r}")
    folder = samples_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now().astimezone()
    session = _session(folder, now)
    date = now.isoformat(timespec="seconds")
    ids = []
    for k, (image, crop, label, box) in enumerate(items):
        sid = f"{session}-{k:02d}"
        atomic_write_bytes(folder / f"{sid}.npz", _encode(image, crop, int(label), date, source, box))
        ids.append(sid)
    return ids


def _decode(path: Path) -> Sample:
    """One sample file, checked; ValueError (with the reason) for anything that is not a sample."""
    with np.load(path, allow_pickle=False) as z:
        missing = {"image", "crop", "label", "date", "source", "box"} - set(z.files)
        if missing:
            raise ValueError(f"missing {', '.join(sorted(missing))}")
        image, crop, label = z["image"], z["crop"], z["label"]
        if image.shape != (SIZE, SIZE) or not np.isfinite(image).all() or image.min() < -0.01 or image.max() > 1.01:
            raise ValueError(f"its image is not a 28x28 image of ink in [0, 1] (shape {image.shape})")
        if label.shape != () or label.dtype.kind not in "iu" or not 0 <= int(label) <= 9:
            raise ValueError(f"its label is not a digit ({label!r})")
        if crop.dtype != np.uint8 or crop.ndim != 3:
            raise ValueError("its crop is not a colour image")
        box = tuple(int(v) for v in z["box"].reshape(-1)[:4])
        image = np.clip(image, 0, 1).astype(np.float32)
        return Sample(path.stem, int(label), image, crop, str(z["date"]), str(z["source"]), box)


def load_samples(root: Path | None = None) -> tuple[list[Sample], list[str]]:
    """Every readable sample (sorted by id, so by date), and one line per file that was skipped."""
    folder = samples_dir(root)
    samples, problems = [], []
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        try:
            samples.append(_decode(path))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            problems.append(f"{path}: skipped, not a readable sample ({str(e).strip() or type(e).__name__})")
    return samples, problems


def per_digit(labels) -> dict[int, int]:
    """How many samples of each digit 0-9 (zeros included)."""
    counts = Counter(int(v) for v in labels)
    return {d: counts.get(d, 0) for d in range(10)}


def remove_samples(which: list[str], root: Path | None = None) -> list[str]:
    """Remove samples by id, by a prefix of ids (one photo's: `20260301-142233`), or `all`; the ids removed.

    Nothing is removed when any name matches no sample (a typo must not half-succeed).
    """
    folder = samples_dir(root)
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    chosen: dict[str, Path] = {}
    for name in which:
        hits = files if name == "all" else [p for p in files if p.stem == name or p.stem.startswith(name + "-")]
        if not hits and name != "all":
            raise SampleError(f"no sample {name!r} in {folder} (digitcam --list-samples shows them)")
        chosen.update((p.stem, p) for p in hits)
    for path in chosen.values():
        path.unlink(missing_ok=True)
    return sorted(chosen)


def _sessions(samples: list[Sample]) -> dict[str, list[Sample]]:
    """Samples grouped by the photo (the teaching moment) they came from, in order."""
    out: dict[str, list[Sample]] = {}
    for s in samples:
        out.setdefault(s.id.rsplit("-", 1)[0], []).append(s)
    return out


def weights_summary(path: Path) -> str:
    """One line on the personal weights: when they were made, from how many samples, and their figures."""
    if not path.exists():
        return f"personal weights: none yet ({path}; digitcam-train --personal makes them)"
    try:
        import json

        r = json.loads(path.with_suffix(".json").read_text())
        mnist, cv = r["mnist_test"], r["samples_cross_validated"]
        figures = (f"{r['samples']} samples; MNIST test {mnist['before']} -> {mnist['after']} %"
                   + (f", your samples (held out) {cv['before']} -> {cv['after']} %" if cv.get("after") is not None
                      else ""))
        return f"personal weights: {path} (made {r['date']} from {figures})"
    except (OSError, ValueError, KeyError, TypeError):
        return f"personal weights: {path} (their figures, {path.with_suffix('.json').name}, are missing or unreadable)"


def describe(root: Path | None = None) -> str:
    """What `digitcam --list-samples` prints: one line per photo taught, counts per digit, skipped files
    and the personal weights."""
    samples, problems = load_samples(root)
    lines = [f"{len(samples)} samples in {samples_dir(root)}"]
    for prefix, group in _sessions(samples).items():
        labels = "".join(str(s.label) for s in group)
        lines.append(f"  {prefix}-NN  {group[0].date}  {labels:12s}  from {group[0].source}")
    if samples:
        counts = per_digit(s.label for s in samples)
        lines.append("per digit: " + "  ".join(f"{d}: {n}" for d, n in counts.items()))
        lines.append("NN is a sample's place in its photo (00 first); --remove-samples takes an id "
                     "(PREFIX-NN), a photo's PREFIX, or all")
    lines += problems
    lines.append(weights_summary(personal_weights(root)))
    return "\n".join(lines)
