"""Keeps the box validation Pods run in: the ServiceAccount and NetworkPolicy of a namespace.

Asked before every validation Pod is created: it reads both objects and
writes each one that is missing or differs from what the settings say
(`decisions/sandbox.py`), so a name taken first or an edit made since is
undone before a Pod runs under it. The object store's addresses come from
the settings, or from the validation endpoint's host as resolved now.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from modelregistry.decisions import sandbox
from modelregistry.decisions.oci import podplan
from modelregistry.reconciler.ports import ClusterPort

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxSettings:
    service_account: str
    network_policy: bool = True
    egress: tuple[tuple[str, int], ...] = ()  # explicit (CIDR, port); else the endpoint's
    endpoint: str | None = None  # the object store as validation Pods reach it
    registries: tuple[str, ...] = ()  # OCI registries as validation Pods reach them (host[:port])
    dns: str | None = "kube-system/k8s-app=kube-dns"


class Sandbox:
    def __init__(self, cluster: ClusterPort, settings: SandboxSettings) -> None:
        self._cluster = cluster
        self._settings = settings

    async def ensure(self, namespace: str) -> None:
        """The namespace's validation ServiceAccount and NetworkPolicy, as the settings say."""
        await self._keep(
            "v1",
            "serviceaccounts",
            sandbox.service_account(self._settings.service_account, namespace),
        )
        if self._settings.network_policy:
            store = self._settings.egress or await store_addresses(self._settings.endpoint)
            for registry in self._settings.registries:
                host, port = podplan.endpoint_address(registry)
                bracketed = f"[{host}]" if ":" in host else host
                store += await store_addresses(f"http://{bracketed}:{port}")
            await self._keep(
                "networking.k8s.io/v1",
                "networkpolicies",
                sandbox.network_policy(namespace, store, self._settings.dns),
            )

    async def _keep(self, api: str, plural: str, built: dict[str, object]) -> None:
        meta = built["metadata"]
        assert isinstance(meta, dict)
        stored = await self._cluster.get_namespaced(api, plural, meta["namespace"], meta["name"])
        if not sandbox.needs_writing(built, stored):
            return
        if stored is not None:
            logger.warning(
                "%s %s/%s differs from the operator's; writing it again",
                plural,
                meta["namespace"],
                meta["name"],
            )
        version = None if stored is None else stored["metadata"].get("resourceVersion")
        await self._cluster.write_namespaced(api, plural, meta["namespace"], built, version)


async def store_addresses(endpoint: str | None) -> tuple[tuple[str, int], ...]:
    """The (CIDR, port) pairs of an endpoint URL: its host's addresses, each alone."""
    if not endpoint:
        return ()
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        return ((str(ipaddress.ip_network(host)), port),)
    except ValueError:
        pass
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        logger.warning(
            "cannot resolve the object store %s (%s): validation Pods reach no store", host, error
        )
        return ()
    return tuple(sorted({(str(ipaddress.ip_network(info[4][0])), port) for info in infos}))
