"""An in-memory API server and store for the reconciler's unit tests.

It applies status patches the way the API server does (merge patch,
resourceVersion precondition, a new resourceVersion per write), counts every
call, records every status write in order, and plays the watch: `deliver()`
hands each changed ModelVersion to the operator as Kopf would, after updating
the indexes Kopf keeps (`deliver_models()` the Models). It holds cluster-scoped
objects too (admission policies), and answers `whoami` with `user`.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from modelregistry.api.modelversion import Artifact
from modelregistry.decisions.passdata import Event
from modelregistry.decisions.signature import Fetched, Unavailable
from modelregistry.decisions.validationpod import LABEL_VERSION_UID
from modelregistry.decisions.verification import Outcome
from modelregistry.digest import FileDigest, single_object
from modelregistry.errors import ConflictError, CredentialsError, ObjectRefusedError
from modelregistry.reconciler import Catalog, Operator
from modelregistry.reconciler.index import ModelEntry, VersionEntry, model_entry, version_entry
from modelregistry.storage import Credentials, Endpoint, ReadProgress
from tests.unit.mergepatches import apply_merge_patch

Body = dict[str, Any]
HEX = "a" * 64
OPERATOR_USER = "system:serviceaccount:modelregistry-system:modelregistry-operator"


class MemoryCluster:
    def __init__(self, namespace: str = "team-a") -> None:
        self.namespace = namespace
        self.refuse_pods: str | None = None  # the API server's answer to every Pod created
        self.admission: Callable[[Body], None] | None = None  # changes each Pod created
        self._pods_created = 0
        self.pods_index: dict[str, list[Body]] = defaultdict(list)
        self.objects: dict[tuple[str, str], Body] = {}
        self.events: list[tuple[str, Event]] = []
        self.calls: Counter[str] = Counter()
        self._revision = 100
        self._delivered: dict[str, str] = {}  # uid -> resourceVersion handed to the operator
        self.versions_index: dict[tuple[str, str], list[VersionEntry]] = defaultdict(list)
        self.models_index: dict[tuple[str, str], list[ModelEntry]] = defaultdict(list)
        self.secrets: dict[str, Credentials] = {}
        self.user = OPERATOR_USER  # who the operator authenticates as
        self.cluster_objects: dict[tuple[str, str], Body] = {}  # (plural, name)
        # Every status write that landed, in order: (plural, name, the status after it).
        self.writes: list[tuple[str, str, Body]] = []
        # Awaited before each status patch is applied (another writer gets in first).
        self.before_write: Callable[[str, str, Body], Awaitable[None]] | None = None
        self._models_delivered: dict[str, str] = {}

    # --- objects -------------------------------------------------------------------

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def add(
        self, plural: str, name: str, spec: Body, created: str, status: Body | None = None
    ) -> Body:
        body: Body = {
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "uid": f"uid-{name}",
                "generation": 1,
                "creationTimestamp": created,
                "resourceVersion": self._next_revision(),
            },
            "spec": spec,
        }
        if status is not None:
            body["status"] = status
        self.objects[(plural, name)] = body
        return copy.deepcopy(body)

    def delete(self, plural: str, name: str) -> Body:
        return self.objects.pop((plural, name))

    def bump_counter_behind_our_back(self, model: str, value: int) -> None:
        """Another writer (a second replica) advances the Model's counter."""
        body = self.objects[("models", model)]
        body.setdefault("status", {})["versionSequence"] = value
        body["metadata"]["resourceVersion"] = self._next_revision()

    def status(self, plural: str, name: str) -> Body:
        return copy.deepcopy(self.objects[(plural, name)].get("status") or {})

    def edit_spec(self, plural: str, name: str, **changes: Any) -> Body:
        """A person changes the spec: a new generation."""
        body = self.objects[(plural, name)]
        body["spec"].update(copy.deepcopy(changes))
        body["metadata"]["generation"] += 1
        body["metadata"]["resourceVersion"] = self._next_revision()
        return copy.deepcopy(body)

    def patch_status_as_someone_else(self, plural: str, name: str, patch: Body) -> None:
        """A person or another controller writes the status (not recorded in `writes`)."""
        body = self.objects[(plural, name)]
        body["status"] = apply_merge_patch(body.get("status") or {}, copy.deepcopy(patch))
        body["metadata"]["resourceVersion"] = self._next_revision()

    def add_cluster_object(self, plural: str, body: Body) -> None:
        self.cluster_objects[(plural, body["metadata"]["name"])] = copy.deepcopy(body)

    # --- ClusterPort -----------------------------------------------------------------

    async def get_model(self, namespace: str, name: str) -> Body | None:
        return await self._get("models", name)

    async def get_version(self, namespace: str, name: str) -> Body | None:
        return await self._get("modelversions", name)

    async def _get(self, plural: str, name: str) -> Body | None:
        self.calls[f"get {plural}"] += 1
        await asyncio.sleep(0)
        found = self.objects.get((plural, name))
        return copy.deepcopy(found) if found else None

    async def patch_status(
        self,
        plural: str,
        namespace: str,
        name: str,
        status: Body,
        *,
        resource_version: str | None = None,
    ) -> Body | None:
        self.calls[f"patch {plural}/status"] += 1
        await asyncio.sleep(0)
        if self.before_write is not None:
            await self.before_write(plural, name, status)
        body = self.objects.get((plural, name))
        if body is None:
            return None
        if resource_version is not None and resource_version != body["metadata"]["resourceVersion"]:
            self.calls[f"conflict {plural}/status"] += 1
            raise ConflictError(f"{plural}/{name} changed since it was read")
        body["status"] = apply_merge_patch(body.get("status") or {}, status)
        body["metadata"]["resourceVersion"] = self._next_revision()
        self.writes.append((plural, name, copy.deepcopy(body["status"])))
        return copy.deepcopy(body)

    async def get_pod(self, namespace: str, name: str) -> Body | None:
        return await self._get("pods", name)

    async def create_pod(self, namespace: str, manifest: Body) -> Body:
        self.calls["create pods"] += 1
        if self.refuse_pods is not None:
            raise ObjectRefusedError(self.refuse_pods)
        self._pods_created += 1
        pod = copy.deepcopy(manifest)
        meta = pod["metadata"]
        meta.setdefault("name", meta.pop("generateName", "pod-") + f"p{self._pods_created:04d}")
        meta["uid"] = f"pod-uid-{self._pods_created}"
        meta["resourceVersion"] = self._next_revision()
        if self.admission is not None:  # a mutating webhook
            self.admission(pod)
        # Defaults the API server adds when it stores a Pod.
        for container in pod["spec"].get("containers", []):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
        pod["spec"].setdefault("dnsPolicy", "ClusterFirst")
        self.objects[("pods", meta["name"])] = pod
        return copy.deepcopy(pod)

    async def delete_pod(self, namespace: str, name: str, uid: str | None = None) -> None:
        self.calls["delete pods"] += 1
        found = self.objects.get(("pods", name))
        if found is not None and (uid is None or found["metadata"]["uid"] == uid):
            del self.objects[("pods", name)]

    def pods(self) -> dict[str, Body]:
        return {name: body for (plural, name), body in self.objects.items() if plural == "pods"}

    def set_pod_status(self, name: str, status: Body) -> None:
        """The kubelet reports on a Pod."""
        self.objects[("pods", name)]["status"] = copy.deepcopy(status)
        self.objects[("pods", name)]["metadata"]["resourceVersion"] = self._next_revision()

    async def get_namespaced(self, api: str, plural: str, namespace: str, name: str) -> Body | None:
        return await self._get(plural, name)

    async def write_namespaced(
        self, api: str, plural: str, namespace: str, body: Body, resource_version: str | None
    ) -> None:
        key = (plural, body["metadata"]["name"])
        self.calls[f"{'create' if resource_version is None else 'replace'} {plural}"] += 1
        stored = self.objects.get(key)
        if (stored is None) != (resource_version is None) or (
            stored is not None and stored["metadata"]["resourceVersion"] != resource_version
        ):
            raise ConflictError(f"{plural}/{key[1]} changed meanwhile")
        written = copy.deepcopy(body)
        written["metadata"]["resourceVersion"] = self._next_revision()
        self.objects[key] = written

    async def get_cluster_object(self, api: str, plural: str, name: str) -> Body | None:
        self.calls[f"get {plural}"] += 1
        await asyncio.sleep(0)
        found = self.cluster_objects.get((plural, name))
        return copy.deepcopy(found) if found else None

    async def whoami(self) -> str:
        self.calls["create selfsubjectreviews"] += 1
        return self.user

    async def post_event(self, regarding: Body, event: Event) -> None:
        self.calls["create events"] += 1
        self.events.append((regarding["metadata"]["name"], event))

    async def read_credentials(self, namespace: str, secret_name: str, field: str) -> Credentials:
        self.calls["get secrets"] += 1
        if secret_name not in self.secrets:
            raise CredentialsError(f"Secret {secret_name!r} ({field}) does not exist.")
        return self.secrets[secret_name]

    # --- the watch -------------------------------------------------------------------

    def reindex(self) -> None:
        """What Kopf's indexes hold once every event so far has been seen."""
        self.versions_index.clear()
        self.models_index.clear()
        self.pods_index.clear()
        for (plural, _), body in self.objects.items():
            if plural == "pods":
                owner = (body["metadata"].get("labels") or {}).get(LABEL_VERSION_UID)
                if owner:
                    self.pods_index[owner].append(copy.deepcopy(body))
            if plural == "modelversions":
                entry = version_entry(body)
                if entry is not None:
                    self.versions_index[(entry.namespace, entry.model)].append(entry)
            elif plural == "models":
                m = model_entry(body)
                self.models_index[(m.namespace, m.name)].append(m)

    def catalog(self) -> Catalog:
        self.reindex()
        return Catalog(self.versions_index, self.models_index, self.pods_index)

    async def deliver(self, operator: Operator) -> int:
        """Hand every object changed since the last delivery to the operator; returns how many."""
        self.reindex()
        changed = [
            copy.deepcopy(body)
            for (plural, _), body in sorted(self.objects.items())
            if plural == "modelversions"
            and self._delivered.get(body["metadata"]["uid"]) != body["metadata"]["resourceVersion"]
        ]
        for body in changed:
            self._delivered[body["metadata"]["uid"]] = body["metadata"]["resourceVersion"]
        await asyncio.gather(*(operator.version_event("MODIFIED", body) for body in changed))
        await operator.drain()
        return len(changed)

    async def deliver_models(self, operator: Operator) -> int:
        """Hand every Model changed since the last delivery to the operator; returns how many."""
        self.reindex()
        changed = [
            copy.deepcopy(body)
            for (plural, _), body in sorted(self.objects.items())
            if plural == "models"
            and self._models_delivered.get(body["metadata"]["uid"])
            != body["metadata"]["resourceVersion"]
        ]
        for body in changed:
            self._models_delivered[body["metadata"]["uid"]] = body["metadata"]["resourceVersion"]
            await operator.model_event("MODIFIED", body)
        return len(changed)

    async def settle(self, operator: Operator, rounds: int = 10) -> None:
        """Deliver events until the operator stops writing (a quiet watch)."""
        for _ in range(rounds):
            if not await self.deliver(operator):
                return
        raise AssertionError("the operator kept writing")


