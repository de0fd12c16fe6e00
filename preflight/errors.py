"""Exception types shared by every layer; this module imports nothing from preflight."""

from __future__ import annotations


class PreflightError(Exception):
    """Base class: an error preflight reports to the user without a traceback."""

    exit_code = 2
    tip: str | None = None


class ManifestError(PreflightError):
    """The manifest is missing, unreadable, malformed or invalid."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"invalid manifest {path}:\n" + "\n".join(f"  - {p}" for p in problems))


class UsageError(PreflightError):
    """The command line asks for something that cannot be done."""

    def __init__(self, message: str, tip: str | None = None) -> None:
        super().__init__(message)
        self.tip = tip


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived while checks were running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
