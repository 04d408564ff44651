"""Stage 5, draw: what the user sees on top of the video.

Each digit gets a box, its class and confidence (green when sure, orange "?" when the network is not
sure enough to answer), the label smaller where the digit is small in the frame; the numbers read are
listed per line at the top left, or in another corner where that covers fewer digits; the bottom line shows
the frame rate, each stage's milliseconds, the inference backend and the threshold; a status (a lost
camera) appears in red. Text and lines are sized from the frame's height, so that they look the same at
640x480 and 1920x1080 once the window has scaled the frame to the screen.

The debug view (key `d`) is a panel below the video, not on it: the threshold mask, and the 28x28
images the network actually saw, each with its answer (the first place to look when a digit is
misread). A paused window has a red border and says so at the top right.

Teach mode (key `t`) shows the frozen frame with its digits numbered in reading order, what the user has
typed under each box, and a banner with what to do and what happened, inside a blue border.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from realtime.pipeline import FrameResult
from realtime.track import Box

GREEN = (60, 200, 60)
ORANGE = (0, 165, 255)
RED = (40, 40, 230)
BLUE = (230, 120, 30)
CYAN = (230, 210, 0)
YELLOW = (0, 230, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
PANEL = (40, 40, 40)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Hud:
    fps: float = 0.0
    ms: dict[str, float] = field(default_factory=dict)
    backend: str = ""
    threshold: float = 0.0
    status: str = ""
    roi: Box | None = None
    weights: str = ""  # which weights run: "shipped", "personal" or a file name


def text_scale(shape: tuple[int, ...]) -> float:
    """Size of text and lines for a frame of this shape: 1 at 480 px high, proportional above (a window
    shows a 1080p frame scaled down by about half, so its text must be drawn about twice as large)."""
    return max(0.6, shape[0] / 480)


LABEL_ROOM = 1.1  # a digit's label is at most this many times as wide as a digit's pitch (0.8 of its height) ...
LABEL_LEAST = 0.25  # ... unless that makes it smaller than this (of the frame's text scale): still legible


def label_size(label: str, w: int, h: int, s: float) -> float:
    """Font scale of a digit's label: the frame's (0.6 x `s`), smaller where the digit is small in the
    frame, so that the labels of a row of small digits do not run over one another."""
    size = 0.6 * s
    tw = cv2.getTextSize(label, FONT, size, 1)[0][0]
    room = LABEL_ROOM * max(w, 0.8 * h)
    return max(LABEL_LEAST * s, size * min(1.0, room / max(tw, 1)))


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thick: int = 1,
          back: bool = True) -> None:
    """Text on a dark box (readable on any background; one anti-aliased pass, cheaper than an outline)."""
    if back:
        (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
        x, y = org
        cv2.rectangle(img, (x - 2, y - th - 3), (x + tw + 2, y + base), BLACK, cv2.FILLED)
    cv2.putText(img, text, org, FONT, scale, colour, thick, cv2.LINE_AA)


def annotate(frame: np.ndarray, result: FrameResult, hud: Hud | None = None, copy: bool = True) -> np.ndarray:
    """`frame` (BGR uint8) with the result drawn on it: on a copy, or in place with copy=False (the
    live loop owns its frames, and a 640x480 copy costs as much as the rest of the drawing)."""
    img = frame.copy() if copy else frame
    s = text_scale(img.shape)
    thin, thick = max(1, round(s)), max(2, round(2 * s))
    if hud and hud.roi:
        x, y, w, h = hud.roi
        cv2.rectangle(img, (x, y), (x + w, y + h), WHITE, thin)
    for d in result.digits:
        x, y, w, h = d.box
        colour = GREEN if d.digit is not None else ORANGE
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, thick)
        label = f"{d.symbol} {100 * d.confidence:.0f}%"
        size = label_size(label, w, h, s)
        th = 27 * size  # the label's height in FONT at this scale (getTextSize: 27 px at 1.0)
        ty = y - int(6 * s) if y - 6 * s > th + 6 * s else y + h + int(th + 6 * s)
        _text(img, label, (x, ty), size, colour, max(1, round(size / 0.6)))
    _read_out(img, result, s, thick, int(24 * s) if hud is not None else 0)
    if hud is not None:
        _hud(img, hud, s)
    return img


def _read_out(img: np.ndarray, result: FrameResult, s: float, thick: int, bottom: int) -> None:
    """The numbers read, a line each (up to 8), in the corner of the frame whose text would cover the
    least of the digits' boxes (top left when that covers none): a sheet held with its numbers at the
    top left must not disappear under what was read from it."""
    lines = result.lines[:8]
    if not lines:
        return
    lh, size = int(30 * s), 0.75 * s
    indent = cv2.getTextSize("read: ", FONT, size, thick)[0][0]
    texts = [("read: " if i == 0 else "") + t for i, t in enumerate(lines)]
    tw = max(cv2.getTextSize(t, FONT, size, thick)[0][0] + (0 if i == 0 else indent) for i, t in enumerate(texts))
    H, W = img.shape[:2]
    bw, bh = tw + int(12 * s), lh * len(lines) + int(10 * s)
    corners = [(0, 0), (W - bw, 0), (0, H - bottom - bh), (W - bw, H - bottom - bh)]
    boxes = [d.box for d in result.digits]

    def covered(corner: tuple[int, int]) -> int:
        cx, cy = corner
        return sum(max(0, min(cx + bw, x + w) - max(cx, x)) * max(0, min(cy + bh, y + h) - max(cy, y))
                   for x, y, w, h in boxes)

    cx, cy = corners[0] if not covered(corners[0]) else min(corners, key=covered)  # the first of equals
    for i, t in enumerate(texts):  # the lines below the first one aligned with its digits
        x = cx + int(8 * s) + (0 if i == 0 else indent)
        _text(img, t, (x, cy + lh * (i + 1)), size, WHITE, thick)


def _hud(img: np.ndarray, hud: Hud, s: float) -> None:
    """The bottom line: frame rate, stage timings, backend, threshold; a status above it in red."""
    H, W = img.shape[:2]
    info = hud_line(hud)
    size = 0.45 * s
    (tw, _), _ = cv2.getTextSize(info, FONT, size, 1)
    size *= min(1.0, (W - 12 * s) / max(tw, 1))  # the whole line always fits the frame's width
    cv2.rectangle(img, (0, H - int(24 * s)), (W, H), BLACK, cv2.FILLED)
    _text(img, info, (int(6 * s), H - int(8 * s)), size, WHITE, max(1, round(s)), back=False)
    if hud.status:
        _text(img, hud.status, (int(8 * s), H - int(40 * s)), 0.7 * s, RED, max(2, round(2 * s)))


def hud_line(hud: Hud) -> str:
    """The bottom line's text: frame rate, stage timings, backend, threshold and the weights that run."""
    parts = [f"{hud.fps:.1f} fps"] + [f"{k} {v:.2f}" for k, v in hud.ms.items()]
    info = "  ".join(parts) + f" ms | {hud.backend} | threshold {hud.threshold:.2f}"
    return info + (f" | {hud.weights} weights" if hud.weights else "")


