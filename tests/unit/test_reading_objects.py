"""How the reconciler reads objects: status it does not fully know, index entries, locks."""

from __future__ import annotations

import asyncio
from typing import Any

from modelregistry.api.modelversion import ModelVersionStatus
from modelregistry.decisions.model import VersionSummary
from modelregistry.decisions.numbering import Claim
from modelregistry.reconciler.index import VersionEntry, version_entry
from modelregistry.reconciler.locks import Locks
from modelregistry.reconciler.reading import baseline, parse_status


def _entry(raw: Any) -> VersionEntry:
    entry = version_entry(raw)
    assert entry is not None
    return entry


def claim_of(raw: Any) -> Claim:
    return _entry(raw).claim


def summary_of(raw: Any) -> VersionSummary:
    return _entry(raw).summary


def body(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> Any:
    return {
        "metadata": {
            "name": "fraud-v3",
            "namespace": "team-a",
            "uid": "u-1",
            "creationTimestamp": "2030-01-01T00:00:00Z",
        },
        "spec": {"modelRef": {"name": "fraud"}, **(spec or {})},
        "status": status or {},
    }


def test_status_fields_of_a_newer_operator_are_skipped_not_the_whole_status() -> None:
    raw = body(
        status={
            "version": 3,
            "stage": "Staging",
            "promotedBy": "alice",  # unknown here
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "ok",
                    "lastTransitionTime": "2030-01-01T00:00:00Z",
                    "severity": "Info",  # unknown here
                }
            ],
        }
    )

    status = parse_status(ModelVersionStatus, raw)

    assert status.version == 3
    assert status.stage == "Staging"
    assert [c.type for c in status.conditions] == ["Ready"]
    assert raw["status"]["promotedBy"] == "alice"  # the object itself is left alone


def test_a_status_of_the_wrong_shape_is_read_as_empty() -> None:
    status = parse_status(ModelVersionStatus, body(status={"version": "three"}))

    assert status == ModelVersionStatus()


def test_a_recorded_number_is_a_settled_claim() -> None:
    assert claim_of(body(status={"version": 4})).settled is True
    assert claim_of(body(spec={"version": 4}, status={"version": 4})).settled is True


def test_an_unrecorded_or_refused_number_is_not_settled() -> None:
    assert claim_of(body()).settled is False
    assert claim_of(body(spec={"version": 4})).settled is False
    # status.version from before is no claim on spec.version's number.
    assert claim_of(body(spec={"version": 4}, status={"version": 2})).settled is False
    assert claim_of(body(spec={"version": 4}, status={"version": 2})).version == 4


def test_locks_exclude_each_other_and_are_forgotten_when_free() -> None:
    locks = Locks()
    order: list[str] = []

    async def worker(name: str) -> None:
        async with locks.hold("mv", "u-1"):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    async def scenario() -> None:
        await asyncio.gather(worker("a"), worker("b"))
        assert not locks.locked("mv", "u-1")
        assert locks._locks == {}

    asyncio.run(scenario())

    assert order == ["a in", "a out", "b in", "b out"]


def test_a_status_that_cannot_be_read_is_replaced_field_by_field_but_kopfs() -> None:
    raw = body(status={"version": "three", "stage": "Staging", "kopf": {"progress": {}}})

    assert baseline(raw, parse_status(ModelVersionStatus, raw)) == {
        "version": "three",
        "stage": "Staging",
    }


def test_a_readable_status_is_compared_as_read() -> None:
    raw = body(status={"version": 3, "futureField": 1, "kopf": {"progress": {}}})

    assert baseline(raw, parse_status(ModelVersionStatus, raw)) == {
        "version": 3,
        "components": [],
        "conditions": [],
    }


def test_a_version_number_that_is_not_a_whole_number_is_no_claim() -> None:
    for junk in ("three", 2.5, True, {"n": 3}):
        raw = body(status={"version": junk})
        assert claim_of(raw).version is None and claim_of(raw).settled is False
        assert summary_of(raw).version is None


def test_a_malformed_status_sums_up_as_nothing_rather_than_failing() -> None:
    raw = body(status={"conditions": "Ready", "stage": 7})

    summary = summary_of(raw)

    assert (summary.ready, summary.stalled, summary.stage) == (False, False, None)
    assert summary_of({**raw, "status": "broken"}).version is None


def test_a_malformed_kopf_field_does_not_make_the_status_unreadable() -> None:
    status = parse_status(ModelVersionStatus, body(status={"version": 3, "kopf": "x"}))

    assert status.version == 3
