"""Training augmentation for digits that will come from a camera, done on whole batches of tensors.

A camera crop differs from an MNIST digit in pose (rotation, slant, size, aspect, a pixel or two of
centring), in shape (other writers), in stroke (a marker is thicker than a pen, a pencil thinner) and
in image quality (focus, sensor noise, a digit seen only a dozen pixels tall). Each of those has an
operation here. Pose and shape are one `grid_sample` (affine + a smooth random displacement field,
i.e. elastic distortion); stroke width is a fractional grey-level dilation or erosion; then blur, low
resolution, gain and noise. Everything runs on the batch's device from one `torch.Generator`, so a
run is reproducible and an epoch stays a few seconds on a CPU.

The same operations, with fixed strengths, make the corruptions `python -m train.evaluate` reports.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from train.mnist_spec import SIZE


@dataclass
class AugmentConfig:
    rotate_deg: float = 15.0  # uniform in +-rotate_deg
    shear: float = 0.3  # x-shear factor, uniform in +-shear
    scale: tuple[float, float] = (0.80, 1.12)  # overall size
    aspect: float = 0.20  # log-uniform aspect change in +-aspect
    shift_px: float = 2.0  # uniform in +-shift_px
    elastic_px: float = 1.2  # displacement amplitude, uniform in [0, elastic_px]
    elastic_grid: int = 5  # control points per side of the displacement field
    thick: float = 1.0  # dilation weight, uniform in [0, thick]
    thin: float = 0.6  # erosion weight, uniform in [0, thin]
    stroke_p: float = 0.6  # probability of changing the stroke at all
    blur_p: float = 0.25
    noise_p: float = 0.2
    noise_std: float = 0.08
    gain_p: float = 0.2
    gain: tuple[float, float] = (0.65, 1.0)
    lowres_p: float = 0.15  # a digit seen small (a few pixels tall far from the camera), enlarged to 28x28
    lowres: tuple[float, float] = (0.4, 0.75)  # the share of its size it was seen at

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (hi - lo) + lo


def _base_grid(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in grid_sample's [-1, 1] convention (align_corners=False)."""
    c = (torch.arange(SIZE, device=device, dtype=torch.float32) * 2 + 1) / SIZE - 1
    return c.view(1, 1, SIZE).expand(1, SIZE, SIZE), c.view(1, SIZE, 1).expand(1, SIZE, SIZE)


def affine_grid(
    rot: torch.Tensor, shear: torch.Tensor, scale: torch.Tensor, aspect: torch.Tensor,
    shift_x: torch.Tensor, shift_y: torch.Tensor,
) -> torch.Tensor:
    """Sampling grid (B, 28, 28, 2) for a per-sample forward transform; angles in radians, shift in px.

    The forward map is A = R(rot) @ Shear(shear) @ diag(scale*aspect, scale/aspect), then the shift;
    grid_sample needs the inverse (where each output pixel comes from), written out here per element
    because batched 2x2 algebra through bmm/affine_grid costs more than the whole rest of the batch.
    """
    c, s = torch.cos(rot), torch.sin(rot)
    sx, sy = scale * aspect, scale / aspect
    a00, a01, a10, a11 = c * sx, (c * shear - s) * sy, s * sx, (s * shear + c) * sy
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    tx, ty = shift_x * (2.0 / SIZE), shift_y * (2.0 / SIZE)
    col = lambda t: t.view(-1, 1, 1)  # noqa: E731
    gx, gy = _base_grid(rot.device)
    x, y = gx - col(tx), gy - col(ty)
    return torch.stack([col(i00) * x + col(i01) * y, col(i10) * x + col(i11) * y], -1)