def with_status(shown: np.ndarray, status: str) -> np.ndarray:
    """A copy of the shown image with a status (a lost camera) in red across its middle."""
    img = shown.copy()
    s = text_scale(img.shape)
    _text(img, status, (int(8 * s), img.shape[0] // 2), 0.7 * s, RED, max(2, round(2 * s)))
    return img


def paused(shown: np.ndarray) -> np.ndarray:
    """A copy of the shown image marked as paused: a red border round it and the word at the top right,
    leaving the readings the user stopped to look at uncovered."""
    img = shown.copy()
    H, W = img.shape[:2]
    s = text_scale(img.shape)
    border = max(3, round(4 * s))
    img[:border], img[-border:], img[:, :border], img[:, -border:] = RED, RED, RED, RED
    text, scale, thick = "PAUSED - space to resume", 0.7 * s, max(2, round(2 * s))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    x, y = max(border + 4, W - tw - border - int(10 * s)), border + th + int(10 * s)
    cv2.rectangle(img, (x - int(6 * s), border), (W - border, y + base + int(6 * s)), RED, cv2.FILLED)
    cv2.putText(img, text, (x, y), FONT, scale, WHITE, thick, cv2.LINE_AA)
    return img


def debug_panel(result: FrameResult, width: int, s: float) -> np.ndarray:
    """The debug view, to go below the video: the network's 28x28 inputs with their answers on the left,
    the threshold mask at the right. `width`: the video's; `s`: its text_scale."""
    det = result.detection
    tw = width // 4
    th = int(det.mask.shape[0] * tw / det.mask.shape[1]) if det is not None and det.mask.size else 0
    cell = max(28, int(56 * s))
    label = int(26 * s)
    pad = max(4, int(6 * s))
    panel = np.full((max(th, cell + label) + 2 * pad, width, 3), PANEL, np.uint8)
    if th:
        thumb = cv2.resize(det.mask, (tw, th), interpolation=cv2.INTER_AREA)
        panel[pad : pad + th, width - tw : width] = cv2.cvtColor(thumb, cv2.COLOR_GRAY2BGR)
        cv2.rectangle(panel, (width - tw, pad), (width - 1, pad + th - 1), WHITE, 1)
        _text(panel, "mask", (width - tw + 4, pad + int(18 * s)), 0.5 * s, WHITE, max(1, round(s)))
    room = width - tw - 2 * pad
    for i, d in enumerate(result.digits[: max(0, room // (cell + pad))]):
        x0 = pad + i * (cell + pad)
        tile = cv2.resize((d.image * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST)
        panel[pad : pad + cell, x0 : x0 + cell] = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
        colour = GREEN if d.digit is not None else ORANGE
        _text(panel, d.symbol, (x0 + 2, pad + cell + int(20 * s)), 0.6 * s, colour, max(1, round(s)), back=False)
    return panel


def with_debug(shown: np.ndarray, result: FrameResult) -> np.ndarray:
    """The annotated frame with the debug panel below it (a taller image: nothing covers the video)."""
    return np.vstack([shown, debug_panel(result, shown.shape[1], text_scale(shown.shape))])


def teach_view(frame: np.ndarray, boxes: list[Box], typed: str, taught: dict[int, int], selected: int | None,
               message: str, ok: bool) -> np.ndarray:
    """Teach mode: the frozen frame, each digit numbered in reading order above its box, followed by the
    digit typed for it (white) or stored (green); the picked box in yellow; a banner saying what to do."""
    img = frame.copy()
    s = text_scale(img.shape)
    thin, thick = max(1, round(s)), max(2, round(2 * s))
    size = 0.55 * s
    for i, (x, y, w, h) in enumerate(boxes):
        colour = YELLOW if i == selected else GREEN if i in taught else CYAN
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, 2 * thick if i == selected else thick)
        org = (x, max(int(16 * s), y - int(5 * s)))
        label = typed[i] if i < len(typed) else str(taught[i]) if i in taught else ""
        number = f"{i + 1}" + ("=" if label else "")
        _text(img, number + label, org, size, colour, thin)  # the box behind both
        if label:
            nx = org[0] + cv2.getTextSize(number, FONT, size, thin)[0][0]
            cv2.putText(img, label, (nx, org[1]), FONT, size, WHITE if i < len(typed) else GREEN, thick, cv2.LINE_AA)
    H, W = img.shape[:2]
    border = max(3, round(4 * s))
    img[:border], img[-border:], img[:, :border], img[:, -border:] = BLUE, BLUE, BLUE, BLUE
    n = len(boxes)
    lines = [(f"TEACH  typed {typed or '-'} ({len(typed)} of {n})", WHITE), *_wrap(message, W, s)]
    lh = int(26 * s)
    cv2.rectangle(img, (border, border), (W - border, border + lh * len(lines) + int(10 * s)), BLACK, cv2.FILLED)
    for k, (text, colour) in enumerate(lines):
        c = colour if k == 0 else (GREEN if ok else RED)
        cv2.putText(img, text, (border + int(6 * s), border + lh * (k + 1)), FONT, 0.6 * s, c, thin, cv2.LINE_AA)
    return img


def _wrap(message: str, width: int, s: float) -> list[tuple[str, tuple]]:
    """A message cut into lines that fit `width` at the banner's text size."""
    lines, line = [], ""
    for word in message.split():
        trial = f"{line} {word}".strip()
        if line and cv2.getTextSize(trial, FONT, 0.6 * s, 1)[0][0] > width - 20 * s:
            lines.append((line, WHITE))
            line = word
        else:
            line = trial
    return lines + ([(line, WHITE)] if line else [])
