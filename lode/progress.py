"""Progress bars for long work, on a terminal only.

Operations call `bar(total, desc)` and `update(n)`; nothing is drawn unless the CLI
enabled bars, stderr is a terminal and the work is large enough to be worth a bar.
tqdm is imported only when a bar is actually drawn.
"""

from __future__ import annotations

import sys
import threading

MIN_ITEMS = 2000
_enabled = False


def enable(on: bool) -> None:
    global _enabled
    _enabled = on and sys.stderr.isatty()


class _Null:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Bar(_Null):
    def __init__(self, total: int, desc: str, unit: str) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()
        tqdm.monitor_interval = 0  # no monitor thread: lode.parallel forks only when alone
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        with self._lock:
            self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def bar(total: int, desc: str, unit: str = "file") -> _Null:
    if _enabled and total >= MIN_ITEMS:
        return _Bar(total, desc, unit)
    return _Null()