class FixedVerifier:
    """Hashes every artifact to one digest; counts the calls; can be gated.

    With `store_checksum`, the store holds a SHA-256 checksum of that digest,
    accepted when the caller lets it prove the digest it expects.
    """

    def __init__(self, *, store_checksum: bool = False) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        # What each hash tells its ReadProgress before the gate: bytes to read, bytes read.
        self.size = 3
        self.read_before_gate: int | None = None  # None: all of them
        self.store_checksum = store_checksum
        self.checksum_asked: list[str | None] = []
        self.hexdigest = HEX  # what every artifact hashes to
        # Signature bundles by URI (a missing one is not found), and the reads of them.
        self.bundles: dict[str, bytes] = {}
        self.bundle_reads: list[str] = []

    def endpoint_for(self, artifact: Artifact) -> Endpoint:
        return Endpoint()

    async def verify(
        self,
        artifact: Artifact,
        credentials: Credentials | None,
        field: str,
        checksum_may_prove: str | None = None,
        progress: ReadProgress | None = None,
    ) -> Outcome:
        self.calls += 1
        self.checksum_asked.append(checksum_may_prove)
        by_checksum = self.store_checksum and checksum_may_prove == "sha256:" + HEX
        if progress is not None and not by_checksum:
            progress.expect(self.size)
            read = self.read_before_gate
            progress.advance(self.size if read is None else read)
        if self.gate is not None:
            await self.gate.wait()
        return single_object(
            FileDigest(
                path="m.bin",
                hexdigest=self.hexdigest,
                size=3,
                version_id="v1",
                by_store_checksum=by_checksum,
            )
        )

    async def read_signature(
        self, artifact: Artifact, credentials: Credentials | None
    ) -> Fetched | Unavailable:
        assert artifact.signature is not None
        uri = artifact.signature.uri
        self.bundle_reads.append(uri)
        if uri not in self.bundles:
            return Unavailable("SignatureMissing", f"Nothing found at {uri}.")
        return Fetched(self.bundles[uri], "bundle-v1")
