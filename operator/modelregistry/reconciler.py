"""One level-triggered reconcile per kind: gather, decide, act.

Create, update, resume and the periodic timer all call the same function,
which looks at the whole object and the world and converges. Each step is
idempotent, so an operator killed at any line repeats only unfinished work.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from modelregistry import conditions as cond
from modelregistry import decisions
from modelregistry.api import (
    Artifact,
    ModelSpec,
    ModelStatus,
    ModelVersionSpec,
    ModelVersionStatus,
)
from modelregistry.cluster import MODELS, MODELVERSIONS, Body, Cluster
from modelregistry.errors import CredentialsError
from modelregistry.mergepatch import merge_patch
from modelregistry.settings import Settings
from modelregistry.verifier import Verifier, failure_from_error

logger = logging.getLogger(__name__)

SpecT = TypeVar("SpecT", ModelSpec, ModelVersionSpec)
StatusT = TypeVar("StatusT", ModelStatus, ModelVersionStatus)


class InvalidObjectError(Exception):
    """The object does not match the API types (e.g. written with validation off)."""


class RetryLater(Exception):
    """Ask the framework to call again after `delay` seconds."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


@dataclass
class Locks:
    """In-process locks: one per object, one per Model's version numbering.

    A lock lives only while someone holds or waits for it, so the table does
    not grow with every object the operator has ever seen.
    """

    _locks: dict[tuple[str, ...], tuple[asyncio.Lock, int]] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, *key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def locked(self, *key: str) -> bool:
        entry = self._locks.get(key)
        return entry is not None and entry[0].locked()


