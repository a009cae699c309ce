"""Where each version runs: workloads from the watch, status.deployments written on change.

The Pod informers (`handlers.py`) keep, per namespace, every workload that
names a version (`Workload`); nothing else of a Pod is held. A workload's
event marks the Models it names, before and after; a Model's or version's
change marks that Model when any workload names it (an alias moved, a stage
granted). A marked Model is looked at after `window` seconds: its versions'
users are resolved from the index and each version whose status.deployments
says otherwise is patched, so a burst of Pod churn costs one write per
version, and an unchanged set costs none. Nothing is LISTed per object.
Each write is followed by the version's pass, which protects a version in use
(`decisions/lifecycle.py`: status.deletionProtection, and the Archived gate).

Nothing is written before every informer has listed (`synced`): a restarted
operator that wrote from half a list would drop users it has not seen yet,
and write them back a moment later. Once listed, every Model that any version
records users of is looked at too, so users gone while the operator was down
leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from modelregistry import metrics
from modelregistry.api.meta import MODELVERSIONS
from modelregistry.decisions.deployments import (
    User,
    deployments_of,
    references,
    resolve_reference,
    status_patch,
    user_of,
)
from modelregistry.decisions.serving import ServingUri
from modelregistry.reconciler.index import Catalog, ModelKey
from modelregistry.reconciler.ports import Body, ClusterPort
from modelregistry.reconciler.reading import mapping

logger = logging.getLogger(__name__)

# Models looked at per window, longest marked first (as the Model refresher does).
REFRESHES_PER_WINDOW = 20


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload that names versions: who it is, and what it names."""

    user: User
    uris: tuple[ServingUri, ...]

    @property
    def models(self) -> frozenset[ModelKey]:
        return frozenset((u.namespace, u.model) for u in self.uris)


def workload_keyed(kind: str) -> Callable[[Body], tuple[str, Workload] | None]:
    """The informer's index entry of a workload: by namespace; None when it names nothing."""

    def keyed(body: Body) -> tuple[str, Workload] | None:
        uris = references(body, kind)
        if not uris:
            return None
        user = user_of(body, kind)
        return user.namespace, Workload(user, uris)

    return keyed


class DeploymentRecorder:
    def __init__(
        self,
        cluster: ClusterPort,
        catalog: Catalog,
        workloads: Mapping[str, Collection[Workload]],
        *,
        window: float,
        leading: asyncio.Event | None = None,
        kick: Callable[[str, str, str], None] = lambda namespace, name, uid: None,
    ) -> None:
        self._cluster = cluster
        self._catalog = catalog
        self._workloads = workloads  # the informers' index: namespace -> workloads
        self._window = window
        self._leading = leading
        # A version's pass, now: it keeps the deletion protection and the Archived gate,
        # which read status.deployments.
        self._kick = kick
        self.synced = asyncio.Event()  # set once every informer has listed
        # Each workload's Models as last seen (by uid), and how many name each Model.
        self._models_of: dict[str, frozenset[ModelKey]] = {}
        self._named: Counter[ModelKey] = Counter()
        self._marked: dict[ModelKey, None] = {}
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    # --- what the watches say ------------------------------------------------------

    def workload_event(self, uid: str, body: Body, kind: str) -> None:
        keyed = workload_keyed(kind)(body)
        self._follow(uid, keyed[1].models if keyed is not None else frozenset())

    def workload_deleted(self, uid: str) -> None:
        self._follow(uid, frozenset())

    def _follow(self, uid: str, models: frozenset[ModelKey]) -> None:
        before = self._models_of.pop(uid, frozenset())
        if models:
            self._models_of[uid] = models
        if before == models:
            return  # most Pod events: a status change that names nothing new
        self._named.subtract(before)
        self._named.update(models)
        for key in before - models:
            if self._named[key] <= 0:
                del self._named[key]
        for key in before | models:
            self.mark(*key)

    def model_changed(self, namespace: str, name: str) -> None:
        """A Model or one of its versions changed: its users may resolve elsewhere now."""
        if (namespace, name) in self._named:
            self.mark(namespace, name)

    def listed(self) -> None:
        """Every informer has listed: look at every Model named, or recorded as used."""
        self.synced.set()
        for entry in self._catalog.all_versions():
            if entry.deployments.count:
                self.mark(entry.namespace, entry.model)
        for key in list(self._named):
            self.mark(*key)

    # --- writing ---------------------------------------------------------------------

    def mark(self, namespace: str, name: str) -> None:
        self._marked.setdefault((namespace, name), None)
        if self._task is None:
            self._task = asyncio.create_task(self._write_marked(), name="record deployments")

    async def _write_marked(self) -> None:
        try:
            while self._marked:
                await asyncio.sleep(self._window)
                await self.synced.wait()
                if self._leading is not None:
                    await self._leading.wait()
                due = list(itertools.islice(self._marked, REFRESHES_PER_WINDOW))
                for key in due:
                    del self._marked[key]
                await asyncio.gather(*(self._record_or_mark(key) for key in due))
        finally:
            self._task = None

    async def _record_or_mark(self, key: ModelKey) -> None:
        try:
            await self.record(*key)
        except Exception:
            logger.exception("could not record the users of Model %s/%s; trying again", *key)
            self._marked.setdefault(key, None)

    async def record(self, namespace: str, model: str) -> None:
        """Write each version's users where its status says otherwise."""
        entries = self._catalog.versions(namespace, model)
        summaries = [e.summary for e in entries]
        found = self._catalog.model(namespace, model)
        aliases = _aliases(found.aliases if found is not None else None)
        users: dict[str, list[User]] = defaultdict(list)
        for workload in self._workloads.get(namespace, ()):
            for uri in workload.uris:
                if uri.model != model:
                    continue
                name = resolve_reference(uri, summaries, aliases)
                if name is not None:
                    users[name].append(workload.user)
        for entry in entries:
            now = deployments_of(users.get(entry.name, ()))
            if entry.deployments == now:
                continue
            patch = status_patch(
                {
                    "deployments": entry.deployments.listed,
                    "deploymentCount": entry.deployments.count,
                },
                now,
            )
            if patch is None:
                continue
            written = await self._cluster.patch_status(MODELVERSIONS, namespace, entry.name, patch)
            self.writes += 1
            if written is not None:
                metrics.STATUS_WRITES.labels("ModelVersion").inc()
                self._catalog.wrote(written)
                self._kick(namespace, entry.name, entry.uid)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _aliases(raw: object) -> dict[str, int]:
    """spec.aliases as written (the CRD's schema checked it): name -> version number."""
    found = mapping(raw)
    return {k: v for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)}
