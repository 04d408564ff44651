"""Stage 5, draw: what the user sees on top of the video.

Each digit gets a box, its class and confidence (green when sure, orange "?" when the network is not
sure enough to answer); the numbers read are listed per line at the top left; the bottom line shows
the frame rate, each stage's milliseconds, the inference backend and the threshold; a status (a lost
camera, a pause) appears in red. The debug view (key `d`) adds the threshold mask and the 28x28
images the network actually saw, each with its answer: the first place to look when a digit is misread.
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
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Hud:
    fps: float = 0.0
    ms: dict[str, float] = field(default_factory=dict)
    backend: str = ""
    threshold: float = 0.0
    status: str = ""
    roi: Box | None = None
    debug: bool = False


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
    H, W = img.shape[:2]
    s = max(0.6, min(H, W) / 600)
    thick = max(1, int(round(s * 1.5)))
    if hud and hud.roi:
        x, y, w, h = hud.roi
        cv2.rectangle(img, (x, y), (x + w, y + h), WHITE, 1)
    for d in result.digits:
        x, y, w, h = d.box
        colour = GREEN if d.digit is not None else ORANGE
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, thick)
        ty = y - 6 if y - 6 > 16 * s else y + h + int(20 * s)
        _text(img, f"{d.symbol} {100 * d.confidence:.0f}%", (x, ty), 0.55 * s, colour, 1)
    if result.lines:
        lh = int(28 * s)
        for i, t in enumerate(result.lines[:8]):
            _text(img, ("read: " if i == 0 else "      ") + t, (int(8 * s), lh * (i + 1)), 0.7 * s, WHITE, thick)
    if hud is not None:
        parts = [f"{hud.fps:.1f} fps"] + [f"{k} {v:.2f}" for k, v in hud.ms.items()]
        info = "  ".join(parts) + f" ms | {hud.backend} | threshold {hud.threshold:.2f}"
        cv2.rectangle(img, (0, H - int(24 * s)), (W, H), BLACK, cv2.FILLED)
        _text(img, info, (int(6 * s), H - int(8 * s)), 0.42 * s, WHITE, 1, back=False)
        if hud.status:
            _text(img, hud.status, (int(8 * s), H - int(40 * s)), 0.7 * s, RED, thick)
        if hud.debug:
            _debug(img, result, s)
    return img


def _debug(img: np.ndarray, result: FrameResult, s: float) -> None:
    """Threshold mask at the top right, the network's 28x28 inputs along the bottom."""
    H, W = img.shape[:2]
    det = result.detection
    if det is not None:
        tw = W // 4
        th = max(1, int(det.mask.shape[0] * tw / det.mask.shape[1]))
        thumb = cv2.resize(det.mask, (tw, th), interpolation=cv2.INTER_AREA)
        img[0:th, W - tw : W] = cv2.cvtColor(thumb, cv2.COLOR_GRAY2BGR)
        cv2.rectangle(img, (W - tw, 0), (W - 1, th), WHITE, 1)
        _text(img, "mask", (W - tw + 4, 16), 0.45, WHITE)
    cell = max(28, int(56 * s))
    y0 = H - int(26 * s) - cell - int(20 * s)
    for i, d in enumerate(result.digits[: max(1, W // (cell + 4))]):
        x0 = 4 + i * (cell + 4)
        tile = cv2.resize((d.image * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST)
        img[y0 : y0 + cell, x0 : x0 + cell] = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
        _text(img, d.symbol, (x0 + 2, y0 + cell + int(16 * s)), 0.5 * s, GREEN if d.digit is not None else ORANGE)
