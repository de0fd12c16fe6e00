"""The report: checks as plain data, rendered to the public ``preflight/report-v1`` JSON document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "preflight/report-v1"

PASSED, FAILED, TIMED_OUT, SKIPPED, WARNED = "passed", "failed", "timed_out", "skipped", "warned"
FAILING = (FAILED, TIMED_OUT)


@dataclass
class Check:
    """One thing that must hold: an import, a symbol, a path, a variable, a distribution..."""

    kind: str
    target: str
    status: str = PASSED
    cause: str | None = None
    error_type: str | None = None
    message: str | None = None
    file: str | None = None
    line: int | None = None
    hint: str | None = None
    duration_ms: float | None = None
    stack_trace: str | None = None
    output: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v is not None and v != {}}
        return data


@dataclass
class Report:
    """Every check of one run, and whether the server may start."""

    checks: list[Check]
    duration_ms: float = 0.0
    interpreter: str | None = None
    interpreter_options: list[str] = field(default_factory=list)  # the server's (-O, -W error)
    mode: str = "fresh"
    environment: dict[str, Any] | None = None
    mode_reason: str | None = None  # why the checks did not run in the faster mode asked for
    zygote: dict[str, Any] | None = None  # what the zygote preloaded and learned, when one ran

    @property
    def ok(self) -> bool:
        return not any(c.failing for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failing]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "ok": self.ok,
            "duration_ms": self.duration_ms,
            "interpreter": self.interpreter,
            **({"interpreter_options": self.interpreter_options} if self.interpreter_options else {}),
            "mode": self.mode,
            **({"mode_reason": self.mode_reason} if self.mode_reason else {}),
            **({"zygote": self.zygote} if self.zygote else {}),
            "counts": self.counts(),
            "checks": [c.to_json() for c in self.checks],
        }
        if self.environment is not None:
            data["environment"] = self.environment
        return data

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        return counts


def write_report(report: Report, path: str) -> None:
    """Write the report atomically: readers (probes) never see half a document."""
    from preflight.files import write_json

    write_json(path, report.to_json(), indent=2, make_dirs=False)  # the CLI checked the path up front
