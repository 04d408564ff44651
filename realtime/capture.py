"""Stage 0, capture: every source of frames behind one interface, read in a thread of its own.

`--source` may be a camera index, a video file, an image, a folder of images (each once, sorted by
name) or `demo` (generated sheets of handwriting, no camera or data set needed). `open_source` turns
the string into a Source; `Grabber` reads it in a background thread.

For a live camera the grabber keeps only the newest frame: when a frame takes longer to process than
the camera takes to deliver one, older frames are dropped instead of queueing up, so what is shown
never lags behind what is in front of the camera. Files are read in order without dropping anything.
A camera that stops delivering (unplugged, driver hiccup) is retried with exponential back-off; the
grabber's `status` says so, for the screen and the log, and the loop carries on when frames return.
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}


class SourceError(Exception):
    """The source cannot be opened; the message names it and says why."""


class ReadError(Exception):
    """A frame could not be read this time (a camera may come back)."""


@dataclass
class Frame:
    image: np.ndarray
    index: int
    source: str  # the file name for images and folders, else a description of the source
    still: bool = False  # an independent picture: do not smooth it with the frames before
    truth: object | None = None  # demo frames carry the generated Scene
    t: float = field(default_factory=time.perf_counter)


class Source(ABC):
    name = "?"
    live = False  # frames arrive in real time and stale ones may be dropped
    fps = 30.0

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or None at the end. Raises ReadError for a (maybe passing) failure."""

    def reopen(self) -> None:  # noqa: B027 - an optional hook
        """Try to get the source back after a ReadError (cameras); the default does nothing."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        pass

    @property
    def problems(self) -> list[str]:
        """Files that were skipped, for the summary."""
        return []


class CameraSource(Source):
    live = True

    def __init__(self, index: int, width: int | None = None, height: int | None = None) -> None:
        self.index, self.width, self.height = index, width, height
        self.name = f"camera {index}"
        self.cap: cv2.VideoCapture | None = None
        self.count = 0
        self._open()
        if self.cap is None:
            raise SourceError(f"no camera at index {index} (none connected, or it is in use)")

    def _open(self) -> None:
        # OpenCV logs every backend it tries for a missing camera; the SourceError says it once.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            cap = cv2.VideoCapture(self.index)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            self.cap = None
            return
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.cap = cap

    def read(self) -> Frame | None:
        if self.cap is None:
            raise ReadError(f"{self.name} is not available")
        ok, img = self.cap.read()
        if not ok or img is None:
            raise ReadError(f"{self.name} delivered no frame")
        self.count += 1
        return Frame(img, self.count - 1, self.name)

    def reopen(self) -> None:
        if self.cap is not None:
            self.cap.release()
        self._open()

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()


class VideoSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise SourceError(f"cannot open video {path} (not a video file, or a codec OpenCV lacks)")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.count = 0

    def read(self) -> Frame | None:
        ok, img = self.cap.read()
        if not ok or img is None:
            return None
        self.count += 1
        return Frame(img, self.count - 1, self.name)

    def close(self) -> None:
        self.cap.release()


def read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"cannot read image {path} (not an image, or damaged)")
    return img


class ImageSource(Source):
    def __init__(self, path: Path) -> None:
        self.image = read_image(path)
        self.name = path.name
        self.done = False

    def read(self) -> Frame | None:
        if self.done:
            return None
        self.done = True
        return Frame(self.image, 0, self.name, still=True)


class FolderSource(Source):
    """Each image in a folder once, sorted by name. Unreadable files are skipped and reported."""

    def __init__(self, path: Path) -> None:
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise SourceError(f"no images in folder {path} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        self.name = str(path)
        self.pos = 0
        self.skipped: list[str] = []

    @property
    def problems(self) -> list[str]:
        return self.skipped

    def read(self) -> Frame | None:
        while self.pos < len(self.files):
            path = self.files[self.pos]
            self.pos += 1
            try:
                return Frame(read_image(path), self.pos - 1, path.name, still=True)
            except SourceError as e:
                self.skipped.append(str(e))
        return None


class DemoSource(Source):
    """Generated video of handwriting on paper: a new sheet every `per_page` frames, endless by default.

    With `realtime` it delivers frames at `fps`, like a camera (for the window); otherwise as fast as
    they are asked for (headless runs, tests).
    """

    name = "demo"

    def __init__(self, size: tuple[int, int] = (640, 480), per_page: int = 90, seed: int = 0,
                 frames: int | None = None, realtime: bool = False) -> None:
        from realtime.measure.scene import FontDigits

        self.size, self.per_page, self.frames, self.realtime = size, per_page, frames, realtime
        self.live = realtime
        self.rng = np.random.default_rng(seed)
        self.digits = FontDigits()
        self.count = 0
        self._page = iter(())
        self._next_t = time.perf_counter()

    def read(self) -> Frame | None:
        from realtime.measure.scene import make_video

        if self.frames is not None and self.count >= self.frames:
            return None
        scene = next(self._page, None)
        if scene is None:
            self._page = make_video(self.rng, self.digits, self.per_page, size=self.size, digit_height=(0.1, 0.22))
            scene = next(self._page)
        if self.realtime:
            self._next_t += 1.0 / self.fps
            time.sleep(max(0.0, self._next_t - time.perf_counter()))
        self.count += 1
        return Frame(scene.image, self.count - 1, "demo", truth=scene)


def parse_camera(spec: str) -> int | None:
    return int(spec) if spec.strip().isdigit() else None


def open_source(spec: str, width: int | None = None, height: int | None = None, realtime: bool = False) -> Source:
    """Turn a --source string into a Source, or raise SourceError saying what is wrong with it.

    `realtime`: a demo paces itself like a camera (for a window).
    """
    spec = spec.strip()
    if not spec:
        raise SourceError("--source is empty: give a camera index, a video, an image, a folder or 'demo'")
    if spec == "demo":
        return DemoSource(size=(width or 640, height or 480), realtime=realtime)
    index = parse_camera(spec)
    if index is not None:
        return CameraSource(index, width, height)
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if not path.exists():
        raise SourceError(f"--source {spec!r}: no such file or folder (and not a camera index or 'demo')")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoSource(path)


@dataclass
class Backoff:
    """Retry delays: first, doubling each time, at most `cap` seconds."""

    first: float = 0.1
    cap: float = 2.0

    def delays(self):
        d = self.first
        while True:
            yield d
            d = min(self.cap, d * 2)


class Grabber:
    """Reads a Source in a background thread; `next()` hands frames to the loop.

    Live sources keep only the newest frame (older ones are counted in `dropped`); others go through
    a short queue so that no frame is lost. Read failures are retried with back-off, `status` tells
    the loop what is going on, and `ended` is set when the source has no more frames.
    """

    def __init__(self, source: Source, backoff: Backoff | None = None, log=print) -> None:
        self.source = source
        self.backoff = backoff or Backoff()
        self.log = log
        self.live = source.live
        self.status = ""
        self.failures = 0
        self.dropped = 0
        self.ended = False
        self._latest: Frame | None = None
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=4)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delays = None
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except ReadError as e:
                if delays is None:
                    delays = self.backoff.delays()
                    self.log(f"capture: {e}; retrying")
                self.failures += 1
                wait = next(delays)
                self.status = f"{e} - retrying in {wait:.1f} s"
                if self._stop.wait(wait):
                    break
                try:
                    self.source.reopen()
                except Exception as err:  # a driver may throw anything on reopen; keep trying
                    self.status = f"{e} - reopen failed: {err}"
                continue
            except Exception as e:  # a source that breaks for good ends the run with a message
                self.status = f"capture stopped: {e}"
                self.log(self.status)
                frame = None
            if delays is not None:
                self.log(f"capture: {self.source.name} is back after {self.failures} failed reads")
                delays = None
                self.status = ""
            if frame is None:
                self._put(None)
                return
            self._put(frame)

    def _put(self, frame: Frame | None) -> None:
        if self.live:
            with self._cond:
                if frame is None:
                    self.ended = True
                elif self._latest is not None:
                    self.dropped += 1
                self._latest = frame
                self._cond.notify_all()
            return
        while not self._stop.is_set():
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self, timeout: float = 0.1) -> Frame | None:
        """The next frame to process, or None if none arrived within `timeout` (see `ended`)."""
        if self.live:
            with self._cond:
                if self._latest is None and not self.ended:
                    self._cond.wait(timeout)
                frame, self._latest = self._latest, None
                return frame
        if self.ended:
            return None
        try:
            frame = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if frame is None:
            self.ended = True
        return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.source.close()
