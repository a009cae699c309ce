"""The check report: compact JSON, bounded to 4096 bytes, round-trips; custom messages, which
end in a report whatever they hold (property-tested over arbitrary bytes and nested JSON)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelregistry.checks.report import (
    MAX_REPORT_BYTES,
    TRUNCATED,
    Report,
    ReportError,
    decode,
    from_termination_message,
    printable,
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


# --- any termination message ends in a report ----------------------------------------------------

CONTROL = frozenset(chr(c) for c in (*range(32), *range(127, 160))) - {"\n", "\t"}
# What details may add to the report's limit once they fit: the reportedPassed flag.
REPORTED_PASSED = len(',"reportedPassed":false')
NO_DATABASE = settings(database=None, deadline=None, derandomize=True, max_examples=300)
exit_codes = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def assert_reads_well(text: str, exit_code: int) -> Report:
    """The report any text must give: the exit code's verdict and a printable, bounded message."""
    report = from_termination_message(text, check="custom", exit_code=exit_code)

    assert report.check == "custom"
    assert report.passed is (exit_code == 0)
    assert len(report.message) <= MAX_REPORT_BYTES // 2
    assert not CONTROL & set(report.message)
    for scalar in (report.value, report.threshold):
        assert scalar is None or type(scalar) in (int, float, str)
        assert not (isinstance(scalar, str) and CONTROL & set(scalar))
    assert isinstance(report.details, dict)
    size = len(json.dumps({"details": report.details}, ensure_ascii=False).encode())
    assert size <= MAX_REPORT_BYTES + REPORTED_PASSED
    return report


@NO_DATABASE
@given(st.binary(max_size=2 * MAX_REPORT_BYTES), exit_codes)
def test_any_bytes_end_in_a_report(raw: bytes, exit_code: int) -> None:
    # The kubelet hands the operator Go strings: invalid UTF-8 arrives replaced.
    assert_reads_well(raw.decode("utf-8", errors="replace"), exit_code)


