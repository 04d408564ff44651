"""`python -m realtime.measure.personal`: does teaching the app one's handwriting help? Measured per writer.

    python -m realtime.measure.personal --photos ../shared/data/photos --data-dir ../shared/data
    python -m realtime.measure.personal --photos ../shared/data/photos --each      # every photo taught in turn

For each writer (labels.json's `source.repo`) with more than one photo: one photo is taught, as a user
would teach it (its digits are stated: the Reader's boxes are matched to the labelled ones and each
matched digit is stored with its true label, through the same sample store the app uses), the personal
fine-tune runs on those samples (`digitcam-train --personal`, same code and settings), and the writer's
*other* photos are read with the shipped weights and with the personal ones. Reported: read right
before and after per writer and in all, every digit that changed, and the fine-tune's own figures
(MNIST test before and after, non-digits rejected, seconds).

The photo taught is the one with the most different digits, the smallest such (a sheet showing each digit
once is what a user writes when asked); `--each` teaches every photo of the writer in turn instead and
adds the rounds up. Photos are reduced to webcam size as in `realtime.measure.accuracy`. All personal data
lives in a temporary folder, deleted at the end: the user's own samples and weights are never touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from realtime.measure.accuracy import webcam_size
from realtime.pipeline import Reader
from realtime.samples import crop_around, load_samples, personal_weights, save_samples
from realtime.score import Score, match


def writers(labels: dict) -> dict[str, list[str]]:
    """Photo names per writer (repository), for writers with more than one photo."""
    by: dict[str, list[str]] = defaultdict(list)
    for name in sorted(labels):
        by[labels[name]["source"]["repo"]].append(name)
    return {w: names for w, names in by.items() if len(names) > 1}


def teach_photo(names: list[str], labels: dict) -> str:
    """The photo a user would show: the most different digits, then the fewest digits, then by name."""
    return min(names, key=lambda n: (-len(set(labels[n]["digits"])), len(labels[n]["digits"]), n))


def _read(reader: Reader, folder: Path, name: str) -> tuple[np.ndarray, float, list]:
    image = cv2.imread(str(folder / name))
    if image is None:
        raise OSError(f"cannot read {folder / name}")
    small, s = webcam_size(image)
    return small, s, reader.read(small, still=True).digits


def score_photo(reader: Reader, folder: Path, name: str, lab: dict) -> tuple[Score, list[str]]:
    """One photo read and scored; also what each true digit was read as ('-': not found)."""
    _, s, digits = _read(reader, folder, name)
    boxes = [tuple(int(round(v / s)) for v in d.box) for d in digits]
    truth = [tuple(b) for b in lab["boxes"]]
    score = Score()
    score.add(name, boxes, [d.symbol for d in digits], truth, [int(c) for c in lab["digits"]], [], lab["rows"])
    got = {j: digits[i].symbol for i, j in match(boxes, truth)}
    return score, [got.get(j, "-") for j in range(len(truth))]


def store_photo(reader: Reader, folder: Path, name: str, lab: dict, root: Path) -> int:
    """Teach one photo: every detection that matches a labelled digit is stored with its true label."""
    small, s, digits = _read(reader, folder, name)
    boxes = [tuple(int(round(v / s)) for v in d.box) for d in digits]
    pairs = match(boxes, [tuple(b) for b in lab["boxes"]])
    items = [(digits[i].image, crop_around(small, digits[i].box), int(lab["digits"][j]), boxes[i]) for i, j in pairs]
    save_samples(items, str(folder / name), root)
    return len(items)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m realtime.measure.personal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, required=True, help="folder of photos with labels.json")
    p.add_argument("--data-dir", help="MNIST folder (default: $DIGITCAM_DATA, else ~/.cache/digitcam)")
    p.add_argument("--weights", type=Path, default=None, help="weights to start from (default: the shipped ones)")
    p.add_argument("--each", action="store_true", help="teach every photo of a writer in turn, not one")
    p.add_argument("--folds", type=int, default=0, help="cross-validation folds of each fine-tune (default 0: none)")
    p.add_argument("--json", action="store_true")
    return p


def one_round(ctx: dict, teach: str, others: list[str]) -> dict:
    """Teach `teach` into a temporary folder, fine-tune, read `others` after; the round's figures."""
    import torch

    from realtime.reader import build_reader
    from train.personal import run_personal

    folder, labels = ctx["folder"], ctx["labels"]
    with tempfile.TemporaryDirectory(prefix="digitcam-personal-") as tmp:
        root = Path(tmp)
        taught = store_photo(ctx["reader"], folder, teach, labels[teach], root)
        samples, _ = load_samples(root)
        if not samples:  # nothing of the photo was found: nothing to teach, the shipped weights stay
            return {"taught": teach, "samples": 0, "read": others, "digits": 0, "right_before": 0, "right_after": 0,
                    "changes": [], "mnist_test": None, "outliers_rejected": None, "seconds": 0.0}
        images = torch.from_numpy(np.stack([s.image for s in samples]))
        out = personal_weights(root)
        fit = run_personal(ctx["data"], images, [s.label for s in samples], ctx["init"], out, ctx["cfg"],
                           ctx["shipped"], log=lambda msg: None, mix=ctx["mix"])
        reader, _ = build_reader(out, "cpu")
        before, after, changes = Score(), Score(), []
        for name in others:
            sb, rb = ctx["before"][name]
            sa, ra = score_photo(reader, folder, name, labels[name])
            before.add_counts(sb)
            after.add_counts(sa)
            truth = labels[name]["digits"]
            changes += [f"{name} #{j} ({truth[j]}): {a} -> {b}" for j, (a, b) in enumerate(zip(rb, ra)) if a != b]
    return {"taught": teach, "samples": taught, "read": others, "digits": before.truth,
            "right_before": before.right, "right_after": after.right, "changes": changes,
            "mnist_test": fit["mnist_test"], "outliers_rejected": fit["outliers_rejected"],
            "seconds": fit["seconds"]}


