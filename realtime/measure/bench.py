"""`python -m realtime.measure.bench`: per-frame latency of the live pipeline, per stage and per backend.

    python -m realtime.measure.bench                 # table
    python -m realtime.measure.bench --json          # the same figures for machines

Runs on a fixed set of generated 640x480 frames with 1, 5 and 10 digits, and 1280x720 and 1920x1080
frames with 5 (the demo's pen, no data set needed; a video, so the frames share the first look at
the writing as the live loop's do) and reports p50/p99 in milliseconds for each stage (detect =
threshold + contours, normalise, classify, track, draw) and for the whole frame. Then batch-1 MLP
latency in microseconds for every backend this machine has, each checked against torch eager (max
difference of the probabilities): the app's own (classify.py) and the variants that exist only to be
compared, defined here (NumPy matmuls; cuBLAS in CUDA graphs with and without fused layers and
captured copies; the Triton kernels with other settings). Last, a naive pipeline of the tutorial
kind, measured in the same run on the same 5-digit frames: Otsu threshold, each bounding box through
torchvision's ToTensor/Resize(28x28)/Normalize and one eager model call per crop (torchvision: the
`train` extra). The ratio of the two is the speed-up. The machine is shared and noisy: compare
figures from one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np
import torch

from realtime.classify import (
    Backend,
    GraphBackend,
    KernelGraphBackend,
    TorchBackend,
    available_backends,
    folded_weights,
    sample_crops,
)
from realtime.draw import Hud, annotate
from realtime.measure.scene import FontDigits, make_video
from realtime.pipeline import Reader
from train.checkpoint import load_weights
from train.extras import missing, require
from train.mnist_spec import MEAN, SIZE, STD, standardise
from train.model import FCL


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


class NumpyBackend(Backend):
    """Three BLAS matmuls on the folded weights: what NumPy alone reaches (4-5x slower than sparse)."""

    name = "numpy"

    def __init__(self, state: dict) -> None:
        self.w1, self.b1, self.w2, self.b2, self.w3, self.b3 = folded_weights(state)

    def predict(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float32).reshape(len(images), -1)
        h = np.maximum(x @ self.w1 + self.b1, 0)
        h = np.maximum(h @ self.w2 + self.b2, 0)
        return softmax(h @ self.w3 + self.b3)


class CublasGraphBackend(GraphBackend):
    """cuBLAS in CUDA graphs, to show what each step towards `cuda-kernels` gains:

    - `fused`: the input standardisation folded into fc1's weights and each hidden layer one cuBLASLt
      call with bias and ReLU in its epilogue (`torch._addmm_activation`) where that exists; else the
      model as trained;
    - `copies_in_graph`: the copy of the crops from pinned host memory and of the probabilities back
      captured in the graph too; where the installed PyTorch refuses to capture a copy, they run around
      the graph instead (`copies_in_graph` then reads False).
    """

    def __init__(self, state: dict, device: str = "cuda", fused: bool = True, copies_in_graph: bool = True) -> None:
        self.fused, self.copies_in_graph = fused, copies_in_graph
        self.addmm_relu = getattr(torch, "_addmm_activation", None)
        self.name = "cuda-graph" + ("" if fused else " unfused") + ("" if copies_in_graph else " copies outside")
        if not fused:
            self.model = FCL()
            self.model.load_state_dict(state)
            self.model.to(device).eval()
        super().__init__(state, device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            return torch.softmax(self.model(standardise(x)), 1)
        w1, b1, w2, b2, w3, b3 = self.layers
        if self.addmm_relu is not None:
            h = self.addmm_relu(b1, x, w1)
            h = self.addmm_relu(b2, h, w2)
        else:
            h = torch.relu(torch.addmm(b1, x, w1))
            h = torch.relu(torch.addmm(b2, h, w2))
        return torch.softmax(torch.addmm(b3, h, w3), 1)

    def _capture(self, n: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_in = torch.zeros((n, SIZE * SIZE), device=self.device)
        with torch.inference_mode(), torch.cuda.stream(self.stream):
            for _ in range(3):  # warm up on the side stream, as CUDA graph capture requires
                self._forward(static_in)
            self.stream.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                if self.copies_in_graph:
                    static_in.copy_(self.host_in[:n], non_blocking=True)
                static_out = self._forward(static_in)
                if self.copies_in_graph:
                    self.host_out[:n].copy_(static_out, non_blocking=True)
        return graph, static_in, static_out

    def _graph(self, n: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        if self.copies_in_graph:
            try:
                return super()._graph(n)  # captures and checks that the copies in it move data
            except RuntimeError:
                self.copies_in_graph = False
                self.graphs.clear()
                torch.cuda.synchronize(self.device)
        if n not in self.graphs:
            self.graphs[n] = self._capture(n)
        return self.graphs[n]

    def _replay(self, bucket: int) -> None:
        if self.copies_in_graph:
            super()._replay(bucket)
            return
        graph, static_in, static_out = self._graph(bucket)
        static_in.copy_(self.host_in[:bucket], non_blocking=True)
        graph.replay()
        self.host_out[:bucket].copy_(static_out, non_blocking=True)
        self.replay_stream.synchronize()


def compared_backends(state: dict, device: str) -> list[Backend]:
    """The app's backends for `device`, and the variants that exist only to be compared with them."""
    backends = available_backends(state, device, reference=True)
    if device in ("auto", "cpu"):
        backends.insert(0, NumpyBackend(state))
    if device != "cpu" and torch.cuda.is_available():  # what each step of the CUDA graph gains
        backends += [CublasGraphBackend(state, fused=f, copies_in_graph=c) for f, c in
                     ((True, True), (True, False), (False, True), (False, False))]
        if any(b.name == "cuda-kernels" for b in backends):
            for variant, label in ((KernelGraphBackend(state, staged=False), "unstaged input"),
                                   (KernelGraphBackend(state, k_block=256), "256-input steps")):
                variant.name = f"cuda-kernels {label}"
                backends.append(variant)
    return backends


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 4), "p99": round(float(np.percentile(a, 99)), 4)}


