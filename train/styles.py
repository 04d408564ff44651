"""Digit styles MNIST lacks, added to the training set: the flagged "1" and the crossed "7".

MNIST's writers were American: their 1 is a bare stroke and their 7 has no bar. Much of the world
writes 1 with a flag (a short stroke down-left from the top) and crosses the 7. An MLP trained on
MNIST alone reads such a 1 as a 7, confidently. Here a share of the training 1s and 7s get a copy in
the other style: the stroke is drawn at 4x resolution with the digit's own stroke width and
direction, and the result is re-made in MNIST's format (to_mnist), so it looks like any other sample.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from train.mnist_spec import SIZE, to_mnist

UP = 4  # drawing resolution multiplier


def _stem(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Top and bottom points of a digit's main stroke and its width, in 28x28 pixels."""
    on = img > 0.5
    rows = np.flatnonzero(on.any(1))
    if rows.size < 8:
        return None
    top_r, bot_r = rows[0], rows[-1]
    top = np.array([np.flatnonzero(on[top_r]).mean(), top_r], np.float32)
    bot = np.array([np.flatnonzero(on[bot_r]).mean(), bot_r], np.float32)
    width = float(on.sum()) / max(1.0, float(np.linalg.norm(top - bot)))
    return top, bot, max(1.0, min(width, 4.0))


def _render(img: np.ndarray, p0: np.ndarray, p1: np.ndarray, width: float) -> np.ndarray:
    big = cv2.resize(img, (SIZE * UP, SIZE * UP), interpolation=cv2.INTER_LINEAR)
    pad = SIZE * UP // 2  # the new stroke may leave the 28x28 box; to_mnist re-fits everything
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    a = tuple(int(v) for v in (p0 * UP + pad + UP / 2))
    b = tuple(int(v) for v in (p1 * UP + pad + UP / 2))
    cv2.line(big, a, b, 1.0, max(1, int(round(width * UP))), cv2.LINE_AA)
    return to_mnist(big)


def flag_one(img: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A "1" with a flag: from the top, a stroke going down and to the left."""
    stem = _stem(img)
    if stem is None:
        return None
    top, bot, width = stem
    angle = np.deg2rad(rng.uniform(40, 60))  # from straight down towards the left: 30-50 deg below level
    d = np.array([-np.sin(angle), np.cos(angle)], np.float32)
    length = rng.uniform(0.2, 0.35) * np.linalg.norm(bot - top)
    return _render(img, top, top + d * length, width)


def cross_seven(img: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A "7" with a bar across its stem, a little below the middle."""
    on = img > 0.5
    rows = np.flatnonzero(on.any(1))
    if rows.size < 8:
        return None
    r = int(rows[0] + rng.uniform(0.45, 0.6) * (rows[-1] - rows[0]))
    cols = np.flatnonzero(on[r])
    if cols.size == 0:
        return None
    cx = float(cols.mean())
    width = max(1.0, min(float(on.sum()) / max(1.0, 2.0 * (rows[-1] - rows[0])), 3.5))
    half = rng.uniform(0.18, 0.28) * (rows[-1] - rows[0])
    tilt = rng.uniform(-0.15, 0.1) * half
    p0 = np.array([cx - half, r - tilt], np.float32)
    p1 = np.array([cx + half, r + tilt], np.float32)
    return _render(img, p0, p1, width)


def add_styles(x: torch.Tensor, y: torch.Tensor, seed: int, share: float = 0.4) -> tuple[torch.Tensor, torch.Tensor]:
    """Return extra samples: flagged copies of `share` of the 1s and crossed copies of half as many 7s.

    x: uint8 (N, 28, 28); y: int64 (N,). The result has the same dtypes.
    """
    rng = np.random.default_rng(seed)
    imgs = x.numpy().astype(np.float32) / 255.0
    out, labels = [], []
    for digit, make, frac in ((1, flag_one, share), (7, cross_seven, share / 2)):
        idx = np.flatnonzero(y.numpy() == digit)
        for i in rng.choice(idx, int(len(idx) * frac), replace=False):
            new = make(imgs[i], rng)
            if new is not None:
                out.append(new)
                labels.append(digit)
    if not out:
        return x[:0], y[:0]
    xs = torch.from_numpy((np.clip(np.stack(out), 0, 1) * 255).round().astype(np.uint8))
    return xs, torch.tensor(labels, dtype=torch.int64)
