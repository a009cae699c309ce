"""The champion gate: Production only for a version that beats the one it would follow, on
declared metrics or the compare check's measured scores; and where the lifecycle runs it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from modelregistry.api.lifecycle import Comparison, Stage
from modelregistry.api.model import ModelPolicy, MustBeat, ProductionPolicy
from modelregistry.api.modelversion import CheckResult
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import champion, lifecycle
from modelregistry.decisions.champion import Champion, Rule
from modelregistry.decisions.lifecycle import Observed, Policy
from modelregistry.decisions.passdata import VersionView
from modelregistry.reasons import STAGE_GRANTED, Reason

from .lifecyclebuilders import passing, version_view

AUC = Rule("auc", by=0.005)
LATENCY = Rule("latency_ms", by=5, lower_is_better=True)
HOLDER = Champion("the Production holder", "fraud-1", "uid-fraud-1", {"auc": 0.905})
NOBODY = Champion("the Production holder", why_none="no other version holds Production")
POLICY = "the Model's spec.policy.production.mustBeat"


def result(
    name: str, outcome: str = "Passed", value: str | None = "0.93", threshold: str | None = "0.91"
) -> CheckResult:
    return CheckResult.model_validate(
        {"name": name, "result": outcome, "value": value, "threshold": threshold}
    )


def compared(**fields: Any) -> Comparison:
    base: dict[str, Any] = {
        "metric": "auc",
        "by": 0.005,
        "source": "Declared",
        "against_version": "fraud-1",
    }
    return Comparison(**{**base, **fields})


# --- the rule -------------------------------------------------------------------------


def test_the_rule_s_defaults() -> None:
    assert Rule.of(None) is None
    assert Rule.of(MustBeat(metric="auc")) == Rule("auc", 0.0, False, "holder", None)
    assert Rule.of(
        MustBeat(metric="loss", by=0.1, lower_is_better=True, against="champion", check="ab")
    ) == Rule("loss", 0.1, True, "champion", "ab")


@pytest.mark.parametrize(
    ("rule", "candidate", "against", "beats"),
    [
        (AUC, 0.912, 0.905, True),
        (AUC, 0.91, 0.905, True),  # exactly the margin, whatever the floats say
        (AUC, 0.909, 0.905, False),
        (AUC, 0.905, 0.905, False),
        (AUC, 0.8, 0.905, False),
        (Rule("auc"), 0.9051, 0.905, True),  # no margin: strictly better
        (Rule("auc"), 0.905, 0.905, False),
        (LATENCY, 40.0, 50.0, True),
        (LATENCY, 45.0, 50.0, True),
        (LATENCY, 46.0, 50.0, False),
        (LATENCY, 60.0, 50.0, False),
        (AUC, 0.1, None, True),  # nobody to beat
        (AUC, None, 0.9, False),
        (AUC, None, None, False),  # and none without the metric, even first
    ],
)
def test_beating_is_strictly_better_by_at_least_the_margin(
    rule: Rule, candidate: float | None, against: float | None, beats: bool
) -> None:
    assert champion.beats(rule, candidate, against) is beats


# --- declared or measured ---------------------------------------------------------------


def test_declared_metrics_side_by_side() -> None:
    assert champion.compare(AUC, {"auc": 0.912, "f1": 0.5}, HOLDER) == compared(
        candidate=0.912, against=0.905, passed=True
    )
    assert champion.compare(AUC, {"auc": 0.906}, HOLDER) == compared(
        candidate=0.906, against=0.905, passed=False
    )
    assert champion.compare(LATENCY, {"latency_ms": 40}, Champion("r", "v", "u", {})) == (
        Comparison(
            metric="latency_ms",
            candidate=40,
            against=None,
            against_version="v",
            by=5,
            lower_is_better=True,
            source="Declared",
            passed=False,
        )
    )


def test_with_nobody_to_beat_the_first_version_passes_if_it_has_the_metric() -> None:
    assert champion.compare(AUC, {"auc": 0.5}, NOBODY) == compared(
        candidate=0.5, against_version=None, passed=True
    )
    assert champion.compare(AUC, {}, NOBODY) == compared(against_version=None, passed=False)


def test_a_champion_that_cannot_be_told_is_not_beaten() -> None:
    lost = Champion(
        "alias 'champion'", problem="alias 'champion' names version 7, which does not exist"
    )

    assert champion.compare(AUC, {"auc": 0.99}, lost) == compared(
        candidate=0.99, against_version=None, passed=False
    )


RULE_WITH_CHECK = dataclasses.replace(AUC, check="ab")


@pytest.mark.parametrize(
    ("rule", "checks", "builtins", "holder", "expected"),
    [
        # The named built-in check passed: its scores, not the declared ones.
        (RULE_WITH_CHECK, [result("ab")], {"ab"}, HOLDER, ("Measured", 0.93, 0.91)),
        # Nobody to beat now: its score alone.
        (RULE_WITH_CHECK, [result("ab", threshold=None)], {"ab"}, NOBODY, ("Measured", 0.93, None)),
        (RULE_WITH_CHECK, [result("ab")], {"ab"}, NOBODY, ("Measured", 0.93, None)),
        # A holder now, but no score of one: both declared.
        (
            RULE_WITH_CHECK,
            [result("ab", threshold=None)],
            {"ab"},
            HOLDER,
            ("Declared", 0.92, 0.905),
        ),
        (
            RULE_WITH_CHECK,
            [result("ab", threshold="n/a")],
            {"ab"},
            HOLDER,
            ("Declared", 0.92, 0.905),
        ),
        # Not passed, not there, not numbers, not built-in, not named: declared.
        (RULE_WITH_CHECK, [result("ab", "Failed")], {"ab"}, HOLDER, ("Declared", 0.92, 0.905)),
        (RULE_WITH_CHECK, [result("ab", "Running")], {"ab"}, HOLDER, ("Declared", 0.92, 0.905)),
        (RULE_WITH_CHECK, [result("other")], {"ab", "other"}, HOLDER, ("Declared", 0.92, 0.905)),
        (RULE_WITH_CHECK, [result("ab", value=None)], {"ab"}, HOLDER, ("Declared", 0.92, 0.905)),
        (RULE_WITH_CHECK, [result("ab", value="high")], {"ab"}, HOLDER, ("Declared", 0.92, 0.905)),
        (RULE_WITH_CHECK, [result("ab")], set(), HOLDER, ("Declared", 0.92, 0.905)),
        (AUC, [result("ab")], {"ab"}, HOLDER, ("Declared", 0.92, 0.905)),
        # The compare check scores the holder: against an alias, declared metrics.
        (
            dataclasses.replace(RULE_WITH_CHECK, against="champion"),
            [result("ab")],
            {"ab"},
            HOLDER,
            ("Declared", 0.92, 0.905),
        ),
    ],
)
def test_the_compare_check_s_scores_count_where_the_policy_names_it_and_it_passed(
    rule: Rule,
    checks: list[CheckResult],
    builtins: set[str],
    holder: Champion,
    expected: tuple[str, float, float | None],
) -> None:
    found = champion.compare(rule, {"auc": 0.92}, holder, checks, frozenset(builtins))

    assert (found.source, found.candidate, found.against) == expected
    assert found.against_version == holder.name


# --- what the gate says ------------------------------------------------------------------


def test_a_comparison_that_passed_is_no_refusal() -> None:
    assert (
        champion.refusal(AUC, compared(candidate=0.92, against=0.905, passed=True), HOLDER) is None
    )


def test_not_beaten_names_both_values_and_the_margin() -> None:
    assert champion.refusal(
        AUC, compared(candidate=0.907, against=0.905, passed=False), HOLDER
    ) == (
        Reason.CHAMPION_NOT_BEATEN,
        "Production needs auc above 0.905 (fraud-1, the Production holder) by at least 0.005 "
        f"({POLICY}); this version has 0.907, better by 0.002. Register a better version, or "
        "change the policy.",
    )
    assert champion.refusal(
        Rule("auc"), compared(candidate=0.9, against=0.905, by=0, passed=False), HOLDER
    ) == (
        Reason.CHAMPION_NOT_BEATEN,
        "Production needs auc above 0.905 (fraud-1, the Production holder) by any margin "
        f"({POLICY}); this version has 0.9, worse by 0.005. Register a better version, or change "
        "the policy.",
    )


def test_lower_is_better_reads_as_below() -> None:
    holder = Champion("alias 'champion'", "fraud-2", "u", {"latency_ms": 50})
    found = champion.compare(LATENCY, {"latency_ms": 50}, holder, [result("ab")], frozenset({"ab"}))

    assert champion.refusal(LATENCY, found, holder) == (
        Reason.CHAMPION_NOT_BEATEN,
        "Production needs latency_ms below 50 (fraud-2, alias 'champion') by at least 5 "
        f"({POLICY}); this version has 50, the same. Register a better version, or change the "
        "policy.",
    )


def test_measured_scores_say_so() -> None:
    rule = RULE_WITH_CHECK
    found = champion.compare(rule, {}, HOLDER, [result("ab", value="0.9")], frozenset({"ab"}))

    assert champion.refusal(rule, found, HOLDER) == (
        Reason.CHAMPION_NOT_BEATEN,
        "Production needs auc above 0.91 (fraud-1, the Production holder) by at least 0.005 "
        f"({POLICY}; measured by the compare check); this version has 0.9, worse by 0.01. "
        "Register a better version, or change the policy.",
    )


def test_a_version_without_the_metric_is_refused_with_the_metric_named() -> None:
    assert champion.refusal(AUC, compared(passed=False), HOLDER) == (
        Reason.METRIC_MISSING,
        f"Production needs auc ({POLICY}), and this version declares none in spec.metrics. "
        "What a version registered cannot change: register a new version with auc in "
        "spec.metrics.",
    )
    assert champion.refusal(RULE_WITH_CHECK, compared(passed=False), NOBODY) == (
        Reason.METRIC_MISSING,
        f"Production needs auc ({POLICY}), and this version declares none in spec.metrics, and "
        "the compare check ab has no passed score for it. What a version registered cannot "
        "change: register a new version with auc in spec.metrics.",
    )


def test_a_holder_without_the_metric_cannot_be_beaten() -> None:
    bare = dataclasses.replace(HOLDER, metrics={})

    assert champion.refusal(AUC, champion.compare(AUC, {"auc": 0.9}, bare), bare) == (
        Reason.CHAMPION_NOT_BEATEN,
        f"Production needs auc to beat fraud-1 (the Production holder, {POLICY}), which declares "
        "no auc to compare with: archive it, or compare with an alias (mustBeat.against).",
    )


def test_an_alias_naming_no_version_is_said() -> None:
    lost = Champion(
        "alias 'champion'", problem="alias 'champion' names version 7, which does not exist"
    )

    assert champion.refusal(AUC, champion.compare(AUC, {"auc": 0.9}, lost), lost) == (
        Reason.CHAMPION_NOT_BEATEN,
        f"Production needs auc to beat alias 'champion' ({POLICY}), and alias 'champion' names "
        "version 7, which does not exist: point the alias at a version, or change the policy.",
    )


@pytest.mark.parametrize(
    ("rule", "comparison", "holder", "text"),
    [
        (
            AUC,
            compared(candidate=0.912, against=0.905, passed=True),
            HOLDER,
            "auc 0.912 beats 0.905 (fraud-1, the Production holder) by 0.007, at least 0.005 "
            "asked.",
        ),
        (
            Rule("auc"),
            compared(candidate=0.912, against=0.905, by=0, passed=True),
            HOLDER,
            "auc 0.912 beats 0.905 (fraud-1, the Production holder) by 0.007.",
        ),
        (
            LATENCY,
            compared(metric="latency_ms", candidate=40, against=50, by=5, passed=True),
            HOLDER,
            "latency_ms 40 beats 50 (fraud-1, the Production holder) by 10, at least 5 asked.",
        ),
        (
            AUC,
            compared(candidate=0.93, against=0.91, source="Measured", passed=True),
            HOLDER,
            "auc 0.93 beats 0.91 (fraud-1, the Production holder) by 0.02, at least 0.005 asked; "
            "measured by the compare check.",
        ),
        (
            AUC,
            compared(candidate=0.5, against_version=None, passed=True),
            NOBODY,
            "auc 0.5; there is no version to beat (no other version holds Production).",
        ),
        (
            AUC,
            compared(candidate=0.5, against_version=None, passed=True),
            Champion("alias 'champion'"),
            "auc 0.5; there is no version to beat (alias 'champion' names no version).",
        ),
    ],
)
def test_the_grant_shows_both_values(
    rule: Rule, comparison: Comparison, holder: Champion, text: str
) -> None:
    assert champion.summary(rule, comparison, holder) == text


# --- in the lifecycle ------------------------------------------------------------------


GATED = Policy(must_beat=AUC)


def view(asked: Stage = "Production", stage: Stage | None = None, **metrics: float) -> VersionView:
    base = version_view(asked, stage=stage)
    spec = base.spec.model_copy(update={"metrics": metrics or None})
    return dataclasses.replace(base, spec=spec)


def observing(policy: Policy = GATED, holder: Champion | None = HOLDER, **more: Any) -> Observed:
    return dataclasses.replace(passing(policy), champion=holder, **more)


def stage_condition(decision: lifecycle.StageDecision) -> DesiredCondition:
    return next(c for c in decision.result.conditions if c.type == STAGE_GRANTED)


def test_the_policy_reads_must_beat() -> None:
    policy = ModelPolicy(production=ProductionPolicy(must_beat=MustBeat(metric="auc", by=0.005)))

    assert Policy.of(policy).must_beat == AUC
    assert Policy.of(ModelPolicy(production=ProductionPolicy())).must_beat is None


def test_production_granted_shows_what_it_beat_in_the_condition_and_status() -> None:
    decision = lifecycle.decide(view(auc=0.912), observing())

    assert stage_condition(decision) == DesiredCondition(
        STAGE_GRANTED,
        "True",
        Reason.GRANTED,
        "Production is granted: auc 0.912 beats 0.905 (fraud-1, the Production holder) by "
        "0.007, at least 0.005 asked.",
    )
    assert decision.result.status["stage"] == "Production"
    assert decision.result.status["comparison"] == compared(
        candidate=0.912, against=0.905, passed=True
    )
    assert decision.take_production


def test_production_refused_keeps_the_stage_and_records_the_comparison() -> None:
    decision = lifecycle.decide(view(stage="Staging", auc=0.907), observing())

    assert stage_condition(decision).reason == Reason.CHAMPION_NOT_BEATEN
    assert decision.result.status["stage"] == "Staging"
    assert decision.result.status["comparison"] == compared(
        candidate=0.907, against=0.905, passed=False
    )
    assert not decision.take_production


def test_without_the_metric_production_is_refused_naming_it() -> None:
    decision = lifecycle.decide(view(f1=0.9), observing(holder=NOBODY))

    assert stage_condition(decision).reason == Reason.METRIC_MISSING
    assert "Production needs auc" in stage_condition(decision).message


def test_a_champion_not_read_is_no_grant() -> None:
    decision = lifecycle.decide(view(auc=0.99), observing(holder=None))

    assert stage_condition(decision) == DesiredCondition(
        STAGE_GRANTED,
        "False",
        Reason.CHAMPION_NOT_BEATEN,
        "Production needs auc compared with the version to beat, which was not read: looking "
        "again.",
    )
    assert "comparison" not in decision.result.status


def test_the_gate_is_for_production_only_and_for_a_new_grant_only() -> None:
    staging = lifecycle.decide(view("Staging"), observing(holder=None))
    held = lifecycle.decide(view(stage="Production"), observing(holder=None))
    unpoliced = lifecycle.decide(view(), observing(Policy(), holder=None))

    assert stage_condition(staging).reason == Reason.GRANTED
    assert stage_condition(held).reason == Reason.GRANTED
    assert stage_condition(unpoliced).message == "Production is granted."
    for decision in (staging, held, unpoliced):
        assert "comparison" not in decision.result.status


def test_no_approval_is_asked_of_a_version_that_does_not_beat_the_holder() -> None:
    policy = dataclasses.replace(GATED, approval_for=frozenset({"Production"}))

    decision = lifecycle.decide(view(auc=0.8), observing(policy))

    assert stage_condition(decision).reason == Reason.CHAMPION_NOT_BEATEN


def test_checks_pending_come_before_the_comparison_which_is_recorded_meanwhile() -> None:
    decision = lifecycle.decide(view(auc=0.95), observing(validated="Unknown"))

    assert stage_condition(decision).reason == Reason.VALIDATION_PENDING
    assert decision.result.status["comparison"] == compared(
        candidate=0.95, against=0.905, passed=True
    )


def test_measured_scores_reach_the_gate() -> None:
    policy = Policy(must_beat=RULE_WITH_CHECK)
    observed = observing(
        policy, checks=(result("ab", value="0.90"),), builtin_checks=frozenset({"ab"})
    )

    decision = lifecycle.decide(view(auc=0.99), observed)

    assert stage_condition(decision).reason == Reason.CHAMPION_NOT_BEATEN
    assert decision.result.status["comparison"].source == "Measured"
