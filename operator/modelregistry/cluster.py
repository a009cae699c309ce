"""Kubernetes reads and status writes: the reconciler's `ClusterPort`.

The kubernetes client blocks, so each call runs in a worker thread. The
operator never writes a spec: only the status subresource of its kinds.
Lists are never needed: what the operator knows of all objects comes from
the watches (the index), and single objects are read by name.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import os
import secrets
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from modelregistry import __version__
from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.decisions.passdata import Event
from modelregistry.errors import ClusterError, ConflictError, CredentialsError
from modelregistry.storage import Credentials

logger = logging.getLogger(__name__)


REPORTING_CONTROLLER = f"{GROUP}/operator"
# Named in managedFields, so `kubectl get -o yaml --show-managed-fields` tells who wrote status.
FIELD_MANAGER = "modelregistry-operator"
_INSTANCE = socket.gethostname()
# Concurrent API calls (threads and pooled connections).
_WORKERS = 16

Body = dict[str, Any]


class Cluster:
    """The operator's door to the API server."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        api_client.user_agent = f"{FIELD_MANAGER}/{__version__}"
        # Calls block; a pool of their own keeps them from queueing behind hashing.
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="kube")
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._events = kubernetes.client.EventsV1Api(api_client)

    @classmethod
    def connect(cls) -> Cluster:
        """In a Pod, use its service account; elsewhere, KUBECONFIG."""
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            # Read KUBECONFIG now: the client's default was fixed when it was imported.
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.environ.get("KUBECONFIG")
            )
        configuration = kubernetes.client.Configuration.get_default_copy()
        configuration.connection_pool_maxsize = _WORKERS
        return cls(kubernetes.client.ApiClient(configuration))

    async def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    async def get_model(self, namespace: str, name: str) -> Body | None:
        return await self._get(MODELS, namespace, name)

    async def get_version(self, namespace: str, name: str) -> Body | None:
        return await self._get(MODELVERSIONS, namespace, name)

    async def _get(self, plural: str, namespace: str, name: str) -> Body | None:
        """The object as stored now, or None when it does not exist."""
        try:
            body = await self._call(
                self._custom.get_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise _cluster_error(error, f"reading {plural}/{name}") from None
        return cast("Body", body)

    async def get_pod(self, namespace: str, name: str) -> Body | None:
        try:
            pod = await self._call(self._core.read_namespaced_pod, name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise _cluster_error(error, f"reading Pod {name}") from None
        return cast("Body", self._core.api_client.sanitize_for_serialization(pod))

    async def create_pod(self, namespace: str, manifest: Body) -> None:
        """Create a Pod; one that exists already (a pass before a restart made it) is kept."""
        try:
            await self._call(self._core.create_namespaced_pod, namespace, manifest)
        except ApiException as error:
            if error.status != 409:
                raise _cluster_error(
                    error, f"creating Pod {manifest['metadata']['name']}"
                ) from None

    async def delete_pod(self, namespace: str, name: str) -> None:
        try:
            await self._call(self._core.delete_namespaced_pod, name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise _cluster_error(error, f"deleting Pod {name}") from None

    async def post_event(self, regarding: Body, event: Event) -> None:
        """Record an Event (events.k8s.io/v1) about `regarding`; never fails the caller."""
        meta = regarding["metadata"]
        body = {
            # <object>.<random hex>, as kubectl names events; names end alphanumeric.
            "metadata": {
                "name": f"{meta['name'][:236]}.{secrets.token_hex(8)}",
                "namespace": meta["namespace"],
            },
            "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": _INSTANCE,
            "action": event.action,
            "reason": event.reason,
            "note": event.message[:1024],
            "type": event.type,
            "regarding": {
                "apiVersion": regarding.get("apiVersion", f"{GROUP}/{VERSION}"),
                "kind": regarding.get("kind", "ModelVersion"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
        }
        try:
            await self._call(
                self._events.create_namespaced_event, meta["namespace"], cast(Any, body)
            )
        except ApiException as error:
            # An Event is a courtesy: the condition already says the same.
            logger.warning("could not post event %s on %s: %s", event.reason, meta["name"], error)

    async def patch_status(
        self,
        plural: str,
        namespace: str,
        name: str,
        status: Body,
        *,
        resource_version: str | None = None,
    ) -> Body | None:
        """Merge-patch status; the object as written, or None when it is gone.

        With `resource_version`, the write succeeds only if the object has not
        changed since that version was read (optimistic concurrency), else
        ConflictError.
        """
        patch: Body = {"status": status}
        if resource_version is not None:
            patch["metadata"] = {"resourceVersion": resource_version}
        try:
            written = await self._call(
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                patch,
                field_manager=FIELD_MANAGER,
            )
        except ApiException as error:
            if error.status == 404:
                return None  # deleted meanwhile: nothing to record
            if error.status == 409:
                raise ConflictError(f"{plural}/{name} changed since it was read") from None
            raise _cluster_error(error, f"writing the status of {plural}/{name}") from None
        return cast("Body", written)

    async def read_credentials(
        self, namespace: str, secret_name: str, field: str = "spec.artifact.storage.secretRef.name"
    ) -> Credentials:
        try:
            secret = await self._call(self._core.read_namespaced_secret, secret_name, namespace)
        except ApiException as error:
            if error.status == 404:
                raise CredentialsError(
                    f"Secret {secret_name!r} ({field}) does not exist in namespace "
                    f"{namespace!r}. Create it with keys AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY."
                ) from None
            if error.status == 403:
                raise CredentialsError(
                    f"The operator may not read Secret {secret_name!r} ({field}) in namespace "
                    f"{namespace!r}: grant it get on secrets there."
                ) from None
            raise _cluster_error(error, f"reading Secret {secret_name}") from None
        try:
            data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
        except (UnicodeDecodeError, ValueError):
            raise CredentialsError(
                f"Secret {secret_name!r} ({field}) holds a value that is not UTF-8 text. "
                "Store the access keys as plain text (kubectl create secret generic "
                "--from-literal=AWS_ACCESS_KEY_ID=...)."
            ) from None
        missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not data.get(k)]
        if missing:
            raise CredentialsError(
                f"Secret {secret_name!r} ({field}) lacks {' and '.join(missing)}. Add "
                "the missing keys."
            )
        return Credentials(
            access_key_id=data["AWS_ACCESS_KEY_ID"],
            secret_access_key=data["AWS_SECRET_ACCESS_KEY"],
            session_token=data.get("AWS_SESSION_TOKEN") or None,
        )


def _cluster_error(error: ApiException, doing: str) -> ClusterError:
    return ClusterError(f"{doing}: the API server answered {error.status} {error.reason}")
