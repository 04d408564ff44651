"""`python -m realtime.measure.soak`: the headless loop for a long run; memory and latency must not drift.

    python -m realtime.measure.soak --frames 20000

Writes a generated video (sheets of handwriting, a drifting camera) and plays it in a loop through the
real app loop (the Loop of realtime.cam, headless, writing JSON lines), then reports resident memory
after the first 1000 frames and at the end (growth must stay within 5 %), and the software time per
frame (p50 and p99) over the first and the last 1000 frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from realtime.capture import Frame, Source, VideoSource


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class LoopingVideo(Source):
    """A video file played again and again, up to `frames` frames."""

    def __init__(self, path: Path, frames: int) -> None:
        self.path, self.frames, self.count = path, frames, 0
        self.video = VideoSource(path)
        self.name = f"{path.name} (looped)"

    def read(self) -> Frame | None:
        if self.count >= self.frames:
            return None
        frame = self.video.read()
        if frame is None:
            self.video.close()
            self.video = VideoSource(self.path)
            frame = self.video.read()
        frame.index = self.count
        self.count += 1
        return frame

    def close(self) -> None:
        self.video.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m realtime.measure.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=20_000)
    p.add_argument("--video-frames", type=int, default=600, help="length of the generated clip that is looped")
    p.add_argument("--weights", default=None)
    args = p.parse_args(argv)
    from realtime.cam import Loop, parser
    from realtime.measure.scene import FontDigits, make_video, write_video
    from realtime.reader import build_reader

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "soak.avi"
        write_video(clip, make_video(np.random.default_rng(0), FontDigits(), args.video_frames,
                                     pages=max(1, args.video_frames // 60)))
        cam_args = parser().parse_args(["--headless", "--quiet", "--jsonl", str(Path(tmp) / "soak.jsonl")])
        reader, info = build_reader(args.weights, "cpu")
        loop = Loop(cam_args, reader, info["backend"], LoopingVideo(clip, args.frames), window=False,
                    fallback_demo=False)
        times: list[float] = []
        memory = {}

        def on_frame(ms: float) -> None:
            n = len(times)
            if n < 1000 or n >= args.frames - 1000:
                times.append(ms)
            else:
                times.append(0.0)  # placeholder keeps the index; the middle is not reported
            if n + 1 == min(1000, args.frames):
                memory["start"] = rss_mb()

        loop.on_frame = on_frame
        code = loop.run()
        memory["end"] = rss_mb()
    first = np.array(times[:1000])
    last = np.array(times[-1000:])
    growth = 100 * (memory["end"] - memory["start"]) / memory["start"]
    print(f"soak: {len(times)} frames; resident memory {memory['start']:.1f} MB after 1000 frames, "
          f"{memory['end']:.1f} MB at the end ({growth:+.2f} %)")
    print(f"  first 1000 frames: p50 {np.percentile(first, 50):.2f} ms, p99 {np.percentile(first, 99):.2f} ms")
    print(f"  last 1000 frames:  p50 {np.percentile(last, 50):.2f} ms, p99 {np.percentile(last, 99):.2f} ms")
    return 0 if code == 0 and growth <= 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
