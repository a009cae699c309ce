"""The check report: compact JSON, bounded to 4096 bytes, round-trips; custom messages."""

from __future__ import annotations

import json

import pytest

from modelregistry.checks.report import (
    MAX_REPORT_BYTES,
    TRUNCATED,
    Report,
    ReportError,
    decode,
    from_termination_message,
)


def test_encode_is_compact_json_of_the_documented_fields() -> None:
    report = Report("metrics", False, 0.85, "auc >= 0.9", "auc = 0.85 fails", {"n": 1})

    assert report.encode() == (
        '{"check":"metrics","passed":false,"value":0.85,"threshold":"auc >= 0.9",'
        '"message":"auc = 0.85 fails","details":{"n":1}}'
    )


@pytest.mark.parametrize(
    "report",
    [
        Report("format", True, "mlflow", None, "MLmodel is valid", {"flavors": ["sklearn"]}),
        Report("loadAndPredict", False, 12.5, 10, "p95 too high", {"p50Ms": 3.25}),
        Report("custom-check", True),
        Report("metrics", False, None, "auc >= 0.9", "caf\u00e9 \u2014 missing", {}),
    ],
)
def test_round_trip(report: Report) -> None:
    assert decode(report.encode()) == report


def test_exit_code_is_the_verdict() -> None:
    assert Report("format", True).exit_code == 0
    assert Report("format", False).exit_code == 1


def test_a_long_message_is_cut_to_half_the_limit_and_small_details_stay() -> None:
    report = Report("format", False, "mlflow", None, "m" * 10_000, {"file": "model.pkl"})

    encoded = report.encode()

    data = json.loads(encoded)
    assert len(encoded.encode()) <= MAX_REPORT_BYTES
    assert data["details"] == {"file": "model.pkl"}
    assert data["message"].endswith(TRUNCATED)
    assert data["message"] == "m" * (len(data["message"]) - len(TRUNCATED)) + TRUNCATED
    assert len(encoded.encode()) == MAX_REPORT_BYTES // 2 + len(
        Report("format", False, "mlflow", None, "", {"file": "model.pkl"}).encode().encode()
    )


def test_large_details_go_largest_first_and_are_marked() -> None:
    details = {"small": 1, "big": "b" * 5000, "medium": "c" * 100}
    report = Report("format", False, "mlflow", None, "short message", details)

    data = json.loads(report.encode())

    assert data == {
        "check": "format",
        "passed": False,
        "value": "mlflow",
        "threshold": None,
        "message": "short message",
        "details": {"small": 1, "medium": "c" * 100, "truncated": True},
    }


@pytest.mark.parametrize("char", ["x", "\u00e9", "\u20ac", "\U0001f600", '"', "\n"])
@pytest.mark.parametrize("length", [4000, 4097, 20_000])
def test_never_more_than_4096_bytes(char: str, length: int) -> None:
    report = Report("c" * 100, False, "v" * 1000, "t" * 1000, char * length, {"d": char * length})

    encoded = report.encode()

    assert len(encoded.encode()) <= MAX_REPORT_BYTES
    data = decode(encoded)
    assert data.check == "c" * 50 + TRUNCATED
    assert data.value == "v" * (256 - len(TRUNCATED)) + TRUNCATED
    assert data.threshold == "t" * (256 - len(TRUNCATED)) + TRUNCATED
    assert data.message.startswith(char * 10)
    assert data.message.endswith(TRUNCATED)


def test_a_report_that_fits_is_not_changed() -> None:
    report = Report("format", False, None, None, "x" * 1000, {"d": "y" * 2000})

    assert decode(report.encode()) == report
    assert len(report.encode().encode()) < MAX_REPORT_BYTES


def test_non_finite_values_become_strings() -> None:
    report = Report("loadAndPredict", False, float("nan"), float("inf"))

    assert json.loads(report.encode())["value"] == "nan"
    assert json.loads(report.encode())["threshold"] == "inf"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "the report is not JSON: Expecting value: line 1 column 1 (char 0)"),
        ("[1]", "the report is a JSON list, not an object"),
        ('{"check":"c","passed":true,"extra":1}', "the report has unknown fields: extra"),
        ('{"check":1,"passed":true}', "the report's check must be a string"),
        ('{"check":"c","passed":"yes"}', "the report's passed must be true or false"),
        ('{"check":"c","passed":true,"message":3}', "the report's message must be a string"),
        ('{"check":"c","passed":true,"details":[]}', "the report's details must be an object"),
        (
            '{"check":"c","passed":true,"value":true}',
            "the report's value must be a number, a string or null",
        ),
        (
            '{"check":"c","passed":true,"threshold":{}}',
            "the report's threshold must be a number, a string or null",
        ),
    ],
)
def test_decode_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ReportError) as raised:
        decode(text)
    assert str(raised.value) == message


def test_a_custom_json_report_fills_the_fields_and_the_exit_code_decides() -> None:
    text = (
        '{"passed": true, "value": 0.97, "threshold": 0.95, "message": "ok", "details": {"n": 3}}'
    )

    assert from_termination_message(text, check="bias", exit_code=0) == Report(
        "bias", True, 0.97, 0.95, "ok", {"n": 3}
    )
    assert from_termination_message(text, check="bias", exit_code=1) == Report(
        "bias", False, 0.97, 0.95, "ok", {"n": 3, "reportedPassed": True}
    )


@pytest.mark.parametrize(
    ("text", "exit_code", "expected"),
    [
        ("", 0, Report("custom", True)),
        ("  \n", 3, Report("custom", False)),
        ("segfault in libfoo\n", 139, Report("custom", False, message="segfault in libfoo")),
        ("[1, 2]", 0, Report("custom", True, message="[1, 2]")),
        ('{"message": ', 1, Report("custom", False, message='{"message":')),
        (
            '{"value": true, "threshold": [1], "message": 5, "details": "x", "passed": "no"}',
            1,
            Report("custom", False),
        ),
        ('{"value": "high", "threshold": null}', 0, Report("custom", True, "high")),
    ],
)
def test_termination_messages_are_read_tolerantly(
    text: str, exit_code: int, expected: Report
) -> None:
    assert from_termination_message(text, check="custom", exit_code=exit_code) == expected


def test_a_long_plain_message_is_cut() -> None:
    report = from_termination_message("e" * 10_000, check="custom", exit_code=1)

    assert report.message == "e" * (2048 - len(TRUNCATED)) + TRUNCATED
