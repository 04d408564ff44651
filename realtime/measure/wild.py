"""Generated "in the wild" frames of handwritten digits, one named capture condition at a time, with the truth.

`python -m realtime.measure.accuracy --wild` reads them. The labelled photos in ../shared/data/photos are
few and the detector is developed on them, so a change can fit them by accident; these frames are made
from nothing but MNIST *test* digits (never the training digits the network learnt from), redrawn by a
simulated pen on simulated stationery and shot by a simulated camera, so they measure what the product
does on each kind of picture rather than on those particular photos. Every condition is an ordinary
sheet photographed by a phone or webcam (mild perspective and curl, slight blur, sensor noise, uneven
light, often JPEG) with one thing changed, so a condition's figures say what that one thing costs:

- `single digit (20-50 % of the height)`, `single digit (50-95 % of the height)`: one digit held up
  to the camera. A digit that fills the frame has no neighbours to tell its size from, and its pen
  strokes are many pixels wide.
- `thick marker`: felt-marker strokes 1/10 to 1/5 of the digit's height, at mixed sizes: loops close
  up, and stroke width no longer says "handwriting".
- `hairline pen`: strokes 1-2 px wide, which blur and noise nearly wash out.
- `ruled paper`, `squared paper`, `dotted paper`: printed lines, grids and dots that the strokes cross;
  they are ink-like marks that are not digits and join digits to each other.
- `textured or coloured paper`: tinted paper with fibres, grain and creases: texture that a threshold
  can take for ink.
- `cardboard`: brown, mottled, fibrous kraft board with thin blue or black writing: low contrast on a
  busy background.
- `small digits (12-20 px)`: a sheet far from the camera, digits near the size MNIST itself has.
- `a sticky note on a dark desk`: a small yellow, pink, green or white note a third to half of the
  frame's size, the desk (wood, grey or near black) all around it: the note is brighter than nearly
  all of the frame, as chalk is on a board.
- `printed text and a date stamp`: printed words and numbers (a heading, a form's labels) and a small
  date stamp, smaller than the handwriting. Printed characters are not handwritten digits: reported,
  they count as extra boxes.
- `dim light`: a dark, noisy frame (paper at grey 40-70).
- `hard shadows`: sharp shadows of a hand, phone or ruler across the sheet and across digits: edges
  as strong as ink.
- `blur`: out of focus (Gaussian sigma 1.5-3 px) and/or moved (motion blur).
- `JPEG`: heavy compression (quality 15-35): blocks and ringing around every stroke.
- `light on dark board`: chalk or white marker on a green, black or grey board with chalk dust: the
  polarity the paper conditions never show.
- `640x480 frame`, `1280x720 frame`, `1920x1080 frame`: the same ordinary sheet at each webcam size, so
  a size threshold in pixels shows up. `640x480 frame` is the baseline: every other condition is it
  with one thing changed, so the difference from it is what that thing costs.
- `USPS-style one-digit photos`, `Semeion-style one-digit photos`: photos of printouts of the two other
  public digit sets (16x16; USPS grey, deslanted, aspect ratio kept; Semeion binary, stretched to
  fill the box): another normalisation of the digit than MNIST's, thick strokes and (Semeion) wide 1s;
  Semeion's writers were Italian, so most of its 1s have a flag and many of its 7s a bar.

Truth: a tight box around each handwritten digit's ink in frame pixels (the ink's outline taken
through the camera's perspective and the sheet's curl) and its label; `lines` as the other scenes.
Each MNIST test image is used at most once within a condition; the frames are a function of the seed.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.measure.scene import (
    MnistDigits,
    Page,
    Pen,
    Scene,
    Truth,
    box_around,
    ink_truth,
    light_ramp,
    make_page,
    pixel_coords,
    soft_shadow,
    tight,
)

Size = tuple[int, int]
VGA: Size = (640, 480)
BGR = tuple[float, float, float]


# --- the digits: MNIST test images, each used once -------------------------------------------------

class UnusedDigits:
    """MNIST test digits, each image handed out once, per label in an order fixed by `rng`.

    Only the test set is accepted (`MnistDigits.test_set`): the network was trained on the rest, and
    a benchmark of digits it has seen would flatter it. `used` lists the images handed out.
    """

    def __init__(self, digits: MnistDigits, rng: np.random.Generator) -> None:
        if digits.split != "test":
            raise ValueError("wild scenes take MNIST test digits only: pass MnistDigits.test_set(data_dir)")
        self.digits, self._rng = digits, rng
        self._queues: dict[int, list[int]] = {d: [] for d in range(10)}
        self.used: list[int] = []

    def next_index(self, digit: int) -> int:
        """The index of an MNIST test image of `digit` not handed out before."""
        queue = self._queues[digit]
        if not queue:  # first use, or (only past ~1000 digits of a label) every image of it used once
            queue.extend(int(i) for i in self._rng.permutation(np.flatnonzero(self.digits.labels == digit)))
        index = queue.pop()
        self.used.append(index)
        return index

    def sample(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        """Ink in [0, 1], tight crop, ~4x MNIST resolution (as `MnistDigits.sample`)."""
        return self.digits.ink(self.next_index(digit))


# --- the pen: MNIST strokes redrawn at any width ---------------------------------------------------

_NEIGHBOURS = np.float32([[128, 1, 2], [64, 0, 4], [32, 16, 8]])  # P9 P2 P3 / P8 . P4 / P7 P6 P5 as bits


def _thinning_tables() -> tuple[np.ndarray, np.ndarray]:
    """Zhang-Suen's two deletion rules as lookup tables over the 8-neighbourhood code."""
    code = np.arange(256)
    p2, p3, p4, p5, p6, p7, p8, p9 = ((code >> k) & 1 for k in range(8))
    ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
    count = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
    rises = sum(((a == 0) & (b == 1)).astype(int) for a, b in zip(ring, ring[1:]))
    base = (count >= 2) & (count <= 6) & (rises == 1)
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first, second


_TABLES = _thinning_tables()


def skeleton(mask: np.ndarray, spur: int = 5) -> np.ndarray:
    """A boolean mask thinned to strokes one pixel wide (Zhang-Suen), the pen's path, without the
    side branches shorter than `spur` px that thinning leaves where a stroke was blotchy."""
    img = mask.astype(np.float32)
    changed = True
    while changed:
        changed = False
        for table in _TABLES:
            code = cv2.filter2D(img, -1, _NEIGHBOURS, borderType=cv2.BORDER_CONSTANT)
            kill = table[code.astype(np.int32)] & (img > 0)
            if kill.any():
                img[kill] = 0
                changed = True
    return _prune(img > 0, spur)


_RING = np.float32([[1, 1, 1], [1, 0, 1], [1, 1, 1]])


def _ends(path: np.ndarray) -> np.ndarray:
    """The pixels of a 1-px path with one neighbour (stroke ends)."""
    count = cv2.filter2D(path.astype(np.float32), -1, _RING, borderType=cv2.BORDER_CONSTANT)
    return path & (count == 1)


def _prune(path: np.ndarray, spur: int) -> np.ndarray:
    """Cut every end back by `spur` px (side branches that short vanish), then regrow the surviving
    ends along the old path by as much, so real strokes keep their length."""
    pruned = path.copy()
    for _ in range(spur):
        ends = _ends(pruned)
        if ends.sum() == pruned.sum():  # nothing but ends left: a dot or a short dash, keep it
            return path
        pruned &= ~ends
    grow = _ends(pruned)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(spur):
        grow = (cv2.dilate(grow.astype(np.uint8), kernel) > 0) & path & ~pruned
        if not grow.any():
            break
        pruned |= grow
    return pruned


def _smooth_field(rng: np.random.Generator, w: int, h: int, cells: tuple[int, int]) -> np.ndarray:
    """Smooth random values, unit spread, `cells` (across, down) knots over a w x h image."""
    knots = rng.standard_normal((cells[1] + 1, cells[0] + 1), dtype=np.float32)
    return cv2.resize(knots, (w, h), interpolation=cv2.INTER_CUBIC)


SMOOTH = 1.5  # sample px: how much the pen's path is smoothed


