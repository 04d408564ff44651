"""Synthetic camera frames of handwritten digits on paper, with the truth: boxes, labels and lines.

Used by the tests, the benchmarks and the `demo` source. A scene is a sheet of paper (tinted, textured,
lit by a gradient, maybe crossed by a soft shadow) with 1 to 10 digits written on it in rows, at
several sizes and stroke widths, seen through a slightly tilted camera (perspective), slightly out of
focus, with sensor noise. The digits are MNIST test digits when the data set is at hand (the tests)
or, with no data set at all (the demo), digits written by a simulated pen (stroke skeletons with random
jitter, slant, width and an elastic bend) so that no two look alike.

A video is one sheet filmed for a while: the camera drifts and turns a little from frame to frame and
every frame has its own noise; the truth moves with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

Box = tuple[int, int, int, int]


@dataclass
class Truth:
    box: Box  # tight around the digit's ink, in frame pixels
    digit: int


@dataclass
class Scene:
    image: np.ndarray  # BGR uint8
    digits: list[Truth]
    lines: list[str]  # the numbers on the sheet, row by row, top to bottom


class MnistDigits:
    """Digits from an MNIST array (uint8 (N, 28, 28), labels (N,)); `split` says which part of MNIST."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, split: str | None = None) -> None:
        self.images, self.labels, self.split = images, labels, split

    @classmethod
    def test_set(cls, data_dir: str | Path | None = None) -> MnistDigits:
        from train.data import load_mnist

        d = load_mnist(data_dir, download=False)
        return cls(d.test_x.numpy(), d.test_y.numpy(), split="test")

    def sample(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        """Ink in [0, 1], tight crop, ~4x MNIST resolution."""
        choices = np.flatnonzero(self.labels == digit)
        return self.ink(int(rng.choice(choices)))

    def ink(self, index: int) -> np.ndarray:
        """Image `index` as ink in [0, 1], tight crop, ~4x MNIST resolution."""
        img = self.images[index].astype(np.float32) / 255.0
        big = cv2.resize(img, (112, 112), interpolation=cv2.INTER_CUBIC)
        return tight(np.clip(big, 0, 1))


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list[tuple[float, float]]:
    """Points on an elliptical arc from angle a0 to a1 (degrees; 0 = right, 90 = down)."""
    t = np.deg2rad(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


#: Each digit as pen strokes (polylines) in a box 0.6 wide and 1 tall, y down; some have two forms.
_STROKES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[_arc(0.3, 0.5, 0.28, 0.48, -90, 275)]],
    1: [[[(0.35, 0.0), (0.35, 1.0)]], [[(0.12, 0.25), (0.38, 0.0), (0.38, 1.0)]]],
    2: [[_arc(0.3, 0.28, 0.27, 0.26, 190, 385, 18) + [(0.02, 1.0), (0.6, 1.0)]]],
    3: [[_arc(0.28, 0.26, 0.25, 0.24, 200, 450, 18) + _arc(0.28, 0.73, 0.3, 0.26, -90, 160, 20)]],
    4: [[[(0.45, 1.0), (0.45, 0.0), (0.0, 0.68), (0.6, 0.68)]], [[(0.1, 0.0), (0.02, 0.6), (0.6, 0.6)],
                                                                  [(0.45, 0.2), (0.45, 1.0)]]],
    5: [[[(0.56, 0.0), (0.12, 0.0), (0.08, 0.45)] + _arc(0.3, 0.7, 0.29, 0.29, -130, 150, 20)]],
    6: [[_arc(0.55, 0.55, 0.5, 0.55, -100, -180, 10) + _arc(0.3, 0.72, 0.27, 0.27, 180, 540, 24)]],
    7: [[[(0.0, 0.0), (0.6, 0.0), (0.2, 1.0)]], [[(0.0, 0.0), (0.6, 0.0), (0.2, 1.0)], [(0.15, 0.5), (0.55, 0.5)]]],
    8: [[_arc(0.3, 0.25, 0.22, 0.23, 0, 360) , _arc(0.3, 0.72, 0.28, 0.27, -90, 270)]],
    9: [[_arc(0.3, 0.28, 0.26, 0.27, 0, 360) + [(0.56, 0.3), (0.45, 1.0)]]],
}


