"""A digit redrawn by another pen: its strokes' centre lines traced again at one even width.

MNIST's strokes came from scanned pens, but their width swells and thins along a stroke and their ends
and junctions are blobs. A ballpoint, a felt pen or a fine liner draws an even line, and a camera sees
that line after `mnist_spec.from_crop` has brought its width to MNIST's: the shape is the same, its
junctions and ends are not. An MLP trained on MNIST alone reads such redrawn digits a few points
worse. Training on a share of redrawn copies (`TrainConfig.pen`) closes that gap.

The centre lines are found once per training run (Zhang-Suen thinning at twice the 28x28 resolution,
as tensors, for a fixed sample of the training digits); the redraw happens per batch on the batch's
device: the centre line dilated by a random radius, softened, and averaged back to 28x28.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

UP = 2  # the centre lines are traced at this multiple of 28x28


#: Each neighbour's bit in a pixel's 8-neighbourhood code: P9 P2 P3 / P8 . P4 / P7 P6 P5.
_BITS = torch.tensor([[128.0, 1.0, 2.0], [64.0, 0.0, 4.0], [32.0, 16.0, 8.0]]).view(1, 1, 3, 3)


def _deletion_tables() -> tuple[torch.Tensor, torch.Tensor]:
    """Zhang-Suen's two deletion rules as lookup tables over the neighbourhood code (0..255)."""
    code = torch.arange(256)
    p2, p3, p4, p5, p6, p7, p8, p9 = ((code >> k) & 1 for k in range(8))
    ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
    count = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
    rises = sum(((a == 0) & (b == 1)).to(torch.int64) for a, b in zip(ring, ring[1:]))
    base = (count >= 2) & (count <= 6) & (rises == 1)
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first, second


_TABLES = _deletion_tables()


@torch.no_grad()
def centre_lines(ink: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """The strokes' centre lines (uint8 0/1, (N, 1, 56, 56)) of ink images (N, 1, 28, 28) in [0, 1].

    Zhang-Suen thinning, each sub-iteration one convolution (every pixel's neighbourhood code) and a
    table look-up; images already thin drop out of the work."""
    out = []
    for i in range(0, len(ink), chunk):
        x = F.interpolate(ink[i : i + chunk].float().cpu(), scale_factor=UP, mode="bilinear", align_corners=False)
        x = (x > 0.45).to(torch.float32)
        active = torch.arange(len(x))
        while len(active):
            y = x[active]
            changed = torch.zeros(len(active), dtype=torch.bool)
            for table in _TABLES:
                code = F.conv2d(y, _BITS, padding=1).to(torch.int64)
                kill = table[code] & (y > 0)
                changed |= kill.flatten(1).any(1)
                y = y.masked_fill(kill, 0.0)
            x[active] = y
            active = active[changed]
        out.append(x.to(torch.uint8))
    return torch.cat(out).to(ink.device)


def redraw(lines: torch.Tensor, g: torch.Generator, widths: tuple[float, float] = (1.4, 3.2)) -> torch.Tensor:
    """The centre lines (N, 1, 56, 56) drawn with a pen of a random width (in 28x28 pixels, uniform in
    `widths`), as ink in [0, 1] at 28x28: dilated, softened, averaged down."""
    x = lines.to(torch.float32)
    width = torch.rand(len(x), generator=g, device=x.device) * (widths[1] - widths[0]) + widths[0]
    radius = (width * UP / 2 - 0.5).clamp(min=0).round().to(torch.int64)
    out = torch.empty_like(x)
    for r in radius.unique().tolist():
        sel = radius == r
        out[sel] = F.max_pool2d(x[sel], 2 * r + 1, stride=1, padding=r) if r else x[sel]
    soft = F.avg_pool2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # anti-aliased edges
    return F.avg_pool2d(soft, UP).clamp_(0, 1)
