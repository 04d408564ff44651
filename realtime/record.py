"""`--record`: the annotated frames to a video that plays at the speed they were shown.

A video file has one frame rate, but the live loop shows frames at whatever rate it manages (a camera
may deliver 30 fps and the loop show 12 of them, or a pause may hold one frame for seconds). Written
one by one at the camera's nominal rate, such a recording plays too fast. Here every shown frame has
its time, and the file gets a frame at each tick of its own rate: a frame shown for 0.1 s at 30 fps is
written three times, and of frames shown faster than the rate only one per tick is kept. Frames of a
video file carry their time in the file, so a recording of a file has its frames one to one.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: The container suffixes --record accepts, and the codec each is written with.
CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
MAX_HOLD_S = 10.0  # a pause longer than this is shortened to it in the recording (the file stays bounded)


class RecordError(Exception):
    """The recording cannot be written; the message names the file and the reason."""


class Recorder:
    """Writes frames with their display times to `path` at `rate` frames per second of real time."""

    def __init__(self, path: Path, rate: float) -> None:
        if path.suffix.lower() not in CODECS:
            raise RecordError(f"--record {path}: use a .mp4 or .avi file name")
        self.path = path
        self.rate = float(min(max(rate, 1.0), 120.0))
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.t0 = 0.0
        self.written = 0
        self._last: np.ndarray | None = None

    def _open(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*CODECS[self.path.suffix.lower()])
        self.writer = cv2.VideoWriter(str(self.path), fourcc, self.rate, (w, h))
        if not self.writer.isOpened():
            raise RecordError(f"cannot write the recording {self.path} (folder not writable, or no codec for it)")
        self.size = (w, h)

    def write(self, image: np.ndarray, t: float) -> None:
        """Add `image`, shown from time `t` (seconds, any origin) until the next call's time."""
        if self.writer is None:
            self._open(image)
            self.t0 = t
        if (image.shape[1], image.shape[0]) != self.size:  # a camera reopened at another size
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        tick = round((t - self.t0) * self.rate)  # the tick from which this frame is on screen
        if tick < self.written:
            self._last = image  # that tick is written already: this frame fills the ticks that follow
            return
        gap = tick - self.written  # ticks during which the previous frame stayed on screen
        hold = min(gap, int(MAX_HOLD_S * self.rate))
        self.t0 += (gap - hold) / self.rate  # a pause cut short: later frames keep their spacing
        if self._last is not None:
            for _ in range(hold):
                self.writer.write(self._last)
            self.written += hold
        self.writer.write(image)
        self.written += 1
        self._last = image

    @property
    def seconds(self) -> float:
        """Length of the recording so far."""
        return self.written / self.rate

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
