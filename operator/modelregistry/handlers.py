"""Kopf entry points and the watches. Thin: each hands the event to the operator's wiring.

Models and ModelVersions are followed by informers of the operator's own
(`informer.py`): a LIST then a WATCH each, kept in memory as the index, with
every change handed to the operator. Per watch event that costs a fraction
of what Kopf's per-object processing does, the largest share of the
operator's CPU in a burst of new versions (docs/benchmarks.md). Pods are
followed the same way for where each version runs (`reconciler/deployments.py`:
only those that name a version are kept), listed before anything is written,
so a restart never drops a user it has not seen yet; so are KServe's
InferenceServices, where the cluster serves them (`optionalinformer.py`). Kopf runs
the operator's life (start-up, clean-up, login) and follows the validation
Pods with an index and an event handler. Kopf stores no state of its own on
any object: no annotations, no finalizers, no `status.kopf` writes, and the
operator's only writes are status patches and Events. Settings are built at
start-up (`runner.py` passes them in the memo).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf

from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.cluster import Cluster
from modelregistry.decisions.deployments import INFERENCE_SERVICE, POD
from modelregistry.decisions.optionalapi import INFERENCE_SERVICES, REFUSALS
from modelregistry.decisions.validationpod import LABEL_VERSION_UID, MANAGED_BY
from modelregistry.httpserver import serve
from modelregistry.informer import Follower, Grouped, Informer, Watches, in_scope, is_pattern
from modelregistry.leadership import LeaderElector, identity
from modelregistry.optionalinformer import Discovery, OptionalInformer
from modelregistry.reconciler import Catalog, Operator
from modelregistry.reconciler.deployments import Workload, workload_keyed
from modelregistry.reconciler.index import (
    ModelEntry,
    ModelKey,
    VersionEntry,
    model_entry,
    version_entry,
)
from modelregistry.settings import Settings
from modelregistry.storage import ArtifactStore
from modelregistry.verifier import Verifier

logger = logging.getLogger(__name__)

API_VERSION = f"{GROUP}/{VERSION}"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@kopf.index("pods", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
def validation_pods(body: kopf.Body, **_: Any) -> dict[str, Any]:
    uid = (body.get("metadata", {}).get("labels") or {}).get(LABEL_VERSION_UID)
    return {uid: dict(body)} if uid else {}


def _version_keyed(body: dict[str, Any]) -> tuple[ModelKey, VersionEntry] | None:
    entry = version_entry(body)
    return None if entry is None else ((entry.namespace, entry.model), entry)


def _model_keyed(body: dict[str, Any]) -> tuple[ModelKey, ModelEntry] | None:
    entry = model_entry(body)
    return (entry.namespace, entry.name), entry


def _collection(plural: str, namespace: str | None) -> str:
    if namespace is None:
        return f"/apis/{GROUP}/{VERSION}/{plural}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"


def _watches(
    cluster: Cluster,
    operator: Operator,
    namespaces: list[str],
    versions: Grouped[ModelKey, VersionEntry],
    models: Grouped[ModelKey, ModelEntry],
    label_selector: str | None = None,
    workloads: Grouped[str, Workload] | None = None,
    recheck: float = 60.0,
) -> Watches:
    # Plain names: an informer each. Patterns: cluster-wide, filtered.
    patterns = any(is_pattern(n) for n in namespaces)
    scopes: list[str | None] = [None] if patterns or not namespaces else list(namespaces)
    matched = functools.partial(in_scope, patterns=namespaces) if patterns else None

    async def version_deleted(uid: str, key: object, entry: VersionEntry | None) -> None:
        await operator.version_deleted(uid, entry)

    async def model_deleted(uid: str, key: ModelKey | None, entry: object) -> None:
        if key is not None:
            await operator.model_deleted(*key)

    return Watches(
        [
            Informer(
                cluster,
                _collection(MODELS, scope),
                "Model",
                API_VERSION,
                models,
                _model_keyed,
                operator.model_event,
                model_deleted,
                namespaces=matched,
                label_selector=label_selector,
            )
            for scope in scopes
        ],
        [
            Informer(
                cluster,
                _collection(MODELVERSIONS, scope),
                "ModelVersion",
                API_VERSION,
                versions,
                _version_keyed,
                operator.version_event,
                version_deleted,
                namespaces=matched,
                label_selector=label_selector,
            )
            for scope in scopes
        ],
        []
        if workloads is None
        else _workload_informers(cluster, operator, scopes, matched, workloads, recheck),
        operator.deployments.listed,
    )


def _workload_informers(
    cluster: Cluster,
    operator: Operator,
    scopes: list[str | None],
    matched: Callable[[str], bool] | None,
    workloads: Grouped[str, Workload],
    recheck: float,
) -> list[Follower]:
    """Where each version runs: Pods, and KServe's InferenceServices where the cluster serves
    them (`optionalinformer.py`: asked for every `recheck` seconds while not), that name a
    version. The rest are seen, not kept."""

    async def pod_event(kind: str, body: dict[str, Any]) -> None:
        operator.deployments.workload_event(body["metadata"]["uid"], body, POD)

    async def inference_service_event(kind: str, body: dict[str, Any]) -> None:
        operator.deployments.workload_event(body["metadata"]["uid"], body, INFERENCE_SERVICE)

    async def workload_deleted(uid: str, key: object, entry: object) -> None:
        operator.deployments.workload_deleted(uid)

    pods: list[Follower] = [
        Informer(
            cluster,
            "/api/v1/pods" if scope is None else f"/api/v1/namespaces/{scope}/pods",
            POD,
            "v1",
            workloads,
            workload_keyed(POD),
            pod_event,
            workload_deleted,
            namespaces=matched,
        )
        for scope in scopes
    ]
    discovery = Discovery(cluster, INFERENCE_SERVICES, recheck)
    inference_services = [
        OptionalInformer(
            Informer(
                cluster,
                INFERENCE_SERVICES.collection(scope),
                INFERENCE_SERVICE,
                INFERENCE_SERVICES.group_version,
                workloads,
                workload_keyed(INFERENCE_SERVICE),
                inference_service_event,
                workload_deleted,
                namespaces=matched,
                give_up_on=REFUSALS,
            ),
            INFERENCE_SERVICES,
            scope,
            discovery,
            recheck,
        )
        for scope in scopes
    ]
    return [*pods, *inference_services]


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    config: Settings = memo.get("settings") or Settings.from_environment()
    settings.posting.enabled = False  # Events come from the reconciler's decisions
    settings.watching.server_timeout = 300
    # Kopf keeps a worker task per Pod for this long after its last event, in case
    # more follow. A Pod's event only schedules a pass, so a worker has nothing to
    # wait for: with Kopf's 5 s, many validation runs keep idle workers alive.
    settings.queueing.idle_timeout = 0.5
    scope = list(memo.namespaces or [])
    if scope and not any(is_pattern(n) for n in scope):
        # Named namespaces only: Kopf need not list namespaces or CRDs cluster-wide,
        # so an operator with Roles in those namespaces alone has all it needs.
        settings.scanning.disabled = True
    verifier = Verifier(
        ArtifactStore(file_workers=config.file_workers),
        config.default_endpoint,
        config.max_concurrent_verifications,
    )
    versions: Grouped[ModelKey, VersionEntry] = Grouped()
    models: Grouped[ModelKey, ModelEntry] = Grouped()
    workloads: Grouped[str, Workload] = Grouped()
    # Kopf's Pod index is a live mapping; a Pod not in it yet is read by name.
    catalog = Catalog(versions, models, kwargs["validation_pods"])
    memo.cluster = Cluster.connect()
    elector = memo.elector = _elector(memo.cluster, config)
    memo.operator = Operator(
        memo.cluster,
        verifier,
        catalog,
        config,
        leading=elector.leading if elector is not None else None,
        workloads=workloads,
    )
    watches = _watches(
        memo.cluster,
        memo.operator,
        scope,
        versions,
        models,
        config.label_selector,
        workloads,
        recheck=config.check_interval,
    )
    memo.tasks = [
        asyncio.create_task(watches.run(), name="watches"),
        asyncio.create_task(_periodically(watches, memo.operator), name="periodic pass"),
    ]
    if elector is not None:
        memo.tasks.append(asyncio.create_task(_lead(elector), name="leader election"))
    if memo.get("on_watching") is not None:
        memo.tasks.append(
            asyncio.create_task(_announce(watches, memo.on_watching), name="announce watching")
        )
    # Last: nothing after it can fail and leave the port bound for a retried start.
    memo.endpoints = await serve(config.http_port, functools.partial(_not_ready, watches))


def _not_ready(watches: Watches) -> str | None:
    if watches.synced.is_set():
        return None
    return "not ready: still listing Models and ModelVersions"


def _elector(cluster: Cluster, config: Settings) -> LeaderElector | None:
    if not config.leader_election:
        return None
    namespace = config.leader_election_namespace or _own_namespace()
    return LeaderElector(cluster, namespace, config.leader_election_name, identity())


def _own_namespace() -> str:
    """The Pod's namespace, from its service account; `default` outside a Pod."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


async def _lead(elector: LeaderElector) -> None:
    await elector.acquire()
    # Losing the Lease stops the process the way a Ctrl-C does: before anyone else
    # may take the Lease over, nothing of this replica writes any more.
    await elector.keep(lost=lambda: os.kill(os.getpid(), signal.SIGTERM))


async def _periodically(watches: Watches, operator: Operator) -> None:
    # Only over a filled index: a half-listed one would miss what is due.
    await watches.synced.wait()
    await operator.run_periodically()


async def _announce(watches: Watches, on_watching: Callable[[], None]) -> None:
    await watches.synced.wait()
    on_watching()


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    for task in memo.tasks:
        task.cancel()
    for task in memo.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await memo.operator.close()
    if memo.get("elector") is not None:
        # After the operator's last write, so the next holder never overlaps it.
        await memo.elector.release()
    await memo.cluster.close()
    if memo.get("endpoints") is not None:
        await memo.endpoints.stop()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a Pod, its service account; elsewhere, the KUBECONFIG of this moment."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.event("pods", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
async def validation_pod_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.operator.pod_event(event["type"], dict(event["object"]))
