"""The signal dispositions and mask preflight was started with: what the server and every check get.

Taken when ``cli`` is imported, before preflight changes anything. Python itself changed three
dispositions before that: it ignores SIGPIPE and SIGXFSZ whatever they were (how they were
inherited is lost; they are taken to be the default, as tini does) and handles SIGINT only when it
was the default (an inherited ignored SIGINT stays ignored, and is recorded so). Every other
disposition and the mask are still as inherited.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

_PYTHONS = frozenset(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))
_CATCHABLE = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
IGNORED = frozenset(s for s in _CATCHABLE - _PYTHONS if signal.getsignal(s) is signal.SIG_IGN)
MASK = frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, ()))
INTERRUPTS = (signal.SIGTERM, signal.SIGINT)


def own_children() -> None:
    """Wait for children, even if SIGCHLD was inherited ignored (the kernel would reap them, status
    and all); ``restore`` ignores it again for the server."""
    if signal.SIGCHLD in IGNORED:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def restore() -> None:
    """Every disposition back to ignored or default as inherited, and the mask as inherited."""
    for signum in _CATCHABLE:
        wanted = signal.SIG_IGN if signum in IGNORED else signal.SIG_DFL
        current = signal.getsignal(signum)
        if current is not None and current != wanted:  # None: a handler from C, reset by the exec
            signal.signal(signum, wanted)
    signal.pthread_sigmask(signal.SIG_SETMASK, MASK)


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
