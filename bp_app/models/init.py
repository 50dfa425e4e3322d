"""Initial weights (``model.init``): torch's defaults, or the schemes Keras and He et al. use.

For a layer with fan_in inputs and fan_out outputs (a conv layer counts k·k·channels):

    torch_default    W ~ U(−1/√fan_in, 1/√fan_in) and b likewise (nn.Linear, nn.Conv2d)
    glorot_uniform   W ~ U(−r, r), r = √(6 / (fan_in + fan_out)), b = 0   (Keras' default)
    he_normal        W ~ N(0, 2 / fan_in) truncated at ±2σ, b = 0          (Keras' he_normal)

Glorot keeps the variance of activations and of gradients about equal across layers for
tanh-like units; He's doubles it to make up for ReLU zeroing half of its inputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INIT_SCHEMES = ("torch_default", "glorot_uniform", "he_normal")
# Keras draws he_normal from a normal truncated at two deviations, whose spread is 0.8796 of
# the untruncated one's; it divides the deviation by this so the variance stays 2 / fan_in.
TRUNCATED_NORMAL_STD = 0.87962566103423978


def check_init(scheme: str) -> None:
    if scheme not in INIT_SCHEMES:
        raise ValueError(
            f"model.init={scheme!r} is unknown; choose one of: {', '.join(INIT_SCHEMES)}"
        )


@torch.no_grad()
def initialize(net: nn.Module, scheme: str) -> None:
    """Re-draw the weights of every dense and conv layer of ``net`` by ``scheme``."""
    check_init(scheme)
    if scheme == "torch_default":
        return  # the layers drew their own weights when they were built
    for layer in net.modules():
        if not isinstance(layer, (nn.Linear, nn.Conv2d)):
            continue
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        if scheme == "glorot_uniform":
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # r = √(6 / (fan_in + fan_out))
            layer.weight.uniform_(-bound, bound)
        else:
            std = math.sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STD  # σ² = 2 / fan_in after cutting
            nn.init.trunc_normal_(layer.weight, 0.0, std, -2 * std, 2 * std)
        if layer.bias is not None:
            layer.bias.zero_()  # b = 0
