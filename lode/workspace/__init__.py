"""Workspace operations on `.dvc`-tracked data: add, commit, checkout, status, unprotect."""
