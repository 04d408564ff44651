"""Scoring a reading against the truth: which box is which digit, found / read right / extra boxes.

Shared by the live tool (it scores the demo, whose truth it knows) and the accuracy command. A box
matches a true digit when its centre lies inside the true box or the true centre inside it (labelled
boxes are rough), closest pair first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from realtime.track import Box

MAX_ERRORS = 1000  # a score kept over an endless demo must not grow without bound


def _centre_in(box: Box, cx: float, cy: float) -> bool:
    x, y, w, h = box
    return x <= cx <= x + w and y <= cy <= y + h


def match(pred: list[Box], truth: list[Box]) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (pred index, truth index), nearest centres first."""
    pairs = []
    for i, p in enumerate(pred):
        pc = (p[0] + p[2] / 2, p[1] + p[3] / 2)
        for j, t in enumerate(truth):
            tc = (t[0] + t[2] / 2, t[1] + t[3] / 2)
            if _centre_in(t, *pc) or _centre_in(p, *tc):
                pairs.append((float(np.hypot(pc[0] - tc[0], pc[1] - tc[1])), i, j))
    pairs.sort()
    used_p, used_t, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


@dataclass
class Score:
    truth: int = 0
    found: int = 0
    right: int = 0
    boxes: int = 0
    lines: int = 0
    lines_right: int = 0
    hidden: int = 0  # shapes the reader read and did not show (not digits, print) that are no true digit
    hidden_digits: int = 0  # ... and that are true digits (lost to that rejection)
    errors: list[str] = field(default_factory=list)  # the first MAX_ERRORS misses and misreads

    def add(self, name: str, boxes: list[Box], symbols: list[str], truth: list[Box], digits: list[int],
            lines: list[str], true_lines: list[str]) -> None:
        pairs = match(boxes, truth)
        self.truth += len(truth)
        self.boxes += len(boxes)
        self.found += len(pairs)
        hit = {j: i for i, j in pairs}
        for j, d in enumerate(digits):
            if j in hit and symbols[hit[j]] == str(d):
                self.right += 1
            elif len(self.errors) < MAX_ERRORS:
                what = "not found" if j not in hit else f"read as {symbols[hit[j]]}"
                self.errors.append(f"{name}: digit #{j} ({d}) {what}")
        self.lines += len(true_lines)
        self.lines_right += sum(a == b for a, b in zip(lines, true_lines)) if len(lines) == len(true_lines) else 0

    def add_counts(self, other: Score) -> None:
        """Add another score's counts to this one (its error list is left out)."""
        for f in fields(self):
            if f.name != "errors":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def add_hidden(self, hidden: list[Box], truth: list[Box]) -> None:
        """Count the shapes the reader read and did not show: each is a true digit when it falls on one."""
        digits = {i for i, _ in match(hidden, truth)}
        self.hidden_digits += len(digits)
        self.hidden += len(hidden) - len(digits)

    @property
    def rejected(self) -> float:
        """Of the shapes read that were no digit, the share the reader did not show (in %)."""
        extra = self.boxes - self.found
        return 100.0 * self.hidden / max(1, self.hidden + extra)

    @property
    def recall(self) -> float:
        return 100.0 * self.found / max(1, self.truth)

    @property
    def precision(self) -> float:
        return 100.0 * self.found / max(1, self.boxes)

    @property
    def accuracy(self) -> float:
        return 100.0 * self.right / max(1, self.truth)

    def summary(self) -> dict:
        return {"digits": self.truth, "found": self.found, "recall": round(self.recall, 2),
                "boxes": self.boxes, "extra": self.boxes - self.found, "precision": round(self.precision, 2),
                "read_right": self.right, "accuracy": round(self.accuracy, 2),
                "lines": self.lines, "lines_exact": self.lines_right, "non_digits_hidden": self.hidden,
                "non_digits_rejected": round(self.rejected, 2), "digits_hidden": self.hidden_digits}
