"""Stage 0, capture: every source of frames behind one interface, read in a thread of its own.

`--source` may be a camera index or device (`0`, `/dev/video2`), a stream URL (`rtsp://`, `http://`: an
IP camera, or a phone running a camera app), a video file, an image, a folder of images (each once,
sorted by name) or `demo` (generated sheets of handwriting, no camera or data set needed).
`open_source` turns the string into a Source; `Grabber` reads it in a background thread.

Cameras are opened through the platform's own capture API unless `--camera-backend` names one:
DirectShow on Windows (it opens in about a second where Media Foundation can take many), AVFoundation
on macOS, V4L2 on Linux. From 1280x720 up the camera is asked for MJPG (USB webcams deliver raw YUYV
at a few frames a second there) and for a buffer of one frame; the size, format and frame rate it
really gave are logged. Every call into OpenCV's capture goes through `open_capture`, which the tests
replace with a fake camera.

For a live camera the grabber keeps only the newest frame: when a frame takes longer to process than
the camera takes to deliver one, older frames are dropped instead of queueing up, so what is shown
never lags behind what is in front of the camera. Files are read in order without dropping anything.
A few failed reads in a row are tolerated (drivers drop frames); after that the camera is reopened
with exponential back-off, the grabber's `status` says so, for the screen and the log, and the loop
carries on when frames return. The camera is released only once the capture thread has ended.
"""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
#: --camera-backend names and OpenCV's capture APIs ("auto": the platform's own, see camera_apis).
CAMERA_BACKENDS = {"v4l2": cv2.CAP_V4L2, "dshow": cv2.CAP_DSHOW, "msmf": cv2.CAP_MSMF,
                   "avfoundation": cv2.CAP_AVFOUNDATION, "gstreamer": cv2.CAP_GSTREAMER}
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
MJPG_FROM = (1280, 720)  # from this width or height up, ask for MJPG: raw YUYV over USB 2 is too slow there
STREAM_TIMEOUT_MS = 10_000  # opening or reading a stream gives up after this (FFmpeg's default waits ~30 s)
TOLERATED_READS = 5  # failed reads in a row before a live source is reopened
Log = Callable[[str], None]


class SourceError(Exception):
    """The source cannot be opened; the message names it and says why, the hint what to try instead."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.message, self.hint = message, hint


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


def camera_apis(backend: str = "auto", platform: str | None = None) -> list[int]:
    """OpenCV capture APIs to try for a camera, in order: the one `backend` names, or the platform's own."""
    if backend != "auto":
        return [CAMERA_BACKENDS[backend]]
    platform = platform or sys.platform
    if platform.startswith("win"):
        return [cv2.CAP_DSHOW, cv2.CAP_MSMF]  # DirectShow opens in ~1 s; MSMF, the fallback, can take 10-30 s
    if platform == "darwin":
        return [cv2.CAP_AVFOUNDATION]
    if platform.startswith("linux"):
        return [cv2.CAP_V4L2]
    return [cv2.CAP_ANY]


def api_name(api: int) -> str:
    try:
        return cv2.videoio_registry.getBackendName(api)
    except cv2.error:
        return str(api)


def open_capture(target: int | str, api: int, params: Sequence[int] = ()) -> cv2.VideoCapture:
    """cv2.VideoCapture(target, api, params) with OpenCV's own logging silenced: for a missing camera it logs
    every backend it tries, and the SourceError says it once. The tests replace this with a fake camera."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(target, api, list(params))
    finally:
        cv2.utils.logging.setLogLevel(level)


def fourcc_text(code: float) -> str:
    """A FOURCC property as text ("MJPG", "YUYV"); empty when the backend does not say."""
    n = int(code)
    text = "".join(chr((n >> 8 * i) & 0xFF) for i in range(4))
    return text if n > 0 and text.isprintable() and text.strip() else ""


def wants_mjpg(width: int | None, height: int | None) -> bool:
    return (width or 0) >= MJPG_FROM[0] or (height or 0) >= MJPG_FROM[1]


def permission_hint(platform: str | None = None) -> str:
    """What to check when a camera will not open, beyond "is it connected": the OS's camera permission."""
    platform = platform or sys.platform
    if platform == "darwin":
        return (" - on macOS, allow camera access for this terminal (or Python) in System Settings > Privacy & "
                "Security > Camera, then start again")
    if platform.startswith("win"):
        return " - on Windows, check Settings > Privacy & security > Camera (let desktop apps use the camera)"
    return ""


