"""lode: version data and models beside Git; DVC-3-compatible files, doit-driven pipelines."""

__version__ = "0.1.0"
