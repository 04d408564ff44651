"""One frame in, the digits it shows out: detect -> normalise -> classify -> track, timed per stage.

`Reader.read` is the whole per-frame job of the app with no I/O in it, so the live loop, the
benchmarks and the tests all run exactly this.

Touching digits ("10" written in one stroke) arrive as one wide shape with candidate cut columns.
Every way of cutting it into 1-3 parts is classified in the same batch as the other digits, and the
reading that the network is most sure of wins, with a prior against parts that are themselves far
wider than a digit. This is recognition-driven segmentation: the classifier, not a heuristic on the
shape alone, decides where one digit ends. The other way round too: a digit that arrives in two pieces
(a lifted flag, a stroke broken by faint ink) is read joined when the network is surer of it so.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from realtime.classify import Backend, second_look
from realtime.detect import Candidate, DetectConfig, Detection, detect, join, level_size, propose_cuts
from realtime.ink import Look
from realtime.normalise import level, normalise
from realtime.track import Box, Tracker, group_rows, read_lines, row_slope
from train.mnist_spec import NOT_A_DIGIT
from train.resample import jit

TYPICAL_ASPECT = 0.85  # width / height of a wide handwritten digit: with too few digits to tell, be slow to cut
SPLIT_WIDER = 1.35  # a shape this much wider than the frame's typical digit may be touching digits ...
SURE_READ = 0.9  # ... unless the network reads it as one digit with this confidence ...
SURE_SPLIT = 1.7  # ... and it is not this much wider
OVERLAP = 0.5  # parts whose boxes overlap by more than this share of the narrower one are one digit
LOOK_EVERY = 8  # a video's frames share the first look at the writing (scale, polarity) for this many frames
PRINT_WORD = 4  # a row with this many letters in shapes that are not digits is a line of print (a word at least) ...
LETTER_WIDE = 0.75  # a shape that is no digit holds about one letter per this much of its height in width
TYPESET = 0.25  # ... if its shapes stand closer than this share of their height
LINE_SIZES = 1.6  # shapes of one line of print differ in height by less than this factor
STAMP_DIGITS = 6  # a line of this many digits of one height on one baseline is a printed stamp ...
STAMP_EVEN = 0.05  # ... one height and one baseline: within this share of the height ...
STAMP_PIXELS = 2  # ... or this many pixels more, where its repeated digits are copies of one glyph:
SAME_GLYPH = 0.9  # ... the median correlation of the 28x28 images of its same-class digits (but 1s) this high
PRINTED_DIGITS = 3  # a line with letters in it (see _lettered) and this many digits as even as a stamp's is print
FLAT_WORD = 4.0  # a word of print whose small letters are in it is this many times wider than tall
JOIN_GAP = 0.25  # two shapes, one of them no sure digit, within this share of their joined height ...
JOIN_WIDE = 1.5  # ... joined no wider than this for their height (as 99.5 % of MNIST's digits) ...
JOIN_TALL = 1.5  # ... nor taller than this many of the frame's sure digits' median height, are one digit
#                   in two pieces if the network reads them joined as a digit more surely than apart ...
JOIN_MOST = 64  # ... (pairs tried per frame at most: a texture's grain makes many doubtful shapes)
JOIN_ROUNDS = 2  # ... and a joined pair may take one more shape or piece (a digit in three pieces)
FAINT_INK = 0.4  # a shape read as a digit whose ink is under this share as dark as the frame's typical digit's
#                 (the median of those read) is no writing: a faint margin line's broken piece, a hand's shadow


@dataclass
class Digit:
    box: Box  # x, y, w, h in the frame's own pixels
    digit: int | None  # None: rejected (confidence under the threshold), shown as "?"
    confidence: float
    probs: np.ndarray
    image: np.ndarray  # the 28x28 the network saw
    track: int = -1

    @property
    def symbol(self) -> str:
        return "?" if self.digit is None else str(self.digit)

    def to_json(self) -> dict:
        return {"box": list(self.box), "digit": self.digit, "confidence": round(float(self.confidence), 4)}


@dataclass
class FrameResult:
    digits: list[Digit]
    lines: list[str]
    ms: dict[str, float]
    detection: Detection | None = None
    extra: dict = field(default_factory=dict)


def _segmentations(cuts: list[int]) -> list[list[tuple[int, int] | None]]:
    """Ways to cut a shape at up to two of `cuts` (the whole shape, None, first)."""
    big = 1 << 20
    out: list[list[tuple[int, int] | None]] = [[None]]
    for k in (1, 2):
        for chosen in itertools.combinations(sorted(cuts), k):
            edges = [-big, *chosen, big]
            out.append([(a, b) for a, b in zip(edges, edges[1:])])
    return out


class _Clock:
    """Milliseconds per stage of one frame, the stages' laps added up."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self.t) * 1e3
        self.t = now