class Reconciler:
    def __init__(
        self,
        cluster: Cluster,
        verifier: Verifier,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._cluster = cluster
        self._verifier = verifier
        self._settings = settings
        self._clock = clock
        self._locks = Locks()
        # uid -> reason the last re-check could not read the bytes (announced once).
        self._unreadable: dict[str, str] = {}

    def forget(self, uid: str) -> None:
        """Drop what is remembered of a deleted ModelVersion."""
        self._unreadable.pop(uid, None)

    def busy(self, body: Body) -> bool:
        return self._locks.locked("mv", body["metadata"]["uid"])

    def quiet(self, body: Body, model_exists: bool) -> bool:
        """Whether the periodic pass may skip this version (saving its API calls)."""
        try:
            spec = parse_spec(ModelVersionSpec, body)
        except InvalidObjectError:
            return False
        return model_exists and decisions.settled_for_now(
            spec,
            parse_status(ModelVersionStatus, body),
            body["metadata"].get("generation", 1),
            self._clock(),
            self._settings.reverify_interval,
        )

    async def reconcile_version(
        self, body: Body, *, retry: int = 0, periodic: bool = False
    ) -> None:
        """Bring one ModelVersion's status up to date; raise RetryLater to be called again."""
        meta = body["metadata"]
        async with self._locks.hold("mv", meta["uid"]):
            # Whoever held the lock before may have written status since `body`
            # was read (a version number, a verification): start from the object as it is.
            fresh = await self._cluster.get_version(meta["namespace"], meta["name"])
            if fresh is None or fresh["metadata"].get("uid") != meta["uid"]:
                self.forget(meta["uid"])
                return  # deleted (perhaps re-created: that object has its own events)
            await self._reconcile_version(fresh, retry=retry, periodic=periodic)

    async def _reconcile_version(self, body: Body, *, retry: int, periodic: bool) -> None:
        meta = body["metadata"]
        namespace = meta["namespace"]
        status = parse_status(ModelVersionStatus, body)
        try:
            spec = parse_spec(ModelVersionSpec, body)
        except InvalidObjectError as error:
            # Only reachable when the CRD schema was bypassed or is older than the operator.
            invalid = decisions.invalid_spec(
                status, str(error), meta.get("generation", 1), self._clock()
            )
            await self._write(body, status, invalid)
            return
        situation = decisions.Situation(
            spec=spec,
            status=status,
            generation=meta.get("generation", 1),
            now=self._clock(),
            namespace=namespace,
            unreadable_before=self._unreadable.get(meta["uid"]),
        )

        model_name = spec.model_ref.name
        if await self._cluster.get_model(namespace, model_name) is None:
            await self._apply(body, _replace(situation, model_found=False), retry)
            return

        version = await self._settle_version(body, spec)
        situation = _replace(situation, version=version)
        if version.holder is not None:
            await self._apply(body, situation, retry)
            return

        # Events verify what is not verified yet (and retry with backoff); the
        # periodic pass re-checks any version, verified or stalled, once per interval.
        due = (
            decisions.reverification_due(status, situation.now, self._settings.reverify_interval)
            if periodic
            else not decisions.is_verified(spec, status)
        )
        if not due:
            await self._apply(body, situation, retry)
            return

        # Show progress on the first attempt only: a retry keeps its waiting
        # reason, and a re-check leaves Ready as it is meanwhile.
        first_time = cond.find(status.conditions, cond.ARTIFACT_VERIFIED) is None
        if first_time:
            status = await self._apply(body, _replace(situation, verifying=True), retry)
            # The assignment was announced with the progress update.
            settled = dataclasses.replace(version, assigned=False)
            situation = _replace(situation, status=status, version=settled)
        outcome, component_outcomes = await self._verify(namespace, spec)
        verified = _replace(
            situation, outcome=outcome, component_outcomes=component_outcomes, now=self._clock()
        )
        await self._apply(body, verified, retry)

    async def _settle_version(
        self, body: Body, spec: ModelVersionSpec
    ) -> decisions.VersionDecision:
        meta = body["metadata"]
        own = claim_of(body)
        if own.settled:
            return decisions.decide_version(own, [])  # held for good: no need to look
        # Numbering is serialized per Model so two new versions never take one number.
        async with self._locks.hold("numbering", meta["namespace"], spec.model_ref.name):
            siblings = await self._cluster.list_versions(meta["namespace"], spec.model_ref.name)
            decision = decisions.decide_version(own, [claim_of(s) for s in siblings])
            if decision.holder is None:
                # Recorded before the lock is released, so the next claim sees it
                # settled, whichever of the two objects is older.
                await self._cluster.patch_status(
                    MODELVERSIONS, meta["namespace"], meta["name"], {"version": decision.version}
                )
        return decision

    async def _verify(
        self, namespace: str, spec: ModelVersionSpec
    ) -> tuple[decisions.Outcome, tuple[decisions.Outcome, ...]]:
        """Hash the artifact, then each component, one after the other."""
        artifact = await self._verify_one(namespace, spec.artifact, "spec.artifact")
        components = [
            await self._verify_one(namespace, c.artifact, f"spec.components[{i}].artifact")
            for i, c in enumerate(spec.components)
        ]
        return artifact, tuple(components)

    async def _verify_one(
        self, namespace: str, artifact: Artifact, field: str
    ) -> decisions.Outcome:
        credentials = None
        secret = artifact.storage.secret_ref if artifact.storage else None
        if secret is not None:
            try:
                credentials = await self._cluster.read_credentials(
                    namespace, secret.name, f"{field}.storage.secretRef.name"
                )
            except CredentialsError as error:
                endpoint = self._verifier.endpoint_for(artifact)
                return failure_from_error(error, artifact, endpoint, field)
        return await self._verifier.verify(artifact, credentials, field)

    async def _apply(
        self, body: Body, situation: decisions.Situation, retry: int
    ) -> ModelVersionStatus:
        decision = decisions.decide(situation)
        uid = body["metadata"]["uid"]
        if situation.outcome is not None:
            if decision.unreadable is not None:
                self._unreadable[uid] = decision.unreadable
            else:
                self._unreadable.pop(uid, None)
        if await self._write(body, situation.status, decision):
            # A Model's status sums up its versions' status: only a change moves it.
            await self.refresh_model(body["metadata"]["namespace"], situation.spec.model_ref.name)
        if decision.retry:
            ready = cond.find(decision.status.conditions, cond.READY)
            raise RetryLater(
                ready.message if ready else "waiting", self._settings.retry_delay(retry)
            )
        return decision.status

    async def _write(
        self, body: Body, current: ModelVersionStatus, decision: decisions.Decision
    ) -> bool:
        """Write the decided status where it differs, post its events; True if written."""
        meta = body["metadata"]
        patch = merge_patch(baseline(body, current), dump_status(decision.status))
        if patch:
            await self._cluster.patch_status(MODELVERSIONS, meta["namespace"], meta["name"], patch)
        for event in decision.events:
            await self._cluster.post_event(body, event)
        return bool(patch)

    async def refresh_model(self, namespace: str, name: str) -> None:
        """Recompute a Model's status from its versions; write only on change."""
        async with self._locks.hold("model", namespace, name):
            body = await self._cluster.get_model(namespace, name)
            if body is None:
                return
            current = parse_status(ModelStatus, body)
            versions = await self._cluster.list_versions(namespace, name)
            status = decisions.summarize_model(
                [summary_of(v) for v in versions],
                current,
                body["metadata"].get("generation", 1),
                self._clock(),
            )
            patch = merge_patch(baseline(body, current), dump_status(status))
            if patch:
                await self._cluster.patch_status(MODELS, namespace, name, patch)


def _replace(situation: decisions.Situation, **changes: Any) -> decisions.Situation:
    return decisions.Situation(**{**vars(situation), **changes})


def parse_spec(model: type[SpecT], body: Body) -> SpecT:
    try:
        return model.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise InvalidObjectError(describe_validation_error(error, "spec")) from error


def parse_status(model: type[StatusT], body: Body) -> StatusT:
    """The status as the API types read it; fields they do not know are left out.

    Unknown fields appear when a newer operator wrote status and an older one
    runs again; what this one knows (the version number above all) is kept.
    """
    data = copy.deepcopy(_mapping(body.get("status")))
    if not isinstance(data.get("kopf"), dict | None):
        del data["kopf"]  # Kopf's field, not ours: never a reason to distrust the rest
    try:
        return model.model_validate(data)
    except ValidationError as error:
        unknown = [e["loc"] for e in error.errors() if e["type"] == "extra_forbidden"]
        if len(unknown) == len(error.errors()):
            for loc in unknown:
                _drop(data, loc)
            return parse_status(model, {"metadata": body["metadata"], "status": data})
        # A status we cannot read is recomputed from scratch rather than trusted.
        logger.warning("ignoring unreadable status of %s", body["metadata"].get("name"))
        return model()


def _drop(data: Any, loc: tuple[int | str, ...]) -> None:
    for step in loc[:-1]:
        data = data[step]
    del data[loc[-1]]


def dump_status(status: ModelStatus | ModelVersionStatus) -> Body:
    """The status as written: camelCase, without Kopf's bookkeeping."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"kopf"})


def baseline(body: Body, parsed: ModelStatus | ModelVersionStatus) -> Body:
    """The status to compute a patch from: as read, or as stored when it could not be read.

    A status that could not be read is replaced field by field (stale fields
    sent as null); Kopf's field is never touched.
    """
    if parsed != type(parsed)():
        return dump_status(parsed)
    return {k: v for k, v in _mapping(body.get("status")).items() if k != "kopf"}


def describe_validation_error(error: ValidationError, root: str) -> str:
    problems = [
        f"{'.'.join([root, *(str(p) for p in e['loc'])])}: {e['msg']}" for e in error.errors()
    ]
    return "; ".join(problems)


def claim_of(body: Body) -> decisions.Claim:
    """A ModelVersion's claim on a number, read from the raw object."""
    meta = body["metadata"]
    spec_version = _whole_number(_mapping(body.get("spec")).get("version"))
    status_version = _whole_number(_mapping(body.get("status")).get("version"))
    return decisions.Claim(
        name=meta["name"],
        uid=meta["uid"],
        created=meta.get("creationTimestamp", ""),
        version=spec_version if spec_version is not None else status_version,
        settled=status_version is not None
        and (spec_version is None or spec_version == status_version),
    )


def summary_of(body: Body) -> decisions.VersionSummary:
    """What a Model needs of one version, read from the raw object."""
    status = _mapping(body.get("status"))
    raw_conditions = status.get("conditions")
    conditions = {
        c.get("type"): c.get("status")
        for c in (raw_conditions if isinstance(raw_conditions, list) else [])
        if isinstance(c, dict)
    }
    stage = status.get("stage")
    return decisions.VersionSummary(
        version=claim_of(body).version,
        ready=conditions.get(cond.READY) == "True",
        stalled=conditions.get(cond.STALLED) == "True",
        stage=stage if isinstance(stage, str) else None,
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _whole_number(value: Any) -> int | None:
    """A version number as stored, or None for anything else (a status nobody should trust)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
