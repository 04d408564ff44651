"""Things a camera sees that are not digits, in the form the network sees digits: for outlier exposure.

An MLP trained on digits alone is sure of itself on anything: a grid dot, a piece of a ruled line, a
letter of printed text, the texture of cardboard all come out as some digit at 90 %. Trained also on
such shapes with a uniform target (every class 10 %), it learns to say "none of these": its highest
probability falls under the reader's reject threshold. This module makes those shapes, each drawn at
four times the 28x28 resolution with pen-like strokes and then made into the network's image by
`mnist_spec.from_crop`, exactly as a camera crop is (strokes brought to MNIST's width included):

- printed letters and short words in OpenCV's Hershey fonts (letters that look like digits, such as
  O, l, S, Z, B, g, q, are left out: a printed "S" may well be a 5), and blocks of small print run
  together (a logo, a stamp);
- handwritten-looking symbols: + x ( ) = - / < > # % & ?;
- pieces of printed lines: bars, crossings and tees of a grid, parallel rules (not corners: a corner
  of a grid is a 7 written without a slant);
- dots and specks, and patches of a regular dot grid;
- texture: blobs and fibres of paper or cardboard (smoothed noise cut at a high level);
- scribbles: random curves that turn many times;
- fragments of digits (a third of one, cut off along a random line) and two digits squeezed into
  one image (a shape the segmentation should split).

The digits for the last two come from the *training* images handed in; the test set stays untouched.
"""

from __future__ import annotations

import cv2
import numpy as np

from train.mnist_spec import SIZE, from_crop

UP = 4  # drawing resolution multiplier
CANVAS = SIZE * UP
FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_COMPLEX_SMALL, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN]
#: Letters with no digit look-alike (no O o Q D l I i j J L T Z z S s b G B g q y A U u).
LETTERS = "CEFHKMNPRVWXYacdefhkmnprtvwx"
SYMBOLS = "+x()=-/<>#%&?"  # not "!": a stroke over a dot is a 1 over a speck


def _stroke_width(rng: np.random.Generator, size: float) -> int:
    """A pen's width for a shape `size` pixels tall: about MNIST's 1/11 of the height, give or take."""
    return max(2, int(round(size * rng.uniform(0.05, 0.13))))


def _polyline(canvas: np.ndarray, pts: np.ndarray, width: int, closed: bool = False) -> None:
    cv2.polylines(canvas, [np.round(pts * 4).astype(np.int32)], closed, 255, width, cv2.LINE_AA, shift=2)


def _wobble(rng: np.random.Generator, pts: np.ndarray, amount: float) -> np.ndarray:
    """A hand is not a ruler: a smooth random displacement along a polyline."""
    t = np.linspace(0, 3, len(pts))
    knots = rng.normal(0, amount, (4, 2))
    return pts + np.stack([np.interp(t, np.arange(4), knots[:, k]) for k in (0, 1)], 1)


def letters(rng: np.random.Generator) -> np.ndarray:
    """One to three printed letters (a word's piece), as a crop of the text would be cut out."""
    text = "".join(rng.choice(list(LETTERS), int(rng.integers(1, 4))))
    font = int(rng.choice(FONTS))
    italic = cv2.FONT_ITALIC if rng.random() < 0.3 else 0
    scale = rng.uniform(2.0, 3.5)
    thick = int(rng.integers(2, 8))
    canvas = np.zeros((CANVAS * 2, CANVAS * 4), np.uint8)
    cv2.putText(canvas, text, (10, int(CANVAS * 1.3)), font | italic, scale, 255, thick, cv2.LINE_AA)
    return canvas


