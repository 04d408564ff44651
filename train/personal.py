"""Personal fine-tune: teach the network one person's handwriting in under a minute, forgetting nothing.

It starts from the shipped weights (or given ones) and takes a fixed, small number of steps. Each batch
mixes the user's samples, drawn again and again and strongly augmented (the trainer's own augmentation:
rotation, shear, scale, elastic distortion, stroke width, blur, noise; a few dozen samples must stand for
every way the person will hold the pen and the camera; turned up further, it taught the samples' own
shape less well: ten long-flagged 1s taught, 98 % of new ones read right instead of 100 %), with MNIST
training digits (the flagged-1 and crossed-7 copies included, as in training) and, when the
starting weights were trained to reject non-digits (outlier exposure: they give a letter or a grid dot
a near-uniform answer), non-digit images taught the uniform answer, so that the personal weights keep
that ability. Weights without it are not given it here: it lowers the confidence of borderline digits
too (measured on the photos: 1s read at 0.55 fell under the "?" threshold), a change of behaviour that
belongs to a full training run, not to a fine-tune meant to add styles. The first layer (the stroke
detectors, 392,500 of the 648,010 weights) stays as 60,000 digits trained it; the two above learn the
person's way of putting strokes together, at a tenth of training's learning rate, and the weights kept
lie 0.7 of the way from the start to where the steps led (see finetune). Measured on the photos (one
photo of a writer taught, the others read), this moves the most: with every layer trained, MNIST test
fell by up to 0.17 points and 8 borderline digits of other photos fell under the "?" threshold; with
the first layer kept, 0.10 points and 3.

What the run reports, in the JSON beside the weights, is measured, not assumed:
- MNIST test accuracy before and after, on the full test set (forgetting would show here);
- the samples' accuracy by cross-validation: the samples are split in folds, and each fold is read by
  weights fine-tuned without it, in the same way (so "after" is how the user's *next* digits will be
  read, not how well the network memorised these); "before" is the starting weights on all samples;
- the share of held-out non-digit images rejected (top probability under the Reader's NOT_A_DIGIT)
  before and after.
Seeds are fixed: the same samples give the same weights.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from train.augment import AugmentConfig, Augmenter
from train.checkpoint import atomic_save, atomic_write_json, load_weights
from train.data import Mnist
from train.mnist_spec import NOT_A_DIGIT, standardise
from train.model import FCL
from train.trainer import TrainConfig, TrainError, lr_at, split, to_ink, uniform_loss

FEW = 30  # fewer samples than this (or a digit with fewer than FEW_PER_DIGIT) still train, with a note
FEW_PER_DIGIT = 3
OUTLIER_SEED = 7919  # the held-out non-digits that measure rejection are drawn apart from the trained ones
SURE = 0.5  # the app's default --min-confidence: a digit read with less shows as "?", so it is not read right
KEEP_REJECTING = 50.0  # starting weights that reject this share (%) of non-digits have outlier exposure to keep


@dataclass
class PersonalConfig:
    steps: int = 300  # optimiser steps of one fine-tune (cross-validation runs one more per fold)
    batch: int = 96  # MNIST training digits per step
    personal: int = 32  # the user's samples per step, drawn with replacement (oversampled)
    outliers: float = 0.25  # non-digit images per MNIST digit in a step (when there is rejection to keep)
    outlier_weight: float = 1.0  # their loss (uniform answer) next to the digits'
    lr: float = 2e-4  # peak Adam learning rate: a tenth of training's
    warmup: int = 20  # steps
    label_smoothing: float = 0.05
    blend: float = 0.7  # the weights kept: start + blend * (fine-tuned - start); see finetune()
    frozen: tuple[str, ...] = ("fc1",)  # layers that keep their trained weights
    seed: int = 1
    device: str = "cpu"
    threads: int = 1  # CPU threads (0: torch's default); see run_personal
    folds: int = 5  # cross-validation folds for the report (0: none)
    mnist_pool: int = 20000  # MNIST training digits drawn from
    outlier_bank: int = 3000  # non-digit images made for training (and 1000 more, held out, for the report)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # the trainer's, for samples and MNIST alike


@dataclass
class Mix:
    """What a fine-tune mixes with the user's samples, and what it is measured on (ink in [0, 1], on the device)."""

    pool_x: torch.Tensor
    pool_y: torch.Tensor
    outliers: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    outliers_held_out: torch.Tensor


