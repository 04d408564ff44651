"""Stage 3, classify: the FCL on a batch of 28x28 crops, on the fastest backend this machine has.

All backends take ink images in [0, 1] (what normalise makes) and return softmax probabilities; they
agree to 1e-5 (tests check it). Which one is fastest depends on the machine, so `pick_backend` times
the available ones on a few crops at start-up and keeps the winner; the live window shows its name.
Only three earn their place here, by the benchmark's figures (README, "Speed"):

- `torch` (`cuda` on a GPU): the model as trained, eager, under `inference_mode`: the reference, and
  what runs where neither of the others can.
- `sparse`: the fastest on a CPU, 10-15x faster than torch eager at batch size 1. A compiled (numba)
  kernel that reads only the weight rows it needs: a digit covers ~20 % of the 784 pixels and ReLU
  zeroes about half of each hidden layer, and on a CPU the cost of a batch-1 MLP is reading 2.6 MB of
  weights, so skipping the rows of zero inputs is the speed-up. The input standardisation is folded
  into fc1 so that background pixels are exactly zero.
- `cuda-kernels`: the fastest on CUDA (an H100: 19-24 us a call, eager CUDA 144-241 us). The model as
  four Triton kernels (kernels.py) in a CUDA graph per batch-size bucket, reading the crops from and
  writing the probabilities to pinned host memory directly: one graph launch and one sync per call.

The variants that exist to show what each step gains (NumPy matmuls, cuBLAS in a CUDA graph with and
without fused layers and captured copies) live in the benchmark, `realtime/measure/bench.py`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch

from train.mnist_spec import CLASSES, MEAN, SIZE, STD, standardise
from train.model import FCL

try:  # numba is a dependency; without it (an unsupported Python, say) the numpy backend still works
    from numba import njit
except ImportError:  # pragma: no cover
    njit = None


SECOND_TURN = 8.0  # a second look turns a doubtful digit this many degrees each way ...
SECOND_SCALE = 0.1  # ... makes it this much smaller and larger, and shifts it a pixel each way


class Backend:
    """predict(images (N, 28, 28) float32 in [0, 1]) -> probabilities (N, 10) float32."""

    name = "?"

    def predict(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class TorchBackend(Backend):
    def __init__(self, state: dict[str, torch.Tensor], device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = FCL()
        self.model.load_state_dict(state)
        self.model.to(self.device).eval()
        self.name = "torch" if self.device.type == "cpu" else "cuda"

    @torch.inference_mode()
    def predict(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(self.device)
        return torch.softmax(self.model(standardise(x)), 1).cpu().numpy()


def looks(image: np.ndarray) -> np.ndarray:
    """A 28x28 image and eight small deformations of it (turned, scaled, shifted a pixel), (9, 28, 28)."""
    c = (SIZE - 1) / 2
    warps = [cv2.getRotationMatrix2D((c, c), a, 1.0) for a in (-SECOND_TURN, SECOND_TURN)]
    warps += [cv2.getRotationMatrix2D((c, c), 0.0, 1.0 + d) for d in (-SECOND_SCALE, SECOND_SCALE)]
    warps += [np.float32([[1, 0, dx], [0, 1, dy]]) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    image = np.asarray(image, np.float32)
    return np.stack([image] + [cv2.warpAffine(image, m, (SIZE, SIZE)) for m in warps])


def second_look(backend: Backend, images: np.ndarray) -> np.ndarray:
    """Probabilities averaged over each image and its small deformations (test-time augmentation).

    For digits the network reads in doubt: a clear digit whose crop came out a little off (a tail that
    shifts its centre, a stroke at an angle MNIST writers rarely used) is read surely in most of its
    deformations, while a shape that is no digit stays in doubt in all of them. One call for all.
    """
    stack = np.concatenate([looks(im) for im in images])
    n = len(stack) // len(images)
    return backend.predict(stack).reshape(len(images), n, CLASSES).mean(axis=1)


def folded_weights(state: dict[str, torch.Tensor]) -> tuple[np.ndarray, ...]:
    """Weights as (in, out) float32 arrays with the input standardisation folded into fc1."""
    w1 = state["fc1.weight"].double()
    b1 = state["fc1.bias"].double() - (MEAN / STD) * w1.sum(1)
    arrays = (w1.T / STD, b1, state["fc2.weight"].double().T, state["fc2.bias"], state["fc3.weight"].double().T,
              state["fc3.bias"])
    return tuple(np.ascontiguousarray(a.float().numpy()) for a in arrays)


def _jit(fn: Callable) -> Callable:
    """Compile with numba (lazily, at the first call; cached on disk) when it is installed."""
    return njit(cache=True, boundscheck=False, fastmath=True)(fn) if njit is not None else fn


@_jit
def _sparse_layer(x, w, b, out, idx):  # pragma: no cover - compiled by numba
    """out = b + sum over i with x[i] > 0 of x[i] * w[i]; four rows at a time to save loads/stores."""
    k = 0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            idx[k] = i
            k += 1
    n = w.shape[1]
    for j in range(n):
        out[j] = b[j]
    m = k - k % 4
    for p in range(0, m, 4):
        i0, i1, i2, i3 = idx[p], idx[p + 1], idx[p + 2], idx[p + 3]
        v0, v1, v2, v3 = x[i0], x[i1], x[i2], x[i3]
        for j in range(n):
            out[j] += v0 * w[i0, j] + v1 * w[i1, j] + v2 * w[i2, j] + v3 * w[i3, j]
    for p in range(m, k):
        i0 = idx[p]
        v0 = x[i0]
        for j in range(n):
            out[j] += v0 * w[i0, j]


@_jit
def _batch_layer(x, w, b, out):  # pragma: no cover - compiled by numba
    """Several samples at once: each weight row is read once, for every sample whose input is > 0."""
    for s in range(x.shape[0]):
        for j in range(w.shape[1]):
            out[s, j] = b[j]
    for i in range(x.shape[1]):
        for s in range(x.shape[0]):
            v = x[s, i]
            if v > 0.0:
                for j in range(w.shape[1]):
                    out[s, j] += v * w[i, j]


@_jit
def _softmax_rows(z):  # pragma: no cover - compiled by numba
    for s in range(z.shape[0]):
        top = z[s, 0]
        for j in range(1, z.shape[1]):
            top = max(top, z[s, j])
        total = 0.0
        for j in range(z.shape[1]):
            z[s, j] = np.exp(z[s, j] - top)
            total += z[s, j]
        for j in range(z.shape[1]):
            z[s, j] /= total


@_jit
def _sparse_mlp(x, w1, b1, w2, b2, w3, b3, h1, h2, out, idx, probs):  # pragma: no cover - compiled by numba
    """Logits into `out` (softmax of them too when `probs`); one sample: row blocks, several: shared rows."""
    if x.shape[0] == 1:
        _sparse_layer(x[0], w1, b1, h1[0], idx)  # only x > 0 contributes: background pixels cost nothing
        _sparse_layer(h1[0], w2, b2, h2[0], idx)  # and "x > 0" is the ReLU
        _sparse_layer(h2[0], w3, b3, out[0], idx)
    else:
        _batch_layer(x, w1, b1, h1)
        _batch_layer(h1, w2, b2, h2)
        _batch_layer(h2, w3, b3, out)
    if probs:
        _softmax_rows(out)


class SparseBackend(Backend):
    name = "sparse"

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        if njit is None:
            raise RuntimeError("the sparse backend needs numba")
        self.w1, self.b1, self.w2, self.b2, self.w3, self.b3 = folded_weights(state)
        self.idx = np.empty(max(self.w1.shape), np.int64)
        self._buffers: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.predict(np.zeros((1, SIZE, SIZE), np.float32))  # compile (or load the cache) now, not mid-frame
        self.predict(np.zeros((2, SIZE, SIZE), np.float32))

    def _run(self, images: np.ndarray, probs: bool) -> np.ndarray:
        x = np.ascontiguousarray(images, np.float32).reshape(len(images), -1)
        n = len(x)
        if n not in self._buffers:  # hidden activations, reused: no allocation per call
            hidden = self.w1.shape[1]
            self._buffers[n] = (np.empty((n, hidden), np.float32), np.empty((n, hidden), np.float32))
            if len(self._buffers) > 64:
                self._buffers.pop(next(iter(self._buffers)))
        h1, h2 = self._buffers[n]
        out = np.empty((n, CLASSES), np.float32)
        _sparse_mlp(x, self.w1, self.b1, self.w2, self.b2, self.w3, self.b3, h1, h2, out, self.idx, probs)
        return out

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._run(images, False)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self._run(images, True)


class GraphBackend(Backend):
    """A model captured as CUDA graphs, one per batch-size bucket (1, 2, 4, ... 256), that read the crops
    from and write the probabilities to pinned host memory: a call is one graph launch and one sync.

    At batch size 1 the GPU's arithmetic is nothing; what costs is launching a dozen small kernels and
    copies from Python, each a few microseconds. Subclasses say what a graph holds (`_capture`); the
    weights are (in, out) with the input standardisation folded into fc1 (`folded_weights`).
    """

    BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

    def __init__(self, state: dict[str, torch.Tensor], device: str = "cuda") -> None:
        self.device = torch.device(device)
        self.layers = [torch.from_numpy(a).to(self.device) for a in folded_weights(state)]
        top = self.BUCKETS[-1]
        self.host_in = torch.zeros((top, SIZE * SIZE), dtype=torch.float32).pin_memory()
        self.host_out = torch.zeros((top, CLASSES), dtype=torch.float32).pin_memory()
        self.host_in_np = self.host_in.numpy()
        self.host_out_np = self.host_out.numpy()
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.stream = torch.cuda.Stream(self.device)  # for capture, which cannot use the default stream
        self.replay_stream = torch.cuda.default_stream(self.device)
        self.predict(np.zeros((1, SIZE, SIZE), np.float32))

    def _capture(self, n: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        """A graph for batches of `n` rows of host_in to host_out; returns it and its device-side input/output."""
        raise NotImplementedError

    def _graph(self, n: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        if n not in self.graphs:
            self.graphs[n] = self._capture(n)
            # check that the graph really reads and writes host memory (some versions capture nothing)
            self.host_in_np[:n] = 0
            self.host_out_np[:n] = -1
            self.graphs[n][0].replay()
            self.replay_stream.synchronize()
            if not np.allclose(self.host_out_np[:n].sum(1), 1, atol=1e-4):
                del self.graphs[n]
                raise RuntimeError(f"the {self.name} backend's graph did not run on this machine")
        return self.graphs[n]

    def _replay(self, bucket: int) -> None:
        """Run the graph of `bucket` rows: host_in to host_out. On the default stream, which is current unless
        a caller changed it: entering a stream context costs ~10 us and even asking torch for the current
        stream ~5 us, as much as the graph itself."""
        self._graph(bucket)[0].replay()
        self.replay_stream.synchronize()

    def predict(self, images: np.ndarray) -> np.ndarray:
        n = len(images)
        if n == 0:
            return np.zeros((0, CLASSES), np.float32)
        if n > self.BUCKETS[-1]:
            return np.concatenate([self.predict(images[i : i + self.BUCKETS[-1]])
                                   for i in range(0, n, self.BUCKETS[-1])])
        bucket = next(b for b in self.BUCKETS if b >= n)
        self._graph(bucket)
        self.host_in_np[:n] = np.asarray(images, np.float32).reshape(n, -1)
        if bucket > n:
            self.host_in_np[n:bucket] = 0
        self._replay(bucket)
        return self.host_out_np[:n].copy()


class _HostArray:
    """Pinned host memory described as device memory (`__cuda_array_interface__`): with unified
    addressing a kernel can read and write it directly, without a copy-engine transfer."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.__cuda_array_interface__ = {"shape": tuple(tensor.shape), "typestr": "<f4",
                                         "data": (tensor.data_ptr(), False), "version": 3}