def text_block(rng: np.random.Generator) -> np.ndarray:
    """Two to four lines of small print run together into one shape (a logo, a form's heading, a
    stamp seen from afar): what a detector takes for one blob."""
    lines = int(rng.integers(2, 6))
    font = int(rng.choice(FONTS))
    scale = rng.uniform(0.8, 1.6)
    thick = int(rng.integers(1, 4))
    step = int(rng.uniform(18, 30) * scale)
    canvas = np.zeros((step * (lines + 1), CANVAS * 3), np.uint8)
    chars = LETTERS + "0123456789 "
    for k in range(lines):
        text = "".join(rng.choice(list(chars), int(rng.integers(2, 9))))
        cv2.putText(canvas, text, (4, step * (k + 1)), font, scale, 255, thick, cv2.LINE_AA)
    blur = int(rng.integers(0, 3)) * 2 + 1  # seen out of focus the letters run together
    return cv2.GaussianBlur(canvas, (blur, blur), 0) if blur > 1 else canvas


def _symbol_strokes(sym: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Pen strokes of a symbol in a unit box (x right, y down)."""
    j = lambda: rng.uniform(-0.06, 0.06)  # noqa: E731
    if sym == "+":
        return [np.array([[0.1 + j(), 0.5 + j()], [0.9 + j(), 0.5 + j()]]),
                np.array([[0.5 + j(), 0.1], [0.5 + j(), 0.9]])]
    if sym == "x":
        return [np.array([[0.15, 0.15], [0.85, 0.85]]), np.array([[0.85, 0.15], [0.15, 0.85]])]
    if sym in "()":
        t = np.linspace(-1.1, 1.1, 16)
        side = 1 if sym == "(" else -1
        bend = rng.uniform(0.25, 0.4)
        return [np.stack([0.5 + side * bend * (t**2 - 1.2) / 1.2, 0.5 + 0.45 * t / 1.1], 1)]
    if sym == "=":
        return [np.array([[0.1, 0.35 + j()], [0.9, 0.35 + j()]]), np.array([[0.1, 0.65 + j()], [0.9, 0.65 + j()]])]
    if sym == "-":
        return [np.array([[0.05, 0.5 + j()], [0.95, 0.5 + j()]])]
    if sym == "/":  # far more slanted than a 1
        return [np.array([[0.95, 0.05], [0.05, 0.95]])]
    if sym in "<>":
        a, b = (0.85, 0.15) if sym == "<" else (0.15, 0.85)
        return [np.array([[a, 0.1], [b, 0.5 + j()], [a, 0.9]])]
    if sym == "#":
        return [np.array([[0.35, 0.05], [0.3, 0.95]]), np.array([[0.7, 0.05], [0.65, 0.95]]),
                np.array([[0.05, 0.35], [0.95, 0.35]]), np.array([[0.05, 0.65], [0.95, 0.65]])]
    if sym == "%":
        t = np.linspace(0, 2 * np.pi, 14)
        ring = np.stack([np.cos(t), np.sin(t)], 1) * 0.13
        return [ring + [0.25, 0.22], ring + [0.75, 0.78], np.array([[0.85, 0.05], [0.15, 0.95]])]
    if sym == "&":
        t = np.linspace(0, 1, 30)
        return [np.stack([0.5 + 0.4 * np.sin(6 * t) * (1 - t), 0.05 + 0.9 * t], 1)]
    if sym == "?":
        t = np.linspace(np.pi, 2.4 * np.pi, 14)
        return [np.concatenate([np.stack([0.5 + 0.3 * np.cos(t), 0.3 + 0.22 * np.sin(t)], 1), [[0.5, 0.7]]]),
                np.array([[0.5, 0.9], [0.52, 0.93]])]
    return [np.array([[0.1, 0.2], [0.3, 0.8], [0.5, 0.3], [0.7, 0.8], [0.9, 0.2]])]  # a zigzag


def symbol(rng: np.random.Generator) -> np.ndarray:
    """A handwritten symbol that sits between digits in a sum or a date: + x ( ) = - / < > # % & ? !"""
    sym = str(rng.choice(list(SYMBOLS)))
    size = rng.uniform(0.5, 0.8) * CANVAS
    aspect = rng.uniform(0.4, 0.6) if sym in "()" else rng.uniform(1.0, 1.3) if sym == "/" else rng.uniform(0.7, 1.3)
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    width = _stroke_width(rng, size)
    for s in _symbol_strokes(sym, rng):
        pts = s * [size * aspect, size] + [CANVAS * 0.2, CANVAS * 0.2]
        _polyline(canvas, _wobble(rng, pts, size * 0.02), width)
    return canvas


def line_piece(rng: np.random.Generator) -> np.ndarray:
    """Printed lines as a crop sees them: a bar, a crossing, a tee, or parallel rules."""
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    width = max(1, int(rng.integers(1, 6)))
    kind = int(rng.integers(4))
    a, b = rng.uniform(0.05, 0.3) * CANVAS, rng.uniform(0.7, 0.95) * CANVAS
    m = rng.uniform(0.3, 0.7) * CANVAS
    tilt = rng.uniform(-0.1, 0.1) * CANVAS
    segs = []
    if kind == 0:  # a bar, within 35 degrees of level (a steeper one would be a 1)
        ang = rng.uniform(-0.6, 0.6)
        c, s = np.cos(ang), np.sin(ang)
        half = rng.uniform(0.3, 0.45) * CANVAS
        segs.append([[CANVAS / 2 - half * c, CANVAS / 2 - half * s], [CANVAS / 2 + half * c, CANVAS / 2 + half * s]])
    elif kind == 1:  # a crossing
        segs += [[[a, m], [b, m + tilt]], [[m, a], [m + tilt, b]]]
    elif kind == 2:  # a tee
        segs += [[[a, m], [b, m + tilt]], [[m, m], [m + tilt, b]]]
    else:  # parallel rules, two or three
        for k in range(int(rng.integers(2, 4))):
            y = a + k * rng.uniform(0.25, 0.35) * CANVAS
            segs.append([[a, y], [b, y + tilt]])
    for seg in segs:
        _polyline(canvas, np.array(seg, np.float32), width)
    return canvas


def dots(rng: np.random.Generator) -> np.ndarray:
    """A speck, a few specks, or a patch of a printed dot grid."""
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    if rng.random() < 0.5:
        step = rng.uniform(0.25, 0.45) * CANVAS
        r = max(2, int(step * rng.uniform(0.08, 0.2)))
        n = int(CANVAS // step) + 1
        off = rng.uniform(0, step, 2)
        for i in range(n):
            for k in range(n):
                cv2.circle(canvas, (int(off[0] + i * step), int(off[1] + k * step)), r, 255, -1, cv2.LINE_AA)
    else:
        for _ in range(int(rng.integers(1, 4))):
            centre = rng.uniform(0.2, 0.8, 2) * CANVAS
            axes = rng.uniform(0.03, 0.15, 2) * CANVAS
            cv2.ellipse(canvas, (int(centre[0]), int(centre[1])), (int(axes[0]), int(axes[1])),
                        rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
    return canvas


def texture(rng: np.random.Generator) -> np.ndarray:
    """Blobs and fibres of paper or cardboard: smoothed noise, the darkest few percent of it."""
    cells = int(rng.integers(3, 12))
    field = cv2.resize(rng.normal(0, 1, (cells, cells)).astype(np.float32), (CANVAS, CANVAS),
                       interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:  # fibres: long thin streaks in one direction
        k = int(rng.integers(9, 41))
        streak = np.zeros((k, k), np.float32)
        streak[k // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D((k / 2, k / 2), rng.uniform(0, 180), 1.0)
        streak = cv2.warpAffine(streak, rot, (k, k))
        fine = cv2.filter2D(rng.normal(0, 1, (CANVAS, CANVAS)).astype(np.float32), -1, streak / streak.sum())
        field = field * 0.3 + fine / fine.std()
    level = np.quantile(field, rng.uniform(0.85, 0.97))
    return np.clip((field - level) * 3, 0, 1).astype(np.float32)


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A curve that turns many times (a crossed-out word, a doodle): more turns than any digit has."""
    n = int(rng.integers(9, 15))
    knots = rng.uniform(0.15, 0.85, (n, 2)) * CANVAS
    t = np.linspace(0, n - 1, n * 8)
    pts = np.stack([np.interp(t, np.arange(n), knots[:, k]) for k in (0, 1)], 1)
    pts = cv2.GaussianBlur(pts.reshape(-1, 1, 2), (1, 9), 0).reshape(-1, 2)
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    _polyline(canvas, pts.astype(np.float32), _stroke_width(rng, CANVAS * 0.6))
    return canvas


def fragment(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A fifth to a third of a digit, cut off along a random line (a stroke left over by a bad cut).

    A straight piece would be a perfectly good 1: those are drawn again, as a bent piece of stroke."""
    img = cv2.resize(digits[rng.integers(len(digits))].astype(np.float32) / 255, (CANVAS, CANVAS),
                     interpolation=cv2.INTER_LINEAR)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
    proj = (xx - CANVAS / 2) * np.cos(ang) + (yy - CANVAS / 2) * np.sin(ang)
    ink = img > 0.3
    vals = np.sort(proj[ink])
    if vals.size < 10:
        return img
    cut = vals[int(len(vals) * rng.uniform(0.65, 0.8))]
    piece = img * (proj > cut)
    m = cv2.moments((piece > 0.3).view(np.uint8), binaryImage=True)
    if m["m00"] > 0:
        a, b, c = m["mu20"], m["mu02"], m["mu11"]
        spread = np.sqrt(((a - b) / 2) ** 2 + c * c)
        if (a + b) / 2 - spread < 0.04 * ((a + b) / 2 + spread):  # thin and straight: a 1
            return scribble(rng)
    return piece


def pair(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """Two digits squeezed side by side into one image, touching (a "10" the segmentation should cut)."""
    a, b = (digits[rng.integers(len(digits))].astype(np.float32) / 255 for _ in range(2))
    overlap = int(rng.integers(2, 7))
    out = np.zeros((SIZE, 2 * SIZE - overlap), np.float32)
    out[:, :SIZE] = a
    out[:, SIZE - overlap :] = np.maximum(out[:, SIZE - overlap :], b)
    return cv2.resize(out, None, fx=UP, fy=UP, interpolation=cv2.INTER_LINEAR)


def _tight(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box (as a detector's crop would be), with a pixel of margin."""
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    if rows.size == 0:
        return ink
    return ink[max(0, rows[0] - 1) : rows[-1] + 2, max(0, cols[0] - 1) : cols[-1] + 2]


KINDS = {"letters": letters, "text block": text_block, "symbol": symbol, "line piece": line_piece, "dots": dots,
         "texture": texture, "scribble": scribble, "fragment": fragment, "pair": pair}
NEEDS_DIGITS = {"fragment", "pair"}


def make_outliers(count: int, seed: int, digits: np.ndarray, kinds: tuple[str, ...] = tuple(KINDS),
                  ) -> tuple[np.ndarray, np.ndarray]:
    """`count` non-digit images (uint8 (N, 28, 28), made like MNIST's) and the kind index of each.

    `digits`: uint8 (M, 28, 28) training digits to cut fragments and pairs from.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((count, SIZE, SIZE), np.uint8)
    which = rng.integers(len(kinds), size=count)
    for i in range(count):
        name = kinds[which[i]]
        draw = KINDS[name]
        ink = draw(rng, digits) if name in NEEDS_DIGITS else draw(rng)
        ink = ink.astype(np.float32) / 255 if ink.dtype == np.uint8 else ink.astype(np.float32)
        out[i] = np.clip(np.round(from_crop(_tight(ink)) * 255), 0, 255).astype(np.uint8)
    return out, which
