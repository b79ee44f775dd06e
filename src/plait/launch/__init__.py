"""Launchers: local processes (torchrun), SLURM (submitit) and Ray wrap the same `plait run`."""