class _Pieces:
    """The frame's pieces of digits (detect._piece), cut out when first asked for, less those already
    joined to a digit."""

    def __init__(self, cut: Callable[[], list[Candidate]]) -> None:
        self._cut, self._all, self._spent = cut, None, set()

    def left(self) -> list[Candidate]:
        if self._all is None:
            self._all = self._cut()
        return [p for p in self._all if id(p) not in self._spent]

    def spend(self, piece: Candidate) -> None:
        self._spent.add(id(piece))


class _Batch:
    """The 28x28 images of one frame, their boxes and, once classified, their probabilities."""

    def __init__(self) -> None:
        self.images: list[np.ndarray] = []
        self.boxes: list[Box] = []
        self.probs = np.zeros((0, 10), np.float32)
        self.dropped: list[Box] = []  # shapes read and then not shown: not digits, or print
        self.sure_only: list[bool] = []  # shown only if read surely (detect.Candidate.sure_only)
        self.ink: list[float] = []  # how dark each image's shape is (detect.Candidate.ink)

    def add(self, image: np.ndarray, box: Box, cand: Candidate, sure_only: bool = False) -> int:
        self.images.append(image)
        self.boxes.append(box)
        self.sure_only.append(sure_only)
        self.ink.append(cand.ink)
        return len(self.images) - 1

    def take(self, other: _Batch, j: int, sure_only: bool = False) -> int:
        """Row j of another (classified) batch as a row of this one, classified; its index. `sure_only`:
        shown only if read surely, whatever it was there."""
        self.images.append(other.images[j])
        self.boxes.append(other.boxes[j])
        self.sure_only.append(other.sure_only[j] or sure_only)
        self.ink.append(other.ink[j])
        self.probs = np.concatenate([self.probs, other.probs[j : j + 1]])
        return len(self.images) - 1

    def classify(self, backend: Backend) -> None:
        """Classify the images added since the last call, in one call."""
        new = self.images[len(self.probs) :]
        if new:
            self.probs = np.concatenate([self.probs, backend.predict(np.stack(new))])


def _one_place(a: Box, b: Box) -> bool:
    """Whether either box holds the other's centre: the same digit, read from two masks."""
    def holds(box: Box, other: Box) -> bool:
        x, y, w, h = box
        return x <= other[0] + other[2] / 2 <= x + w and y <= other[1] + other[3] / 2 <= y + h
    return holds(a, b) or holds(b, a)


def _by_height(row: list[int], boxes: list[Box]) -> list[list[int]]:
    """A row's shapes split into groups of one size (each within LINE_SIZES of the group's first),
    left to right within each: a label in small print and the large handwritten number beside it."""
    groups: list[list[int]] = []
    for k in sorted(row, key=lambda k: -boxes[k][3]):
        h = boxes[k][3]
        for g in groups:
            if boxes[g[0]][3] <= LINE_SIZES * h:
                g.append(k)
                break
        else:
            groups.append([k])
    return [sorted(g, key=lambda k: boxes[k][0]) for g in groups]


def _numbered(line: list[int], boxes: list[Box], conf: list[float], reads: list[tuple[np.ndarray, np.ndarray]],
              not_a_digit: float, least: int = STAMP_DIGITS) -> bool:
    """Whether a line holds `least` (STAMP_DIGITS) or more digits of one height on one straight
    baseline: a printed date or number. Handwriting is never that even: within STAMP_EVEN of the height, or
    STAMP_PIXELS more where the line's repeated digits are copies of one glyph each, as type's are and
    no hand's (see _one_glyph): a stamp's digits a dozen pixels tall differ by a pixel in their boxes,
    and by two when it is tilted. `reads`: each shape's probabilities and 28x28 image."""
    digits = [k for k in line if conf[k] >= not_a_digit]
    if len(digits) < least:
        return False
    if _even(digits, boxes, 0):
        return True
    # Type's copies of one glyph: a pixel or two of leeway, and one digit may be off (a stamp's
    # faded or smudged one); the rest are still at least `least`.
    if len(digits) > least:
        h = np.array([boxes[k][3] for k in digits], np.float64)
        odd = int(np.abs(h - np.median(h)).argmax())
        kept = digits[:odd] + digits[odd + 1:]
    else:
        kept = digits
    return bool(_even(kept, boxes, STAMP_PIXELS)
                and _one_glyph([int(reads[k][0].argmax()) for k in kept], [reads[k][1] for k in kept]))


