"""Optimizers, regularization penalties and learning-rate schedules, written out."""
