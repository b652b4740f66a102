"""Operations: one verb per module (add, checkout, status, gc, push/pull/fetch, repro,
...). Each takes a repository and arguments, returns a result, and never prints."""
