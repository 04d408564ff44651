"""`python -m train.evaluate`: how good are these weights, and where do they fail?

    python -m train.evaluate runs/fcl                 # FIRST/MIDDLE/LAST.pth of a run
    python -m train.evaluate weights/fcl.pth --out eval

For every checkpoint: `NAME : Accuracy x %` on the MNIST test set (as the original tutorial printed it).
For the last one: the confusion matrix, the accuracy under corruptions a camera brings (rotation
+-20 deg, thicker and thinner strokes, blur, noise, a shifted centre), its calibration (expected
calibration error on MNIST test; how many test digits, and how many non-digit images, fall under the
app's "not a digit" threshold) and two pictures: test digits with predicted and true labels (errors in
red) and, for a run folder, the training curves.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from train.augment import CORRUPTIONS
from train.checkpoint import WeightsError, load_model
from train.data import ENV_VAR, DataError, load_mnist
from train.extras import require
from train.mnist_spec import NOT_A_DIGIT, standardise
from train.trainer import to_ink


@torch.inference_mode()
def probabilities(model: torch.nn.Module, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """Class probabilities of ink images `x` (in batches, on x's device)."""
    return torch.cat([torch.softmax(model(standardise(x[i : i + batch])), 1) for i in range(0, len(x), batch)])


def predict(model: torch.nn.Module, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    return probabilities(model, x, batch).argmax(1)


def expected_calibration_error(probs: torch.Tensor, true: torch.Tensor, bins: int = 15) -> float:
    """How far the top probability is from the accuracy it should mean: the mean over equal-width
    confidence bins of |accuracy - confidence|, weighted by the bins' shares (0 = perfectly calibrated)."""
    conf, pred = probs.max(1)
    right = (pred == true).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.float().mean().item() * abs(right[sel].mean().item() - conf[sel].mean().item())
    return ece


def rejection(model: torch.nn.Module, digits: torch.Tensor, seed: int = 4242, count: int = 4000) -> dict:
    """Shares (%) under NOT_A_DIGIT of non-digit images (train.outliers, cut from `digits` - give the
    test set: the trainer only ever cut from training digits - with a seed the trainer does not use),
    in all and per kind."""
    from train.outliers import KINDS, make_outliers

    images, kinds = make_outliers(count, seed, digits.numpy())
    top = probabilities(model, to_ink(torch.from_numpy(images))).max(1).values
    out = {"all": round(100 * (top < NOT_A_DIGIT).float().mean().item(), 2)}
    for i, k in enumerate(KINDS):
        out[k] = round(100 * (top[torch.from_numpy(kinds == i)] < NOT_A_DIGIT).float().mean().item(), 2)
    return out


def confusion(pred: torch.Tensor, true: torch.Tensor) -> np.ndarray:
    m = np.zeros((10, 10), np.int64)
    np.add.at(m, (true.numpy(), pred.numpy()), 1)
    return m


def format_confusion(m: np.ndarray) -> str:
    lines = ["true \\ predicted " + "".join(f"{d:>6d}" for d in range(10)) + "   recall"]
    for t in range(10):
        lines.append(f"{t:>16d} " + "".join(f"{v:>6d}" for v in m[t]) + f"   {100 * m[t, t] / m[t].sum():5.1f} %")
    return "\n".join(lines)


def checkpoints(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            found = [p / n for n in ("FIRST.pth", "MIDDLE.pth", "LAST.pth") if (p / n).exists()]
            if not found:
                raise WeightsError(f"{p}: no FIRST.pth, MIDDLE.pth or LAST.pth in this folder")
            out += found
        else:
            out.append(p)
    return out


def draw_digits(x: torch.Tensor, true: torch.Tensor, pred: torch.Tensor, path: Path, n: int = 100) -> None:
    """A grid of test digits: the first errors, then correct ones, each titled 'pred (true)'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrong = torch.nonzero(pred != true).flatten()[: n // 2]
    right = torch.nonzero(pred == true).flatten()[: n - len(wrong)]
    idx = torch.cat([wrong, right])
    cols = 10
    rows = (len(idx) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), idx.tolist()):
        ok = bool(pred[i] == true[i])
        ax.imshow(x[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{int(pred[i])}" + ("" if ok else f" ({int(true[i])})"), fontsize=9,
                     color="black" if ok else "red")
    fig.suptitle(f"MNIST test digits: prediction (true label); {len(wrong)} errors first, in red", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def curves_figure(record: dict):
    """Loss and accuracies per epoch from a run record. Every epoch is a marked point while there are few
    of them (a one-epoch run is one point, which a line alone would not show), and the accuracy axis
    spans every value from the second epoch on (the first, from untrained weights, may be far lower)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = record["epochs"]
    ep = [e["epoch"] for e in epochs]
    style = {"marker": "o", "markersize": 4} if len(ep) <= 30 else {}
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(ep, [e["loss"] for e in epochs], **style)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (augmented, label-smoothed)")
    a.grid(alpha=0.3)
    held_out = record["config"]["val_size"]
    b.plot(ep, [e["val_acc"] for e in epochs], label=f"validation ({held_out:,} held out of train)", **style)
    b.plot(ep, [e["test_acc"] for e in epochs], label="MNIST test", **style)
    b.axvline(record["best_epoch"], color="gray", ls="--", lw=1, label=f"LAST.pth (epoch {record['best_epoch']})")
    shown = [v for e in (epochs[1:] or epochs) for v in (e["val_acc"], e["test_acc"])]
    low = min(shown)
    b.set_ylim(max(0.0, min(low - max(0.5, 0.05 * (100 - low)), 99.0)), 100)
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if len(ep) == 1:  # one point: an axis around it rather than matplotlib's zero-width one
            ax.set_xlim(ep[0] - 1, ep[0] + 1)
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy %")
    b.legend()
    b.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def draw_curves(run_json: Path, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = curves_figure(json.loads(run_json.read_text()))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def ship(src: Path, dest: Path, accuracy: float, corrupted: dict[str, float], calibration: dict) -> None:
    """Copy weights to `dest` atomically, with a JSON of what they reach and how they were made."""
    from train.checkpoint import atomic_write_bytes, atomic_write_json
    from train.trainer import command_for

    data = src.read_bytes()
    run = json.loads((src.parent / "run.json").read_text()) if (src.parent / "run.json").exists() else {}
    atomic_write_bytes(dest, data)
    atomic_write_json({
        "file": dest.name,
        "sha256": __import__("hashlib").sha256(data).hexdigest(),
        "parameters": 648_010,
        "mnist_test_accuracy": round(accuracy, 2),
        "accuracy_under_corruptions": corrupted,
        **calibration,
        "best_epoch": run.get("best_epoch"),
        "validation_accuracy": run.get("best_val"),
        "training_seconds": run.get("elapsed_s"),
        "command": command_for(run["config"]) if "config" in run else None,
        "evaluated_with": f"python -m train.evaluate {src.parent}",
        "config": run.get("config"),
    }, dest.with_suffix(".json"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path, help="run folders or .pth files")
    p.add_argument("--data-dir", help=f"folder with MNIST/raw/ (default: ${ENV_VAR}, else ~/.cache/digitcam)")
    p.add_argument("--out", type=Path, help="where to save the pictures (default: the run folder, else .)")
    p.add_argument("--no-pictures", action="store_true")
    p.add_argument("--ship", type=Path, help="copy the last checkpoint here (e.g. weights/fcl.pth) with a JSON "
                   "of its figures and the command that made it")
    args = p.parse_args(argv)
    if not args.no_pictures:
        require("python -m train.evaluate (its pictures; --no-pictures does without)", "matplotlib")
    try:
        data = load_mnist(args.data_dir)
        files = checkpoints(args.paths)
        x, y = to_ink(data.test_x), data.test_y
        width = max(len(f.name) for f in files)
        last = None
        for f in files:
            model = load_model(f)
            pred = predict(model, x)
            print(f"{f.name:<{width}} : Accuracy {100 * (pred == y).float().mean().item():.2f} %")
            last = (f, model, pred)
        f, model, pred = last
        print(f"\nconfusion matrix of {f}:\n{format_confusion(confusion(pred, y))}")
        print(f"\naccuracy of {f} under corruptions (MNIST test set):")
        clean = 100 * (pred == y).float().mean().item()
        print(f"  {'clean':12s} {clean:6.2f} %")
        corrupted = {}
        for name, corrupt in CORRUPTIONS.items():
            corrupted[name] = round(100 * (predict(model, corrupt(x)) == y).float().mean().item(), 2)
            print(f"  {name:12s} {corrupted[name]:6.2f} %")
        probs = probabilities(model, x)
        calibration = {"expected_calibration_error": round(expected_calibration_error(probs, y), 4),
                       "mnist_test_under_not_a_digit": round(100 * (probs.max(1).values < NOT_A_DIGIT).float()
                                                             .mean().item(), 2),
                       "non_digits_rejected": rejection(model, data.test_x)}
        print(f"\ncalibration of {f}: expected calibration error {calibration['expected_calibration_error']:.4f} on "
              f"MNIST test; {calibration['mnist_test_under_not_a_digit']:.2f} % of the test digits under the "
              f"'not a digit' threshold ({NOT_A_DIGIT}), non-digit images under it: "
              + ", ".join(f"{k} {v:.1f} %" for k, v in calibration["non_digits_rejected"].items()))
        if args.ship:
            ship(f, args.ship, clean, corrupted, calibration)
            print(f"\nshipped {f} as {args.ship} (figures in {args.ship.with_suffix('.json')})")
        if not args.no_pictures:
            out = args.out or (f.parent if (f.parent / "run.json").exists() else Path("."))
            out.mkdir(parents=True, exist_ok=True)
            draw_digits(x, y, pred, out / "digits.png")
            print(f"\npicture of test digits: {out / 'digits.png'}")
            if (f.parent / "run.json").exists():
                draw_curves(f.parent / "run.json", out / "curves.png")
                print(f"training curves: {out / 'curves.png'}")
    except (DataError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