def _neighbours(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """x and its four 4-neighbour shifts (edges padded with x itself)."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return x, p[..., 1:-1, :-2], p[..., 1:-1, 2:], p[..., :-2, 1:-1], p[..., 2:, 1:-1]


def dilate(x: torch.Tensor) -> torch.Tensor:
    """Grey-level dilation with a 3x3 plus-shaped element (milder than a full 3x3 square)."""
    c, left, right, up, down = _neighbours(x)
    return torch.maximum(torch.maximum(torch.maximum(c, left), torch.maximum(right, up)), down)


def erode(x: torch.Tensor) -> torch.Tensor:
    return -dilate(-x)


def blur(x: torch.Tensor) -> torch.Tensor:
    """Separable [1 2 1]/4 blur (a Gaussian of sigma ~0.7 px)."""
    c, left, right, up, down = _neighbours(x)
    h = 0.5 * c + 0.25 * (left + right)
    p = F.pad(h, (0, 0, 1, 1), mode="replicate")
    return 0.5 * h + 0.25 * (p[..., :-2, :] + p[..., 2:, :])


@functools.lru_cache(maxsize=4)
def _cubic_upsampler(k: int, device: torch.device) -> torch.Tensor:
    """(k*k, SIZE*SIZE) matrix that bicubically interpolates a k x k field of control points to 28x28."""
    eye = torch.eye(k * k).view(k * k, 1, k, k)
    up = F.interpolate(eye, size=(SIZE, SIZE), mode="bicubic", align_corners=True)
    return up.view(k * k, SIZE * SIZE).to(device)


def shift(x: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """Translate by (dx, dy) pixels, filling with black."""
    n = x.shape[0]
    z = torch.zeros(n, device=x.device)
    one = torch.ones(n, device=x.device)
    grid = affine_grid(z, z, one, one, z + dx, z + dy)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    n = x.shape[0]
    z = torch.zeros(n, device=x.device)
    one = torch.ones(n, device=x.device)
    grid = affine_grid(z + math.radians(degrees), z, one, one, z, z)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Augmenter:
    """Random pose, shape, stroke and quality changes for a batch (B, 1, 28, 28) of ink in [0, 1]."""

    def __init__(self, config: AugmentConfig | None = None) -> None:
        self.c = config or AugmentConfig()

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        c, n, dev = self.c, x.shape[0], x.device
        u = lambda lo, hi: _uniform(n, lo, hi, g, dev)  # noqa: E731
        grid = affine_grid(
            torch.deg2rad(u(-c.rotate_deg, c.rotate_deg)),
            u(-c.shear, c.shear),
            u(*c.scale),
            torch.exp(u(-c.aspect, c.aspect)),
            u(-c.shift_px, c.shift_px),
            u(-c.shift_px, c.shift_px),
        )
        if c.elastic_px > 0:
            k = c.elastic_grid
            coarse = torch.randn(n, 2, k, k, generator=g, device=dev) * u(0, c.elastic_px).view(n, 1, 1, 1)
            field = (coarse.view(n * 2, k * k) @ _cubic_upsampler(k, dev)).view(n, 2, SIZE, SIZE)
            grid = grid + field.permute(0, 2, 3, 1) * (2.0 / SIZE)  # smooth: an elastic distortion
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

        on = lambda p: (torch.rand(n, generator=g, device=dev) < p).float().view(n, 1, 1, 1)  # noqa: E731
        col = lambda t: t.view(n, 1, 1, 1)  # noqa: E731
        stroke = on(c.stroke_p)
        thick_or_thin = on(0.5)
        w_thick = stroke * thick_or_thin * col(u(0, c.thick))
        w_thin = stroke * (1 - thick_or_thin) * col(u(0, c.thin))
        x = x + w_thick * (dilate(x) - x) + w_thin * (erode(x) - x)
        x = x + on(c.blur_p) * col(u(0, 1)) * (blur(x) - x)
        x = _seen_small(x, torch.rand(n, generator=g, device=dev) < c.lowres_p, u(*c.lowres)[0])
        x = x * (1 - on(c.gain_p) * col(1 - u(*c.gain)))
        noisy = (torch.rand(n, generator=g, device=dev) < c.noise_p).nonzero().flatten()
        sigma = u(0, c.noise_std)
        x[noisy] += torch.randn((len(noisy), *x.shape[1:]), generator=g, device=dev) * sigma[noisy].view(-1, 1, 1, 1)
        return x.clamp_(0, 1)


def _seen_small(x: torch.Tensor, which: torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """The chosen images shrunk to `share` of their size (area-averaged) and enlarged back: the soft,
    blocky look of a 12-px digit once fitted to 20 px."""
    sel = which.nonzero().flatten()
    if len(sel) == 0:
        return x
    side = max(6, int(round(SIZE * float(share))))
    small = F.interpolate(x[sel], size=(side, side), mode="area")
    x = x.clone()
    x[sel] = F.interpolate(small, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return x


def noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """Gaussian pixel noise of std `sigma`, the same for every call (a fixed test condition)."""
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    return (x + sigma * n).clamp(0, 1)


#: Fixed corruptions for evaluation: name -> function on a batch of ink in [0, 1].
CORRUPTIONS = {
    "rotate +20": lambda x: rotate(x, 20.0),
    "rotate -20": lambda x: rotate(x, -20.0),
    "thicker": lambda x: dilate(x),
    "thinner": lambda x: erode(x),
    "blur": lambda x: blur(blur(x)),
    "noise 0.2": lambda x: noise(x, 0.2),
    "shift 3px": lambda x: shift(x, 3.0, 3.0),
}
