"""A run directory: its layout, resume, the directory guard, checkpoints, stops and crashes."""
