"""Compiled image kernels for making 28x28 digits: area and bilinear resizing, MNIST-style fitting.

They do what `cv2.resize(..., INTER_AREA / INTER_LINEAR)` and a centre-of-mass paste do, but as one
compiled call per digit: on a small crop, the fixed cost of each OpenCV/NumPy call from Python is
larger than the work, and a frame has several digits. Tests check them against OpenCV.
"""

from __future__ import annotations

import math

import numpy as np

try:  # numba is a dependency; without it the same code runs (slowly) as Python
    from numba import njit
except ImportError:  # pragma: no cover
    njit = None


def jit(fn):
    """Compile with numba (at the first call, cached on disk) when it is installed."""
    return njit(cache=True, boundscheck=False, fastmath=False)(fn) if njit is not None else fn


@jit
def _area_weights(n_in, n_out):  # pragma: no cover - compiled
    """For each output index: first input index, count, and the overlap weights (summing to 1)."""
    scale = n_in / n_out
    span = int(math.ceil(scale)) + 1
    first = np.zeros(n_out, np.int64)
    count = np.zeros(n_out, np.int64)
    weight = np.zeros((n_out, span), np.float32)
    for o in range(n_out):
        a = o * scale
        b = min(a + scale, float(n_in))
        i0 = int(math.floor(a))
        first[o] = i0
        k = 0
        i = i0
        while i < b and k < span:
            wgt = min(i + 1.0, b) - max(float(i), a)
            if wgt > 1e-9:
                weight[o, k] = wgt / scale
                k += 1
            elif k == 0:
                first[o] = i + 1
            i += 1
        count[o] = k
    return first, count, weight


@jit
def linear_axis(start, n, scale, n_in):  # pragma: no cover - compiled
    """Bilinear sampling along one axis as OpenCV does it (pixel centres aligned, edges clamped).

    For output pixels start..start+n, at `scale` input pixels per output pixel: the two input
    neighbours of each and the weight of the second.
    """
    i0 = np.empty(n, np.int64)
    i1 = np.empty(n, np.int64)
    a = np.empty(n, np.float32)
    for k in range(n):
        pos = (start + k + 0.5) * scale - 0.5
        i = int(math.floor(pos))
        t = pos - i
        if i < 0:
            i, t = 0, 0.0
        if i >= n_in - 1:
            i, t = n_in - 1, 0.0
        i0[k], i1[k], a[k] = i, min(i + 1, n_in - 1), t
    return i0, i1, a


@jit
def _linear_weights(n_in, n_out):  # pragma: no cover - compiled
    """linear_axis over a whole axis, in the (first, count, weights) form resize() takes."""
    first, _, a = linear_axis(0, n_out, n_in / n_out, n_in)
    count = np.where(a == 0.0, 1, 2).astype(np.int64)
    weight = np.empty((n_out, 2), np.float32)
    weight[:, 0] = 1.0 - a
    weight[:, 1] = a
    return first, count, weight


@jit
def resize(src, nh, nw):  # pragma: no cover - compiled
    """Resize a float32 image: area averaging along an axis that shrinks, bilinear along one that grows."""
    h, w = src.shape
    fy, cy, wy = _area_weights(h, nh) if nh < h else _linear_weights(h, nh)
    fx, cx, wx = _area_weights(w, nw) if nw < w else _linear_weights(w, nw)
    tmp = np.zeros((nh, w), np.float32)
    for o in range(nh):
        for k in range(cy[o]):
            wt = wy[o, k]
            row = fy[o] + k
            for x in range(w):
                tmp[o, x] += wt * src[row, x]
    out = np.zeros((nh, nw), np.float32)
    for o in range(nw):
        for k in range(cx[o]):
            wt = wx[o, k]
            col = fx[o] + k
            for y in range(nh):
                out[y, o] += wt * tmp[y, col]
    return out


@jit
def fit_centre(ink, fit, size, centre, on):  # pragma: no cover - compiled
    """The MNIST format: bounding box of ink > `on`, longer side to `fit` px, centre of mass at `centre`."""
    h, w = ink.shape
    out = np.zeros((size, size), np.float32)
    y0, y1, x0, x1 = h, -1, w, -1
    for y in range(h):
        for x in range(w):
            if ink[y, x] > on:
                y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
    if y1 < 0:
        return out
    bh, bw = y1 - y0 + 1, x1 - x0 + 1
    s = fit / max(bh, bw)
    nh = max(1, min(fit, int(math.floor(bh * s + 0.5))))
    nw = max(1, min(fit, int(math.floor(bw * s + 0.5))))
    small = resize(np.ascontiguousarray(ink[y0 : y1 + 1, x0 : x1 + 1]), nh, nw)
    total, mx, my = 0.0, 0.0, 0.0
    for y in range(nh):
        for x in range(nw):
            v = small[y, x]
            total += v
            mx += v * x
            my += v * y
    if total <= 1e-6:
        return out
    ox = int(math.floor(centre - mx / total + 0.5))
    oy = int(math.floor(centre - my / total + 0.5))
    ox = min(max(ox, 0), size - nw)
    oy = min(max(oy, 0), size - nh)
    out[oy : oy + nh, ox : ox + nw] = small
    return out
