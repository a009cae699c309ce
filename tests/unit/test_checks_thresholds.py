"""Metric thresholds: parsing, every operator at and around its boundary, clear errors."""

from __future__ import annotations

import pytest

from modelregistry.checks.report import Report
from modelregistry.checks.thresholds import (
    Threshold,
    ThresholdError,
    evaluate,
    evaluate_all,
    metrics_report,
    parse_threshold,
    parse_thresholds,
)

USAGE = "write it as '<metric> <operator> <number>', the operator one of >=, >, <=, <, =="


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("auc >= 0.9", Threshold("auc", ">=", 0.9, "auc >= 0.9")),
        ("auc>=0.9", Threshold("auc", ">=", 0.9, "auc >= 0.9")),
        (
            "  latency_p95_ms <= 50 ",
            Threshold("latency_p95_ms", "<=", 50.0, "latency_p95_ms <= 50"),
        ),
        ("loss < .5", Threshold("loss", "<", 0.5, "loss < .5")),
        ("f1 > -1e-3", Threshold("f1", ">", -0.001, "f1 > -1e-3")),
        ("eval/acc:top-1 == +3", Threshold("eval/acc:top-1", "==", 3.0, "eval/acc:top-1 == +3")),
        ("_n >= 2.", Threshold("_n", ">=", 2.0, "_n >= 2.")),
    ],
)
def test_parse(expression: str, expected: Threshold) -> None:
    assert parse_threshold(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", f"threshold '' is empty: {USAGE}"),
        ("   ", f"threshold '   ' is empty: {USAGE}"),
        ("auc", f"threshold 'auc' has no comparison operator: {USAGE}"),
        ("auc 0.9", f"threshold 'auc 0.9' has no comparison operator: {USAGE}"),
        ("auc != 0.9", f"threshold 'auc != 0.9' uses the unsupported operator '!=': {USAGE}"),
        ("auc => 0.9", f"threshold 'auc => 0.9' uses the unsupported operator '=>': {USAGE}"),
        ("auc =< 0.9", f"threshold 'auc =< 0.9' uses the unsupported operator '=<': {USAGE}"),
        ("auc = 0.9", f"threshold 'auc = 0.9' uses the unsupported operator '=': {USAGE}"),
        (">= 0.9", f"threshold '>= 0.9' has no metric name: {USAGE}"),
        (
            "0.9 <= auc",
            "threshold '0.9 <= auc': '0.9' is not a metric name "
            "(a letter or _, then letters, digits, _ . : / -)",
        ),
        (
            "my auc >= 1",
            "threshold 'my auc >= 1': 'my auc' is not a metric name "
            "(a letter or _, then letters, digits, _ . : / -)",
        ),
        ("auc >=", f"threshold 'auc >=' has no number after '>=': {USAGE}"),
        ("auc < ", f"threshold 'auc < ' has no number after '<': {USAGE}"),
        ("auc >= 0.9 <= 1", f"threshold 'auc >= 0.9 <= 1' has more than one operator: {USAGE}"),
        ("auc >> 1", f"threshold 'auc >> 1' has more than one operator: {USAGE}"),
        ("auc >= high", f"threshold 'auc >= high': 'high' is not a number: {USAGE}"),
        ("auc >= 0.9x", f"threshold 'auc >= 0.9x': '0.9x' is not a number: {USAGE}"),
        ("auc >= nan", f"threshold 'auc >= nan': 'nan' is not a number: {USAGE}"),
        ("auc >= 1e999", "threshold 'auc >= 1e999': '1e999' is not a finite number"),
    ],
)
def test_malformed_expressions_are_named(expression: str, message: str) -> None:
    with pytest.raises(ThresholdError) as raised:
        parse_threshold(expression)
    assert str(raised.value) == message


def test_parse_thresholds_stops_at_the_first_bad_one() -> None:
    assert parse_thresholds(["a > 1", "b < 2"]) == [
        Threshold("a", ">", 1.0, "a > 1"),
        Threshold("b", "<", 2.0, "b < 2"),
    ]
    with pytest.raises(ThresholdError, match=r"^threshold 'b <' has no number after '<'"):
        parse_thresholds(["a > 1", "b <", "c >"])


