"""`python -m train` (or `digitcam-train`): train the FCL on MNIST and write FIRST/MIDDLE/LAST.pth and run.json.

Needs the `train` extra (`pip install "digitcam[train]"`), except for --summary.

    python -m train --out runs/fcl                     # the recipe the shipped weights were made with
    python -m train --out runs/fcl --resume            # continue an interrupted run
    python -m train --epochs 3 --no-augment --out runs/quick
    python -m train --summary                          # the layer table and parameter count
    python -m train --personal                         # learn your handwriting from your samples (see below)

--personal fine-tunes the shipped weights (or --init) on the samples you taught digitcam (key t in its
window, or `digitcam --source sheet.jpg --teach 0123456789`), mixed with MNIST so that nothing else is
forgotten, and writes your personal weights with their figures beside them; digitcam then uses them.
It uses --init, --data-dir, --device, --threads, --seed, --lr, --steps and --folds; not --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from train.checkpoint import WeightsError, WriteError
from train.data import ENV_VAR, DataError, load_mnist
from train.extras import require
from train.model import FCL, summary
from train.personal import PersonalConfig
from train.trainer import TrainConfig, TrainError, train


def pick_device(name: str) -> str:
    """auto -> cuda when present, else cpu; an explicit cuda without a GPU is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: no CUDA device is available (try --device auto)")
    return name


def parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    script = Path(sys.argv[0]).name.startswith("digitcam-train")
    p = argparse.ArgumentParser(prog="digitcam-train" if script else "python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/fcl"), help="run folder (default: runs/fcl)")
    p.add_argument("--data-dir", help=f"folder with MNIST/raw/ (default: ${ENV_VAR}, else ~/.cache/digitcam)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=None,
                   help=f"peak Adam learning rate (cosine; default {d.lr}, {PersonalConfig.lr} with --personal)")
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--ema", type=float, default=d.ema, help="EMA decay of the weights (0 = off)")
    p.add_argument("--no-augment", action="store_true", help="train on plain MNIST")
    p.add_argument("--styles", type=float, default=d.styles,
                   help="share of training 1s/7s copied in the flagged-1 / crossed-7 style (0 = off)")
    p.add_argument("--val-size", type=int, default=d.val_size)
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training digits")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch (0 = torch's default; with --personal, 1)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its state.pt")
    p.add_argument("--log-every", type=int, default=d.log_every,
                   help="steps between updates of the progress bar's loss and accuracy (0 = no bar)")
    p.add_argument("--outliers", type=float, default=d.outliers,
                   help="non-digit images per digit in each batch, taught 'none of these' (outlier exposure; 0 = off)")
    p.add_argument("--outlier-weight", type=float, default=d.outlier_weight, help="their share of the loss")
    p.add_argument("--pen", type=float, default=d.pen,
                   help="digits redrawn with an even pen added per digit in each batch (0 = off)")
    p.add_argument("--init", default="", help="start from these weights (a fine-tune) instead of random ones")
    p.add_argument("--warmup", type=float, default=d.warmup, help="epochs of learning-rate warm-up")
    p.add_argument("--summary", action="store_true", help="print the model table and exit")
    p.add_argument("--personal", action="store_true",
                   help="fine-tune on your own samples and write your personal weights (see above)")
    p.add_argument("--steps", type=int, default=PersonalConfig.steps, help="--personal: steps of the fine-tune")
    p.add_argument("--folds", type=int, default=PersonalConfig.folds,
                   help="--personal: cross-validation folds for the report (0 = none; each is one more fine-tune)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.summary:
        print(summary(FCL()))
        return 0
    if args.personal:
        return personal(args)
    if args.log_every:
        require("the trainer's progress bar", "tqdm")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or TrainConfig.lr, dropout=args.dropout,
            label_smoothing=args.label_smoothing, ema=args.ema, augment=not args.no_augment, styles=args.styles,
            val_size=args.val_size, train_subset=args.train_subset, seed=args.seed,
            device=pick_device(args.device), log_every=args.log_every, outliers=args.outliers,
            outlier_weight=args.outlier_weight, init=args.init, warmup=args.warmup, pen=args.pen,
        )
        if cfg.epochs < 1 or cfg.batch_size < 1:
            raise TrainError("--epochs and --batch-size must be at least 1")
        data = load_mnist(args.data_dir)
        print(f"MNIST from {data.source}; training on {cfg.device} into {args.out}")
        train(data, cfg, args.out, resume=args.resume)
    except (DataError, TrainError, WriteError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python -m train --out {args.out} --resume (same options)",
              file=sys.stderr)
        return 130
    return 0


def personal(args: argparse.Namespace) -> int:
    """--personal: fine-tune on the user's samples, write the personal weights and their figures."""
    from realtime.reader import shipped_weights
    from realtime.samples import load_samples, per_digit, personal_weights, samples_dir
    from train.personal import few_note, run_personal

    samples, problems = load_samples()
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    try:
        if not samples:
            raise TrainError(f"no personal samples in {samples_dir()}: teach some first (key t in digitcam's window, "
                             "or digitcam --source sheet.jpg --teach 0123456789)")
        if args.steps < 1 or args.folds < 0 or args.folds == 1:
            raise TrainError("--steps must be at least 1 and --folds 0 (none) or at least 2")
        cfg = PersonalConfig(steps=args.steps, folds=args.folds, lr=args.lr or PersonalConfig.lr, seed=args.seed,
                             device=pick_device(args.device), threads=args.threads or PersonalConfig.threads)
        init = Path(args.init) if args.init else shipped_weights()
        data = load_mnist(args.data_dir)
        labels = [s.label for s in samples]
        counts = ", ".join(f"{d}: {n}" for d, n in per_digit(labels).items() if n)
        print(f"MNIST from {data.source}; {len(samples)} samples ({counts}) from {samples_dir()}")
        out = personal_weights()
        images = torch.from_numpy(np.stack([s.image for s in samples]))
        r = run_personal(data, images, labels, init, out, cfg, not args.init, log=print)
    except (DataError, TrainError, WriteError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was written; your samples and any earlier personal weights are as they were",
              file=sys.stderr)
        return 130
    report_personal(r, out)
    note = few_note(labels)
    if note:
        print(f"note: {note}")
    return 0


def report_personal(r: dict, out: Path) -> None:
    cv, m, o = r["samples_cross_validated"], r["mnist_test"], r["outliers_rejected"]
    print(f"personal weights written to {out} (figures in {out.with_suffix('.json').name}) in {r['seconds']} s:")
    if cv["after"] is not None:
        print(f"  your samples, each read by weights that did not learn it ({cv['folds']}-fold cross-validation): "
              f"{cv['before']:.2f} % -> {cv['after']:.2f} % read right")
    print(f"  your samples, read by the weights that learnt them: {r['samples_trained_on']['before']:.2f} % -> "
          f"{r['samples_trained_on']['after']:.2f} %")
    print(f"  MNIST test: {m['before']:.2f} % -> {m['after']:.2f} %")
    print(f"  non-digit shapes rejected: {o['before']:.1f} % -> {o['after']:.1f} %")
    print("digitcam reads with them from now on (--no-personal for the shipped weights)")


if __name__ == "__main__":
    sys.exit(main())
