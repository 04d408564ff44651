"""What the trainer and the live app must agree on: how a digit looks when the network sees it.

MNIST digits were made by fitting each NIST digit's longer side into a 20x20 box (keeping its aspect
ratio, anti-aliased) and moving its centre of mass to the centre of a 28x28 canvas; ink is bright on
black. The network was trained on such images standardised with the training set's mean and std.
Any crop from the camera must reach the network in exactly this form, so every constant lives here.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch

from train.resample import fit_centre, jit, resize

#: Mean and standard deviation of the MNIST training pixels scaled to [0, 1].
MEAN = 0.1307
STD = 0.3081

#: Side of the square image the network reads.
SIZE = 28
#: Side of the box the longer side of a digit is fitted into.
FIT = 20
#: Where MNIST puts a digit's centre of mass, in pixel indices (x, y): measured over the training set,
#: 14.01 and 14.00, with a spread of 0.29 px.
CENTRE = 14.0
#: MNIST's median stroke width in 28x28 pixels (2 x area / boundary of the ink above 0.5, measured at
#: 4x resolution over the test set; 10th-90th percentile 1.4-2.6). Camera digits are brought to it.
STROKE = 1.85
#: Ink above this (of 1) belongs to the digit's bounding box.
INK_ON = 0.1
#: Number of classes.
CLASSES = 10
#: A shape the network gives no class this much is "none of these": not a digit at all. The trainer's
#: outlier exposure teaches it to answer so (every class 10 %); the app does not show such shapes.
NOT_A_DIGIT = 0.3


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Map ink images in [0, 1] (bright ink on black) to the network's input scale."""
    return (x - MEAN) / STD


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """A crop of ink (float, bright on black, any size) as a 28x28 float32 image made the way MNIST was.

    Longer side fitted to FIT px with the aspect ratio kept (area-averaged when shrinking, so thin
    strokes stay grey rather than vanishing), then pasted so the centre of mass lands on CENTRE.
    The trainer uses it for the digits it synthesises; the app for every camera crop.
    """
    return fit_centre(np.ascontiguousarray(ink, dtype=np.float32), FIT, SIZE, CENTRE, INK_ON)


def from_crop(ink: np.ndarray) -> np.ndarray:
    """A crop of ink of any size and stroke (float, bright on black) as the 28x28 image the network reads.

    The app makes every camera crop with this, and the trainer every synthetic sample that should look
    like one: shrunk if large, strokes brought to MNIST's width, then fitted and centred (to_mnist).
    """
    return to_mnist(match_stroke(shrink(ink)))


def shrink(ink: np.ndarray, side: int = 2 * FIT) -> np.ndarray:
    """Area-average a large crop down to `side` px on its longer side (twice what to_mnist keeps).

    Nothing the 20 px digit could show is lost, and the stroke matching that follows costs the same
    for a 300 px marker digit as for a 30 px pencil one.
    """
    h, w = ink.shape
    if max(h, w) <= side:
        return ink
    k = side / max(h, w)
    return resize(np.ascontiguousarray(ink, dtype=np.float32), max(1, round(h * k)), max(1, round(w * k)))


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


def match_stroke(ink: np.ndarray, target: float = STROKE) -> np.ndarray:
    """Thicken or thin the strokes so that, once fitted to 20 px, they are as wide as MNIST's.

    A pen, a marker and a brush give strokes from 1/30 to 1/5 of a digit's height; MNIST's are about
    1/11 (1.85 px in 20). Without this, a camera digit reaches the network as a faint hairline, a
    kind of image it never saw. Grey-level dilation (or erosion) with a disc at the crop's own
    resolution keeps the soft edges; a fractional width is a blend of the two nearest discs. The
    result is padded by a pixel more than it grew, so a thickened stroke is not cut at the crop's edge.
    """
    h, w = ink.shape
    want = target * max(h, w, 1) / FIT  # the target width in this crop's pixels
    d = (want - stroke_width(ink)) / 2  # grow (or shrink) each side by d pixels
    if abs(d) < 0.25:
        return ink
    r = int(np.floor(abs(d)))
    pad = r + 1
    padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    op = cv2.dilate if d > 0 else cv2.erode
    near = op(padded, _disc(r)) if r > 0 else padded
    return cv2.addWeighted(near, 1.0 - (abs(d) - r), op(padded, _disc(r + 1)), abs(d) - r, 0.0)


@functools.lru_cache(maxsize=16)
def _disc(r: int) -> np.ndarray:
    """OpenCV's elliptic structuring element of radius r."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
