"""What the operator knows of every Model and ModelVersion, fed by the watches.

Kopf keeps two indexes (`handlers.py`) whose values are the small entries
below, computed from each watch event. Kopf fills them from its initial
listing before any event is handled, so a pass never needs to LIST. The
`Catalog` adds the operator's own writes on top until the watch catches up,
so a pass never decides from a copy older than what it wrote itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelregistry import conditions as cond
from modelregistry.decisions.deployments import NONE as NO_DEPLOYMENTS
from modelregistry.decisions.deployments import Deployments, recorded
from modelregistry.decisions.model import VersionSummary
from modelregistry.decisions.numbering import Claim
from modelregistry.decisions.verification import STORE_CHECKSUM
from modelregistry.reasons import (
    MODEL_FOUND,
    READY,
    RECONCILING,
    STAGE_GRANTED,
    STALLED,
    is_transient,
)
from modelregistry.reconciler.ports import Body
from modelregistry.reconciler.reading import mapping, whole_number

ModelKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One ModelVersion as the index holds it: only what cross-object decisions need."""

    namespace: str
    name: str
    uid: str
    model: str
    created: str
    resource_version: str
    generation: int
    observed_generation: int | None
    version: int | None  # spec.version, else status.version
    settled: bool  # status.version records `version`
    ready: bool
    stalled: bool
    waiting: bool  # Reconciling=True: work under way or a retried wait
    model_missing: bool  # ModelFound=False
    stage: str | None
    checked_at: str | None  # status.artifactCheckedAt
    since: str | None  # when Ready last changed
    hash_owed: bool = False  # verified by the store's checksum; the bytes are hashed next
    asked: str = "None"  # spec.stage
    uri: str | None = None  # the verified artifact: what a stage or alias resolves to
    digest: str | None = None
    version_id: str | None = None
    protected: bool = False  # status.deletionProtection is set
    protected_until: str | None = None  # ... and ends then
    # StageGranted=False for a reason that may clear up (Production held by another,
    # the admission policy missing, checks not passed yet): looked at again.
    stage_waits: bool = False
    # status.deployments and deploymentCount, as written (workloads using it).
    deployments: Deployments = NO_DEPLOYMENTS

    @property
    def claim(self) -> Claim:
        return Claim(self.name, self.uid, self.created, self.version, self.settled)

    @property
    def summary(self) -> VersionSummary:
        return VersionSummary(
            self.version,
            self.ready,
            self.stalled,
            self.stage,
            name=self.name,
            uid=self.uid,
            asked=self.asked,
            uri=self.uri,
            digest=self.digest,
            version_id=self.version_id,
            protected=self.protected,
            settled=self.settled,
            deployments=self.deployments.count,
        )

    def due(self, now: datetime, interval: timedelta) -> bool:
        """Whether the periodic pass should look at this version now.

        Ready and stalled versions are looked at once per interval after their
        last check; anything not finished for its generation, waiting on
        something that may clear up, or verified only by the store's checksum,
        on every pass.
        """
        if self.observed_generation != self.generation or self.waiting or self.hash_owed:
            return True
        if self.stage_waits:
            return True
        if self.protected_until is not None and _passed(self.protected_until, now):
            return True  # retention ended: the protection is cleared
        if not (self.ready or self.stalled):
            return True
        reference = self.checked_at or self.since
        if reference is None:
            return True
        try:
            return now >= cond.parse_time(reference) + interval
        except ValueError:
            return True


@dataclass(frozen=True, slots=True)
class ModelEntry:
    namespace: str
    name: str
    uid: str
    # As written in the Model's spec (validated by the CRD schema); parsed when used.
    default_validation: Any = None
    validation_policy: Any = None
    accept_store_checksum: bool = False  # spec.policy.verification.acceptStoreChecksum
    policy: Any = None  # spec.policy
    aliases: Any = None  # spec.aliases
    production: Any = None  # status.production: the lock


def _resource_version(body: Body) -> str:
    return str(body["metadata"].get("resourceVersion", ""))


