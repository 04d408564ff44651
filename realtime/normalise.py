"""Stage 2, normalise: turn each detected digit into the 28x28 image the network was trained on.

The way MNIST was made, and nothing else: the crop is the digit's own ink (neighbouring digits and
specks are masked out), as soft grey levels rather than a hard binary mask; its longer side is fitted
to 20 px with the aspect ratio kept (so a "1" stays a thin stroke), anti-aliased by area averaging; it is
pasted into a black 28x28 canvas so that its centre of mass falls where MNIST's does. The constants
come from `train.mnist_spec`, the one place the trainer and the app share.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from realtime.detect import Candidate, sheared_columns
from train.mnist_spec import FIT, STROKE, to_mnist
from train.resample import jit, resize

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


@jit
def stroke_width(ink):  # pragma: no cover - compiled
    """Mean width in pixels of the strokes of ink > 0.5: 2 x area / boundary pixels."""
    h, w = ink.shape
    area, inner = 0, 0
    for y in range(h):
        for x in range(w):
            if ink[y, x] > 0.5:
                area += 1
                full = 0 < y < h - 1 and 0 < x < w - 1
                if full:
                    for yy in range(y - 1, y + 2):
                        for xx in range(x - 1, x + 2):
                            if ink[yy, xx] <= 0.5:
                                full = False
                if full:
                    inner += 1
    return 2.0 * area / max(1, area - inner)


@jit
def _grow(ink, near, far, frac, grow):  # pragma: no cover - compiled
    """Grey dilation (grow) or erosion by a fractional disc: a blend of the discs `near` and `far`.

    The result is padded by the far disc's radius, so a dilated stroke is not cut at the crop's edge.
    """
    h, w = ink.shape
    pad = 0
    for k in range(far.shape[0]):
        pad = max(pad, abs(far[k, 0]), abs(far[k, 1]))
    src = np.zeros((h + 4 * pad, w + 4 * pad), np.float32)  # zeros around: no bounds checks below
    src[2 * pad : 2 * pad + h, 2 * pad : 2 * pad + w] = ink
    out = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    for y in range(h + 2 * pad):
        for x in range(w + 2 * pad):
            a = 0.0 if grow else 1.0
            for k in range(near.shape[0]):
                v = src[y + pad + near[k, 0], x + pad + near[k, 1]]
                a = max(a, v) if grow else min(a, v)
            b = a
            for k in range(far.shape[0]):
                v = src[y + pad + far[k, 0], x + pad + far[k, 1]]
                b = max(b, v) if grow else min(b, v)
            out[y, x] = a * (1.0 - frac) + b * frac
    return out


def crop_ink(cand: Candidate, part: tuple[int, int] | None = None) -> tuple[np.ndarray, Box]:
    """The candidate's ink as float32 in [0, 1] (1 = the stroke's core), bright on black, and its tight box.

    The ink is the darkness of the candidate's own pixels (neighbouring digits and specks are masked
    out) plus a one-pixel rim, which keeps the stroke's soft edge that lies below the mask's threshold;
    it is scaled so that the stroke's core (from CORE of its darkest value up) is 1, as in MNIST.
    `part` = (c0, c1) keeps only the slant-corrected columns c0 <= c < c1 (one of several touching
    digits; see detect.split_columns). The box is in the detection's working pixels.
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


def match_stroke(ink: np.ndarray, target: float = STROKE) -> np.ndarray:
    """Thicken or thin the strokes so that, once fitted to 20 px, they are as wide as MNIST's.

    A pen, a marker and a brush give strokes from 1/30 to 1/8 of a digit's height; MNIST's are about
    1/11 (1.85 px in 20). Without this, a camera digit reaches the network as a faint hairline, a
    kind of image it never saw. Grey-level dilation (or erosion) with a disc at the crop's own
    resolution keeps the soft edges; a fractional width is a blend of the two nearest discs.
    """
    h, w = ink.shape
    want = target * max(h, w, 1) / FIT  # the target width in this crop's pixels
    d = (want - stroke_width(ink)) / 2  # grow (or shrink) each side by d pixels
    if abs(d) < 0.25:
        return ink
    r = int(np.floor(abs(d)))
    return _grow(ink, _disc(r), _disc(r + 1), abs(d) - r, d > 0)


@functools.lru_cache(maxsize=16)
def _disc(r: int) -> np.ndarray:
    """Offsets (dy, dx) of OpenCV's elliptic structuring element of radius r."""
    return (np.argwhere(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) - r).astype(np.int64)


def normalise(cand: Candidate, part: tuple[int, int] | None = None) -> tuple[np.ndarray, Box]:
    """Candidate (or one part of it) -> (28x28 float32 ink in [0, 1] for classify, its tight box)."""
    ink, box = crop_ink(cand, part)
    return to_mnist(match_stroke(shrink(ink))), box


def shrink(ink: np.ndarray, side: int = 2 * FIT) -> np.ndarray:
    """Area-average a large crop down to `side` px on its longer side (twice what to_mnist keeps).

    Nothing the 20 px digit could show is lost, and the stroke matching that follows costs the same
    for a 300 px marker digit as for a 30 px pencil one.
    """
    h, w = ink.shape
    if max(h, w) <= side:
        return ink
    k = side / max(h, w)
    return resize(ink, max(1, round(h * k)), max(1, round(w * k)))
