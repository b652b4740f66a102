"""Conformance suites any plugin runs: the remote and the executor contract."""
