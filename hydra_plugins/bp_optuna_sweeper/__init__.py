"""bp_app's Hydra sweeper on Optuna's ask-and-tell API: ``hydra/sweeper=bp_optuna``."""