class CameraSource(Source):
    """A live camera (an index) or a network stream (a URL), reopened when it stops delivering."""

    live = True

    def __init__(self, target: int | str, width: int | None = None, height: int | None = None,
                 backend: str = "auto", log: Log | None = None, name: str | None = None) -> None:
        self.target, self.width, self.height = target, width, height
        self.stream = isinstance(target, str)
        self.apis = [cv2.CAP_FFMPEG] if self.stream else camera_apis(backend)
        self.name = name or f"camera {target}"
        self.log = log or (lambda msg: None)
        self.cap: cv2.VideoCapture | None = None
        self.api: int | None = None
        self.count = 0
        self._open()
        if self.cap is None:
            raise self._cannot_open(backend)

    def _cannot_open(self, backend: str) -> SourceError:
        if self.stream:
            return SourceError(f"cannot open the stream {self.name} (wrong address, the server or the phone app is "
                               "not running, or the network blocks it)", "check the URL in a video player first")
        via = "" if backend == "auto" else f" through {backend}"
        others = ", ".join(b for b in ("auto", *CAMERA_BACKENDS) if b != backend)
        return SourceError(f"no camera at index {self.target}{via} (none connected, or in use by another program)"
                           f"{permission_hint()}",
                           f"try another --source index, --camera-backend {others}, or --source demo")

    def _params(self) -> list[int]:
        if self.stream:
            return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                    STREAM_TIMEOUT_MS]
        return []

    def _open(self) -> None:
        self.cap = None
        for api in self.apis:
            cap = open_capture(self.target, api, self._params())
            if cap.isOpened():
                self.cap, self.api = cap, api
                self._configure()
                return
            cap.release()

    def _configure(self) -> None:
        """Ask for MJPG when the size calls for it, then the size, and a one-frame buffer; log what was given."""
        cap = self.cap
        if not self.stream:
            if wants_mjpg(self.width, self.height):
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))  # before the size: V4L2 needs it so
            if self.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued seconds ago
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 1000 else 30.0
        self.log(self.describe())

    def describe(self) -> str:
        """What the camera really gave: size, pixel format and frame rate (a camera may refuse what was asked)."""
        cap = self.cap
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fmt = fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        fps = cap.get(cv2.CAP_PROP_FPS)
        text = f"{self.name} opened with {api_name(self.api)}: {w}x{h}" + (f" {fmt}" if fmt else "")
        text += f" at {fps:.4g} fps" if fps > 0 else " (frame rate not reported)"
        asked = (self.width or w, self.height or h)
        if (self.width or self.height) and asked != (w, h):
            text += f" (asked for {asked[0]}x{asked[1]}: the camera does not offer it)"
        return text

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
            self.cap = None


class VideoSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise SourceError(f"cannot open video {path} (not a video file, or a codec OpenCV lacks)")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0  # some containers report 0 or 1000: frame times go by it
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
    """The camera index `spec` names: "2", or a V4L2 device such as /dev/video2 (or a /dev/v4l link to one)."""
    spec = spec.strip()
    if spec.isdigit():
        return int(spec)
    m = re.fullmatch(r"/dev/video(\d+)", os.path.realpath(spec)) if spec else None
    return int(m.group(1)) if m else None


def is_stream(spec: str) -> bool:
    return re.match(rf"({'|'.join(STREAM_SCHEMES)})://", spec.strip(), re.IGNORECASE) is not None


