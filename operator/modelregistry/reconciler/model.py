"""A Model's status, recomputed from the index and written at most once per window.

Every change to one of its versions marks the Model; a marked Model is
refreshed after `window` seconds, so a burst of a thousand new versions
costs one read and one write of the Model, not a thousand. At most
`REFRESHES_PER_WINDOW` Models are refreshed per window, longest marked
first: when versions of a hundred Models change at once, each Model's
summary trails by a few seconds instead of the API server taking a hundred
Model writes a second. Nothing is LISTed: the versions come from the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from datetime import datetime

from modelregistry import logs, metrics
from modelregistry.api import ModelStatus
from modelregistry.api.meta import MODELS
from modelregistry.decisions.model import over_limit, summarize_model
from modelregistry.mergepatch import merge_patch
from modelregistry.reconciler.index import Catalog, ModelKey
from modelregistry.reconciler.numbering import Numbering
from modelregistry.reconciler.ports import ClusterPort
from modelregistry.reconciler.reading import baseline, dump_status, mapping, parse_status

logger = logging.getLogger(__name__)

# Written only with a precondition (the version counter, the Production lock):
# never part of a summary patch.
_LOCKED_FIELDS = ("versionSequence", "production")
REFRESHES_PER_WINDOW = 10


class ModelRefresher:
    def __init__(
        self,
        cluster: ClusterPort,
        catalog: Catalog,
        numbers: Numbering,
        *,
        window: float,
        clock: Callable[[], datetime],
        kick: Callable[[str, str, str], None] = lambda namespace, name, uid: None,
        leading: asyncio.Event | None = None,
    ) -> None:
        self._cluster = cluster
        self._catalog = catalog
        self._numbers = numbers
        self._window = window
        self._clock = clock
        self._kick = kick  # a version's pass, now
        self._leading = leading  # writes wait for it (a standby replica writes nothing)
        # (namespace, model) -> uids of the versions its version limit archives.
        self.over_limit: dict[ModelKey, frozenset[str]] = {}
        # Marked Models, longest marked first (a dict keeps the order of insertion).
        self._marked: dict[ModelKey, None] = {}
        self._task: asyncio.Task[None] | None = None

    def mark(self, namespace: str, name: str) -> None:
        """Refresh this Model soon (once, however often it is marked meanwhile)."""
        self._marked.setdefault((namespace, name), None)
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_marked(), name="refresh Models")

    async def _refresh_marked(self) -> None:
        try:
            while self._marked:
                await asyncio.sleep(self._window)
                if self._leading is not None:
                    await self._leading.wait()
                due = list(itertools.islice(self._marked, REFRESHES_PER_WINDOW))
                for key in due:
                    del self._marked[key]
                await asyncio.gather(*(self._refresh_or_mark(key) for key in due))
        finally:
            self._task = None

    async def _refresh_or_mark(self, key: ModelKey) -> None:
        try:
            await self.refresh(*key)
        except Exception:
            logger.exception(
                "could not refresh Model %s/%s; trying again", *key, extra=self._about(*key)
            )
            self.mark(*key)

    async def refresh(self, namespace: str, name: str) -> None:
        """Recompute the Model's status from its versions; write only on change."""
        body = await self._cluster.get_model(namespace, name)
        if body is None:
            return
        current = parse_status(ModelStatus, body)
        spec = mapping(body.get("spec"))
        aliases = _aliases(spec.get("aliases"))
        versions = [v.summary for v in self._catalog.versions(namespace, name)]
        status = summarize_model(
            versions, current, body["metadata"].get("generation", 1), self._clock(), aliases
        )
        limit = mapping(spec.get("policy")).get("versionLimit")
        archived = over_limit(versions, limit if isinstance(limit, int) else None, aliases)
        self.over_limit[(namespace, name)] = frozenset(v.uid for v in archived)
        for version in archived:
            self._kick(namespace, version.name, version.uid)
        old, new = baseline(body, current), dump_status(status)
        for fields in (old, new):
            for locked in _LOCKED_FIELDS:
                fields.pop(locked, None)
        patch = merge_patch(old, new)
        if patch:
            written = await self._cluster.patch_status(MODELS, namespace, name, patch)
            if written is not None:
                metrics.STATUS_WRITES.labels("Model").inc()
                self._numbers.model_written((namespace, name), written)

    def _about(self, namespace: str, name: str) -> dict[str, object]:
        model = self._catalog.model(namespace, name)
        meta = {"namespace": namespace, "name": name, "uid": model.uid if model else None}
        return logs.about("Model", meta)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _aliases(raw: object) -> dict[str, int]:
    """spec.aliases as written (the CRD's schema checked it): name -> version number."""
    found = mapping(raw)
    return {k: v for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)}
