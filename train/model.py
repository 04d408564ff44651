"""The FCL: a 784-500-500-10 fully connected network, kept layer-for-layer as the original tutorial's.

The state-dict keys (`fc1.*`, `fc2.*`, `fc3.*`) are the file format: a `.pth` written by the tutorial's
trainer loads here unchanged, and ours loads into theirs.
"""

from __future__ import annotations

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


def summary(model: FCL, batch: int = -1) -> str:
    """A torchsummary-style table: layer, output shape, parameters, totals and sizes in MB."""
    rows = [
        ("Flatten-1", [batch, SIZE * SIZE], 0),
        ("Linear-2", [batch, HIDDEN], model.fc1.weight.numel() + model.fc1.bias.numel()),
        ("ReLU-3", [batch, HIDDEN], 0),
        ("Linear-4", [batch, HIDDEN], model.fc2.weight.numel() + model.fc2.bias.numel()),
        ("ReLU-5", [batch, HIDDEN], 0),
        ("Linear-6", [batch, CLASSES], model.fc3.weight.numel() + model.fc3.bias.numel()),
    ]
    total = count_parameters(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    mb = 1024.0**2
    input_mb = SIZE * SIZE * 4 / mb
    # Activations kept for backward: each layer's output, twice (value and gradient).
    act_mb = 2 * sum(abs(int(torch.tensor(shape[1:]).prod())) for _, shape, _ in rows) * 4 / mb
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
