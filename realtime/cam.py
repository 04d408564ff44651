"""`python -m realtime.cam`: read handwritten digits through a webcam, live.

    python -m realtime.cam                          # camera 0; the built-in demo when there is none
    python -m realtime.cam --source sheet.jpg       # an image, a folder of images, a video, or demo
    python -m realtime.cam --source clip.mp4 --headless --jsonl out.jsonl --record out.mp4

Keys in the window: q or Esc quit, space pause, s snapshot, + / - more / less sensitive threshold,
d debug view (threshold mask and the 28x28 images the network sees).
With no screen (no DISPLAY, or --headless) it runs without a window and prints what it reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from realtime.capture import DemoSource, Frame, Grabber, Source, SourceError, open_source, parse_camera
from realtime.detect import DetectConfig
from realtime.draw import Hud, annotate
from realtime.pipeline import Reader
from realtime.reader import DEFAULT_WEIGHTS, build_reader
from realtime.score import Score
from train.checkpoint import WeightsError

HEADLESS_DEMO_FRAMES = 150
WINDOW = "digitcam"


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m realtime.cam", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="0", help="camera index, video, image, folder of images, or 'demo'")
    p.add_argument("--weights", type=Path, default=None, help=f"FCL weights (default: {DEFAULT_WEIGHTS})")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--width", type=int, help="camera capture width (and the demo's)")
    p.add_argument("--height", type=int, help="camera capture height (and the demo's)")
    p.add_argument("--record", type=Path, help="write the annotated video here (.mp4 or .avi)")
    p.add_argument("--jsonl", type=Path, help="write one JSON line per processed frame here")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = no limit)")
    p.add_argument("--roi", action="store_true", help="read only a centred box (half the frame each way)")
    p.add_argument("--headless", action="store_true", help="no window, even when a screen is available")
    p.add_argument("--threshold", type=float, default=DetectConfig.threshold,
                   help="how much darker than the paper ink must be, 0-1 (keys + / - adjust it)")
    p.add_argument("--light-on-dark", action="store_true", help="light writing on a dark surface")
    p.add_argument("--min-confidence", type=float, default=0.5, help="below this a digit shows as '?'")
    p.add_argument("--no-smooth", action="store_true", help="no smoothing of readings across frames")
    p.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where key s saves snapshots")
    p.add_argument("--quiet", action="store_true", help="headless: print only the summary")
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
        self.writer: cv2.VideoWriter | None = None
        self.jsonl = None
        self.frames = 0
        self.digits = 0
        self.unsure = 0
        self.soft_ms: deque[float] = deque(maxlen=10_000)  # bounded: a run may last for days
        self.truth_score = Score()
        self.last_lines: list[str] = []
        self.fps = 0.0
        self.debug = False
        self.paused = False
        self.last_shown: np.ndarray | None = None
        self.last_result: tuple[np.ndarray, object] | None = None
        self.on_frame = None  # called with each frame's software milliseconds (the soak test listens)

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def run(self) -> int:
        args = self.args
        if args.jsonl:
            self.jsonl = open(args.jsonl, "w", buffering=1)  # line-buffered: a crash loses no line
        grab = Grabber(self.source, log=self.log)
        limit = args.max_frames or (HEADLESS_DEMO_FRAMES if self.fallback_demo and not self.window else 0)
        t_start = time.perf_counter()
        t_prev = t_start
        try:
            while not limit or self.frames < limit:
                if self.paused:
                    if not self._keys(30):
                        break
                    continue
                frame = grab.next(timeout=0.1)
                if frame is None:
                    if grab.ended:
                        break
                    if self.window:  # nothing new (a lost camera): keep the window alive and say so
                        if self.last_shown is not None and grab.status:
                            shown = self.last_shown.copy()
                            cv2.putText(shown, grab.status, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                                        (40, 40, 230), 2, cv2.LINE_AA)
                            cv2.imshow(WINDOW, shown)
                        if not self._keys(1):
                            break
                    continue
                now = time.perf_counter()
                dt = now - t_prev
                t_prev = now
                self.fps = 1.0 / dt if self.fps == 0 else 0.9 * self.fps + 0.1 / max(dt, 1e-6)
                if not self._process(frame, grab.status):
                    break
        except KeyboardInterrupt:
            self.log("interrupted")
        finally:
            grab.close()
            if self.writer is not None:
                self.writer.release()
            if self.jsonl is not None:
                self.jsonl.close()
            if self.window:
                cv2.destroyAllWindows()
        return self._summary(time.perf_counter() - t_start)

    def _process(self, frame: Frame, status: str) -> bool:
        args = self.args
        image = frame.image
        if image.ndim == 2 or image.shape[2] != 3 or image.dtype != np.uint8:
            from realtime.detect import to_gray

            image = cv2.cvtColor(to_gray(image), cv2.COLOR_GRAY2BGR)
        roi = roi_box(image.shape) if args.roi else None
        view = image[roi[1] : roi[1] + roi[3], roi[0] : roi[0] + roi[2]] if roi else image
        result = self.reader.read(view, still=frame.still)
        if roi:
            for d in result.digits:
                d.box = (d.box[0] + roi[0], d.box[1] + roi[1], d.box[2], d.box[3])
        annotated = None
        if self.window or args.record:
            t0 = time.perf_counter()
            hud = Hud(self.fps, {k: v for k, v in result.ms.items()}, self.backend, self.reader.config.threshold,
                      status or ("paused" if self.paused else ""), roi, self.debug)
            annotated = annotate(image, result, hud, copy=False)  # the frame is ours: draw in place
            result.ms["draw"] = (time.perf_counter() - t0) * 1e3
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
        if not self.window and not args.quiet:
            if frame.still:
                print(f"{frame.source}: {' | '.join(result.lines) or '(no digits)'}", flush=True)
            elif result.lines != self.last_lines:
                print(f"frame {frame.index}: {' | '.join(result.lines) or '(no digits)'}", flush=True)
        self.last_lines = result.lines
        if args.record and annotated is not None:
            if self.writer is None:
                self.writer = open_writer(args.record, self.source.fps, annotated.shape)
            self.writer.write(annotated)
        if annotated is not None:
            self.last_shown = annotated
        if self.window and annotated is not None:
            if self.frames == 1:  # first frame: size the window to it (at most 1280 wide)
                h, w = annotated.shape[:2]
                k = min(1.0, 1280 / w)
                cv2.resizeWindow(WINDOW, int(w * k), int(h * k))
            cv2.imshow(WINDOW, annotated)
            return self._keys(1)
        if annotated is None:
            self.last_result = (image, result)
        return True

    def _keys(self, wait_ms: int) -> bool:
        """Handle one key press; False to quit."""
        key = cv2.waitKey(wait_ms) & 0xFF
        try:
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                return False  # the window was closed
        except cv2.error:
            return False
        if key in (ord("q"), 27):
            return False
        cfg = self.reader.config
        if key == ord(" "):
            self.paused = not self.paused
        elif key in (ord("+"), ord("=")):
            cfg.threshold = max(0.05, cfg.threshold - 0.02)  # more sensitive: fainter ink counts
        elif key in (ord("-"), ord("_")):
            cfg.threshold = min(0.9, cfg.threshold + 0.02)
        elif key == ord("d"):
            self.debug = not self.debug
        elif key == ord("s") and self.last_shown is not None:
            self.args.snapshot_dir.mkdir(parents=True, exist_ok=True)
            path = self.args.snapshot_dir / time.strftime("digitcam-%Y%m%d-%H%M%S.png")
            cv2.imwrite(str(path), self.last_shown)
            self.log(f"snapshot saved to {path}")
        return True

    def _summary(self, seconds: float) -> int:
        soft = np.array(self.soft_ms) if self.soft_ms else np.zeros(1)
        print(f"{self.frames} frames from {self.source.name} in {seconds:.1f} s ({self.frames / max(seconds, 1e-9):.1f}"
              f" fps average): {self.digits} digits read, {self.unsure} unsure ('?'); software time per frame "
              f"p50 {np.percentile(soft, 50):.2f} ms, p99 {np.percentile(soft, 99):.2f} ms (last {len(soft)} "
              f"frames); backend {self.backend}")
        if self.truth_score.truth:
            s = self.truth_score.summary()
            print(f"demo truth: {s['digits']} digits shown, {s['recall']} % found, {s['accuracy']} % read right, "
                  f"{s['extra']} extra boxes")
        if self.fallback_demo and not self.window and (self.last_result or self.last_shown is not None):
            path = Path("digitcam-demo.png")
            cv2.imwrite(str(path), self.last_shown if self.last_shown is not None else annotate(*self.last_result))
            print(f"the last annotated demo frame is in {path.resolve()}")
        if self.args.record and self.writer is not None:
            print(f"annotated video written to {self.args.record}")
        if self.args.jsonl:
            print(f"per-frame readings written to {self.args.jsonl}")
        problems = self.source.problems
        for p in problems:
            print(f"skipped: {p}", file=sys.stderr)
        return 1 if problems else 0


def open_writer(path: Path, fps: float, shape: tuple[int, ...]) -> cv2.VideoWriter:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (shape[1], shape[0]))
    if not writer.isOpened():
        raise SourceError(f"cannot write the recording {path} (folder not writable, or no codec for it)")
    return writer


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.threshold < 1:
        print("error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    window = not args.headless and display_available()
    try:
        config = DetectConfig(threshold=args.threshold, light_on_dark=args.light_on_dark)
        reader, info = build_reader(args.weights, args.device, config, args.min_confidence, not args.no_smooth)
    except (WeightsError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    fallback = False
    try:
        source = open_source(args.source, args.width, args.height, realtime=window)
    except SourceError as e:
        if parse_camera(args.source) is None:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{e}: showing the built-in demo instead (generated handwriting on paper).", file=sys.stderr)
        source = DemoSource(size=(args.width or 640, args.height or 480), realtime=window)
        fallback = True
    if window:
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as e:
            print(f"no window could be opened ({str(e).strip().splitlines()[-1]}); running headless", file=sys.stderr)
            window = False
    if not window:
        print(f"no screen: running headless on {source.name} with the {info['backend']} backend", file=sys.stderr)
    for out in (args.record, args.jsonl):
        folder = out.parent if out else None
        if folder is not None and not (folder.is_dir() and os.access(folder, os.W_OK)):
            print(f"error: cannot write {out}: {folder} is not a writable folder", file=sys.stderr)
            return 2
    try:
        return Loop(args, reader, info["backend"], source, window, fallback).run()
    except SourceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
