"""Speed benchmarks of bp_app's parts against their PyTorch references."""
