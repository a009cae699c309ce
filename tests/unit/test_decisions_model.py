"""A Model's status: the exact summary of its versions."""

from __future__ import annotations

import pytest

from modelregistry.api.meta import ConditionStatus
from modelregistry.api.model import ModelStatus, VersionCounts
from modelregistry.decisions.model import VersionSummary, summarize_model
from modelregistry.reasons import ALIASES_RESOLVED, READY, Reason

from .builders import LATER, LATER_TEXT, NOW, NOW_TEXT, conditions

NO_ALIASES: tuple[str, ConditionStatus, str, str] = (
    ALIASES_RESOLVED,
    "True",
    Reason.ALIASES_READY,
    "No aliases are set.",
)


def summary(
    version: int | None, *, ready: bool = False, stalled: bool = False, stage: str | None = None
) -> VersionSummary:
    return VersionSummary(version=version, ready=ready, stalled=stalled, stage=stage)


def test_counts_latest_versions_and_stages() -> None:
    versions = [
        summary(1, ready=True, stage="Production"),
        summary(2, stalled=True, stage="None"),
        summary(42, ready=True, stage="Staging"),
        summary(43),
        summary(None),
    ]
    before = ModelStatus(version_sequence=43, kopf={"progress": {}})

    status = summarize_model(versions, before, generation=7, now=NOW)

    assert status == ModelStatus(
        observed_generation=7,
        latest_version=43,
        latest_ready_version=42,
        counts=VersionCounts(total=5, ready=2, stalled=1),
        stages={"Production": 1, "Staging": 42},
        protected_versions=0,
        version_sequence=43,
        conditions=conditions(
            7,
            (READY, "True", Reason.SUCCEEDED, "5 versions, 2 ready.", NOW_TEXT),
            (*NO_ALIASES, NOW_TEXT),
        ),
        kopf={"progress": {}},
    )


def test_without_versions() -> None:
    status = summarize_model([], ModelStatus(), generation=1, now=NOW)

    assert status == ModelStatus(
        observed_generation=1,
        counts=VersionCounts(total=0, ready=0, stalled=0),
        protected_versions=0,
        conditions=conditions(
            1,
            (READY, "True", Reason.SUCCEEDED, "0 versions, 0 ready.", NOW_TEXT),
            (*NO_ALIASES, NOW_TEXT),
        ),
    )
    assert status.latest_version is None
    assert status.latest_ready_version is None
    assert status.stages is None


def test_one_version_is_named_in_the_singular() -> None:
    status = summarize_model([summary(1)], ModelStatus(), generation=2, now=NOW)

    assert status.conditions == conditions(
        2,
        (READY, "True", Reason.SUCCEEDED, "1 version, 0 ready.", NOW_TEXT),
        (*NO_ALIASES, NOW_TEXT),
    )
    assert status.latest_version == 1
    assert status.latest_ready_version is None


def test_a_stage_held_twice_names_the_highest_version() -> None:
    versions = [
        summary(5, ready=True, stage="Production"),
        summary(2, ready=True, stage="Production"),
        summary(None, stage="Production"),
    ]

    status = summarize_model(versions, ModelStatus(), generation=1, now=NOW)

    assert status.stages == {"Production": 5}


def test_versions_without_a_number_count_but_hold_no_stage() -> None:
    status = summarize_model(
        [summary(None, ready=True, stage="Staging")], ModelStatus(), generation=1, now=NOW
    )

    assert status.counts == VersionCounts(total=1, ready=1, stalled=0)
    assert status.latest_version is None
    assert status.latest_ready_version is None
    assert status.stages is None


@pytest.mark.parametrize("sequence", [None, 0, 42])
def test_the_version_counter_is_carried_as_it_is(sequence: int | None) -> None:
    before = ModelStatus(version_sequence=sequence, latest_version=99)

    status = summarize_model([summary(3)], before, generation=1, now=NOW)

    assert status.version_sequence == sequence
    assert status.latest_version == 3


def test_keeps_ready_transition_time() -> None:
    first = summarize_model([], ModelStatus(), generation=1, now=NOW)

    second = summarize_model([summary(1, ready=True)], first, generation=3, now=LATER)

    assert second.conditions == conditions(
        3,
        (READY, "True", Reason.SUCCEEDED, "1 version, 1 ready.", NOW_TEXT),
        (*NO_ALIASES, NOW_TEXT),
    )


def test_a_ready_condition_that_was_not_true_transitions_now() -> None:
    before = ModelStatus(conditions=conditions(1, (READY, "False", "Broken", "old", NOW_TEXT)))

    status = summarize_model([], before, generation=1, now=LATER)

    assert status.conditions[0].last_transition_time == LATER_TEXT