def version_entry(body: Body) -> VersionEntry | None:
    """The index entry of a ModelVersion body (None when it names no Model)."""
    meta = body["metadata"]
    spec = mapping(body.get("spec"))
    status = mapping(body.get("status"))
    model = mapping(spec.get("modelRef")).get("name")
    if not isinstance(model, str):
        return None
    listed = status.get("conditions")
    conditions = {
        c.get("type"): c
        for c in (listed if isinstance(listed, list) else [])
        if isinstance(c, dict)
    }

    def true(condition_type: str) -> bool:
        return mapping(conditions.get(condition_type)).get("status") == "True"

    spec_version = whole_number(spec.get("version"))
    status_version = whole_number(status.get("version"))
    stage = status.get("stage")
    checked_at = status.get("artifactCheckedAt")
    records = [status.get("artifact")] + [
        mapping(c).get("artifact") for c in status.get("components") or [] if isinstance(c, dict)
    ]
    since = mapping(conditions.get(READY)).get("lastTransitionTime")
    artifact = mapping(status.get("artifact"))
    protection = mapping(status.get("deletionProtection"))
    granted = mapping(conditions.get(STAGE_GRANTED))
    asked = spec.get("stage")
    return VersionEntry(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        model=model,
        created=str(meta.get("creationTimestamp", "")),
        resource_version=_resource_version(body),
        generation=meta.get("generation", 1),
        observed_generation=whole_number(status.get("observedGeneration")),
        version=spec_version if spec_version is not None else status_version,
        settled=status_version is not None
        and (spec_version is None or spec_version == status_version),
        ready=true(READY),
        stalled=true(STALLED),
        waiting=true(RECONCILING),
        model_missing=mapping(conditions.get(MODEL_FOUND)).get("status") == "False",
        stage=stage if isinstance(stage, str) else None,
        checked_at=checked_at if isinstance(checked_at, str) else None,
        since=since if isinstance(since, str) else None,
        hash_owed=any(mapping(r).get("verifiedBy") == STORE_CHECKSUM for r in records),
        asked=asked if isinstance(asked, str) else "None",
        uri=_text(artifact.get("uri")),
        digest=_text(artifact.get("digest")),
        version_id=_text(artifact.get("versionId")),
        protected=bool(protection),
        protected_until=_text(protection.get("until")),
        stage_waits=granted.get("status") == "False" and is_transient(str(granted.get("reason"))),
        deployments=recorded(status),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _passed(moment: str, now: datetime) -> bool:
    try:
        return now >= cond.parse_time(moment)
    except ValueError:
        return True


def model_entry(body: Body) -> ModelEntry:
    meta = body["metadata"]
    spec = mapping(body.get("spec"))
    return ModelEntry(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        default_validation=spec.get("defaultValidation"),
        validation_policy=mapping(spec.get("policy")).get("validation"),
        accept_store_checksum=mapping(mapping(spec.get("policy")).get("verification")).get(
            "acceptStoreChecksum"
        )
        is True,
        policy=spec.get("policy"),
        aliases=spec.get("aliases"),
        production=mapping(body.get("status")).get("production"),
    )


def newer(a: str, b: str) -> bool:
    """Whether resourceVersion `a` is newer than `b`.

    resourceVersions are opaque to clients in general; every API server backed
    by etcd issues increasing integers, which is what this compares. Anything
    else is never taken as newer, so the watch's copy wins.
    """
    return a.isdigit() and b.isdigit() and int(a) > int(b)


class Catalog:
    """The indexes as Kopf keeps them, plus this operator's own writes not yet watched.

    `versions` maps (namespace, model) to the entries of that Model's
    versions; `models` maps (namespace, name) to the Model's entry. Both are
    Kopf's live indexes in the operator, plain dicts in tests.
    """

    def __init__(
        self,
        versions: Mapping[ModelKey, Iterable[VersionEntry]],
        models: Mapping[ModelKey, Iterable[ModelEntry]],
        pods: Mapping[str, Iterable[Body]] | None = None,
    ) -> None:
        self._versions = versions
        self._models = models
        # Validation Pods by the uid of the ModelVersion that owns them.
        self._pods: Mapping[str, Iterable[Body]] = pods if pods is not None else {}
        # Entries written by this operator, newer than the watch has delivered.
        self._written: dict[ModelKey, dict[str, VersionEntry]] = {}
        # uid -> the newest resourceVersion seen or written, to tell a stale copy.
        self._newest: dict[str, str] = {}

    def model_exists(self, namespace: str, name: str) -> bool:
        return bool(self._models.get((namespace, name)))

    def model(self, namespace: str, name: str) -> ModelEntry | None:
        return next(iter(self._models.get((namespace, name), ())), None)

    def pod(self, owner_uid: str, name: str) -> Body | None:
        return next(
            (p for p in self._pods.get(owner_uid, ()) if p["metadata"]["name"] == name), None
        )

    def pods_of(self, owner_uid: str) -> list[Body]:
        """Every validation Pod labelled as this ModelVersion's (the label proves nothing)."""
        return list(self._pods.get(owner_uid, ()))

    def versions(self, namespace: str, model: str) -> list[VersionEntry]:
        key = (namespace, model)
        entries = {e.uid: e for e in self._versions.get(key, ())}
        for uid, written in self._written.get(key, {}).items():
            seen = entries.get(uid)
            if seen is None or newer(written.resource_version, seen.resource_version):
                entries[uid] = written
        return list(entries.values())

    def all_versions(self) -> Iterator[VersionEntry]:
        keys = set(self._versions) | set(self._written)
        for namespace, model in sorted(keys):
            yield from self.versions(namespace, model)

    def claims(self, namespace: str, model: str) -> list[Claim]:
        return [e.claim for e in self.versions(namespace, model)]

    def wrote(self, body: Body) -> None:
        """Remember what this operator just wrote, until the watch delivers it."""
        entry = version_entry(body)
        if entry is not None:
            self._written.setdefault((entry.namespace, entry.model), {})[entry.uid] = entry
            self._note(entry)

    def _note(self, entry: VersionEntry) -> None:
        newest = self._newest.get(entry.uid)
        if newest is None or newer(entry.resource_version, newest):
            self._newest[entry.uid] = entry.resource_version

    def observed(self, entry: VersionEntry) -> None:
        """A watch event: drop the remembered write once the index has caught up."""
        self._note(entry)
        key = (entry.namespace, entry.model)
        written = self._written.get(key, {}).get(entry.uid)
        if written is not None and not newer(written.resource_version, entry.resource_version):
            del self._written[key][entry.uid]
            if not self._written[key]:
                del self._written[key]

    def knows(self, uid: str) -> bool:
        """Whether the version `uid` is one the watches brought (or this operator wrote)."""
        return uid in self._newest

    def is_stale(self, body: Body) -> bool:
        """Whether `body` is older than a copy of the same object already seen or written."""
        newest = self._newest.get(body["metadata"]["uid"])
        return newest is not None and newer(newest, _resource_version(body))

    def forget(self, entry: VersionEntry) -> None:
        """The object was deleted."""
        self._written.get((entry.namespace, entry.model), {}).pop(entry.uid, None)
        self._newest.pop(entry.uid, None)
