"""Kubernetes reads and status writes: the reconciler's `ClusterPort`.

Calls go out from the event loop on one aiohttp session (the HTTP client
Kopf itself uses): no thread per call, and bodies stay plain JSON, never
generated model classes. The `kubernetes` package only reads the
configuration: KUBECONFIG, or the Pod's service account, whose token it
reads again when it rotates. The operator never writes a spec: only the
status subresource of its kinds. Lists and watches feed the index
(`informer.py`); single objects are read by name.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any, Final, cast

import aiohttp
import kubernetes

from modelregistry import __version__
from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.decisions.passdata import Event
from modelregistry.errors import (
    ClusterError,
    ConflictError,
    CredentialsError,
    ObjectRefusedError,
    WatchExpiredError,
)
from modelregistry.storage import Credentials

logger = logging.getLogger(__name__)


REPORTING_CONTROLLER = f"{GROUP}/operator"
# Named in managedFields, so `kubectl get -o yaml --show-managed-fields` tells who wrote status.
FIELD_MANAGER = "modelregistry-operator"
_INSTANCE = socket.gethostname()
# Pooled connections to the API server: concurrent calls beyond this wait for one.
CONNECTIONS: Final = 32
# A call the API server has not answered by then is an error, retried with backoff.
TIMEOUT: Final = aiohttp.ClientTimeout(total=60, sock_connect=10)
# Seconds a token read from the configuration is used before it is read again.
# Reading may run a kubeconfig `exec` plugin, so it runs in a thread, not on the
# event loop. The kubernetes package renews such tokens 5 minutes before they
# expire and re-reads a service-account token file once a minute, so a token
# kept this long is never a stale one.
AUTH_REFRESH: Final = 10.0
# Seconds past a watch's own timeout before a silent connection counts as dead.
WATCH_GRACE: Final = 30

Body = dict[str, Any]


def _custom_path(plural: str, namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}/{name}"


def _namespaced_path(api: str, plural: str, namespace: str, name: str = "") -> str:
    root = "/api/v1" if api == "v1" else f"/apis/{api}"
    path = f"{root}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


def _core_path(plural: str, namespace: str, name: str = "") -> str:
    return _namespaced_path("v1", plural, namespace, name)


def _events_path(namespace: str) -> str:
    return f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"


def tls_context(configuration: kubernetes.client.Configuration) -> ssl.SSLContext:
    """The TLS settings of a kubernetes client configuration, for aiohttp."""
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def auth_headers(configuration: kubernetes.client.Configuration) -> dict[str, str]:
    """The headers the configuration authenticates with (runs its refresh hook, if any)."""
    settings = cast("dict[str, dict[str, Any]]", configuration.auth_settings())
    return {
        str(setting["key"]).title(): str(setting["value"])
        for setting in settings.values()
        if setting.get("in") == "header" and setting.get("value")
    }


def split_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines in `buffer` (blank ones skipped) and what follows the last newline."""
    *lines, rest = buffer.split(b"\n")
    return [line for line in lines if line.strip()], rest


def _json_object(raw: bytes) -> Body:
    """`raw` decoded when it holds a JSON object; {} otherwise."""
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


class Reply:
    """An API server's answer: its status code, reason phrase and JSON body."""

    def __init__(self, status: int, reason: str, body: Body) -> None:
        self.status = status
        self.reason = reason
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self, doing: str) -> ClusterError:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        detail = f": {message}" if message else ""
        return ClusterError(
            f"{doing}: the API server answered {self.status} {self.reason}{detail}", self.status
        )


