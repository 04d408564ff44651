"""Stage 4, track: steady readings across frames, and digits grouped into the numbers they form.

A digit held in front of a camera is seen a little differently in every frame; read frame by frame,
its class flickers between the likely ones. The tracker matches each box to the box it was in the
last frames (greedy, by overlap) and keeps an exponential moving average of its class
probabilities, so a steady digit shows one steady answer and a real change wins within a fraction of
a second. Both are in seconds, not frames: the average's time constant is `tau` and a digit unseen for
`max_gap` seconds is forgotten, so the display behaves the same from a 10 fps webcam to a 120 fps one.

`read_lines` turns the boxes into text: digits chained left to right into rows (a row may slant),
rows ordered top to bottom, and a space wherever the gap between two digits is wide enough to
separate numbers ("2026" stays one number, "10 11 12" stays three).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from train.resample import jit

Box = tuple[int, int, int, int]


@dataclass
class _Track:
    id: int
    box: Box
    probs: np.ndarray
    last_seen: float  # seconds
    seen: int = 1


#: Frame interval assumed when frames come without times (30 fps); also what the defaults were tuned at.
NOMINAL_DT = 1 / 30
#: Time constant of the smoothing: the newest frame weighs 0.3 at 30 fps (0.1 at 90 fps, 0.65 at 10 fps).
TAU_S = NOMINAL_DT / math.log(1 / 0.7)
#: How long a digit may go unseen before its track is forgotten: 8 frames at 30 fps.
MAX_GAP_S = 8 * NOMINAL_DT


class Tracker:
    """Matches boxes to tracks by IoU and smooths each track's probabilities (EMA over time)."""

    def __init__(self, tau: float = TAU_S, min_iou: float = 0.3, max_gap: float = MAX_GAP_S) -> None:
        self.tau = tau  # seconds: a frame dt after the last weighs 1 - exp(-dt / tau)
        self.min_iou = min_iou
        self.max_gap = max_gap  # seconds
        self.tracks: list[_Track] = []
        self._next = 0
        self._t: float | None = None

    def reset(self) -> None:
        self.tracks.clear()
        self._t = None

    def weight(self, dt: float) -> float:
        """Weight of a frame that comes `dt` seconds after the one before."""
        return 1.0 - math.exp(-max(dt, 0.0) / self.tau)

    def update(self, boxes: list[Box], probs: np.ndarray, t: float | None = None) -> tuple[list[int], np.ndarray]:
        """Return a track id per box and the smoothed probabilities (same order as `boxes`).

        `t`: when the frame was seen, in seconds (any origin); without it frames are NOMINAL_DT apart."""
        now = t if t is not None else (NOMINAL_DT if self._t is None else self._t + NOMINAL_DT)
        alpha = self.weight(now - self._t) if self._t is not None else 1.0
        self._t = now
        box_track = self._match(boxes)
        smoothed = np.array(probs, dtype=np.float32, copy=True)
        matched = [i for i, j in enumerate(box_track) if j >= 0]
        if matched:
            previous = np.stack([self.tracks[box_track[i]].probs for i in matched])
            smoothed[matched] = alpha * smoothed[matched] + (1 - alpha) * previous
        ids = []
        for i, j in enumerate(box_track):
            if j >= 0:
                track = self.tracks[j]
                track.probs, track.box, track.last_seen = smoothed[i], boxes[i], now
                track.seen += 1
            else:
                track = _Track(self._next, boxes[i], smoothed[i], now)
                self._next += 1
                self.tracks.append(track)
            ids.append(track.id)
        # a little slack, so that at 30 fps a track lasts exactly max_gap / NOMINAL_DT missed frames
        self.tracks = [tr for tr in self.tracks if now - tr.last_seen <= self.max_gap + 1e-3]
        return ids, smoothed

    def _match(self, boxes: list[Box]) -> list[int]:
        """The track index of each box (-1: a new digit): greedy, the largest overlap (IoU) first."""
        if len(boxes) * len(self.tracks) > 400:  # a crowded frame: all overlaps at once
            a = np.array(boxes, np.float32).reshape(-1, 4)
            b = np.array([tr.box for tr in self.tracks], np.float32).reshape(-1, 4)
            iw = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2]) - np.maximum(a[:, None, 0],
                                                                                                      b[None, :, 0])
            ih = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3]) - np.maximum(a[:, None, 1],
                                                                                                      b[None, :, 1])
            inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
            union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
            overlap = inter / np.maximum(union, 1e-6)
            ii, jj = np.nonzero(overlap >= self.min_iou)
            pairs = [(-float(overlap[i, j]), int(i), int(j)) for i, j in zip(ii, jj)]
        else:
            pairs = []
            for i, (ax, ay, aw, ah) in enumerate(boxes):
                for j, tr in enumerate(self.tracks):
                    bx, by, bw, bh = tr.box
                    iw = min(ax + aw, bx + bw) - max(ax, bx)
                    ih = min(ay + ah, by + bh) - max(ay, by)
                    if iw > 0 and ih > 0:
                        inter = iw * ih
                        overlap = inter / (aw * ah + bw * bh - inter)
                        if overlap >= self.min_iou:
                            pairs.append((-overlap, i, j))
        pairs.sort()
        box_track = [-1] * len(boxes)
        used: set[int] = set()
        for _, i, j in pairs:
            if box_track[i] < 0 and j not in used:
                box_track[i] = j
                used.add(j)
        return box_track


