"""Backends: all agree with torch eager to 1e-5; the CUDA ones run when there is a GPU (skipped here
without one; they ran on lent H100 and H200 machines)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import realtime.classify as classify
from realtime.classify import (
    KernelGraphBackend,
    SparseBackend,
    TorchBackend,
    available_backends,
    pick_backend,
    sample_crops,
)
from realtime.measure.bench import CublasGraphBackend, NumpyBackend
from train.trainer import to_ink


def crops(mnist, n=300):
    return np.concatenate([to_ink(mnist.test_x[:n]).numpy()[:, 0], sample_crops(20)])


def test_cpu_backends_agree_with_eager(state, mnist):
    x = crops(mnist)
    ref = TorchBackend(state).predict(x)
    for backend in (NumpyBackend(state), SparseBackend(state)):
        p = backend.predict(x)
        assert p.shape == (len(x), 10) and np.abs(p - ref).max() < 1e-5, backend.name
        assert (p.argmax(1) == ref.argmax(1)).all(), backend.name
        assert np.abs(backend.predict(x[:1]) - ref[:1]).max() < 1e-5  # batch size 1 too


def test_sparse_logits_equal_eager_within_1e_5_relative(state, mnist):
    x = crops(mnist, 100)
    with torch.inference_mode():
        from train.mnist_spec import standardise

        ref = TorchBackend(state).model(standardise(torch.from_numpy(x))).numpy()
    got = SparseBackend(state).logits(x)
    assert np.allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_pick_backend_times_the_fast_backends_and_falls_back_to_the_reference(state, monkeypatch):
    best, timings = pick_backend(state, "cpu")
    assert set(timings) == {"sparse"} and best.name == "sparse"  # torch eager: 10x slower, 1 s to time
    assert {b.name for b in available_backends(state, "cpu", reference=True)} == {"sparse", "torch"}
    monkeypatch.setattr(classify, "njit", None)  # no numba (an unsupported Python): the reference runs
    best, timings = pick_backend(state, "cpu")
    assert set(timings) == {"torch"} and best.name == "torch"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_backends_agree_with_eager(state, mnist):
    x = crops(mnist)
    ref = TorchBackend(state).predict(x)
    backends = [TorchBackend(state, "cuda")]
    backends += [CublasGraphBackend(state, fused=f, copies_in_graph=c) for f in (True, False) for c in (True, False)]
    backends += [KernelGraphBackend(state, staged=s) for s in (True, False)]
    for backend in backends:
        for batch in (x[:1], x[:5], x[:37], x, x[:1]):
            p = backend.predict(batch)
            assert np.abs(p - ref[: len(batch)]).max() < 1e-5, (backend.name, len(batch))
    print("copies in graph:", [getattr(b, "copies_in_graph", None) for b in backends])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_pick_backend_on_cuda_times_cuda_backends(state):
    best, timings = pick_backend(state, "cuda")
    assert set(timings) == {"cuda-kernels"} and best.name == "cuda-kernels"
    assert {b.name for b in available_backends(state, "cuda", reference=True)} == {"cuda", "cuda-kernels"}
