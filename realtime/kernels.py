"""The FCL as Triton kernels, for the `cuda-kernels` backend (classify.py).

At batch size 1 on a GPU the arithmetic is nothing and the time goes to launches and copies: cuBLAS,
softmax and two copy-engine transfers took ~30 us of GPU time per call on an H100 even captured in
a CUDA graph. Here the crops are read straight from pinned host memory (mapped into the GPU's
address space, so no copy engine: `_load_rows`), bias and ReLU happen in the kernel of each matrix
product, and the last kernel does the softmax and writes the probabilities straight back to pinned
host memory: four small kernels in one graph, ~17 us of GPU time on the same H100.

Triton comes with PyTorch's CUDA builds on Linux; where it is missing this module imports but
`available()` says False and the other backends are used.
"""

from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - CPU-only or non-Linux PyTorch
    triton = None

HIDDEN_BLOCK = 16  # hidden units per program: 500 / 16 -> 32 programs per row, so the weights stream in parallel
K_BLOCK = 512  # inputs per step of a program's loop: few steps, since each step waits for its loads


def available() -> bool:
    return triton is not None


if triton is not None:

    @triton.jit
    def _load_rows(src_ptr, dst_ptr, K, BLOCK: tl.constexpr):
        """dst[m] = src[m], a whole row per program: one round trip over PCIe when src is host memory."""
        m = tl.program_id(0)
        offs = tl.arange(0, BLOCK)
        tl.store(dst_ptr + m * K + offs, tl.load(src_ptr + m * K + offs, mask=offs < K), mask=offs < K)

    @triton.jit
    def _affine(x_ptr, w_ptr, b_ptr, m, K, N, offs_n, mask_n, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        """b[offs_n] + sum_k x[m, k] w[k, offs_n], with w (K, N) row-major: the part both layers share."""
        acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            mask_k = offs_k < K
            x = tl.load(x_ptr + m * K + offs_k, mask=mask_k, other=0.0)
            w = tl.load(w_ptr + offs_k[:, None] * N + offs_n[None, :], mask=mask_k[:, None] & mask_n[None, :],
                        other=0.0)
            acc += tl.sum(x[:, None] * w, axis=0)
        return acc + tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)

    @triton.jit
    def _dense_relu(x_ptr, w_ptr, b_ptr, out_ptr, K, N, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        """out[m, n] = relu(b[n] + sum_k x[m, k] w[k, n]); one program per (row m, block of n)."""
        m = tl.program_id(0)
        offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
        mask_n = offs_n < N
        z = _affine(x_ptr, w_ptr, b_ptr, m, K, N, offs_n, mask_n, BLOCK_N, BLOCK_K)
        tl.store(out_ptr + m * N + offs_n, tl.maximum(z, 0.0), mask=mask_n)

    @triton.jit
    def _dense_softmax(x_ptr, w_ptr, b_ptr, out_ptr, K, N, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        """out[m] = softmax(b + x[m] w); one program per row (N = 10 classes fit one block)."""
        m = tl.program_id(0)
        offs_n = tl.arange(0, BLOCK_N)
        mask_n = offs_n < N
        z = _affine(x_ptr, w_ptr, b_ptr, m, K, N, offs_n, mask_n, BLOCK_N, BLOCK_K)
        z = tl.where(mask_n, z, float("-inf"))
        e = tl.exp(z - tl.max(z, axis=0))
        tl.store(out_ptr + m * N + offs_n, e / tl.sum(e, axis=0), mask=mask_n)


def forward(x: torch.Tensor, layers: list[torch.Tensor], h1: torch.Tensor, h2: torch.Tensor,
            out: torch.Tensor, staged: torch.Tensor | None = None, k_block: int = K_BLOCK) -> None:
    """Probabilities of x (M, 784) into out (M, 10); h1, h2 (M, 500) are scratch. Weights are (in, out)
    with the input standardisation folded into fc1, as `classify.folded_weights` makes them. With `staged`
    (M, 784) on the device, x is first copied there in one pass; without it fc1 reads x in one step
    (x in host memory is then read once per program, but all at once rather than in a loop)."""
    w1, b1, w2, b2, w3, b3 = layers
    m, k = x.shape
    hidden = w1.shape[1]
    grid = (m, triton.cdiv(hidden, HIDDEN_BLOCK))
    if staged is not None:
        _load_rows[(m,)](x, staged, k, BLOCK=triton.next_power_of_2(k))
        _dense_relu[grid](staged, w1, b1, h1, k, hidden, BLOCK_N=HIDDEN_BLOCK, BLOCK_K=k_block, num_warps=4)
    else:
        _dense_relu[grid](x, w1, b1, h1, k, hidden, BLOCK_N=HIDDEN_BLOCK, BLOCK_K=triton.next_power_of_2(k),
                          num_warps=8)
    _dense_relu[grid](h1, w2, b2, h2, hidden, hidden, BLOCK_N=HIDDEN_BLOCK, BLOCK_K=k_block, num_warps=4)
    _dense_softmax[(m,)](h2, w3, b3, out, hidden, w3.shape[1], BLOCK_N=triton.next_power_of_2(w3.shape[1]),
                         BLOCK_K=triton.next_power_of_2(hidden), num_warps=8)
