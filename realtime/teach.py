"""Teaching: the user names the digits of one frame, and they are stored as personal samples.

The digits are the Reader's, in its reading order (rows top to bottom, left to right: the order of
`FrameResult.digits`), so "type what you wrote, in order" needs no boxes drawn by hand. A count that
does not match is refused as a whole: a digit too many or too few shifts every label after it, and a
wrongly labelled sample teaches the network a mistake. One box can also be named on its own (a click in
the window), for the digit that was misread.

`TeachMode` is the window's state while a frame is frozen for teaching; `teach_image` is the same job
without a window (`digitcam --source sheet.jpg --teach 0123456789`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime.pipeline import Digit, FrameResult, Reader
from realtime.samples import crop_around, samples_dir, save_samples

SEPARATORS = re.compile(r"[\s,;|/_-]+")  # may separate rows or numbers in what the user types; dropped
ENTER = (10, 13)
BACKSPACE = (8, 127)
ESC = 27
GROW = 0.3  # a click this share of a box's size outside it still picks it (boxes are tight round the ink)


class TeachError(Exception):
    """What the user typed cannot label this frame; the message says why."""


def parse_digits(text: str) -> str:
    """The digits the user typed, without the spaces or separators between rows; TeachError otherwise."""
    digits = SEPARATORS.sub("", text)
    bad = sorted(set(re.sub(r"[0-9]", "", digits)))
    if bad:
        raise TeachError(f"{text!r}: only digits 0-9 can be taught (spaces may separate rows), not {''.join(bad)!r}")
    return digits


def check_count(digits: str, result: FrameResult, where: str = "the frame") -> None:
    """Refuse labels whose count is not the frame's number of digits, saying what was read."""
    n = len(result.digits)
    if n == 0:
        raise TeachError(f"no digits found in {where}: nothing to teach")
    if len(digits) != n:
        read = " ".join(result.lines)
        raise TeachError(f"{len(digits)} digits given but {where} shows {n} (read as {read}, in reading order): "
                         "give one digit per box, rows top to bottom, left to right; nothing stored")


def store(frame: np.ndarray, digits: list[Digit], labels: list[int], source: str,
          root: Path | None = None) -> list[str]:
    """Store `digits` of `frame` with `labels` as samples; returns their ids."""
    items = [(d.image, crop_around(frame, d.box), int(label), d.box) for d, label in zip(digits, labels)]
    return save_samples(items, source, root)


def stored_count(root: Path | None = None) -> int:
    """How many sample files the user has (a quick count for messages: no file is opened)."""
    folder = samples_dir(root)
    return len(list(folder.glob("*.npz"))) if folder.is_dir() else 0


def teach_image(reader: Reader, image: np.ndarray, text: str, source: str,
                root: Path | None = None) -> tuple[list[str], FrameResult]:
    """Read `image`, label its digits with `text` (in reading order) and store them; TeachError when the
    count does not match (and then nothing is stored)."""
    digits = parse_digits(text)
    result = reader.read(image, still=True)
    check_count(digits, result, Path(source).name)
    return store(image, result.digits, [int(c) for c in digits], source, root), result


@dataclass
class TeachMode:
    """The window's teach mode on one frozen frame: keys type labels, a click picks one box."""

    frame: np.ndarray  # the frame as the camera gave it (nothing drawn on it)
    result: FrameResult
    source: str
    root: Path | None = None
    typed: str = ""
    selected: int | None = None  # the box clicked, waiting for its digit
    taught: dict[int, int] = field(default_factory=dict)  # box -> label stored this time
    message: str = ""
    ok: bool = True  # the message is good news (green) or a refusal (red)
    said: int = 0  # messages so far (the loop logs each new one)

    def __post_init__(self) -> None:
        self._instructions()

    def _instructions(self) -> None:
        n = len(self.result.digits)
        self._say(f"{n} digits numbered: type them in this order, Enter stores them; or click a box and type "
                  "its digit; Esc goes back" if n else "no digits found in this frame: Esc goes back", n > 0)

    def _say(self, message: str, ok: bool = True) -> None:
        self.message, self.ok = message, ok
        self.said += 1

    def key(self, key: int) -> bool:
        """Handle a key; False when teach mode should end (Esc or t)."""
        if key in (ESC, ord("t")):
            return False
        if not self.ok and (ord("0") <= key <= ord("9") or key in BACKSPACE):
            self._instructions()  # a refusal stays until the user starts to put it right
        if ord("0") <= key <= ord("9"):
            if self.selected is not None:
                self._store([self.selected], [key - ord("0")])
                self.selected = None
            elif len(self.typed) < 2 * len(self.result.digits) + 10:  # a stuck key cannot grow it for ever
                self.typed += chr(key)
        elif key in BACKSPACE:
            self.typed = self.typed[:-1]
        elif key in ENTER:
            self._enter()
        return True

    def _enter(self) -> None:
        if not self.typed:
            self._say("type the digits first (one per numbered box, in order)", False)
            return
        try:
            check_count(self.typed, self.result)
        except TeachError as e:
            self._say(str(e), False)
            return
        self._store(list(range(len(self.typed))), [int(c) for c in self.typed])
        self.typed = ""

    def _store(self, boxes: list[int], labels: list[int]) -> None:
        from train.checkpoint import WriteError

        digits = [self.result.digits[i] for i in boxes]
        try:
            store(self.frame, digits, labels, self.source, self.root)
        except WriteError as e:
            self._say(str(e), False)
            return
        self.taught.update(zip(boxes, labels))
        what = "".join(map(str, labels)) if len(labels) > 1 else f"box {boxes[0] + 1} as {labels[0]}"
        n = stored_count(self.root)
        self._say(f"stored {what}: {n} sample{'s' * (n != 1)} in all; digitcam-train --personal learns them; "
                  "Esc goes back")

    def click(self, x: int, y: int) -> None:
        """Pick the box at (x, y), in the frame's pixels: the one whose centre is nearest among those it is in."""
        hits = []
        for i, d in enumerate(self.result.digits):
            bx, by, bw, bh = d.box
            gx, gy = GROW * bw + 4, GROW * bh + 4
            if bx - gx <= x <= bx + bw + gx and by - gy <= y <= by + bh + gy:
                hits.append((np.hypot(x - bx - bw / 2, y - by - bh / 2), i))
        if not hits:
            self._say("no digit there: click inside a numbered box", False)
            return
        self.selected = min(hits)[1]
        self._say(f"box {self.selected + 1} picked: type its digit")
