"""Pipelines: dvc.yaml stages, their status against dvc.lock, and their run on doit."""
