"""Callbacks: what a run records beside the training step."""
