"""The public plugin API: the Remote, Notifier, Executor and Exporter bases, and the
registry that finds plugins through their entry-point groups."""
