"""One level-triggered reconcile per kind: gather, decide, act.

Create, update, resume and the periodic timer all call the same function,
which looks at the whole object and the world and converges. Each step is
idempotent, so an operator killed at any line repeats only unfinished work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
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
    """In-process locks: one per object, one per Model's version numbering."""

    _locks: dict[tuple[str, ...], asyncio.Lock] = field(default_factory=dict)

    def get(self, *key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())


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

    def busy(self, body: Body) -> bool:
        return self._locks.get("mv", body["metadata"]["uid"]).locked()

    async def reconcile_version(
        self, body: Body, *, retry: int = 0, periodic: bool = False
    ) -> None:
        """Bring one ModelVersion's status up to date; raise RetryLater to be called again."""
        async with self._locks.get("mv", body["metadata"]["uid"]):
            await self._reconcile_version(body, retry=retry, periodic=periodic)

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
        )

        model_name = spec.model_ref.name
        if await self._cluster.get_model(namespace, model_name) is None:
            await self._apply(body, _replace(situation, model_found=False), retry)
            return

        version = await self._settle_version(body, spec, status)
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
        self, body: Body, spec: ModelVersionSpec, status: ModelVersionStatus
    ) -> decisions.VersionDecision:
        meta = body["metadata"]
        own = decisions.Claim(
            name=meta["name"],
            uid=meta["uid"],
            created=meta.get("creationTimestamp", ""),
            version=spec.version or status.version,
        )
        # Numbering is serialized per Model so two new versions never take one number.
        async with self._locks.get("numbering", meta["namespace"], spec.model_ref.name):
            siblings = await self._cluster.list_versions(meta["namespace"], spec.model_ref.name)
            decision = decisions.decide_version(own, [claim_of(s) for s in siblings])
            if decision.assigned:
                # Recorded before the lock is released, so the next claim sees it.
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
        await self._write(body, situation.status, decision)
        await self.refresh_model(body["metadata"]["namespace"], situation.spec.model_ref.name)
        if decision.retry:
            ready = cond.find(decision.status.conditions, cond.READY)
            raise RetryLater(
                ready.message if ready else "waiting", self._settings.retry_delay(retry)
            )
        return decision.status

    async def _write(
        self, body: Body, current: ModelVersionStatus, decision: decisions.Decision
    ) -> None:
        meta = body["metadata"]
        if dump_status(decision.status) != dump_status(current):
            await self._cluster.patch_status(
                MODELVERSIONS, meta["namespace"], meta["name"], dump_status(decision.status)
            )
        for event in decision.events:
            await self._cluster.post_event(body, event)

    async def refresh_model(self, namespace: str, name: str) -> None:
        """Recompute a Model's status from its versions; write only on change."""
        async with self._locks.get("model", namespace, name):
            body = await self._cluster.get_model(namespace, name)
            if body is None:
                return
            parse_spec(ModelSpec, body)
            current = parse_status(ModelStatus, body)
            versions = await self._cluster.list_versions(namespace, name)
            status = decisions.summarize_model(
                [summary_of(v) for v in versions],
                current,
                body["metadata"].get("generation", 1),
                self._clock(),
            )
            if dump_status(status) != dump_status(current):
                await self._cluster.patch_status(MODELS, namespace, name, dump_status(status))


def _replace(situation: decisions.Situation, **changes: Any) -> decisions.Situation:
    return decisions.Situation(**{**vars(situation), **changes})


def parse_spec(model: type[SpecT], body: Body) -> SpecT:
    try:
        return model.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise InvalidObjectError(describe_validation_error(error, "spec")) from error


def parse_status(model: type[StatusT], body: Body) -> StatusT:
    try:
        return model.model_validate(body.get("status") or {})
    except ValidationError:
        # A status we cannot read is recomputed from scratch rather than trusted.
        logger.warning("ignoring unreadable status of %s", body["metadata"].get("name"))
        return model()


def dump_status(status: ModelStatus | ModelVersionStatus) -> Body:
    """The status as written: camelCase, without Kopf's bookkeeping."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"kopf"})


def describe_validation_error(error: ValidationError, root: str) -> str:
    problems = [
        f"{'.'.join([root, *(str(p) for p in e['loc'])])}: {e['msg']}" for e in error.errors()
    ]
    return "; ".join(problems)


def claim_of(body: Body) -> decisions.Claim:
    meta = body["metadata"]
    spec_version = body.get("spec", {}).get("version")
    status_version = (body.get("status") or {}).get("version")
    return decisions.Claim(
        name=meta["name"],
        uid=meta["uid"],
        created=meta.get("creationTimestamp", ""),
        version=spec_version if spec_version is not None else status_version,
    )


def summary_of(body: Body) -> decisions.VersionSummary:
    status = body.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
    spec_version = body.get("spec", {}).get("version")
    return decisions.VersionSummary(
        version=spec_version if spec_version is not None else status.get("version"),
        ready=conditions.get(cond.READY) == "True",
        stalled=conditions.get(cond.STALLED) == "True",
        stage=status.get("stage"),
    )
