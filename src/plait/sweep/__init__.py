"""Hyper-parameter sweeps: search spaces, Optuna backend, workers that run trials as ordinary runs."""
