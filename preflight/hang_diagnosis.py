"""What a hung import was waiting on, read from the faulthandler dump taken at its deadline and the
source line of the innermost frame (a blocking call in C leaves no frame of its own)."""

from __future__ import annotations

import linecache
import re
from typing import Any, Callable

from preflight.search import faulthandler_threads

# a call on the blocked line, and what it waits for
_CALLS = [
    (re.compile(r"\.(recv|recv_into|recvfrom|accept|makefile|read|readline)\("), "a socket or pipe read ({0}) that gets no data"),
    (re.compile(r"\b(create_connection|connect)\("), "a network connection ({0}) that never completes"),
    (re.compile(r"\bsleep\("), "time.sleep"),
    (re.compile(r"\binput\("), "input() reading stdin"),
    (re.compile(r"\.acquire\(|^\s*with\s"), "a lock (`{1}`) already held, by this thread (a threading.Lock taken twice: "
                                            "use RLock) or by one that never releases it"),
]


def waiting_on(dump: str, import_frames: list[dict[str, Any]], app_frame: dict[str, Any] | None,
               is_app_file: Callable[[str], bool]) -> dict[str, str] | None:
    """``{"what": ..., "kind": ...}`` for the wait the import thread was blocked in, or None."""
    inner = list(reversed(import_frames))  # innermost first
    joining = any(f["function"] == "join" and f["file"].endswith("threading.py") for f in inner[:3])
    if joining:
        for thread in faulthandler_threads(dump):
            importing = [f for f in thread if f["function"] in ("acquire", "_lock_unlock_module", "_get_module_lock")
                         and f["file"].startswith("<frozen importlib")]
            app = next((f for f in thread if f["function"] == "<module>" and is_app_file(f["file"])), None)
            if importing and app:
                return {"what": "an import deadlock: a thread the import started imports a module "
                                f"({app['file']}:{app['line']}) whose import lock the waiting import holds, while the "
                                "import waits in join() for that thread: start the thread after the import, not during it",
                        "kind": "import_deadlock"}
        return {"what": "a thread's join(): the thread it started at import never finished", "kind": "thread_join"}
    if any(f["function"] == "wait" and f["file"].endswith("threading.py") for f in inner[:3]):
        return {"what": "a threading Event or Condition wait() that nothing sets", "kind": "thread_wait"}
    if any(f["function"] == "create_connection" and f["file"].endswith("socket.py") for f in inner[:3]):
        return {"what": "a network connection (socket.create_connection) that never completes: no timeout, and the "
                        "address drops packets (a firewall, a wrong IP)", "kind": "socket_connect"}
    frame = inner[0] if inner else app_frame
    text = linecache.getline(frame["file"], frame["line"]).strip() if frame else ""
    for pattern, what in _CALLS:
        found = pattern.search(text)
        if found:
            return {"what": what.format(found.group(0).strip("(. "), text), "kind": "call", "line_text": text}
    return None
