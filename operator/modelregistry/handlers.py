"""Kopf entry points. Thin: each hands the body to the reconciler.

Kopf's own bookkeeping (retry counters, the last handled configuration) is
kept in `status.kopf`, a field of its own: status belongs to the operator,
while metadata and spec belong to the user and to GitOps tools, which would
otherwise see annotations they did not write. Fields that the API server
keeps immutable are left out of the stored configuration, which keeps it
small.

Events are posted by the reconciler through the events.k8s.io API, and the
periodic pass is one task of the operator's (`periodic.py`) rather than Kopf
timers, so the operator adds no finalizers and never patches a ModelVersion
or a Model itself: only their status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from modelregistry.api.meta import GROUP, VERSION
from modelregistry.api.modelversion import IMMUTABLE_SPEC_FIELDS
from modelregistry.cluster import MODELS, MODELVERSIONS, Cluster
from modelregistry.periodic import run_periodically
from modelregistry.reconciler import InvalidObjectError, Reconciler, RetryLater
from modelregistry.settings import Settings
from modelregistry.storage import ArtifactStore
from modelregistry.verifier import Verifier

logger = logging.getLogger(__name__)
SETTINGS = Settings.from_environment()

MODELVERSION_RESOURCE = (GROUP, VERSION, MODELVERSIONS)
MODEL_RESOURCE = (GROUP, VERSION, MODELS)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.kopf.lastHandledConfiguration",
        ignored_fields=[f"spec.{name}" for name in IMMUTABLE_SPEC_FIELDS],
    )
    # Events come from the reconciler's decisions, not from log lines.
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    verifier = Verifier(
        ArtifactStore(file_workers=SETTINGS.file_workers),
        SETTINGS.default_endpoint,
        SETTINGS.max_concurrent_verifications,
    )
    cluster = Cluster.connect()
    memo.reconciler = Reconciler(cluster, verifier, SETTINGS)
    namespaces = memo.get("namespaces") or None
    memo.periodic = asyncio.create_task(
        run_periodically(memo.reconciler, cluster, SETTINGS.check_interval, namespaces),
        name="periodic pass",
    )


@kopf.on.cleanup()
async def stop_periodic(memo: kopf.Memo, **_: Any) -> None:
    memo.periodic.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.periodic


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a Pod, its service account; elsewhere, the KUBECONFIG of this moment."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.resume(*MODELVERSION_RESOURCE)
@kopf.on.create(*MODELVERSION_RESOURCE)
@kopf.on.update(*MODELVERSION_RESOURCE)
async def reconcile_model_version(body: kopf.Body, retry: int, memo: kopf.Memo, **_: Any) -> None:
    await _run(memo.reconciler.reconcile_version(dict(body), retry=retry))


@kopf.on.event(*MODELVERSION_RESOURCE)
async def forget_model_version(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A deleted version leaves its Model's counts."""
    if event["type"] != "DELETED":
        return
    obj = event["object"]
    memo.reconciler.forget(obj["metadata"]["uid"])
    model = (obj.get("spec") or {}).get("modelRef", {}).get("name")
    if model:
        await memo.reconciler.refresh_model(obj["metadata"]["namespace"], model)


@kopf.on.resume(*MODEL_RESOURCE)
@kopf.on.create(*MODEL_RESOURCE)
@kopf.on.update(*MODEL_RESOURCE)
async def reconcile_model(meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    await _run(memo.reconciler.refresh_model(meta["namespace"], meta["name"]))


async def _run(work: Any) -> None:
    """Map the reconciler's outcomes to Kopf's retry semantics."""
    try:
        await work
    except RetryLater as wait:
        raise kopf.TemporaryError(str(wait), delay=wait.delay) from None
    except InvalidObjectError as error:
        raise kopf.PermanentError(str(error)) from None
