"""bp_app: back propagation, taught and run with PyTorch Lightning."""

__version__ = "0.1.0"