def make_frames(digits: int, count: int, seed: int, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """`count` frames of video: sheets with `digits` digits, ten frames of a drifting camera each, at
    `size` (the digits scale with the frame, as a sheet held up to a webcam of that resolution would)."""
    rng = np.random.default_rng(seed + digits)
    video = make_video(rng, FontDigits(), count, digits, size=size, pages=max(1, count // 10),
                       digit_height=(0.1, 0.2))
    return [sc.image for sc in video]


SIZES = ((1280, 720), (1920, 1080))  # frame sizes measured besides 640x480, with 5 digits


def bench_pipeline(reader: Reader, frames: list[np.ndarray], repeat: int) -> dict[str, dict[str, float]]:
    stages: dict[str, list[float]] = {k: [] for k in ("detect", "normalise", "classify", "track", "draw", "frame")}
    for _ in range(repeat):
        for frame in frames:
            f = frame.copy()  # the live loop draws on the frame it owns; so does this
            t0 = time.perf_counter()
            res = reader.read(f)
            t1 = time.perf_counter()
            annotate(f, res, Hud(backend=reader.backend.name), copy=False)
            t2 = time.perf_counter()
            for k in ("detect", "normalise", "classify", "track"):
                stages[k].append(res.ms[k])
            stages["draw"].append((t2 - t1) * 1e3)
            stages["frame"].append((t2 - t0) * 1e3)
    return {k: percentiles(v) for k, v in stages.items()}


def bench_backends(state: dict, device: str, calls: int) -> dict[str, dict]:
    crops = sample_crops(64, seed=1)
    backends = compared_backends(state, device)
    reference = TorchBackend(state, "cpu").predict(crops)  # the reference: torch eager on the CPU
    out = {}
    for b in backends:
        diff = float(np.abs(b.predict(crops) - reference).max())
        for i in range(20):
            b.predict(crops[i : i + 1])
        times = []
        for i in range(calls):
            x = crops[i % 64 : i % 64 + 1]
            t = time.perf_counter()
            b.predict(x)
            times.append((time.perf_counter() - t) * 1e6)
        five = crops[:5]
        one_call, per_digit = [], []
        for _ in range(max(50, calls // 10)):
            t = time.perf_counter()
            b.predict(five)
            one_call.append((time.perf_counter() - t) * 1e6)
            t = time.perf_counter()
            for k in range(5):
                b.predict(five[k : k + 1])
            per_digit.append((time.perf_counter() - t) * 1e6)
        if isinstance(b, CublasGraphBackend) and "copies outside" not in b.name and not b.copies_in_graph:
            b.name += " [copies fell back outside the graph]"
        out[b.name] = {**percentiles(times), "max_prob_diff_vs_eager": diff,
                       "5_digits_one_call_us": percentiles(one_call),
                       "5_digits_one_call_each_us": percentiles(per_digit)}
    return out


class NaiveReader:
    """The pipeline most public demos use, for comparison: a global Otsu threshold, outer contours,
    each bounding box stretched to 28x28 by torchvision's ToTensor/Resize/Normalize, one eager model
    call per crop. Same weights as ours."""

    def __init__(self, state: dict) -> None:
        require("the tutorial-style comparison", "torchvision")
        from torchvision import transforms

        self.model = FCL()
        self.model.load_state_dict(state)
        self.model.eval()
        self.tf = transforms.Compose([transforms.ToTensor(), transforms.Resize((28, 28), antialias=True),
                                      transforms.Normalize((MEAN,), (STD,))])

    @torch.inference_mode()
    def read(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], int]]:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        _, binary = cv2.threshold(cv2.GaussianBlur(gray, (5, 5), 0), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out = []
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            if h < 0.02 * gray.shape[0] or w * h < 100:  # the usual "area > N" filter
                continue
            x_in = self.tf(binary[y : y + h, x : x + w]).unsqueeze(0)
            out.append(((x, y, w, h), int(self.model(x_in).argmax(1))))
        return out


def bench_naive(state: dict, frames: list[np.ndarray], repeat: int) -> dict[str, float]:
    """Per-frame time of NaiveReader plus drawing its boxes."""
    naive = NaiveReader(state)
    times = []
    for _ in range(repeat):
        for f in frames:
            f = f.copy()
            t0 = time.perf_counter()
            for (x, y, w, h), d in naive.read(f):
                cv2.rectangle(f, (x, y), (x + w, y + h), (0, 255, 0), 2)
                cv2.putText(f, str(d), (x, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 1)
            times.append((time.perf_counter() - t0) * 1e3)
    return percentiles(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m realtime.measure.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--frames", type=int, default=40, help="frames per digit count")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--calls", type=int, default=3000, help="batch-1 calls per backend")
    p.add_argument("--threads", type=int, default=1, help="OpenCV and torch CPU threads (1 = one core)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    from realtime.reader import DEFAULT_WEIGHTS, build_reader

    state = load_weights(args.weights or DEFAULT_WEIGHTS)
    reader, info = build_reader(args.weights, args.device)
    result: dict = {"backend": info["backend"], "threads": args.threads, "pipeline_ms": {}}
    frames_by_n = {n: make_frames(n, args.frames, 7) for n in (1, 5, 10)}
    for n, frames in frames_by_n.items():
        reader.tracker.reset()
        result["pipeline_ms"][f"{n} digits"] = bench_pipeline(reader, frames, args.repeat)
    for w, h in SIZES:
        reader.tracker.reset()
        frames = make_frames(5, args.frames, 7, (w, h))
        result["pipeline_ms"][f"5 @{w}x{h}"] = bench_pipeline(reader, frames, args.repeat)
    result["batch1_us"] = bench_backends(state, args.device, args.calls)
    ours = result["pipeline_ms"]["5 digits"]["frame"]
    naive = None if missing("torchvision") else bench_naive(state, [f.copy() for f in frames_by_n[5]], args.repeat)
    if naive is not None:
        result["naive_5_digits_ms"] = naive
        result["speedup_vs_naive_p50"] = round(naive["p50"] / ours["p50"], 2)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"pipeline per frame (640x480 unless named), backend {result['backend']}, {args.threads} thread(s); "
          "ms p50 / p99")
    cols = ["detect", "normalise", "classify", "track", "draw", "frame"]
    print(f"{'':14s}" + "".join(f"{c:>16s}" for c in cols))
    for name, st in result["pipeline_ms"].items():
        print(f"{name:14s}" + "".join(f"{st[c]['p50']:8.3f}/{st[c]['p99']:<7.3f}" for c in cols))
    print("\nMLP latency in us, p50 / p99: batch 1 (max |prob - eager|); 5 digits in one call; 5 calls of 1")
    for name, r in result["batch1_us"].items():
        one, each = r["5_digits_one_call_us"], r["5_digits_one_call_each_us"]
        print(f"  {name:12s} {r['p50']:9.1f} / {r['p99']:<9.1f} ({r['max_prob_diff_vs_eager']:.1e})   "
              f"{one['p50']:8.1f} / {one['p99']:<8.1f}   {each['p50']:8.1f} / {each['p99']:<8.1f}")
    if naive is None:
        print('\nthe tutorial-style comparison needs torchvision: pip install "digitcam[train]"')
    else:
        print(f"\nnaive tutorial pipeline, 5 digits: p50 {naive['p50']:.3f} ms, p99 {naive['p99']:.3f} ms; "
              f"ours p50 {ours['p50']:.3f} ms: {result['speedup_vs_naive_p50']}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
