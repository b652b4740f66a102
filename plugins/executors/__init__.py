"""Executors: who runs a pipeline's stages when one machine is not enough (Dask, Slurm)."""
