"""The training loop: MNIST in memory as one tensor, batched augmentation, atomic checkpoints, resume.

A run folder holds
  FIRST.pth   the untrained weights (seed format: a plain FCL state dict),
  MIDDLE.pth  the weights after ~25 % of the epochs,
  LAST.pth    the weights with the best held-out validation accuracy (EMA weights when EMA is on); an
              epoch within one standard error of the best so far (2k digits: ~0.15 %) counts as
              equally good and, being trained longer, replaces it: on a plateau the validation
              accuracy only wobbles, and the later weights generalise better,
  run.json    the config, per-epoch metrics and the test accuracy of LAST.pth,
  state.pt    everything needed to continue after an interruption (`--resume`).
Each is replaced atomically once per epoch, so a `kill -9` loses at most the epoch in progress, and a
resumed run finishes with the same weights as one that was never interrupted.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from train.augment import AugmentConfig, Augmenter
from train.checkpoint import WriteError, atomic_save, atomic_write_json, load_weights, safe_load
from train.data import Mnist
from train.mnist_spec import standardise
from train.model import FCL
from train.styles import add_styles


@dataclass
class TrainConfig:
    epochs: int = 250
    batch_size: int = 128
    lr: float = 2e-3  # peak learning rate (Adam), reached after `warmup` epochs, cosine decay to 0
    warmup: float = 1.0
    weight_decay: float = 1e-5
    label_smoothing: float = 0.05
    dropout: float = 0.0  # the augmentation is regularisation enough; the MLP rather underfits it
    ema: float = 0.999  # 0 disables the exponential moving average of the weights
    augment: bool = True
    styles: float = 0.4  # share of training 1s given a flag (and half as many 7s a bar); see styles.py
    val_size: int = 2000  # held out of the 60k training digits to pick LAST.pth
    train_subset: int = 0  # 0 = all; else use the first N training digits (tests, quick checks)
    seed: int = 1
    device: str = "cpu"
    log_every: int = 100  # steps between updates of the progress bar's loss and accuracy; 0: no bar
    outliers: float = 0.0  # non-digit images per digit in a batch, taught "none of these" (see outliers.py)
    outlier_weight: float = 0.5  # their loss next to the digits'
    outlier_bank: int = 30000  # how many are made (from the training digits and drawings) and reused
    pen: float = 0.0  # digits redrawn by an even pen (see pen.py) added per digit in a batch
    pen_bank: int = 20000  # how many training digits get their centre lines traced for that
    init: str = ""  # start from these weights instead of random ones (a fine-tune)
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)


class TrainError(Exception):
    """Training cannot start or continue; the message says why."""


def to_ink(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float ink in [0, 1] shaped (N, 1, 28, 28)."""
    return x.float().div_(255).unsqueeze(1)


@torch.inference_mode()
def accuracy(model: FCL, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    """Percent of `x` (ink in [0, 1]) that `model` classifies as `y`."""
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(standardise(x[i : i + batch])).argmax(1) == y[i : i + batch]).sum().item()
    model.train(was)
    return 100.0 * correct / max(1, len(x))


def split(data: Mnist, cfg: TrainConfig, device: torch.device):
    """Train/validation split fixed by the seed (not by the run's progress), moved to `device`."""
    n = len(data.train_x)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(12345))
    val_idx, train_idx = perm[: cfg.val_size], perm[cfg.val_size :]
    if cfg.train_subset:
        train_idx = train_idx[: cfg.train_subset]
    x, y = data.train_x[train_idx], data.train_y[train_idx]
    if cfg.styles > 0:
        sx, sy = add_styles(x, y, cfg.seed, cfg.styles)
        x, y = torch.cat([x, sx]), torch.cat([y, sy])
    tx = to_ink(x).to(device)
    ty = y.to(device)
    vx = to_ink(data.train_x[val_idx]).to(device)
    vy = data.train_y[val_idx].to(device)
    return tx, ty, vx, vy, to_ink(data.test_x).to(device), data.test_y.to(device)


