"""One LightningModule per task: a plain network, its loss and its metrics."""