@NO_DATABASE
@given(st.text(max_size=MAX_REPORT_BYTES), exit_codes)
def test_any_text_ends_in_a_report(text: str, exit_code: int) -> None:
    assert_reads_well(text, exit_code)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=50)
    | st.sampled_from(["\x00", "\x1b[31m", "\u009b2J", "\ud800", "\t\n"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=40,
)
reports = st.fixed_dictionaries(
    {},
    optional={
        "check": json_values,
        "passed": json_values,
        "value": json_values,
        "threshold": json_values,
        "message": json_values | st.text(max_size=5000),
        "details": json_values | st.dictionaries(st.text(max_size=10), json_values),
    },
)


@NO_DATABASE
@given(reports, exit_codes, st.booleans())
def test_any_json_object_ends_in_a_report(
    data: dict[str, Any], exit_code: int, ascii_only: bool
) -> None:
    report = assert_reads_well(json.dumps(data, ensure_ascii=ascii_only), exit_code)

    reported = data.get("passed")
    if isinstance(reported, bool) and reported != (exit_code == 0):
        assert report.details["reportedPassed"] is reported
    else:
        assert "reportedPassed" not in report.details


@NO_DATABASE
@given(json_values, exit_codes)
def test_any_json_that_is_not_an_object_is_the_message(value: Any, exit_code: int) -> None:
    text = json.dumps(value)

    report = assert_reads_well(text, exit_code)

    if not isinstance(value, dict):
        assert (report.value, report.threshold, report.details) == (None, None, {})


@pytest.mark.parametrize(
    "text",
    [
        "[" * 4096,
        "{" * 4096,
        '{"details":' + "[" * 4000,
        '{"message": "deep", "details": {"d": ' + "[" * 900 + "]" * 900 + "}}",
        "\x00" * 4096,
        "\xff\xfe\xfd".encode("latin-1").decode("utf-8", errors="replace") * 1000,
        "1" * 5000,
        '{"value": ' + "9" * 5000 + "}",
        '{"value": 1e999, "threshold": -1e999}',
        '{"value": NaN, "threshold": Infinity, "details": {"x": NaN}}',
        '{"message": "\\u0000\\u001b[31mred\\u001b[0m\\u009b2J", "value": "\\u0007bell"}',
        '{"message": "\\ud800 lone", "details": {"k": "\\udfff"}}',
        "\x1b]0;title\x07\x1b[2J",
        "\u009b31m" * 3000,
    ],
    ids=[
        "brackets",
        "braces",
        "deep-details-unclosed",
        "deep-details",
        "nuls",
        "invalid-utf8",
        "huge-number",
        "huge-value",
        "infinite",
        "nan",
        "escapes",
        "surrogates",
        "terminal",
        "c1",
    ],
)
@pytest.mark.parametrize("exit_code", [0, 1, 137])
def test_hostile_messages_end_in_a_report(text: str, exit_code: int) -> None:
    assert_reads_well(text, exit_code)


def test_a_report_of_brackets_is_their_text_cut() -> None:
    report = from_termination_message("[" * 4096, check="custom", exit_code=1)

    assert report == Report("custom", False, message="[" * (2048 - len(TRUNCATED)) + TRUNCATED)


def test_nuls_are_no_message() -> None:
    assert from_termination_message("\x00" * 4096, check="c", exit_code=0) == Report("c", True)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("plain text", "plain text"),
        ("a\x00b\x01c\x1fd\x7fe\x80f\x9bg\x9fh\xa0i", "abcdefgh\xa0i"),
        ("line\nnext\ttab\rreturn\x0bvt\x0cff", "line\nnext\ttabreturnvtff"),
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),
        ("caf\u00e9 \u2014 \U0001f600 \u2028", "caf\u00e9 \u2014 \U0001f600 \u2028"),
        ("", ""),
    ],
)
def test_printable_drops_control_characters_but_newline_and_tab(text: str, kept: str) -> None:
    assert printable(text) == kept


def test_control_characters_are_dropped_from_a_plain_message_before_it_is_cut() -> None:
    report = from_termination_message("\x00" * 3000 + "ok" + "\x07", check="c", exit_code=1)

    assert report == Report("c", False, message="ok")


def test_json_escapes_of_control_characters_are_dropped_from_message_value_and_threshold() -> None:
    text = json.dumps(
        {"message": "\x1b[2Jcleared\x00", "value": "\x9b1mv", "threshold": "t\x07", "details": {}}
    )

    assert from_termination_message(text, check="c", exit_code=0) == Report(
        "c", True, value="1mv", threshold="t", message="[2Jcleared"
    )


@pytest.mark.parametrize(
    "details",
    [
        {"big": "x" * 5000},
        {"nan": float("nan")},
        {"inf": [float("inf")]},
        {"surrogate": "\ud800"},
    ],
    ids=["oversized", "nan", "infinity", "unencodable"],
)
def test_details_that_do_not_encode_within_the_limit_are_replaced(details: dict[str, Any]) -> None:
    text = json.dumps({"passed": True, "message": "m", "details": details})

    assert from_termination_message(text, check="c", exit_code=0) == Report(
        "c", True, message="m", details={"truncated": True}
    )
    assert from_termination_message(text, check="c", exit_code=1) == Report(
        "c", False, message="m", details={"truncated": True, "reportedPassed": True}
    )


def test_details_that_fit_are_kept_as_they_are() -> None:
    details = {"big": "x" * 4000, "n": [1, 2.5, None]}
    text = json.dumps({"details": details})

    assert from_termination_message(text, check="c", exit_code=0).details == details


def test_a_long_json_message_is_cut_to_half_the_limit() -> None:
    text = json.dumps({"message": "\x00m" * 3000})

    report = from_termination_message(text, check="c", exit_code=0)

    assert report.message == "m" * (2048 - len(TRUNCATED)) + TRUNCATED
