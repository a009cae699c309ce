"""The Model's Production lock: at most one version says Production, even when passes race.

`status.production` on the Model names the version that may say
Production. It is only ever written with a resourceVersion precondition,
and a version writes `status.stage: Production` only after it holds the
lock, with its own resourceVersion as a precondition. Taking the lock from
a holder (the policy replaces it, or it no longer holds Production) goes:

1. the Model names the newcomer `incoming` (precondition on the Model);
2. the holder's status is fenced: written (Production -> Archived, plus a
   history entry), with its resourceVersion as precondition, so a
   Production write it had under way fails on its own precondition;
3. the Model names the newcomer holder (precondition on the Model).

A restart anywhere in between resumes from what the Model says: an
`incoming` whose version is gone or no longer asks for Production is
cleared; the newcomer itself carries on from step 2.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from modelregistry import conditions as cond
from modelregistry import metrics
from modelregistry.api import ModelVersionSpec, ModelVersionStatus
from modelregistry.api.lifecycle import ProductionIncoming, ProductionLock
from modelregistry.api.meta import MODELS, MODELVERSIONS
from modelregistry.decisions import lifecycle
from modelregistry.decisions.lifecycle import Holder, Policy
from modelregistry.decisions.passdata import VersionView
from modelregistry.errors import ConflictError, InvalidObjectError
from modelregistry.reasons import Reason
from modelregistry.reconciler.ports import Body, ClusterPort
from modelregistry.reconciler.reading import mapping, parse_spec, parse_status

logger = logging.getLogger(__name__)

MAX_TRIES = 10


@dataclass(frozen=True)
class Taken:
    """The lock is this version's."""


@dataclass(frozen=True)
class Busy:
    """Someone else holds the lock (or is taking it) and keeps it for now."""

    holder: Holder | None = None
    incoming: Holder | None = None


@dataclass(frozen=True)
class Compared:
    """The holder the champion gate compared the version with (uid None: there was none)."""

    uid: str | None


@dataclass(frozen=True)
class HolderChanged:
    """The lock names another holder than the one compared with: nothing was written."""

    holder: str | None


def lock_of(model: Body) -> ProductionLock:
    raw = mapping(mapping(model.get("status")).get("production"))
    try:
        return ProductionLock.model_validate(raw)
    except ValueError:
        return ProductionLock()


