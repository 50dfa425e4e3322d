"""Loggers: Lightning's, adjusted where their per-step cost is avoidable."""
