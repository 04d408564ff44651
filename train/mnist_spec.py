"""What the trainer and the live app must agree on: how a digit looks when the network sees it.

MNIST digits were made by fitting each NIST digit's longer side into a 20x20 box (keeping its aspect
ratio, anti-aliased) and moving its centre of mass to the centre of a 28x28 canvas; ink is bright on
black. The network was trained on such images standardised with the training set's mean and std.
Any crop from the camera must reach the network in exactly this form, so every constant lives here.
"""

from __future__ import annotations

import numpy as np
import torch

from train.resample import fit_centre

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
