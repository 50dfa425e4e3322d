"""The lecture's convolutional network (section IV): convolution, ReLU, max pooling, dense layers.

The Keras model it reproduces by default::

    Conv2D(32, (3, 3), activation="relu")  ->  MaxPooling2D((2, 2))  ->  Flatten()
    ->  Dense(128, activation="relu")  ->  Dense(10, activation="softmax")

A convolution computes z[c, i, j] = b_c + Σ_{c', u, v} W[c, c', u, v] · x[c', i+u, j+v]; its
output side is ⌊(H + 2p − k) / s⌋ + 1 (here s = 1), and a k×k max pool divides it by k, rounding
down. The flatten size is computed from those two rules, so the same config fits MNIST (28×28)
and scikit-learn's digits (8×8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from bp_app.models.classifier import ClassifierModule
from bp_app.models.init import initialize

PADDINGS = ("valid", "same")


def per_layer(values: int | Sequence[int], count: int, name: str) -> list[int]:
    """One value per conv layer: a single number applies to every layer."""
    if isinstance(values, int):
        return [values] * count
    values = list(values)
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ValueError(
            f"model.{name} has {len(values)} values but model.channels has {count} layers; "
            f"give one value per layer or a single value for all"
        )
    return values


class CNN(nn.Module):
    """Conv blocks (conv → [batch norm] → ReLU → max pool), flatten, dense layers, logits."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (32,),
        kernel_sizes: int | Sequence[int] = 3,
        padding: str = "valid",
        pool_size: int = 2,
        hidden_sizes: Sequence[int] = (128,),
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (channels, height, width), got {input_shape}")
        if padding not in PADDINGS:
            raise ValueError(f"model.padding={padding!r} is unknown; choose one of: valid, same")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        if pool_size < 1:
            raise ValueError(f"model.pool_size must be >= 1 (1 means no pooling), got {pool_size}")
        kernels = per_layer(kernel_sizes, len(channels), "kernel_sizes")
        if padding == "same" and any(k % 2 == 0 for k in kernels):
            raise ValueError(f"model.padding=same needs odd kernel sizes, got {kernels}")

        in_channels, height, width = input_shape
        blocks: list[nn.Module] = []
        for layer, (out_channels, k) in enumerate(zip(channels, kernels, strict=True), start=1):
            p = k // 2 if padding == "same" else 0
            # Conv side: ⌊(H + 2p − k) / 1⌋ + 1, then the pool's ⌊H / pool⌋.
            height = (height + 2 * p - k + 1) // pool_size
            width = (width + 2 * p - k + 1) // pool_size
            if height < 1 or width < 1:
                raise ValueError(
                    f"the {input_shape[1]}x{input_shape[2]} input is used up by conv layer "
                    f"{layer} (kernel {k}, padding {padding}, pool {pool_size}); use fewer or "
                    "smaller layers in model.channels / model.kernel_sizes, or model.padding=same"
                )
            blocks.append(nn.Conv2d(in_channels, out_channels, k, padding=p, bias=not batch_norm))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(out_channels))
            blocks.append(nn.ReLU())
            if pool_size > 1:
                blocks.append(nn.MaxPool2d(pool_size))
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.feature_shape = (in_channels, height, width)
        self.flatten_size = math.prod(self.feature_shape)

        dense: list[nn.Module] = [nn.Dropout(dropout)]
        sizes = [self.flatten_size, *hidden_sizes]
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            dense += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        dense.append(nn.Linear(sizes[-1], num_classes))
        self.classifier = nn.Sequential(*[m for m in dense if not _is_noop(m)])

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (B, C_in, H, W) -> (B, C_last, H', W'), sides by the rules above
        h = h.flatten(1)  # (B, C_last * H' * W') = (B, flatten_size)
        return self.classifier(h)  # dense layers -> logits z_L (B, num_classes); softmax in loss


def _is_noop(module: nn.Module) -> bool:
    return isinstance(module, nn.Dropout) and module.p == 0.0


class CNNClassifier(ClassifierModule):
    """``model=cnn``: the CNN trained by the shared manual-backprop step."""

    input_kind = "images"

    def __init__(
        self,
        input_shape: list[int],
        num_classes: int,
        channels: Sequence[int] = (32,),
        kernel_sizes: int | Sequence[int] = 3,
        padding: str = "valid",
        pool_size: int = 2,
        hidden_sizes: Sequence[int] = (128,),
        dropout: float = 0.0,
        batch_norm: bool = False,
        init: str = "torch_default",
        **backprop: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **backprop)
        self.save_hyperparameters()
        self.net = CNN(
            input_shape,
            num_classes,
            channels=list(channels),
            kernel_sizes=kernel_sizes,
            padding=padding,
            pool_size=pool_size,
            hidden_sizes=list(hidden_sizes),
            dropout=dropout,
            batch_norm=batch_norm,
        )
        initialize(self.net, init)  # model.init: torch_default | glorot_uniform | he_normal
