"""Prediction, one module per input kind: ``images``, ``tokens``, ``windows``.

Each module defines ``predict(model, checkpoint, cfg) -> list[dict]``: it reads the inputs that
``cfg`` names, prints one line per prediction and returns the predictions as plain dicts.
"""
