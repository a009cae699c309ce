"""A Model's status: the summary of its versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from modelregistry import conditions as cond
from modelregistry.api.lifecycle import ResolvedVersion
from modelregistry.api.model import ModelStatus, VersionCounts
from modelregistry.conditions import DesiredCondition
from modelregistry.reasons import ALIASES_RESOLVED, READY, Reason

STAGES = ("None", "Staging", "Production", "Archived")


@dataclass(frozen=True)
class VersionSummary:
    """What a Model needs to know of one of its versions."""

    version: int | None
    ready: bool
    stalled: bool
    stage: str | None
    name: str = ""
    uid: str = ""
    asked: str = "None"  # spec.stage
    uri: str | None = None  # the verified artifact
    digest: str | None = None
    version_id: str | None = None
    protected: bool = False  # may not be deleted now
    # status.version records `version`; False: a claim in spec.version not (yet) granted.
    settled: bool = True
    deployments: int = 0  # status.deploymentCount: workloads using it


def summarize_model(
    versions: Iterable[VersionSummary],
    status: ModelStatus,
    generation: int,
    now: datetime,
    aliases: Mapping[str, int] | None = None,
) -> ModelStatus:
    """The Model's status from its versions; the version counter and the lock are carried."""
    versions = sorted(versions, key=lambda v: v.version or 0)
    numbers = [v.version for v in versions if v.version is not None]
    ready_numbers = [v.version for v in versions if v.version is not None and v.ready]
    stages = {
        v.stage: v.version
        for v in versions
        if v.stage and v.stage != "None" and v.version is not None
    }
    counts = VersionCounts(
        total=len(versions),
        ready=sum(v.ready for v in versions),
        stalled=sum(v.stalled for v in versions),
        in_use=sum(v.deployments > 0 for v in versions) or None,
    )
    noun = "version" if counts.total == 1 else "versions"
    message = f"{counts.total} {noun}, {counts.ready} ready."
    resolved, unresolved = resolve(versions, aliases or {})
    if unresolved:
        aliases_condition = DesiredCondition(
            ALIASES_RESOLVED,
            "False",
            Reason.ALIAS_UNRESOLVED,
            "; ".join(unresolved) + ". Point the alias at a Ready version in spec.aliases.",
        )
    else:
        aliases_condition = DesiredCondition(
            ALIASES_RESOLVED,
            "True",
            Reason.ALIASES_READY,
            "Every alias points at a Ready version." if aliases else "No aliases are set.",
        )
    return ModelStatus(
        observed_generation=generation,
        latest_version=max(numbers, default=None),
        latest_ready_version=max(ready_numbers, default=None),
        counts=counts,
        stages=stages or None,
        resolved=resolved or None,
        deployments=sum(v.deployments for v in versions) or None,
        production=status.production,
        protected_versions=sum(v.protected for v in versions),
        version_sequence=status.version_sequence,
        conditions=cond.merge_conditions(
            status.conditions,
            [DesiredCondition(READY, "True", Reason.SUCCEEDED, message), aliases_condition],
            generation=generation,
            now=now,
        ),
        kopf=status.kopf,
    )


def resolve(
    versions: Sequence[VersionSummary], aliases: Mapping[str, int]
) -> tuple[dict[str, ResolvedVersion], list[str]]:
    """Each stage held and each alias, as the verified bytes; and why an alias does not resolve.

    A stage resolves to the newest version that holds it; an alias to the
    version it names, only while that version is Ready.
    """
    resolved: dict[str, ResolvedVersion] = {}
    for v in versions:  # oldest first: the newest holder of a stage is kept
        if v.stage in ("Staging", "Production") and (found := _resolved(v)) is not None:
            resolved[v.stage] = found
    # Only held numbers: a claim on a taken number (spec.version) must not shadow its holder.
    by_number = {v.version: v for v in versions if v.version is not None and v.settled}
    unresolved = []
    for alias, number in sorted(aliases.items()):
        version = by_number.get(number)
        found = _resolved(version) if version is not None and version.ready else None
        if found is None:
            state = "does not exist" if version is None else "is not Ready"
            unresolved.append(f"alias {alias!r} points at version {number}, which {state}")
        else:
            resolved[alias] = found
    return resolved, unresolved


def _resolved(version: VersionSummary) -> ResolvedVersion | None:
    if version.version is None or version.uri is None or version.digest is None:
        return None
    return ResolvedVersion(
        version=version.version,
        name=version.name,
        stage=version.stage if version.stage in STAGES else "None",
        uri=version.uri,
        digest=version.digest,
        version_id=version.version_id,
    )


def over_limit(
    versions: Sequence[VersionSummary], limit: int | None, aliases: Mapping[str, int] | None
) -> list[VersionSummary]:
    """The versions the version limit archives: active beyond `limit`, oldest first.

    Active is every version not archived. Only versions that ask for no stage
    (spec.stage: None), hold no Production and no alias names are archived.
    """
    if limit is None:
        return []
    active = [v for v in versions if v.stage != "Archived"]
    excess = len(active) - limit
    if excess <= 0:
        return []
    aliased = set((aliases or {}).values())
    candidates = sorted(
        (
            v
            for v in active
            if v.asked == "None"
            and v.stage != "Production"
            and v.version is not None
            and v.version not in aliased
        ),
        key=lambda v: v.version or 0,
    )
    return candidates[:excess]
