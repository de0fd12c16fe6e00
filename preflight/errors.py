"""Exception types shared by every layer; this module imports nothing from preflight."""

from __future__ import annotations


class PreflightError(Exception):
    """Base class: an error preflight reports to the user without a traceback."""

    exit_code = 2
    tip: str | None = None

    def headline(self) -> str:
        """The error on one line, for a JSON log event's ``message``."""
        return " ".join(str(self).split())

    def fields(self) -> dict[str, object]:
        """Extra fields for the JSON log event."""
        return {}


class ManifestError(PreflightError):
    """The manifest is missing, unreadable, malformed or invalid."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"invalid manifest {path}:\n" + "\n".join(f"  - {p}" for p in problems))

    def headline(self) -> str:
        return f"invalid manifest {self.path}: " + "; ".join(self.problems)

    def fields(self) -> dict[str, object]:
        return {"path": self.path, "problems": self.problems}


class UsageError(PreflightError):
    """The command line asks for something that cannot be done."""

    def __init__(self, message: str, tip: str | None = None, usage: str | None = None) -> None:
        super().__init__(message)
        self.tip = tip
        self.usage = usage  # the command's usage line, for argument errors

    def fields(self) -> dict[str, object]:
        return {"usage": self.usage} if self.usage else {}


class InitFailed(PreflightError):
    """``preflight init`` could not draft a manifest that passes here; nothing was written."""

    exit_code = 1

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