def restroke(ink: np.ndarray, height: float, width: float, rng: np.random.Generator,
             wobble: float = 0.15) -> np.ndarray:
    """The sample's strokes redrawn by a round pen `width` px wide, the whole digit `height` px tall.

    MNIST strokes are about 1/8 of the digit's height whatever the size; a fine pen or a marker is
    not. The strokes' centre lines (skeleton) are kept and drawn again at the pen's width, which
    varies a little along the strokes (`wobble`, pressure). Returns coverage in [0, 1], anti-aliased.
    """
    path = skeleton(ink > 0.45)
    ys, xs = np.nonzero(path)
    if ys.size < 2:
        path, (ys, xs) = ink > 0.2, np.nonzero(ink > 0.2)
    x0, y0 = int(xs.min()), int(ys.min())
    s = max(height - width, 1.0) / max(1, int(ys.max()) - y0)  # sample px -> frame px
    margin = width / 2 + 2
    out_w = int(np.ceil((int(xs.max()) - x0) * s + 2 * margin))
    out_h = int(np.ceil((int(ys.max()) - y0) * s + 2 * margin))
    pad = int(np.ceil(margin / s)) + 2
    off = np.pad(~path, pad, constant_values=True).astype(np.uint8)
    dist = cv2.distanceTransform(off, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # Smooth the path's pixel steps: blurring the squared distance adds exactly SMOOTH^2 across a
    # straight line, so taking that back leaves the distance to a smoothed path.
    dist = np.sqrt(np.maximum(cv2.GaussianBlur(dist * dist, (0, 0), SMOOTH) - SMOOTH**2, 0))
    to_sample = np.float32([[1 / s, 0, x0 + pad - margin / s], [0, 1 / s, y0 + pad - margin / s]])
    d = cv2.warpAffine(dist, to_sample, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE) * s
    half = width / 2 * (1 + wobble * np.clip(_smooth_field(rng, out_w, out_h, (2, 2)), -2, 2))
    return np.clip(half + 0.5 - d, 0, 1)


@dataclass
class Ink:
    """What a pen leaves: its colour as a reflectance (BGR, 0-1) where it covers fully, and how."""

    colour: BGR
    opacity: tuple[float, float] = (0.85, 1.0)
    grain: float = 0.0  # pencil, chalk: the share of the stroke that the surface's tooth breaks up
    cover: bool = False  # opaque (chalk, paint) over the surface, rather than a dye that darkens it


def _grain(rng: np.random.Generator, shape: tuple[int, int], amount: float) -> np.ndarray:
    """Factor in [0, 1] for ink that catches only the surface's peaks (pencil, chalk)."""
    noise = cv2.GaussianBlur(gaussian_noise(rng, shape[1], shape[0]), (0, 0), 0.7) * 2.0
    return np.clip(1 - amount * (0.5 - 0.5 * noise), 0, 1)


def lay_ink(rng: np.random.Generator, img: np.ndarray, alpha: np.ndarray, gx: int, gy: int, ink: Ink) -> None:
    """Put coverage `alpha` of `ink` on the unlit sheet `img` (float BGR, reflectance x 255) at (gx, gy)."""
    gh, gw = alpha.shape
    a = alpha * rng.uniform(*ink.opacity)
    if ink.grain:
        a = a * _grain(rng, a.shape, ink.grain)
    a = a[..., None]
    region = img[gy : gy + gh, gx : gx + gw]
    colour = np.float32(ink.colour)
    if ink.cover:
        region[:] = region * (1 - a) + colour * 255 * a
    else:
        region *= 1 - a * (1 - colour)


class WildPen(Pen):
    """A pen of a chosen width and ink, writing on an unlit sheet (the camera brings the light).

    `width`: the range the pen's width is drawn from once per sheet, as a share of each digit's
    height (`relative`) or in px; `sizes`: each digit's height as a share of the sheet's digit
    height, or `heights` in px regardless of it.
    """

    def __init__(self, ink: Ink, width: tuple[float, float], relative: bool = True,
                 sizes: tuple[float, float] = (0.85, 1.1), heights: tuple[float, float] | None = None,
                 min_width: float = 0.9) -> None:
        self.ink, self.width, self.relative = ink, width, relative
        self.sizes, self.heights, self.min_width = sizes, heights, min_width
        self._base: float | None = None

    def glyph(self, rng: np.random.Generator, source, digit: int, dh: float) -> np.ndarray:
        """The sample's strokes redrawn at this pen's width, `dh` x `sizes` (or `heights`) px tall."""
        sample = source.sample(rng, digit)
        height = rng.uniform(*self.heights) if self.heights else dh * rng.uniform(*self.sizes)
        if self._base is None:
            self._base = float(rng.uniform(*self.width))
        width = self._base * (height if self.relative else 1.0) * rng.uniform(0.92, 1.08)
        return restroke(sample, height, max(self.min_width, width), rng)

    def lay(self, rng: np.random.Generator, img: np.ndarray, glyph: np.ndarray, gx: int, gy: int) -> None:
        lay_ink(rng, img, glyph, gx, gy, self.ink)


def _jitter(rng: np.random.Generator, colour: BGR, by: float = 0.04) -> BGR:
    b, g, r = (float(np.clip(c + rng.uniform(-by, by), 0, 1)) for c in colour)
    return b, g, r


def everyday_pen(rng: np.random.Generator) -> WildPen:
    """What people write with: ballpoint, gel or felt pen in black or blue, sometimes pencil or red."""
    kind = rng.choice(["black ballpoint", "blue ballpoint", "felt pen", "blue felt pen", "pencil", "red pen"],
                      p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    if kind == "black ballpoint":
        return WildPen(Ink(_jitter(rng, (0.2, 0.18, 0.18)), (0.75, 0.95)), (0.025, 0.045))
    if kind == "blue ballpoint":
        return WildPen(Ink(_jitter(rng, (0.62, 0.3, 0.16)), (0.75, 0.95)), (0.025, 0.045))
    if kind == "felt pen":
        return WildPen(Ink(_jitter(rng, (0.1, 0.09, 0.09), 0.03), (0.9, 1.0)), (0.035, 0.07))
    if kind == "blue felt pen":
        return WildPen(Ink(_jitter(rng, (0.72, 0.36, 0.12)), (0.9, 1.0)), (0.035, 0.07))
    if kind == "pencil":
        return WildPen(Ink(_jitter(rng, (0.42, 0.42, 0.44)), (0.7, 0.9), grain=0.3), (0.025, 0.045))
    return WildPen(Ink(_jitter(rng, (0.28, 0.22, 0.78)), (0.85, 1.0)), (0.03, 0.06))


def thin_pen(rng: np.random.Generator) -> WildPen:
    """Ballpoint or fine liner, blue or black: the writing on cardboard."""
    colour = (0.62, 0.3, 0.16) if rng.random() < 0.5 else (0.16, 0.15, 0.15)
    return WildPen(Ink(_jitter(rng, colour), (0.8, 1.0)), (0.02, 0.04))


# --- stationery: sheets before any light falls on them (reflectance x 255, float BGR) --------------

@functools.lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """A fixed sheet of unit Gaussian noise, larger than any frame. Frames take crops of it at random
    offsets instead of drawing a million normals each: the offsets vary, so no two frames, and no
    two channels of one frame, share their noise, and it costs a copy instead of a draw."""
    return np.random.default_rng(20261127).standard_normal((1400, 2400), dtype=np.float32)


def gaussian_noise(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Unit Gaussian noise, h x w, float32 (a crop of `_noise_bank` at an offset drawn from `rng`)."""
    bank = _noise_bank()
    y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    return bank[y : y + h, x : x + w]


@functools.lru_cache(maxsize=1)
def _sensor_bank() -> np.ndarray:
    """Like `_noise_bank`, in colour: each channel's own noise plus a larger share common to all
    three (a sensor's noise is mostly in brightness after demosaicing); unit spread per channel."""
    rng = np.random.default_rng(20261128)
    common = rng.standard_normal((1400, 2400, 1), dtype=np.float32)
    own = rng.standard_normal((1400, 2400, 3), dtype=np.float32)
    return (0.55 * own + 0.85 * common) / np.float32(np.hypot(0.55, 0.85))


def sensor_noise(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Colour sensor noise for an h x w frame (a crop of `_sensor_bank`)."""
    bank = _sensor_bank()
    y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    return bank[y : y + h, x : x + w]


def _speckle(rng: np.random.Generator, w: int, h: int, sigma: float) -> np.ndarray:
    """Fine random texture with unit spread, grains about `sigma` px across (the paper's tooth)."""
    noise = gaussian_noise(rng, w, h)
    if sigma > 0.3:
        return cv2.GaussianBlur(noise, (0, 0), sigma) * np.float32(2 * np.sqrt(np.pi) * sigma)
    return noise.copy()


def _surface(rng: np.random.Generator, w: int, h: int, colour: BGR, mottle: float, tooth: float,
             tooth_px: float = 0.8) -> np.ndarray:
    """A plain surface of reflectance `colour`, blotchy by `mottle` and grainy by `tooth` (shares)."""
    scale = h / 480
    knots = rng.standard_normal((5, 6), dtype=np.float32) * mottle
    fine = rng.standard_normal((19, 25), dtype=np.float32) * (mottle * 0.5)
    tex = cv2.resize(knots, (w, h), interpolation=cv2.INTER_CUBIC)
    tex += cv2.resize(fine, (w, h), interpolation=cv2.INTER_CUBIC)
    tex += _speckle(rng, w, h, tooth_px * scale) * tooth
    tex += 1
    return cv2.merge([tex * np.float32(c * 255) for c in colour])


def white_paper(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Printer or notebook paper: near white, slightly warm or cool, faintly blotchy and grainy."""
    level = rng.uniform(0.8, 0.92)
    colour = _jitter(rng, (level, level, level), 0.025)
    return _surface(rng, w, h, colour, rng.uniform(0.005, 0.02), rng.uniform(0.004, 0.015))


def _print(img: np.ndarray, mask: np.ndarray, colour: BGR) -> None:
    """Printed ink (a dye) where `mask` (0-1) says, on the sheet `img`, in place."""
    img *= 1 - mask[..., None] * (1 - np.float32(colour))[None, None, :]


def _line_mask(w: int, h: int, lines: list[tuple[float, float, float, float]], width: float,
               rng: np.random.Generator) -> np.ndarray:
    """Thin printed lines, anti-aliased, slightly soft and uneven along their length."""
    mask = np.zeros((h, w), np.uint8)
    for x0, y0, x1, y1 in lines:
        p0, p1 = (round(x0 * 16), round(y0 * 16)), (round(x1 * 16), round(y1 * 16))
        cv2.line(mask, p0, p1, 255, max(1, round(width)), cv2.LINE_AA, shift=4)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 0.5)
    return soft * np.clip(1 + 0.15 * _smooth_field(rng, w, h, (12, 9)), 0.6, 1.2)


def ruled_paper(rng: np.random.Generator, w: int, h: int, writing: float) -> np.ndarray:
    """Notebook paper: light blue or grey lines about as far apart as the writing is tall
    (`writing`: a share of the frame's height), and maybe a red margin line."""
    img = white_paper(rng, w, h)
    gap = writing * h * rng.uniform(0.8, 1.3)
    top = rng.uniform(0, gap)
    rows = [(-5.0, y, w + 5.0, y) for y in np.arange(top, h, gap)]
    colour = (0.92, 0.72, 0.5) if rng.random() < 0.7 else (0.6, 0.6, 0.6)
    strength = rng.uniform(0.35, 0.75)
    _print(img, _line_mask(w, h, rows, rng.uniform(1, 2.2) * h / 480, rng) * strength, _jitter(rng, colour))
    if rng.random() < 0.5:
        x = rng.uniform(0.06, 0.14) * w
        _print(img, _line_mask(w, h, [(x, -5, x, h + 5)], 1.5 * h / 480, rng) * strength, (0.62, 0.55, 0.95))
    return img


def squared_paper(rng: np.random.Generator, w: int, h: int, writing: float) -> np.ndarray:
    """Squared paper: a thin grey, blue or green grid, squares the size of a digit or smaller."""
    img = white_paper(rng, w, h)
    pitch = writing * h * rng.uniform(0.4, 1.0)
    ox, oy = rng.uniform(0, pitch, 2)
    lines = [(x, -5.0, x, h + 5.0) for x in np.arange(ox, w, pitch)]
    lines += [(-5.0, y, w + 5.0, y) for y in np.arange(oy, h, pitch)]
    colour = [(0.6, 0.6, 0.6), (0.9, 0.72, 0.55), (0.68, 0.85, 0.62)][int(rng.integers(3))]
    mask = _line_mask(w, h, lines, rng.uniform(1, 1.8) * h / 480, rng) * rng.uniform(0.3, 0.6)
    _print(img, np.minimum(mask, 1), _jitter(rng, colour))
    return img


def dotted_paper(rng: np.random.Generator, w: int, h: int, writing: float) -> np.ndarray:
    """Dot-grid paper (a dot at every crossing) or dotted grid lines, in grey or blue."""
    img = white_paper(rng, w, h)
    pitch = writing * h * rng.uniform(0.3, 0.7)
    ox, oy = rng.uniform(0, pitch, 2)
    step = pitch / 4 if rng.random() < 0.3 else pitch  # dotted lines, or dots at the crossings only
    mask = np.zeros((h, w), np.uint8)
    radius = max(1, round(rng.uniform(0.6, 1.3) * h / 480 * 16))
    for y in np.arange(oy, h, pitch):
        for x in np.arange(ox, w, step):
            cv2.circle(mask, (round(x * 16), round(y * 16)), radius, 255, -1, cv2.LINE_AA, shift=4)
        if step < pitch:  # the vertical lines' dots between the rows
            for x in np.arange(ox, w, pitch):
                for yy in np.arange(y + step, y + pitch - 1, step):
                    cv2.circle(mask, (round(x * 16), round(yy * 16)), radius, 255, -1, cv2.LINE_AA, shift=4)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 0.5) * rng.uniform(0.45, 0.8)
    _print(img, soft, _jitter(rng, (0.5, 0.5, 0.5) if rng.random() < 0.6 else (0.85, 0.6, 0.45)))
    return img


def _streaks(rng: np.random.Generator, w: int, h: int, count: int, length: tuple[float, float],
             width: float) -> np.ndarray:
    """Short, slightly bent streaks (fibres, scratches), anti-aliased, in a 0-1 mask."""
    centre = rng.uniform(0, 1, (count, 1, 2)) * np.float32([w, h])
    ang = rng.uniform(0, np.pi, (count, 1))
    t = np.linspace(-0.5, 0.5, 4)[None, :] * rng.uniform(*length, (count, 1))  # along the streak, px
    bend = ang + rng.normal(0, 0.25, (count, 1)) * np.linspace(-1, 1, 4)[None, :]
    pts = centre + np.stack([np.cos(bend) * t, np.sin(bend) * t], -1)
    mask = np.zeros((h, w), np.uint8)
    cv2.polylines(mask, list(np.round(pts * 16).astype(np.int32)), False, 255, max(1, round(width)),
                  cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255


def _cloud(rng: np.random.Generator, w: int, h: int, px: float) -> np.ndarray:
    """The paper's formation: fibres clumped into blotches about `px` across, unit spread."""
    return _speckle(rng, w, h, px)


def _crease(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A fold across the sheet, as a factor on its brightness: the two sides lit a little differently
    and a thin bright or dark line along the fold."""
    xx, yy = pixel_coords(w, h)
    ang = rng.uniform(0, np.pi)
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    nx, ny = -np.sin(ang), np.cos(ang)
    along = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
    d = (xx - cx) * nx + (yy - cy) * ny + 2 * h / 480 * np.sin(along / rng.uniform(30, 90))  # not quite straight
    step = rng.uniform(0.02, 0.07) * rng.choice([-1, 1]) * np.tanh(d / (3 * h / 480))
    line = rng.uniform(0.05, 0.15) * rng.choice([-1, 1]) * np.exp(-((d / (1.2 * h / 480)) ** 2))
    return (1 + step + line).astype(np.float32)


def tinted_paper(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Coloured paper (yellow, pink, green, grey, blue) with fibres, grain and a crease or two."""
    palette = [(0.55, 0.86, 0.92), (0.8, 0.7, 0.93), (0.68, 0.87, 0.7), (0.68, 0.68, 0.68), (0.9, 0.8, 0.66)]
    colour = _jitter(rng, palette[int(rng.integers(len(palette)))], 0.04)
    img = _surface(rng, w, h, colour, rng.uniform(0.02, 0.04), rng.uniform(0.015, 0.03), tooth_px=1.0)
    scale = h / 480
    dark = _streaks(rng, w, h, int(w * h / rng.uniform(150, 400)), (3 * scale, 12 * scale), scale)
    light = _streaks(rng, w, h, int(w * h / 600), (3 * scale, 10 * scale), scale)
    shade = 1 + rng.uniform(0.02, 0.04) * _cloud(rng, w, h, 3 * scale)
    shade += rng.uniform(0.05, 0.12) * light - rng.uniform(0.06, 0.15) * dark
    for _ in range(int(rng.integers(1, 4))):
        shade *= _crease(rng, w, h)
    return img * shade[..., None]


def cardboard(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Brown kraft or corrugated board: mottled, fibrous, darker fibres, faint flutes beneath."""
    colour = _jitter(rng, (0.3, 0.47, 0.66), 0.04)
    img = _surface(rng, w, h, colour, rng.uniform(0.04, 0.08), rng.uniform(0.02, 0.04), tooth_px=1.0)
    scale = h / 480
    dark = _streaks(rng, w, h, int(w * h / rng.uniform(30, 60)), (3 * scale, 12 * scale), scale)
    light = _streaks(rng, w, h, int(w * h / 200), (3 * scale, 9 * scale), scale)
    shade = 1 + rng.uniform(0.04, 0.07) * _cloud(rng, w, h, 4 * scale)
    shade += rng.uniform(0.04, 0.08) * light - rng.uniform(0.07, 0.14) * cv2.GaussianBlur(dark, (0, 0), 0.6)
    if rng.random() < 0.7:  # the corrugation's flutes show through as soft stripes
        xx, yy = pixel_coords(w, h)
        ang = rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.05)
        phase = (xx * np.cos(ang) + yy * np.sin(ang)) * np.float32(2 * np.pi / (rng.uniform(10, 20) * scale))
        shade += rng.uniform(0.015, 0.04) * np.sin(phase)
    return img * shade[..., None]


def board(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A green, black or grey board with chalk dust: wiped smears and the ghosts of erased writing."""
    colour = [(0.17, 0.26, 0.13), (0.07, 0.07, 0.08), (0.17, 0.17, 0.16)][int(rng.integers(3))]
    img = _surface(rng, w, h, _jitter(rng, colour, 0.02), rng.uniform(0.04, 0.1), rng.uniform(0.03, 0.06))
    scale = h / 480
    dust = np.clip(_smooth_field(rng, w, h, (6, 4)) * 0.5 + 0.1, 0, 1) * rng.uniform(0.04, 0.12)
    k = int(rng.uniform(20, 60) * scale) | 1
    wipe = cv2.blur(np.clip(_speckle(rng, w, h, 2 * scale), 0, None), (k, 1)) * rng.uniform(0.02, 0.06)
    ghosts = cv2.GaussianBlur(_streaks(rng, w, h, int(rng.integers(5, 20)), (30 * scale, 120 * scale),
                                       4 * scale), (0, 0), 2 * scale) * rng.uniform(0.04, 0.1)
    chalk = np.float32([0.85, 0.87, 0.87]) * 255
    a = np.clip(dust + wipe + ghosts, 0, 0.35)[..., None]
    return img * (1 - a) + chalk * a


def chalk(rng: np.random.Generator) -> WildPen:
    """Chalk (white or yellow, broken by the board's grain) or a white paint marker."""
    if rng.random() < 0.7:
        colour = (0.85, 0.88, 0.88) if rng.random() < 0.7 else (0.55, 0.85, 0.9)
        return WildPen(Ink(_jitter(rng, colour, 0.03), (0.7, 0.95), grain=0.5, cover=True), (0.05, 0.09))
    return WildPen(Ink(_jitter(rng, (0.9, 0.9, 0.9), 0.03), (0.9, 1.0), grain=0.05, cover=True), (0.035, 0.06))


def desk(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """What lies beyond the sheet's edge: a wooden, grey or dark desk."""
    kind = int(rng.integers(3))
    colour = [(0.3, 0.4, 0.5), (0.4, 0.4, 0.4), (0.1, 0.1, 0.11)][kind]
    img = _surface(rng, w, h, _jitter(rng, colour, 0.05), 0.08, 0.03)
    if kind == 0:  # wood grain: noise stretched along the planks
        grain = cv2.resize(rng.standard_normal((h // 2, 6), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        img *= (1 + 0.05 * grain)[..., None]
    return img


# --- printed text and date stamps (not handwriting, not in the truth) ------------------------------

_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)


def _phrases(rng: np.random.Generator) -> list[str]:
    """Lines of print such as a form or a worksheet has, numbers included, in a random order."""
    def n(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi))

    label = ["Name:", "Date:", "Class", "Room", "Total:", "Amount", "Ref. No.", "Customer", "Question",
             "Score:", "Account", "Qty", "Price", "Exercise", "Lot", "Item"]
    lines = [
        str(rng.choice(["ORDER FORM", "Worksheet", "Delivery note", "Meter reading", "Mathematics test",
                        "Inventory", "Receipt"])) + f" No. {n(10, 99999)}",
        f"{rng.choice(label)} {n(1, 999)}",
        f"{rng.choice(label)} ________",
        f"Page {n(1, 9)} of {n(9, 30)}",
        f"Tel. 0{n(100, 999)} 555 {n(1000, 9999)}",
        f"Section {n(1, 9)}.{n(1, 9)} {rng.choice(['Measurements', 'Answers', 'Results', 'Notes'])}",
        "Please write clearly in the boxes below",
        f"Invoice {n(2020, 2030)}/{n(1, 999):03d}",
        f"{rng.choice(['Item', 'Room', 'Exercise'])} {n(1, 99)}   {rng.choice(['Qty', 'Mark', 'Total'])}",
        f"Printed {n(1, 28)}.{n(1, 12)}.{n(2019, 2031)}",
        str(rng.choice(["Do not write below this line", "For office use only", "Thank you!", "Answer all questions"])),
    ]
    return [lines[0]] + [lines[k] for k in 1 + rng.permutation(len(lines) - 1)]


def _text_mask(text: str, height: float, font: int, bold: bool) -> np.ndarray:
    """`text` as anti-aliased print, capitals `height` px tall (drawn at 4x, then reduced)."""
    scale = 4 * height / cv2.getTextSize("H", font, 1.0, 1)[0][1]
    thick = max(1, round(scale * (2.4 if bold else 1.2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    big = np.zeros((th + base + 2 * thick, tw + 2 * thick), np.uint8)
    cv2.putText(big, text, (thick, th + thick), font, scale, 255, thick, cv2.LINE_AA)
    small = cv2.resize(big, (max(1, big.shape[1] // 4), max(1, big.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255


def _place(rng: np.random.Generator, mask: np.ndarray, taken: np.ndarray, area: tuple[int, int, int, int],
           tries: int = 30) -> tuple[int, int] | None:
    """Where `mask` fits inside `area` (x0, y0, x1, y1) without touching `taken`; None if nowhere."""
    mh, mw = mask.shape
    x0, y0, x1, y1 = area
    if x1 - x0 <= mw or y1 - y0 <= mh:
        return None
    for _ in range(tries):
        x, y = int(rng.integers(x0, x1 - mw)), int(rng.integers(y0, y1 - mh))
        if not taken[y : y + mh, x : x + mw].any():
            return x, y
    return None


def _taken(page: Page, pad: float) -> np.ndarray:
    """Where the handwriting is, each digit's box grown by `pad` px: print must stay off it."""
    h, w = page.image.shape[:2]
    taken = np.zeros((h, w), bool)
    p = int(pad)
    for t in page.digits:
        x, y, bw, bh = t.box
        taken[max(0, y - p) : y + bh + p, max(0, x - p) : x + bw + p] = True
    return taken


def print_text(rng: np.random.Generator, page: Page, dh: float, stamp: bool) -> bool:
    """Print a heading and a few lines of a form on the sheet, away from the handwriting and smaller
    than it (`dh`: the handwriting's height), and with `stamp` a rubber date stamp in a free corner.
    True when a stamp was placed."""
    h, w = page.image.shape[:2]
    taken = _taken(page, 0.3 * dh)
    colour = _jitter(rng, (0.12, 0.12, 0.12) if rng.random() < 0.8 else (0.45, 0.2, 0.1), 0.04)
    heading = _FONTS[int(rng.integers(len(_FONTS)))]
    body = cv2.FONT_HERSHEY_SIMPLEX | (cv2.FONT_ITALIC if rng.random() < 0.2 else 0)
    for k, text in enumerate(_phrases(rng)[: int(rng.integers(3, 8))]):
        size = (rng.uniform(0.4, 0.6) if k == 0 else rng.uniform(0.22, 0.4)) * dh
        mask = _text_mask(text, max(7.0 * h / 480, size), heading if k == 0 else body, bold=k == 0)
        at = _place(rng, mask, taken, (int(0.03 * w), int(0.03 * h), int(0.97 * w), int(0.97 * h)))
        if at:
            x, y = at
            mh, mw = mask.shape
            _print(page.image[y : y + mh, x : x + mw], mask * rng.uniform(0.85, 1.0), colour)
            taken[y : y + mh, x : x + mw] = True
    return stamp and _rubber_stamp(rng, page.image, taken, dh)


def _date(rng: np.random.Generator) -> str:
    return (f"{int(rng.integers(2019, 2031))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d} "
            f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}")


def _rubber_stamp(rng: np.random.Generator, img: np.ndarray, taken: np.ndarray, dh: float) -> bool:
    """A date stamped in red, blue or violet ink in a free corner of the sheet, a little askew and
    uneven; False when no corner is free."""
    h, w = img.shape[:2]
    mask = _text_mask(_date(rng), max(7.0 * h / 480, rng.uniform(0.2, 0.35) * dh), cv2.FONT_HERSHEY_SIMPLEX, True)
    mask = cv2.copyMakeBorder(mask, 6, 6, 6, 6, cv2.BORDER_CONSTANT, value=0)
    rot = cv2.getRotationMatrix2D((mask.shape[1] / 2, mask.shape[0] / 2), rng.uniform(-8, 8), 1.0)
    mask = cv2.warpAffine(mask, rot, (mask.shape[1], mask.shape[0])) * _grain(rng, mask.shape, 0.3)
    mh, mw = mask.shape
    corners = [(int(0.04 * w), int(0.04 * h)), (w - mw - int(0.04 * w), int(0.04 * h)),
               (int(0.04 * w), h - mh - int(0.04 * h)), (w - mw - int(0.04 * w), h - mh - int(0.04 * h))]
    for k in rng.permutation(4):
        x, y = corners[k]
        if x >= 0 and y >= 0 and not taken[y : y + mh, x : x + mw].any():
            colour = [(0.35, 0.3, 0.85), (0.8, 0.45, 0.3), (0.7, 0.35, 0.55)][int(rng.integers(3))]
            _print(img[y : y + mh, x : x + mw], mask * rng.uniform(0.6, 0.9), colour)
            return True
    return False


def date_imprint(rng: np.random.Generator, frame: np.ndarray, truth: list[Truth]) -> None:
    """The camera's own date stamp: orange digits burnt into a corner of the frame (uint8 BGR, in place)."""
    h, w = frame.shape[:2]
    height = rng.uniform(10, 15) * h / 480
    mask = _text_mask(_date(rng), height, cv2.FONT_HERSHEY_SIMPLEX, True)
    glow = cv2.GaussianBlur(mask, (0, 0), 1.2)
    mh, mw = mask.shape
    margin = int(0.03 * w)
    spots = [(w - mw - margin, h - mh - margin), (margin, h - mh - margin)]
    taken = np.zeros((h, w), bool)
    for t in truth:
        x, y, bw, bh = t.box
        taken[max(0, y - 4) : y + bh + 4, max(0, x - 4) : x + bw + 4] = True
    for x, y in spots:
        if not taken[y : y + mh, x : x + mw].any():
            a = np.clip(mask + 0.4 * glow, 0, 1)[..., None]
            region = frame[y : y + mh, x : x + mw].astype(np.float32)
            frame[y : y + mh, x : x + mw] = (region * (1 - a) + np.float32([40, 150, 255]) * a).astype(np.uint8)
            return


# --- light -----------------------------------------------------------------------------------------

def _vignette(w: int, h: int, strength: float) -> np.ndarray:
    """The lens's light falloff towards the corners (cos^4-like), `strength` lost at the corners."""
    return 1 - np.float32(strength) * _falloff(w, h)


@functools.lru_cache(maxsize=8)
def _falloff(w: int, h: int) -> np.ndarray:
    """0 at the frame's centre rising to 1 at its corners, flat near the centre (r^2 (2 - r^2))."""
    xx, yy = pixel_coords(w, h)
    r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    shape = r2 * (2 - r2)
    shape.flags.writeable = False
    return shape


def _fill(mask: np.ndarray, m: np.ndarray, poly: np.ndarray) -> None:
    """Fill a polygon given in shape coordinates, placed by the 2x3 matrix `m`."""
    pts = cv2.transform(np.asarray(poly, np.float32).reshape(-1, 1, 2), m).reshape(-1, 2)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)


def _limb(mask: np.ndarray, m: np.ndarray, p0: np.ndarray, p1: np.ndarray, thick: float) -> None:
    """A rounded bar (a finger) from p0 to p1 in shape coordinates, placed by `m`."""
    a, b = (cv2.transform(np.float32([p]).reshape(1, 1, 2), m).reshape(2) for p in (p0, p1))
    cv2.line(mask, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)), 1.0,
             max(1, round(thick)), cv2.LINE_AA, shift=4)


def _hand(rng: np.random.Generator, mask: np.ndarray, m: np.ndarray, size: float) -> None:
    """A hand's shadow: the arm coming from far off, a palm, four fingers and a thumb (up is -y)."""
    pw, ph = 0.5 * size, 0.5 * size
    _fill(mask, m, [[-0.4 * pw, 0], [0.4 * pw, 0], [0.6 * pw, 6 * size], [-0.6 * pw, 6 * size]])  # the arm
    _fill(mask, m, cv2.ellipse2Poly((0, 0), (int(pw / 2), int(ph / 2)), 0, 0, 360, 10))
    spread = rng.uniform(2, 12)
    for k in range(4):
        ang = np.deg2rad(-90 + (k - 1.5) * spread)
        base = np.float32([(k - 1.5) * pw * 0.22, -0.35 * ph])
        length = size * rng.uniform(0.3, 0.5) * (0.8 if k in (0, 3) else 1.0)
        _limb(mask, m, base, base + length * np.float32([np.cos(ang), np.sin(ang)]), 0.09 * size)
    side = rng.choice([-1, 1])
    ang = np.deg2rad(-90 + side * rng.uniform(40, 70))
    base = np.float32([side * 0.4 * pw, 0.1 * ph])
    _limb(mask, m, base, base + 0.35 * size * np.float32([np.cos(ang), np.sin(ang)]), 0.12 * size)


def _shadow_shape(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A hard shadow's mask (0-1): a hand, a phone or a ruler, anywhere, reaching in from off the frame."""
    mask = np.zeros((h, w), np.float32)
    m = cv2.getRotationMatrix2D((0, 0), rng.uniform(0, 360), 1.0)
    m[:, 2] = rng.uniform(-0.1, 1.1, 2) * (w, h)
    kind = int(rng.integers(3))
    if kind == 0:
        _hand(rng, mask, m, rng.uniform(0.4, 0.8) * h)
    elif kind == 1:  # a phone, and the hand and arm holding it from off the frame
        pw, ph = rng.uniform(0.25, 0.4) * h, rng.uniform(0.5, 0.8) * h
        r = 0.12 * pw
        _fill(mask, m, cv2.boxPoints(((0, 0), (pw, ph - 2 * r), 0)))
        _fill(mask, m, cv2.boxPoints(((0, 0), (pw - 2 * r, ph), 0)))
        for cx, cy in [(-1, -1), (1, -1), (1, 1), (-1, 1)]:
            _fill(mask, m, cv2.ellipse2Poly((int(cx * (pw / 2 - r)), int(cy * (ph / 2 - r))), (int(r), int(r)),
                                            0, 0, 360, 30))
        _fill(mask, m, [[-0.3 * pw, 0.3 * ph], [0.3 * pw, 0.3 * ph], [0.35 * pw, 6 * h], [-0.35 * pw, 6 * h]])
    else:  # a ruler: a long band
        bw, bl = rng.uniform(0.06, 0.14) * h, 3 * max(w, h)
        _fill(mask, m, [[-bl / 2, -bw / 2], [bl / 2, -bw / 2], [bl / 2, bw / 2], [-bl / 2, bw / 2]])
    return mask


def hard_shadow(rng: np.random.Generator, w: int, h: int, truth: list[Truth]) -> np.ndarray:
    """A factor on the light: a sharp-edged shadow whose edge crosses at least one digit when it can."""
    mask = _shadow_shape(rng, w, h)
    for _ in range(40):
        if any(0.15 < mask[y : y + bh, x : x + bw].mean() < 0.85 for x, y, bw, bh in (t.box for t in truth)
               if bw > 0 and bh > 0):
            break
        mask = _shadow_shape(rng, w, h)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 2.5) * h / 480)
    return 1 - rng.uniform(0.35, 0.65) * mask


# --- the camera ------------------------------------------------------------------------------------

Shade = Callable[[np.random.Generator, int, int, list[Truth]], np.ndarray]
Imprint = Callable[[np.random.Generator, np.ndarray, list[Truth]], None]


@dataclass
class Camera:
    """How a phone or webcam turns a sheet into a frame. Ranges are drawn anew for every frame;
    lengths in px are for a 480-line frame and scale with the frame's height."""

    tilt: float = 1.0  # perspective (Page.random_view's strength)
    edge: float = 0.3  # chance that the sheet's edge and the desk beyond it show ...
    held: tuple[float, float] = (0.86, 0.95)  # ... the sheet then this share of the frame's size
    curl: tuple[float, float] = (0.0, 2.5)  # px the sheet's bending moves things by
    level: tuple[float, float] = (165.0, 235.0)  # the surface's grey level (auto exposure) ...
    spot: bool = False  # ... metered on the sheet alone (a phone that exposes for what it focuses on)
    cast: float = 0.06  # white balance off by up to this share per channel
    ramp: tuple[float, float] = (0.0, 0.35)  # light falling across the sheet
    vignette: tuple[float, float] = (0.0, 0.35)
    soft_shadow: float = 0.2  # chance of a soft shadow (something far from the sheet)
    focus: tuple[float, float] = (0.35, 1.0)  # Gaussian blur sigma, px
    motion: float = 0.0  # chance of motion blur
    read_noise: tuple[float, float] = (0.8, 2.5)  # sensor noise sigma in the dark, grey levels
    shot_noise: tuple[float, float] = (0.01, 0.06)  # noise variance per grey level of signal
    sharpen: float = 0.4  # chance of a phone's sharpening
    jpeg: tuple[int, int] = (60, 95)
    jpeg_chance: float = 0.75
    turn: tuple[float, float] = (0.0, 0.0)  # the sheet held turned by this many degrees, either way
    shade: Shade | None = None  # a further factor on the light, given where the digits are (hard shadows)
    imprint: Imprint | None = None  # something the camera writes on the frame (a date stamp)

    def shoot(self, rng: np.random.Generator, page: Page) -> Scene:
        """The frame of `page` and its truth."""
        h, w = page.image.shape[:2]
        edge = bool(rng.random() < self.edge)
        view, curl, truth = self._aim(rng, page, edge)
        frame, sheet = _warp(page.image, view, curl, need_sheet=edge or self.turn[1] > 0)
        if sheet is not None:
            frame += desk(rng, w, h) * (1 - sheet)[..., None]
        frame = self._expose(rng, frame, truth, sheet if self.spot else None)
        frame = self._optics(rng, frame)
        img = self._sensor(rng, frame)
        if self.imprint:
            self.imprint(rng, img, truth)
        if rng.random() < self.jpeg_chance:
            q = int(rng.integers(self.jpeg[0], self.jpeg[1] + 1))
            img = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_COLOR)
        return Scene(img, truth, list(page.lines))

    def _aim(self, rng: np.random.Generator, page: Page, edge: bool) -> tuple[np.ndarray, np.ndarray, list[Truth]]:
        """A view and curl that keep every digit inside the frame (tried a few times, tilting less)."""
        h, w = page.image.shape[:2]
        spin = np.eye(3)
        if self.turn[1] > 0:  # (no draw otherwise: the other conditions' frames stay as they were)
            spin[:2] = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(*self.turn) * rng.choice([-1, 1]), 1.0)
        for attempt in range(8):
            strength = self.tilt * (1 - attempt / 8)
            view = page.random_view(rng, strength) @ _framing(rng, w, h, edge, strength, self.held) @ spin
            curl = np.stack([_smooth_field(rng, w // 8 + 1, h // 8 + 1, (3, 2)) for _ in range(2)], -1)
            curl *= rng.uniform(*self.curl) * h / 480 / 2
            truth = [Truth(box_around(_forward(pts, view, curl, w, h)), t.digit)
                     for t, pts in zip(page.digits, page.outlines or [])]
            if all(_inside(t.box, w, h) for t in truth):
                return view, curl, truth
        return view, curl, [Truth(_clip(t.box, w, h), t.digit) for t in truth]

    def _expose(self, rng: np.random.Generator, frame: np.ndarray, truth: list[Truth],
                sheet: np.ndarray | None = None) -> np.ndarray:
        """Light on the sheet (gradient, vignette, shadows), exposure to `level` (of the sheet's pixels
        when `sheet`, its mask, is given; else of the whole frame's), white balance."""
        h, w = frame.shape[:2]
        light = light_ramp(rng, w, h, self.ramp).astype(np.float32) * _vignette(w, h, rng.uniform(*self.vignette))
        if rng.random() < self.soft_shadow:
            light *= soft_shadow(rng, w, h)
        if self.shade:
            light *= self.shade(rng, w, h, truth)
        metered = frame[::8, ::8] if sheet is None else frame[sheet > 0.5]
        surface = float(np.median(metered.reshape(-1, 3).mean(1))) if metered.size else 1.0
        gain = rng.uniform(*self.level) / max(surface, 1.0)
        warm, tint = rng.uniform(-self.cast, self.cast), rng.uniform(-0.3, 0.3) * self.cast
        balance = gain * np.array([1 - warm, 1 + tint, 1 + warm])  # colour temperature, a little green/magenta
        return cv2.multiply(frame, cv2.merge([light * np.float32(b) for b in balance]))

    def _optics(self, rng: np.random.Generator, frame: np.ndarray) -> np.ndarray:
        """Focus, maybe motion, maybe the phone's sharpening."""
        scale = frame.shape[0] / 480
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(*self.focus) * scale)
        if rng.random() < self.motion:
            frame = cv2.filter2D(frame, -1, _motion_kernel(rng, rng.uniform(4, 14) * scale))
        if rng.random() < self.sharpen:
            amount = rng.uniform(0.3, 0.8)
            frame = cv2.addWeighted(frame, 1 + amount, cv2.GaussianBlur(frame, (0, 0), 1.2 * scale), -amount, 0.0)
        return frame

    def _sensor(self, rng: np.random.Generator, frame: np.ndarray) -> np.ndarray:
        """Noise that grows with the signal (shot) on a floor (read), partly shared by the channels;
        8-bit out."""
        read, shot = rng.uniform(*self.read_noise), rng.uniform(*self.shot_noise)
        variance = cv2.max(cv2.addWeighted(frame, shot, frame, 0.0, read**2), 0.0)
        noise = sensor_noise(rng, frame.shape[1], frame.shape[0])
        return cv2.add(frame, cv2.multiply(noise, cv2.sqrt(variance)), dtype=cv2.CV_8U)


def _framing(rng: np.random.Generator, w: int, h: int, show_edge: bool, strength: float,
             held: tuple[float, float]) -> np.ndarray:
    """Where the sheet sits in the frame: filling it (enlarged so that the tilt shows no corner
    beyond it) or held farther off (`held`: its share of the frame's size) and to one side, so one
    or more of its edges show."""
    if show_edge:
        z = rng.uniform(*held)
        tx, ty = rng.uniform(-1, 1, 2) * (1 - z) * np.float64([w, h]) * 0.5
    else:
        z, tx, ty = 1 + ZOOM * strength, 0.0, 0.0
    return np.float64([[z, 0, w / 2 * (1 - z) + tx], [0, z, h / 2 * (1 - z) + ty], [0, 0, 1]])


ZOOM = 0.07  # a sheet filling the frame is enlarged by this share, so the tilt shows none of its corners


def _inside(box: tuple[int, int, int, int], w: int, h: int) -> bool:
    x, y, bw, bh = box
    return x >= 1 and y >= 1 and x + bw < w - 1 and y + bh < h - 1


def _clip(box: tuple[int, int, int, int], w: int, h: int) -> tuple[int, int, int, int]:
    x, y, bw, bh = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def _forward(points: np.ndarray, view: np.ndarray, curl: np.ndarray, w: int, h: int) -> np.ndarray:
    """Where page points land in the frame: through the view, then moved by the curl (which maps
    frame pixels to where they look on the unbent sheet, so it is undone by a fixed-point step)."""
    p = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), view).reshape(-1, 2)
    q = p.copy()
    for _ in range(2):
        q = p - _sample_curl(curl, q, w, h)
    return q


def _sample_curl(curl: np.ndarray, pts: np.ndarray, w: int, h: int) -> np.ndarray:
    """The curl (a coarse grid) at points of a w x h frame, as `_warp` enlarges it to the frame."""
    n = len(pts)
    gx = ((pts[:, 0] + 0.5) * curl.shape[1] / w - 0.5).astype(np.float32)
    gy = ((pts[:, 1] + 0.5) * curl.shape[0] / h - 0.5).astype(np.float32)
    out = cv2.remap(curl, gx.reshape(1, n), gy.reshape(1, n), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(n, 2)


_GRIDS: dict[tuple[int, int], np.ndarray] = {}


def _warp(page: np.ndarray, view: np.ndarray, curl: np.ndarray, need_sheet: bool
          ) -> tuple[np.ndarray, np.ndarray | None]:
    """The sheet as the camera sees it (perspective and curl in one resampling), and where it is."""
    h, w = page.shape[:2]
    grid = _GRIDS.get((w, h))
    if grid is None:
        grid = _GRIDS[(w, h)] = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32),
                                                      np.arange(h, dtype=np.float32)))
    bent = grid + cv2.resize(curl, (w, h), interpolation=cv2.INTER_LINEAR)
    src = cv2.perspectiveTransform(bent, np.linalg.inv(view))
    mapx, mapy = src[..., 0], src[..., 1]
    frame = cv2.remap(page, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if not need_sheet:
        return frame, None
    sheet = cv2.remap(np.ones((h, w), np.float32), mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return frame * sheet[..., None], sheet


def _motion_kernel(rng: np.random.Generator, length: float) -> np.ndarray:
    """A line `length` px long at a random angle (drawn 4x larger, anti-aliased), summing to 1."""
    n = int(np.ceil(length)) | 1
    k = np.zeros((n * 4, n * 4), np.uint8)
    ang = rng.uniform(0, np.pi)
    c = n * 2
    dx, dy = np.cos(ang) * length * 2, np.sin(ang) * length * 2
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 255, 4, cv2.LINE_AA)
    k = cv2.resize(k.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)
    return k / k.sum()


# --- the conditions --------------------------------------------------------------------------------

Recipe = Callable[[np.random.Generator, UnusedDigits], Scene]


def _sheet(rng: np.random.Generator, pool: UnusedDigits, camera: Camera | None = None, size: Size = VGA,
           n: int | None = None, digit_height: tuple[float, float] = (0.06, 0.2),
           paper: Callable[[np.random.Generator, int, int], np.ndarray] = white_paper,
           pen: Callable[[np.random.Generator], Pen] = everyday_pen) -> Scene:
    """An ordinary photo of rows of digits (make_page's layout), with the parts a condition changes."""
    page = make_page(rng, pool, n, size, digit_height, paper=paper, pen=pen)
    return (camera or Camera()).shoot(rng, page)


def _one_digit_page(rng: np.random.Generator, pool: UnusedDigits, size: Size, height: float, pen: Pen,
                    paper: Callable[[np.random.Generator, int, int], np.ndarray] = white_paper) -> Page:
    """A sheet with one digit on it, `height` px tall (less where so tall a digit would not fit the
    sheet's width), somewhere near the middle."""
    w, h = size
    img = paper(rng, w, h)
    digit = int(rng.integers(10))
    glyph = pen.glyph(rng, pool, digit, height)
    margin = 0.03 * h
    fit = min(1.0, (w - 2 * margin) / glyph.shape[1], (h - 2 * margin) / glyph.shape[0])
    if fit < 1.0:  # a wide digit at 95 % of the height is wider than the sheet: shrunk to fit it
        glyph = cv2.resize(glyph, (int(glyph.shape[1] * fit), int(glyph.shape[0] * fit)), interpolation=cv2.INTER_AREA)
    gh, gw = glyph.shape
    gx = int(rng.uniform(margin, max(margin, w - gw - margin)))
    gy = int(rng.uniform(margin, max(margin, h - gh - margin)))
    pen.lay(rng, img, glyph, gx, gy)
    found = ink_truth(glyph, gx, gy, digit)
    truths, outlines = ([found[0]], [found[1]]) if found else ([], [])
    return Page(img, truths, [str(digit)] if found else [], blur=0.0, noise=0.0, outlines=outlines)


def _single(share: tuple[float, float]) -> Recipe:
    """One digit alone, its ink `share` of the frame's height, written with an everyday pen."""
    def make(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
        ink, width = everyday_ink(rng)
        height = rng.uniform(*share) * VGA[1] / (1 + ZOOM)
        pen = WildPen(ink, width, sizes=(1.0, 1.0))
        return Camera(edge=0.0).shoot(rng, _one_digit_page(rng, pool, VGA, height, pen))
    return make


def everyday_ink(rng: np.random.Generator) -> tuple[Ink, tuple[float, float]]:
    """What people write with, and its stroke width as a share of the digit's height."""
    pen = everyday_pen(rng)
    return pen.ink, pen.width


def _thick_marker(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    colour = [(0.09, 0.08, 0.08), (0.75, 0.38, 0.1), (0.2, 0.18, 0.75), (0.35, 0.6, 0.2)][
        int(rng.choice(4, p=[0.55, 0.2, 0.15, 0.1]))]
    pen = WildPen(Ink(_jitter(rng, colour, 0.03), (0.92, 1.0)), (0.1, 0.2), sizes=(0.7, 1.35))
    return _sheet(rng, pool, n=int(rng.integers(2, 8)), digit_height=(0.1, 0.3), pen=lambda r: pen)


def _hairline(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    colour = (0.15, 0.14, 0.14) if rng.random() < 0.6 else (0.6, 0.3, 0.15)
    pen = WildPen(Ink(_jitter(rng, colour), (0.85, 1.0)), (1.0, 2.0), relative=False)
    return _sheet(rng, pool, n=int(rng.integers(3, 11)), pen=lambda r: pen)


def _printed_paper(kind: Callable[..., np.ndarray]) -> Recipe:
    """Digits on paper printed with lines, squares or dots scaled to the writing."""
    def make(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
        writing = (0.08, 0.15)
        mid = sum(writing) / 2
        return _sheet(rng, pool, n=int(rng.integers(2, 11)), digit_height=writing,
                      paper=lambda r, w, h: kind(r, w, h, mid))
    return make


def _small(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    ink, _ = everyday_ink(rng)
    # 11.5-18 px of ink on the sheet, enlarged by the framing, tilted, boxed: 12-20 px tall in the frame.
    pen = WildPen(ink, (1.0, 1.8), relative=False, heights=(11.5 / (1 + ZOOM), 18 / (1 + ZOOM)))
    return _sheet(rng, pool, Camera(edge=0.0), n=int(rng.integers(4, 15)), digit_height=(15 / 480, 15 / 480),
                  pen=lambda r: pen)


def _printed_text(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    page = make_page(rng, pool, int(rng.integers(2, 9)), VGA, (0.09, 0.17), paper=white_paper, pen=everyday_pen)
    dh = float(np.median([t.box[3] for t in page.digits])) if page.digits else 0.12 * VGA[1]
    stamped = print_text(rng, page, dh, stamp=rng.random() < 0.5)
    return Camera(imprint=None if stamped else date_imprint).shoot(rng, page)


def _turned(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    """A sheet held turned 8-25 degrees, the desk showing at its corners; ruled half the time, so
    that its lines, crossing the digits, rise far more than a level sheet's."""
    writing = (0.08, 0.15)
    paper = white_paper
    if rng.random() < 0.5:
        paper = lambda r, w, h: ruled_paper(r, w, h, sum(writing) / 2)  # noqa: E731
    return _sheet(rng, pool, Camera(turn=(8.0, 25.0)), n=int(rng.integers(2, 9)), digit_height=writing, paper=paper)


def note_paper(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A sticky note or an index card: yellow, pink, green or white, smooth."""
    palette = [(0.55, 0.9, 0.95), (0.78, 0.68, 0.95), (0.62, 0.92, 0.72), (0.88, 0.88, 0.88)]
    colour = _jitter(rng, palette[int(rng.integers(len(palette)))], 0.03)
    return _surface(rng, w, h, colour, rng.uniform(0.005, 0.02), rng.uniform(0.004, 0.012))


def _note(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    """A sticky note held against a pad or lying on a desk: the sheet a third to a half of the
    frame's size with the desk all around it (often dark), a few digits large on it."""
    camera = Camera(edge=1.0, held=(0.33, 0.55), tilt=0.5, spot=True)
    return _sheet(rng, pool, camera, n=int(rng.integers(2, 7)), digit_height=(0.15, 0.3), paper=note_paper)


def _blur(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    r = rng.random()
    defocus, motion = ((1.5, 3.0), 0.0) if r < 0.6 else ((0.35, 1.0), 1.0) if r < 0.8 else ((1.5, 3.0), 1.0)
    return _sheet(rng, pool, Camera(focus=defocus, motion=motion, sharpen=0.0))


def _one_digit_photo(binary: bool) -> Recipe:
    """A 240x240 photo of a USPS- or Semeion-style 16x16 digit printed ~96 px tall."""
    def make(rng: np.random.Generator, pool: UnusedDigits) -> Scene:
        size = (240, 240)
        page = _one_digit_page(rng, pool, size, 96 / (1 + ZOOM), PrintedBitmap(binary))
        return Camera(edge=0.0).shoot(rng, page)
    return make


class PrintedBitmap(Pen):
    """A 16x16 digit image printed in black toner. USPS: the digit deslanted and size-normalised into
    the box with its aspect ratio kept (a 1 stays a bar), grey levels; Semeion: the digit stretched
    to fill the box (a 1 becomes a wide slab), binarised at 0.5. Enlarged to ~`dh` px (USPS:
    smoothly; Semeion: blocky, or a little soft as a printer renders it)."""

    def __init__(self, binary: bool) -> None:
        self.binary = binary

    def glyph(self, rng: np.random.Generator, source, digit: int, dh: float) -> np.ndarray:
        """The sample as the 16x16 image, enlarged to about `dh` px square."""
        ink = source.sample(rng, digit)
        if self.binary:
            ink = _as_italians_write(rng, ink, digit)
            small = cv2.resize(ink, (16, 16), interpolation=cv2.INTER_AREA)
        else:
            small = _fit_box(_deslant(ink), 16)
        small = small / max(float(small.max()), 1e-6)
        if self.binary:
            small = (small > 0.5).astype(np.float32)
        size = int(round(dh * rng.uniform(0.95, 1.05)))
        big = cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST if self.binary else cv2.INTER_CUBIC)
        if self.binary and rng.random() < 0.5:
            big = cv2.GaussianBlur(big, (0, 0), rng.uniform(0.5, 1.5))
        return np.clip(big, 0, 1)

    def lay(self, rng: np.random.Generator, img: np.ndarray, glyph: np.ndarray, gx: int, gy: int) -> None:
        lay_ink(rng, img, glyph, gx, gy, Ink(_jitter(rng, (0.08, 0.08, 0.08), 0.02), (0.9, 1.0)))


def _as_italians_write(rng: np.random.Generator, ink: np.ndarray, digit: int) -> np.ndarray:
    """Semeion's writers were Italian: most of their 1s have a long flag, and many of their 7s a bar.
    MNIST's American 1s and 7s (`ink`, tight, ~4x MNIST resolution) are given them here, drawn with
    the digit's own stroke width; stretched to fill the box, a flagged 1 becomes a thick stem under a
    nearly level flag."""
    h, w = ink.shape
    on = ink > 0.5
    width = max(2, int(round(on.sum() / max(1, h)))) if digit == 1 else max(2, int(round(on.sum() / (2.5 * h))))
    pad = h // 2
    big = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    if digit == 1 and rng.random() < 0.8:
        cols = np.flatnonzero(on[0])
        top = np.array([cols.mean() if cols.size else w / 2, 0.0]) + pad
        angle = np.deg2rad(rng.uniform(20, 55))  # below level
        end = top + rng.uniform(0.25, 0.5) * h * np.array([-np.cos(angle), np.sin(angle)])
        cv2.line(big, tuple(int(v) for v in top), tuple(int(v) for v in end), 1.0, width, cv2.LINE_AA)
    elif digit == 7 and rng.random() < 0.5:
        y = int(rng.uniform(0.45, 0.6) * h)
        cols = np.flatnonzero(on[y])
        cx = cols.mean() if cols.size else w / 2
        half = rng.uniform(0.15, 0.3) * h
        cv2.line(big, (int(pad + cx - half), pad + y), (int(pad + cx + half), pad + y), 1.0, width, cv2.LINE_AA)
    else:
        return ink
    return tight(big, 0.1)


def _deslant(ink: np.ndarray) -> np.ndarray:
    """The digit sheared upright by its second moments (as USPS's digits were), cropped tight."""
    m = cv2.moments(ink)
    if abs(m["mu02"]) < 1e-6:
        return ink
    skew = m["mu11"] / m["mu02"]
    h, w = ink.shape
    pad = int(abs(skew) * h / 2) + 2
    wide = cv2.copyMakeBorder(ink, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=0)
    shear = np.float32([[1, skew, -skew * h / 2], [0, 1, 0]])
    out = cv2.warpAffine(wide, shear, (w + 2 * pad, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    cols = np.flatnonzero(out.max(0) > 0.1)
    return out[:, cols[0] : cols[-1] + 1] if cols.size else out


def _fit_box(ink: np.ndarray, side: int) -> np.ndarray:
    """The digit's longer side fitted to `side` px, aspect ratio kept, centred in a side x side box."""
    h, w = ink.shape
    k = side / max(h, w)
    nh, nw = max(1, round(h * k)), max(1, round(w * k))
    small = cv2.resize(ink, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((side, side), np.float32)
    y, x = (side - nh) // 2, (side - nw) // 2
    out[y : y + nh, x : x + nw] = small
    return out


_RECIPES: dict[str, Recipe] = {
    "single digit (20-50 % of the height)": _single((0.2, 0.5)),
    "single digit (50-95 % of the height)": _single((0.5, 0.95)),
    "thick marker": _thick_marker,
    "hairline pen": _hairline,
    "ruled paper": _printed_paper(ruled_paper),
    "squared paper": _printed_paper(squared_paper),
    "dotted paper": _printed_paper(dotted_paper),
    "textured or coloured paper": lambda rng, pool: _sheet(rng, pool, Camera(level=(140, 220)), paper=tinted_paper),
    "cardboard": lambda rng, pool: _sheet(rng, pool, Camera(level=(110, 190)), paper=cardboard, pen=thin_pen),
    "small digits (12-20 px)": _small,
    "a sticky note on a dark desk": _note,
    "printed text and a date stamp": _printed_text,
    "dim light": lambda rng, pool: _sheet(rng, pool, Camera(level=(40, 70), read_noise=(3, 6), shot_noise=(0.3, 1.2),
                                                            cast=0.1, sharpen=0.0)),
    "hard shadows": lambda rng, pool: _sheet(rng, pool, Camera(soft_shadow=0.0, shade=hard_shadow)),
    "sheet held at an angle": _turned,
    "blur": _blur,
    "JPEG": lambda rng, pool: _sheet(rng, pool, Camera(jpeg=(15, 35), jpeg_chance=1.0)),
    "light on dark board": lambda rng, pool: _sheet(rng, pool, Camera(edge=0.0, level=(35, 75)), paper=board,
                                                    pen=chalk),
    "640x480 frame": lambda rng, pool: _sheet(rng, pool, size=(640, 480)),
    "1280x720 frame": lambda rng, pool: _sheet(rng, pool, size=(1280, 720)),
    "1920x1080 frame": lambda rng, pool: _sheet(rng, pool, size=(1920, 1080)),
    "USPS-style one-digit photos": _one_digit_photo(binary=False),
    "Semeion-style one-digit photos": _one_digit_photo(binary=True),
}

#: The conditions, in the order they are reported.
CONDITIONS: tuple[str, ...] = tuple(_RECIPES)


def wild_scene(condition: str, rng: np.random.Generator, pool: UnusedDigits) -> Scene:
    """One frame of `condition`, its digits taken from `pool`."""
    if condition not in _RECIPES:
        raise ValueError(f"unknown condition {condition!r}; one of: {', '.join(CONDITIONS)}")
    return _RECIPES[condition](rng, pool)


def iter_wild(condition: str, count: int, digits: MnistDigits, seed: int = 0) -> Iterator[Scene]:
    """`count` frames of `condition`. Frame k depends only on the seed, the condition and k (not on
    `count` or on the other conditions), and no MNIST image appears twice within the condition."""
    key = zlib.crc32(condition.encode())
    pool = UnusedDigits(digits, np.random.default_rng([seed, key]))
    for k in range(count):
        yield wild_scene(condition, np.random.default_rng([seed, key, k]), pool)


def wild_scenes(condition: str, count: int, digits: MnistDigits, seed: int = 0) -> list[Scene]:
    """`count` frames of `condition` (see `iter_wild`)."""
    return list(iter_wild(condition, count, digits, seed))


def draw_truth(scene: Scene) -> np.ndarray:
    """The frame with its truth drawn on it (boxes and labels), for people to look at."""
    img = scene.image.copy()
    for t in scene.digits:
        x, y, w, h = t.box
        cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), (0, 200, 0), 1)
        cv2.putText(img, str(t.digit), (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 160, 0), 1, cv2.LINE_AA)
    return img