class ProductionLocks:
    def __init__(
        self,
        cluster: ClusterPort,
        clock: Callable[[], datetime],
        model_written: Callable[[tuple[str, str], Body], None],
    ) -> None:
        self._cluster = cluster
        self._clock = clock
        self._model_written = model_written  # keeps other writers' preconditions current

    async def acquire(
        self, view: VersionView, policy: Policy, compared: Compared | None = None
    ) -> Taken | Busy | HolderChanged:
        """Take the lock for `view`'s version, or say who keeps it.

        With `compared`, only from the holder the champion gate compared the
        version with: a lock that names another by now is left as it is.
        """
        me = Holder(view.name, view.uid)
        for _ in range(MAX_TRIES):
            model = await self._cluster.get_model(view.namespace, view.model)
            if model is None:
                return Busy()
            lock = lock_of(model)
            try:
                outcome = await self._step(view, policy, me, model, lock, compared)
            except ConflictError:
                continue  # someone wrote meanwhile: read again
            if outcome is not None:
                return outcome
        raise ConflictError(f"Model {view.model!r}: its Production lock kept changing; retrying")

    async def _step(
        self,
        view: VersionView,
        policy: Policy,
        me: Holder,
        model: Body,
        lock: ProductionLock,
        compared: Compared | None,
    ) -> Taken | Busy | HolderChanged | None:
        """One step towards the lock; None: read the Model again and go on."""
        if lock.uid == me.uid and lock.incoming is None:
            return Taken()
        if lock.incoming is not None and lock.incoming.uid != me.uid:
            if await self._still_asking(view.namespace, lock.incoming.name, lock.incoming.uid):
                return Busy(incoming=Holder(lock.incoming.name, lock.incoming.uid))
            await self._write_lock(view, model, lock.model_copy(update={"incoming": None}))
            return None
        holder = None
        if lock.uid is not None and lock.holder is not None and lock.uid != me.uid:
            holder = await self._version(view.namespace, lock.holder, lock.uid)
            if holder is not None and policy.handover == "wait" and _holds(holder):
                if lock.incoming is not None:
                    # Named before the holder asked again: step back, or each waits on the other.
                    await self._write_lock(view, model, lock.model_copy(update={"incoming": None}))
                return Busy(holder=Holder(lock.holder, lock.uid))
        if compared is not None and _uid(holder) != compared.uid:
            return HolderChanged(lock.holder if holder is not None else None)
        if holder is not None and lock.incoming is None:
            incoming = ProductionIncoming(name=me.name, uid=me.uid)
            await self._write_lock(view, model, lock.model_copy(update={"incoming": incoming}))
            return None
        if holder is not None:
            await self._fence(holder, me, policy)
        taken = ProductionLock(
            holder=me.name, uid=me.uid, since=cond.format_time(self._clock()), incoming=None
        )
        await self._write_lock(view, model, taken)
        return Taken()

    async def release(self, view: VersionView) -> None:
        """The version left Production: free the lock if it is still its, and no hand-over runs."""
        for _ in range(MAX_TRIES):
            model = await self._cluster.get_model(view.namespace, view.model)
            if model is None:
                return
            lock = lock_of(model)
            if lock.uid != view.uid or lock.incoming is not None:
                return
            try:
                await self._write_lock(view, model, None)
            except ConflictError:
                continue
            return
        logger.warning("could not release the Production lock of Model %s", view.model)

    async def _write_lock(
        self, view: VersionView, model: Body, lock: ProductionLock | None
    ) -> None:
        # Nulls included: a merge patch removes a key only when it says null.
        value = None if lock is None else lock.model_dump(mode="json", by_alias=True)
        written = await self._cluster.patch_status(
            MODELS,
            view.namespace,
            view.model,
            {"production": value},
            resource_version=str(model["metadata"]["resourceVersion"]),
        )
        if written is not None:
            metrics.STATUS_WRITES.labels("Model").inc()
            self._model_written((view.namespace, view.model), written)

    async def _version(self, namespace: str, name: str, uid: str) -> Body | None:
        body = await self._cluster.get_version(namespace, name)
        if body is None or body["metadata"].get("uid") != uid:
            return None
        return body

    async def _still_asking(self, namespace: str, name: str, uid: str) -> bool:
        body = await self._version(namespace, name, uid)
        return body is not None and mapping(body.get("spec")).get("stage") == "Production"

    async def _fence(self, body: Body, me: Holder, policy: Policy) -> None:
        """Write the holder's status (precondition: its resourceVersion) so it says Production no
        more, and a Production write it had under way fails."""
        meta = body["metadata"]
        try:
            spec = parse_spec(ModelVersionSpec, body)
        except InvalidObjectError:
            return  # not a version the operator can read: it never says Production either
        view = VersionView(
            spec,
            parse_status(ModelVersionStatus, body),
            meta.get("generation", 1),
            self._clock(),
            meta["namespace"],
            meta["name"],
            meta["uid"],
        )
        fenced = lifecycle.fence(view, me.name, policy)
        written = await self._cluster.patch_status(
            MODELVERSIONS,
            view.namespace,
            view.name,
            fenced,
            resource_version=str(meta["resourceVersion"]),
        )
        if written is not None:
            metrics.STATUS_WRITES.labels("ModelVersion").inc()
            metrics.stage_transition(
                view.status.stage or "None", str(fenced["stage"]), Reason.REPLACED
            )


def _uid(body: Body | None) -> str | None:
    return None if body is None else str(body["metadata"].get("uid"))


def _holds(body: Body) -> bool:
    """Whether a holder keeps Production: it says so, or still asks for it."""
    stage = mapping(body.get("status")).get("stage")
    return stage == "Production" or mapping(body.get("spec")).get("stage") == "Production"
