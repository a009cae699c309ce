"""The report of a validation check, and its bounded JSON form.

Pure: the operator imports this module to read a check container's
termination message, so it imports nothing outside the standard library.

Schema (docs/validation.md)::

    {"check": str, "passed": bool, "value": number|string|null,
     "threshold": number|string|null, "message": str, "details": {...}}

Kubernetes keeps at most 4096 bytes of a termination message, so `encode`
never produces more: value and threshold strings are cut to 256 characters,
a long message to half the limit, then details are dropped (largest first,
leaving ``"truncated": true``), then the message is cut further; each cut
string ends with ``… (truncated)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_REPORT_BYTES = 4096
DEFAULT_REPORT_PATH = "/dev/termination-log"
# Strings in value/threshold are labels (a format name, an expression), not prose.
MAX_SCALAR_CHARS = 256
MAX_CHECK_CHARS = 63
TRUNCATED = "… (truncated)"

Scalar = float | int | str | None


class ReportError(ValueError):
    """A JSON text that is not a report of the documented schema."""


@dataclass(frozen=True)
class Report:
    """What one check found. `passed` is the verdict; the rest explains it."""

    check: str
    passed: bool
    value: Scalar = None
    threshold: Scalar = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "details": self.details,
        }

    def encode(self, limit: int = MAX_REPORT_BYTES) -> str:
        """Compact JSON of at most `limit` UTF-8 bytes."""
        return encode(self, limit)


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _size(data: dict[str, Any]) -> int:
    return len(_dumps(data).encode())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def _scalar(value: Scalar) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if isinstance(value, str):
        return _cut(value, MAX_SCALAR_CHARS)
    return value


def encode(report: Report, limit: int = MAX_REPORT_BYTES) -> str:
    """The report as compact JSON, cut to fit `limit` bytes (see the module docstring)."""
    data = report.as_dict()
    data["check"] = _cut(report.check, MAX_CHECK_CHARS)
    data["value"] = _scalar(report.value)
    data["threshold"] = _scalar(report.threshold)
    data["details"] = json.loads(json.dumps(report.details, default=str))
    if _size(data) <= limit:
        return _dumps(data)
    # The message is what a person reads: it is cut to half the limit first,
    # then details go (largest first), then the message is cut further.
    message = report.message
    if len(message.encode()) > limit // 2:
        data["message"] = _fit(data, message, limit // 2 + _size({**data, "message": ""}))
    if _size(data) <= limit:
        return _dumps(data)
    details = dict(data["details"])
    for key in sorted(details, key=lambda k: -len(_dumps({k: details[k]}))):
        if _size({**data, "details": {**details, "truncated": True}}) <= limit:
            break
        del details[key]
    data["details"] = {**details, "truncated": True}
    if _size(data) > limit:
        data["message"] = _fit(data, message, limit)
    return _dumps(data)


def _fit(data: dict[str, Any], message: str, limit: int) -> str:
    """The longest prefix of `message`, marked as cut, with which `data` fits `limit` bytes."""
    if _size({**data, "message": TRUNCATED}) > limit:
        raise ValueError(f"a report cannot fit in {limit} bytes")
    low, high = 0, len(message)
    while low < high:
        middle = (low + high + 1) // 2
        if _size({**data, "message": message[:middle] + TRUNCATED}) <= limit:
            low = middle
        else:
            high = middle - 1
    return message[:low] + TRUNCATED


def decode(text: str) -> Report:
    """Parse a report written by `encode`; raise ReportError naming what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"the report is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ReportError(f"the report is a JSON {type(data).__name__}, not an object")
    unknown = sorted(set(data) - {"check", "passed", "value", "threshold", "message", "details"})
    if unknown:
        raise ReportError(f"the report has unknown fields: {', '.join(unknown)}")
    check, passed, message = data.get("check"), data.get("passed"), data.get("message", "")
    details = data.get("details", {})
    if not isinstance(check, str):
        raise ReportError("the report's check must be a string")
    if not isinstance(passed, bool):
        raise ReportError("the report's passed must be true or false")
    if not isinstance(message, str):
        raise ReportError("the report's message must be a string")
    if not isinstance(details, dict):
        raise ReportError("the report's details must be an object")
    for key in ("value", "threshold"):
        if not _is_scalar(data.get(key)):
            raise ReportError(f"the report's {key} must be a number, a string or null")
    return Report(
        check=check,
        passed=passed,
        value=data.get("value"),
        threshold=data.get("threshold"),
        message=message,
        details=details,
    )


def _is_scalar(value: object) -> bool:
    return value is None or (isinstance(value, int | float | str) and not isinstance(value, bool))


def printable(text: str) -> str:
    """`text` without control characters but newline and tab (a NUL or an escape sequence
    from a check is nothing a person should get in `kubectl describe`): C0, DEL and C1,
    whose U+009B some terminals read as the start of an escape sequence."""
    return "".join(c for c in text if c in "\n\t" or not (ord(c) < 32 or 127 <= ord(c) < 160))


def from_termination_message(text: str, *, check: str, exit_code: int) -> Report:
    """Read a (custom) check container's outcome: tolerant of any message.

    The exit code is the verdict. A JSON object of the documented schema fills
    value, threshold, message and details (fields of the wrong type are left
    out); any other text becomes the message. A report whose `passed`
    disagrees with the exit code keeps the exit code's verdict and says so in
    details.reportedPassed.
    """
    passed = exit_code == 0
    stripped = printable(text).strip()
    try:
        data = json.loads(stripped) if stripped else None
    except (ValueError, RecursionError):
        # Not JSON, or JSON too deep or too large for the parser (`'[' * 4096`, a
        # number of thousands of digits): the text itself is the message.
        data = None
    if not isinstance(data, dict):
        return Report(check=check, passed=passed, message=_cut(stripped, MAX_REPORT_BYTES // 2))
    message = data.get("message")
    details = data.get("details")
    report_details: dict[str, Any] = dict(details) if isinstance(details, dict) else {}
    if report_details and not _fits({"details": report_details}):
        report_details = {"truncated": True}
    reported = data.get("passed")
    if isinstance(reported, bool) and reported != passed:
        report_details["reportedPassed"] = reported
    return Report(
        check=check,
        passed=passed,
        value=_printable_scalar(data.get("value")),
        threshold=_printable_scalar(data.get("threshold")),
        # JSON escapes (\u0000) decode to control characters only now.
        message=_cut(printable(message), MAX_REPORT_BYTES // 2) if isinstance(message, str) else "",
        details=report_details,
    )


def _printable_scalar(value: object) -> Scalar:
    """A reported value or threshold as status may hold it: a scalar, a string printable."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _fits(data: dict[str, Any]) -> bool:
    """Whether `data` encodes within the limit (not at all: NaN, too deep, ... is no fit)."""
    try:
        return _size(data) <= MAX_REPORT_BYTES
    except (ValueError, RecursionError):
        return False
