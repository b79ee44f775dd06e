"""Repeatability: repeated runs, and differences between runs (config, environment, weights, losses)."""
