"""Waiting for Ready, and how versions are summarised and shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelregistry import client, views
from modelregistry.client.versions import VersionSummary, wait_ready
from tests.unit.clientfakes import FakeSession

Body = dict[str, Any]


def version(generation: int, observed: int, *conditions: tuple[str, str, str]) -> Body:
    return {
        "metadata": {
            "name": "churn-1",
            "generation": generation,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"modelRef": {"name": "churn"}, "artifact": {"uri": "s3://mdl/a"}},
        "status": {
            "observedGeneration": observed,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": f"{r}."} for t, s, r in conditions
            ],
        },
    }


class Script:
    """The version as the operator writes it, one body per read."""

    def __init__(self, *bodies: Body) -> None:
        self.bodies = list(bodies)
        self.now = 0.0

    def operator(self, body: Body) -> None:
        current = self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]
        body.clear()
        body.update(current)

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def waiting(script: Script, timeout: float = 60) -> tuple[Body, list[Body]]:
    session = FakeSession()
    session.objects[("modelversions", "churn-1")] = {}
    session.operator = script.operator
    seen: list[Body] = []
    body = wait_ready(
        session.as_session(),
        "churn-1",
        timeout=timeout,
        on_change=seen.append,
        clock=lambda: script.now,
        sleep=script.sleep,
    )
    return body, seen


def test_a_ready_of_an_older_generation_is_not_taken_for_this_one() -> None:
    script = Script(
        version(2, 1, ("Ready", "True", "Succeeded")),
        version(2, 2, ("Ready", "Unknown", "Verifying")),
        version(2, 2, ("Ready", "True", "Succeeded")),
    )

    body, seen = waiting(script)

    assert body["status"]["observedGeneration"] == 2
    assert [c["conditions"][0]["status"] for c in (s["status"] for s in seen)] == [
        "True",
        "Unknown",
        "True",
    ]


def test_a_stalled_version_raises_its_reason_and_message() -> None:
    script = Script(
        version(
            1, 1, ("Ready", "False", "ValidationFailed"), ("Stalled", "True", "ValidationFailed")
        )
    )

    with pytest.raises(client.VersionStalled) as stalled:
        waiting(script)

    assert (stalled.value.reason, stalled.value.message) == (
        "ValidationFailed",
        "ValidationFailed.",
    )


def test_the_wait_ends_at_the_timeout_saying_where_ready_stands() -> None:
    script = Script(version(1, 1, ("Ready", "Unknown", "Validating")))

    with pytest.raises(client.WaitTimedOut, match=r"within 5s \(Ready is Unknown: Validating"):
        waiting(script, timeout=5)
    assert script.now >= 5


def test_a_summary_prefers_the_verified_digest_and_the_granted_stage() -> None:
    body = version(1, 1, ("Ready", "True", "Succeeded"))
    body["spec"].update(stage="Production", artifact={"uri": "s3://mdl/a", "digest": "sha256:a"})
    body["status"].update(version=3, stage="Staging", artifact={"digest": "sha256:b"})

    summary = VersionSummary.of(body)

    assert (summary.version, summary.stage, summary.stage_asked) == (3, "Staging", "Production")
    assert summary.digest == "sha256:b"


@pytest.mark.parametrize(
    ("created", "shown"),
    [
        ("2026-01-01T11:59:30Z", "30s"),
        ("2026-01-01T11:55:00Z", "5m"),
        ("2026-01-01T09:00:00Z", "3h"),
        ("2025-12-30T12:00:00Z", "2d"),
        ("not a time", "?"),
    ],
)
def test_age_reads_as_kubectl_prints_it(created: str, shown: str) -> None:
    assert views.age(created, datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == shown
