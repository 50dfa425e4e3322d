"""The backward pass by hand, one module per layer family, each backward beside its forward:
dense (linear, activations, dropout), conv (Conv2d, MaxPool2d, BatchNorm), recurrent (Embedding,
RNN / LSTM / GRU over padded batches, the masked mean), losses; networks.py strings them into
each model's program and engine.py is ``model.backprop``."""

from bp_app.backprop.explicit.dense import ForwardCache, mlp_backward, mlp_forward, mlp_gradients
from bp_app.backprop.explicit.losses import (
    accumulate_grads,
    cross_entropy,
    cross_entropy_error,
    loss_value,
    output_error,
    penalty_gradient,
    relative_error,
)

__all__ = [
    "ForwardCache",
    "accumulate_grads",
    "cross_entropy",
    "cross_entropy_error",
    "loss_value",
    "mlp_backward",
    "mlp_forward",
    "mlp_gradients",
    "output_error",
    "penalty_gradient",
    "relative_error",
]
