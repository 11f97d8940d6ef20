"""Training: the ALS wrapper (als), the validation search (tuning), held-out evaluation, and the
train use case (train: history -> tuned, evaluated model saved as a new version)."""