def make_mix(data: Mnist, cfg: PersonalConfig) -> Mix:
    """MNIST training digits (with the trainer's style copies), the test set, and non-digit images for
    training and for measuring, all fixed by the seed."""
    from train.outliers import make_outliers

    device = torch.device(cfg.device)
    tx, ty, _, _, test_x, test_y = split(data, TrainConfig(train_subset=cfg.mnist_pool, seed=cfg.seed), device)
    digits = data.train_x[: cfg.mnist_pool].numpy()
    bank, _ = make_outliers(cfg.outlier_bank, cfg.seed, digits)
    held, _ = make_outliers(1000, OUTLIER_SEED, data.train_x[-5000:].numpy())
    as_ink = lambda a: to_ink(torch.from_numpy(a)).to(device)  # noqa: E731
    return Mix(tx, ty, as_ink(bank), test_x, test_y, as_ink(held))


def finetune(init: dict[str, torch.Tensor], xs: torch.Tensor, ys: torch.Tensor, mix: Mix,
             cfg: PersonalConfig) -> dict[str, torch.Tensor]:
    """`init` fine-tuned on samples `xs` (N, 1, 28, 28 ink) labelled `ys`, mixed with `mix`; a new state dict.

    The weights returned lie `cfg.blend` of the way from `init` to where the steps took them: a fine-tune
    that starts from averaged (EMA) weights first loses a little of their MNIST accuracy whatever it is
    taught, and the point between keeps nearly all of it and nearly all of the new styles (measured, ten
    long-flagged 1s taught: at 0.7, MNIST test 0.04 points under the start instead of 0.28, and 99.5 % of
    new long-flagged 1s read right instead of 100 %).
    """
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    model = FCL()
    model.load_state_dict(init)
    model.to(device).train()
    for name in cfg.frozen:
        getattr(model, name).requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    augment = Augmenter(cfg.augment)
    n_out = max(1, round(cfg.outliers * cfg.batch)) if cfg.outliers > 0 else 0
    pick = lambda n, k: torch.randint(n, (k,), generator=g, device=device)  # noqa: E731
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg.steps, cfg.warmup, cfg.lr)
        i, j = pick(len(mix.pool_x), cfg.batch), pick(len(xs), cfg.personal)
        x = torch.cat([augment(mix.pool_x[i], g), augment(xs[j], g)])
        logits = model(standardise(x))
        loss = (F.cross_entropy(logits[: cfg.batch], mix.pool_y[i], label_smoothing=cfg.label_smoothing)
                + F.cross_entropy(logits[cfg.batch :], ys[j], label_smoothing=cfg.label_smoothing))
        if n_out:
            ob = augment(mix.outliers[pick(len(mix.outliers), n_out)], g)
            loss = loss + cfg.outlier_weight * uniform_loss(model(standardise(ob)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {k: (init[k] + cfg.blend * (v.detach().cpu() - init[k])).contiguous() for k, v in model.state_dict().items()}


def predict(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Class probabilities of ink images `x` under `state` (in batches, on x's device)."""
    from train.evaluate import probabilities

    model = FCL()
    model.load_state_dict(state)
    return probabilities(model.to(x.device).eval(), x, 4096)


def read_right(state: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Which of `x` the app would read as `y`: the right class, and sure enough not to show "?"."""
    p = predict(state, x)
    return ((p.argmax(1) == y) & (p.max(1).values >= SURE)).cpu()


def percent(hits: torch.Tensor) -> float:
    return round(100.0 * hits.float().mean().item(), 2) if len(hits) else float("nan")


def folds_of(n: int, cfg: PersonalConfig) -> list[torch.Tensor]:
    """The held-out index sets of cross-validation (fixed by the seed); none with under two samples."""
    k = min(cfg.folds, n)
    if k < 2:
        return []
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    return [perm[f::k] for f in range(k)]


def cross_validate(init: dict, xs: torch.Tensor, ys: torch.Tensor, mix: Mix, cfg: PersonalConfig,
                   log: Callable[[str], None]) -> float | None:
    """Percent of the samples read right by weights fine-tuned without them (pooled over the folds)."""
    folds = folds_of(len(xs), cfg)
    if not folds:
        return None
    right = torch.zeros(len(xs), dtype=torch.bool)
    for f, held in enumerate(folds):
        keep = torch.ones(len(xs), dtype=torch.bool)
        keep[held] = False
        state = finetune(init, xs[keep], ys[keep], mix, cfg)
        right[held] = read_right(state, xs[held], ys[held])
        log(f"cross-validation fold {f + 1}/{len(folds)}: {int(right[held].sum())}/{len(held)} held-out samples "
            "read right")
    return percent(right)


def few_note(labels: list[int]) -> str:
    """A note when there are few samples: they still help, more help more."""
    counts = {d: labels.count(d) for d in range(10)}
    thin = [f"{d} ({n})" for d, n in counts.items() if 0 < n < FEW_PER_DIGIT]
    parts = ([f"only {len(labels)} samples"] if len(labels) < FEW else []) + (
        [f"fewer than {FEW_PER_DIGIT} of {', '.join(thin)}"] if thin else [])
    if not parts:
        return ""
    return (f"{'; '.join(parts)}: they are learnt, but more help more: {FEW_PER_DIGIT} or more of each digit you "
            "write your own way, from other sheets, pens and days")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_personal(data: Mnist, images: torch.Tensor, labels: list[int], init: Path, out: Path, cfg: PersonalConfig,
                 shipped: bool, log: Callable[[str], None] = print, mix: Mix | None = None) -> dict:
    """Fine-tune `init` on the samples (float (N, 28, 28) in [0, 1]) and write `out` and its JSON (atomically,
    the weights first); returns the report. `shipped`: `init` is the shipped weights (recorded, so that the app
    can tell when newer ones arrived). `mix`: made by make_mix(data, cfg) when not given (a caller running many
    fine-tunes makes it once)."""
    if not labels:
        raise TrainError("no samples to learn from")
    threads = torch.get_num_threads()
    if cfg.device == "cpu" and cfg.threads:  # batches this small: a second thread costs more than it brings, and
        torch.set_num_threads(cfg.threads)  # one that waits for a busy core makes every step ten times slower
    try:
        return _run(data, images, labels, init, out, cfg, shipped, log, mix)
    finally:
        torch.set_num_threads(threads)


def _run(data: Mnist, images: torch.Tensor, labels: list[int], init: Path, out: Path, cfg: PersonalConfig,
         shipped: bool, log: Callable[[str], None], mix: Mix | None) -> dict:
    t0 = time.perf_counter()
    device = torch.device(cfg.device)
    start = load_weights(init)
    xs = images.reshape(-1, 1, 28, 28).float().clamp(0, 1).to(device)
    ys = torch.tensor(labels, dtype=torch.long, device=device)
    mix = mix or make_mix(data, cfg)
    rejected = lambda s: percent(predict(s, mix.outliers_held_out).max(1).values < NOT_A_DIGIT)  # noqa: E731
    test = lambda s: percent(predict(s, mix.test_x).argmax(1) == mix.test_y)  # noqa: E731
    rejected_before = rejected(start)
    keep = rejected_before >= KEEP_REJECTING
    cfg = replace(cfg, outliers=cfg.outliers if keep else 0.0)
    log(f"{init.name} rejects {rejected_before:.1f} % of non-digit shapes: "
        + ("non-digit images are mixed in to keep that" if keep else "no outlier exposure to keep"))
    log(f"fine-tuning {init.name} on {len(labels)} samples: {cfg.steps} steps, then {len(folds_of(len(labels), cfg))} "
        f"more runs for cross-validation, on {cfg.device}")
    state = finetune(start, xs, ys, mix, cfg)
    cv_after = cross_validate(start, xs, ys, mix, cfg, log)
    before, after = read_right(start, xs, ys), read_right(state, xs, ys)
    report = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "samples": len(labels), "per_digit": {str(d): labels.count(d) for d in range(10)},
        "started_from": {"path": str(init), "sha256": sha256(init), "shipped": shipped},
        "mnist_test": {"before": test(start), "after": test(state)},
        "samples_cross_validated": {"folds": len(folds_of(len(labels), cfg)), "before": percent(before),
                                    "after": cv_after},
        "samples_trained_on": {"before": percent(before), "after": percent(after)},
        "outliers_rejected": {"images": len(mix.outliers_held_out), "threshold": NOT_A_DIGIT,
                              "before": rejected_before, "after": rejected(state), "mixed_in": keep},
        "note": few_note(labels),
        "seconds": round(time.perf_counter() - t0, 1), "device": cfg.device, "threads": torch.get_num_threads(),
        "config": {**asdict(cfg), "augment": cfg.augment.to_dict()},
    }
    atomic_save(state, out)
    atomic_write_json(report, out.with_suffix(".json"))
    return report


__all__ = ["Mix", "PersonalConfig", "TrainError", "cross_validate", "few_note", "finetune", "make_mix", "predict",
           "run_personal"]