ROW_TILT = 0.18  # rows rising more than this (10 degrees) are a sheet held at an angle ...
ROW_PAIRS = 3  # ... seen in this many neighbouring pairs of boxes at least


def row_slope(boxes: list[Box]) -> float:
    """The slope (dy/dx) of the rows the boxes stand in, where they rise by more than ROW_TILT; else 0.

    Each box and its nearest neighbour to the right of about its height (within 45 degrees and 2.5
    heights) give a slope; the median of those is the rows'. A hand's rows drift a few degrees on a
    level sheet; rows rising more are a sheet held at an angle, whose digits, a pitch apart, step up
    or down by more than half their height from one to the next."""
    if len(boxes) <= ROW_PAIRS:
        return 0.0
    slope = _neighbour_slope(np.asarray(boxes, np.float64), ROW_PAIRS)
    return slope if abs(slope) > ROW_TILT else 0.0


@jit
def _neighbour_slope(b, least):  # pragma: no cover - compiled
    """The median slope from each box's centre to its nearest neighbour's (see row_slope); 0 with
    fewer than `least` such pairs."""
    n = b.shape[0]
    slopes = np.empty(n)
    k = 0
    for i in range(n):
        xi, yi, hi = b[i, 0] + b[i, 2] / 2, b[i, 1] + b[i, 3] / 2, b[i, 3]
        best, slope = 2.5 * hi, np.nan
        for j in range(n):
            dx, dy, hj = b[j, 0] + b[j, 2] / 2 - xi, b[j, 1] + b[j, 3] / 2 - yi, b[j, 3]
            d = np.hypot(dx, dy)
            if dx > 0 and abs(dy) < dx and max(hi, hj) <= 1.5 * min(hi, hj) and d < best:
                best, slope = d, dy / dx
        if not np.isnan(slope):
            slopes[k] = slope
            k += 1
    return np.median(slopes[:k]) if k >= least else 0.0


def group_rows(boxes: list[Box], slope: float = 0.0) -> list[list[int]]:
    """Indices of `boxes` grouped into text rows (each left to right), rows top to bottom.

    Each box, taken left to right, joins the row whose last box it continues: vertically overlapping
    by half the smaller height and not far to the right. Chaining (rather than one y per row) follows
    rows that slant across the page. `slope`: the rows' rise (row_slope) on a sheet held at an angle,
    taken off the boxes first.
    """
    if slope:
        boxes = [(x, round(y - slope * (x + w / 2)), w, h) for x, y, w, h in boxes]
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][0])
    rows: list[list[int]] = []
    for i in order:
        x, y, w, h = boxes[i]
        best, best_d = -1, 1e9
        for r, row in enumerate(rows):
            lx, ly, lw, lh = boxes[row[-1]]
            overlap = min(y + h, ly + lh) - max(y, ly)
            gap = x - (lx + lw)
            if overlap >= 0.5 * min(h, lh) and gap < 4 * max(h, lh):
                d = abs((y + h / 2) - (ly + lh / 2)) + 0.1 * max(gap, 0)
                if d < best_d:
                    best, best_d = r, d
        if best >= 0:
            rows[best].append(i)
        else:
            rows.append([i])
    rows.sort(key=lambda row: sum(boxes[i][1] + boxes[i][3] / 2 for i in row) / len(row))
    return rows


PITCH = 1.4  # see read_lines


def read_lines(boxes: list[Box], symbols: list[str], space: float = 0.5,
               rows: list[list[int]] | None = None) -> list[str]:
    """The text of each row: digits joined, with a space between numbers.

    A gap separates numbers when it is wider than `space` x the digit height and more than twice the
    row's narrow gaps (its lower quartile): evenly spaced digits ("2 0 2 6" written wide) stay one
    number, while "14 15 16" keeps its three. And the distance between the two digits' centres must
    be more than `PITCH` x the row's short ones: a narrow "1" leaves wide gaps on both sides although
    it is written at the same pace as its neighbours. `rows`: group_rows(boxes), when already known.
    """
    lines = []
    for row in group_rows(boxes) if rows is None else rows:
        h = statistics.median(boxes[i][3] for i in row)
        gaps = [boxes[b][0] - (boxes[a][0] + boxes[a][2]) for a, b in zip(row, row[1:])]
        centres = [boxes[i][0] + boxes[i][2] / 2 for i in row]
        pitches = [b - a for a, b in zip(centres, centres[1:])]
        narrow = sorted(gaps)[len(gaps) // 4] if gaps else 0.0
        close = sorted(pitches)[len(pitches) // 4] if pitches else 0.0
        text = symbols[row[0]]
        for gap, pitch, b in zip(gaps, pitches, row[1:]):
            text += (" " if gap > max(space * h, 2.0 * narrow) and pitch > PITCH * close else "") + symbols[b]
        lines.append(text)
    return lines
