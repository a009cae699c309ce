"""What a compare check needs from outside its version, gathered for the validation step.

The version it scores besides this one: the Model's Production holder (the
lock in the index names it) or the version an alias points at, read with a
GET for its verified record. And, just before the run's Pod is made, each
held-out data set, read from the store with its own storage settings, else the
version's:
its digest is checked (the store's own SHA-256 checksum suffices here; the
Pod's fetch step hashes the bytes again), and its size and versionId bound
and pin what the fetch step reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from modelregistry.api import Artifact, ModelVersionSpec, ModelVersionStatus
from modelregistry.api.modelversion import HeldOutDataset
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.validationplan import (
    Compared,
    Plan,
    compare_inputs,
    compared_version,
    pins_against,
    target_version,
)
from modelregistry.decisions.validationpod import DatasetRecord
from modelregistry.decisions.verification import Outcome, VerificationFailure
from modelregistry.errors import InvalidObjectError
from modelregistry.reasons import Reason
from modelregistry.reconciler.index import Catalog
from modelregistry.reconciler.ports import ClusterPort
from modelregistry.reconciler.production import lock_of
from modelregistry.reconciler.reading import mapping, parse_spec, parse_status
from modelregistry.storage import ReadProgress

# Reads one object as verification does: (namespace, artifact, field, digest the store's
# checksum may prove, progress) -> outcome.
ReadObject = Callable[[str, Artifact, str, str | None, ReadProgress], Awaitable[Outcome]]


@dataclass(frozen=True)
class DatasetProblem:
    """Why a compare check's data set cannot be handed to its Pod."""

    check: str
    message: str
    transient: bool = False


async def with_targets(
    plan: Plan, view: VersionView, catalog: Catalog, cluster: ClusterPort
) -> Plan:
    """The plan with the version each compare target names now (None: none to score), and
    whether a change of that version starts a new run."""
    if not plan.targets:
        return plan
    namespace, model, own_name = view.namespace, view.model, view.name
    entry = catalog.model(namespace, model)
    holder = lock_of({"status": {"production": entry.production if entry else None}}).holder
    aliases = {
        k: v
        for k, v in mapping(entry.aliases if entry else None).items()
        if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
    }
    names = {e.version: e.name for e in catalog.versions(namespace, model) if e.version}
    found: dict[str, Compared | None] = {}
    for target in plan.targets:
        name = target_version(
            target, own_name=own_name, holder=holder, aliases=aliases, names=names
        )
        found[target] = await _read(cluster, namespace, model, name) if name else None
    pinned = pins_against(view.spec.stage, view.status.stage)
    return dataclasses.replace(plan, against=found, pin_against=pinned)


async def _read(cluster: ClusterPort, namespace: str, model: str, name: str) -> Compared | None:
    body = await cluster.get_version(namespace, name)
    if body is None:
        return None
    try:
        spec = parse_spec(ModelVersionSpec, body)
    except InvalidObjectError:
        return None
    return compared_version(name, model, spec, parse_status(ModelVersionStatus, body))


async def read_datasets(
    plan: Plan, namespace: str, spec: ModelVersionSpec, read: ReadObject
) -> dict[str, DatasetRecord] | DatasetProblem:
    """Each compare check's data set as read from the store, by digest; or what is wrong."""
    records: dict[str, DatasetRecord] = {}
    for check in plan.pod_checks:
        inputs = compare_inputs(check)
        if inputs is None or inputs[0].digest in records:
            continue
        dataset = inputs[0]
        storage = dataset.storage or spec.artifact.storage
        artifact = Artifact(uri=dataset.uri, digest=dataset.digest, storage=storage)
        outcome = await read(namespace, artifact, "spec.artifact", dataset.digest, ReadProgress())
        found = _record(check.name, dataset, outcome)
        if isinstance(found, DatasetProblem):
            return found
        records[dataset.digest] = found
    return records


def _record(
    check: str, dataset: HeldOutDataset, outcome: Outcome
) -> DatasetRecord | DatasetProblem:
    where = f"Check {check!r} cannot use its data set {dataset.uri}"
    if isinstance(outcome, VerificationFailure):
        if outcome.reason == Reason.ARTIFACT_NOT_FOUND:
            return DatasetProblem(check, f"{where}: there is no such object. Upload it there.")
        # The store's answer names spec.artifact: the data set is read with its storage.
        return DatasetProblem(check, f"{where}: {outcome.message}", outcome.transient)
    if outcome.is_prefix or outcome.digest != dataset.digest:
        return DatasetProblem(
            check,
            f"{where}: it hashes to {outcome.digest}, not to {dataset.digest} "
            "(dataset.digest). Upload the file that digest is of.",
        )
    return DatasetRecord(dataset.uri, outcome.digest, outcome.size, outcome.version_id)
