"""Stage 1a, ink: which pixels of a frame are writing, at the writing's own scale.

Nothing here is tied to the frame's size. A first, coarse look at the frame measures how wide the
strokes of the writing are and how tall its digits are; everything else follows from those two
lengths:
- the resolution the frame is searched at (strokes must stay a pixel or two wide there, and no finer is
  needed: a marker digit filling the frame is searched at a few hundred pixels, a hairline one at full
  resolution);
- the paper's brightness, estimated by a morphological closing a few stroke widths wide. The closing
  removes every dark mark narrower than its kernel (the writing) and follows whatever is wider:
  gradients, vignetting, shadows. Too narrow a kernel and a marker's stroke counts as paper (a big
  thick digit falls apart into its outline); too wide and a narrow shadow counts as ink;
- which shapes are the size of writing at all.

The ink image is the darkest of each pixel's colour channels, once a coloured paper is made grey
(`paper_balance`): a red or blue pen is dark in the channel it absorbs, and on brown cardboard or a
coloured sheet the paper does not decide which channel that is.

Ink is then "darker than the paper around it by a share of the paper's brightness" (the same under
bright and dim light) and by several times the frame's sensor noise (grain in a dim room is not ink).

Where the paper's grain, not the writing's darkness, sets that bar (cardboard, a dim room's sensor
noise, a pale pen out of focus), the faint parts of a stroke are as dark as the paper's blotches and
fall under it: a digit is found in pieces, or not at all. A stroke is a line, though, and the grain is
blots and specks: the shapes are carried on along the ridges of the darkness (`along_ridges`).

Which way round the writing is (dark ink on light paper, or chalk on a board) is decided here as well:
light-on-dark when reading the frame that way gives clearly more writing, and that writing is brighter
than most of the frame.

Printed lines (ruled, squared or dotted paper) are found as straight thin runs that cross a large part
of the frame, and taken out of the ink, except where a stroke crosses them: there the ink is taller
(or wider) than the line, and stays. On a sheet held at an angle (up to 31 degrees) the lines' slope
is measured first and they are looked for on the mask turned level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from train.resample import jit

Labelled = tuple  # a mask's components: (count, labels) or (count, labels, `components` stats)

MAD_SD = 1.4826  # a normal distribution's standard deviation per median absolute deviation
NOISE_SIGMAS = 5.0  # ink must be darker than the paper by this many standard deviations of the sensor noise
NOISY = 0.15  # noise that strong (NOISE_SIGMAS of it, as a share of the paper's brightness) is smoothed first
LAZY_SIDE = 960  # frames larger than this make their full-resolution ink image only when a crop needs it
COARSE_SIDE = 500  # the coarse look is taken at the first pyramid level whose longer side is at most this ...
FINEST_LOOK = 1000  # ... or, seeing no writing there, at finer levels up to this size
COARSE_KERNEL = 0.35  # its paper estimate spans this share of the shorter side: wider than any marker stroke
FAINT_LOOK = 0.4  # writing whose darkness times this is under the first look's pixel bar is measured again with it
RIDGE_SIGMA = 0.5  # where the paper's grain sets the mask's threshold, strokes are followed along ridges of the
#                   darkness smoothed by this share of a stroke width (at half resolution from RIDGE_HALF px on) ...
RIDGE_HALF = 1.6
RIDGE_SIGMAS = 6.0  # ... a ridge's strength this many robust standard deviations above the frame's typical one ...
RIDGE_EDGE = 0.7  # ... and no step's side: its slope under this share of its curvature times the smoothing ...
RIDGE_SHARE = 0.6  # ... its pixels this share as dark as the mask asks ...
RIDGE_PAPER = 0.75  # ... on paper at least this share as bright as the frame's typical paper (not the desk) ...
RIDGE_BENT = 1.0  # ... and grown only from shapes wider and taller than this many stroke widths
GROW_SHARE = 0.8  # a digit in doubt is read again with the shapes grown into pixels this share as dark as the
#                  mask asks (grown) ...
GROW_STROKES = 1.0  # ... by up to this many of the writing's stroke widths, if that adds at least
GROW_LEAST = 0.1  # this share to the ink in the doubtful digits' boxes
SEARCH_STROKE = 1.5  # the search resolution keeps strokes at least this many pixels wide
PAPER_STROKES = 2.0  # the paper estimate's kernel, in stroke widths (with their blurred rims) ...
PAPER_HEIGHTS = 0.33  # ... and at least this share of the writing's height (a faint, blurred stroke is
#                       wider than the part of it that passes a threshold)
INK_SHARE = 0.3  # a pixel of a shape is at least this share of the writing's typical darkness
SURE_SHARE = 0.8  # ... and the shape's darkest pixel this share
SURE_OVER_GRAIN = 12  # clearly ink: this many levels of darkness (of 255) above the paper's grain
GRAIN = 4.0  # a shape's pixels stand this many robust standard deviations of the paper's darkness above it ...
NOISY_GRAIN = 2.0  # ... or this many in a frame smoothed for sensor noise (quieten), whose grain is noise:
# specks, not fibres or blotches, that the size filters drop; at GRAIN a dim room's faint strokes break
# into pieces too small to read
MIN_LOW = 16  # no pixel less dark than this (of 255) is ink, however smooth the paper
DEFAULT_THRESHOLD = 0.32  # the user's threshold (DetectConfig.threshold) at which the relative ones apply as they are
SHADE = 0.5  # in a shape reaching the border, what is under this share of its ink's darkness is shade ...
SHADE_MOST = 1.0  # ... and in one clear of it with this many times more such pixels than darker ones
SHADE_AREA = 64  # (shapes clear of the border smaller than this many pixels are left as they are)
BAND_DEEP = 1.5  # a shadow's band: its inside lies this many pen strokes from its edge ...
BAND_SPAN = 0.4  # ... and runs across this share of the frame ...
BAND_STRAIGHT = 8.0  # ... this many times longer than wide (the spread of its inside's pixels)
BAND_INK = 0.5  # ink across the band is darker than it by this share of the writing's darkness at least
WRITING_SHAPE = 3.0  # a shape at least this many stroke widths tall is drawn with a pen, not a blot or a dot ...
BLOT = 0.8  # a shape with a part wider than this many of its mean stroke widths is a blot
LINE_SPAN = 0.4  # a printed line crosses at least this share of the frame ...
LINE_PIECE = 0.2  # ... or, where it is broken, GRID_PIECES straight pieces of one thickness cross this share
GRID_PIECES = 5  # and are GRID_WRITING times as long as the writing is tall
GRID_WRITING = 1.5
PIECE_STROKES = 0.8  # ... each a printed line no thicker than this many of the writing's strokes (a
#                      row of print, its letters run together, is as thick as they are tall)
LINE_TILT = 0.14  # ... and rises at most this much per pixel along it (8 degrees) ...
LINE_THICK = 0.01  # ... and is no thicker than this share of the frame (and a few pixels): a shadow's band is
SHEET_EDGE = 0.6  # a line with one side darker than this share of the other is the sheet's edge
FAINT_LINE = 0.6  # a printed line this much fainter than the writing tells ink on it by its darkness
LINE_BEND = 0.02  # a broken line's piece lies on its extension within this much per pixel along it
MAX_TILT = 0.6  # a sheet held at an angle: its lines, rising up to this much (31 degrees), are found level ...
LINE_THIN = 4.0  # ... their slope measured on shapes crossing LINE_SPAN, this many times longer than wide
TILT_PIECE = 0.05  # ... or, where no shape crosses that much (faint lines broken up), on pieces crossing this
#                    share of the frame: GRID_PIECES of them or more at one slope (within TILT_AGREE), together
#                    crossing LINE_SPAN of it
TILT_AGREE = 0.05
CROSSING = 15  # a line of one way crossing a line of the other is at most this many pixels thick
LIGHT_RANK = 90.0  # light-on-dark: the light writing is brighter than this share (%) of the frame, and
LIGHT_WINS = 2.0  # the share brighter than it is this many times smaller than the share darker than dark writing
LIGHT_MORE = 10.0  # ... or it is brighter than 95 % of the frame and this many times as much as the dark writing
TAIL = 0.002  # light-on-dark is considered when the brightest this share of the frame stands out more than the darkest
WRITTEN_ON = 0.5  # ... and not when this share of the dark reading's writing lies on the light reading's shapes
PAPER_TINT = 0.85  # paper whose dimmest colour channel is under this share of its brightest is coloured ...
MAX_GAIN = 4.0  # ... and made grey, each channel brightened at most this much (paper_balance)
SHEET_LIGHT = 0.33  # a hard shadow keeps a third of the light or more; darker is the desk around the sheet. A
#                    sheet smaller than the frame (a note on a desk) is where the frame is this share of its
SHEET_TOP = 0.97  # ... bright end (this quantile), bright strokes (chalk) opened away by a square this share
SHEET_OPEN = 0.05  # ... of the frame's shorter side; it counts when it covers under half the frame and at least
SMALLEST_SHEET = 0.02  # ... this share of it (the_sheet)
SHEET_TINT = 0.02  # a desk brighter than SHEET_LIGHT of the sheet differs in chromaticity by this much ...
SHEET_AROUND = 0.8  # ... along this share of the sheet's outline (a shadow's edge keeps the paper's colour)


@dataclass
class Scale:
    """The writing's own scale, in full-resolution pixels."""

    stroke: float  # typical stroke width
    height: float  # typical height of a shape of writing (a digit)
    found: bool  # False: nothing writing-like was seen, the figures are defaults
    contrast: float = 0.0  # typical darkness of the writing's shapes (0-1), 0 when none was seen
    extent: float = 2.0  # typical width of a stroke with its soft rim (blur), down to the faintest ink
    sheet: bool = False  # written on a sheet smaller than the frame (the_sheet), the desk around it


@dataclass
class Ink:
    """The ink of one frame at its search level, and what was measured on the way."""

    levels: Pyramid  # the ink image (dark writing on light paper) and its halvings
    level: int  # the search level: `levels[level]` is the image the mask belongs to
    paper: np.ndarray  # the paper's brightness at the search level
    mask: np.ndarray  # uint8 0/255 ink pixels at the search level, printed lines taken out
    lines: np.ndarray  # uint8 0/255 the printed-line pixels that were taken out
    low: int  # darkness (0-255) a pixel needs to belong to a shape
    high: int  # darkness some pixel of a shape must reach (hysteresis)
    scale: Scale
    light_on_dark: bool
    look: Look | None = None  # the first look the scale and polarity come from
    labelled: Labelled | None = None  # the mask's components (count, labels[, box stats]), if at hand
    dark: np.ndarray | None = None  # uint8 darkness (`darkness`) at the search level
    sheet: np.ndarray | None = None  # uint8 0/1 a sheet smaller than the frame (the_sheet) at the search level ...
    desk: tuple[int, int] = (0, 0)  # ... and (low, high) off it, where the desk's grain sets them
    floor: int = 0  # grey levels under the paper a pixel of the mask needs besides `low` (the sensor's noise)


