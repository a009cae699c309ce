"""Kubernetes resource quantities (`500m`, `2`, `1Gi`, `1e3`), read exactly, for clamping.

Only what the validation Pod needs: parse a quantity to an exact fraction,
compare two, and write a byte count back as a whole number of `Mi` (which
the API server stores in canonical form: `1024Mi` as `1Gi`). Pure: no client
library.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

_BINARY: Final = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: Final = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY: Final = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)|[eE](?P<exponent>[+-]?[0-9]+))$"
)
MI: Final = 2**20


class QuantityError(ValueError):
    """Text that is not a Kubernetes quantity."""


def parse(text: str) -> Fraction:
    """The exact value of a quantity, e.g. `parse("500m") == Fraction(1, 2)`."""
    found = _QUANTITY.match(text.strip())
    if found is None:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity (such as 500m, 2 or 1Gi)")
    value = Fraction(found["number"])
    if found["exponent"] is not None:
        exponent = int(found["exponent"])
        if abs(exponent) > 64:
            raise QuantityError(f"{text!r}: the exponent is out of range")
        value *= Fraction(10) ** exponent
    elif found["suffix"] in _BINARY:
        value *= _BINARY[found["suffix"]]
    else:
        value *= _DECIMAL[found["suffix"] or ""]
    return -value if found["sign"] == "-" else value


def smaller(a: str, b: str) -> str:
    """Whichever of two quantities is smaller (the first when equal)."""
    return b if parse(b) < parse(a) else a


def mebibytes(size: int) -> str:
    """`size` bytes rounded up to whole Mi (at least 1Mi)."""
    return f"{max(1, -(-size // MI))}Mi"
