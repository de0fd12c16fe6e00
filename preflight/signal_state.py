"""Signals around the processes preflight starts: none may inherit a mask or disposition of its own."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

INTERRUPTS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold back the Python handlers of SIGTERM and SIGINT for the block and run them after it, so an
    interrupt cannot fall between starting a child and recording it. Unlike blocking the signals,
    this leaves the mask alone: a child started meanwhile does not inherit them blocked."""
    if threading.current_thread() is not threading.main_thread():  # handlers run in the main thread
        yield
        return
    held: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum))
                for s in INTERRUPTS if callable(signal.getsignal(s))}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in held:
            signal.raise_signal(signum)
