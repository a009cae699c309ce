"""The operator's metrics: what each pass, verification, watch and queue counts, and the
endpoints that serve them. Counters only grow in a process, so each case reads the change."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from modelregistry import metrics
from modelregistry.api.lifecycle import HISTORY_LIMIT, HistoryEntry, HistorySummary
from modelregistry.api.modelversion import Artifact, ModelVersionStatus
from modelregistry.digest import ArtifactDigest, FileDigest, single_object
from modelregistry.errors import ClusterError, WatchExpiredError
from modelregistry.httpserver import METRICS_CONTENT_TYPE, Endpoints, serve
from modelregistry.reconciler.workqueue import WorkQueue
from modelregistry.storage import ArtifactStore, Credentials, Endpoint, ReadProgress, S3Location
from modelregistry.verifier import Verifier
from tests.unit.test_informer import FakeServer, Recorder, informer, page
from tests.unit.test_reconciler import World, created, run, spec

WRONG = "sha256:" + "0" * 64
DASHBOARD = Path(__file__).parents[2] / "charts/modelregistry/dashboards/modelregistry.json"
Labels = dict[str, str]


def value(name: str, labels: Labels | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


class Change:
    """How much each sample asked for grew between `Change(...)` and `.since()`."""

    def __init__(self, *samples: tuple[str, Labels]) -> None:
        self._samples = samples
        self._before = [value(name, labels) for name, labels in samples]

    def since(self) -> list[float]:
        return [
            value(name, labels) - before
            for (name, labels), before in zip(self._samples, self._before, strict=True)
        ]


def verifications(result: str) -> tuple[str, Labels]:
    return "modelregistry_verifications_total", {"result": result}


def writes(kind: str) -> tuple[str, Labels]:
    return "modelregistry_status_writes_total", {"kind": kind}


def errors(reason: str) -> tuple[str, Labels]:
    return "modelregistry_reconcile_errors_total", {"reason": reason}


# --- passes ------------------------------------------------------------------------------


def test_each_verification_counts_once_by_its_reason_and_each_accepted_write_by_kind() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        w.cluster.add(
            "modelversions",
            "fraud-b",
            spec(artifact={"uri": "s3://models/m.bin", "digest": WRONG}),
            created(2),
        )
        change = Change(
            verifications("Verified"),
            verifications("DigestMismatch"),
            writes("ModelVersion"),
            writes("Model"),
            errors("DigestMismatch"),
        )
        operator = w.start()
        await w.cluster.settle(operator)
        await asyncio.sleep(0.05)  # the Model's refresh window
        assert change.since() == [
            1,
            1,
            w.cluster.calls["patch modelversions/status"],
            w.cluster.calls["patch models/status"],
            0,  # a version that needs a person is no failed pass: it is not retried
        ]
        assert w.cluster.calls["patch models/status"] >= 2  # the counter, the summary
        assert value("modelregistry_passes_in_progress") == 0
        await w.close()

    run(scenario)


def test_a_granted_stage_counts_as_a_transition_from_to_and_why() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        labels = {"from": "None", "to": "Staging", "reason": "Granted"}
        change = Change(("modelregistry_stage_transitions_total", labels))
        w.cluster.edit_spec("modelversions", "fraud-a", stage="Staging")
        await w.cluster.settle(operator)
        assert w.cluster.status("modelversions", "fraud-a")["stage"] == "Staging"
        assert change.since() == [1]
        await w.close()

    run(scenario)


def test_finished_validation_runs_count_by_reason_once_with_their_duration() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add(
            "models", "fraud", {"policy": {"validation": {"metricThresholds": ["auc >= 0.9"]}}}, ""
        )
        checks = {"checks": [{"name": "metrics", "builtin": "metrics"}]}
        for name, auc in (("fraud-a", 0.95), ("fraud-b", 0.5)):
            w.cluster.add(
                "modelversions", name, spec(metrics={"auc": auc}, validation=checks), created(1)
            )
        change = Change(
            ("modelregistry_validations_total", {"result": "ChecksPassed"}),
            ("modelregistry_validations_total", {"result": "CheckFailed"}),
            ("modelregistry_validation_duration_seconds_count", {}),
        )
        operator = w.start()
        await w.cluster.settle(operator)
        await operator.periodic_pass()  # looks again; the runs finished already
        assert change.since() == [1, 1, 2]
        await w.close()

    run(scenario)


def test_a_pass_that_waits_on_a_transient_failure_counts_as_an_error_by_its_reason() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))  # no Model yet
        change = Change(errors("ModelNotFound"))
        await w.cluster.settle(w.start())
        assert change.since() == [1]
        await w.close()

    run(scenario)


def test_a_pass_that_raises_counts_by_exception_class_and_logs_which_object(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))

        async def refuse(plural: str, name: str, status: dict[str, Any]) -> None:
            if plural == "modelversions":
                raise ClusterError("the API server is down")

        w.cluster.before_write = refuse
        change = Change(errors("ClusterError"))
        await w.cluster.deliver(w.start())
        assert change.since() == [1]
        await w.close()

    with caplog.at_level(logging.WARNING, "modelregistry.reconciler.operator"):
        run(scenario)
    (failed,) = [r for r in caplog.records if "failed" in r.getMessage()]
    assert getattr(failed, "k8s_ref", None) == {
        "kind": "ModelVersion",
        "namespace": "team-a",
        "name": "fraud-a",
        "uid": "uid-fraud-a",
    }


# --- the pieces around the passes ----------------------------------------------------------


class Store(ArtifactStore):
    """Every artifact is 1234 bytes; the store keeps a checksum of them when asked to."""

    def __init__(self, checksum: bool = False) -> None:
        super().__init__(file_workers=1)
        self._checksum = checksum

    def hash_artifact(
        self,
        location: S3Location,
        endpoint: Endpoint,
        credentials: Credentials | None,
        progress: ReadProgress | None = None,
    ) -> ArtifactDigest:
        return single_object(FileDigest(path=location.key, hexdigest="a" * 64, size=1234))

    def stored_checksum(
        self, location: S3Location, endpoint: Endpoint, credentials: Credentials | None
    ) -> ArtifactDigest | None:
        if not self._checksum:
            return None
        return single_object(
            FileDigest(path=location.key, hexdigest="a" * 64, size=1234, by_store_checksum=True)
        )


def test_bytes_hashed_and_the_time_they_took_are_counted_and_a_store_checksum_reads_none() -> None:
    artifact = Artifact.model_validate({"uri": "s3://models/m.bin"})
    change = Change(
        ("modelregistry_verification_bytes_total", {}),
        ("modelregistry_verification_duration_seconds_count", {}),
    )
    asyncio.run(Verifier(Store(), Endpoint(), 1).verify(artifact, None))
    assert change.since() == [1234, 1]

    change = Change(
        ("modelregistry_verification_bytes_total", {}),
        ("modelregistry_verification_duration_seconds_count", {}),
    )
    accepted = asyncio.run(
        Verifier(Store(checksum=True), Endpoint(), 1).verify(
            artifact, None, checksum_may_prove="sha256:" + "a" * 64
        )
    )
    assert isinstance(accepted, ArtifactDigest) and accepted.by_store_checksum
    assert change.since() == [0, 0]


def test_watch_restarts_count_by_kind_and_cause_and_a_watch_that_ran_its_course_does_not() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([], "10"), page([], "20"), page([], "30")]
        bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "11"}}}
        server.watches = [
            [bookmark],  # ran its course: resumed, no restart
            WatchExpiredError("too old"),
            ClusterError("reset"),
            [],
            [bookmark],
            RuntimeError("a bug"),
        ]
        causes = ("gone", "error", "empty", "broken")
        change = Change(
            *(
                ("modelregistry_watch_restarts_total", {"kind": "ModelVersion", "cause": c})
                for c in causes
            )
        )
        inf, _, _ = informer(server, recorder)
        await inf.load()
        task = asyncio.create_task(inf.run())
        await server.idle.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert change.since() == [1, 1, 1, 1]
        assert [c[0] for c in server.calls].count("list") == 3

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_the_work_queue_depth_is_what_waits_for_a_pass() -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def handle(item: str) -> None:
            await release.wait()

        queue: WorkQueue[str] = WorkQueue(handle, workers=1)
        for key in ("a", "b", "c", "b"):
            queue.add(key, key)
        assert value("modelregistry_workqueue_depth") == 3
        await asyncio.sleep(0)  # the worker takes the first
        assert value("modelregistry_workqueue_depth") == 2
        release.set()
        await queue.join()
        assert value("modelregistry_workqueue_depth") == 0
        await queue.close()

    asyncio.run(scenario())


# --- what a status write recorded ---------------------------------------------------------


def entry(to: str, when: int, reason: str = "Granted") -> HistoryEntry:
    return HistoryEntry.model_validate(
        {"time": f"2030-01-01T00:00:{when:02d}Z", "from": "None", "to": to, "reason": reason}
    )


def test_new_history_is_what_a_write_appended_also_when_the_oldest_moved_to_the_summary() -> None:
    full = [entry("Staging", i % 60) for i in range(HISTORY_LIMIT)]
    before = ModelVersionStatus(history=full)
    added = entry("Archived", 59, "VersionLimit")
    after = ModelVersionStatus(
        history=[*full[1:], added],
        history_summary=HistorySummary(count=1, first=full[0].time, last=full[0].time),
    )
    assert metrics.new_history(before, after) == [added]
    assert metrics.new_history(after, after) == []
    assert metrics.new_history(ModelVersionStatus(), before) == full


def test_a_run_counts_only_in_the_write_that_finishes_it() -> None:
    validated = [
        {
            "type": "Validated",
            "status": "True",
            "reason": "ChecksPassed",
            "message": "",
            "lastTransitionTime": "2030-01-01T00:00:09Z",
        }
    ]

    def status(run: int, finished: str | None) -> ModelVersionStatus:
        return ModelVersionStatus.model_validate(
            {
                "conditions": validated,
                "validation": {
                    "run": run,
                    "startedAt": "2030-01-01T00:00:00Z",
                    "finishedAt": finished,
                },
            }
        )

    running, done = status(1, None), status(1, "2030-01-01T00:00:09Z")
    assert metrics.finished_run(running, done) == ("ChecksPassed", 9.0)
    assert metrics.finished_run(done, done) is None
    assert metrics.finished_run(done, status(2, "2030-01-01T00:00:09Z")) is not None
    assert metrics.finished_run(ModelVersionStatus(), running) is None


# --- the endpoints ---------------------------------------------------------------------------


def test_the_endpoints_answer_health_readiness_with_its_reason_and_metrics() -> None:
    async def scenario() -> None:
        ready: list[str | None] = ["not ready: still listing Models and ModelVersions"]
        endpoints = Endpoints(0, lambda: ready[0], host="127.0.0.1")
        await endpoints.start()
        base = f"http://127.0.0.1:{endpoints.port}"
        get = _getter(base)
        try:
            assert await get("/healthz") == (200, "ok\n", "text/plain; charset=utf-8")
            status, text, _ = await get("/readyz")
            assert (status, text) == (503, "not ready: still listing Models and ModelVersions\n")
            ready[0] = None
            assert (await get("/readyz"))[:2] == (200, "ok\n")
            status, text, content_type = await get("/metrics")
            assert (status, content_type) == (200, METRICS_CONTENT_TYPE)
            assert "# TYPE modelregistry_verifications_total counter" in text
            assert "\nmodelregistry_passes_in_progress " in text
            assert (await get("/elsewhere"))[0] == 404
        finally:
            await endpoints.stop()
        assert endpoints.port is None

    asyncio.run(scenario())


def _getter(base: str) -> Callable[[str], Any]:
    async def get(path: str) -> tuple[int, str, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(base + path) as reply,
        ):
            return reply.status, await reply.text(), reply.headers["Content-Type"]

    return get


def test_port_zero_serves_nothing_and_a_port_taken_is_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert asyncio.run(serve(0, lambda: None)) is None
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104  # where the endpoints would bind
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, "modelregistry.httpserver"):
            assert asyncio.run(serve(port, lambda: None)) is None
    (line,) = caplog.messages
    assert line.startswith(f"cannot serve /healthz, /readyz and /metrics on port {port}: ")
    assert line.endswith("set MODELREGISTRY_HTTP_PORT to a free port (0: serve none)")


def test_labels_never_name_an_object() -> None:
    names = {"namespace", "name", "uid", "version", "model"}
    for collector in (
        metrics.VERIFICATIONS,
        metrics.VALIDATIONS,
        metrics.STAGE_TRANSITIONS,
        metrics.RECONCILE_ERRORS,
        metrics.WATCH_RESTARTS,
        metrics.STATUS_WRITES,
    ):
        for family in collector.collect():
            for sample in family.samples:
                assert not names & set(sample.labels), family.name


def test_the_dashboard_reads_only_metrics_the_operator_serves() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    read = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for query in queries
        for name in re.findall(r"\b(?:modelregistry|process)_\w+", query)
    }
    served = {family.name for family in REGISTRY.collect()}
    assert read and read <= served, read - served
    assert {n for n in served if n.startswith("modelregistry_")} <= read