def _even(digits: list[int], boxes: list[Box], pixels: int) -> bool:
    """Whether the boxes are of one height and on one straight baseline: within STAMP_EVEN of the
    height, and `pixels` more."""
    h = np.array([boxes[k][3] for k in digits], np.float64)
    x = np.array([boxes[k][0] + boxes[k][2] / 2 for k in digits], np.float64)
    bottom = np.array([boxes[k][1] + boxes[k][3] for k in digits], np.float64)
    off = np.abs(bottom - np.polyval(np.polyfit(x, bottom, 1), x)).max()
    return bool(h.max() <= (1 + STAMP_EVEN) * h.min() + pixels and off <= STAMP_EVEN * np.median(h) + pixels)


def _one_glyph(classes: list[int], images: list[np.ndarray]) -> bool:
    """Whether the digits read as one class are copies of one glyph: the median correlation of their
    28x28 images, pair by pair, at least SAME_GLYPH. Type repeats its glyphs to the pixel, a hand
    does not (over the photos' lines of six digits or more, the highest median was 0.86; a stamp's
    are 0.92-0.99). "1"s are left out, as any two upright bars are alike; with no class repeated,
    nothing shows type."""
    flat = [(im - im.mean()).ravel() for im in images]
    flat = [v / max(float(np.linalg.norm(v)), 1e-6) for v in flat]
    same = [float(flat[a] @ flat[b]) for a in range(len(flat)) for b in range(a + 1, len(flat))
            if classes[a] == classes[b] != 1]
    return bool(same) and float(np.median(same)) >= SAME_GLYPH


def _letters(box: Box) -> int:
    """About how many letters a shape that is no digit holds: print runs letters into one shape."""
    return max(1, round(box[2] / (LETTER_WIDE * box[3])))


def _lettered(shapes: list[int], boxes: list[Box], conf: list[float], not_a_digit: float,
              doubt: float | None = None) -> bool:
    """Whether PRINT_WORD letters, or two and half as many as there are shapes, are in those of
    `shapes` that the network calls no digit (each counting the letters its width holds).
    `doubt`: toward PRINT_WORD, shapes read under this confidence count too. A page's "Page 4 of 23"
    has three letters the network calls no digit, and "of", run together, it reads as a doubtful 9;
    a handwritten line's two or three doubtful digits are no word's worth, and do not make up half
    of the line."""
    n = sum(_letters(boxes[k]) for k in shapes if conf[k] < not_a_digit)
    word = sum(_letters(boxes[k]) for k in shapes if conf[k] < max(doubt or 0.0, not_a_digit))
    return word >= PRINT_WORD or (n >= 2 and n >= 0.5 * len(shapes))


def _within(row: list[int], line: list[int], boxes: list[Box]) -> list[int]:
    """The shapes of `row` whose centres lie inside the box around `line`, left to right: with the
    line's own shapes, those set among them (the lower-case letters between a printed line's
    capitals and digits), but none over LINE_SIZES times taller (a smudge or a shadow across it)."""
    x0 = min(boxes[k][0] for k in line)
    y0 = min(boxes[k][1] for k in line)
    x1 = max(boxes[k][0] + boxes[k][2] for k in line)
    y1 = max(boxes[k][1] + boxes[k][3] for k in line)
    tallest = max(boxes[k][3] for k in line)
    inside = [k for k in row if x0 <= boxes[k][0] + boxes[k][2] / 2 <= x1
              and y0 <= boxes[k][1] + boxes[k][3] / 2 <= y1 and boxes[k][3] <= LINE_SIZES * tallest]
    return sorted(set(inside) | set(line), key=lambda k: boxes[k][0])


def _set_among(row: list[int], line: list[int], boxes: list[Box]) -> list[int]:
    """The shapes of `row` set among a line of print (`_within` its box) that are shorter than its
    shapes' median: its lower-case letters ("o" of "No.", read as a 0), a size group of their own."""
    short = statistics.median(boxes[k][3] for k in line)
    return [k for k in _within(row, line, boxes) if boxes[k][3] < short]


