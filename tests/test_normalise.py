"""Crop normalisation: the MNIST format, kept by the app for every camera crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from train.mnist_spec import CENTRE, STROKE, match_stroke, stroke_width, to_mnist


def test_longer_side_is_fitted_to_20_px_and_centre_of_mass_is_centred():
    ink = np.zeros((300, 120), np.float32)
    cv2.ellipse(ink, (60, 150), (50, 140), 0, 0, 360, 1.0, 12)
    out = to_mnist(ink)
    assert out.shape == (28, 28) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    rows, cols = np.flatnonzero(out.max(1) > 0.05), np.flatnonzero(out.max(0) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 8  # 120/300 of 20 px, aspect kept
    m = cv2.moments(out)
    assert abs(m["m10"] / m["m00"] - CENTRE) <= 0.5 and abs(m["m01"] / m["m00"] - CENTRE) <= 0.5


def test_a_one_stays_a_thin_stroke():
    ink = np.zeros((200, 14), np.float32)
    ink[:, 2:12] = 1.0
    out = to_mnist(ink)
    assert (out.max(0) > 0.1).sum() <= 3  # not stretched into a 20x20 block


@pytest.mark.parametrize("pen", [2, 6, 18])
def test_strokes_are_brought_to_mnist_width(pen):
    ink = np.zeros((240, 160), np.float32)
    cv2.ellipse(ink, (80, 120), (60, 100), 0, 0, 360, 1.0, pen)
    matched = match_stroke(ink)
    width_in_20px = stroke_width((matched > 0.5).view(np.uint8)) * 20 / max(matched.shape)
    assert abs(width_in_20px - STROKE) < 0.6, (pen, width_in_20px)


def test_empty_and_tiny_inputs_do_not_break():
    assert to_mnist(np.zeros((5, 5), np.float32)).sum() == 0
    assert to_mnist(np.ones((1, 1), np.float32)).max() == 1


@pytest.mark.parametrize("h, w, nh, nw", [(60, 40, 20, 13), (37, 23, 20, 12), (13, 9, 20, 14), (100, 7, 20, 1),
                                          (5, 5, 20, 20), (300, 120, 40, 16)])
def test_compiled_resize_equals_opencv(h, w, nh, nw):
    from train.resample import resize

    src = np.random.default_rng(h * w).random((h, w)).astype(np.float32)
    ref = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA if nh < h else cv2.INTER_LINEAR)
    assert np.abs(resize(src, nh, nw) - ref).max() < 1e-5


@pytest.mark.parametrize("grow", [True, False])
def test_fractional_stroke_change_is_a_blend_of_two_discs(grow):
    """A stroke 1.3 px too thin (or thick) on each side: 70 % of the radius-1 disc's dilation (erosion)
    and 30 % of the radius-2 disc's, on a crop padded so that nothing is cut at its edge."""
    ink = np.zeros((40, 30), np.float32)
    cv2.ellipse(ink, (15, 20), (10, 15), 0, 0, 360, 1.0, 5)
    ink = cv2.GaussianBlur(ink, (3, 3), 0)
    d = 1.3 if grow else -1.3
    target = (stroke_width(ink) + 2 * d) * 20 / max(ink.shape)
    out = match_stroke(ink, target)
    pad = 2
    padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    op = cv2.dilate if grow else cv2.erode
    disc = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))  # noqa: E731
    ref = 0.7 * op(padded, disc(1)) + 0.3 * op(padded, disc(2))
    assert out.shape == padded.shape and np.abs(out - ref).max() < 1e-5


@pytest.mark.parametrize("degrees", [30, -30])
def test_a_digit_turned_with_its_sheet_reads_as_written_once_levelled(mnist, state, degrees):
    """1,000 MNIST test digits on a sheet turned 30 degrees: their rows rise by tan(30 degrees), and
    turned so the network reads them several points worse; turned back by that slope
    (normalise.level, which the reader applies on a sheet held at an angle) they read within a point
    of the digits as written."""
    import math

    from realtime.classify import TorchBackend
    from realtime.normalise import level

    backend = TorchBackend(state)
    x = mnist.test_x[:1000].numpy().astype(np.float32) / 255
    y = mnist.test_y[:1000].numpy()

    def turned(image: np.ndarray) -> np.ndarray:
        big = cv2.copyMakeBorder(cv2.resize(image, (112, 112), interpolation=cv2.INTER_CUBIC), 56, 56, 56, 56,
                                 cv2.BORDER_CONSTANT, value=0)
        turn = cv2.getRotationMatrix2D((111.5, 111.5), degrees, 1.0)  # counter-clockwise on the screen
        return to_mnist(np.clip(cv2.warpAffine(big, turn, (224, 224), flags=cv2.INTER_CUBIC), 0, 1))

    def right(images: np.ndarray) -> float:
        return 100.0 * float((backend.predict(images).argmax(1) == y).mean())

    on_sheet = np.stack([turned(im) for im in x])
    slope = -math.tan(math.radians(degrees))  # rows turned counter-clockwise rise to the right: y falls
    levelled = np.stack([level(im, slope) for im in on_sheet])
    assert right(on_sheet) < right(x) - 3.0
    assert right(levelled) >= right(x) - 1.0