class FontDigits:
    """Digits written by a simulated pen: stroke skeletons jittered, slanted, bent, at varied widths.

    Needs no data set, so the demo works anywhere; every sample differs (control points move, the
    page's elastic field bends the strokes, the pen's width changes), like handwriting.
    """

    def sample(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        forms = _STROKES[digit]
        strokes = forms[int(rng.integers(len(forms)))]
        size = 128
        slant = rng.uniform(-0.3, 0.05)
        sx = rng.uniform(0.8, 1.15)
        canvas = np.zeros((size + 64, size + 64), np.uint8)
        for stroke in strokes:
            pts = np.array(stroke, np.float32)
            # A hand is not a compass: a smooth random wobble along the stroke (4 knots, interpolated).
            knots = rng.normal(0, 0.03, (4, 2))
            t = np.linspace(0, 3, len(pts))
            pts += np.stack([np.interp(t, np.arange(4), knots[:, k]) for k in (0, 1)], 1).astype(np.float32)
            x = (pts[:, 0] * sx + slant * (pts[:, 1] - 0.5)) * size * 0.95 + 32 + size * 0.2
            y = pts[:, 1] * size * 0.95 + 32
            poly = np.round(np.stack([x, y], 1) * 4).astype(np.int32)  # 2 fractional bits
            cv2.polylines(canvas, [poly], False, 255, int(rng.integers(6, 15)), cv2.LINE_AA, shift=2)
        ink = canvas.astype(np.float32) / 255.0
        field = rng.normal(0, 1, (2, 4, 4)).astype(np.float32) * rng.uniform(1.5, 4.0)
        n = canvas.shape[0]
        dx = cv2.resize(field[0], (n, n), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(field[1], (n, n), interpolation=cv2.INTER_CUBIC)
        gx, gy = np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32))
        return tight(cv2.remap(ink, gx + dx, gy + dy, cv2.INTER_LINEAR))


