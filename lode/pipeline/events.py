"""Stage events as the lines a user reads, shared by `lode repro` and a recipe's repro."""

from __future__ import annotations

import os
import sys
import threading

from lode.pipeline.tasks import Listener

_mutex = threading.Lock()


def emit(text: str, fd: int = 1) -> None:
    """A whole line straight to the file descriptor, under a lock: stages run in doit's
    threads, and doit swaps sys.stdout around every action (sharing the swapped stream
    between threads crashed the interpreter)."""
    with _mutex:
        os.write(fd, (text + "\n").encode("utf-8", "replace"))


def line_listener(quiet: bool = False) -> Listener:
    sys.stdout.flush()

    def on(event: str, stage, detail) -> None:
        if quiet:
            return
        name = stage.address()
        if event == "running":
            emit("\n".join([f"Running stage '{name}' ({detail}):",
                            *(f"> {c}" for c in stage.commands)]))
        elif event == "submitted":
            emit(f"Submitted stage '{name}' ({detail})")
        elif event == "ran":
            emit(f"Ran stage '{name}' in {detail:.2f} s")
        elif event == "restored":
            emit(f"Stage '{name}' is cached - skipping run, checked out its outputs "
                 f"in {detail:.2f} s")
        elif event == "skipped":
            emit(f"Stage '{name}' didn't change, skipping")
        elif event == "frozen":
            emit(f"Stage '{name}' is frozen, skipping")

    return on
