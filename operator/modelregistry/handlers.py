"""Kopf entry points. Thin: each hands the body to the reconciler.

Kopf's own bookkeeping (retry counters, the last handled configuration) is
kept in `status.kopf`, a field of its own: status belongs to the operator,
while metadata and spec belong to the user and to GitOps tools, which would
otherwise see annotations they did not write. Fields that the API server
keeps immutable are left out of the stored configuration, which keeps it
small.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any, cast

import kopf

from modelregistry import decisions
from modelregistry.api.meta import GROUP, VERSION
from modelregistry.api.modelversion import IMMUTABLE_SPEC_FIELDS
from modelregistry.cluster import MODELS, MODELVERSIONS, Body, Cluster
from modelregistry.reconciler import InvalidObjectError, Reconciler, RetryLater
from modelregistry.settings import Settings
from modelregistry.storage import ArtifactStore
from modelregistry.verifier import Verifier

logger = logging.getLogger(__name__)
SETTINGS = Settings.from_environment()

MODELVERSION_RESOURCE = (GROUP, VERSION, MODELVERSIONS)
MODEL_RESOURCE = (GROUP, VERSION, MODELS)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.kopf.lastHandledConfiguration",
        ignored_fields=[f"spec.{name}" for name in IMMUTABLE_SPEC_FIELDS],
    )
    settings.posting.level = logging.WARNING  # Events come from the reconciler, not from logs.
    settings.posting.reporting_component = "modelregistry-operator"
    settings.posting.reporting_instance = socket.gethostname()
    settings.watching.server_timeout = 300
    verifier = Verifier(
        ArtifactStore(file_workers=SETTINGS.file_workers),
        SETTINGS.default_endpoint,
        SETTINGS.max_concurrent_verifications,
    )
    memo.reconciler = Reconciler(Cluster.connect(), verifier, SETTINGS, _post_event)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a Pod, its service account; elsewhere, the KUBECONFIG of this moment."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


def _post_event(body: Body, event: decisions.Event) -> None:
    kopf.event(
        cast("kopf.Body", body), type=event.type, reason=event.reason, message=event.message[:1024]
    )


@kopf.on.resume(*MODELVERSION_RESOURCE)
@kopf.on.create(*MODELVERSION_RESOURCE)
@kopf.on.update(*MODELVERSION_RESOURCE)
async def reconcile_model_version(body: kopf.Body, retry: int, memo: kopf.Memo, **_: Any) -> None:
    await _run(memo.reconciler.reconcile_version(dict(body), retry=retry))


@kopf.timer(*MODELVERSION_RESOURCE, interval=SETTINGS.check_interval, initial_delay=5)
async def check_model_version(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    reconciler: Reconciler = memo.reconciler
    if reconciler.busy(dict(body)):
        return  # a handler is on it; the next tick comes soon enough
    # The create/update/resume handler owns retries; a tick just tries again later.
    with contextlib.suppress(kopf.TemporaryError):
        await _run(reconciler.reconcile_version(dict(body), periodic=True))


@kopf.on.event(*MODELVERSION_RESOURCE)
async def forget_model_version(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A deleted version leaves its Model's counts."""
    if event["type"] != "DELETED":
        return
    obj = event["object"]
    model = (obj.get("spec") or {}).get("modelRef", {}).get("name")
    if model:
        await memo.reconciler.refresh_model(obj["metadata"]["namespace"], model)


@kopf.on.resume(*MODEL_RESOURCE)
@kopf.on.create(*MODEL_RESOURCE)
@kopf.on.update(*MODEL_RESOURCE)
@kopf.timer(*MODEL_RESOURCE, interval=SETTINGS.check_interval, initial_delay=5)
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