def outlier_bank(data: Mnist, cfg: TrainConfig, device: torch.device) -> torch.Tensor | None:
    """The non-digit images of outlier exposure, cut and drawn from the training digits only (never the
    validation or test ones), fixed by the seed."""
    if cfg.outliers <= 0:
        return None
    from train.outliers import make_outliers

    perm = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(12345))
    digits = data.train_x[perm[cfg.val_size :]].numpy()
    images, _ = make_outliers(cfg.outlier_bank, cfg.seed, digits)
    return to_ink(torch.from_numpy(images)).to(device)


@dataclass
class Extras:
    """What a batch gets besides the training digits: non-digits (outlier exposure) and redrawn digits."""

    outliers: torch.Tensor | None = None  # ink (N, 1, 28, 28)
    pen_lines: torch.Tensor | None = None  # centre lines (M, 1, 56, 56), see pen.py
    pen_labels: torch.Tensor | None = None


def extras(data: Mnist, cfg: TrainConfig, tx: torch.Tensor, ty: torch.Tensor, device: torch.device) -> Extras:
    """The outlier bank and the traced centre lines of a fixed sample of the training digits, as asked."""
    out = Extras(outliers=outlier_bank(data, cfg, device))
    if cfg.pen > 0:
        from train.pen import centre_lines

        pick = torch.randperm(len(tx), generator=torch.Generator().manual_seed(cfg.seed))[: cfg.pen_bank]
        out.pen_lines = centre_lines(tx[pick.to(tx.device)])
        out.pen_labels = ty[pick.to(ty.device)]
    return out


def uniform_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the uniform distribution: lowest when every class gets 10 %."""
    return (torch.logsumexp(logits, 1) - logits.mean(1)).mean()


_FLAGS = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "dropout": "--dropout",
          "label_smoothing": "--label-smoothing", "ema": "--ema", "styles": "--styles", "val_size": "--val-size",
          "train_subset": "--train-subset", "seed": "--seed", "outliers": "--outliers",
          "outlier_weight": "--outlier-weight", "init": "--init", "warmup": "--warmup", "pen": "--pen"}


def command_for(config: dict) -> str:
    """The `python -m train` command line that reproduces a run's config (defaults left out)."""
    default = json.loads(json.dumps(config_dict(TrainConfig())))  # as run.json stores it (lists, not tuples)
    parts = ["python -m train"]
    for key, flag in _FLAGS.items():
        if config.get(key) != default[key]:
            parts.append(f"{flag} {config[key]}")
    if not config.get("augment", True):
        parts.append("--no-augment")
    if config.get("augment_config") != default["augment_config"]:
        parts.append("(with a non-default augment_config: see config)")
    return " ".join(parts + ["--out runs/fcl"])


def val_noise(acc: float, n: int) -> float:
    """One standard error of an accuracy (in %) measured on n samples: differences below it are noise."""
    p = min(max(acc / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1 - p) / max(n, 1))


