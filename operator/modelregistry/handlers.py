"""Kopf entry points. Thin: each hands the event to the operator's wiring.

Only index and event handlers are used: Kopf keeps the watched objects in
memory (the index) and delivers every watch event, and the operator decides
what to do from the object itself (level-triggered). So Kopf stores no state
of its own on the objects: no annotations, no finalizers, no `status.kopf`
writes, and the operator's only writes are status patches and Events.
Settings are built at start-up (`runner.py` passes them in the memo).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.cluster import Cluster
from modelregistry.decisions.validationpod import LABEL_VERSION_UID, MANAGED_BY
from modelregistry.reconciler import Catalog, Operator
from modelregistry.reconciler.index import model_entry, version_entry
from modelregistry.settings import Settings
from modelregistry.storage import ArtifactStore
from modelregistry.verifier import Verifier

logger = logging.getLogger(__name__)

MODELVERSION_RESOURCE = (GROUP, VERSION, MODELVERSIONS)
MODEL_RESOURCE = (GROUP, VERSION, MODELS)


@kopf.index(*MODELVERSION_RESOURCE)
def versions_by_model(body: kopf.Body, **_: Any) -> dict[tuple[str, str], Any]:
    entry = version_entry(dict(body))
    return {} if entry is None else {(entry.namespace, entry.model): entry}


@kopf.index(*MODEL_RESOURCE)
def models_by_name(body: kopf.Body, **_: Any) -> dict[tuple[str, str], Any]:
    entry = model_entry(dict(body))
    return {(entry.namespace, entry.name): entry}


@kopf.index("pods", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
def validation_pods(body: kopf.Body, **_: Any) -> dict[str, Any]:
    uid = (body.get("metadata", {}).get("labels") or {}).get(LABEL_VERSION_UID)
    return {uid: dict(body)} if uid else {}


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    config: Settings = memo.get("settings") or Settings.from_environment()
    settings.posting.enabled = False  # Events come from the reconciler's decisions
    settings.watching.server_timeout = 300
    # Kopf keeps a worker task per object for this long after its last event, in
    # case more follow. Passes run from our own queue, so a worker has nothing to
    # wait for: with Kopf's 5 s, a burst of thousands of new objects keeps
    # thousands of idle workers (and their coroutines) alive at once.
    settings.queueing.idle_timeout = 0.5
    verifier = Verifier(
        ArtifactStore(file_workers=config.file_workers),
        config.default_endpoint,
        config.max_concurrent_verifications,
    )
    # Kopf's indexes are live mappings, filled before any event handler runs.
    catalog = Catalog(
        kwargs["versions_by_model"], kwargs["models_by_name"], kwargs["validation_pods"]
    )
    memo.cluster = Cluster.connect()
    memo.operator = Operator(memo.cluster, verifier, catalog, config)
    memo.periodic = asyncio.create_task(memo.operator.run_periodically(), name="periodic pass")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    memo.periodic.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.periodic
    await memo.operator.close()
    await memo.cluster.close()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a Pod, its service account; elsewhere, the KUBECONFIG of this moment."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.event(*MODELVERSION_RESOURCE)
async def model_version_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.operator.version_event(event["type"], dict(event["object"]))


@kopf.on.event(*MODEL_RESOURCE)
async def model_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.operator.model_event(event["type"], dict(event["object"]))


@kopf.on.event("pods", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
async def validation_pod_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.operator.pod_event(event["type"], dict(event["object"]))
