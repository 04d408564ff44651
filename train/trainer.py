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
from train.checkpoint import WriteError, atomic_save, atomic_write_json, safe_load
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
    log_every: int = 100
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


_FLAGS = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "dropout": "--dropout",
          "label_smoothing": "--label-smoothing", "ema": "--ema", "styles": "--styles", "val_size": "--val-size",
          "train_subset": "--train-subset", "seed": "--seed"}


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


def train(
    data: Mnist,
    cfg: TrainConfig,
    out: Path,
    resume: bool = False,
    log: Callable[[str], None] = print,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train into `out`; return the run record (also written to out/run.json)."""
    device = torch.device(cfg.device)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    tx, ty, vx, vy, test_x, test_y = split(data, cfg, device)
    torch.manual_seed(cfg.seed)
    model = FCL().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = FCL().to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    augment = Augmenter(cfg.augment_config)
    steps_per_epoch = math.ceil(len(tx) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = max(1, int(cfg.warmup * steps_per_epoch))
    middle_epoch = max(1, round(cfg.epochs / 4))
    record = {"config": config_dict(cfg), "data": data.source, "epochs": [], "best_val": -1.0,
              "best_epoch": 0, "elapsed_s": 0.0}
    start_epoch = 0

    state_path = out / "state.pt"
    if resume:
        if not state_path.exists():
            raise TrainError(f"--resume: no {state_path} to continue from")
        state = safe_load(state_path)
        if state.get("config") != config_dict(cfg):
            raise TrainError(f"--resume: {state_path} was made with another config; use the same options")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        record = state["record"]
        start_epoch = state["epoch"]
        log(f"resuming {out} after epoch {start_epoch}/{cfg.epochs}")
        if start_epoch >= cfg.epochs:
            return record
    else:
        atomic_save(model.state_dict(), out / "FIRST.pth")

    def save_state(epoch: int) -> None:
        atomic_save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                     "gen": g.get_state(), "torch_rng": torch.get_rng_state(), "record": record,
                     "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                     "epoch": epoch, "config": config_dict(cfg)}, state_path)

    model.train()
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(tx), generator=g, device=device)
        loss_sum = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            xb, yb = tx[idx], ty[idx]
            if cfg.augment:
                xb = augment(xb, g)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total_steps, warmup_steps, cfg.lr)
            loss = F.cross_entropy(model(standardise(xb), cfg.dropout), yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg.ema:
                with torch.no_grad():
                    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - cfg.ema)
            else:
                ema.load_state_dict(model.state_dict())
            loss_sum += loss.detach()
            step += 1
            if cfg.log_every and (step % cfg.log_every == 0 or step == total_steps):
                log(f"Iteration [{step}/{total_steps} = {100 * step / total_steps:.0f}%], loss {loss.item():.4f}")
        train_s = time.perf_counter() - t0
        metrics = {
            "epoch": epoch + 1,
            "loss": loss_sum.item() / steps_per_epoch,
            "lr": opt.param_groups[0]["lr"],
            "val_acc": accuracy(ema, vx, vy),
            "test_acc": accuracy(ema, test_x, test_y),
            "train_s": round(train_s, 2),
        }
        record["epochs"].append(metrics)
        record["elapsed_s"] = round(record["elapsed_s"] + time.perf_counter() - t0, 2)
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {metrics['loss']:.4f}  val {metrics['val_acc']:.2f} %  "
            f"test {metrics['test_acc']:.2f} %  ({train_s:.1f} s)")
        if metrics["val_acc"] >= record["best_val"] - val_noise(record["best_val"], len(vx)):
            record["best_val"] = max(record["best_val"], metrics["val_acc"])
            record["best_epoch"], record["test_acc"] = epoch + 1, metrics["test_acc"]
            atomic_save(ema.state_dict(), out / "LAST.pth")
        if epoch + 1 == middle_epoch:
            atomic_save(ema.state_dict(), out / "MIDDLE.pth")
        # Order matters for kill -9: weights first, then the state that says they are done, then the
        # summary. A kill between two writes makes --resume redo this epoch, with the same result.
        save_state(epoch + 1)
        atomic_write_json(record, out / "run.json")
        if on_epoch:
            on_epoch(metrics)
    log(f"LAST.pth = epoch {record['best_epoch']} (validation within one standard error of the best, "
        f"{record['best_val']:.2f} %), "
        f"test accuracy {record['test_acc']:.2f} %")
    return record


__all__ = ["TrainConfig", "TrainError", "WriteError", "accuracy", "train", "to_ink"]
