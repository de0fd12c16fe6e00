"""A connection your code opens at import that failed: refused, a name that does not resolve, no route,
timed out. The service it needs is not reachable from the container (``localhost`` there is the
container itself; a compose or Kubernetes service name resolves only on its own network), or not up
yet when the container starts.

The facts are the socket error somewhere in the exception's chain (its ``errno``, ``gaierror`` for a
name lookup) and the ``[host, port]`` the child read from the connecting frame; a library's own
wrapper (requests' ``ConnectionError``, httpx's ``ConnectError``) keeps the socket error in its chain.
"""

from __future__ import annotations

import errno
from typing import Any

from preflight import report as r

_REASONS = {
    errno.ECONNREFUSED: ("refused", "the connection was refused (nothing listens there)"),
    errno.ECONNRESET: ("reset", "the connection was reset"),
    errno.ETIMEDOUT: ("timed_out", "the connection timed out"),
    errno.EHOSTUNREACH: ("unreachable", "there is no route to the host"),
    errno.ENETUNREACH: ("unreachable", "the network is unreachable"),
    errno.EADDRNOTAVAIL: ("unreachable", "the address cannot be reached from here"),
}
_LOOPBACK = ("localhost", "127.", "::1", "0.0.0.0")


def diagnose(check: r.Check, facts: dict[str, Any]) -> bool:
    """A failed connection at import; False when no socket error lies in the failure's chain."""
    found = next(((entry, reason) for entry in [facts, *facts.get("chain", ())]
                  if (reason := _reason(entry))), None)
    if not found:
        return False
    entry, (reason, what) = found
    address = next((e["address"] for e in [entry, facts, *facts.get("chain", ())] if e.get("address")), None)
    host, port = address if address else (None, None)
    target = f"{host}:{port}" if host else "a network service"
    where = f"{check.file}:{check.line}" if check.file else "code run by the import"
    check.cause = "connection_failed"
    check.details.update(reason=reason, host=host, port=port, error=entry["type"])
    if reason == "name_unknown":
        what = f"the name {host!r} does not resolve from here" if host else what
    advice = ""
    if host and host.startswith(_LOOPBACK):
        advice = (f"Inside a container {host} is the container itself, not the host machine or another container: "
                  f"connect to the service's name (the compose service, the Kubernetes Service), read from a "
                  f"variable. ")
    elif reason == "name_unknown":
        advice = ("A compose service's name resolves only on the compose network, a Kubernetes Service's only in "
                  "the cluster (name.namespace.svc.cluster.local from another namespace): check the name and the "
                  "network the container runs on. ")
    check.hint = (f"{where} connects to {target} at import, and {what}. {advice}The service may also not be up yet "
                  f"when this container starts: open the connection lazily or in a startup hook that retries, not "
                  f"at import, so that the server can start without it")
    return True


def _reason(entry: dict[str, Any]) -> tuple[str, str] | None:
    bases = entry.get("bases") or ()
    if "OSError" not in bases:
        return None
    if "gaierror" in bases:
        return "name_unknown", "the host name does not resolve"
    if entry.get("errno") in _REASONS:
        return _REASONS[entry["errno"]]
    if "TimeoutError" in bases and entry.get("address"):  # socket.timeout while connecting
        return "timed_out", "the connection timed out"
    return None
