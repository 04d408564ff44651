"""Stage 1b, detect: the shapes of ink that are digits, one candidate per digit.

`ink.find_ink` says which pixels are writing, at the writing's own scale (see ink.py). Here they
become shapes (connected components at the search level); a shape counts if it is drawn with a pen
(several stroke widths tall: not a dot or a blot), some of it is clearly dark (hysteresis), it is of
the size of the writing around it, it does not touch the frame border, and its ink density and aspect
are those of a digit. Pieces of one digit (a 5's detached bar, a pencil gap, a stroke cut by a printed
line) are merged into it, and a component far wider than a digit (touching digits, `10`) carries the
columns where it may be cut.

Each candidate's own pixels and darkness are then taken from the finest pyramid level it needs
(a digit is fitted to 20 px in the end: a 300-px marker digit is cut out at a quarter of the frame's
resolution, a 15-px pencil digit at full resolution).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from realtime.ink import (
    MAX_TILT,
    SHEET_LIGHT,
    WRITING_SHAPE,
    Ink,
    Look,
    components,
    darkness,
    find_ink,
    grown,
    paper_map,
    spreads,
    to_8bit,
    to_gray,
)
from realtime.track import Box
from train.resample import jit, linear_axis

CROP_HEIGHT = 48  # a candidate is cut out at the coarsest level where it is still at least this tall
MIN_SIDE = 8  # frames narrower than this in either direction hold nothing to read
EDGE_WIDTH = 0.3  # a shape touching the frame's border must be at least this wide for its height
SLIVER = 0.2  # a shape narrower than this share of its height is a sliver: a "1", or a piece of a line
LONG_SLIVER = 2.0  # ... and a sliver this many times taller than the writing is no "1" of it
WORD_GAP = 0.2  # letters closer than this share of the writing's height (4 search pixels at most) run into words
SPECK = 0.3  # a shape under this share of the writing's height is noise, a dot, a stray mark
TYPICAL_AT = 0.75  # the writing's height is this quantile of the shapes' heights, weighted by their ink
SHEET_STEP = 0.5  # the paper under a shape stepping down to this share of its brightness nearby: the sheet's edge
ALONG_LINE = 0.5  # a sliver whose printed line goes on this share of its height above and below is that line
PIECE_LONG = 1.5  # a piece of a digit is no longer than this many of the writing's height
MAX_PIECES = 64  # pieces cut out per frame at most (a grid's or a texture's can be many)
STEP_SLIVER = 0.35  # a shape narrower than this share of its height ...
STEP = 0.8  # ... with the surface on one side darker than this share of the other's, and itself hardly
#              darker than that side (over this share of it), is the edge of the sheet or of a shadow
DESK = SHEET_LIGHT  # paper under a shape darker than this share of the frame's typical paper (a hard shadow
#                    keeps a third of the light or more): the desk around the sheet
DIM_PAPER = 0.5  # ... under this share: the desk or a hard shadow, where a shape read in doubt is not shown
MAX_SLANT = 0.6  # the writing's slant (dx per dy) is taken up to this much (31 degrees) ...
SLIGHT_SLANT = 0.1  # ... and as none under this

__all__ = ["Candidate", "DetectConfig", "Detection", "darkness", "darkness_map", "detect", "join", "level_size",
           "paper_map", "propose_cuts", "sheared_columns", "split_columns", "to_8bit", "to_gray"]


@dataclass
class DetectConfig:
    threshold: float = 0.32  # darkness (0..1, relative to the local paper) a digit's core must reach
    low_ratio: float = 0.45  # pixels darker than threshold * low_ratio belong to a digit's shape
    light_on_dark: bool | None = None  # None: decided per frame; True: chalk on a board; False: ink on paper
    min_height_px: int = 9  # smaller digits (in the frame's pixels) cannot be read reliably
    max_aspect_tall: float = 25.0  # h / w: a "1" is a thin line, a long rule is not a digit
    max_aspect_wide: float = 3.2  # w / h: wider than this is a rule or a word, not 1-3 touching digits
    min_density: float = 0.05  # ink pixels / box area, for shapes not thin like a "1"
    max_density: float = 0.9
    max_candidates: int = 256  # bounds the time a frame full of text or texture can take


@dataclass
class Candidate:
    """One digit-shaped shape, in the pixels of the pyramid level it was cut out at, with its own pixels."""

    box: tuple[int, int, int, int]  # x, y, w, h (tight around the ink)
    origin: tuple[int, int]  # where `own` and `dark` start (the box less one pixel of margin)
    own: np.ndarray  # uint8 0/1: this shape's pixels (not its neighbours'), box + 1 px margin
    dark: np.ndarray  # uint8 darkness over the same crop
    area: int  # ink pixels
    scale: float = 1.0  # these pixels per frame pixel
    # Filled in by propose_cuts, for shapes wide enough to be touching digits:
    cuts: list[int] = field(default_factory=list)  # where it may be split, in slant-corrected columns
    slant: float = 0.0  # the writing's slant (dx per dy) and the rows' tilt; cuts follow it, so italic
    #                     digits, and digits on a sheet held at an angle, part cleanly
    span: int = 0  # width once the slant is removed (how many digits wide it is, with the height)
    # It lies where a shape read in doubt is more often not writing: along a slanted step in the light
    # (_on_a_slanted_step), or on paper under DIM_PAPER of the frame's (the desk, a hard shadow).
    sure_only: bool = False

    # How dark its ink is: the 90th percentile of its pixels' darkness at the search level (0-255, relative
    # to the paper under them), where every shape of the frame is seen at one resolution: the cores of its
    # strokes. (At the crop's own level a large digit's thin strokes would come out fainter.)
    ink: float = 0.0


@dataclass
class Detection:
    """What detect() found: the search level's mask and the candidates."""

    scale: float  # search-level pixels per frame pixel
    mask: np.ndarray  # uint8 0/255, the ink pixels at the search level (the debug view shows it)
    candidates: list[Candidate]
    rejected: int = 0  # shapes that looked like neither digits nor noise
    light_on_dark: bool = False  # which way round the writing was read
    stroke: float = 0.0  # the writing's stroke width in frame pixels (0: none seen)
    words: list[tuple[int, int, int, int]] = field(default_factory=list)  # shapes far wider than tall, frame px
    look: Look | None = None  # the first look the writing's scale and polarity came from
    pieces: Callable[[], list[Candidate]] = list  # cuts out the strokes of no digit's size or shape (_piece),
    #                                                when some digit is in doubt (they are needed only then)
    regrown: Callable[[list[Box]], Detection | None] = lambda near: None  # the detection near digits in doubt
    #                            with the shapes grown into fainter pixels (ink.grown), when some digit is in doubt
    others: list[Box] = field(default_factory=list)  # shapes of the writing's size of no digit's shape or
    #                         density, clear of the border (frame px): a line of print's letters, bold or wide


