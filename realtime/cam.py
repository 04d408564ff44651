"""`digitcam` (or `python -m realtime.cam`): read handwritten digits through a webcam, live.

    digitcam                                  # camera 0; the built-in demo when there is none
    digitcam --source 1 --width 1280 --height 720
    digitcam --source rtsp://192.168.1.20:8554/live     # an IP camera, or a phone's camera app
    digitcam --source sheet.jpg               # an image, a folder of images, a video, or demo
    digitcam --source clip.mp4 --headless --jsonl out.jsonl --record out.mp4
    digitcam --source sheet.jpg --teach 0123456789     # store the digits of your photo as your samples
    digitcam --list-samples                   # your samples and personal weights (--remove-samples ID)

Keys in the window: q or Esc quit, space pause, s snapshot, + / - more / less sensitive threshold,
d debug view (threshold mask and the 28x28 images the network sees), t teach (the frame freezes, its
digits are numbered: type them in order and press Enter, or click a box and type its digit; Esc back).
With no screen (no DISPLAY, one that does not answer, or --headless) it runs without a window and
prints what it reads. The personal weights (`digitcam-train --personal`) are used when they exist.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np

from realtime import STARTED
from realtime.capture import (
    CAMERA_BACKENDS,
    IMAGE_SUFFIXES,
    DemoSource,
    Frame,
    Grabber,
    Source,
    SourceError,
    open_source,
    read_image,
)
from realtime.detect import DetectConfig
from realtime.display import screen_problem
from realtime.draw import Hud, annotate, paused, teach_view, with_debug, with_status
from realtime.pipeline import FrameResult, Reader
from realtime.reader import build_reader, shipped_weights
from realtime.record import CODECS, Recorder, RecordError
from realtime.samples import SampleError, personal_weights
from realtime.score import Score
from realtime.teach import TeachError, TeachMode, parse_digits, stored_count, teach_image
from train.checkpoint import WeightsError, WriteError

HEADLESS_DEMO_FRAMES = 150
WINDOW = "digitcam"
SIDE = (64, 8192)  # --width / --height: what a camera or the demo can make sense of
FPS_TAU_S = 0.5  # the frame rate shown is averaged over about this many seconds
WINDOW_WIDTH = 1280  # a larger frame opens in a window scaled down to this width


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (`digitcam: error: argument --width: ...`), no usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {what}") from None


def pixels(text: str) -> int:
    n = _int(text, "pixels")
    if not SIDE[0] <= n <= SIDE[1]:
        raise argparse.ArgumentTypeError(f"must be from {SIDE[0]} to {SIDE[1]} pixels, not {n}")
    return n


def frame_count(text: str) -> int:
    n = _int(text, "frames")
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {n}")
    return n


def fraction(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return x


def video_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in CODECS:
        raise argparse.ArgumentTypeError(f"{text!r}: the file name must end in {' or '.join(CODECS)}")
    return path


def teach_digits(text: str) -> str:
    try:
        return parse_digits(text)
    except TeachError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def prog_name() -> str:
    return "digitcam" if Path(sys.argv[0]).name.startswith("digitcam") else "python -m realtime.cam"


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=prog_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=None,
                   help="camera index or /dev/videoN, stream URL (rtsp://, http://), video, image, folder of images, "
                        "or 'demo' (default: camera 0, or the demo when there is none)")
    p.add_argument("--camera-backend", choices=["auto", *CAMERA_BACKENDS], default="auto",
                   help="OpenCV capture API for a camera (auto: DirectShow on Windows, AVFoundation on macOS, V4L2 "
                        "on Linux)")
    p.add_argument("--weights", type=Path, default=None,
                   help="FCL weights (default: your personal weights when digitcam-train --personal made them, "
                        "else the shipped ones)")
    p.add_argument("--no-personal", action="store_true", help="use the shipped weights, not your personal ones")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--width", type=pixels, help="camera capture width (and the demo's); MJPG from 1280 up")
    p.add_argument("--height", type=pixels, help="camera capture height (and the demo's); MJPG from 720 up")
    p.add_argument("--record", type=video_path, help="write the annotated video here (.mp4 or .avi), at the speed "
                                                     "it was shown")
    p.add_argument("--jsonl", type=Path, help="write one JSON line per processed frame here")
    p.add_argument("--max-frames", type=frame_count, default=0, help="stop after this many frames (0 = no limit)")
    p.add_argument("--roi", action="store_true", help="read only a centred box (half the frame each way)")
    p.add_argument("--headless", action="store_true", help="no window, even when a screen is available")
    p.add_argument("--threshold", type=fraction, default=DetectConfig.threshold,
                   help="how much darker than the paper ink must be, 0-1 (keys + / - adjust it)")
    p.add_argument("--light-on-dark", action="store_true", help="light writing on a dark surface")
    p.add_argument("--min-confidence", type=fraction, default=0.5, help="below this a digit shows as '?'")
    p.add_argument("--no-smooth", action="store_true", help="no smoothing of readings across frames")
    p.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where key s saves snapshots")
    p.add_argument("--quiet", action="store_true", help="headless: print only the summary")
    p.add_argument("--teach", type=teach_digits, metavar="DIGITS",
                   help="with --source IMAGE: store its digits as your samples, labelled with DIGITS in reading "
                        "order (rows top to bottom, left to right; spaces may separate rows)")
    p.add_argument("--list-samples", action="store_true", help="list your samples and personal weights, and exit")
    p.add_argument("--remove-samples", nargs="+", metavar="ID",
                   help="remove samples by id, a photo's by their shared prefix, or 'all'; and exit")
    p.add_argument("--remove-personal", action="store_true", help="remove your personal weights, and exit")
    return p


def roi_box(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    return w // 4, h // 4, w // 2, h // 2


class Loop:
    """The thin loop at the edge: frames in, Reader, drawing, window/files/console out."""

    def __init__(self, args: argparse.Namespace, reader: Reader, backend: str, source: Source, window: bool,
                 fallback_demo: bool) -> None:
        self.args, self.reader, self.backend, self.source = args, reader, backend, source
        self.window, self.fallback_demo = window, fallback_demo
        self.recorder: Recorder | None = None
        self.jsonl = None
        self.frames = 0
        self.digits = 0
        self.unsure = 0
        self.soft_ms: deque[float] = deque(maxlen=10_000)  # bounded: a run may last for days
        self.truth_score = Score()
        self.last_lines: list[str] = []
        self.fps = 0.0
        self.t_prev: float | None = None
        self.debug = False
        self.paused = False
        self.last_shown: np.ndarray | None = None  # the last annotated frame
        self.last_result: FrameResult | None = None
        self.last_read: tuple[np.ndarray, FrameResult] | None = None  # headless: the last frame and its reading
        self.shown: np.ndarray | None = None  # what the window shows (with the debug panel), for snapshots
        self._window_shape: tuple[int, ...] = ()
        self.startup: dict[str, float] = {}  # seconds per start-up phase, filled in by main()
        self.startup_s: float | None = None  # from the package's import to the first frame shown
        self.on_frame = None  # called with each frame's software milliseconds (the soak test listens)
        self.weights = ""  # which weights run, for the HUD
        self.last_raw: np.ndarray | None = None  # window: the last frame as it came, for teach mode
        self.last_source = ""
        self.teach: TeachMode | None = None
        self.held = False  # window: a file source has ended, its last frame stays until q

    def run(self) -> int:
        args = self.args
        if args.jsonl:
            self.jsonl = open(args.jsonl, "w", buffering=1)  # line-buffered: a crash loses no line
        if args.record:
            self.recorder = Recorder(args.record, self.source.fps)
        grab = Grabber(self.source, log=log)
        if self.window:
            cv2.setMouseCallback(WINDOW, self._mouse)
        limit = args.max_frames or (HEADLESS_DEMO_FRAMES if self.fallback_demo and not self.window else 0)
        t_start = time.perf_counter()
        try:
            while (not limit or self.frames < limit) and self._step(grab):
                pass
        except KeyboardInterrupt:
            log("interrupted")
        finally:
            grab.close()  # the capture thread ends first; the camera is released after it
            self._close_outputs()
        return self._summary(time.perf_counter() - t_start)

    def _close_outputs(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.jsonl is not None:
            self.jsonl.close()
        if self.window:
            cv2.destroyAllWindows()

    def _step(self, grab: Grabber) -> bool:
        """Wait for one frame and handle it (or the keys, while paused or waiting); False to stop."""
        if self.paused or self.teach is not None or self.held:
            return self._keys(30)
        frame = grab.next(timeout=0.1)
        if frame is None:
            if grab.ended:
                if self.window and self.last_shown is not None:
                    self.held = True  # a photo stays on screen: to be looked at, or taught
                    log(f"end of {self.source.name}: its last frame stays; q quits, t teaches")
                    return True
                return False
            if self.window:  # nothing new (a lost camera): keep the window alive and say so
                if self.shown is not None and grab.status:
                    cv2.imshow(WINDOW, with_status(self.shown, grab.status))
                return self._keys(1)
            return True
        self._tick()
        return self._process(frame, grab.status)

    def _tick(self) -> None:
        """Update the frame rate shown: an average over about FPS_TAU_S seconds, whatever the rate."""
        now = time.perf_counter()
        if self.t_prev is not None:
            dt = max(now - self.t_prev, 1e-6)
            a = 1.0 - math.exp(-dt / FPS_TAU_S)
            self.fps = 1.0 / dt if self.fps == 0 else (1 - a) * self.fps + a / dt
        self.t_prev = now

    def frame_time(self, frame: Frame) -> float:
        """When a frame was (or would have been) seen, in seconds: a live source's capture time, a file's
        own time. Tracking, smoothing and recording go by it, so they are the same at any frame rate."""
        return frame.t if self.source.live else frame.index / self.source.fps

    def _process(self, frame: Frame, status: str) -> bool:
        image = frame.image
        if image.ndim == 2 or image.shape[2] != 3 or image.dtype != np.uint8:
            from realtime.detect import to_gray

            image = cv2.cvtColor(to_gray(image), cv2.COLOR_GRAY2BGR)
        roi = roi_box(image.shape) if self.args.roi else None
        view = image[roi[1] : roi[1] + roi[3], roi[0] : roi[0] + roi[2]] if roi else image
        t = self.frame_time(frame)
        result = self.reader.read(view, still=frame.still, t=t)
        if roi:
            for d in result.digits:
                d.box = (d.box[0] + roi[0], d.box[1] + roi[1], d.box[2], d.box[3])
        annotated = None
        if self.window:  # drawing happens in place: teach mode needs the frame as it came
            self.last_raw, self.last_source = image.copy(), frame.source
        if self.window or self.recorder is not None:
            t0 = time.perf_counter()
            hud = Hud(self.fps, dict(result.ms), self.backend, self.reader.config.threshold, status, roi,
                      self.weights)
            annotated = annotate(image, result, hud, copy=False)  # the frame is ours: draw in place
            result.ms["draw"] = (time.perf_counter() - t0) * 1e3
            if self.recorder is not None:
                self.recorder.write(annotated, t)
            self.last_shown, self.last_result = annotated, result
        else:
            self.last_read = (image, result)
        self._count(frame, result)
        keep_going = True
        if self.window and annotated is not None:
            self._show()
            keep_going = self._keys(1)
        if self.frames == 1:
            self._first_frame()
        return keep_going

    def _count(self, frame: Frame, result: FrameResult) -> None:
        """Totals, the demo's score, the JSON line and the console line of one frame."""
        self.soft_ms.append(sum(result.ms.values()))
        if self.on_frame is not None:
            self.on_frame(self.soft_ms[-1])
        self.frames += 1
        self.digits += sum(d.digit is not None for d in result.digits)
        self.unsure += sum(d.digit is None for d in result.digits)
        if frame.truth is not None:
            sc = frame.truth
            self.truth_score.add(f"frame {frame.index}", [d.box for d in result.digits],
                                 [d.symbol for d in result.digits], [t.box for t in sc.digits],
                                 [t.digit for t in sc.digits], result.lines, sc.lines)
        if self.jsonl is not None:
            record = {"frame": frame.index, "source": frame.source, "digits": [d.to_json() for d in result.digits],
                      "lines": result.lines, "ms": {k: round(v, 3) for k, v in result.ms.items()}}
            self.jsonl.write(json.dumps(record) + "\n")
        if not self.window and not self.args.quiet:
            if frame.still:
                print(f"{frame.source}: {' | '.join(result.lines) or '(no digits)'}", flush=True)
            elif result.lines != self.last_lines:
                print(f"frame {frame.index}: {' | '.join(result.lines) or '(no digits)'}", flush=True)
        self.last_lines = result.lines

    def _first_frame(self) -> None:
        """Report the start-up time: from the package's import to the first frame read (and shown)."""
        self.startup_s = time.perf_counter() - STARTED
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in self.startup.items())
        log(f"start-up: {self.startup_s:.2f} s to the first frame" + (f" ({phases})" if phases else ""))

    def _show(self) -> None:
        """Show the last frame: with the debug panel below it when on, with a banner when paused; in teach
        mode the frozen frame with its digits numbered."""
        if self.last_shown is None:
            return
        if self.teach is not None:
            t = self.teach
            view = teach_view(t.frame, [d.box for d in t.result.digits], t.typed, t.taught, t.selected, t.message,
                              t.ok)
        else:
            self.shown = with_debug(self.last_shown, self.last_result) if self.debug else self.last_shown
            view = paused(self.shown) if self.paused else self.shown
        if view.shape != self._window_shape:  # the first frame, or the debug panel came or went
            h, w = view.shape[:2]
            k = min(1.0, WINDOW_WIDTH / w)
            cv2.resizeWindow(WINDOW, int(w * k), int(h * k))
            self._window_shape = view.shape
        cv2.imshow(WINDOW, view)

    def _keys(self, wait_ms: int) -> bool:
        """Handle one key press; False to quit."""
        key = cv2.waitKey(wait_ms) & 0xFF
        try:
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                return False  # the window was closed
        except cv2.error:
            return False
        if self.teach is not None:
            return self._teach_key(key)
        if key in (ord("q"), 27):
            return False
        if key == ord("t") and self.last_raw is not None and self.last_result is not None:
            self.teach = TeachMode(self.last_raw, self.last_result, self.last_source)
            log(f"teach: {self.teach.message}")
            self._show()
        cfg = self.reader.config
        if key == ord(" "):
            self.paused = not self.paused
            self._show()  # the banner comes or goes now, not with the next frame
        elif key in (ord("+"), ord("=")):
            cfg.threshold = max(0.05, cfg.threshold - 0.02)  # more sensitive: fainter ink counts
        elif key in (ord("-"), ord("_")):
            cfg.threshold = min(0.9, cfg.threshold + 0.02)
        elif key == ord("d"):
            self.debug = not self.debug
            if self.paused:
                self._show()
        elif key == ord("s") and self.shown is not None:
            self.args.snapshot_dir.mkdir(parents=True, exist_ok=True)
            path = self.args.snapshot_dir / time.strftime("digitcam-%Y%m%d-%H%M%S.png")
            cv2.imwrite(str(path), self.shown)
            log(f"snapshot saved to {path}")
        return True

    def _teach_key(self, key: int) -> bool:
        """A key in teach mode: q quits, Esc or t go back to the video, the rest goes to TeachMode."""
        if key == 255:  # no key
            return True
        if key == ord("q"):
            return False
        said = self.teach.said
        if not self.teach.key(key):
            self.teach = None
            log("teach: back to the video")
        elif self.teach.said != said:
            log(f"teach: {self.teach.message}")
        self._show()
        return True

    def _mouse(self, event: int, x: int, y: int, flags: int, param) -> None:
        """A click in teach mode picks the box under it (x, y: the frame's pixels, as OpenCV reports them)."""
        if event == cv2.EVENT_LBUTTONDOWN and self.teach is not None:
            self.teach.click(x, y)
            log(f"teach: {self.teach.message}")
            self._show()

    def _summary(self, seconds: float) -> int:
        soft = np.array(self.soft_ms) if self.soft_ms else np.zeros(1)
        startup = f"; start-up {self.startup_s:.2f} s to the first frame" if self.startup_s is not None else ""
        print(f"{self.frames} frames from {self.source.name} in {seconds:.1f} s ({self.frames / max(seconds, 1e-9):.1f}"
              f" fps average): {self.digits} digits read, {self.unsure} unsure ('?'); software time per frame "
              f"p50 {np.percentile(soft, 50):.2f} ms, p99 {np.percentile(soft, 99):.2f} ms (last {len(soft)} "
              f"frames); backend {self.backend}{startup}")
        if self.truth_score.truth:
            s = self.truth_score.summary()
            print(f"demo truth: {s['digits']} digits shown, {s['recall']} % found, {s['accuracy']} % read right, "
                  f"{s['extra']} extra boxes")
        if self.fallback_demo and not self.window and (self.last_read or self.last_shown is not None):
            path = Path("digitcam-demo.png")
            cv2.imwrite(str(path), self.last_shown if self.last_shown is not None else annotate(*self.last_read))
            print(f"the last annotated demo frame is in {path.resolve()}")
        if self.recorder is not None and self.recorder.written:
            print(f"annotated video written to {self.args.record} ({self.recorder.seconds:.1f} s at "
                  f"{self.recorder.rate:.4g} fps: the speed it was shown)")
        if self.args.jsonl:
            print(f"per-frame readings written to {self.args.jsonl}")
        problems = self.source.problems
        for p in problems:
            print(f"skipped: {p}", file=sys.stderr)
        return 1 if problems else 0