def _in_words(n: int, boxes: list[Box]) -> set[int]:
    """Which of the first `n` boxes (shapes) lie inside one of the rest (words of print run together,
    see detect._words), centre in, no taller and at least half as tall: the small letters of a line
    of print (an "o", an "e"), too much smaller than its capitals to count as one line with them.
    Only words at least FLAT_WORD times wider than tall: a stretch of a printed line left on a sheet
    held at an angle is a "word" too, and its box, as tall as the line rises, holds strokes."""
    inside = set()
    for wx, wy, ww, wh in boxes[n:]:
        if ww < FLAT_WORD * wh:
            continue
        for k in range(n):
            x, y, w, h = boxes[k]
            if wx <= x + w / 2 <= wx + ww and wy <= y + h / 2 <= wy + wh and wh / 2 <= h <= wh:
                inside.add(k)
    return inside


@jit
def _joinable(b, doubtful, tallest):  # pragma: no cover - compiled
    """Pairs i < j of boxes (rows x, y, w, h) that may be one digit: close (JOIN_GAP), no wider than
    one (JOIN_WIDE), no taller than `tallest`, and one of them no sure digit or the two one above the
    other. Returns (may be one digit, one above the other) as two n x n matrices, filled above the
    diagonal. One above the other: sharing more than OVERLAP of the narrower one's columns, never
    side by side as the digits of a number stand."""
    n = b.shape[0]
    ok = np.zeros((n, n), np.bool_)
    stacked = np.zeros((n, n), np.bool_)
    for i in range(n):
        for j in range(i + 1, n):
            x0, y0 = max(b[i, 0], b[j, 0]), max(b[i, 1], b[j, 1])
            x1, y1 = min(b[i, 0] + b[i, 2], b[j, 0] + b[j, 2]), min(b[i, 1] + b[i, 3], b[j, 1] + b[j, 3])
            uw = max(b[i, 0] + b[i, 2], b[j, 0] + b[j, 2]) - min(b[i, 0], b[j, 0])
            uh = max(b[i, 1] + b[i, 3], b[j, 1] + b[j, 3]) - min(b[i, 1], b[j, 1])
            stacked[i, j] = x1 - x0 > OVERLAP * min(b[i, 2], b[j, 2])
            ok[i, j] = (max(x0 - x1, y0 - y1) <= JOIN_GAP * uh and uw <= JOIN_WIDE * uh and uh <= tallest
                        and (doubtful[i] or doubtful[j] or stacked[i, j]))
    return ok, stacked


def _typeset(row: list[int], boxes: list[Box]) -> bool:
    """Whether a row's shapes stand as close as printed letters do: most gaps under TYPESET of the
    height (handwriting leaves more room between symbols, unless its digits touch)."""
    if len(row) < 3:
        return False
    gaps = [boxes[b][0] - (boxes[a][0] + boxes[a][2]) for a, b in zip(row, row[1:])]
    height = statistics.median(boxes[k][3] for k in row)
    return statistics.median(gaps) < TYPESET * height


