"""Standard-library modules a newer Python removed: ``import imp`` or ``distutils`` on 3.12 says only
"No module named", and the name is no distribution to ``pip install`` (PEP 594, PEP 632)."""

from __future__ import annotations

# module -> (the Python that removed it, what to use instead)
_REMOVED = {
    "formatter": ((3, 10), "no replacement"), "parser": ((3, 10), "the ast module"),
    "symbol": ((3, 10), "the ast module"), "binhex": ((3, 11), "base64 or binascii"),
    "distutils": ((3, 12), "setuptools, which provides distutils (pip install setuptools), or packaging and sysconfig"),
    "imp": ((3, 12), "importlib"), "asyncore": ((3, 12), "asyncio"), "asynchat": ((3, 12), "asyncio"),
    "smtpd": ((3, 12), "aiosmtpd"),
    **{name: ((3, 13), "a maintained replacement (PEP 594 lists them)") for name in (
        "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis", "nntplib",
        "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib", "lib2to3")},
}


def removed(module: str, python_version: tuple[int, ...] | None) -> tuple[str, str] | None:
    """``(the Python version that removed it, its replacement)`` for a top-level standard-library module
    ``module`` the checked Python no longer has."""
    gone = _REMOVED.get(module)
    if not gone or not python_version or tuple(python_version[:2]) < gone[0]:
        return None
    return f"{gone[0][0]}.{gone[0][1]}", gone[1]
