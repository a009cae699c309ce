"""The doors the reconciler uses: the cluster and the artifact store.

Defined here, where they are used, so the real adapters (`cluster.py`,
`verifier.py`) and the tests' in-memory ones type-check against the same
interface.
"""

from __future__ import annotations

from typing import Any, Protocol

from modelregistry.api.modelversion import Artifact
from modelregistry.decisions.passdata import Event
from modelregistry.decisions.signature import Fetched, Unavailable
from modelregistry.decisions.verification import Outcome
from modelregistry.storage import Credentials, Endpoint, ReadProgress

Body = dict[str, Any]


class ClusterPort(Protocol):
    async def get_model(self, namespace: str, name: str) -> Body | None: ...

    async def get_version(self, namespace: str, name: str) -> Body | None: ...

    async def patch_status(
        self,
        plural: str,
        namespace: str,
        name: str,
        status: Body,
        *,
        resource_version: str | None = None,
    ) -> Body | None: ...

    async def post_event(self, regarding: Body, event: Event) -> None: ...

    async def get_pod(self, namespace: str, name: str) -> Body | None: ...

    async def create_pod(self, namespace: str, manifest: Body) -> Body: ...

    async def delete_pod(self, namespace: str, name: str, uid: str | None = None) -> None: ...

    async def get_namespaced(
        self, api: str, plural: str, namespace: str, name: str
    ) -> Body | None: ...

    async def get_cluster_object(self, api: str, plural: str, name: str) -> Body | None: ...

    async def whoami(self) -> str: ...

    async def write_namespaced(
        self, api: str, plural: str, namespace: str, body: Body, resource_version: str | None
    ) -> None: ...

    async def read_credentials(
        self, namespace: str, secret_name: str, field: str
    ) -> Credentials: ...


class VerifierPort(Protocol):
    def endpoint_for(self, artifact: Artifact) -> Endpoint: ...

    async def verify(
        self,
        artifact: Artifact,
        credentials: Credentials | None,
        field: str,
        checksum_may_prove: str | None = None,
        progress: ReadProgress | None = None,
    ) -> Outcome: ...

    async def read_signature(
        self, artifact: Artifact, credentials: Credentials | None
    ) -> Fetched | Unavailable: ...
