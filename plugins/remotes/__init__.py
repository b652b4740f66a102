"""Remotes: where a team's data objects live (local directory, S3, HTTP)."""
