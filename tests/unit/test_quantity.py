"""Kubernetes quantities read exactly, compared, and byte counts written back in Mi."""

from __future__ import annotations

from fractions import Fraction

import pytest

from modelregistry.decisions import quantity
from modelregistry.decisions.quantity import MI, QuantityError, mebibytes, parse, smaller


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Fraction(0)),
        ("2", Fraction(2)),
        ("500m", Fraction(1, 2)),
        ("1500m", Fraction(3, 2)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("5.", Fraction(5)),
        ("1.25Gi", Fraction(5 * 2**28)),
        ("250n", Fraction(1, 4_000_000)),
        ("3u", Fraction(3, 10**6)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("1G", Fraction(10**9)),
        ("2T", Fraction(2 * 10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("1Mi", Fraction(2**20)),
        ("256Mi", Fraction(2**28)),
        ("1Gi", Fraction(2**30)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("2e-3", Fraction(2, 1000)),
        ("1.5e+2", Fraction(150)),
        ("1e64", Fraction(10**64)),
        ("1e-64", Fraction(1, 10**64)),
        ("+1", Fraction(1)),
        ("-1", Fraction(-1)),
        ("-500m", Fraction(-1, 2)),
        (" 64Mi\n", Fraction(64 * 2**20)),
    ],
)
def test_a_quantity_is_read_exactly(text: str, value: Fraction) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "m",
        "Gi",
        "1K",
        "1ki",
        "1GB",
        "1 Gi",
        "1.5.5",
        "0x10",
        "1e",
        "1e+",
        "1m3",
        "1Gi3",
        "one",
        "--1",
        "1,5",
        "\u0661",  # an Arabic-Indic digit one
        "1\n2",
    ],
)
def test_what_is_not_a_quantity_is_refused_naming_it(text: str) -> None:
    with pytest.raises(QuantityError) as refused:
        parse(text)

    assert str(refused.value) == f"{text!r} is not a Kubernetes quantity (such as 500m, 2 or 1Gi)"
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize("text", ["1e65", "1e-65", "1E99", "5e+1000"])
def test_an_exponent_beyond_64_is_refused(text: str) -> None:
    with pytest.raises(QuantityError) as refused:
        parse(text)

    assert str(refused.value) == f"{text!r}: the exponent is out of range"


@pytest.mark.parametrize(
    ("a", "b", "smallest"),
    [
        ("1", "500m", "500m"),
        ("500m", "1", "500m"),
        ("1Gi", "1000Mi", "1000Mi"),
        ("1G", "1Gi", "1G"),
        ("1Gi", "1G", "1G"),
        ("1024Mi", "1Gi", "1024Mi"),  # equal: the first
        ("1Gi", "1024Mi", "1Gi"),
        ("-1", "0", "-1"),
    ],
)
def test_smaller_compares_by_value(a: str, b: str, smallest: str) -> None:
    assert smaller(a, b) == smallest


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "1Mi"),
        (1, "1Mi"),
        (MI - 1, "1Mi"),
        (MI, "1Mi"),
        (MI + 1, "2Mi"),
        (10 * MI, "10Mi"),
        (2**30, "1024Mi"),
        (5 * 2**40 + 1, f"{5 * 2**20 + 1}Mi"),
    ],
)
def test_mebibytes_rounds_up_to_whole_mi(size: int, text: str) -> None:
    assert mebibytes(size) == text
    assert parse(text) >= size


def test_one_mi() -> None:
    assert quantity.MI == 1024 * 1024
