"""One frame in, the digits it shows out: detect -> normalise -> classify -> track, timed per stage.

`Reader.read` is the whole per-frame job of the app with no I/O in it, so the live loop, the
benchmarks and the tests all run exactly this.

Touching digits ("10" written in one stroke) arrive as one wide shape with candidate cut columns.
Every way of cutting it into 1-3 parts is classified in the same batch as the other digits, and the
reading that the network is most sure of wins, with a prior against parts that are themselves far
wider than a digit. This is recognition-driven segmentation: the classifier, not a heuristic on the
shape alone, decides where one digit ends.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from realtime.classify import Backend
from realtime.detect import DetectConfig, Detection, detect, propose_cuts
from realtime.normalise import normalise
from realtime.track import Box, Tracker, group_rows, read_lines

TYPICAL_ASPECT = 0.85  # width / height of a wide handwritten digit: with too few digits to tell, be slow to cut
SPLIT_WIDER = 1.35  # a shape this much wider than the frame's typical digit may be touching digits ...
SURE_READ = 0.9  # ... unless the network reads it as one digit with this confidence ...
SURE_SPLIT = 1.7  # ... and it is not this much wider
OVERLAP = 0.5  # parts whose boxes overlap by more than this share of the narrower one are one digit


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


class Reader:
    """Reads the digits of frames; keeps the tracker state between frames of one video."""

    def __init__(self, backend: Backend, detect_config: DetectConfig | None = None, min_confidence: float = 0.5,
                 smooth: bool = True) -> None:
        self.backend = backend
        self.config = detect_config or DetectConfig()
        self.min_confidence = min_confidence
        self.smooth = smooth
        self.tracker = Tracker()

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
        t0 = time.perf_counter()
        det = detect(frame, self.config)
        t1 = time.perf_counter()

        # Every candidate read as one digit, in one batch.
        images: list[np.ndarray] = []
        boxes: list[Box] = []
        for cand in det.candidates:
            img, box = normalise(cand)
            images.append(img)
            boxes.append(box)
        t2 = time.perf_counter()
        probs = self.backend.predict(np.stack(images)) if images else np.zeros((0, 10), np.float32)
        t3 = time.perf_counter()

        # Shapes much wider than this frame's typical digit, or wide and read with doubt, are also
        # tried as touching digits (the median shape is a single digit, hence "typical").
        aspects = [c.box[2] / c.box[3] for c in det.candidates]
        typical = min(0.9, max(0.4, statistics.median(aspects))) if len(aspects) >= 3 else TYPICAL_ASPECT
        options: list[list[list[int]]] = [[[i]] for i in range(len(images))]  # segmentations, as batch rows
        expected = [1.0] * len(images)  # how many digits wide each candidate is
        first_part = len(images)
        for i, cand in enumerate(det.candidates):
            wide = cand.box[2] / cand.box[3] / typical
            if wide < SPLIT_WIDER or (wide < SURE_SPLIT and probs[i].max() >= SURE_READ):
                continue
            propose_cuts(cand)
            if not cand.cuts:
                continue
            expected[i] = max(cand.span, cand.box[2]) / cand.box[3] / typical
            seen: dict[tuple[int, int] | None, int] = {None: i}
            segs = []
            for seg in _segmentations(cand.cuts):
                idx = []
                for part in seg:
                    if part not in seen:
                        img, box = normalise(cand, part)
                        images.append(img)
                        boxes.append(box)
                        seen[part] = len(images) - 1
                    idx.append(seen[part])
                segs.append(idx)
            options[i] = segs
        t4 = time.perf_counter()
        if len(images) > first_part:
            probs = np.concatenate([probs, self.backend.predict(np.stack(images[first_part:]))])
        t5 = time.perf_counter()

        chosen: list[int] = []
        for segs, n in zip(options, expected):
            chosen += max(segs, key=lambda idx: self._score(idx, boxes, probs, n)) if len(segs) > 1 else segs[0]
        frame_boxes = [boxes[i] for i in chosen]
        p = probs[chosen]
        if self.smooth and not still:
            ids, p = self.tracker.update(frame_boxes, p, t)
        else:
            self.tracker.reset()
            ids = [-1] * len(chosen)
        digits = []
        for k, i in enumerate(chosen):
            conf = float(p[k].max())
            digit = int(p[k].argmax()) if conf >= self.min_confidence else None
            digits.append(Digit(frame_boxes[k], digit, conf, p[k], images[i], ids[k]))
        boxes_now = [d.box for d in digits]
        rows = group_rows(boxes_now)
        lines = read_lines(boxes_now, [d.symbol for d in digits], rows=rows)
        digits = [digits[i] for row in rows for i in row]  # reading order: rows top to bottom, left to right
        t6 = time.perf_counter()
        ms = {"detect": (t1 - t0) * 1e3, "normalise": (t2 - t1 + t4 - t3) * 1e3, "classify": (t3 - t2 + t5 - t4) * 1e3,
              "track": (t6 - t5) * 1e3}
        return FrameResult(digits, lines, ms, det)

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
