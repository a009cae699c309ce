"""The operator's Prometheus metrics, and the few helpers that read them off a pass.

Names are stable (dashboards and alerts use them); every label has a
bounded set of values: condition reasons, stages, kinds, exception classes,
never an object's name. The reconciler and the adapters count; the pure
decisions know nothing of this module.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence, Sized

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from modelregistry import conditions as cond
from modelregistry.api.lifecycle import HistoryEntry
from modelregistry.api.modelversion import ModelVersionStatus
from modelregistry.conditions import DesiredCondition
from modelregistry.reasons import ARTIFACT_VERIFIED, READY, VALIDATED

# A `_created` series per counter would double what every scrape carries, for nothing
# a dashboard reads.
disable_created_metrics()  # type: ignore[no-untyped-call]

VERIFICATIONS = Counter(
    "modelregistry_verifications",
    "Verifications of a version's bytes, by the ArtifactVerified reason they ended with "
    "(a re-check that could not read the bytes: the reason it could not).",
    ["result"],
)
VERIFICATION_DURATION = Histogram(
    "modelregistry_verification_duration_seconds",
    "Time to read and hash one artifact or component, once it had a hashing slot.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
VERIFICATION_BYTES = Counter(
    "modelregistry_verification_bytes",
    "Bytes read from the object store and hashed.",
)
VALIDATIONS = Counter(
    "modelregistry_validations",
    "Validation runs finished, by the Validated reason they ended with.",
    ["result"],
)
VALIDATION_DURATION = Histogram(
    "modelregistry_validation_duration_seconds",
    "Time from a validation run's start to its result (status.validation startedAt to finishedAt).",
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
STAGE_TRANSITIONS = Counter(
    "modelregistry_stage_transitions",
    "Changes of a version's granted stage (status.history entries), by stage before, "
    "stage after and reason.",
    ["from", "to", "reason"],
)
RECONCILE_ERRORS = Counter(
    "modelregistry_reconcile_errors",
    "Passes over a ModelVersion that failed and are retried: by exception class when the "
    "pass raised, else by the condition reason it waits on (StorageUnreachable, ...).",
    ["reason"],
)
PASSES_IN_PROGRESS = Gauge(
    "modelregistry_passes_in_progress",
    "Passes over ModelVersions running now.",
)
PASS_DURATION = Histogram(
    "modelregistry_pass_duration_seconds",
    "Time of one pass over a ModelVersion, its hashing and writes included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
WORKQUEUE_DEPTH = Gauge(
    "modelregistry_workqueue_depth",
    "ModelVersions whose watch event waits for a pass.",
)
WATCH_RESTARTS = Counter(
    "modelregistry_watch_restarts",
    "Watches started again other than at their normal end, by kind and cause: gone (410, "
    "listed again), error (the API server failed), empty (ended without a bookmark), "
    "broken (an unexpected error; listed again).",
    ["kind", "cause"],
)
STATUS_WRITES = Counter(
    "modelregistry_status_writes",
    "Status patches the API server accepted, by kind.",
    ["kind"],
)


def verification(conditions: Sequence[DesiredCondition], unreadable: str | None) -> None:
    """Count one verification by what its step decided."""
    if unreadable is not None:
        VERIFICATIONS.labels(unreadable).inc()
        return
    found = next((c for c in conditions if c.type == ARTIFACT_VERIFIED), None)
    if found is not None:
        VERIFICATIONS.labels(found.reason).inc()


def hashed(size: int, seconds: float) -> None:
    VERIFICATION_BYTES.inc(size)
    VERIFICATION_DURATION.observe(seconds)


def reconcile_error(error: BaseException) -> None:
    RECONCILE_ERRORS.labels(type(error).__name__).inc()


def pass_decided(status: ModelVersionStatus, retry: bool) -> None:
    """A pass retried because something failed (Ready False, transient) counts as an error."""
    ready = cond.find(status.conditions, READY)
    if retry and ready is not None and ready.status == "False":
        RECONCILE_ERRORS.labels(ready.reason).inc()


def version_written(before: ModelVersionStatus, after: ModelVersionStatus) -> None:
    """Count what a ModelVersion status write recorded: the run finished, the stages changed."""
    STATUS_WRITES.labels("ModelVersion").inc()
    run = finished_run(before, after)
    if run is not None:
        reason, seconds = run
        VALIDATIONS.labels(reason).inc()
        VALIDATION_DURATION.observe(seconds)
    for entry in new_history(before, after):
        stage_transition(entry.from_stage, entry.to, entry.reason)


def stage_transition(before: str, after: str, reason: str) -> None:
    STAGE_TRANSITIONS.labels(before, after, reason).inc()


def finished_run(before: ModelVersionStatus, after: ModelVersionStatus) -> tuple[str, float] | None:
    """(Validated reason, seconds) of a validation run that `after` finishes, if it does."""
    run = after.validation
    if run is None or run.finished_at is None or run.started_at is None:
        return None
    old = before.validation
    if old is not None and old.run == run.run and old.finished_at is not None:
        return None  # finished before this write
    validated = cond.find(after.conditions, VALIDATED)
    if validated is None:
        return None
    seconds = cond.parse_time(run.finished_at) - cond.parse_time(run.started_at)
    return validated.reason, max(seconds.total_seconds(), 0.0)


def new_history(before: ModelVersionStatus, after: ModelVersionStatus) -> list[HistoryEntry]:
    """The entries `after` adds to the stage history (it only ever grows at the end)."""

    def total(status: ModelVersionStatus) -> int:
        summarised = status.history_summary.count if status.history_summary else 0
        return summarised + len(status.history)

    added = min(total(after) - total(before), len(after.history))
    return list(after.history[-added:]) if added > 0 else []


def track_depth(queue: Sized) -> None:
    """Report `queue`'s length as the work-queue depth, read when scraped."""
    ref = weakref.ref(queue)

    def depth() -> int:
        alive = ref()
        return len(alive) if alive is not None else 0

    WORKQUEUE_DEPTH.set_function(depth)
