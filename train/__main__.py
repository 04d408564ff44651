"""`python -m train` (or `digitcam-train`): train the FCL on MNIST and write FIRST/MIDDLE/LAST.pth and run.json.

Needs the `train` extra (`pip install "digitcam[train]"`), except for --summary.

    python -m train --out runs/fcl                     # the recipe the shipped weights were made with
    python -m train --out runs/fcl --resume            # continue an interrupted run
    python -m train --epochs 3 --no-augment --out runs/quick
    python -m train --summary                          # the layer table and parameter count
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from train.checkpoint import WeightsError, WriteError
from train.data import ENV_VAR, DataError, load_mnist
from train.extras import require
from train.model import FCL, summary
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
    p.add_argument("--lr", type=float, default=d.lr, help="peak Adam learning rate (cosine schedule)")
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
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its state.pt")
    p.add_argument("--log-every", type=int, default=d.log_every,
                   help="steps between updates of the progress bar's loss and accuracy (0 = no bar)")
    p.add_argument("--outliers", type=float, default=d.outliers,
                   help="non-digit images per digit in each batch, taught 'none of these' (outlier exposure; 0 = off)")
    p.add_argument("--outlier-weight", type=float, default=d.outlier_weight, help="their share of the loss")
    p.add_argument("--init", default="", help="start from these weights (a fine-tune) instead of random ones")
    p.add_argument("--warmup", type=float, default=d.warmup, help="epochs of learning-rate warm-up")
    p.add_argument("--summary", action="store_true", help="print the model table and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.summary:
        print(summary(FCL()))
        return 0
    if args.log_every:
        require("the trainer's progress bar", "tqdm")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, dropout=args.dropout,
            label_smoothing=args.label_smoothing, ema=args.ema, augment=not args.no_augment, styles=args.styles,
            val_size=args.val_size, train_subset=args.train_subset, seed=args.seed,
            device=pick_device(args.device), log_every=args.log_every, outliers=args.outliers,
            outlier_weight=args.outlier_weight, init=args.init, warmup=args.warmup,
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


if __name__ == "__main__":
    sys.exit(main())