@pytest.mark.parametrize(
    ("expression", "actual", "passed"),
    [
        ("auc >= 0.9", 0.91, True),
        ("auc >= 0.9", 0.9, True),
        ("auc >= 0.9", 0.89, False),
        ("auc > 0.9", 0.91, True),
        ("auc > 0.9", 0.9, False),
        ("auc > 0.9", 0.89, False),
        ("auc <= 0.9", 0.91, False),
        ("auc <= 0.9", 0.9, True),
        ("auc <= 0.9", 0.89, True),
        ("auc < 0.9", 0.91, False),
        ("auc < 0.9", 0.9, False),
        ("auc < 0.9", 0.89, True),
        ("auc == 0.9", 0.91, False),
        ("auc == 0.9", 0.9, True),
        ("auc == 0.9", 0.89, False),
        ("auc >= -1", -1, True),
        ("auc <= 50", 50, True),
        ("auc < 50", 50, False),
    ],
)
def test_every_operator_around_its_boundary(expression: str, actual: float, passed: bool) -> None:
    threshold = parse_threshold(expression)
    verb = "meets" if passed else "fails"

    result = evaluate(threshold, {"auc": actual, "other": 0.0})

    assert result.passed is passed
    assert result.actual == float(actual)
    assert result.threshold == threshold
    assert result.message == f"auc = {actual} {verb} '{expression}'"


def test_integral_values_print_without_a_fraction() -> None:
    result = evaluate(parse_threshold("latency_p95_ms <= 50"), {"latency_p95_ms": 51.0})

    assert result.message == "latency_p95_ms = 51 fails 'latency_p95_ms <= 50'"


def test_a_missing_metric_fails_and_is_named() -> None:
    result = evaluate(parse_threshold("auc >= 0.9"), {"accuracy": 0.99})

    assert result.passed is False
    assert result.actual is None
    assert result.message == (
        "metric 'auc' is missing from spec.metrics, and the threshold 'auc >= 0.9' needs it: "
        "record it in the ModelVersion's spec.metrics"
    )


@pytest.mark.parametrize("value", ["0.95", True, None, [0.9]])
def test_a_metric_that_is_not_a_number_fails(value: object) -> None:
    result = evaluate(parse_threshold("f1 > 0.5"), {"f1": value})

    assert result.passed is False
    assert result.actual is None
    assert result.message == (
        f"metric 'f1' is {value!r}, not a number, so the threshold 'f1 > 0.5' cannot be "
        "checked: record a number in spec.metrics"
    )


def test_nan_meets_no_threshold() -> None:
    result = evaluate(parse_threshold("f1 <= 1"), {"f1": float("nan")})

    assert result.passed is False
    assert result.message == "metric 'f1' is NaN, which meets no threshold ('f1 <= 1')"


def test_evaluate_all_keeps_the_order() -> None:
    results = evaluate_all(parse_thresholds(["b < 1", "a > 1"]), {"a": 2, "b": 2})

    assert [(r.threshold.metric, r.passed) for r in results] == [("b", False), ("a", True)]


def test_the_report_of_passing_thresholds_shows_the_last() -> None:
    results = evaluate_all(parse_thresholds(["auc >= 0.9", "loss < 1"]), {"auc": 0.9, "loss": 0.5})

    assert metrics_report(results) == Report(
        "metrics",
        True,
        0.5,
        "loss < 1",
        "auc = 0.9 meets 'auc >= 0.9'; loss = 0.5 meets 'loss < 1'",
        {
            "results": [
                {"threshold": "auc >= 0.9", "value": 0.9, "passed": True},
                {"threshold": "loss < 1", "value": 0.5, "passed": True},
            ]
        },
    )


def test_the_report_of_failing_thresholds_shows_the_first_failure() -> None:
    results = evaluate_all(
        parse_thresholds(["auc >= 0.9", "f1 > 0.5", "loss < 1"]), {"auc": 0.95, "loss": 2}
    )

    assert metrics_report(results, check="quality") == Report(
        "quality",
        False,
        None,
        "f1 > 0.5",
        "metric 'f1' is missing from spec.metrics, and the threshold 'f1 > 0.5' needs it: "
        "record it in the ModelVersion's spec.metrics; loss = 2 fails 'loss < 1'",
        {
            "results": [
                {"threshold": "auc >= 0.9", "value": 0.95, "passed": True},
                {"threshold": "f1 > 0.5", "value": None, "passed": False},
                {"threshold": "loss < 1", "value": 2.0, "passed": False},
            ]
        },
    )


def test_a_report_needs_a_threshold() -> None:
    with pytest.raises(ValueError, match=r"^the metrics check needs at least one threshold$"):
        metrics_report([])
