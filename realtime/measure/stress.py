"""`python -m realtime.measure.stress`: many hostile frames through the Reader; crashes must be 0.

    python -m realtime.measure.stress --frames 10000

Every frame a capture could hand over, drawn at random: grey, BGR, BGRA; 8-bit, 16-bit, float (with
NaN and infinities); from 1x1 to 4000x3000; all black, all white, pure noise, a checkerboard, a page
of printed text, stripes, and real generated sheets of handwriting. Prints the number of crashes
(with the first few tracebacks) and the slowest frames with their kind and size.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

import cv2
import numpy as np


def hostile_frame(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    kind = rng.choice(["noise", "black", "white", "checker", "text", "stripes", "scene", "tiny", "huge", "float",
                       "uint16"])
    h, w = int(rng.integers(1, 720)), int(rng.integers(1, 1280))
    ch = int(rng.choice([1, 3, 4]))
    shape = (h, w) if ch == 1 else (h, w, ch)
    if kind == "noise":
        return kind, rng.integers(0, 256, shape, dtype=np.uint8)
    if kind == "black":
        return kind, np.zeros(shape, np.uint8)
    if kind == "white":
        return kind, np.full(shape, 255, np.uint8)
    if kind == "checker":
        cell = int(rng.integers(1, 40))
        board = ((np.indices((h, w)) // cell).sum(0) % 2 * 255).astype(np.uint8)
        return kind, board
    if kind == "text":
        page = np.full((h, w, 3), 230, np.uint8)
        for row in range(0, h, int(rng.integers(8, 40))):
            cv2.putText(page, "0123456789 text " * 8, (0, row), cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.2, 1.5)),
                        (20, 20, 20), 1)
        return kind, page
    if kind == "stripes":
        img = np.zeros((h, w), np.uint8)
        img[:, :: int(rng.integers(2, 30))] = 255
        return kind, img
    if kind == "scene":
        from realtime.measure.scene import FontDigits, make_scene

        return kind, make_scene(rng, FontDigits()).image
    if kind == "tiny":
        return kind, rng.integers(0, 256, (int(rng.integers(1, 4)), int(rng.integers(1, 4)), 3), dtype=np.uint8)
    if kind == "huge":
        return kind, rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    if kind == "float":
        img = rng.normal(0.5, 2.0, shape).astype(np.float32)
        img.flat[rng.integers(0, img.size, 10)] = np.nan
        img.flat[rng.integers(0, img.size, 10)] = np.inf
        return kind, img
    return kind, rng.integers(0, 65536, shape, dtype=np.uint16)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m realtime.measure.stress", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default=None)
    args = p.parse_args(argv)
    from realtime.reader import build_reader

    cv2.setNumThreads(1)
    reader, info = build_reader(args.weights, "cpu")
    rng = np.random.default_rng(args.seed)
    crashes: list[str] = []
    worst: list[tuple[float, str, tuple]] = []
    times = []
    for i in range(args.frames):
        kind, frame = hostile_frame(rng)
        t = time.perf_counter()
        try:
            reader.read(frame, still=bool(rng.integers(2)))
        except Exception:
            crashes.append(f"frame {i} ({kind}, {frame.dtype}, {frame.shape}):\n{traceback.format_exc()}")
        ms = (time.perf_counter() - t) * 1e3
        times.append(ms)
        worst.append((ms, kind, frame.shape))
        worst = sorted(worst, reverse=True)[:5]
    print(f"{args.frames} hostile frames, backend {info['backend']}: {len(crashes)} crashes; frame time p50 "
          f"{np.percentile(times, 50):.2f} ms, p99 {np.percentile(times, 99):.2f} ms, worst {worst[0][0]:.1f} ms")
    for ms, kind, shape in worst:
        print(f"  {ms:8.1f} ms  {kind:8s} {shape}")
    for c in crashes[:3]:
        print(c, file=sys.stderr)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