def fail(message: str) -> int:
    log(f"error: {message}")
    return 2


def output_problem(args: argparse.Namespace) -> str | None:
    """Why --record or --jsonl cannot be written (before minutes of work are lost), or None."""
    for flag, out in (("--record", args.record), ("--jsonl", args.jsonl)):
        folder = out.parent if out else None
        if folder is not None and not (folder.is_dir() and os.access(folder, os.W_OK)):
            return f"{flag} {out}: {folder} is not a writable folder"
    return None


def open_or_demo(args: argparse.Namespace, window: bool) -> tuple[Source, bool]:
    """The source asked for, and whether it is the demo standing in for a missing default camera.

    Only the default (no --source) falls back to the demo: a camera, stream or file named with --source
    that cannot be opened is an error (SourceError)."""
    try:
        source = open_source("0" if args.source is None else args.source, args.width, args.height, realtime=window,
                             backend=args.camera_backend, log=log)
        return source, False
    except SourceError as e:
        if args.source is not None:
            raise
        log(f"{e.message}: showing the built-in demo instead (generated handwriting on paper; --source picks a "
            "camera, a stream or a file).")
        return DemoSource(size=(args.width or 640, args.height or 480), realtime=window), True


def no_window(args: argparse.Namespace) -> str | None:
    """Why there can be no window here (one line), or None. Asked before OpenCV tries: see display.py."""
    return "--headless" if args.headless else screen_problem()


