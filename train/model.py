"""The FCL: a 784-500-500-10 fully connected network, kept layer-for-layer as the original tutorial's.

The state-dict keys (`fc1.*`, `fc2.*`, `fc3.*`) are the file format: a `.pth` written by the tutorial's
trainer loads here unchanged, and ours loads into theirs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from train.mnist_spec import CLASSES, SIZE

HIDDEN = 500
#: Name -> shape of every tensor a valid weights file holds; the loader checks files against it.
STATE_SHAPES: dict[str, tuple[int, ...]] = {
    "fc1.weight": (HIDDEN, SIZE * SIZE),
    "fc1.bias": (HIDDEN,),
    "fc2.weight": (HIDDEN, HIDDEN),
    "fc2.bias": (HIDDEN,),
    "fc3.weight": (CLASSES, HIDDEN),
    "fc3.bias": (CLASSES,),
}


class FCL(nn.Module):
    """fc1, ReLU, fc2, ReLU, fc3 on a flattened 28x28 image; returns logits."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(SIZE * SIZE, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN)
        self.fc3 = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor, dropout: float = 0.0) -> torch.Tensor:
        """`dropout` acts only while training and adds no parameters, so the file format is unchanged."""
        x = x.flatten(1)
        x = F.dropout(F.relu(self.fc1(x)), dropout, self.training)
        x = F.dropout(F.relu(self.fc2(x)), dropout, self.training)
        return self.fc3(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def summary(model: nn.Module, batch: int = -1) -> str:
    """The layer table `python -m train --summary` prints, in torchsummary's layout (the tutorial's).

    Nothing in it is written by hand: one zero image goes through the model with a forward hook on every
    layer, so each row's output shape and parameter count are what torch measured. Sizes are in MiB, as
    torchsummary counts them; the forward/backward size is every layer's output kept twice (value and
    gradient) for one image.
    """
    rows: list[tuple[str, list[int], int]] = []

    def hook(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        shape = [batch, *output.shape[1:]]
        rows.append((f"{type(layer).__name__}-{len(rows) + 1}", shape, count_parameters(layer)))

    layers = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, SIZE, SIZE))
    finally:
        for h in handles:
            h.remove()
    total = count_parameters(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    mb = 1024.0**2
    input_mb = SIZE * SIZE * 4 / mb
    act_mb = 2 * sum(math.prod(shape[1:]) for _, shape, _ in rows) * 4 / mb
    params_mb = total * 4 / mb
    line, bold = "-" * 64, "=" * 64
    out = [line, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15}", bold]
    out += [f"{name:>20}  {str(shape):>25} {n:>15,}" for name, shape, n in rows]
    out += [
        bold,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        line,
        f"Input size (MB): {input_mb:.2f}",
        f"Forward/backward pass size (MB): {act_mb:.2f}",
        f"Params size (MB): {params_mb:.2f}",
        f"Estimated Total Size (MB): {input_mb + act_mb + params_mb:.2f}",
        line,
    ]
    return "\n".join(out)