def lr_at(step: int, total: int, warmup_steps: int, peak: float) -> float:
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def config_dict(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["augment_config"] = cfg.augment_config.to_dict()
    return d


@dataclass
class _Run:
    """What a run changes as it goes: the model, its EMA copy, the optimiser, the batch order's RNG, the record."""

    model: FCL
    ema: FCL
    opt: torch.optim.Optimizer
    g: torch.Generator
    record: dict
    epoch: int = 0  # epochs done
    step: int = 0  # optimiser steps done

    def state(self, cfg: TrainConfig, device: torch.device) -> dict:
        """Everything --resume needs to continue exactly where this run is."""
        return {"model": self.model.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                "gen": self.g.get_state(), "torch_rng": torch.get_rng_state(), "record": self.record,
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "epoch": self.epoch, "config": config_dict(cfg)}


def _make_folder(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    return out


def _new_run(data: Mnist, cfg: TrainConfig, device: torch.device) -> _Run:
    """The untrained (or `cfg.init`) model, its EMA copy, Adam, and an empty record."""
    torch.manual_seed(cfg.seed)
    model = FCL()
    if cfg.init:
        model.load_state_dict(load_weights(Path(cfg.init)))
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = FCL().to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    record = {"config": config_dict(cfg), "data": data.source, "epochs": [], "best_val": -1.0, "best_epoch": 0,
              "elapsed_s": 0.0}
    return _Run(model, ema, opt, g, record)


def _resume(run: _Run, state_path: Path, cfg: TrainConfig, device: torch.device) -> None:
    """Load state.pt into `run`: weights, optimiser, RNG states and record, as they were after its last epoch."""
    if not state_path.exists():
        raise TrainError(f"--resume: no {state_path} to continue from")
    state = safe_load(state_path)
    if state.get("config") != config_dict(cfg):
        raise TrainError(f"--resume: {state_path} was made with another config; use the same options")
    run.model.load_state_dict(state["model"])
    run.ema.load_state_dict(state["ema"])
    run.opt.load_state_dict(state["opt"])
    run.g.set_state(state["gen"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    run.record, run.epoch = state["record"], state["epoch"]


def _progress_bar(cfg: TrainConfig, steps: int, epoch: int):
    """A tqdm bar over one epoch's batches (None when log_every is 0); it shows loss and accuracy so far."""
    if not cfg.log_every:
        return None
    from tqdm import tqdm

    return tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False, dynamic_ncols=True)


def _train_epoch(run: _Run, cfg: TrainConfig, tx: torch.Tensor, ty: torch.Tensor, augment: Augmenter,
                 schedule: tuple[int, int, int], more: Extras | None = None) -> float:
    """One pass over the shuffled training set; returns the mean loss. `schedule`: steps per epoch, in all,
    and of warm-up. `more`: redrawn digits joining each batch, and non-digit images taught the uniform answer."""
    more = more or Extras()
    steps_per_epoch, total_steps, warmup_steps = schedule
    device = tx.device
    perm = torch.randperm(len(tx), generator=run.g, device=device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0  # digits the accuracy is over: the batches' MNIST digits and the redrawn ones joining them
    bar = _progress_bar(cfg, steps_per_epoch, run.epoch)
    for i in range(steps_per_epoch):
        idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
        xb, yb = tx[idx], ty[idx]
        if more.pen_lines is not None:
            from train.pen import redraw

            pick = torch.randint(len(more.pen_lines), (max(1, round(cfg.pen * len(xb))),), generator=run.g,
                                 device=device)
            xb, yb = torch.cat([xb, redraw(more.pen_lines[pick], run.g)]), torch.cat([yb, more.pen_labels[pick]])
        if cfg.augment:
            xb = augment(xb, run.g)
        for group in run.opt.param_groups:
            group["lr"] = lr_at(run.step, total_steps, warmup_steps, cfg.lr)
        logits = run.model(standardise(xb), cfg.dropout)
        loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
        if more.outliers is not None:
            pick = torch.randint(len(more.outliers), (max(1, round(cfg.outliers * len(xb))),), generator=run.g,
                                 device=device)
            ob = augment(more.outliers[pick], run.g) if cfg.augment else more.outliers[pick]
            loss = loss + cfg.outlier_weight * uniform_loss(run.model(standardise(ob), cfg.dropout))
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        _update_ema(run, cfg.ema)
        loss_sum += loss.detach()
        run.step += 1
        if bar is not None:
            correct += (logits.detach().argmax(1) == yb).sum()
            seen += len(yb)
            bar.update(1)
            if (i + 1) % cfg.log_every == 0 or i + 1 == steps_per_epoch:  # .item() waits for a GPU: not every step
                bar.set_postfix(loss=f"{loss_sum.item() / (i + 1):.4f}", acc=f"{100 * correct.item() / seen:.2f}%")
    if bar is not None:
        bar.close()
    return loss_sum.item() / steps_per_epoch


def _update_ema(run: _Run, decay: float) -> None:
    if decay:
        with torch.no_grad():
            torch._foreach_lerp_(list(run.ema.parameters()), list(run.model.parameters()), 1 - decay)
    else:
        run.ema.load_state_dict(run.model.state_dict())


def _end_epoch(run: _Run, cfg: TrainConfig, out: Path, metrics: dict, val_size: int) -> None:
    """Record the epoch, then write LAST/MIDDLE.pth, state.pt and run.json, in the order resume relies on."""
    run.record["epochs"].append(metrics)
    epoch = metrics["epoch"]
    if metrics["val_acc"] >= run.record["best_val"] - val_noise(run.record["best_val"], val_size):
        run.record["best_val"] = max(run.record["best_val"], metrics["val_acc"])
        run.record["best_epoch"], run.record["test_acc"] = epoch, metrics["test_acc"]
        atomic_save(run.ema.state_dict(), out / "LAST.pth")
    if epoch == max(1, round(cfg.epochs / 4)):
        atomic_save(run.ema.state_dict(), out / "MIDDLE.pth")
    # Order matters for kill -9: weights first, then the state that says they are done, then the
    # summary. A kill between two writes makes --resume redo this epoch, with the same result.
    run.epoch = epoch
    atomic_save(run.state(cfg, torch.device(cfg.device)), out / "state.pt")
    atomic_write_json(run.record, out / "run.json")


def train(
    data: Mnist,
    cfg: TrainConfig,
    out: Path,
    resume: bool = False,
    log: Callable[[str], None] = print,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train into `out`; return the run record (also written to out/run.json).

    With `cfg.log_every` a progress bar (tqdm, from the `train` extra) shows each epoch's batches, with the
    loss and the training accuracy so far; `log` gets one line per epoch.
    """
    out = _make_folder(Path(out))
    device = torch.device(cfg.device)
    tx, ty, vx, vy, test_x, test_y = split(data, cfg, device)
    more = extras(data, cfg, tx, ty, device)
    run = _new_run(data, cfg, device)
    if resume:
        _resume(run, out / "state.pt", cfg, device)
        log(f"resuming {out} after epoch {run.epoch}/{cfg.epochs}")
        if run.epoch >= cfg.epochs:
            return run.record
    else:
        atomic_save(run.model.state_dict(), out / "FIRST.pth")
    steps_per_epoch = math.ceil(len(tx) / cfg.batch_size)
    schedule = (steps_per_epoch, steps_per_epoch * cfg.epochs, max(1, int(cfg.warmup * steps_per_epoch)))
    augment = Augmenter(cfg.augment_config)
    run.model.train()
    run.step = run.epoch * steps_per_epoch
    while run.epoch < cfg.epochs:
        t0 = time.perf_counter()
        loss = _train_epoch(run, cfg, tx, ty, augment, schedule, more)
        train_s = time.perf_counter() - t0
        metrics = {"epoch": run.epoch + 1, "loss": loss, "lr": run.opt.param_groups[0]["lr"],
                   "val_acc": accuracy(run.ema, vx, vy), "test_acc": accuracy(run.ema, test_x, test_y),
                   "train_s": round(train_s, 2)}
        run.record["elapsed_s"] = round(run.record["elapsed_s"] + time.perf_counter() - t0, 2)
        log(f"epoch {metrics['epoch']}/{cfg.epochs}: loss {loss:.4f}  val {metrics['val_acc']:.2f} %  "
            f"test {metrics['test_acc']:.2f} %  ({train_s:.1f} s)")
        _end_epoch(run, cfg, out, metrics, len(vx))
        if on_epoch:
            on_epoch(metrics)
    log(f"LAST.pth = epoch {run.record['best_epoch']} (validation within one standard error of the best, "
        f"{run.record['best_val']:.2f} %), test accuracy {run.record['test_acc']:.2f} %")
    return run.record


__all__ = ["TrainConfig", "TrainError", "WriteError", "accuracy", "train", "to_ink"]
