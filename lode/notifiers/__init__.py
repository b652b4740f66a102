"""Notifiers (placeholder; being written)."""