def redact(url: str) -> str:
    """A stream URL fit for the screen and the log: a password in it is replaced by ***."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


def open_source(spec: str, width: int | None = None, height: int | None = None, realtime: bool = False,
                backend: str = "auto", log: Log | None = None) -> Source:
    """Turn a --source string into a Source, or raise SourceError saying what is wrong with it.

    `realtime`: a demo paces itself like a camera (for a window). `backend`: --camera-backend. `log`: where
    a camera says what size, format and frame rate it gave.
    """
    spec = spec.strip()
    if not spec:
        raise SourceError("--source is empty: give a camera index, a stream URL, a video, an image, a folder or "
                          "'demo'")
    if spec == "demo":
        return DemoSource(size=(width or 640, height or 480), realtime=realtime)
    if is_stream(spec):
        return CameraSource(spec, width, height, log=log, name=redact(spec))
    index = parse_camera(spec)
    if index is not None:
        device = not spec.isdigit()
        if device and not os.path.exists(spec):
            raise SourceError(f"--source {spec}: no such camera device (see ls /dev/video*)")
        return CameraSource(index, width, height, backend, log, name=spec if device else None)
    if spec.startswith("/dev/"):
        raise SourceError(f"--source {spec}: not a camera device (give /dev/videoN, or a camera index)")
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if not path.exists():
        raise SourceError(f"--source {spec!r}: no such file or folder (and not a camera index, a stream URL or "
                          "'demo')")
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
    a short queue so that no frame is lost. Up to `tolerate` failed reads in a row are read again at
    once; more, and the source is reopened with back-off while `status` tells the loop what is going on.
    `ended` says when the source has no more frames. A live source's real delivery rate is logged once,
    `rate_after` seconds after its first frame. The source is closed only after the thread has ended:
    releasing a camera while a read is in progress crashes some drivers.
    """

    def __init__(self, source: Source, backoff: Backoff | None = None, log: Log = print,
                 tolerate: int = TOLERATED_READS, rate_after: float = 2.0) -> None:
        self.source = source
        self.backoff = backoff or Backoff()
        self.log = log
        self.live = source.live
        self.tolerate = max(1, tolerate)
        self.rate_after = rate_after
        self.status = ""
        self.failures = 0
        self.dropped = 0
        self._source_done = False  # the source said it has no more frames
        self._latest: Frame | None = None
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=4)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._release = threading.Lock()
        self._thread_done = False
        self._close_asked = False
        self._closed = False
        self._first: tuple[float, int] | None = None  # time and count of the first frame, for the rate
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._read_until_stopped()
        finally:
            with self._release:
                self._thread_done = True
                if self._close_asked:
                    self._close_source()

    def _read_until_stopped(self) -> None:
        delays: Iterator[float] | None = None
        streak = 0  # failed reads in a row
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except ReadError as e:
                self.failures += 1
                streak += 1
                if streak < self.tolerate:
                    continue  # a dropped frame: read again
                if delays is None:
                    delays = self.backoff.delays()
                    self.log(f"capture: {e}; retrying")
                if not self._reopen_after(next(delays), e):
                    break
                continue
            except Exception as e:  # a source that breaks for good ends the run with a message
                self.status = f"capture stopped: {e}"
                self.log(self.status)
                frame = None
            if delays is not None:
                self.log(f"capture: {self.source.name} is back after {self.failures} failed reads")
                delays = None
                self.status = ""
            streak = 0
            self._put(frame)
            if frame is None:
                return
            self._note_rate(frame)

    def _reopen_after(self, wait: float, error: ReadError) -> bool:
        """Wait, then reopen the source; False when asked to stop meanwhile."""
        self.status = f"{error} - retrying in {wait:.1f} s"
        if self._stop.wait(wait):
            return False
        try:
            self.source.reopen()
        except Exception as err:  # a driver may throw anything on reopen; keep trying
            self.status = f"{error} - reopen failed: {err}"
        return True

    def _note_rate(self, frame: Frame) -> None:
        """Log once how fast a live source really delivers (a camera may give less than it promised)."""
        if not self.live or self.rate_after < 0:
            return
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, self.source_count())
            return
        t0, n0 = self._first
        if now - t0 >= self.rate_after:
            h, w = frame.image.shape[:2]
            rate = (self.source_count() - n0) / (now - t0)
            self.log(f"capture: {self.source.name} delivers {w}x{h} frames at {rate:.1f} fps")
            self.rate_after = -1.0

    def source_count(self) -> int:
        return int(getattr(self.source, "count", 0))

    def _put(self, frame: Frame | None) -> None:
        if self.live:
            with self._cond:
                if frame is None:
                    self._source_done = True  # the last frame, if not taken yet, is still handed over
                else:
                    self.dropped += self._latest is not None
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
                if self._latest is None and not self._source_done:
                    self._cond.wait(timeout)
                frame, self._latest = self._latest, None
                return frame
        if self._source_done:
            return None
        try:
            frame = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if frame is None:
            self._source_done = True
        return frame

    @property
    def ended(self) -> bool:
        """No frame will come any more: the source has ended and every frame it gave was handed over."""
        with self._cond:
            return self._source_done and self._latest is None

    def close(self, wait: float = 2.0) -> None:
        """Stop the thread and release the source: now if the thread has ended within `wait` seconds, else
        by the thread itself when its read returns (never while a read is in progress)."""
        self._stop.set()
        self._thread.join(timeout=wait)
        with self._release:
            self._close_asked = True
            if self._thread_done:
                self._close_source()

    def _close_source(self) -> None:
        if not self._closed:
            self._closed = True
            self.source.close()