def open_window() -> str | None:
    """Open the window; the reason why not when OpenCV cannot."""
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
    except cv2.error as e:
        return f"no window could be opened ({str(e).strip().splitlines()[-1]})"
    return None


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def personal_note(path: Path) -> str:
    """A warning when the personal weights were made from other shipped weights than these (an update
    came since): they still work, but a new fine-tune would start from the newer ones."""
    try:
        base = json.loads(path.with_suffix(".json").read_text())["started_from"]
        if base.get("shipped") and base.get("sha256") != _sha256(shipped_weights()):
            return "; they were made from older shipped weights: digitcam-train --personal makes them anew"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return ""


def choose_weights(args: argparse.Namespace) -> tuple[Path | None, str]:
    """The weights to run and their name for the HUD: --weights; else the personal ones unless
    --no-personal; else the shipped ones (None)."""
    if args.weights:
        return args.weights, args.weights.name
    personal = personal_weights()
    if not args.no_personal and personal.exists():
        return personal, "personal"
    return None, "shipped"


def make_reader(args: argparse.Namespace) -> tuple[Reader, dict, str]:
    """The Reader on the chosen weights, what build_reader measured, and the weights' name. Personal
    weights that cannot be read are not fatal: the shipped ones run, and the user is told why."""
    config = DetectConfig(threshold=args.threshold, light_on_dark=args.light_on_dark)
    weights, name = choose_weights(args)
    try:
        reader, info = build_reader(weights, args.device, config, args.min_confidence, not args.no_smooth)
    except WeightsError as e:
        if name != "personal":
            raise
        log(f"{e}: reading with the shipped weights instead (digitcam-train --personal makes them anew)")
        return make_reader(argparse.Namespace(**{**vars(args), "no_personal": True}))
    if name == "personal":
        log(f"reading with your personal weights ({weights}; --no-personal for the shipped ones)"
            f"{personal_note(weights)}")
    return reader, info, name


