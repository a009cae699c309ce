"""The operator's wiring: watch events, retries and the periodic pass.

Everything that starts a pass goes through here, so the rules of when to
look are in one place:
- a watch event looks at a version whose generation has not been
  reconciled, or that waits with no retry scheduled (after a restart);
  events caused by the operator's own writes are no-ops;
- a retry looks again after a backoff while a version waits on something
  that may clear up; a new Model kicks the versions that wait for it;
- the periodic pass walks the index and looks only at what is due, so an
  idle pass over 10,000 Ready versions makes no API call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime

from modelregistry import logs, metrics
from modelregistry.decisions.validationpod import LABEL_VERSION_UID, PodSettings
from modelregistry.errors import ModelRegistryError
from modelregistry.reconciler.admission import AdmissionCheck
from modelregistry.reconciler.deployments import DeploymentRecorder, Workload
from modelregistry.reconciler.index import Catalog, VersionEntry, version_entry
from modelregistry.reconciler.model import ModelRefresher
from modelregistry.reconciler.numbering import Numbering
from modelregistry.reconciler.packing import pack, unpack
from modelregistry.reconciler.ports import Body, ClusterPort, VerifierPort
from modelregistry.reconciler.production import ProductionLocks
from modelregistry.reconciler.requeue import Requeue
from modelregistry.reconciler.sandbox import Sandbox, SandboxSettings
from modelregistry.reconciler.version import PassOutcome, VersionReconciler
from modelregistry.reconciler.workqueue import WorkQueue
from modelregistry.settings import Settings

logger = logging.getLogger(__name__)

# Versions looked at concurrently by the periodic pass; hashing has its own bound.
PERIODIC_CONCURRENCY = 8
# Passes run at once for watch events. Passes wait mostly on the API server and
# the store; more than this only lengthens the API server's own queue.
PASS_WORKERS = 32


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Operator:
    def __init__(
        self,
        cluster: ClusterPort,
        verifier: VerifierPort,
        catalog: Catalog,
        settings: Settings,
        clock: Callable[[], datetime] = _utcnow,
        *,
        leading: asyncio.Event | None = None,
        workloads: Mapping[str, Collection[Workload]] | None = None,
    ) -> None:
        # Set while this replica may write (always, without leader election): every
        # pass, retry, periodic look and Model refresh waits for it.
        if leading is None:
            leading = asyncio.Event()
            leading.set()
        self.leading = leading
        self._catalog = catalog
        self._settings = settings
        self._clock = clock
        self.numbers = Numbering(cluster, catalog)
        self.requeue = Requeue(self._retry, settings.retry_delay)
        self.models = ModelRefresher(
            cluster,
            catalog,
            self.numbers,
            window=settings.model_refresh_window,
            clock=clock,
            kick=self.requeue.now,
            leading=leading,
        )
        self.versions = VersionReconciler(
            cluster,
            verifier,
            catalog,
            self.numbers,
            reverify_interval=settings.reverify_interval,
            pod_settings=PodSettings(
                image=settings.validation_image,
                pull_policy=settings.validation_pull_policy,
                endpoint=settings.validation_endpoint,
                region=settings.default_endpoint.region,
                addressing_style=settings.default_endpoint.addressing_style,
                default_secret=settings.validation_secret,
                service_account=settings.validation_service_account,
                runtime_class=settings.validation_runtime_class,
                resources=settings.validation_resources,
                registries=settings.validation_registries,
            ),
            sandbox=Sandbox(
                cluster,
                SandboxSettings(
                    service_account=settings.validation_service_account,
                    network_policy=settings.validation_network_policy,
                    egress=settings.validation_egress,
                    endpoint=settings.validation_endpoint,
                    registries=tuple(e for _, e in settings.validation_registries),
                    dns=settings.validation_dns,
                ),
            ),
            clock=clock,
            production=ProductionLocks(cluster, clock, self.numbers.model_written),
            admission=AdmissionCheck(
                cluster, assume_installed=settings.admission_policies == "installed"
            ),
            limits=self.models.over_limit,
        )
        # Where each version runs: workloads by namespace, from the Pod informers.
        self.deployments = DeploymentRecorder(
            cluster,
            catalog,
            workloads if workloads is not None else {},
            window=settings.model_refresh_window,
            leading=leading,
            kick=self.requeue.now,
        )
        self.queue: WorkQueue[bytes] = WorkQueue(self._event_pass, PASS_WORKERS)

    # --- watch events --------------------------------------------------------------

    async def version_event(self, kind: str | None, body: Body) -> None:
        entry = version_entry(body)  # None: no modelRef, a spec the schema did not check
        uid = body["metadata"]["uid"]
        if kind == "DELETED":
            await self.version_deleted(uid, entry)
            return
        if entry is not None:
            self._catalog.observed(entry)
            self.models.mark(entry.namespace, entry.model)
            self.deployments.model_changed(entry.namespace, entry.model)
            if uid not in self.queue and not self._needs_pass(entry):
                return  # most often the echo of this operator's own write
        self.queue.add(uid, pack(body))

    async def version_deleted(self, uid: str, entry: VersionEntry | None) -> None:
        """The ModelVersion `uid` is gone (`entry`: what the index held of it, if anything)."""
        self.queue.discard(uid)
        self.versions.forget(uid)
        self.requeue.cancel(uid)
        if entry is not None:
            self._catalog.forget(entry)
            self.models.mark(entry.namespace, entry.model)
            self.deployments.model_changed(entry.namespace, entry.model)

    async def _event_pass(self, packed: bytes) -> None:
        body = unpack(packed)
        entry = version_entry(body)
        await self._run(body, fresh=True, only_if=lambda: self._needs_pass(entry))

    def _needs_pass(self, entry: VersionEntry | None) -> bool:
        if entry is None or entry.observed_generation != entry.generation:
            return True  # new, changed, or not readable as a version: the pass explains
        if entry.ready and entry.asked != entry.stage and entry.asked != "None":
            return True  # a stage asked for and not granted: an approval may have come
        # Not when a retry is scheduled, or when Ready or Stalled (the periodic pass
        # looks again when due); yes when waiting with no retry (the operator restarted).
        return not (self.requeue.pending(entry.uid) or entry.ready or entry.stalled)

    async def model_event(self, kind: str | None, body: Body) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if kind == "DELETED":
            await self.model_deleted(namespace, name)
            return
        self.models.mark(namespace, name)
        self.deployments.model_changed(namespace, name)
        for entry in self._catalog.versions(namespace, name):
            # A new Model ends the wait for it; a freed (or changed) Production lock, or
            # a changed policy, may end the wait for Production.
            if entry.model_missing or entry.stage_waits:
                self.requeue.now(entry.namespace, entry.name, entry.uid)

    async def model_deleted(self, namespace: str, name: str) -> None:
        """The Model is gone: every version of it looks again (and waits for it)."""
        versions = self._catalog.versions(namespace, name)
        self.numbers.model_deleted((namespace, name), (e.uid for e in versions))
        for entry in versions:
            self.requeue.now(entry.namespace, entry.name, entry.uid)

    async def pod_event(self, kind: str | None, body: Body) -> None:
        """A validation Pod changed: its ModelVersion takes a look (reads it again)."""
        meta = body["metadata"]
        owner = next(
            (
                o
                for o in meta.get("ownerReferences") or []
                if o.get("kind") == "ModelVersion" and o.get("controller")
            ),
            None,
        )
        uid = (meta.get("labels") or {}).get(LABEL_VERSION_UID)
        if owner is None or owner.get("uid") != uid or self.versions.busy(owner["uid"]):
            return
        if not self._catalog.knows(owner["uid"]):
            return  # not a version this operator (this shard) follows
        self.requeue.now(meta["namespace"], owner["name"], owner["uid"])

    # --- passes --------------------------------------------------------------------

    async def _retry(self, namespace: str, name: str, uid: str) -> None:
        await self._run(_stub(namespace, name, uid), fresh=False)

    async def _run(
        self,
        body: Body,
        *,
        fresh: bool,
        periodic: bool = False,
        only_if: Callable[[], bool] | None = None,
    ) -> None:
        meta = body["metadata"]
        await self.leading.wait()
        try:
            outcome = await self.versions.reconcile(
                body, fresh=fresh, periodic=periodic, only_if=only_if
            )
        except ModelRegistryError as error:
            metrics.reconcile_error(error)
            delay = self.requeue.after_failure(meta["namespace"], meta["name"], meta["uid"])
            logger.warning(
                "pass over %s/%s failed (%s); again in %.1fs",
                meta["namespace"],
                meta["name"],
                error,
                delay,
                extra=logs.about("ModelVersion", meta),
            )
            return
        except Exception as error:
            metrics.reconcile_error(error)
            delay = self.requeue.after_failure(meta["namespace"], meta["name"], meta["uid"])
            logger.exception(
                "pass over %s/%s failed; again in %.1fs",
                meta["namespace"],
                meta["name"],
                delay,
                extra=logs.about("ModelVersion", meta),
            )
            return
        self._after(meta, outcome, periodic=periodic)

    def _after(self, meta: Body, outcome: PassOutcome, *, periodic: bool) -> None:
        if outcome.retry and not periodic:
            self.requeue.after_failure(meta["namespace"], meta["name"], meta["uid"])
        elif not outcome.retry:
            self.requeue.succeeded(meta["uid"])

    async def periodic_pass(self) -> int:
        """Look at every version that is due; returns how many were looked at."""
        now = self._clock()
        interval = self._settings.reverify_interval
        due = [
            entry
            for entry in self._catalog.all_versions()
            if not self.versions.busy(entry.uid)
            and entry.uid not in self.queue  # its pass is coming anyway
            and not self.requeue.pending(entry.uid)
            and entry.due(now, interval)
        ]
        slots = asyncio.Semaphore(PERIODIC_CONCURRENCY)

        async def look(entry: VersionEntry) -> None:
            async with slots:
                await self._run(
                    _stub(entry.namespace, entry.name, entry.uid), fresh=False, periodic=True
                )

        await asyncio.gather(*(look(e) for e in due))
        return len(due)

    async def run_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._settings.check_interval)
            await self.leading.wait()
            try:
                await self.periodic_pass()
            except Exception:
                logger.exception(
                    "periodic pass failed; trying again in %.0fs", self._settings.check_interval
                )

    async def drain(self) -> None:
        """Until every watch event handed in so far has had its pass."""
        await self.queue.join()

    async def close(self) -> None:
        await self.queue.close()
        await self.requeue.close()
        await self.numbers.close()
        await self.models.close()
        await self.deployments.close()


def _stub(namespace: str, name: str, uid: str) -> Body:
    """Enough of an object to read it again by name."""
    return {"metadata": {"namespace": namespace, "name": name, "uid": uid}}
