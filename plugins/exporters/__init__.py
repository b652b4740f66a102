"""Exporters: the pipeline written out for another engine (Argo Workflows)."""
