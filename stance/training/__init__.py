"""Training: labelled files (data) -> a fitted classifier (trainer) and frame head (frames) -> a model
directory (model); the retraining loop (retrain) and the learning curve (curve)."""
