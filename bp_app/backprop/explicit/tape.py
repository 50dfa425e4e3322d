"""The forward pass's record, replayed backwards: micrograd's ``_backward`` per op, as a list.

Each op's forward appends its backward and the tensors that backward needs; ``Tape.backward``
walks the list in reverse, handing each op g = ∂L/∂(its output) and taking back ∂L/∂(its input):
the chain rule, one op at a time. Parameter gradients are added into one dict as they appear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from bp_app.errors import ConfigError

# backward(g, grads, need_input, *saved) -> ∂L/∂input (None when need_input is False)
Backward = Callable[..., Tensor | None]


class Tape:
    """Ops in forward order; ``backward(δ_L)`` returns every parameter's ∂L/∂θ."""

    def __init__(self) -> None:
        self.ops: list[tuple[Backward, tuple[Any, ...]]] = []
        self.records: dict[str, Tensor] = {}  # extra readings, e.g. ‖∂L/∂h_t‖ for bptt/
        self.watch_time = False  # record ‖∂L/∂h_t‖ per step in the next backward

    def record(self, backward: Backward, *saved: Any) -> None:
        self.ops.append((backward, saved))

    def backward(self, delta: Tensor) -> dict[Tensor, Tensor]:
        grads: dict[Tensor, Tensor] = {}
        g: Tensor | None = delta
        for i in range(len(self.ops) - 1, -1, -1):
            backward, saved = self.ops[i]
            # The first op reads the data: no ∂L/∂x to compute (for a conv, that skips a fold).
            g = backward(g, grads, i > 0, *saved)
        return grads

    def backward_to_input(self, delta: Tensor) -> tuple[dict[Tensor, Tensor], Tensor | None]:
        """As ``backward``, and ∂L/∂(the first op's input) too (for tests and gradcheck)."""
        grads: dict[Tensor, Tensor] = {}
        g: Tensor | None = delta
        for backward, saved in reversed(self.ops):
            g = backward(g, grads, True, *saved)
        return grads, g


def add_grad(grads: dict[Tensor, Tensor], param: Tensor | None, value: Tensor) -> None:
    """grads[θ] += value (a parameter used twice gets the sum of both uses)."""
    if param is None:
        return
    grads[param] = grads[param] + value if param in grads else value


def unsupported(module: nn.Module, name: str, mode: str, why: str = "") -> ConfigError:
    """The start-up error for a layer the package has no hand-derived backward for."""
    what = f"{name} ({type(module).__name__}{', ' + why if why else ''})"
    return ConfigError(
        f"model.backprop={mode}: no hand-derived backward for layer {what}; "
        "this model trains with model.backprop=autograd, or change the layer"
    )
