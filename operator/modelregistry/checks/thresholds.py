"""Metric thresholds such as ``auc >= 0.9``, evaluated over a metrics mapping.

Pure: the operator imports this module to run the `metrics` check without a
Pod, so it imports nothing outside the standard library (and the pure
report module).

An expression is ``<metric> <operator> <number>``; the operators are ``>=``,
``>``, ``<=``, ``<`` and ``==``. Comparisons are exact (no tolerance): a metric
equal to the threshold passes ``>=``, ``<=`` and ``==``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from modelregistry.checks.report import Report

Operator = Literal[">=", ">", "<=", "<", "=="]

OPERATORS: dict[Operator, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}

# Metric names as spec.metrics keys are written: letters, digits, _ . - / :
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]*$")
# Longest first, so `=>` is reported as itself rather than as `=`.
_ANY_OPERATOR = re.compile(r"(>=|<=|==|!=|=>|=<|>|<|=)")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_USAGE = "write it as '<metric> <operator> <number>', the operator one of >=, >, <=, <, =="


class ThresholdError(ValueError):
    """A threshold expression that cannot be parsed."""


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold: `metric operator value`."""

    metric: str
    operator: Operator
    value: float
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ThresholdResult:
    """The outcome of one threshold over one metrics mapping."""

    threshold: Threshold
    actual: float | None
    passed: bool
    message: str


def parse_threshold(expression: str) -> Threshold:
    """Parse ``auc >= 0.9``; raise ThresholdError naming the expression."""
    text = expression.strip()
    if not text:
        raise ThresholdError(f"threshold {expression!r} is empty: {_USAGE}")
    found = _ANY_OPERATOR.search(text)
    if found is None:
        raise ThresholdError(f"threshold {expression!r} has no comparison operator: {_USAGE}")
    op = found.group(1)
    if op not in OPERATORS:
        raise ThresholdError(
            f"threshold {expression!r} uses the unsupported operator {op!r}: {_USAGE}"
        )
    name, number = text[: found.start()].strip(), text[found.end() :].strip()
    if not name:
        raise ThresholdError(f"threshold {expression!r} has no metric name: {_USAGE}")
    if _NAME.match(name) is None:
        raise ThresholdError(
            f"threshold {expression!r}: {name!r} is not a metric name "
            f"(a letter or _, then letters, digits, _ . : / -)"
        )
    if not number:
        raise ThresholdError(f"threshold {expression!r} has no number after {op!r}: {_USAGE}")
    if _ANY_OPERATOR.search(number) is not None:
        raise ThresholdError(f"threshold {expression!r} has more than one operator: {_USAGE}")
    if _NUMBER.match(number) is None:
        raise ThresholdError(f"threshold {expression!r}: {number!r} is not a number: {_USAGE}")
    value = float(number)
    if not math.isfinite(value):
        raise ThresholdError(f"threshold {expression!r}: {number!r} is not a finite number")
    return Threshold(
        metric=name, operator=cast("Operator", op), value=value, text=f"{name} {op} {number}"
    )


def parse_thresholds(expressions: Iterable[str]) -> list[Threshold]:
    return [parse_threshold(expression) for expression in expressions]


def evaluate(threshold: Threshold, metrics: Mapping[str, object]) -> ThresholdResult:
    """Compare one metric with its threshold; a missing or non-numeric metric fails."""
    if threshold.metric not in metrics:
        return ThresholdResult(
            threshold,
            None,
            False,
            f"metric {threshold.metric!r} is missing from spec.metrics, and the threshold "
            f"'{threshold}' needs it: record it in the ModelVersion's spec.metrics",
        )
    raw = metrics[threshold.metric]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return ThresholdResult(
            threshold,
            None,
            False,
            f"metric {threshold.metric!r} is {raw!r}, not a number, so the threshold "
            f"'{threshold}' cannot be checked: record a number in spec.metrics",
        )
    actual = float(raw)
    if math.isnan(actual):
        return ThresholdResult(
            threshold,
            actual,
            False,
            f"metric {threshold.metric!r} is NaN, which meets no threshold ('{threshold}')",
        )
    passed = OPERATORS[threshold.operator](actual, threshold.value)
    verb = "meets" if passed else "fails"
    return ThresholdResult(
        threshold, actual, passed, f"{threshold.metric} = {_show(actual)} {verb} '{threshold}'"
    )


def evaluate_all(
    thresholds: Iterable[Threshold], metrics: Mapping[str, object]
) -> list[ThresholdResult]:
    return [evaluate(threshold, metrics) for threshold in thresholds]


def metrics_report(results: Sequence[ThresholdResult], check: str = "metrics") -> Report:
    """The report of the metrics check: value and threshold of the first failure, else the last.

    The message lists every failure (or every result when all passed);
    details.results lists each threshold with its value and verdict.
    """
    if not results:
        raise ValueError("the metrics check needs at least one threshold")
    details = {
        "results": [
            {"threshold": r.threshold.text, "value": r.actual, "passed": r.passed} for r in results
        ]
    }
    failed = [r for r in results if not r.passed]
    shown = failed[0] if failed else results[-1]
    message = "; ".join(r.message for r in (failed or results))
    return Report(check, not failed, shown.actual, shown.threshold.text, message, details)


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
