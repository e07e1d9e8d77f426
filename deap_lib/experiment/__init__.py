"""Experiments: settings, splits, the one training loop, the report's protocols, baselines, importance."""