def to_8bit(frame: np.ndarray) -> np.ndarray:
    """Any frame (grey, BGR, BGRA; 8 or 16 bit; float, NaN included) as 8-bit grey or BGR."""
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        elif frame.dtype == np.bool_:
            frame = frame.astype(np.uint8) * 255
        elif np.issubdtype(frame.dtype, np.floating):
            f = np.nan_to_num(frame.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
            frame = (np.clip(f, 0, 1) * 255).astype(np.uint8)
        else:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 3:
        if frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        elif frame.shape[2] != 3:
            frame = frame[:, :, 0]
    return np.ascontiguousarray(frame)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Any frame as one 8-bit grey channel (for display and tests)."""
    frame = to_8bit(frame)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame


def _sample(frame: np.ndarray) -> np.ndarray:
    """Some 5,000 pixels spread over the frame, whatever its size: enough for the paper's colour and
    the sheet's outline."""
    step = max(8, max(frame.shape[:2]) // 80)
    return np.ascontiguousarray(frame[::step, ::step])


def paper_balance(frame: np.ndarray, sheet: np.ndarray | None = None, sample: np.ndarray | None = None,
                  ) -> np.ndarray | None:
    """The gain of each colour channel (a diagonal 3x3 matrix for cv2.transform, which saturates) that
    makes coloured paper grey, or None where the paper is white or grey, or the frame is.

    The ink image is the darkest channel of each pixel (ink_channel). On white paper that is the
    channel the ink absorbs. On coloured paper it is the one the paper absorbs: on brown cardboard the
    blue channel, where the paper is at half the brightness of red, the sensor's noise twice as large
    next to it, and a dark room's smoothing (quieten) set off by a dim channel, not a dim room. There
    each channel is brightened so that the paper's brightness in it (the median of some 5,000 pixels
    spread over the frame: the paper is most of it) is that of its brightest channel; a neutral pen is
    then as dark in all three, and a coloured one still darkest in the channel it absorbs. At most
    MAX_GAIN: a channel the paper hardly reflects holds little but noise. Paper whose dimmest channel
    is PAPER_TINT of its brightest or more is white under a camera's white balance, and left as it is:
    made grey, its darkest channel would be the least of three noisy samples, not one channel's.
    `sheet`: the frame's sheet (Pyramid.sheet), if it has one; `sample`: the frame's _sample, if taken.
    """
    if frame.ndim != 3 or frame.shape[2] != 3:
        return None
    sample = _sample(frame) if sample is None else sample
    if sheet is not None:  # a note on a desk: the paper is the note, not the desk around it
        sample = np.ascontiguousarray(sample[sheet][:, None, :])
    paper = np.array([_median_u8(np.ascontiguousarray(sample[:, :, c])) for c in range(3)], np.float32)
    if paper.min() >= PAPER_TINT * paper.max():
        return None
    return np.diag(np.minimum(paper.max() / np.maximum(paper, 1.0), MAX_GAIN)).astype(np.float32)


def ink_channel(frame: np.ndarray, balance: np.ndarray | None = None) -> np.ndarray:
    """The darkest of a pixel's three colour channels: red, blue or black ink are all dark in it.

    In plain grey a red marker is barely darker than the paper; in the channel where it absorbs most
    it is as dark as black ink. `balance`: the frame's paper_balance, applied first. (OpenCV's split
    and two minima: half the time of an erosion along the interleaved row and the strided copy it
    needs; NumPy's min over the last axis takes 80 times as long.)
    """
    img = to_8bit(frame)
    if img.ndim == 2:
        return img
    if balance is not None:
        img = cv2.transform(img, balance)
    b, g, r = cv2.split(img)
    return cv2.min(cv2.min(b, g), r)


def _brightest(img: np.ndarray) -> np.ndarray:
    """The brightest of a BGR pixel's three channels (as ink_channel takes the darkest: NumPy's max over
    the last axis took four times as long on the 80x60 sample)."""
    b, g, r = cv2.split(img)
    return cv2.max(cv2.max(b, g), r)


#: Light writing on a dark board read as dark writing on light paper: brightness g becomes 24 x 255 / g.
#: Not 255 - g: lighting multiplies brightness, and chalk twice as bright as the board must stay
#: twice as "dark" relative to its background however dim the room, as ink does on paper. (Read the
#: other way, 255 - g would turn the faint grain of a white page into strong "ink".)
RECIPROCAL = np.array([round(255 * 24 / max(g, 24)) for g in range(256)], np.uint8)


def reciprocal(img: np.ndarray) -> np.ndarray:
    return cv2.LUT(img, RECIPROCAL)


class Pyramid:
    """The ink image (`ink_channel`, or its `reciprocal` for light-on-dark) and its halvings, area-averaged,
    down to a shorter side of `smallest`. Indexed like a list: `levels[k]` is 1/2^k of the frame.

    For a frame larger than LAZY_SIDE the full-resolution level is made only when asked for (a small
    digit's crop needs it, nothing else does): the other levels start from a half-size copy of the
    colour frame, which halves the work on a 1920x1080 frame.
    """

    def __init__(self, frame: np.ndarray, smallest: int = 32) -> None:
        self.frame = to_8bit(frame)
        # A sheet smaller than the frame (the_sheet), on the _sample's grid: taken once per frame and used by
        # every step that tells the sheet from the desk (its colour, the grain of each, which shapes lie on it).
        sample = _sample(self.frame)
        self.sheet = the_sheet(sample)
        self.balance = paper_balance(self.frame, self.sheet, sample)  # the same for every level and crop
        self.shape = self.frame.shape[:2]
        self.light = False
        h, w = self.shape
        if max(h, w) > LAZY_SIDE and self.frame.ndim == 3:
            half = cv2.resize(self.frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            self.levels: list[np.ndarray | None] = [None, ink_channel(half, self.balance)]
        else:
            self.levels = [ink_channel(self.frame, self.balance)]
        while min(self.levels[-1].shape) >= 2 * smallest:
            lh, lw = self.levels[-1].shape
            self.levels.append(cv2.resize(self.levels[-1], (lw // 2, lh // 2), interpolation=cv2.INTER_AREA))

    def __len__(self) -> int:
        return len(self.levels)

    def __getitem__(self, k: int) -> np.ndarray:
        if self.levels[k] is None:  # only level 0 is ever left to be made
            img = ink_channel(self.frame, self.balance)
            self.levels[k] = reciprocal(img) if self.light else img
        return self.levels[k]

    def size(self, k: int) -> tuple[int, int]:
        """(height, width) of level k, made or not."""
        return self.shape if k == 0 else self.levels[k].shape[:2]

    def crop(self, k: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows y0:y1 and columns x0:x1 of level k: of the full-resolution level, when it was never
        made, only that much is made (a digit's crop needs a few thousand pixels of a 2-megapixel frame)."""
        if self.levels[k] is None:
            img = ink_channel(self.frame[y0:y1, x0:x1], self.balance)
            return reciprocal(img) if self.light else img
        return np.ascontiguousarray(self.levels[k][y0:y1, x0:x1])

    def __setitem__(self, k: int, img: np.ndarray) -> None:
        self.levels[k] = img

    def noise(self) -> float:
        """The sensor noise at full resolution (measured at the first level made: halving halves it)."""
        k = 0 if self.levels[0] is not None else 1
        return noise_sigma(self.levels[k]) * 2**k

    def reciprocal(self) -> Pyramid:
        """The same pyramid read as light writing on a dark ground."""
        out = object.__new__(Pyramid)
        out.frame, out.shape, out.light, out.balance = self.frame, self.shape, True, self.balance
        out.sheet = None  # a board's chalk is read over the whole board
        out.levels = [None if img is None else reciprocal(img) for img in self.levels]
        return out


def coarse_level(levels: Pyramid) -> int:
    h, w = levels.shape
    for k in range(len(levels)):
        if max(h >> k, w >> k) <= COARSE_SIDE:
            return k
    return len(levels) - 1


def noise_sigma(gray: np.ndarray) -> float:
    """The sensor noise's standard deviation in grey levels, from the median difference between
    horizontal neighbours on every 8th row (a median: the writing's edges are too few to move it)."""
    if gray.shape[1] < 2:
        return 0.0
    return _median_u8(cv2.absdiff(gray[::8, 1:], gray[::8, :-1])) / 0.954  # median of |N(0, 2 s^2)| = 0.954 s


def _median_u8(values: np.ndarray) -> int:
    return _quantile_u8(values, 0.5)


@jit
def _quantile_u8(values, q):  # pragma: no cover - compiled
    """The q-quantile of a 2-D uint8 array, from its histogram."""
    hist = np.zeros(256, np.int64)
    for y in range(values.shape[0]):
        for x in range(values.shape[1]):
            hist[values[y, x]] += 1
    rank, seen = max(1, int(np.ceil(q * values.size))), 0
    for level in range(256):
        seen += hist[level]
        if seen >= rank:
            return level
    return 0


def paper_map(gray: np.ndarray, kernel: int) -> np.ndarray:
    """The paper's brightness under each pixel: the image with every dark mark narrower than `kernel` removed."""
    k = max(3, int(kernel) | 1)
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.max(paper, 16)  # a black frame has no paper to compare with: nothing counts as ink


def darkness(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """uint8 (paper - gray) / paper: 0 on paper, 255 for black ink, the same under any light."""
    return cv2.divide(cv2.subtract(paper, gray), paper, scale=255)


def texture_level(dark: np.ndarray, sigmas: float = GRAIN, where: np.ndarray | None = None) -> int:
    """The darkness the paper's own texture reaches (median + `sigmas` robust standard deviations of
    the darkness of every 4th pixel: the paper is the majority). A paper estimate this wide takes the
    brightest grain of a large patch as "the paper", so grained paper and cardboard look inked all over.
    `where`: only those of the sampled pixels (a mask of the sample, see grains).
    """
    sample = np.ascontiguousarray(dark[::4, ::4])
    if where is not None:
        sample = np.ascontiguousarray(sample[where][None, :])
    med = _median_u8(sample)
    spread = _median_u8(cv2.absdiff(sample, np.full_like(sample, med)))
    return int(med + sigmas * MAD_SD * spread)


def grains(dark: np.ndarray, sigmas: float = GRAIN, sheet: np.ndarray | None = None,
           ) -> tuple[int, int, np.ndarray | None]:
    """The paper's grain (texture_level) on the sheet and off it, and the sheet's uint8 0/1 mask at
    `dark`'s size; one grain for the whole frame and no mask where there is no `sheet` (Pyramid.sheet:
    it is most of the frame, or the writing is not on the small bright part, see measure_scale).
    A note or a card on a desk is written on, the desk around it is not: the desk's grain next to its
    own blotches (or to a paper estimate spread from the note over it) says nothing of the note's, and
    the note's says nothing of what is ink on the desk."""
    if sheet is None:
        grain = texture_level(dark, sigmas)
        return grain, grain, None
    h, w = dark[::4, ::4].shape
    where = cv2.resize(sheet.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    full = cv2.resize(sheet.view(np.uint8), (dark.shape[1], dark.shape[0]), interpolation=cv2.INTER_NEAREST)
    return texture_level(dark, sigmas, where), texture_level(dark, sigmas, ~where), full


def _by_surface(sheet: np.ndarray | None, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """`on` on the sheet and `off` elsewhere (uint8 masks); `on` where there is no small sheet."""
    return on if sheet is None else np.where(sheet > 0, on, off)


def the_sheet(sample: np.ndarray) -> np.ndarray | None:
    """Where the sheet is in a small uint8 image of the frame (grey or colour), if it is less than half
    of the frame (a sticky note or a card on a desk); None where the sheet is most of the frame, as it
    usually is: the frame's statistics are then the paper's, and a desk at a corner or a hard shadow
    is no sheet of its own. Bright strokes (chalk) are opened away first: chalk is no sheet.

    The sheet is where the frame is at least SHEET_LIGHT of its bright end (the SHEET_TOP quantile):
    a desk darker than any hard shadow. A desk brighter than that is told from a shadow by its colour
    (a shadow dims the paper, it does not tint it): the frame's bright part (Otsu's split), one piece,
    whose outline steps down to SHEET_EDGE of its brightness or less just outside it, and whose
    surroundings there differ in colour from it (SHEET_TINT) along SHEET_AROUND of the outline or more.
    """
    bright = _brightest(sample) if sample.ndim == 3 else sample
    k = max(3, int(SHEET_OPEN * min(bright.shape)) | 1)
    opened = cv2.morphologyEx(bright, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    top = _quantile_u8(opened, SHEET_TOP)
    on = opened >= SHEET_LIGHT * top
    if _sheet_sized(cv2.countNonZero(on.view(np.uint8)), on.size):
        return on
    return _tinted_sheet(sample, opened) if sample.ndim == 3 else None


def _sheet_sized(n: int, size: int) -> bool:
    return SMALLEST_SHEET * size <= n < size / 2


def _tinted_sheet(sample: np.ndarray, opened: np.ndarray) -> np.ndarray | None:
    """the_sheet on a desk brighter than SHEET_LIGHT of it: see there."""
    _, bright = cv2.threshold(opened, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if not _sheet_sized(cv2.countNonZero(bright), bright.size):
        return None
    _, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if not _sheet_sized(int(stats[largest, cv2.CC_STAT_AREA]), bright.size):
        return None
    sheet = (labels == largest).view(np.uint8)
    ring = np.ones((3, 3), np.uint8)
    inside = cv2.subtract(cv2.erode(sheet, ring), cv2.erode(sheet, ring, iterations=2)) > 0
    outside = cv2.subtract(cv2.dilate(sheet, ring, iterations=2), cv2.dilate(sheet, ring)) > 0
    if not inside.any() or not outside.any():
        return None
    if np.median(opened[outside]) >= SHEET_EDGE * np.median(opened[inside]):
        return None  # a soft edge: a pool of light, not a sheet
    def chroma(colours: np.ndarray) -> np.ndarray:  # brightness divided out
        colours = colours.astype(np.float32)
        return colours / np.maximum(colours.sum(axis=1, keepdims=True), 1.0)
    apart = np.abs(chroma(sample[outside]) - np.median(chroma(sample[inside]), axis=0)).max(axis=1) > SHEET_TINT
    return sheet.view(bool) if apart.mean() >= SHEET_AROUND else None


def ink_mask(gray: np.ndarray, paper: np.ndarray, share: float, floor: int) -> np.ndarray:
    """Pixels darker than the paper by `share` of its brightness and by `floor` grey levels."""
    limit = cv2.convertScaleAbs(paper, alpha=1.0 - share)
    if floor > 0:
        limit = cv2.min(limit, cv2.subtract(paper, floor))
    return cv2.compare(gray, limit, cv2.CMP_LT)


def components(mask: np.ndarray, labelled: Labelled | None = None,
               ) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a 0/255 mask: (count with the background, int32 labels, stats).

    `stats` has cv2.connectedComponentsWithStats's columns (x, y, w, h, area), the background's row (0)
    holding the whole mask's box, and one more, BOUNDARY: the shape's pixels with a 4-neighbour off
    it (2 x area / boundary is its mean stroke width). OpenCV's own stats cost half a millisecond on
    any 320x240 mask, even an empty one; labelling alone and one compiled pass for the rest cost a
    fifth of that. `labelled`: the mask's labelling (and stats), where they were made already (see
    without_shade, without_bands).
    """
    if labelled is not None and len(labelled) == 3:
        return labelled
    n, labels = labelled or cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
    return n, labels, _box_stats(labels, n)


def without_shade(mask: np.ndarray, dark: np.ndarray, writing: float = 0.0,
                  ) -> tuple[np.ndarray, Labelled | None]:
    """The mask less the shade in it: within each shape that reaches the frame's border, or that is
    mostly faint and wide inside, the pixels under SHADE of the darkness its darkest ink reaches (its darkest 1 %),
    unless pixels that dark lie on the border themselves: a dark desk around the sheet, a marker
    stroke cut by the frame's edge.

    A hard shadow, or the dark desk beyond the sheet, that touches a digit joins it at the low
    threshold and carries it to the border, where it is no longer taken for writing: one big digit
    held up to the camera with a hand's shadow across it is then not read at all. Ink is several
    times darker than any shade next to it, so the join goes and the digit stands alone. A shadow
    clear of the border that a digit's stroke crosses (something held over the sheet, the paper
    estimate of a big digit wider than the shadow) is a shape with SHADE_MOST times more faint
    pixels than ink: it goes the same way. Other shapes are left whole: there the low threshold's
    faint pixels hold blurred strokes and a word's letters together, and they are a fringe along
    the ink, not most of the shape. (A digit under 1 % of a vast shade's area sets no limit: its
    shape stays as it was.) With the `writing`'s darkness (0-255) known, a shape reaching the border
    whose ink stays under SHADE of it is shade through and through (a shadow's corner, no stroke in
    it) and goes whole: beside a digit it would join it as a piece and carry it to the border.

    Returns the mask and, where nothing was cut (the usual frame), its labelling (count, labels),
    which `components` then takes instead of labelling the mask again.
    """
    n, labels = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
    if n <= 1:
        return mask, (n, labels)
    xy = cv2.findNonZero(mask).reshape(-1, 2)  # ink is a few % of a frame: its pixels are walked, not the frame's
    xs, ys = xy[:, 0], xy[:, 1]
    lab, dk = labels[ys, xs], dark[ys, xs]
    H, W = mask.shape
    ring = np.concatenate((labels[0], labels[H - 1], labels[:, 0], labels[:, W - 1]))
    ring_dark = np.concatenate((dark[0], dark[H - 1], dark[:, 0], dark[:, W - 1]))
    slot, limit, doubt = _shade_limits(lab, dk, ring, ring_dark, n, SHADE, SHADE_MOST, SHADE_AREA, SHADE * writing)
    if doubt.any():  # mostly faint shapes clear of the border: blots, or blurred strokes?
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)[ys, xs]
        _keep_blots(labels, ys, xs, lab, dk, dist, slot, limit, doubt, BLOT)
    if not (limit > 0).any():
        return mask, (n, labels)  # no shade anywhere: the usual frame
    at = slot[lab]
    cut = (at >= 0) & (dk < limit[np.maximum(at, 0)])
    if not cut.any():
        return mask, (n, labels)
    out = mask.copy()
    out[ys[cut], xs[cut]] = 0
    return out, None


def without_bands(mask: np.ndarray, dark: np.ndarray, labelled: Labelled | None, stroke: float,
                  writing: float) -> tuple[np.ndarray, Labelled | None]:
    """The mask less long straight bands of shade, save the writing across them.

    A ruler's or an arm's hard shadow can be darker than pencil writing, so darkness alone does not
    part it from the digits it crosses (without_shade): it joins them all into one shape that is no
    digit. But it is a band: its inside, the pixels further than BAND_DEEP pen strokes (`stroke`, mask
    pixels) from its edge, which no pen stroke has (nor a printed line: LINE_THICK), runs straight
    across BAND_SPAN of the frame, BAND_STRAIGHT times longer than wide. Within such a band (its inside,
    with the pieces of it on the same line where writing crossing it broke it, grown back to its edge),
    what is not clearly darker than the band around it goes: ink written across it is darker by half
    the `writing`'s darkness (0-255) at least. Returns the mask and its labelling as without_shade does.
    """
    if stroke <= 0:
        return mask, labelled
    span = BAND_SPAN * max(mask.shape)
    n, labels, boxes = components(mask, labelled)
    wide = np.flatnonzero(np.maximum(boxes[1:, 2], boxes[1:, 3]) >= span) + 1
    if not wide.size:  # the usual frame: no shape crosses that much of it
        return mask, (n, labels, boxes)
    depth = max(BAND_DEEP * stroke, LINE_THICK * max(mask.shape))  # (a printed line is no band)
    H, W = mask.shape  # (the box of those shapes and a pixel more: its edge is background, as in the mask)
    x0, y0 = max(0, int(boxes[wide, 0].min()) - 1), max(0, int(boxes[wide, 1].min()) - 1)
    x1 = min(W, int((boxes[wide, 0] + boxes[wide, 2]).max()) + 1)
    y1 = min(H, int((boxes[wide, 1] + boxes[wide, 3]).max()) + 1)
    sub = np.isin(labels[y0:y1, x0:x1], wide).view(np.uint8) * np.uint8(255)
    deep = cv2.compare(cv2.distanceTransform(sub, cv2.DIST_L2, 3), depth, cv2.CMP_GT)
    m, parts, stats, _ = cv2.connectedComponentsWithStats(deep, connectivity=8)
    bands = []  # (normal, least and most offset of its inside across it) of each long straight inside
    for k in range(1, m):
        if max(stats[k, 2], stats[k, 3]) < span:
            continue
        ys, xs = np.nonzero(parts == k)
        pts = np.stack([xs + x0, ys + y0]).astype(np.float64)
        spread, axes = np.linalg.eigh(np.cov(pts))
        if spread[1] >= BAND_STRAIGHT**2 * max(spread[0], 1.0):  # straight, not a blotch or a dim patch
            across = axes[:, 0] @ pts
            bands.append((axes[:, 0], across.min(), across.max()))
    if not bands:
        return mask, (n, labels, boxes)
    # The band's inside may be broken where writing crosses it, into pieces of other shapes: the deep
    # pixels of the whole mask on its line go too.
    dy, dx = np.nonzero(cv2.compare(cv2.distanceTransform(mask, cv2.DIST_L2, 3), depth, cv2.CMP_GT))
    reach = int(np.ceil(depth)) + 1
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    out = mask.copy()
    for normal, lo, hi in bands:
        off = normal[0] * dx + normal[1] * dy
        on = (off >= lo - 1) & (off <= hi + 1)
        if not on.any():
            continue
        bx0, by0 = max(0, int(dx[on].min()) - 2 * reach), max(0, int(dy[on].min()) - 2 * reach)
        bx1, by1 = min(W, int(dx[on].max()) + 2 * reach + 1), min(H, int(dy[on].max()) + 2 * reach + 1)
        band = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
        band[dy[on] - by0, dx[on] - bx0] = 255
        band = cv2.dilate(band, grow) > 0
        here = dark[by0:by1, bx0:bx1]
        level = cv2.medianBlur(here, min(255, 4 * reach + 1)).astype(np.float32)  # the band's own darkness, here
        cut = band & (mask[by0:by1, bx0:bx1] > 0) & (here < level + BAND_INK * writing * (1 - level / 255))
        out[by0:by1, bx0:bx1][cut] = 0
    return out, None


@jit
def _shade_limits(lab, dk, ring, ring_dark, n, share, most, least, faint):  # pragma: no cover - compiled
    """Per shape (`lab`, `dk`: label and darkness of each ink pixel; `ring`, `ring_dark`: of the
    frame's border pixels) reaching the border or of at least `least` pixels (its slot): its ink's
    darkness is what the darkest 1 % of its pixels (and at least 3) reach, and its limit `share` of
    it; a shape clear of the border keeps a limit only with `most` times as many pixels under it as
    over it (and is in doubt, for _keep_blots); a shape reaching the border keeps it unless some of
    its border pixels are that dark, and goes whole (limit 256) if its ink is under `faint`."""
    area = np.zeros(n, np.int64)
    for k in lab:
        area[k] += 1
    border = np.zeros(n, np.bool_)
    for k in ring:
        border[k] = True
    slot = np.full(n, -1, np.int64)  # the shapes looked at get a histogram each (few: most are specks)
    m = 0
    for k in range(1, n):
        if border[k] or area[k] >= least:
            slot[k] = m
            m += 1
    hist = np.zeros((m, 256), np.int64)
    for i in range(lab.size):
        j = slot[lab[i]]
        if j >= 0:
            hist[j, dk[i]] += 1
    limit = np.zeros(m, np.float64)
    doubt = np.zeros(m, np.bool_)
    for k in range(1, n):
        j = slot[k]
        if j < 0:
            continue
        want = max(3, area[k] // 100)
        seen = 0
        for d in range(255, -1, -1):
            seen += hist[j, d]
            if seen >= want:
                limit[j] = share * d
                break
        if border[k] and limit[j] < share * faint:
            limit[j] = 256.0  # shade through and through
        if not border[k]:
            under = 0
            for d in range(int(np.ceil(limit[j]))):
                under += hist[j, d]
            doubt[j] = under >= most * (area[k] - under)
            if not doubt[j]:
                limit[j] = 0.0  # clear of the border and not mostly faint: a blurred stroke, a word
    # Where the shape's dark part itself reaches the border (a dark desk around the sheet, a marker
    # stroke cut by the frame), there is no shade to part it from: the shape stays whole.
    for i in range(ring.size):
        k = ring[i]
        if k > 0 and slot[k] >= 0 and ring_dark[i] >= limit[slot[k]] and limit[slot[k]] < 256.0:
            limit[slot[k]] = 0.0
    return slot, limit, doubt


@jit
def _keep_blots(labels, ys, xs, lab, dk, dist, slot, limit, doubt, blot):  # pragma: no cover - compiled
    """A shape in doubt keeps its limit (its faint pixels go) only if its faint part is a blot: some
    faint pixel lies deeper inside the shape (`dist`, per ink pixel) than `blot` times its mean
    stroke width (2 x area / edge pixels), as a shadow's inside does, while every part of a blurred
    stroke, however faint, is about as wide as the stroke (and a blot of ink where a hairline's
    strokes meet is dark)."""
    H, W = labels.shape
    m = limit.size
    area, edge = np.zeros(m, np.int64), np.zeros(m, np.int64)
    core = np.zeros(m, np.float64)
    for i in range(lab.size):
        k = lab[i]
        j = slot[k]
        if j < 0 or not doubt[j]:
            continue
        y, x = ys[i], xs[i]
        area[j] += 1
        if ((y > 0 and labels[y - 1, x] != k) or (y + 1 < H and labels[y + 1, x] != k)
                or (x > 0 and labels[y, x - 1] != k) or (x + 1 < W and labels[y, x + 1] != k)):
            edge[j] += 1
        if dk[i] < limit[j]:
            core[j] = max(core[j], dist[i])
    for j in range(m):
        if doubt[j] and core[j] <= blot * 2.0 * area[j] / max(edge[j], 1) + 1:
            limit[j] = 0.0


BOUNDARY = 5  # the column of `components`' stats that counts a shape's edge pixels


@jit
def _box_stats(labels, n):  # pragma: no cover - compiled
    stats = np.zeros((n, 6), np.int32)
    H, W = labels.shape
    x0 = np.full(n, labels.shape[1], np.int32)
    y0 = np.full(n, labels.shape[0], np.int32)
    x1 = np.full(n, -1, np.int32)
    y1 = np.full(n, -1, np.int32)
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            k = labels[y, x]
            if k == 0:  # the background: most pixels, and nobody asks for its box
                continue
            stats[k, 4] += 1
            if ((y > 0 and labels[y - 1, x] == 0) or (y + 1 < H and labels[y + 1, x] == 0)
                    or (x > 0 and labels[y, x - 1] == 0) or (x + 1 < W and labels[y, x + 1] == 0)):
                stats[k, 5] += 1
            if x < x0[k]:
                x0[k] = x
            if x > x1[k]:
                x1[k] = x
            if y < y0[k]:
                y0[k] = y
            if y > y1[k]:
                y1[k] = y
    for k in range(1, n):
        stats[k, 0], stats[k, 1] = x0[k], y0[k]
        stats[k, 2], stats[k, 3] = max(0, x1[k] - x0[k] + 1), max(0, y1[k] - y0[k] + 1)
    stats[0, 2], stats[0, 3] = labels.shape[1], labels.shape[0]
    stats[0, 4] = labels.size - stats[1:, 4].sum()
    return stats


@dataclass
class _Shapes:
    """Connected shapes of a mask with what the scale and polarity decisions need."""

    count: int
    stats: np.ndarray  # rows (x, y, w, h, area) as `components` gives them; row 0 is the background
    stroke: np.ndarray  # mean stroke width of each shape (2 x area / boundary pixels)
    strong: np.ndarray  # pixels of each shape that pass the high threshold
    core_stroke: np.ndarray  # mean width of those pixels' strokes (without the soft rim the low threshold adds)
    core: np.ndarray  # the largest distance from a pixel of the shape to its edge
    dark: np.ndarray  # mean darkness of each shape (0-255)
    sure_box: np.ndarray  # bounding box (x0, y0, x1, y1) of the clearly inked pixels (x1 < 0: none)


def _shapes(mask: np.ndarray, dark: np.ndarray, strong: int, n: int, labels: np.ndarray, stats: np.ndarray,
            ) -> _Shapes:
    stroke = 2.0 * stats[:, cv2.CC_STAT_AREA] / np.maximum(stats[:, BOUNDARY], 1)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    n_strong, core, total, box = _per_shape(labels, dark, dist, n, strong)
    sure = cv2.bitwise_and(cv2.threshold(dark, strong - 1, 255, cv2.THRESH_BINARY)[1], mask)
    sure_edge = cv2.subtract(sure, cv2.erode(sure, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))))
    core_stroke = 2.0 * n_strong / np.maximum(np.bincount(labels[sure_edge > 0], minlength=n), 1)
    mean = total / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    return _Shapes(n, stats, stroke, n_strong, core_stroke, core, mean, box)


@jit
def _per_shape(labels, dark, dist, n, strong):  # pragma: no cover - compiled
    """Per label: pixels at least `strong` dark and their bounding box (x0, y0, x1, y1), the largest
    distance to the edge, the summed darkness."""
    n_strong = np.zeros(n, np.int64)
    core = np.zeros(n, np.float32)
    total = np.zeros(n, np.float64)
    box = np.empty((n, 4), np.int64)
    box[:, 0], box[:, 1], box[:, 2], box[:, 3] = labels.shape[1], labels.shape[0], -1, -1
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            k = labels[y, x]
            if k > 0:
                d = dark[y, x]
                total[k] += d
                if d >= strong:
                    n_strong[k] += 1
                    box[k, 0], box[k, 1] = min(box[k, 0], x), min(box[k, 1], y)
                    box[k, 2], box[k, 3] = max(box[k, 2], x), max(box[k, 3], y)
                if dist[y, x] > core[k]:
                    core[k] = dist[y, x]
    return n_strong, core, total, box


def _writing(sh: _Shapes, shape: tuple[int, int]) -> np.ndarray:
    """Which shapes look like writing: drawn with a pen, partly clearly ink, clear of the frame's
    border (paper edges and shadows reach it), and not faint next to the rest.

    The border is judged on the shape's clearly inked part: a shadow crossing a digit joins it at the
    low threshold, and may run to the border. Drawn with a pen: several stroke widths tall. Faint: a
    shadow is a shade darker than the paper, ink several shades; a shape at under half the darkness
    of the frame's clearest writing is shade, not writing.
    """
    H, W = shape
    x0, y0, x1, y1 = (sh.sure_box[:, k] for k in range(4))
    edge = (x0 <= 0) | (y0 <= 0) | (x1 >= W - 1) | (y1 >= H - 1)
    h = sh.stats[:, cv2.CC_STAT_HEIGHT]
    ok = (sh.strong > 0) & (h >= 3) & (h >= WRITING_SHAPE * sh.stroke) & ~edge
    ok[0] = False
    if ok.any():
        ok &= sh.dark >= 0.5 * np.percentile(sh.dark[ok], 90)
    return ok


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def measure_scale(gray: np.ndarray, factor: float, share: float, strong: float, floor: int,
                  sheet: np.ndarray | None = None) -> tuple[Scale, float, np.ndarray]:
    """The writing's scale from a coarse image (`factor` full-resolution pixels per pixel), how much
    clearly-inked writing drawn with a pen it holds, and the mask of that writing.

    The paper estimate here spans a third of the frame, so that even a marker digit filling the frame
    keeps its strokes; shadows and vignetting that this wide a kernel mistakes for ink make shapes
    that touch the border or are blots, not pen strokes, and are left out, and ink must stand out
    of the paper's texture. Each shape's weight is its
    clearly-inked area, so that a large digit outweighs a page of small print. A sheet smaller than
    the frame (the_sheet) has its own grain, and the desk around it its own (grains), if the writing
    is on it: a bright window behind a sheet held up in a dim room is no sheet.
    """
    paper = paper_map(gray, COARSE_KERNEL * min(gray.shape))
    dark = darkness(gray, paper)
    grain, desk_grain, sheet = grains(dark, GRAIN, sheet)
    sh, labels, ok = _writing_shapes(gray, paper, dark, share, strong, floor, grain, desk_grain, sheet)
    if sheet is not None and not _written_on(ok[labels].view(np.uint8), sheet):
        grain, desk_grain, sheet = grains(dark)  # one surface after all
        sh, labels, ok = _writing_shapes(gray, paper, dark, share, strong, floor, grain, desk_grain, sheet)
    if not ok.any():
        return Scale(2.0, 0.0, False), 0.0, np.zeros_like(labels, np.uint8)
    # Blots count only when there is nothing else: no part of a pen stroke is much wider than its mean
    # width (its middle is half its width from the edge), while a blot's, a shadow's or a filled
    # shape's middle is as far from the edge as its mean "width" says. (A blocky bitmap digit alone
    # on a page is partly like that too.)
    pen = ok & (sh.core <= BLOT * sh.stroke + 1)
    if pen.any():
        ok = pen
    weight = sh.strong[ok].astype(np.float64)
    stroke = _weighted_median(sh.core_stroke[ok], weight) * factor
    height = _weighted_median(sh.stats[ok, cv2.CC_STAT_HEIGHT].astype(np.float64), weight) * factor
    contrast = _weighted_median(sh.dark[ok], weight) / 255
    extent = _weighted_median(sh.stroke[ok], weight) * factor
    scale = Scale(stroke, height, True, contrast, max(stroke, extent), sheet is not None)
    amount = float(weight.sum()) * factor * factor if pen.any() else 0.0  # blots alone are no evidence of writing
    return scale, amount, ok[labels].view(np.uint8)


def _writing_shapes(gray: np.ndarray, paper: np.ndarray, dark: np.ndarray, share: float, strong: float,
                    floor: int, grain: int, desk_grain: int, sheet: np.ndarray | None,
                    ) -> tuple[_Shapes, np.ndarray, np.ndarray]:
    """measure_scale's shapes over the paper's grain (the sheet's and the desk's, see grains): the
    shapes, their labels, and which of them look like writing."""
    above = _by_surface(sheet, cv2.threshold(dark, grain, 255, cv2.THRESH_BINARY)[1],
                        cv2.threshold(dark, desk_grain, 255, cv2.THRESH_BINARY)[1])
    mask = cv2.bitwise_and(ink_mask(gray, paper, share, floor), above)
    mask, _ = remove_lines(mask, gray, dark)
    # "Clearly ink" relative to the paper's own grain, not to black: a faint blue pen or a pencil out
    # of focus never reaches a third of black, yet stands well clear of the paper.
    sure = min(round(255 * strong), max(grain, round(255 * share)) + SURE_OVER_GRAIN)
    mask, labelled = without_shade(mask, dark)
    n, labels, stats = components(mask, labelled)
    sh = _shapes(mask, dark, sure, n, labels, stats)
    return sh, labels, _writing(sh, gray.shape)


def search_level(scale: Scale, coarse: int) -> int:
    """The coarsest pyramid level at which the strokes are still SEARCH_STROKE pixels wide.

    A stroke measured at the coarse level's two-pixel floor may be thinner than that: then one level
    finer, so that a hairline is not lost.
    """
    if not scale.found:
        return max(0, coarse - 1)
    level = math.floor(math.log2(max(scale.stroke, 1.0) / SEARCH_STROKE))
    if scale.stroke <= 2.2 * 2**coarse:
        level -= 1
    return min(coarse, max(0, level))


@dataclass(frozen=True)
class Look:
    """What the first, coarse look at a frame found: the writing's scale, which way round it is, and
    whether the sheet has printed lines.

    None of these changes from one frame of a video to the next: the live loop takes a new look every
    few frames and hands the last one to the frames between (`find_ink(..., look=)`)."""

    scale: Scale
    light_on_dark: bool
    coarse: int  # the pyramid level it was taken at
    shape: tuple[int, int]  # the frame's size it holds for
    lines: bool = True  # printed lines were seen: with none, the frames sharing the look skip the search


def first_look(levels: Pyramid, noise: float, share: float, threshold: float, light_on_dark: bool | None) -> Look:
    """The writing's scale and polarity from the coarse level; from a finer one if that sees no writing
    (thin, faint strokes). A shape's pixels are those `share` darker than the paper; writing so faint
    that this is more than FAINT_LOOK of its own darkness (a pale pen out of focus: its strokes' soft
    rims, even their middles in places, fall under it, and the strokes measure thin and the digits
    short, in pieces) is measured again down to FAINT_LOOK of its darkness, as the search level's
    thresholds follow the writing's darkness too."""
    c = coarse_level(levels)
    while True:
        coarse, coarse_noise = quieten(levels[c], noise / 2**c, 3.5)  # area averaging halves the noise per level
        scale, light = _first_look(coarse, 2.0**c, share, threshold, round(NOISE_SIGMAS * coarse_noise), light_on_dark,
                                   levels.sheet)
        if scale.found or c == 0 or max(levels.shape) >> (c - 1) > FINEST_LOOK:
            break
        c -= 1
    if scale.found and FAINT_LOOK * scale.contrast < share:  # faint writing: its whole strokes, measured again
        again = measure_scale(reciprocal(coarse) if light else coarse, 2.0**c, FAINT_LOOK * scale.contrast, threshold,
                              round(NOISE_SIGMAS * coarse_noise), None if light else levels.sheet)[0]
        if again.found:
            scale = again
    return Look(scale, light, c, levels.shape)


def find_ink(frame: np.ndarray, threshold: float, low_ratio: float, light_on_dark: bool | None = None,
             look: Look | None = None) -> Ink:
    """The ink of a frame: polarity, scale, search level, paper, mask and printed lines (see the module
    doc). `look`: a first look taken at an earlier frame of the same video, used instead of a new one."""
    levels = Pyramid(frame)
    noise = levels.noise()
    share = threshold * low_ratio
    fresh = look is None or look.shape != levels.shape
    if fresh or (light_on_dark is not None and look.light_on_dark != light_on_dark):
        look, fresh = first_look(levels, noise, share, threshold, light_on_dark), True
    scale, c, light = look.scale, look.coarse, look.light_on_dark
    if light:
        levels = levels.reciprocal()
    level = search_level(scale, c)
    f = 2.0**level
    # A noisy search level is smoothed; a digit's crop still comes from the level that keeps it
    # CROP_HEIGHT tall (shrunk to 20 px, its noise costs less than the smoothing's blur).
    gray, level_noise = quieten(levels[level], noise / f, scale.stroke / f)
    smoothed = gray is not levels[level]
    levels[level] = gray
    paper = paper_map(gray, max(5.0, (PAPER_STROKES * scale.extent + 2) / f, PAPER_HEIGHTS * scale.height / f))
    dark = darkness(gray, paper)
    grain, desk_grain, sheet = grains(dark, NOISY_GRAIN if smoothed else GRAIN, levels.sheet if scale.sheet else None)
    low, high = _thresholds(grain, scale, share, threshold)
    desk = _thresholds(desk_grain, scale, share, threshold)
    floor = round(NOISE_SIGMAS * level_noise)
    mask = ink_mask(gray, paper, low / 255, floor)
    if sheet is not None:
        mask = _by_surface(sheet, mask, ink_mask(gray, paper, desk[0] / 255, floor))
    if fresh or look.lines:
        mask, lines = remove_lines(mask, gray, dark, scale.height / f if scale.found else 0.0, 255 * scale.contrast,
                                   scale.stroke / f if scale.found else 0.0)
        if fresh:
            look = replace(look, lines=cv2.countNonZero(lines) > 0)
    else:  # a sheet with no printed lines a few frames ago has none now
        lines = np.zeros_like(mask)
    mask, labelled = without_shade(mask, dark, 255 * scale.contrast if scale.found else 0.0)
    if scale.found:
        mask, labelled = without_bands(mask, dark, labelled, scale.stroke / f, 255 * scale.contrast)
    if scale.found and not light and low == grain + SURE_OVER_GRAIN // 2 and not cv2.countNonZero(lines):
        mask, labelled = along_ridges(mask, labelled, dark, paper, scale.stroke / f, low, high)
    return Ink(levels, level, paper, mask, lines, low, high, scale, light, look, labelled, dark, sheet, desk, floor)


def along_ridges(mask: np.ndarray, labelled: Labelled | None, dark: np.ndarray, paper: np.ndarray, stroke: float,
                 low: int, high: int) -> tuple[np.ndarray, Labelled | None]:
    """The mask with its writing's shapes carried on along ridges of the darkness (ridges), for a frame
    whose threshold `low` the paper's grain set (texture_level): cardboard, a dim room's sensor noise, a
    pale pen out of focus. There the faint parts of a stroke are as dark as the paper's blotches and
    fall under the threshold, and a digit is read in pieces, or not at all; yet a stroke is a line, and
    the grain is blots and specks. A ridge joins the shape it touches where that shape holds clearly
    inked pixels (`high`) and is no straight sliver along a row or a column (RIDGE_BENT: a sheet's
    outline, a rule's piece); not where the joined shape crosses LINE_PIECE of the frame (a faint grid
    too broken to be found as printed lines), nor on the desk around the sheet (RIDGE_PAPER), nor where
    the ridges join no two shapes and add under GROW_LEAST to the shape (the rim of a whole stroke: it
    changes how a sure digit reads, and mends nothing).
    Printed lines and chalk boards are left out by the caller: their lines and smudges are ridges too.
    Returns the mask and its labelling (None: changed)."""
    _, mask_labels, mask_stats = components(mask, labelled)
    add = ridges(dark, max(0.8, RIDGE_SIGMA * stroke), RIDGE_SHARE * low)  # (3x3 differences need 0.8 px at least)
    typical = _median_u8(np.ascontiguousarray(paper[::4, ::4]))
    add = cv2.bitwise_and(add, cv2.threshold(paper, RIDGE_PAPER * typical, 255, cv2.THRESH_BINARY)[1])
    n, labels, stats = components(cv2.bitwise_or(add, mask))
    bent = np.minimum(mask_stats[:, 2], mask_stats[:, 3]) > RIDGE_BENT * stroke
    bent[0] = False
    H, W = mask.shape
    whole = (stats[:, 2] <= LINE_PIECE * W) & (stats[:, 3] <= LINE_PIECE * H)
    return _reached(labels, mask_labels, dark, high, bent, whole, n, GROW_LEAST), None


@jit
def _reached(labels, mask_labels, dark, high, bent, whole, n, least):  # pragma: no cover - compiled
    """The mask (mask_labels > 0) with every shape of `labels` (the mask and the ridges) that holds a
    pixel at least `high` dark of a `bent` mask shape, where that shape is `whole` and the ridges join
    two of the mask's shapes in it or add at least `least` of its mask pixels (less, joining nothing,
    is the rim of a whole stroke)."""
    keep = np.zeros(n, np.bool_)
    first = np.zeros(n, np.int64)
    joins = np.zeros(n, np.bool_)
    had = np.zeros(n, np.int64)
    more = np.zeros(n, np.int64)
    H, W = labels.shape
    for y in range(H):
        for x in range(W):
            j = labels[y, x]
            k = mask_labels[y, x]
            if k > 0:
                had[j] += 1
                if first[j] == 0:
                    first[j] = k
                elif first[j] != k:
                    joins[j] = True
                if bent[k] and dark[y, x] >= high:
                    keep[j] = True
            elif j > 0:
                more[j] += 1
    out = np.zeros((H, W), np.uint8)
    for y in range(H):
        for x in range(W):
            j = labels[y, x]
            if mask_labels[y, x] > 0 or (j > 0 and keep[j] and whole[j] and (joins[j] or more[j] >= least * had[j])):
                out[y, x] = 255
    return out


def ridges(dark: np.ndarray, sigma: float, least: float) -> np.ndarray:
    """uint8 0/255: the pixels of `dark` at least `least` dark on a ridge, a line about 2 `sigma` wide.

    The Hessian of the darkness smoothed by `sigma`: across a line it curves down steeply, along it
    hardly (its strength: the steeper curvature less the size of the other); the side of a
    step (a shadow's or a sheet's edge) curves too, but on a slope (RIDGE_EDGE). A ridge stands out
    of the frame's typical strength by RIDGE_SIGMAS robust standard deviations. From RIDGE_HALF px of
    smoothing on, the same at half resolution (a quarter of the cost; the strokes still 1.6 px wide there).
    """
    H, W = dark.shape
    half = sigma >= RIDGE_HALF and min(H, W) >= 16
    small = cv2.resize(dark, (W // 2, H // 2), interpolation=cv2.INTER_AREA) if half else dark
    s = sigma / 2 if half else sigma
    g = cv2.getGaussianKernel(2 * round(4 * s) + 1, s).astype(np.float32)
    d = cv2.sepFilter2D(small, cv2.CV_32F, g, g)
    rim = int(math.ceil(2 * s)) + 1  # the filters reach past the frame's border there
    r = _ridge_strength(d, rim, np.float32(RIDGE_EDGE * s))
    sample = r[::2, ::2].ravel() if half else r[::4, ::4].ravel()
    med = float(np.median(sample))
    mad = float(np.median(np.abs(sample - med)))
    bar = med + RIDGE_SIGMAS * MAD_SD * mad
    ridge = cv2.compare(r, bar, cv2.CMP_GT)
    if half:
        ridge = cv2.resize(ridge, (W, H), interpolation=cv2.INTER_NEAREST)
    return cv2.bitwise_and(ridge, cv2.compare(dark, least, cv2.CMP_GE))


@jit
def _ridge_strength(d, rim, edge):  # pragma: no cover - compiled
    """Per pixel of the smoothed darkness `d` (0 within `rim` of the border): the ridge strength, the
    Hessian's curvature across (its lower eigenvalue, negated) less the size of the one along, which
    is min(-trace, the eigenvalues' difference); 0 where that is not positive or where the slope is
    over `edge` times the curvature across."""
    H, W = d.shape
    out = np.zeros((H, W), np.float32)
    for y in range(rim, H - rim):
        for x in range(rim, W - rim):
            c = d[y, x]
            a = d[y, x - 1] - 2 * c + d[y, x + 1]
            b = d[y - 1, x] - 2 * c + d[y + 1, x]
            if a + b >= 0:  # curving up, or no more across than along
                continue
            e = 0.25 * (d[y + 1, x + 1] - d[y + 1, x - 1] - d[y - 1, x + 1] + d[y - 1, x - 1])
            root = math.sqrt(0.25 * (a - b) * (a - b) + e * e)
            lo = 0.5 * (a + b) - root
            gx = 0.5 * (d[y, x + 1] - d[y, x - 1])
            gy = 0.5 * (d[y + 1, x] - d[y - 1, x])
            if gx * gx + gy * gy > edge * edge * lo * lo:
                continue
            out[y, x] = min(-(a + b), 2 * root)
    return out


def grown(ink: Ink, near: list[tuple[int, int, int, int]]) -> Ink | None:
    """The ink with its shapes grown, by up to GROW_STROKES of the writing's stroke width, into the pixels
    next to them that are GROW_SHARE as dark as a shape's pixels must be (never into printed lines),
    within a box's height of the boxes `near` (search pixels); None where no writing was seen, or where
    that adds under GROW_LEAST of the ink in those boxes (the rims of whole strokes: 3-9 % on the
    benchmark's printed digits; a faint part of a stroke 10 % to several times).

    The faint part of a stroke (a pencil's lighter pressure, a pale pen out of focus, ink on cardboard
    as dark as its fibres) falls under the mask's threshold, and the digit is read from what is left
    of it: a 6 without its stem, a 0 without its right side. Grown from the writing's own shapes, the
    stroke is whole again; grown from nothing, the paper's grain would be writing everywhere. Read only
    for digits in doubt (pipeline.Reader._regrown): a sure digit is whole already, and growing every
    shape joins digits to faint grid lines and a sticky note's outline pieces into slivers.
    """
    if not ink.scale.found:
        return None
    f = 2.0**ink.level
    H, W = ink.mask.shape
    x0 = max(0, min(x - w for x, _, w, _ in near))
    y0 = max(0, min(y - h for _, y, _, h in near))
    x1 = min(W, max(x + 2 * w for x, _, w, _ in near))
    y1 = min(H, max(y + 2 * h for _, y, _, h in near))
    if x1 <= x0 or y1 <= y0:
        return None
    window = np.s_[y0:y1, x0:x1]
    fainter = ink_mask(ink.levels[ink.level][window], ink.paper[window], GROW_SHARE * ink.low / 255, ink.floor)
    if cv2.countNonZero(ink.lines[window]):
        fainter = cv2.bitwise_and(fainter, cv2.bitwise_not(cv2.dilate(ink.lines[window], _RING)))
    part = ink.mask[window]
    for _ in range(max(1, round(GROW_STROKES * ink.scale.stroke / f))):
        part = cv2.bitwise_and(cv2.dilate(part, _RING), fainter)
    part = cv2.bitwise_or(part, ink.mask[window])
    had = sum(cv2.countNonZero(ink.mask[y : y + h, x : x + w]) for x, y, w, h in near)
    if cv2.countNonZero(part) - cv2.countNonZero(ink.mask[window]) < GROW_LEAST * had:
        return None  # a stroke's soft rim, not a faint part of it
    mask = ink.mask.copy()
    mask[window] = part
    return replace(ink, mask=mask, labelled=None)


_RING = np.ones((3, 3), np.uint8)


def quieten(gray: np.ndarray, noise: float, stroke: float) -> tuple[np.ndarray, float]:
    """The image smoothed when its sensor noise is strong next to the paper's brightness (a dim room),
    and the noise left: a Gaussian under half a stroke wide keeps the strokes' darkness and divides
    white noise by 2 sqrt(pi) sigma. In good light the image is returned as it is."""
    paper = _median_u8(np.ascontiguousarray(gray[::4, ::4]))
    if NOISE_SIGMAS * noise <= NOISY * paper:
        return gray, noise
    sigma = min(1.5, max(0.6, 0.35 * float(stroke)))
    return cv2.GaussianBlur(gray, (0, 0), sigma), noise / (2 * np.sqrt(np.pi) * sigma)


def _thresholds(grain: int, scale: Scale, share: float, threshold: float) -> tuple[int, int]:
    """The darkness (0-255) a pixel needs to be part of a shape, and the darkness some pixel of a shape
    must reach, relative to the writing's own darkness and to the paper's `grain` (texture_level).

    A shadow a quarter darker than the paper is nothing next to a black marker, and a good part of a
    pencil stroke; a faint pen out of focus never gets near a third of black, yet stands clear of a
    smooth paper's grain. `share` and `threshold` (the user's sensitivity, keys + and -) scale both;
    with no writing seen, they are used as they are, over the paper's grain all the same.
    """
    if not scale.found:
        low = max(round(255 * share), grain + SURE_OVER_GRAIN // 2)
        return low, max(round(255 * threshold), low + SURE_OVER_GRAIN // 2)
    k = threshold / DEFAULT_THRESHOLD
    low = max(grain + SURE_OVER_GRAIN // 2, round(255 * k * INK_SHARE * scale.contrast), MIN_LOW)
    high = max(low + SURE_OVER_GRAIN // 2, round(255 * k * min(DEFAULT_THRESHOLD, SURE_SHARE * scale.contrast)))
    return low, high


def _first_look(coarse: np.ndarray, factor: float, share: float, threshold: float, floor: int,
                light_on_dark: bool | None, sheet: np.ndarray | None = None) -> tuple[Scale, bool]:
    """The writing's scale from the coarse image, and which way round it is (unless `light_on_dark` says).

    Light-on-dark is chosen when its writing is brighter than LIGHT_RANK % of the frame, and stands
    out of the frame's brightness LIGHT_WINS times more than the dark reading's writing does: chalk
    is brighter than nearly all of a board, and a board's dark patches are nowhere near as extreme.
    Or when its writing stands out LIGHT_WINS times more than that bar asks (brighter than 95 % of the
    frame) and there is LIGHT_MORE times as much of it: a board's dark specks, a few, can be as
    extreme as its chalk; a brown cardboard's bright fibres are not as bright next to it. Either way
    the light reading must have seen pen strokes (its amount): bright blots alone, a lit patch of paper
    between shadows, are no writing.
    `sheet`: the frame's Pyramid.sheet. Writing on a sheet smaller than the frame is dark on light: the
    note is the bright shape a light reading would find, the desk its dark ground.
    """
    if light_on_dark:
        return measure_scale(reciprocal(coarse), factor, share, threshold, floor)[0], True
    scale, amount, writing = measure_scale(coarse, factor, share, threshold, floor, sheet)
    if light_on_dark is False or scale.sheet or not _bright_tail(coarse):
        return scale, False
    light_scale, light_amount, light_writing = measure_scale(reciprocal(coarse), factor, share, threshold, floor)
    if _written_on(writing, light_writing):
        return scale, False
    dark_rank, light_rank = _rank(coarse, writing), _rank(coarse, light_writing)
    if light_amount > 0 and light_rank >= LIGHT_RANK and LIGHT_WINS * (100.0 - light_rank) < dark_rank:
        return light_scale, True
    # A board's few dark specks can be as extreme as its chalk; then the chalk is what there is much of.
    if LIGHT_WINS * (100.0 - light_rank) < 100.0 - LIGHT_RANK and light_amount > LIGHT_MORE * amount:
        return light_scale, True
    return scale, False


def _bright_tail(gray: np.ndarray) -> bool:
    """Whether the frame's brightest pixels (TAIL of it) stand further above its median than its darkest
    fall below it: light writing on a dark ground makes such a tail; ink on paper makes the opposite
    one. The tails are thin: one or two thin chalk digits on a board cover about 0.15 % of a frame (light on
    dark board, seed 0, frame 25), and a shadow across the board darkens far more of it."""
    hist = np.cumsum(cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel())
    lo, mid, hi = (int(np.searchsorted(hist, q * hist[-1])) for q in (TAIL, 0.5, 1.0 - TAIL))
    return hi - mid > mid - lo


def _written_on(dark: np.ndarray, light: np.ndarray) -> bool:
    """Whether most of the dark reading's writing (uint8 0/1) lies on the light reading's shapes
    (inside their outlines): a sticky note or a small sheet held against a dark pad is as bright next
    to it as chalk is on a board, and read light-on-dark it is one shape, its holes the dark writing
    on it. Chalk on a board has the board's dark specks and patches around it, not in it. (Also: is
    the writing on a small bright sheet at all.)"""
    if not dark.any() or not light.any():
        return False
    outlines, _ = cv2.findContours(light, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(light)
    cv2.drawContours(filled, outlines, -1, 1, cv2.FILLED)
    return cv2.countNonZero(cv2.bitwise_and(dark, filled)) > WRITTEN_ON * cv2.countNonZero(dark)


def _rank(gray: np.ndarray, writing: np.ndarray) -> float:
    """How much of the frame is darker than the writing's typical pixel (in %; 50 when there is none).

    Ink on paper is darker than nearly all of the frame, chalk on a board brighter than nearly all of
    it. Read the wrong way round, a sheet gives "writing" too (the paper between printed lines, next
    to a dark table) and so does a board (the board inside the chalk strokes): but that is the
    background itself, in the middle of the frame's brightness.
    """
    inside = gray[writing > 0]
    if inside.size == 0:
        return 50.0
    return 100.0 * cv2.countNonZero(cv2.compare(gray, float(np.median(inside)), cv2.CMP_LT)) / gray.size


def remove_lines(mask: np.ndarray, gray: np.ndarray, dark: np.ndarray, writing: float = 0.0, ink: float = 0.0,
                 stroke: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Take printed lines (ruled, squared, dotted paper) and the edges of the sheet out of an ink mask
    of `gray` (whose darkness is `dark`; the writing's typical darkness `ink`, 0-255, 0 if unknown):
    (mask without them, lines).

    A line is a straight run, tilted by at most LINE_TILT, crossing LINE_SPAN of the frame. Found for
    rows and, on the transposed mask, for columns; on a sheet held at an angle (lines rising up to
    MAX_TILT, see _tilts) on the mask turned level. With the writing's height known (`writing`, in the
    mask's pixels), a grid's broken lines are found too: many straight pieces GRID_WRITING times longer,
    and on a level mask no thicker than PIECE_STROKES of the writing's strokes (`stroke`, mask pixels):
    a row of print runs together into such pieces, as thick as its letters are tall. (Turning a mask
    level thickens its lines: with the rule there, photos turned 20 degrees kept lines and lost 9 digits.)
    Where a stroke crosses a line the ink there is taller than the line is thick, and where a stroke
    runs along a faint printed line the ink is darker than it: both stay, so a digit written across
    or on a line remains whole.
    """
    lines = np.zeros_like(mask)
    out = mask
    tilts, slope = _tilts(mask), 0.0
    for transpose in (False, True):
        turn = cv2.transpose if transpose else (lambda a: a)
        m = turn(out)
        # A sheet turned by some angle turns its columns by as much: transposed, they rise as much
        # the other way. (A ruled sheet's margin line, joined to every line it crosses, shows no
        # slope of its own.)
        slope = tilts[transpose] or -slope
        crossed = bool(lines.any())  # (lines the other way found already)
        if slope:  # a sheet held at an angle: its lines are looked for on the mask turned level
            rot, back, size = _levelling(m.shape, slope)
            level = [cv2.warpAffine(a, rot, size, flags=cv2.INTER_NEAREST) for a in (m, turn(gray), turn(dark))]
            if crossed:
                level[0] = _crossings(level[0], cv2.warpAffine(turn(lines), rot, size, flags=cv2.INTER_NEAREST))
            rim = cv2.warpAffine(_rim(m.shape), rot, size, flags=cv2.INTER_NEAREST)
            found = _line_pixels(level[0], level[1], writing, rim, crossed, span=m.shape[1])  # (no `stroke`: see above)
            if found is None:
                continue
            found = cv2.subtract(found, _writing_on_lines(level[0], found, level[2], ink))
            found = cv2.warpAffine(found, back, (m.shape[1], m.shape[0]), flags=cv2.INTER_NEAREST)
            removed = cv2.bitwise_and(cv2.dilate(found, np.ones((3, 3), np.uint8)), m)
        else:
            found = _line_pixels(m, turn(gray), writing, crossed=crossed, stroke=stroke)
            if found is None:
                continue
            removed = cv2.subtract(found, _writing_on_lines(m, found, turn(dark), ink))
        if transpose:
            removed = cv2.transpose(removed)
        out = cv2.subtract(out, removed)
        lines = cv2.max(lines, removed)
    return out, lines


def _crossings(mask: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The mask with the pixels of lines `taken` out of it put back where they cross a line of this
    way (the mask runs on at both sides within CROSSING pixels): a ruled sheet's margin line would
    be left in pieces, too short to be found, one at each line it crosses."""
    across = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((1, CROSSING), np.uint8))
    return cv2.bitwise_or(mask, cv2.bitwise_and(across, taken))


def _tilts(mask: np.ndarray) -> tuple[float, float]:
    """The slopes of the shapes crossing LINE_SPAN of the mask's width (dy/dx) and of those crossing
    that much of its height (dx/dy), where they rise by more than LINE_TILT: the printed lines of a
    sheet held at an angle (with the digits written on them joined to them), or of their pieces where
    they are broken, or joined into one mesh that is no line (_pieces_slope). 0 where there are none,
    or they lie level enough to be found as they are. One labelling for both."""
    H, W = mask.shape
    if W < 16 or H < 16:
        return 0.0, 0.0
    # No shape can cross that much of the width where the columns holding ink do not (nor the height).
    wide = _longest_run(cv2.reduce(mask, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()) >= LINE_SPAN * W
    tall = _longest_run(cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()) >= LINE_SPAN * H
    if not (wide or tall):
        return 0.0, 0.0
    n, labels, stats = components(mask)
    thin = 2.0 * stats[:, 4] <= (LINE_THICK * max(W, H) + 6) * np.maximum(stats[:, BOUNDARY], 1)  # (a blot is not)
    thin[0] = False
    out = []
    for side, span, across in ((cv2.CC_STAT_WIDTH, W, False), (cv2.CC_STAT_HEIGHT, H, True)):
        long = np.flatnonzero(thin & (stats[:, side] >= LINE_SPAN * span))
        slopes = [slope for slope, ratio in (_axis(labels, i, stats[i], across) for i in long) if ratio >= LINE_THIN]
        # None straight, or lines joined into one mesh (a grid, a margin line across ruled ones): their pieces.
        slope = float(np.median(slopes)) if slopes else _pieces_slope(labels, stats, thin, side, span, across)
        out.append(slope if LINE_TILT / 2 < abs(slope) <= MAX_TILT else 0.0)
    return out[0], out[1]


def _pieces_slope(labels: np.ndarray, stats: np.ndarray, thin: np.ndarray, side: int, span: int, across: bool,
                  ) -> float:
    """The slope of a sheet's printed lines where they are broken into pieces (faint print, a shadow,
    sensor noise), none crossing LINE_SPAN of the frame: the median slope of the thin, straight pieces
    crossing TILT_PIECE of it, if GRID_PIECES of them or more agree with it (within TILT_AGREE) and
    those together cross LINE_SPAN of it; else 0. Handwriting's strokes (a 1, a 7's stem) are
    straight too, but their slopes scatter."""
    found = []
    for i in np.flatnonzero(thin & (stats[:, side] >= TILT_PIECE * span)):
        slope, ratio = _axis(labels, i, stats[i], across)
        if ratio >= LINE_THIN:
            found.append((slope, stats[i, side]))
    if len(found) < GRID_PIECES:
        return 0.0
    slopes, lengths = np.array(found, np.float64).T
    agree = np.abs(slopes - np.median(slopes)) <= TILT_AGREE
    if agree.sum() < GRID_PIECES or lengths[agree].sum() < LINE_SPAN * span:
        return 0.0
    return float(np.median(slopes[agree]))


def _axis(labels: np.ndarray, i: int, stat: np.ndarray, across: bool = False) -> tuple[float, float]:
    """Component `i`'s main axis (slope dy/dx, or dx/dy `across`) and how many times longer than wide
    it is (the ratio of the spreads of its pixels along and across that axis)."""
    m = _moments(labels, i, stat)
    if m["m00"] <= 0:
        return 0.0, 0.0
    along, off, theta = spreads(m, across)
    return float(np.tan(theta)), float(np.sqrt(along / max(off, 1e-6)))


def _moments(labels: np.ndarray, i: int, stat: np.ndarray) -> dict[str, float]:
    """The image moments of component `i` of `labels` (its box `stat`), in its box's pixels."""
    x, y, w, h = (int(v) for v in stat[:4])
    return cv2.moments((labels[y : y + h, x : x + w] == i).view(np.uint8), binaryImage=True)


def spreads(m: dict[str, float], across: bool = False) -> tuple[float, float, float]:
    """From a shape's moments: the variance of its pixels along its main axis and across it, and the
    axis' angle from the x axis (from the y axis, `across`)."""
    a, b, c = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
    if across:
        a, b = b, a
    root = np.sqrt(((a - b) / 2) ** 2 + c * c)
    return (a + b) / 2 + root, (a + b) / 2 - root, 0.5 * np.arctan2(2 * c, a - b)


@jit
def _longest_run(values):  # pragma: no cover - compiled
    best = run = 0
    for v in values:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def turning(shape: tuple[int, ...], degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The 2x3 matrix that turns an image of `shape` (h, w, ...) `degrees` anticlockwise about its
    centre onto a canvas large enough to hold all of it, and the canvas size (w, h)."""
    H, W = shape[:2]
    rot = cv2.getRotationMatrix2D((W / 2, H / 2), degrees, 1.0)
    c, s = abs(rot[0, 0]), abs(rot[0, 1])
    size = (int(np.ceil(H * s + W * c)), int(np.ceil(H * c + W * s)))
    rot[:, 2] += (size[0] / 2 - W / 2, size[1] / 2 - H / 2)
    return rot, size


def _levelling(shape: tuple[int, int], slope: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The turning that lays lines of `slope` level (see turning), its inverse, and the canvas size."""
    rot, size = turning(shape, float(np.degrees(np.arctan(slope))))
    return rot, cv2.invertAffineTransform(rot), size


def _rim(shape: tuple[int, int]) -> np.ndarray:
    """The frame's outermost three pixels all round (where a printed line running out of it ends)."""
    rim = np.full(shape, 255, np.uint8)
    rim[3:-3, 3:-3] = 0
    return rim


def _line_pixels(mask: np.ndarray, gray: np.ndarray, writing: float = 0.0, rim: np.ndarray | None = None,
                 crossed: bool = False, stroke: float = 0.0, span: int = 0) -> np.ndarray | None:
    """Pixels of near-horizontal lines crossing LINE_SPAN of the mask's width, or None. `rim`: where
    the frame's border lies, when the mask is the frame turned level (see remove_lines); else its own.
    `crossed`: printed lines across these were found already; then one long line alone is printed
    too (a ruled sheet's margin line, ending where the sheet does), and so is a piece of one running
    out of the frame (the margin line, faint, broken into pieces). `stroke`: the writing's stroke
    width in the mask's pixels (0: unknown); a grid's pieces are each one printed line, no thicker
    than PIECE_STROKES of it, while the bridging runs a row of print's letters into a band as thick
    as their height: taken out as a grid, it left the letters' stems and bowls to be read as 1s and
    0s, and left in, the print test sees whole letters. `span`: the frame's width, where the mask is the
    frame turned level on a larger canvas (see remove_lines): lengths are shares of the frame, not of
    the canvas (on that, the broken lines of a sheet held at 25 degrees came out too short to count).

    Runs along a tilted line are short steps; dilating the mask by a pixel up and down first makes the
    steps overlap, and a short opening along the rows then keeps only what is line-like locally. Of
    those pieces, the ones that join into something long and thin are lines (what is thicker than a
    printed line, a shadow's band, is taken away first). Gaps of a dotted line are bridged by a
    closing along the rows first.
    """
    H, W = mask.shape
    if W < 16 or H < 3:
        return None
    W = span or W
    step = max(5, int(3 / LINE_TILT))  # a 3-px-thick tilted line gives runs at least this long
    across = cv2.dilate(mask, np.ones((3, 1), np.uint8))
    bridged = cv2.morphologyEx(across, cv2.MORPH_CLOSE, np.ones((1, 5), np.uint8))
    runs = cv2.morphologyEx(bridged, cv2.MORPH_OPEN, np.ones((1, step), np.uint8))
    thick_max = int(LINE_THICK * W) + 6  # with the two pixels the dilation added
    runs = cv2.subtract(runs, cv2.morphologyEx(runs, cv2.MORPH_OPEN, np.ones((thick_max + 1, 1), np.uint8)))
    piece = max(LINE_PIECE * W, GRID_WRITING * writing) if writing > 0 else LINE_SPAN * W
    # Before tracing anything: a line (or a piece of a grid's) puts `piece` run pixels into a band of
    # rows as high as it rises over that length. Only rows in such bands are traced; none, no line.
    band = int(LINE_TILT * LINE_SPAN * W) + 3
    rows = cv2.reduce(runs, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / 255.0
    full = np.flatnonzero(np.convolve(rows, np.ones(band), mode="valid" if len(rows) >= band else "full") >= piece)
    if full.size == 0:
        return None
    top, bottom = int(full[0]), min(H, int(full[-1]) + band)
    n, labels, stats = components(runs[top:bottom])
    stats[:, 1] += top
    labels = cv2.copyMakeBorder(labels, top, H - bottom, 0, 0, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h, area = (stats[:, k] for k in range(5))
    thick = area / np.maximum(w, 1)  # mean thickness along the run (the dilation adds 2 px)
    pieces = np.flatnonzero((w >= piece) & (h <= LINE_TILT * w + 3 * thick + 4))
    pieces = [i for i in pieces if i > 0 and _straight(labels, i, stats[i], thick[i])]
    long = [i for i in pieces if w[i] >= LINE_SPAN * W]
    # A printed line runs on to the frame's border; where the sheet ends inside the frame, its lines
    # come as a family of the same length and thickness; the sheet's own edge has the desk on one
    # side. A digit's long stroke does none of these. And a grid, its lines broken by shadows or
    # faint print, leaves many shorter straight pieces of one thickness: no handwriting does.
    chosen = np.zeros(n, bool)
    if long:
        lw, lt, lx = w[long].astype(np.float64), thick[long], x[long]
        alike = ((np.abs(lw[None, :] - lw[:, None]) <= 0.25 * lw[:, None])  # (a few hundred at most)
                 & (np.abs(lt[None, :] - lt[:, None]) <= 0.5 * lt[:, None] + 1))
        if rim is None:
            border = (lx <= 2) | (lx + lw >= W - 2)
        else:
            border = np.isin(np.array(long), labels[rim > 0])
        family = (alike.sum(1) >= 3) | crossed
        chosen[np.array(long)[border | family]] = True
        for i in long:
            if not chosen[i] and _sheet_edge(gray, labels, i, stats[i], thick[i]):
                chosen[i] = True
    if pieces:  # pieces of one thickness: how many lie within each one's thickness range, by sorting
        t = np.sort(thick[pieces])
        pt = thick[pieces]
        same = np.searchsorted(t, pt + 0.5 * pt + 1, "right") - np.searchsorted(t, pt - 0.5 * pt - 1, "left")
        grid = same >= GRID_PIECES
        if stroke > 0:  # (less the two pixels the dilation added)
            grid &= pt - 2 <= PIECE_STROKES * stroke
        chosen[np.array(pieces)[grid]] = True
        if crossed:  # a faint margin line, broken: its piece that runs out of the frame
            p = np.array(pieces)
            out = (x[p] <= 2) | (x[p] + w[p] >= W - 2) if rim is None else np.isin(p, labels[rim > 0])
            chosen[p[out]] = True
    if not chosen.any():
        return None
    flat = (h <= LINE_TILT * w + 3 * thick + 4) & ~chosen
    flat[0] = False
    flat = np.flatnonzero(flat)
    chosen[flat[_continuations(labels, stats, thick, np.flatnonzero(chosen), flat)]] = True
    return cv2.bitwise_and(chosen[labels].astype(np.uint8) * 255, mask)


def _centre_line(labels: np.ndarray, i: int, stat: np.ndarray) -> tuple[float, float, float]:
    """Component `i`'s centre (x, y) and slope dy/dx, from its moments."""
    x, y, w, h = (int(v) for v in stat[:4])
    m = _moments(labels, i, stat)
    if m["m00"] <= 0 or m["mu20"] <= 0:
        return x + w / 2, y + h / 2, 0.0
    return x + m["m10"] / m["m00"], y + m["m01"] / m["m00"], m["mu11"] / m["mu20"]


def _continuations(labels: np.ndarray, stats: np.ndarray, thick: np.ndarray, lines: np.ndarray,
                   pieces: np.ndarray) -> np.ndarray:
    """Which of `pieces` continue one of `lines`: of its thickness, lying on its extension.

    A printed line that is faint in places breaks into pieces, some too short to count as a line on
    their own; left in, each is a stroke (a `1` standing on squared paper). A piece whose both ends
    lie on the line's extension, within half its thickness (and a bend of LINE_BEND per pixel of
    distance: a sheet curls), is that line. Handwriting rarely runs that exactly along a printed
    line, and where it does, its crossing strokes and darkness keep it (`_writing_on_lines`).
    """
    if len(pieces) == 0:
        return np.zeros(0, bool)
    fit = np.array([_centre_line(labels, i, stats[i]) for i in lines])  # (cx, cy, slope) per line
    mid = np.array([_centre_line(labels, j, stats[j]) for j in pieces])
    t, start, stop = thick[lines][None, :], stats[lines, 0][None, :], (stats[lines, 0] + stats[lines, 2])[None, :]
    alike = np.abs(thick[pieces][:, None] - t) <= 0.5 * t + 1
    x0 = stats[pieces, 0].astype(np.float64)
    on = alike
    for end in (x0, x0 + stats[pieces, 2] - 1):  # each end's centre, along the piece's own centre line
        y = (mid[:, 1] + mid[:, 2] * (end - mid[:, 0]))[:, None]
        e = end[:, None]
        off = np.abs(y - (fit[None, :, 1] + fit[None, :, 2] * (e - fit[None, :, 0])))
        far = np.maximum(np.maximum(start - e, e - stop), 0)
        on = on & (off <= 0.5 * t + LINE_BEND * far)
    return on.any(1)


def _sheet_edge(gray: np.ndarray, labels: np.ndarray, i: int, stat: np.ndarray, thick: float) -> bool:
    """Whether line `i` has a much darker side (the desk beyond the sheet) than the other (the paper)."""
    x, y, w, h = (int(v) for v in stat[:4])
    d = int(thick) + 3
    y0, y1 = max(0, y - d), min(gray.shape[0], y + h + d)
    band = (labels[y0:y1, x : x + w] == i).view(np.uint8)
    area = gray[y0:y1, x : x + w]
    up = cv2.subtract(np.roll(band, -d, axis=0), band)
    down = cv2.subtract(np.roll(band, d, axis=0), band)
    if cv2.countNonZero(up) == 0 or cv2.countNonZero(down) == 0:
        return False
    a, b = cv2.mean(area, up)[0], cv2.mean(area, down)[0]
    return min(a, b) < SHEET_EDGE * max(a, b)


def _straight(labels: np.ndarray, i: int, stat: np.ndarray, thick: float) -> bool:
    """Whether component `i` is a straight band: its spread across its own main axis is no more than
    a band of its thickness has (a digit's long stroke bends)."""
    m = _moments(labels, i, stat)
    if m["m00"] <= 0:
        return False
    across = spreads(m)[1]
    return float(np.sqrt(max(across, 0.0))) <= 0.4 * thick + 1.0


def _writing_on_lines(mask: np.ndarray, lines: np.ndarray, dark: np.ndarray, ink: float) -> np.ndarray:
    """Line pixels that belong to writing: where the ink runs across the line for longer than the line
    is thick (a stroke crossing it), or, where the printed line is much fainter than the writing's
    typical darkness `ink` (0-255; 0: unknown), nearer the writing's darkness than the line's (a
    stroke along it)."""
    ys, xs = np.nonzero(lines)
    if ys.size == 0:
        return lines
    runs = _vertical_runs(mask, ys.astype(np.int64), xs.astype(np.int64))
    keep = runs > 1.6 * float(np.median(runs)) + 1
    d = dark[ys, xs].astype(np.float64)
    line = float(np.median(d))
    if line < FAINT_LINE * ink:
        keep |= d > (line + ink) / 2
    out = np.zeros_like(lines)
    out[ys[keep], xs[keep]] = 255
    return out


@jit
def _vertical_runs(mask, ys, xs):  # pragma: no cover - compiled
    """Length of the vertical run of mask pixels through each (ys[i], xs[i])."""
    H = mask.shape[0]
    out = np.empty(ys.size, np.int64)
    for i in range(ys.size):
        y, x = ys[i], xs[i]
        a = y
        while a > 0 and mask[a - 1, x]:
            a -= 1
        b = y
        while b + 1 < H and mask[b + 1, x]:
            b += 1
        out[i] = b - a + 1
    return out