class KernelGraphBackend(GraphBackend):
    """The FCL as Triton kernels (kernels.py) in a CUDA graph, reading the crops from and writing the
    probabilities to pinned host memory directly (no copy engine). `staged` and `k_block` are the
    kernels' settings; the benchmark times the others."""

    name = "cuda-kernels"

    def __init__(self, state: dict[str, torch.Tensor], device: str = "cuda", staged: bool = True,
                 k_block: int | None = None) -> None:
        from realtime import kernels

        if not kernels.available():
            raise RuntimeError("the cuda-kernels backend needs Triton")
        self.kernels = kernels
        self.staged = staged
        self.k_block = k_block or kernels.K_BLOCK
        self.scratch: dict[int, tuple[torch.Tensor, ...]] = {}  # the graphs' buffers: alive as long as they are
        super().__init__(state, device)

    def _capture(self, n: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(_HostArray(self.host_in[:n]), device=self.device)
        out = torch.as_tensor(_HostArray(self.host_out[:n]), device=self.device)
        hidden = self.layers[0].shape[1]
        h1, h2 = (torch.zeros((n, hidden), device=self.device) for _ in range(2))
        staged = torch.zeros((n, SIZE * SIZE), device=self.device) if self.staged else None
        self.scratch[n] = (x, out, h1, h2, staged)
        with torch.cuda.stream(self.stream):
            for _ in range(2):  # compile and warm up on the side stream, as CUDA graph capture requires
                self.kernels.forward(x, self.layers, h1, h2, out, staged, self.k_block)
            self.stream.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                self.kernels.forward(x, self.layers, h1, h2, out, staged, self.k_block)
        return graph, x, out


def available_backends(state: dict[str, torch.Tensor], device: str = "auto", reference: bool = False
                       ) -> list[Backend]:
    """The backends worth timing here for `device` (auto: CPU and CUDA; cpu; cuda).

    `sparse` on a CPU and `cuda-kernels` on CUDA; torch eager, the reference, only where the fast one
    cannot run (no numba; no Triton) or when `reference` is asked for (the benchmark and the tests): it
    is 10x slower than sparse on every machine measured, and timing it at start-up costs about a second
    (its first call sets up oneDNN)."""
    found: list[Backend] = []
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise RuntimeError("--device cuda: no CUDA device is available (try --device auto)")
    if device in ("auto", "cpu"):
        if njit is not None:
            found.append(SparseBackend(state))
        if reference or njit is None:
            found.append(TorchBackend(state, "cpu"))
    if device in ("auto", "cuda") and cuda:
        try:
            found.append(KernelGraphBackend(state, "cuda"))
        except Exception as e:  # no Triton (Windows, macOS), or one too old for this GPU: eager CUDA remains
            print(f"note: the cuda-kernels backend is not available ({e.__class__.__name__}: {e})", file=sys.stderr)
        if reference or not any(b.name == "cuda-kernels" for b in found):
            found.append(TorchBackend(state, "cuda"))
    return found


def time_backend(backend: Backend, images: np.ndarray, repeats: int = 30) -> float:
    """Median seconds of one predict() call on `images`."""
    backend.predict(images)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        backend.predict(images)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def pick_backend(state: dict[str, torch.Tensor], device: str = "auto", sample: np.ndarray | None = None,
                 ) -> tuple[Backend, dict[str, float]]:
    """The fastest available backend on `sample` (default: 5 digit-like crops), with all timings in us."""
    if sample is None:
        sample = sample_crops(5)
    backends = available_backends(state, device)
    timings = {b.name: time_backend(b, sample) * 1e6 for b in backends}
    best = min(backends, key=lambda b: timings[b.name])
    return best, timings


def sample_crops(n: int, seed: int = 0) -> np.ndarray:
    """n MNIST-like 28x28 crops (strokes drawn in a 20x20 box), for timing without a data set."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((n, SIZE, SIZE), np.float32)
    for i in range(n):
        img = np.zeros((SIZE * 4, SIZE * 4), np.float32)
        pts = (rng.uniform(16, 96, (5, 2))).astype(np.int32)
        cv2.polylines(img, [pts], False, 1.0, 8, cv2.LINE_AA)
        out[i] = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return np.clip(out * 1.5, 0, 1)