def teach_headless(args: argparse.Namespace) -> int:
    """--teach: store the digits of the --source photo, labelled in reading order; exit 2 (nothing stored)
    when the count does not match."""
    path = Path(args.source or "")
    if args.source is None or path.suffix.lower() not in IMAGE_SUFFIXES:
        return fail("--teach needs --source IMAGE: the photo (or scan) of the digits it names")
    if not path.is_file():
        return fail(f"--source {args.source}: no such image file")
    try:
        image = read_image(path)
        reader, _, _ = make_reader(args)
        ids, result = teach_image(reader, image, args.teach, str(path.resolve()))
    except (TeachError, SourceError, WeightsError, WriteError, SampleError, RuntimeError) as e:
        return fail(str(e))
    read, n = " ".join(result.lines), stored_count()
    plural = lambda k: f"{k} sample" + "s" * (k != 1)  # noqa: E731
    print(f"stored {plural(len(ids))} from {path.name} as {args.teach} (read as {read}): {plural(n)} in all, in "
          f"{personal_weights().parent / 'samples'}; digitcam-train --personal learns them")
    return 0


def manage(args: argparse.Namespace) -> int:
    """--remove-samples, --remove-personal, --list-samples (in that order): the user's own data."""
    from realtime.samples import remove_samples

    if args.remove_samples:
        try:
            removed = remove_samples(args.remove_samples)
        except SampleError as e:
            return fail(str(e))
        print(f"removed {len(removed)} samples" + (f" ({removed[0]} ... {removed[-1]})" if removed else ""))
    if args.remove_personal:
        path = personal_weights()
        gone = [p for p in (path, path.with_suffix(".json")) if p.exists()]
        for p in gone:
            p.unlink()
        print(f"removed your personal weights ({path})" if gone else f"no personal weights to remove ({path})")
    if args.list_samples:
        from realtime.samples import describe

        print(describe())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    t_main = time.perf_counter()
    if args.list_samples or args.remove_samples or args.remove_personal:
        return manage(args)
    if args.teach is not None:
        return teach_headless(args)
    problem = output_problem(args)
    if problem:
        return fail(problem)
    why_headless = no_window(args)
    try:
        reader, info, weights = make_reader(args)
        t_reader = time.perf_counter()
        source, fallback = open_or_demo(args, why_headless is None)
    except (WeightsError, RuntimeError, SourceError) as e:
        return fail(str(e))
    why_headless = why_headless or open_window()
    window = why_headless is None
    if not window:
        log(f"{why_headless}: running headless on {source.name} with the {info['backend']} backend")
    loop = Loop(args, reader, info["backend"], source, window, fallback)
    loop.weights = weights
    loop.startup = {"imports": t_main - STARTED, "weights and backend choice": info["choose_s"],
                    "warm-up": info["warm_up_s"], "opening the source": time.perf_counter() - t_reader}
    try:
        return loop.run()
    except (SourceError, RecordError) as e:
        return fail(str(e))


if __name__ == "__main__":
    sys.exit(main())