def tight(ink: np.ndarray, level: float = 0.2) -> np.ndarray:
    """The ink cropped to the rows and columns where it passes `level` (as it is, if it never does)."""
    on = ink > level
    rows, cols = np.flatnonzero(on.any(1)), np.flatnonzero(on.any(0))
    if rows.size == 0:
        return ink
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _paper(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Float BGR paper in [0, 255]: tint, texture, lighting gradient, maybe a soft shadow."""
    base = rng.uniform(165, 235)
    tint = base * (1 + rng.uniform(-0.06, 0.06, 3))
    tex = cv2.resize(rng.normal(0, 1, (h // 8 + 1, w // 8 + 1)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC) * rng.uniform(1, 5)
    img = (tint[None, None, :] + tex[..., None]) * light_ramp(rng, w, h, (0.1, 0.5))[..., None]
    if rng.random() < 0.5:
        img *= soft_shadow(rng, w, h)[..., None]
    return img


def light_ramp(rng: np.random.Generator, w: int, h: int, strength: tuple[float, float]) -> np.ndarray:
    """Light falling linearly across the sheet in a random direction, by a share drawn from `strength`."""
    xx, yy = pixel_coords(w, h)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5))
    return 1 + ramp * rng.uniform(*strength)


@functools.lru_cache(maxsize=8)
def pixel_coords(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every pixel of a w x h image (float32, read-only; kept, as every frame needs them)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx.flags.writeable = yy.flags.writeable = False
    return xx, yy


def soft_shadow(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A factor on the light: a soft-edged polygon darker by 15-40 % (something far from the sheet)."""
    mask = np.zeros((h, w), np.float32)
    pts = np.array([[rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h] for _ in range(4)], np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1.0)
    k = int(rng.uniform(0.02, 0.08) * w) * 2 + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    return 1 - rng.uniform(0.15, 0.4) * mask


def _layout(rng: np.random.Generator, n: int, w: int, h: int) -> list[list[list[int]]]:
    """Split n digits into rows of numbers: rows -> numbers -> digits (labels)."""
    rows = 1 if n <= 3 else int(rng.integers(1, min(3, (n + 1) // 2) + 1))
    sizes = np.full(rows, n // rows)
    sizes[: n % rows] += 1
    out = []
    for k in sizes:
        numbers, left = [], int(k)
        while left:
            take = int(rng.integers(1, min(4, left) + 1))
            numbers.append([int(d) for d in rng.integers(0, 10, take)])
            left -= take
        out.append(numbers)
    return out


def make_scene(
    rng: np.random.Generator,
    source: MnistDigits | FontDigits,
    n_digits: int | None = None,
    size: tuple[int, int] = (640, 480),
    digit_height: tuple[float, float] = (0.06, 0.2),
) -> Scene:
    """One frame: a sheet with 1-10 digits (or n_digits), seen by a camera."""
    page = make_page(rng, source, n_digits, size, digit_height)
    return page.shoot(rng, page.random_view(rng))


@dataclass
class Page:
    """A sheet with digits on it (float image and truth), before the camera sees it."""

    image: np.ndarray  # float32 BGR
    digits: list[Truth]
    lines: list[str]
    blur: float
    noise: float
    outlines: list[np.ndarray] | None = None  # per digit, points around its ink (page px), when known

    def random_view(self, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
        """A homography for a slightly tilted camera: corners moved by up to 3 % of the frame."""
        h, w = self.image.shape[:2]
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src + rng.uniform(-0.03, 0.03, (4, 2)).astype(np.float32) * np.float32([w, h]) * strength
        return cv2.getPerspectiveTransform(src, dst)

    def shoot(self, rng: np.random.Generator, view: np.ndarray) -> Scene:
        """The camera's frame for homography `view`: warp, blur, noise, 8-bit."""
        h, w = self.image.shape[:2]
        img = cv2.warpPerspective(self.image, view, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if self.blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur)
        img = img + rng.normal(0, self.noise, img.shape).astype(np.float32)
        img = np.clip(img, 0, 255).astype(np.uint8)
        digits = []
        for t in self.digits:
            x, y, bw, bh = t.box
            corners = np.float32([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]])
            digits.append(Truth(box_around(cv2.perspectiveTransform(corners.reshape(-1, 1, 2), view)), t.digit))
        return Scene(img, digits, list(self.lines))


def box_around(points: np.ndarray) -> Box:
    """The smallest whole-pixel box around points (any shape ending in 2: x, y)."""
    p = np.asarray(points, np.float32).reshape(-1, 2)
    x0, y0 = np.floor(p.min(0)).astype(int)
    x1, y1 = np.ceil(p.max(0)).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def make_page(
    rng: np.random.Generator,
    source: MnistDigits | FontDigits,
    n_digits: int | None = None,
    size: tuple[int, int] = (640, 480),
    digit_height: tuple[float, float] = (0.06, 0.2),
    paper: Callable[[np.random.Generator, int, int], np.ndarray] | None = None,
    pen: Callable[[np.random.Generator], Pen] | None = None,
) -> Page:
    """A sheet with digits; `digit_height` is the range of digit heights as a fraction of the frame's.

    `paper(rng, w, h)` makes the blank sheet and `pen(rng)` the pen that writes on it (default: the
    lit paper of `_paper` and `Pen`, from fine pen to marker); the wild scenes bring their own.
    """
    w, h = size
    n = int(n_digits if n_digits is not None else rng.integers(1, 11))
    img = (paper or _paper)(rng, w, h)
    rows = _layout(rng, n, w, h)
    dh = _digit_height(rng, rows, w, h, digit_height)
    writer = (pen or Pen)(rng)
    truths, outlines = _write_rows(rng, img, rows, dh, source, writer)
    # The lines are what was actually drawn, read back from the truth in reading order.
    from realtime.track import read_lines

    lines = read_lines([t.box for t in truths], [str(t.digit) for t in truths])
    return Page(img.astype(np.float32), truths, lines, blur=float(rng.uniform(0, 1.2)),
                noise=float(rng.uniform(1, 7)), outlines=outlines)


def _digit_height(rng: np.random.Generator, rows: list[list[list[int]]], w: int, h: int,
                  digit_height: tuple[float, float]) -> float:
    """The page's digit height in px: as large as fits (rows and the longest row), within `digit_height`."""
    longest = max(sum(len(num) for num in row) + 1.2 * (len(row) - 1) for row in rows)
    fit_h = min(0.8 * w / (longest * 0.95), 0.75 * h / (len(rows) * 1.7))
    lo, hi = digit_height
    return float(np.clip(rng.uniform(lo, hi) * h, lo * h, max(lo * h, fit_h)))


class Pen:
    """Writes one digit: makes its ink at the page's scale (`glyph`) and lays it on the sheet (`lay`).

    This one keeps the sample's own strokes, thickened or thinned a little (pen to marker), in dark or
    blue ink over paper whose light is already in it. The wild scenes' pens (realtime.measure.wild)
    redraw the strokes at a chosen width and ink on unlit paper.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.colour = _ink_colour(rng)

    def glyph(self, rng: np.random.Generator, source: MnistDigits | FontDigits, digit: int, dh: float) -> np.ndarray:
        """Ink in [0, 1] for `digit`, about `dh` px tall."""
        ink = source.sample(rng, digit)
        th = dh * rng.uniform(0.85, 1.1)
        s = th / ink.shape[0]
        tw = max(2, int(round(ink.shape[1] * s)))
        th_i = max(2, int(round(th)))
        glyph = cv2.resize(ink, (tw, th_i), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        stroke = rng.uniform(-0.015, 0.02) * th  # pen to marker
        r = int(round(abs(stroke)))
        if r:
            kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            pad = cv2.copyMakeBorder(glyph, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
            glyph = cv2.dilate(pad, kern) if stroke > 0 else cv2.erode(pad, kern)[r:-r, r:-r]
        return glyph

    def lay(self, rng: np.random.Generator, img: np.ndarray, glyph: np.ndarray, gx: int, gy: int) -> None:
        """Put the glyph's ink on the sheet `img` (float BGR, changed in place) at (gx, gy)."""
        gh, gw = glyph.shape
        alpha = np.clip(glyph * rng.uniform(0.85, 1.0), 0, 1)[..., None]
        region = img[gy : gy + gh, gx : gx + gw]
        img[gy : gy + gh, gx : gx + gw] = region * (1 - alpha) + self.colour * alpha * (region / 255.0 + 0.3)


def _ink_colour(rng: np.random.Generator) -> np.ndarray:
    """Dark ink, blue three times in ten."""
    ink_colour = np.array([rng.uniform(15, 60), rng.uniform(15, 50), rng.uniform(15, 50)], np.float32)
    if rng.random() < 0.3:  # blue ink
        ink_colour = np.array([rng.uniform(90, 140), rng.uniform(30, 60), rng.uniform(10, 40)], np.float32)
    return ink_colour


def _write_rows(rng: np.random.Generator, img: np.ndarray, rows: list[list[list[int]]], dh: float,
                source: MnistDigits | FontDigits, pen: Pen) -> tuple[list[Truth], list[np.ndarray]]:
    """Write the rows of numbers on the sheet, left to right, top to bottom; the truth and ink outlines."""
    h, w = img.shape[:2]
    truths: list[Truth] = []
    outlines: list[np.ndarray] = []
    total_h = len(rows) * dh * 1.7
    y = rng.uniform(0.12 * h, max(0.12 * h, h - total_h - 0.05 * h))
    for row in rows:
        width = sum(len(num) for num in row) * dh * 0.75 + (len(row) - 1) * dh * 1.2
        x = rng.uniform(0.08 * w, max(0.08 * w, w - width - 0.08 * w))
        for num in row:
            for digit in num:
                glyph = pen.glyph(rng, source, digit, dh)
                gy = int(y + rng.uniform(-0.05, 0.05) * dh + (dh - glyph.shape[0]) / 2)
                gx = int(x)
                gh, gw = glyph.shape
                # A digit that does not fit on the sheet is left out (the truth only lists drawn digits).
                if gx >= 1 and gy >= 1 and gx + gw < w - 1 and gy + gh < h - 1:
                    pen.lay(rng, img, glyph, gx, gy)
                    found = ink_truth(glyph, gx, gy, digit)
                    if found:
                        truths.append(found[0])
                        outlines.append(found[1])
                x += gw + dh * rng.uniform(0.2, 0.45)
            x += dh * rng.uniform(0.9, 1.3)
        y += dh * rng.uniform(1.6, 1.9)
    return truths, outlines


def ink_truth(glyph: np.ndarray, gx: int, gy: int, digit: int, level: float = 0.25) -> tuple[Truth, np.ndarray] | None:
    """The truth of a glyph laid at (gx, gy): its tight ink box, and the corners of its ink's convex hull.

    The outline lets a camera's perspective be applied to the ink itself rather than to its box, so
    the box in the frame stays tight. None when the glyph has no ink above `level`.
    """
    on = (glyph > level).astype(np.uint8)
    pts = cv2.findNonZero(on)
    if pts is None:
        return None
    hull = cv2.convexHull(pts).reshape(-1, 2)
    corners = (hull[:, None, :] + np.array([[0, 0], [1, 0], [1, 1], [0, 1]])[None]).reshape(-1, 2)
    x0, y0 = corners.min(0)
    x1, y1 = corners.max(0)
    box = (gx + int(x0), gy + int(y0), int(x1 - x0), int(y1 - y0))
    return Truth(box, digit), (corners + np.array([gx, gy])).astype(np.float32)


def make_video(
    rng: np.random.Generator,
    source: MnistDigits | FontDigits,
    frames: int,
    n_digits: int | None = None,
    size: tuple[int, int] = (640, 480),
    pages: int = 1,
    digit_height: tuple[float, float] = (0.06, 0.2),
):
    """Yield Scenes: `pages` sheets one after the other, each filmed by a slowly drifting camera."""
    per_page = max(1, frames // pages)
    made = 0
    while made < frames:
        page = make_page(rng, source, n_digits, size, digit_height)
        start, end = page.random_view(rng, 0.6), page.random_view(rng, 0.6)
        count = min(per_page, frames - made)
        for i in range(count):
            t = i / max(1, count - 1)
            view = start * (1 - t) + end * t  # a smooth drift between two tilted views
            yield page.shoot(rng, view / view[2, 2])
        made += count


def write_video(path: str | Path, scenes, fps: float = 30.0) -> list[Scene]:
    """Write scenes as a video file (codec from the suffix: .mp4 -> mp4v, .avi -> MJPG); return them."""
    path = Path(path)
    kept = []
    writer = None
    for sc in scenes:
        if writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
            writer = cv2.VideoWriter(str(path), fourcc, fps, (sc.image.shape[1], sc.image.shape[0]))
            if not writer.isOpened():
                raise OSError(f"cannot write video {path}")
        writer.write(sc.image)
        kept.append(Scene(np.empty(0), sc.digits, sc.lines))  # truth only; frames are in the file
    if writer is not None:
        writer.release()
    return kept


def write_images(folder: str | Path, scenes, ext: str = ".png") -> list[Scene]:
    """Write scenes as numbered images (frame_00000.png, ...); return their truth."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for i, sc in enumerate(scenes):
        cv2.imwrite(str(folder / f"frame_{i:05d}{ext}"), sc.image)
        kept.append(Scene(np.empty(0), sc.digits, sc.lines))
    return kept
