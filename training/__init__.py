"""Datasets, models and NEAT training (not built yet)."""