def evaluate(args: argparse.Namespace) -> dict:
    """Every writer's rounds (one, or one per photo with --each), with the totals."""
    from realtime.reader import build_reader, shipped_weights
    from train.data import load_mnist
    from train.personal import PersonalConfig, make_mix

    folder = args.photos
    labels = json.loads((folder / "labels.json").read_text())
    reader, _ = build_reader(args.weights, "cpu")
    cfg = PersonalConfig(folds=args.folds)
    data = load_mnist(args.data_dir)
    init = args.weights or shipped_weights()
    ctx = {"folder": folder, "labels": labels, "reader": reader, "data": data, "cfg": cfg, "init": init,
           "shipped": args.weights is None, "mix": make_mix(data, cfg),
           "before": {n: score_photo(reader, folder, n, labels[n]) for n in labels}}
    out: dict = {"writers": {}, "taught_from": str(init)}
    for writer, names in writers(labels).items():
        rounds = names if args.each else [teach_photo(names, labels)]
        out["writers"][writer] = [one_round(ctx, t, [n for n in names if n != t]) for t in rounds]
        if not args.json:
            report_writer(writer, out["writers"][writer])
    rounds = [r for rs in out["writers"].values() for r in rs]
    out["total"] = {k: sum(r[k] for r in rounds) for k in ("digits", "right_before", "right_after")}
    return out


def _pct(right: int, digits: int) -> str:
    return f"{100.0 * right / max(1, digits):6.2f} %"


def report_writer(writer: str, rounds: list[dict]) -> None:
    for r in rounds:
        m, o = r["mnist_test"], r["outliers_rejected"]
        if not r["samples"]:
            print(f"{writer}: taught {r['taught']}: none of its digits was found, nothing to teach (not counted)")
            continue
        print(f"{writer}: taught {r['taught']} ({r['samples']} samples), read {len(r['read'])} other photos, "
              f"{r['digits']} digits: right {r['right_before']} -> {r['right_after']} "
              f"({_pct(r['right_before'], r['digits'])} -> {_pct(r['right_after'], r['digits'])}); MNIST test "
              f"{m['before']} -> {m['after']} %, non-digits rejected {o['before']} -> {o['after']} %, "
              f"fine-tune {r['seconds']} s")
        for c in r["changes"]:
            print(f"    {c}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from train.checkpoint import WeightsError
    from train.data import DataError
    from train.trainer import TrainError

    try:
        out = evaluate(args)
    except (OSError, ValueError, KeyError, DataError, TrainError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    t = out["total"]
    drops = [r["mnist_test"]["before"] - r["mnist_test"]["after"] for rs in out["writers"].values() for r in rs
             if r["samples"]]
    print(f"all writers: {t['digits']} digits of photos not taught: read right {t['right_before']} -> "
          f"{t['right_after']} ({_pct(t['right_before'], t['digits'])} -> {_pct(t['right_after'], t['digits'])}); "
          f"MNIST test at most {max(drops):.2f} points lower after a fine-tune")
    return 0


if __name__ == "__main__":
    sys.exit(main())