class Cluster:
    """The operator's door to the API server."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        self._configuration = configuration
        self._base = configuration.host.rstrip("/")
        self._tls = tls_context(configuration) if self._base.startswith("https:") else None
        self._server_name = configuration.tls_server_name or None
        # A kubeconfig's `proxy-url` (an HTTP proxy; HTTPS goes through CONNECT), as Kopf's
        # own watches use it.
        self._proxy: str | None = configuration.proxy or None
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None
        # Without a refresh hook (client certificates, a static token) the headers never change.
        self._auth = auth_headers(configuration)
        self._auth_read_at = time.monotonic()
        self._auth_lock = asyncio.Lock()

    @classmethod
    def connect(cls) -> Cluster:
        """In a Pod, use its service account; elsewhere, KUBECONFIG."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except kubernetes.config.ConfigException:
            # Read KUBECONFIG now: the client's default was fixed when it was imported.
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration
            )
        return cls(configuration)

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"{FIELD_MANAGER}/{__version__}"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers | await self._auth_headers()

    async def _auth_headers(self) -> dict[str, str]:
        """The Authorization header as the configuration gives it now, read at most every
        AUTH_REFRESH seconds, in a thread (an `exec` plugin may run)."""
        if self._configuration.refresh_api_key_hook is None:
            return self._auth
        if time.monotonic() >= self._auth_read_at + AUTH_REFRESH:
            async with self._auth_lock:
                if time.monotonic() >= self._auth_read_at + AUTH_REFRESH:
                    self._auth = await asyncio.to_thread(auth_headers, self._configuration)
                    self._auth_read_at = time.monotonic()
        return self._auth

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=CONNECTIONS, ssl=self._tls if self._tls is not None else True
                ),
                timeout=TIMEOUT,
                json_serialize=json.dumps,
            )
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        body: Body | None = None,
        params: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        try:
            async with self._client().request(
                method,
                self._base + path,
                data=data,
                params=params,
                headers=await self._headers(content_type or ("application/json" if data else None)),
                server_hostname=self._server_name,
                proxy=self._proxy,
            ) as response:
                raw = await response.read()
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ClusterError(
                f"{doing}: the API server did not answer ({type(error).__name__}: {error})"
            ) from None
        return Reply(status, reason, _json_object(raw))

    async def close(self) -> None:
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None

    # --- lists and watches: what feeds the index ---------------------------------

    async def list_page(
        self, path: str, continue_token: str | None, limit: int, label_selector: str | None = None
    ) -> Body:
        """One page of a LIST (`path` names a collection); its metadata holds `continue`."""
        params = {"limit": str(limit)}
        if continue_token:
            params["continue"] = continue_token
        if label_selector:
            params["labelSelector"] = label_selector
        doing = f"listing {path}"
        reply = await self._request("GET", path, doing=doing, params=params)
        if not reply.ok:
            raise reply.error(doing)
        return reply.body

    async def watch(
        self,
        path: str,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> AsyncGenerator[Body, None]:
        """The events of a WATCH from `resource_version`, until the server ends it.

        Raises WatchExpiredError when that version is too old to resume from.
        """
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        doing = f"watching {path}"
        if self._watch_session is None or self._watch_session.closed:
            # Watches hold their connection for minutes: apart from the calls' pool.
            self._watch_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=0, ssl=self._tls if self._tls is not None else True
                ),
                # A watch quiet for longer than the server's own end of it is a dead one.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=10, sock_read=timeout_seconds + WATCH_GRACE
                ),
            )
        try:
            async with self._watch_session.get(
                self._base + path,
                params=params,
                headers=await self._headers(None),
                server_hostname=self._server_name,
                proxy=self._proxy,
            ) as response:
                if response.status == 410:
                    raise WatchExpiredError(f"{doing}: {resource_version} is too old")
                if response.status != 200:
                    raw = await response.read()
                    decoded = _json_object(raw)
                    raise Reply(response.status, response.reason or "", decoded).error(doing)
                rest = b""
                async for chunk in response.content.iter_any():
                    lines, rest = split_lines(rest + chunk)
                    for line in lines:
                        event = _json_object(line)
                        if event:
                            yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ClusterError(
                f"{doing}: the API server did not answer ({type(error).__name__}: {error})"
            ) from None

    async def get_model(self, namespace: str, name: str) -> Body | None:
        return await self._get_custom(MODELS, namespace, name)

    async def get_version(self, namespace: str, name: str) -> Body | None:
        return await self._get_custom(MODELVERSIONS, namespace, name)

    async def _get_custom(self, plural: str, namespace: str, name: str) -> Body | None:
        """The object as stored now, or None when it does not exist."""
        return await self._get(_custom_path(plural, namespace, name), f"reading {plural}/{name}")

    async def _get(self, path: str, doing: str) -> Body | None:
        reply = await self._request("GET", path, doing=doing)
        if reply.status == 404:
            return None
        if not reply.ok:
            raise reply.error(doing)
        return reply.body

    async def get_pod(self, namespace: str, name: str) -> Body | None:
        return await self._get(_core_path("pods", namespace, name), f"reading Pod {name}")

    async def create_pod(self, namespace: str, manifest: Body) -> Body:
        """Create a Pod (its name generated by the API server); the Pod as stored.

        ObjectRefusedError, with the API server's message, when it refuses the
        Pod as invalid: trying again would not help. A generated name that
        happens to be taken (409) is a ConflictError: the next pass tries again.
        """
        meta = manifest["metadata"]
        doing = f"creating a Pod {meta.get('name') or meta.get('generateName', '') + '*'}"
        reply = await self._request(
            "POST", _core_path("pods", namespace), doing=doing, body=manifest
        )
        if reply.status in (400, 422):
            raise ObjectRefusedError(str(reply.body.get("message") or reply.reason))
        if reply.status == 409:
            raise ConflictError(f"{doing}: the name is taken")
        if not reply.ok:
            raise reply.error(doing)
        return reply.body

    async def delete_pod(self, namespace: str, name: str, uid: str | None = None) -> None:
        """Delete a Pod; with `uid`, only while the Pod of that name is still that one."""
        doing = f"deleting Pod {name}"
        body = {"preconditions": {"uid": uid}} if uid else None
        reply = await self._request(
            "DELETE", _core_path("pods", namespace, name), doing=doing, body=body
        )
        # 404: gone already; 409: the name now belongs to another Pod, not ours to delete.
        if not reply.ok and reply.status not in (404, 409):
            raise reply.error(doing)

    async def get_namespaced(self, api: str, plural: str, namespace: str, name: str) -> Body | None:
        """An object of any kind by name (`api`: `v1`, `networking.k8s.io/v1`, ...)."""
        return await self._get(
            _namespaced_path(api, plural, namespace, name), f"reading {plural}/{name}"
        )

    async def get_cluster_object(self, api: str, plural: str, name: str) -> Body | None:
        """A cluster-scoped object by name (`api`: `admissionregistration.k8s.io/v1`, ...)."""
        root = "/api/v1" if api == "v1" else f"/apis/{api}"
        return await self._get(f"{root}/{plural}/{name}", f"reading {plural}/{name}")

    async def api_resources(self, group_version: str) -> Body | None:
        """What the API server serves of `group_version` (discovery); None when nothing."""
        return await self._get(f"/apis/{group_version}", f"discovering {group_version}")

    async def whoami(self) -> str:
        """The user name this client authenticates as (a SelfSubjectReview)."""
        doing = "asking the API server who this operator is"
        reply = await self._request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            doing=doing,
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        if not reply.ok:
            raise reply.error(doing)
        user = mapping_of(mapping_of(reply.body.get("status")).get("userInfo")).get("username")
        if not isinstance(user, str):
            raise ClusterError(f"{doing}: the answer names no user")
        return user

    async def write_namespaced(
        self, api: str, plural: str, namespace: str, body: Body, resource_version: str | None
    ) -> None:
        """Create the object, or replace the version read as `resource_version`.

        A ConflictError when someone else wrote it meanwhile: the next pass reads again.
        """
        name = body["metadata"]["name"]
        if resource_version is None:
            method, path, doing = (
                "POST",
                _namespaced_path(api, plural, namespace),
                f"creating {plural}/{name}",
            )
        else:
            method, path, doing = (
                "PUT",
                _namespaced_path(api, plural, namespace, name),
                f"replacing {plural}/{name}",
            )
            body = {**body, "metadata": {**body["metadata"], "resourceVersion": resource_version}}
        reply = await self._request(
            method, path, doing=doing, body=body, params={"fieldManager": FIELD_MANAGER}
        )
        if reply.status == 409:
            raise ConflictError(f"{doing} in namespace {namespace}: it changed meanwhile")
        if reply.status == 403:
            raise ClusterError(
                f"{doing} in namespace {namespace}: the operator may not "
                f"({reply.body.get('message')}); grant it get, create and update on {plural} there"
            )
        if not reply.ok:
            raise reply.error(doing)

    async def post_event(self, regarding: Body, event: Event) -> None:
        """Record an Event (events.k8s.io/v1) about `regarding`; never fails the caller."""
        meta = regarding["metadata"]
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
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
        doing = f"posting event {event.reason} on {meta['name']}"
        try:
            reply = await self._request(
                "POST", _events_path(meta["namespace"]), doing=doing, body=body
            )
            if not reply.ok:
                raise reply.error(doing)
        except ClusterError as error:
            # An Event is a courtesy: the condition already says the same.
            logger.warning("could not post an event: %s", error)

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
        doing = f"writing the status of {plural}/{name}"
        reply = await self._request(
            "PATCH",
            _custom_path(plural, namespace, name) + "/status",
            doing=doing,
            body=patch,
            params={"fieldManager": FIELD_MANAGER},
            content_type="application/merge-patch+json",
        )
        if reply.status == 404:
            return None  # deleted meanwhile: nothing to record
        if reply.status == 409:
            raise ConflictError(f"{plural}/{name} changed since it was read")
        if not reply.ok:
            raise reply.error(doing)
        return reply.body

    async def read_credentials(
        self, namespace: str, secret_name: str, field: str = "spec.artifact.storage.secretRef.name"
    ) -> Credentials:
        doing = f"reading Secret {secret_name}"
        reply = await self._request(
            "GET", _core_path("secrets", namespace, secret_name), doing=doing
        )
        if reply.status == 404:
            raise CredentialsError(
                f"Secret {secret_name!r} ({field}) does not exist in namespace "
                f"{namespace!r}. Create it with keys AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY."
            )
        if reply.status == 403:
            raise CredentialsError(
                f"The operator may not read Secret {secret_name!r} ({field}) in namespace "
                f"{namespace!r}: grant it get on secrets there."
            )
        if not reply.ok:
            raise reply.error(doing)
        return secret_credentials(reply.body, secret_name, field)


def mapping_of(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def secret_credentials(secret: Body, secret_name: str, field: str) -> Credentials:
    """The S3 access keys a Secret holds, or a CredentialsError saying what is wrong."""
    try:
        encoded = cast("dict[str, str]", secret.get("data") or {})
        data = {k: base64.b64decode(v, validate=True).decode() for k, v in encoded.items()}
    except (UnicodeDecodeError, ValueError, TypeError):
        raise CredentialsError(
            f"Secret {secret_name!r} ({field}) holds a value that is not UTF-8 text. "
            "Store the access keys as plain text (kubectl create secret generic "
            "--from-literal=AWS_ACCESS_KEY_ID=...)."
        ) from None
    missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not data.get(k)]
    if missing:
        raise CredentialsError(
            f"Secret {secret_name!r} ({field}) lacks {' and '.join(missing)}. Add the missing keys."
        )
    return Credentials(
        access_key_id=data["AWS_ACCESS_KEY_ID"],
        secret_access_key=data["AWS_SECRET_ACCESS_KEY"],
        session_token=data.get("AWS_SESSION_TOKEN") or None,
    )
