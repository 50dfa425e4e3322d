"""The lecture's multilayer perceptron: a_l = σ(W_l a_{l-1} + b_l), softmax on top."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from bp_app.models.classifier import ClassifierModule
from bp_app.models.init import initialize

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
}


class MLP(nn.Module):
    """Fully connected layers with one activation between them; the last layer gives logits."""

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"model.activation={activation!r} is unknown; "
                f"choose one of: {', '.join(ACTIVATIONS)}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        a = x.flatten(1)  # (B, C*H*W): the image as one input vector a_0
        for layer in self.layers[:-1]:
            a = self.dropout(self.activation(layer(a)))  # a_l = σ(W_l a_{l-1} + b_l)
        return self.layers[-1](a)  # z_L, the logits; softmax lives in the loss


class MLPClassifier(ClassifierModule):
    """``model=mlp``: the MLP trained by the shared manual-backprop step."""

    input_kind = "images"

    def __init__(
        self,
        input_shape: list[int],
        num_classes: int,
        hidden_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        dropout: float = 0.0,
        init: str = "torch_default",
        **backprop: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **backprop)
        self.save_hyperparameters()
        self.net = MLP(math.prod(input_shape), list(hidden_sizes), num_classes, activation, dropout)
        initialize(self.net, init)  # model.init: torch_default | glorot_uniform | he_normal
