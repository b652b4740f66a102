"""One retry policy: how many attempts, how long to wait between them, and when to stop.

Used by the transfer engine (a TransientError from any remote), the HTTP remote's batch
HEADs (a server that answered 5xx) and the notifiers' webhook POST. It is a small pure
object rather than urllib3's `Retry`: two of the three loops retry calls that are not
HTTP requests (a plugin's upload, whatever its store), and the webhook needs what `Retry`
does not give: a deadline over the whole exchange, a cap on a server's Retry-After, an
injected `sleep` for tests, and the number of attempts for its message. tenacity would
fit, but is not a dependency of lode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Backoff:
    """`attempts` tries in all; after try n (1-based) wait `first * factor**(n-1)` seconds,
    at most `cap`; no retry starts past `deadline` seconds after the first try.

    A plain class, not a dataclass: `lode status` imports it, and dataclasses costs
    start-up time (it imports inspect)."""

    __slots__ = ("attempts", "first", "factor", "cap", "deadline")

    def __init__(self, attempts: int, first: float, factor: float = 2.0,
                 cap: float | None = None, deadline: float | None = None) -> None:
        self.attempts, self.first, self.factor = attempts, first, factor
        self.cap, self.deadline = cap, deadline

    def __repr__(self) -> str:
        return (f"Backoff(attempts={self.attempts}, first={self.first}, factor={self.factor}"
                f", cap={self.cap}, deadline={self.deadline})")

    def wait(self, attempt: int) -> float:
        """The pause after try number `attempt` (1-based) failed."""
        seconds = self.first * self.factor ** (attempt - 1)
        return seconds if self.cap is None else min(seconds, self.cap)

    def again(self, attempt: int, elapsed: float = 0.0, wait: float = 0.0) -> bool:
        """Whether to try once more after try `attempt` failed, `elapsed` seconds after
        the first began, when the next would start `wait` seconds from now."""
        if attempt >= self.attempts:
            return False
        return self.deadline is None or elapsed + wait <= self.deadline

    def call(self, fn: Callable[..., T], *args, retry_on: tuple[type[BaseException], ...],
             sleep: Callable[[float], None] = time.sleep) -> T:
        """`fn(*args)`, tried again after each exception of `retry_on`; the last one is
        raised when the policy gives up."""
        start, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return fn(*args)
            except retry_on:
                wait = self.wait(attempt)
                if not self.again(attempt, time.monotonic() - start, wait):
                    raise
            sleep(wait)


# The transfer engine's retries of one remote call: 0.25 s, 0.5 s, 1 s.
TRANSFER = Backoff(attempts=4, first=0.25)