class Reader:
    """Reads the digits of frames; keeps the tracker state between frames of one video."""

    def __init__(self, backend: Backend, detect_config: DetectConfig | None = None, min_confidence: float = 0.5,
                 smooth: bool = True, not_a_digit: float = NOT_A_DIGIT) -> None:
        self.backend = backend
        self.config = detect_config or DetectConfig()
        self.min_confidence = min_confidence  # under it a digit shows as "?"
        self.not_a_digit = min(not_a_digit, min_confidence)  # under it a shape is not shown at all
        self.smooth = smooth
        self.tracker = Tracker()
        self._look: Look | None = None  # the last first look at the writing (its scale and polarity) ...
        self._looked = 0  # ... and how many frames have used it since

    def warm_up(self) -> None:
        """Read one generated sheet (with touching digits) so that the compiled kernels are built, or
        loaded from numba's cache, now rather than during the first real frame."""
        from realtime.measure.scene import FontDigits, make_scene

        sheet = make_scene(np.random.default_rng(0), FontDigits(), 6).image
        self.read(sheet, still=True)
        self.read(cv2.resize(sheet, None, fx=0.5, fy=0.5), still=True)

    def read(self, frame: np.ndarray, still: bool = False, t: float | None = None) -> FrameResult:
        """Read one frame. `still`: an independent image (no smoothing with the frames before). `t`: when
        it was seen, in seconds, for smoothing over time (without it frames count as 1/30 s apart)."""
        clock = _Clock()
        det = detect(frame, self.config, self._last_look(still))
        self._look, self._looked = det.look, self._looked + 1 if det.look is self._look else 0
        clock.lap("detect")
        batch = _Batch()
        chosen, slope = self._choose(det, batch, clock)
        chosen = self._regrown(chosen, batch, det, clock)
        digits = self._digits(chosen, batch, still, t)
        rows = group_rows([d.box for d in digits], slope)
        lines = read_lines([d.box for d in digits], [d.symbol for d in digits], rows=rows)
        digits = [digits[i] for row in rows for i in row]  # reading order: rows top to bottom, left to right
        clock.lap("track")
        return FrameResult(digits, lines, clock.ms, det, {"dropped": batch.dropped})

    def _choose(self, det: Detection, batch: _Batch, clock: _Clock) -> tuple[list[int], float]:
        """The batch rows that are the frame's digits (every candidate read, pieces joined, touching
        digits cut, a tilted sheet's digits levelled, print left out), and the rows' slope."""
        for cand in det.candidates:  # every candidate read as one digit, in one batch
            batch.add(*normalise(cand), cand, cand.sure_only)
        clock.lap("normalise")
        batch.classify(self.backend)
        clock.lap("classify")
        cands, rows = list(det.candidates), list(range(len(det.candidates)))
        pieces = _Pieces(det.pieces)
        for _ in range(JOIN_ROUNDS):  # a digit in three pieces is joined two by two
            before = rows
            cands, rows = self._joins(list(cands), list(rows), pieces, batch)
            if rows == before:
                break
        options, expected = self._cuts(cands, rows, batch)
        clock.lap("normalise")
        batch.classify(self.backend)
        clock.lap("classify")
        chosen = [i for segs, n in zip(options, expected) for i in self._best(segs, batch, n)]
        slope = row_slope([batch.boxes[i] for i in chosen])  # (0 unless the sheet is held at an angle)
        if slope:
            clock.lap("track")
            self._level(chosen, batch, slope)
            clock.lap("classify")
        return self._without_print(chosen, batch, det.words, slope, det.others), slope

    def _regrown(self, chosen: list[int], batch: _Batch, det: Detection, clock: _Clock) -> list[int]:
        """A digit read in doubt (under SURE_READ, not so unsure as to be no digit) read again from the
        ink grown into the fainter pixels next to the frame's shapes (ink.grown): where the digit there
        (the one that holds its box's centre, or whose centre its box holds) is read more surely, as
        each would be shown, it is that digit, and the shapes it grew over (pieces of it) go. The
        faint part of a stroke that fell under the mask's threshold is back. Not where it grew two
        digits side by side into one shape (wider than JOIN_WIDE for its height)."""
        doubt = [k for k, i in enumerate(chosen) if self.not_a_digit <= batch.probs[i].max() < SURE_READ]
        if not doubt:
            return chosen
        clock.lap("track")  # (leaving print out), then the regrowth counts as detect
        more = det.regrown([batch.boxes[chosen[k]] for k in doubt])
        clock.lap("detect")
        if more is None:
            return chosen
        other = _Batch()
        theirs, _ = self._choose(more, other, clock)
        out, taken, gone = list(chosen), set(), set()
        for k in doubt:
            i = chosen[k]
            if i in gone:
                continue
            near = [j for j in theirs if j not in taken and _one_place(batch.boxes[i], other.boxes[j])]
            j = max(near, key=lambda j: other.probs[j].max(), default=None)
            if j is None or other.probs[j].max() <= batch.probs[i].max():
                continue
            # as they would be shown: a "?" is read again over small deformations (_second_look)
            both = self._second_look(np.stack([batch.probs[i], other.probs[j]]), [batch.images[i], other.images[j]])
            if both[1].max() <= both[0].max():
                continue
            _, _, w, h = other.boxes[j]
            held = [m for m in out if m != i and m not in gone and _one_place(batch.boxes[m], other.boxes[j])]
            if held and w > JOIN_WIDE * h:
                continue  # two digits side by side grown into one shape
            out[k] = batch.take(other, j, batch.sure_only[i])
            taken.add(j)
            gone.update(held)  # pieces of the digit, now grown into it
        return [i for i in out if i not in gone]

    def _last_look(self, still: bool) -> Look | None:
        """The first look at the writing to reuse for this frame: none for a still image, and a new one
        every LOOK_EVERY frames of a video (a sheet's writing keeps its scale while it is held up)."""
        if still or self._look is None or not self._look.scale.found or self._looked + 1 >= LOOK_EVERY:
            return None  # (a look that saw no writing is taken again at once: a sheet may just have come up)
        return self._look

    def _joins(self, cands: list[Candidate], rows: list[int], pieces: _Pieces, batch: _Batch
               ) -> tuple[list[Candidate], list[int]]:
        """Join the pieces of digits: a shape read under SURE_READ and a shape or piece close to it
        (see detect._piece) that the network reads joined as a digit, more surely than the two apart
        (the product of their confidences) and than the one read surely if one is (a 5 whose flag was
        lifted off its body, a 4 with an open top, a stroke broken by faint ink or the paper's grain, a
        3 whose top ran along a printed line and went with it: the parts may each read as some digit,
        just not surely). Two shapes side by side that both read as digits are joined only into a
        digit that neither of them is: a short 1 beside a 7 reads joined as a 7 too, swallowed, while
        a 4 in two strokes reads as a 1 and a 1. Two shapes one above the
        other (_joinable) are tried as one digit however sure each is alone, and joined when it reads
        more surely than the two apart: a 6 whose loop was drawn apart from its stem, a sure 1 alone,
        is no 1 and a loop; digits of a number stand side by side, and a row above or below is too
        far (JOIN_GAP) or makes too tall a digit. Returns the candidates and their batch rows, a
        joined pair in place of its first shape. A piece is never shown on its own: apart, it counts
        as sure (nothing to lose). `rows`: the candidates' batch rows; `pieces`: those not yet joined."""
        n = len(cands)
        conf = batch.probs[rows].max(axis=1)
        doubtful = conf < max(SURE_READ, self.min_confidence)
        boxes = [batch.boxes[r] for r in rows]
        shapes = np.array(boxes, np.float64).reshape(-1, 4)
        sure = [box[3] for box, c in zip(boxes, conf) if c >= self.min_confidence]
        tallest = JOIN_TALL * statistics.median(sure) if len(sure) >= 3 else np.inf
        if not doubtful.any() and not _joinable(shapes, doubtful, tallest)[0].any():
            return cands, rows  # (no doubt, and no shapes one above the other: no pieces cut out)
        left = pieces.left()
        if n + len(left) < 2:
            return cands, rows
        every = cands + left
        b = np.array(boxes + [[v / p.scale for v in p.box] for p in left], np.float64)
        shown = np.concatenate([np.where(doubtful, 0.0, conf), np.zeros(len(left))])  # a digit is taken
        conf = np.concatenate([conf, np.ones(len(left))])  # into a join only when it is read more surely
        doubtful = np.concatenate([doubtful, np.zeros(len(left), bool)])
        ok, stacked = _joinable(b, doubtful, tallest)
        ok[n:, :] = False  # a pair is (a shape, a later shape or a piece)
        pairs = list(zip(*np.nonzero(ok)))[:JOIN_MOST]
        if not pairs:
            return cands, rows
        joined = [join(every[i], every[j]) for i, j in pairs]
        at = [batch.add(*normalise(c), c) for c in joined]
        batch.classify(self.backend)
        gains = []
        read = batch.probs[rows].argmax(axis=1)
        for k, ((i, j), r) in enumerate(zip(pairs, at)):
            p = float(batch.probs[r].max())
            if j < n and not stacked[i, j] and min(conf[i], conf[j]) >= self.min_confidence \
                    and int(batch.probs[r].argmax()) in (read[i], read[j]):
                continue  # two digits side by side, one swallowing the other
            gain = math.log(p) - math.log(max(float(conf[i]), 1e-6)) - math.log(max(float(conf[j]), 1e-6))
            need = self.min_confidence if stacked[i, j] else max(self.min_confidence, shown[i], shown[j])
            if p >= need and gain > 0:
                gains.append((gain, k))
        used: set[int] = set()
        for _, k in sorted(gains, reverse=True):
            i, j = pairs[k]
            if i in used or j in used:
                continue
            used.update((i, j))
            cands[i], rows[i] = joined[k], at[k]
            if j < n:
                rows[j] = -1
            else:
                pieces.spend(left[j - n])
        keep = [k for k in range(n) if rows[k] >= 0]
        return [cands[k] for k in keep], [rows[k] for k in keep]

    def _cuts(self, cands: list[Candidate], rows: list[int], batch: _Batch
              ) -> tuple[list[list[list[int]]], list[float]]:
        """The ways to read each candidate (as batch rows), cutting those that may be touching digits.

        A shape much wider than this frame's typical digit, or wide and read with doubt, is also tried
        as two or three digits; its parts join the batch (the median shape is a single digit, hence
        "typical"). Also returns how many digits wide each candidate is.
        """
        tilt = row_slope([batch.boxes[r] for r in rows])
        sizes = [level_size(c, tilt) if tilt else (c.box[2], c.box[3]) for c in cands]
        aspects = [w / h for w, h in sizes]
        typical = min(0.9, max(0.4, statistics.median(aspects))) if len(aspects) >= 3 else TYPICAL_ASPECT
        options: list[list[list[int]]] = [[[r]] for r in rows]
        expected = [1.0] * len(cands)
        for i, (cand, r) in enumerate(zip(cands, rows)):
            wide = aspects[i] / typical
            if wide < SPLIT_WIDER or (wide < SURE_SPLIT and batch.probs[r].max() >= SURE_READ):
                continue
            propose_cuts(cand, tilt)
            if not cand.cuts:
                continue
            w, h = sizes[i]
            expected[i] = max(cand.span, w) / h / typical
            seen: dict[tuple[int, int] | None, int] = {None: r}
            segs = []
            for seg in _segmentations(cand.cuts):
                idx = []
                for part in seg:
                    if part not in seen:
                        seen[part] = batch.add(*normalise(cand, part), cand)
                    idx.append(seen[part])
                segs.append(idx)
            options[i] = segs
        return options, expected

    def _best(self, segs: list[list[int]], batch: _Batch, expected: float) -> list[int]:
        if len(segs) == 1:
            return segs[0]
        return max(segs, key=lambda idx: self._score(idx, batch.boxes, batch.probs, expected))

    def _level(self, chosen: list[int], batch: _Batch, slope: float) -> None:
        """The chosen shapes of a sheet held at an angle read again, each turned level (normalise.level),
        in one call; these readings replace the first. Only shapes first read as digits, and not those
        shown only if read surely: levelling mends how a digit is read, not whether a shape is one (a
        ruled line's piece, or the sheet's edge against the desk, turned level is a bar, and may read
        as a sure 1)."""
        read = [i for i in chosen if batch.probs[i].max() >= self.not_a_digit and not batch.sure_only[i]]
        if not read:
            return
        again = [level(batch.images[i], slope) for i in read]
        probs = self.backend.predict(np.stack(again))
        for k, i in enumerate(read):
            batch.images[i], batch.probs[i] = again[k], probs[k]

    def _without_print(self, chosen: list[int], batch: _Batch, words: list[Box], slope: float = 0.0,
                       others: list[Box] | None = None) -> list[int]:
        """Drop the shapes of printed text lines: lines (shapes of one size in one row) with a word run
        together into one wide shape (`words`), or where at least PRINT_WORD letters (or half as many as
        the line has shapes) are in shapes that are no digits (one such shape counts the letters its
        width holds: bold print runs a word's letters together), set close together as type is (or
        PRINT_WORD with the smaller letters set among them: see _within), or a long row of digits all
        of one height on one baseline (a date stamp), or PRINTED_DIGITS such digits in a line with
        letters (a page's "Page 5 of 15", whose lower-case letters are too small to be shapes, so that
        what is left of it stands too far apart to look set as type). A heading's or a form's "No. 19715", a label's
        "Amount 876" are in such lines, and read as digits they would be extra boxes; handwritten
        numbers with a stray mark or two, or a sum written with + and x, keep theirs. A line found to
        be print takes its lower-case letters with it (_set_among): the "o" of "No." is a size group
        of its own, and alone it reads as a 0. `others`: the shapes detect left out as of no digit's
        shape or density (Detection.others), letters too: a word of bold print run into one shape far
        wider than a digit never reaches the network."""
        others = others or []
        n, nw = len(chosen), len(words)
        conf = [float(batch.probs[i].max()) for i in chosen] + [0.0] * (nw + len(others))
        reads = [(batch.probs[i], batch.images[i]) for i in chosen]
        boxes = [batch.boxes[i] for i in chosen] + list(words) + list(others)
        drop: set[int] = set()
        for row in group_rows(boxes, slope):
            for line in _by_height(row, boxes):  # print beside handwriting of another size is another line
                word = any(n <= k < n + nw for k in line)
                lettered = _lettered(line, boxes, conf, self.not_a_digit, self.min_confidence)
                worded = False
                if len(line) < len(row):  # with the smaller letters set among its shapes, a word's worth
                    band = _within(row, line, boxes)
                    worded = (len(band) >= PRINT_WORD and _lettered(band, boxes, conf, self.not_a_digit)
                              and _typeset(band, boxes))
                if (word or (lettered and _typeset(line, boxes)) or worded
                        or _numbered(line, boxes, conf, reads, self.not_a_digit)
                        or (lettered and _numbered(line, boxes, conf, reads, self.not_a_digit, PRINTED_DIGITS))):
                    drop.update(line)
                    if any(k < n for k in line):  # (words alone may be a ruled line's stretches)
                        drop.update(_set_among(row, line, boxes))
        drop.update(_in_words(n, boxes[: n + nw]))
        batch.dropped += [boxes[k] for k in sorted(drop) if k < n]
        return [i for k, i in enumerate(chosen) if k not in drop]

    def _digits(self, chosen: list[int], batch: _Batch, still: bool, t: float | None) -> list[Digit]:
        """The chosen readings, smoothed over time by the tracker, without what is not a digit."""
        frame_boxes = [batch.boxes[i] for i in chosen]
        p = self._second_look(batch.probs[chosen], [batch.images[i] for i in chosen]) if chosen else \
            np.zeros((0, 10), np.float32)
        if self.smooth and not still:
            ids, p = self.tracker.update(frame_boxes, p, t)
        else:
            self.tracker.reset()
            ids = [-1] * len(chosen)
        conf = p.max(axis=1) if chosen else np.zeros(0, np.float32)
        shown = [k for k, i in enumerate(chosen) if conf[k] >= self.not_a_digit
                 and not (batch.sure_only[i] and conf[k] < self.min_confidence)]
        # The network says "none of these" to the rest: a letter, a grid dot, the paper's grain (or, in doubt,
        # on the desk, in a hard shadow, along the edge of a sheet held at an angle). Of what it reads, a
        # shape far fainter than the frame's typical digit is no writing (FAINT_INK).
        if shown:
            typical = statistics.median(batch.ink[chosen[k]] for k in shown)
            shown = [k for k in shown if batch.ink[chosen[k]] >= FAINT_INK * typical]
        batch.dropped += [frame_boxes[k] for k in sorted(set(range(len(chosen))) - set(shown))]
        digits = []
        for k in shown:
            i = chosen[k]
            digit = int(p[k].argmax()) if conf[k] >= self.min_confidence else None
            digits.append(Digit(frame_boxes[k], digit, float(conf[k]), p[k], batch.images[i], ids[k]))
        return digits

    def _second_look(self, probs: np.ndarray, images: list[np.ndarray]) -> np.ndarray:
        """Digits read in doubt (they would show as "?") read again over small deformations of their
        images (classify.second_look); those the average is sure of take it."""
        conf = probs.max(axis=1)
        doubt = np.flatnonzero((conf >= self.not_a_digit) & (conf < self.min_confidence))
        if not len(doubt):
            return probs
        again = second_look(self.backend, np.stack([images[k] for k in doubt]))
        sure = again.max(axis=1) >= self.min_confidence
        probs = probs.copy()
        probs[doubt[sure]] = again[sure]
        return probs

    @staticmethod
    def _score(idx: list[int], boxes: list[Box], probs: np.ndarray, expected: float) -> float:
        """Log-score of reading a shape as the digits `idx`: the network's certainty plus priors.

        Priors: the number of parts should match how many digits of this frame's typical width the
        shape spans (`expected`); each cut costs a little (touching digits are rarer than single
        ones); a part narrower than 1/6 of its height that the network does not call a "1", or less
        than half as tall as its neighbour, is a sliver of a stroke, not a digit; and two parts whose
        boxes mostly cover each other are one digit cut along a stroke, not digits side by side.
        """
        score = -0.5 * abs(len(idx) - expected) - 0.2 * (len(idx) - 1)
        tallest = max(boxes[i][3] for i in idx)
        for i in idx:
            _, _, w, hh = boxes[i]
            score += math.log(max(float(probs[i].max()), 1e-6))
            if (w < hh / 6 and int(probs[i].argmax()) != 1) or hh < tallest / 2:
                score -= 1.5
        for a, b in zip(idx, idx[1:]):
            (xa, _, wa, _), (xb, _, wb, _) = boxes[a], boxes[b]
            if min(xa + wa, xb + wb) - max(xa, xb) > OVERLAP * min(wa, wb):
                score -= 1.5
        return score
