"""Stage 2, normalise: turn each detected digit into the 28x28 image the network was trained on.

The way MNIST was made, and nothing else: the crop is the digit's own ink (neighbouring digits and
specks are masked out), as soft grey levels rather than a hard binary mask; its longer side is fitted
to 20 px with the aspect ratio kept (so a "1" stays a thin stroke), anti-aliased by area averaging; it is
pasted into a black 28x28 canvas so that its centre of mass falls where MNIST's does, its strokes
brought to MNIST's width on the way. That last part is `train.mnist_spec.from_crop`, the one place
the trainer and the app share; what is here is cutting the digit's own ink out of the frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from realtime.detect import Candidate, sheared_columns
from train.mnist_spec import SIZE, from_crop, to_mnist
from train.resample import jit

CORE = 0.85  # ink at least this fraction of the shape's darkest value counts as the stroke's core


Box = tuple[int, int, int, int]


@jit
def _ink(dark, own, scale):  # pragma: no cover - compiled
    """Darkness x scale (capped at 1) over the shape grown by one pixel, cut to its box plus that pixel.

    Returns the ink crop and the shape's bounding box (x, y, w, h) within `own`.
    """
    h, w = own.shape
    y0, y1, x0, x1 = h, -1, w, -1
    for y in range(h):
        for x in range(w):
            if own[y, x]:
                y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
    if y1 < 0:
        return np.zeros((1, 1), np.float32), (0, 0, 0, 0)
    ty0, ty1, tx0, tx1 = max(0, y0 - 1), min(h - 1, y1 + 1), max(0, x0 - 1), min(w - 1, x1 + 1)
    rows, cols = ty1 - ty0 + 1, tx1 - tx0 + 1
    across = np.zeros((rows, cols), np.uint8)  # the shape grown sideways by one pixel
    for y in range(rows):
        for x in range(cols):
            if own[ty0 + y, tx0 + x]:
                across[y, max(0, x - 1)] = 1
                across[y, x] = 1
                if x + 1 < cols:
                    across[y, x + 1] = 1
    ink = np.zeros((rows, cols), np.float32)
    for y in range(rows):
        for x in range(cols):
            if across[y, x] or (y > 0 and across[y - 1, x]) or (y + 1 < rows and across[y + 1, x]):
                ink[y, x] = min(1.0, dark[ty0 + y, tx0 + x] * scale)
    return ink, (x0, y0, x1 - x0 + 1, y1 - y0 + 1)


def crop_ink(cand: Candidate, part: tuple[int, int] | None = None) -> tuple[np.ndarray, Box]:
    """The candidate's ink as float32 in [0, 1] (1 = the stroke's core), bright on black, and its tight box.

    The ink is the darkness of the candidate's own pixels (neighbouring digits and specks are masked
    out) plus a one-pixel rim, which keeps the stroke's soft edge that lies below the mask's threshold;
    it is scaled so that the stroke's core (from CORE of its darkest value up) is 1, as in MNIST.
    `part` = (c0, c1) keeps only the slant-corrected columns c0 <= c < c1 (one of several touching
    digits; see detect.split_columns). The box is in the candidate's pixels.
    """
    own = cand.own
    if part is not None:
        cols = sheared_columns(own.shape[0], own.shape[1], cand.slant) + (cand.origin[0] - cand.box[0])
        # The crop and the box share a centre, so the shear matches the one split_columns used.
        own = own * ((cols >= part[0]) & (cols < part[1])).view(np.uint8)
    top = cv2.minMaxLoc(cand.dark, own)[1]  # the darkest ink of the shape
    if top <= 0:
        return np.zeros((1, 1), np.float32), cand.box
    ink, (x, y, w, h) = _ink(cand.dark, own, 1.0 / (CORE * top))
    x0, y0 = cand.origin
    return ink, (x0 + x, y0 + y, w, h)


def normalise(cand: Candidate, part: tuple[int, int] | None = None) -> tuple[np.ndarray, Box]:
    """Candidate (or one part of it) -> (28x28 float32 ink in [0, 1] for classify, its tight box in frame pixels)."""
    ink, (x, y, w, h) = crop_ink(cand, part)
    s = 1.0 / cand.scale
    box = (int(round(x * s)), int(round(y * s)), max(1, int(round(w * s))), max(1, int(round(h * s))))
    return from_crop(ink), box


def level(image: np.ndarray, slope: float) -> np.ndarray:
    """A 28x28 digit from a sheet held at an angle, turned back by the slope its rows rise at (dy/dx in
    the frame), and fitted again the way MNIST was: the network learnt digits as written on a level
    sheet, and to it a flagged 1 leaning 20 degrees is a 7. Turned at four times the resolution,
    smoothly (a turn at the crop's own resolution, often only a few dozen pixels, read worse)."""
    up = 4
    big = cv2.resize(image, (SIZE * up, SIZE * up), interpolation=cv2.INTER_CUBIC)
    pad = int(0.21 * SIZE * up) + 1  # (sqrt(2) - 1) / 2 of the side each way: room for the turned diagonal
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = (big.shape[1] - 1) / 2
    turn = cv2.getRotationMatrix2D((c, c), math.degrees(math.atan(slope)), 1.0)
    return to_mnist(np.clip(cv2.warpAffine(big, turn, big.shape[::-1], flags=cv2.INTER_CUBIC), 0, 1))
