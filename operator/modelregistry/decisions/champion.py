"""The champion gate: Production only for a version that beats the one it would follow.

The Model's `policy.production.mustBeat` names a metric, a margin and whom
to beat: the version holding Production when the gate runs (the one the
Production lock names, read afresh by the reconciler), or the version an
alias names. The values compared are the scores a built-in compare check
measured, where the policy names one that ran and passed (its result's
value is this version's score, its threshold the holder's); otherwise both
versions' declared `spec.metrics`. With nobody to beat, the first version
passes; a version without the metric never does, since none after it could
be compared with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from modelregistry.api.lifecycle import Comparison
from modelregistry.api.model import MustBeat
from modelregistry.api.modelversion import CheckResult
from modelregistry.reasons import Reason

HOLDER: Final = "holder"
# Differences are rounded to this many decimals, so 0.91 - 0.905 is the 0.005 asked for.
PRECISION: Final = 12
POLICY: Final = "the Model's spec.policy.production.mustBeat"


@dataclass(frozen=True)
class Rule:
    """The parts of `mustBeat` the gate reads, with their defaults."""

    metric: str
    by: float = 0.0
    lower_is_better: bool = False
    against: str = HOLDER
    check: str | None = None

    @classmethod
    def of(cls, must_beat: MustBeat | None) -> Rule | None:
        if must_beat is None:
            return None
        return cls(
            metric=must_beat.metric,
            by=must_beat.by or 0.0,
            lower_is_better=bool(must_beat.lower_is_better),
            against=must_beat.against or HOLDER,
            check=must_beat.check,
        )


@dataclass(frozen=True)
class Champion:
    """The version to beat, as read when the gate runs."""

    role: str  # how it is named: "the Production holder", "alias 'champion'"
    name: str | None = None  # None: nobody to beat
    uid: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)  # its declared spec.metrics
    why_none: str = ""  # with no name: why there is nobody to beat
    problem: str | None = None  # it cannot be told who it is (an alias naming no version)


def compare(
    rule: Rule,
    declared: Mapping[str, float],
    champion: Champion,
    checks: Sequence[CheckResult] = (),
    builtins: frozenset[str] = frozenset(),
) -> Comparison:
    """This version's value beside the champion's: measured where the policy's check says."""
    measured = _measured(rule, checks, builtins)
    candidate: float | None
    against: float | None
    if measured is not None and (measured[1] is not None or champion.name is None):
        candidate, against = measured
        source = "Measured"
    else:
        candidate, against = declared.get(rule.metric), champion.metrics.get(rule.metric)
        source = "Declared"
    if champion.name is None:
        against = None
    # A champion without the metric shows nothing this version beats.
    comparable = champion.problem is None and (champion.name is None or against is not None)
    return Comparison(
        metric=rule.metric,
        candidate=candidate,
        against=against,
        against_version=champion.name,
        by=rule.by,
        lower_is_better=rule.lower_is_better or None,
        source=source,
        passed=comparable and beats(rule, candidate, against),
    )


def beats(rule: Rule, candidate: float | None, against: float | None) -> bool:
    """Strictly better than `against`, by at least the margin; anything beats nobody."""
    if candidate is None:
        return False
    if against is None:
        return True
    better = round(_gain(rule, candidate, against), PRECISION)
    return better > 0 and better >= rule.by


def refusal(rule: Rule, comparison: Comparison, champion: Champion) -> tuple[str, str] | None:
    """Why Production is not granted, as a reason and a message; None when it beats it."""
    if comparison.passed:
        return None
    metric = rule.metric
    if comparison.candidate is None:
        return (
            Reason.METRIC_MISSING,
            f"Production needs {metric} ({POLICY}), and this version declares none in "
            f"spec.metrics{_unmeasured(rule)}. What a version registered cannot change: "
            f"register a new version with {metric} in spec.metrics.",
        )
    if champion.problem is not None:
        return (
            Reason.CHAMPION_NOT_BEATEN,
            f"Production needs {metric} to beat {champion.role} ({POLICY}), and "
            f"{champion.problem}: point the alias at a version, or change the policy.",
        )
    if comparison.against is None:
        return (
            Reason.CHAMPION_NOT_BEATEN,
            f"Production needs {metric} to beat {champion.name} ({champion.role}, {POLICY}), "
            f"which declares no {metric} to compare with: archive it, or compare with an alias "
            "(mustBeat.against).",
        )
    gain = _gain(rule, comparison.candidate, comparison.against)
    return (
        Reason.CHAMPION_NOT_BEATEN,
        f"Production needs {metric} {_than(rule, comparison.against)} ({champion.name}, "
        f"{champion.role}) by {'at least ' + _num(rule.by) if rule.by else 'any margin'} "
        f"({POLICY}{_source(comparison)}); this version has {_num(comparison.candidate)}, "
        f"{_change(gain)}. Register a better version, or change the policy.",
    )


def summary(rule: Rule, comparison: Comparison, champion: Champion) -> str:
    """The comparison that let Production be granted, both values side by side."""
    candidate = _num(comparison.candidate)
    if comparison.against is None or champion.name is None:
        why = champion.why_none or f"{champion.role} names no version"
        return f"{rule.metric} {candidate}; there is no version to beat ({why})."
    gain = _gain(rule, comparison.candidate or 0.0, comparison.against)
    margin = f", at least {_num(rule.by)} asked" if rule.by else ""
    return (
        f"{rule.metric} {candidate} beats {_num(comparison.against)} ({champion.name}, "
        f"{champion.role}) by {_num(gain)}{margin}{_source(comparison)}."
    )


def _measured(
    rule: Rule, checks: Sequence[CheckResult], builtins: frozenset[str]
) -> tuple[float, float | None] | None:
    """The named compare check's scores (this version's, the holder's), where it passed.

    Only a built-in check counts (a version's own image could report any
    number), and only against the holder, whom the compare check scores.
    """
    if rule.check is None or rule.against != HOLDER or rule.check not in builtins:
        return None
    result = next((c for c in checks if c.name == rule.check), None)
    if result is None or result.result != "Passed":
        return None
    candidate = _number(result.value)
    if candidate is None:
        return None
    return candidate, _number(result.threshold)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _gain(rule: Rule, candidate: float, against: float) -> float:
    return against - candidate if rule.lower_is_better else candidate - against


def _than(rule: Rule, against: float) -> str:
    return f"{'below' if rule.lower_is_better else 'above'} {_num(against)}"


def _change(gain: float) -> str:
    rounded = round(gain, PRECISION)
    if rounded > 0:
        return f"better by {_num(rounded)}"
    if rounded < 0:
        return f"worse by {_num(-rounded)}"
    return "the same"


def _source(comparison: Comparison) -> str:
    return "; measured by the compare check" if comparison.source == "Measured" else ""


def _unmeasured(rule: Rule) -> str:
    if rule.check is None:
        return ""
    return f", and the compare check {rule.check} has no passed score for it"


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"