def darkness_map(gray: np.ndarray, light_on_dark: bool = False) -> np.ndarray:
    """Darkness of a whole grey image at the writing's scale (tests and debugging)."""
    ink = find_ink(gray, DetectConfig.threshold, DetectConfig.low_ratio, light_on_dark)
    img = ink.levels[0]
    paper = cv2.resize(ink.paper, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    return darkness(img, paper)



@dataclass
class _Shapes:
    """The search level's shapes as parallel lists (boxes in search pixels)."""

    boxes: list[list[int]]
    members: list[list[int]]  # component labels that make up each shape (pieces merge)
    edge: list[bool]  # touches the frame border
    area: list[int]
    stroke: list[float]  # mean stroke width, search pixels


def _find_shapes(ink: Ink, least: float) -> tuple[_Shapes, np.ndarray]:
    """Connected components of the ink mask at least `least` pixels long, and the label image."""
    mask = ink.mask
    Hs, Ws = mask.shape
    n, labels, stats = components(mask, ink.labelled)
    sh = _Shapes([], [], [], [], [])
    long = (np.maximum(stats[:, 2], stats[:, 3]) >= least) & (stats[:, 2] <= 0.9 * Ws)
    long[0] = False  # the background
    for i in np.flatnonzero(long).tolist():  # (a noisy frame has 10^5 specks: picked out at once, not looped over)
        x, y, w, h, a, rim = stats[i].tolist()
        sh.boxes.append([x, y, w, h])
        sh.members.append([i])
        sh.edge.append(_at_border(x, y, w, h, Ws, Hs))
        sh.area.append(a)
        sh.stroke.append(2.0 * a / max(1, rim))
    return sh, labels


def _at_border(x: int, y: int, w: int, h: int, W: int, H: int) -> bool:
    return x <= 0 or y <= 0 or x + w >= W or y + h >= H


def _digit_proportions(box: list[int], cfg: DetectConfig) -> bool:
    """Neither taller nor wider for its size than one to three digits can be (a margin line, a rule,
    a word run together are)."""
    _, _, w, h = box
    return h <= cfg.max_aspect_tall * w and w <= cfg.max_aspect_wide * h


def _members(lab: np.ndarray, members: list[int]) -> np.ndarray:
    """bool mask of the pixels of `lab` that carry one of the shape's component labels."""
    return (lab == members[0]) if len(members) == 1 else np.isin(lab, members)


def _typical_height(sh: _Shapes, min_h: float, cfg: DetectConfig) -> tuple[float, int]:
    """The writing's typical digit height (search pixels) and how many shapes it rests on: the upper
    quartile of the heights of pen-drawn shapes clear of the border, weighted by their ink (a big
    digit outweighs a stamp's small print, and handwriting the smaller print of a form around it).
    A shape of no digit's proportions (a ruled sheet's margin line, a rule under a heading) is left
    out, and so are slivers while two other shapes remain: the pieces of a broken margin line are as
    thin as a "1" and far taller than the digits, and their ink would make the writing as tall as the
    page (every digit then too small to count)."""
    idx = [k for k, (b, e) in enumerate(zip(sh.boxes, sh.edge))
           if b[3] >= min_h and not e and b[3] >= WRITING_SHAPE * sh.stroke[k] and _digit_proportions(b, cfg)]
    if not idx:
        return min_h, 0
    full = [k for k in idx if sh.boxes[k][2] >= SLIVER * sh.boxes[k][3]]
    if len(full) >= 2:  # slivers ("1"s, and the pieces of a broken margin line) only when there is nothing else
        idx = full
    h = np.array([sh.boxes[k][3] for k in idx], np.float64)
    w = np.array([sh.area[k] for k in idx], np.float64)
    order = np.argsort(h)
    cum = np.cumsum(w[order])
    return float(h[order][np.searchsorted(cum, TYPICAL_AT * cum[-1])]), len(idx)


def _merge(sh: _Shapes, ref_h: float, labels: np.ndarray) -> None:
    """Fold pieces into the digits they belong to (see _merge_pieces), keeping area and stroke."""
    before = [list(m) for m in sh.members]
    extra = [sh.area, sh.stroke]
    blots = [b[3] < WRITING_SHAPE * st for b, st in zip(sh.boxes, sh.stroke)]
    reach = int(0.25 * ref_h) + 1

    def near(i: int, j: int) -> bool:  # shape j's pixels within a quarter of the writing's height of i's box
        x, y, w, h = sh.boxes[i]
        around = labels[max(0, y - reach) : y + h + reach, max(0, x - reach) : x + w + reach]
        return bool(_members(around, sh.members[j]).any())

    _merge_pieces(sh.boxes, sh.members, sh.edge, ref_h, blots, near)
    by_label = {m[0]: (a, s) for m, a, s in zip(before, *extra)}
    sh.area[:] = [sum(by_label[i][0] for i in m) for m in sh.members]
    sh.stroke[:] = [sum(by_label[i][0] * by_label[i][1] for i in m) / max(1, sum(by_label[i][0] for i in m))
                    for m in sh.members]


def detect(frame: np.ndarray, cfg: DetectConfig | None = None, look: Look | None = None) -> Detection:
    """Find digit candidates in a frame (any dtype or channels; see ink.to_8bit). `look`: the first look
    at an earlier frame of the same video (see ink.Look), to use instead of taking a new one."""
    cfg = cfg or DetectConfig()
    if frame.ndim < 2 or min(frame.shape[:2]) < MIN_SIDE:  # a sliver of a frame holds no readable digit
        return Detection(1.0, np.zeros(frame.shape[:2] if frame.ndim >= 2 else (1, 1), np.uint8), [])
    return _detection(find_ink(frame, cfg.threshold, cfg.low_ratio, cfg.light_on_dark, look), cfg)


def _detection(ink: Ink, cfg: DetectConfig, near: list[Box] | None = None,
               around: tuple[np.ndarray, _Desk] | None = None) -> Detection:
    """detect() on the frame's ink. `near`: this is the ink grown into fainter pixels (ink.grown), read
    again only for the digits in doubt in these boxes (frame pixels): only shapes that overlap one are
    cut out, and it is not grown again; `around`: the sheet's edges and the desk, from the frame's
    first detection (the paper is the same)."""
    f = 2**ink.level  # frame pixels per search pixel
    min_h = max(2.0, cfg.min_height_px / f)
    sh, labels = _find_shapes(ink, max(2.0, 0.2 * min_h))
    if len(sh.boxes) > 2 * cfg.max_candidates:  # a page of text or a texture: keep the largest shapes
        keep = sorted(range(len(sh.boxes)), key=lambda k: -sh.boxes[k][2] * sh.boxes[k][3])[: 2 * cfg.max_candidates]
        sh = _Shapes(*([lst[k] for k in keep] for lst in (sh.boxes, sh.members, sh.edge, sh.area, sh.stroke)))
    ref_h, _ = _typical_height(sh, min_h, cfg)
    _merge(sh, ref_h, labels)
    # again: the pieces of one blotchy digit are not "the digits around"
    ref_h, typical = _typical_height(sh, min_h, cfg)
    edges, desk = around or (_sheet_edges(ink.paper), _Desk(ink.paper, ink.sheet))
    candidates: list[Candidate] = []
    others: list[Box] = []
    rejected = 0
    near_here = None if near is None else [tuple(v / f for v in b) for b in near]  # in search pixels
    for box, mem, e in zip(sh.boxes, sh.members, sh.edge):
        if near_here is not None and not any(_overlap(box, b) for b in near_here):
            continue
        if box[3] < min_h or box[3] < SPECK * ref_h:
            continue  # noise, a dot, a stray mark (or a piece of a digit: see _cut_pieces)
        if typical >= 2 and box[2] < SLIVER * box[3] and box[3] > LONG_SLIVER * ref_h:
            rejected += 1  # a piece of a line: a handwritten "1" is about as tall as the digits around it
            continue
        if desk.under(box) or (box[2] < SLIVER * box[3] and _along_a_line(ink.lines, box)):
            rejected += 1
            continue
        if box[2] < STEP_SLIVER * box[3] and _on_a_step(ink.levels[ink.level], labels, mem, box):
            rejected += 1  # the edge of the sheet or of a shadow, not a "1"
            continue
        cand = None
        plausible = _plausible(box, e, ref_h, typical, cfg)
        if plausible and not _on_sheet_edge(labels, mem, box, edges):
            cand = _cut_out(ink, labels, mem, box, min_h)
        if cand is None or not _is_digit_like(cand, cfg, min_h * f * cand.scale):
            rejected += 1
            if not e and (not plausible or cand is not None):  # letters of print, a word run together
                others.append(tuple(int(round(v * f)) for v in box))
            continue
        # The edge of a sheet held at an angle, or of a shadow across it, and a "1" written along one
        # look alike here, and so do the desk's grain and a digit in a shadow: the network tells them
        # apart (pipeline: shown only if read surely).
        cand.sure_only = desk.dim(box) or _on_a_slanted_step(ink.levels[ink.level], ink.paper, labels, mem, box)
        candidates.append(cand)
    if len(candidates) > cfg.max_candidates:
        candidates.sort(key=lambda c: -c.area)
        rejected += len(candidates) - cfg.max_candidates
        del candidates[cfg.max_candidates :]
    stroke = ink.scale.stroke if ink.scale.found else 0.0
    words = [] if near is not None else [tuple(int(round(v * f)) for v in box)
                                         for box in _words(ink.mask, ref_h, min_h, cfg)]
    return Detection(1.0 / f, ink.mask, candidates, rejected, ink.light_on_dark, stroke, words, ink.look,
                     functools.partial(_cut_pieces, ink, labels, sh, ref_h, min_h, cfg, desk),
                     Detection.regrown if near is not None  # (its default: not grown again)
                     else functools.partial(_regrown, ink, cfg, (edges, desk)), others)


def _regrown(ink: Ink, cfg: DetectConfig, around: tuple[np.ndarray, _Desk], near: list[Box]) -> Detection | None:
    """The detection, near the boxes `near` (frame pixels), on the ink grown there into fainter pixels
    next to its shapes (ink.grown); None where there is nothing to grow."""
    f = 2**ink.level
    more = grown(ink, [tuple(int(v // f) for v in b) for b in near])
    return None if more is None else _detection(more, cfg, near, around)


def _overlap(a: tuple, b: tuple) -> bool:
    """Whether two boxes (x, y, w, h) share any area."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _words(mask: np.ndarray, ref_h: float, min_h: float, cfg: DetectConfig) -> list[list[int]]:
    """Boxes (search pixels) of the shapes far wider than tall once gaps under WORD_GAP of the writing's
    height are closed: words of print, whose letters stand a pixel or two apart, and rules. The closing
    is only for finding them: digits are still cut from the mask as it is, so two handwritten digits
    that nearly touch are not joined. The kernel is 3 or 5 search pixels wide (gaps of up to 2 or 4
    pixels close); a handwritten number's digits stand further apart than a fifth of their height."""
    k = min(5, max(3, int(WORD_GAP * ref_h) | 1))
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    _, _, stats = components(closed)
    H, W = mask.shape
    return [[x, y, w, h] for x, y, w, h in stats[1:, :4].tolist()
            if h >= min_h and h >= SPECK * ref_h and w > cfg.max_aspect_wide * h and not _at_border(x, y, w, h, W, H)]


def _plausible(box: list[int], edge: bool, ref_h: float, typical: int, cfg: DetectConfig) -> bool:
    """Whether a shape could be a digit by its box: its aspect, and at the frame's border its size.

    Touching the border: a digit cut by the frame edge reads wrongly, and paper edges and shadows
    touch it. Keep it only when it is as tall as the digits clear of the border and not a thin
    upright sliver (the edge of a sheet or of a shadow along the border is a "1").
    """
    _, _, bw, bh = box
    if edge and not (typical >= 2 and 0.7 * ref_h <= bh <= 1.5 * ref_h and bw >= EDGE_WIDTH * bh):
        return False
    return _digit_proportions(box, cfg)


def _sheet_edges(paper: np.ndarray) -> np.ndarray | None:
    """Where the paper's brightness steps down by half within a few pixels: the sheet's edge against a
    darker desk (None where there is no such step). Ink found right along it is that edge's shadow or
    the desk's texture, not writing."""
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    low, high = cv2.erode(paper, k), cv2.dilate(paper, k)
    step = cv2.compare(cv2.convertScaleAbs(high, alpha=SHEET_STEP), low, cv2.CMP_GT)
    return step if cv2.countNonZero(step) else None


class _Desk:
    """Whether the paper under a shape is darker than DESK of the frame's typical paper (its median):
    the desk or the table around the sheet, whose grain and the shadow along the sheet's edge make
    `1`s. A hard shadow on the sheet keeps a third of the light or more, and the writing in it stays.
    Where the sheet is less than half of the frame (a sticky note on a desk: ink.the_sheet), the
    typical paper is the sheet's.
    The median is taken only for a shape on paper that dark at all (the usual frame needs none)."""

    def __init__(self, paper: np.ndarray, sheet: np.ndarray | None = None) -> None:
        self.paper, self.sheet = paper, sheet
        self.typical: float | None = None  # the frame's paper (its median), taken when first needed

    def dim(self, box: list[int]) -> bool:
        """Whether the paper under a shape is under DIM_PAPER of the frame's typical paper."""
        x, y, w, h = box
        return self._below(cv2.mean(self.paper[y : y + h, x : x + w])[0], DIM_PAPER)

    def under(self, box: list[int]) -> bool:
        x, y, w, h = box
        if self.paper[y + h // 2, x + w // 2] >= 2 * DESK * 255:
            return False  # bright paper at its middle (the usual shape, at a pixel's cost)
        return self._below(cv2.mean(self.paper[y : y + h, x : x + w])[0], DESK)

    def _below(self, mean: float, share: float) -> bool:
        """Whether paper `mean` bright is under `share` of the frame's typical paper. Paper at least
        that share of white is not, whatever the frame's: the usual shape needs no median."""
        if mean >= share * 255:
            return False
        if self.typical is None:
            sample = self.paper[::4, ::4]
            if self.sheet is not None:  # a note on a desk: the note's paper
                sample = sample[self.sheet[::4, ::4] > 0]
            self.typical = float(np.median(sample))
        return mean < share * self.typical


def _quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile of a few values (a partition: np.percentile costs ten times as much on so few)."""
    flat = values.ravel()
    k = min(flat.size - 1, int(q * flat.size))
    return float(np.partition(flat, k)[k])


def _on_a_step(gray: np.ndarray, labels: np.ndarray, members: list[int], box: list[int]) -> bool:
    """Whether a narrow shape is the dark side of a step in the light, not a stroke: the surface
    beside it is much darker on one side than on the other (the edge of the sheet, with the desk
    beyond it, or of a hard shadow), and its own pixels (their median) are hardly darker than that side.
    A "1" written along such an edge is ink: far darker than the shade next to it."""
    x, y, w, h = box
    H, W = gray.shape[:2]
    b = max(2, h // 6)
    if x - b - 1 < 0 or x + w + b + 1 > W:
        return False
    left = gray[y : y + h, x - b - 1 : x - 1]
    right = gray[y : y + h, x + w + 1 : x + w + b + 1]
    a, c = _quantile(left, 0.75), _quantile(right, 0.75)  # the surface, not ink beside it
    own = _quantile(gray[y : y + h, x : x + w][_members(labels[y : y + h, x : x + w], members)], 0.5)
    return _steps(a, c, own)


def _steps(a: float, c: float, own: float) -> bool:
    """Whether the surface on one side of a shape (`a`, `c`: the two sides' brightness) is much darker
    than on the other (STEP), and the shape's own pixels (`own`, their median) hardly darker than that."""
    return min(a, c) < STEP * max(a, c) and own > STEP * min(a, c)


def _on_a_slanted_step(gray: np.ndarray, paper: np.ndarray, labels: np.ndarray, members: list[int],
                       box: list[int]) -> bool:
    """_on_a_step for a narrow shape running at a slant (the edge of a sheet held at an angle, of a
    shadow cast across it): narrow along its own axis (its second moments), the surface looked at on
    either side of it across that axis. (Where the paper's estimate under its box does not step by
    as much, there is no such step: the usual shape costs one look at it.)"""
    x, y, w, h = box
    lo, hi = cv2.minMaxLoc(paper[y : y + h, x : x + w])[:2]
    if lo >= STEP * hi:
        return False
    own = _members(labels[y : y + h, x : x + w], members)
    m = cv2.moments(own.view(np.uint8), binaryImage=True)
    if m["m00"] < 8:
        return False
    along, across, theta = spreads(m)
    across = max(across, 0.0)
    if across > STEP_SLIVER**2 * along:  # (spreads are squared lengths)
        return False
    normal = np.array([-np.sin(theta), np.cos(theta)])
    length, width = np.sqrt(12 * along), np.sqrt(12 * across)
    ys, xs = np.nonzero(own)
    pick = slice(None, None, max(1, ys.size // 64))
    pts = np.stack([xs[pick] + x, ys[pick] + y], 1).astype(np.float64)
    H, W = gray.shape[:2]
    sides = []
    for sign in (-1.0, 1.0):
        values = []
        for d in np.linspace(width / 2 + 1, width / 2 + 1 + max(2.0, length / 6), 3):
            q = np.rint(pts + sign * d * normal).astype(np.int64)
            q = q[(q[:, 0] >= 0) & (q[:, 0] < W) & (q[:, 1] >= 0) & (q[:, 1] < H)]
            values.append(gray[q[:, 1], q[:, 0]])
        side = np.concatenate(values)
        if side.size < 8:
            return False  # the step runs out of the frame: too little of that side to judge
        sides.append(_quantile(side, 0.75))
    return _steps(sides[0], sides[1], _quantile(gray[y : y + h, x : x + w][own], 0.5))


def _on_sheet_edge(labels: np.ndarray, members: list[int], box: list[int], edges: np.ndarray | None) -> bool:
    if edges is None:
        return False
    x, y, w, h = box
    lab = labels[y : y + h, x : x + w]
    own = _members(lab, members)
    n = cv2.countNonZero(own.view(np.uint8))
    return n > 0 and cv2.countNonZero(cv2.bitwise_and(own.view(np.uint8), edges[y : y + h, x : x + w])) > 0.3 * n


def join(a: Candidate, b: Candidate) -> Candidate:
    """Two candidates as one: the pieces of a digit written in two strokes (a 5's flag lifted off its
    body) or broken by a faint or grainy stretch of its stroke. The finer one is brought to the
    coarser one's pixels; each keeps its own pixels, so nothing between them joins in."""
    s = min(a.scale, b.scale)
    parts = []
    for c in (a, b):
        own, dark = c.own, c.dark
        k = s / c.scale
        ox, oy = round(c.origin[0] * k), round(c.origin[1] * k)
        if k < 1.0:
            size = (max(1, round(own.shape[1] * k)), max(1, round(own.shape[0] * k)))
            own = (cv2.resize(own * np.uint8(255), size, interpolation=cv2.INTER_AREA) > 0).view(np.uint8)
            dark = cv2.resize(dark, size, interpolation=cv2.INTER_AREA)
        parts.append((ox, oy, own, dark))
    x0, y0 = min(p[0] for p in parts), min(p[1] for p in parts)
    x1 = max(p[0] + p[2].shape[1] for p in parts)
    y1 = max(p[1] + p[2].shape[0] for p in parts)
    own = np.zeros((y1 - y0, x1 - x0), np.uint8)
    dark = np.zeros_like(own)
    for ox, oy, o, d in parts:
        sl = np.s_[oy - y0 : oy - y0 + o.shape[0], ox - x0 : ox - x0 + o.shape[1]]
        own[sl] |= o
        np.maximum(dark[sl], d, out=dark[sl])
    ys, xs = np.nonzero(own)
    box = (x0 + int(xs.min()), y0 + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    return Candidate(box, (x0, y0), own, dark, int(own.sum()), scale=s, ink=max(a.ink, b.ink))


def _along_a_line(lines: np.ndarray, box: list[int]) -> bool:
    """Whether an upright sliver is a stretch of a printed line that was left in where it is darker
    (it passed for writing along the line): the line taken out goes on right above and below it, in
    its own columns, in at least half the rows of a stretch ALONG_LINE of its height long (only one
    side counts at the frame's border). A "1" written across a ruled line meets that line in a row
    or two; one written beside a grid line stands in other columns."""
    x, y, w, h = box
    reach = max(2, round(ALONG_LINE * h))
    sides = [lines[max(0, y - reach) : y, x : x + w], lines[y + h : y + h + reach, x : x + w]]
    sides = [a for a in sides if len(a) >= reach // 2]
    return bool(sides) and all(np.count_nonzero(a.max(axis=1)) >= 0.5 * len(a) for a in sides)


def _piece(box: list[int], edge: bool, ref_h: float, min_h: float, cfg: DetectConfig) -> bool:
    """Whether a shape that is no digit by its size or proportions may be a piece of one: a 5's flag
    lifted off its body, a 7's bar, a broken stroke. Clear of the border, at least a speck's length
    and no longer than a digit; it is read only joined to a doubtful digit beside it (see pipeline)."""
    long = max(box[2], box[3])
    no_digit = box[3] < min_h or box[3] < SPECK * ref_h or not _digit_proportions(box, cfg)
    return no_digit and not edge and max(min_h, SPECK * ref_h) <= long <= PIECE_LONG * ref_h


def _cut_pieces(ink: Ink, labels: np.ndarray, sh: _Shapes, ref_h: float, min_h: float, cfg: DetectConfig,
                desk: _Desk) -> list[Candidate]:
    """The pieces of digits (see _piece) among a frame's shapes, cut out: the reader needs them only
    when a digit is in doubt (pipeline.Reader._joins), so they are looked for only then."""
    out: list[Candidate] = []
    for box, mem, e in zip(sh.boxes, sh.members, sh.edge):
        if len(out) < MAX_PIECES and _piece(box, e, ref_h, min_h, cfg) and not desk.under(box):
            cand = _cut_out(ink, labels, mem, box, min_h)
            if cand is not None:
                out.append(cand)
    return out


def _is_digit_like(cand: Candidate, cfg: DetectConfig, min_h: float) -> bool:
    """At the resolution it was cut out at: tall enough in real ink, of a digit's density, clearly dark somewhere."""
    cw, ch = cand.box[2], cand.box[3]
    if ch < 0.7 * min_h:  # at full resolution, little of it is really ink
        return False
    density = cand.area / float(cw * ch)
    return cw < 0.35 * ch or cfg.min_density <= density <= cfg.max_density


def _merge_pieces(boxes: list[list[int]], members: list[list[int]], edge: list[bool], ref_h: float,
                  blots: list[bool] | None = None, touching: Callable[[int, int], bool] | None = None) -> None:
    """Fold small pieces into the digit they belong to, in place.

    A piece (at least a fifth of a digit long: specks are not pieces) is merged into a larger shape
    when it sits over or under it, most of its width inside the shape's columns, within a quarter of
    the shape's height. Not when that makes the shape taller than LONG_SLIVER times its own height
    (before it took any piece) or the writing's, whichever is more: a wooden desk's grain, streak
    over streak, would stack into a block that the writing's height is then taken from, and every
    digit is too small beside it. A sliver may grow (a broken margin line's pieces join, and the
    whole is then too tall to be a "1"). Nor a blot (`blots`: fewer than WRITING_SHAPE stroke widths
    tall) that reaches the frame's border into a shape clear of it: that is a shadow's corner, and
    it would carry the digit to the border, where it is not read. And a piece clear of the border
    goes into a shape reaching it only where that shape's own pixels come near it (`touching`): the
    sheet's edge, or a shadow's outline, bends around a digit that lies inside its box.
    """
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][3])  # smallest first
    alive = [True] * len(boxes)
    own = [b[3] for b in boxes]  # each shape's height before it takes any piece
    # Shapes that can take pieces, filed by column bands so a piece only meets its neighbours.
    band = max(1.0, ref_h)
    hosts: dict[int, list[int]] = {}
    for j, (X, _, W, H) in enumerate(boxes):
        if H >= 0.4 * ref_h:
            for b in range(int(X // band), int((X + W) // band) + 1):
                hosts.setdefault(b, []).append(j)
    for i in order:
        x, y, w, h = boxes[i]
        if h >= 0.75 * ref_h or max(w, h) < 0.2 * ref_h:
            continue
        shade = edge[i] and blots is not None and blots[i]
        best, best_gap = -1, 1e9
        near = {j for b in range(int(x // band), int((x + w) // band) + 1) for j in hosts.get(b, ())}
        for j in near:
            if j == i or not alive[j] or (shade and not edge[j]):
                continue
            if edge[j] and not edge[i] and touching is not None and not touching(i, j):
                continue
            X, Y, W, H = boxes[j]
            if H < h:
                continue
            overlap = min(x + w, X + W) - max(x, X)
            if overlap < 0.5 * w:
                continue
            gap = max(Y - (y + h), y - (Y + H), 0)
            tall = max(y + h, Y + H) - min(y, Y)
            sliver = max(x + w, X + W) - min(x, X) < SLIVER * tall
            if tall > LONG_SLIVER * max(own[j], ref_h) and not sliver:
                continue
            if gap <= 0.25 * H and (gap < best_gap or (gap == best_gap and j < best)):
                best, best_gap = j, gap
        if best >= 0:
            X, Y, W, H = boxes[best]
            nx, ny = min(x, X), min(y, Y)
            boxes[best] = [nx, ny, max(x + w, X + W) - nx, max(y + h, Y + H) - ny]
            members[best] += members[i]
            edge[best] = edge[best] or edge[i]
            alive[i] = False
    keep = [i for i in range(len(boxes)) if alive[i]]
    for lst in (boxes, members, edge):
        lst[:] = [lst[i] for i in keep]


def slant_of(shape: np.ndarray) -> float:
    """The slant of a binary shape (x shift per pixel down), from its second moments; 0 if slight."""
    m = cv2.moments(shape, binaryImage=True)
    return _slant(m["mu11"], m["mu02"])


def _slant(mu11: float, mu02: float) -> float:
    """The slant from a shape's second moments, within MAX_SLANT; 0 if under SLIGHT_SLANT."""
    if mu02 <= 1e-6:
        return 0.0
    slant = -mu11 / mu02
    return max(-MAX_SLANT, min(MAX_SLANT, float(slant))) if abs(slant) > SLIGHT_SLANT else 0.0


def sheared_columns(h: int, w: int, slant: float) -> np.ndarray:
    """For each pixel of an h x w box, its column once the slant is removed (int32)."""
    v = np.arange(h, dtype=np.float32)[:, None] - (h - 1) / 2
    u = np.arange(w, dtype=np.float32)[None, :]
    return np.floor(u + slant * v + 0.5).astype(np.int32)


def split_columns(shape: np.ndarray, slant: float = 0.0, max_digits: int = 3) -> tuple[list[int], int]:
    """Where a wide shape is thinnest across the writing direction (best first), and its width.

    Columns are counted after removing the slant, so the cut between two italic digits runs along
    the writing and not straight down through both of them.
    """
    h, w = shape.shape
    cols = sheared_columns(h, w, slant)
    first = int(cols.min())
    proj = np.bincount((cols - first).ravel(), weights=shape.ravel().astype(np.float32))
    nz = np.flatnonzero(proj)
    if nz.size == 0:
        return [], w
    proj = proj[nz[0] : nz[-1] + 1]
    first += int(nz[0])
    n = len(proj)
    proj = np.convolve(proj, np.ones(3) / 3, mode="same")
    lo, hi = max(1, int(n * 0.2)), min(n - 1, int(n * 0.8))
    if hi - lo < 3:
        return [], n
    mid = proj[lo:hi]
    valleys = lo + np.flatnonzero((mid <= proj[lo - 1 : hi - 1]) & (mid <= proj[lo + 1 : hi + 1]))
    picked: list[int] = []
    for c in valleys[np.argsort(proj[valleys], kind="stable")].tolist():
        if all(abs(c - p) > 0.25 * h for p in picked):
            picked.append(c)
            if len(picked) >= max_digits:
                break
    return [c + first for c in picked], n


def propose_cuts(cand: Candidate, rows: float = 0.0) -> None:
    """Fill in the candidate's slant, cut columns and slant-corrected width (done only for wide shapes).

    `rows`: the slope (dy/dx) of the rows of a sheet held at an angle. Its digits stand side by side
    along the rows, so the cuts run across them (a shear by that slope divides the frame along lines
    at right angles to the rows) rather than down the frame's columns, which cross both digits."""
    bx, by, bw, bh = cand.box
    x0, y0 = cand.origin
    inner = np.ascontiguousarray(cand.own[by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw])
    cand.slant = _turned_slant(inner, rows) if rows else slant_of(inner)
    cand.cuts, cand.span = split_columns(inner, cand.slant)


def _turned_slant(shape: np.ndarray, rows: float) -> float:
    """The shear whose columns run at right angles to rows rising at `rows` (dy/dx), leaning with the
    writing's own slant as measured along those rows: the two angles add (tan(a + b))."""
    rows = max(-MAX_TILT, min(MAX_TILT, float(rows)))
    u, v = _along_rows(shape, rows)
    du, dv = u - u.mean(), v - v.mean()
    own = _slant(float(du @ dv), float(dv @ dv))
    return (rows + own) / (1.0 - rows * own)  # (both at most 0.6: the product is under 0.36)


def _along_rows(shape: np.ndarray, rows: float) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel of a binary shape along and across rows rising at `rows` (dy/dx), both scaled by
    sqrt(1 + rows^2)."""
    ys, xs = np.nonzero(shape)
    return xs + rows * ys, ys - rows * xs


def level_size(cand: Candidate, rows: float) -> tuple[float, float]:
    """The candidate's width and height measured along and across rows rising at `rows` (dy/dx): its
    size on the sheet, where a box around a turned shape is wider and taller than the shape."""
    u, v = _along_rows(cand.own, rows)
    if not len(u):
        return float(cand.box[2]), float(cand.box[3])
    n = math.hypot(1.0, rows)
    return float(np.ptp(u) / n + 1), float(np.ptp(v) / n + 1)


@jit
def _own_and_dark(gray, paper_s, shape, f, x0, y0, sx0, sy0, lo):  # pragma: no cover - compiled
    """Darkness and own-pixel mask of the working-resolution crop whose top left is (x0, y0).

    `shape` is the candidate's pixels at 1/f resolution, its top left at (sx0, sy0); the
    paper comes from `paper_s` (1/f resolution too) by bilinear interpolation. A pixel is the
    candidate's own when its darkness passes `lo` and the outline, grown by one full-resolution
    pixel to cover rounding, covers it. Returns (own, dark, area, box, darkest).
    """
    rows, cols = gray.shape
    sh, sw = shape.shape
    ry0, ry1, ay = linear_axis(y0, rows, 1.0 / f, paper_s.shape[0])
    cx0, cx1, ax = linear_axis(x0, cols, 1.0 / f, paper_s.shape[1])
    # The shape at crop resolution, grown by a pixel sideways, then up and down.
    up = np.zeros((rows, cols), np.uint8)
    for y in range(rows):
        u = (y0 + y) // f - sy0
        if 0 <= u < sh:
            for x in range(cols):
                v = (x0 + x) // f - sx0
                if 0 <= v < sw and shape[u, v]:
                    up[y, max(0, x - 1)] = 1
                    up[y, x] = 1
                    if x + 1 < cols:
                        up[y, x + 1] = 1
    dark = np.zeros((rows, cols), np.uint8)
    own = np.zeros((rows, cols), np.uint8)
    area, top = 0, 0
    by0, by1, bx0, bx1 = rows, -1, cols, -1
    c_lo, c_hi = cx0[0], cx1[cols - 1] + 1
    prow = np.empty(c_hi, np.float32)
    for y in range(rows):
        t = ay[y]
        for c in range(c_lo, c_hi):  # the paper along this row, at 1/f resolution
            prow[c] = paper_s[ry0[y], c] * (1.0 - t) + paper_s[ry1[y], c] * t
        for x in range(cols):
            s = ax[x]
            p = prow[cx0[x]] * (1.0 - s) + prow[cx1[x]] * s
            g = gray[y, x]
            if g >= p:
                continue
            d = min(255, int((p - g) * (255.0 / p) + 0.5))
            dark[y, x] = d
            if d > lo and (up[y, x] or (y > 0 and up[y - 1, x]) or (y + 1 < rows and up[y + 1, x])):
                own[y, x] = 1
                area += 1
                top = max(top, d)
                by0, by1, bx0, bx1 = min(by0, y), max(by1, y), min(bx0, x), max(bx1, x)
    return own, dark, area, (bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1), top




def _cut_out(ink: Ink, labels: np.ndarray, members: list[int], box: list[int] | tuple, min_h: float,
             ) -> Candidate | None:
    """A candidate's own pixels and darkness at the coarsest level where it is still CROP_HEIGHT tall
    (never coarser than the search level), from its shape found at the search level; None if none of
    it is clearly ink (hysteresis)."""
    bx, by, bw, bh = box
    level = min(ink.level, max(0, math.floor(math.log2(max(bh, 1) * 2**ink.level / CROP_HEIGHT))))
    f = 2 ** (ink.level - level)  # crop pixels per search pixel
    H, W = ink.levels.size(level)
    x0, y0 = max(0, bx * f - 1), max(0, by * f - 1)
    x1, y1 = min(W, (bx + bw) * f + 1), min(H, (by + bh) * f + 1)
    sx0, sy0 = x0 // f, y0 // f
    sx1, sy1 = min(labels.shape[1], -(-x1 // f)), min(labels.shape[0], -(-y1 // f))
    lab = labels[sy0:sy1, sx0:sx1]
    shape = _members(lab, members).view(np.uint8)
    crop = ink.levels.crop(level, y0, y1, x0, x1)
    low, high = ink.low, ink.high
    if ink.sheet is not None and not ink.sheet[by + bh // 2, bx + bw // 2]:
        low, high = ink.desk  # off a note on a desk: the desk's grain sets what is ink
    own, dark, area, (x, y, w, h), top = _own_and_dark(crop, ink.paper, shape, f, x0, y0, sx0, sy0, low)
    if area == 0 or top < high:
        return None
    strokes = ink.dark[sy0:sy1, sx0:sx1][shape > 0]
    p90 = int(0.9 * (strokes.size - 1))
    return Candidate((x0 + x, y0 + y, w, h), (x0, y0), own, dark, area, scale=1.0 / 2**level,
                     ink=float(np.partition(strokes, p90)[p90]) if strokes.size else 0.0)
