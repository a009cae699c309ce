"""The periodic pass: every object is looked at again, without Kopf timers.

Kopf's timers put a finalizer on every object, so a ModelVersion could not be
deleted while the operator is away, and the operator would need the right to
patch objects it otherwise only reads. One task per operator instead lists
the objects each interval and runs the same reconcile as the event handlers,
which decides from the status whether anything is due (re-verification,
a stalled version's next look, a Model's counts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from modelregistry.cluster import MODELS, MODELVERSIONS, Body, Cluster
from modelregistry.reconciler import Reconciler, RetryLater

logger = logging.getLogger(__name__)

# Objects looked at concurrently; hashing has its own, smaller bound.
CONCURRENCY = 8


async def run_periodically(
    reconciler: Reconciler,
    cluster: Cluster,
    interval: float,
    namespaces: Sequence[str] | None,
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await check_all(reconciler, cluster, namespaces)
        except Exception:
            logger.exception("periodic pass failed; trying again in %.0fs", interval)


async def check_all(
    reconciler: Reconciler, cluster: Cluster, namespaces: Sequence[str] | None
) -> None:
    slots = asyncio.Semaphore(CONCURRENCY)
    models = await cluster.list_all(MODELS, namespaces)
    existing = {(m["metadata"]["namespace"], m["metadata"]["name"]) for m in models}

    async def check(body: Body) -> None:
        if reconciler.busy(body):
            return  # an event handler is on it
        model = (
            body["metadata"]["namespace"],
            (body.get("spec") or {}).get("modelRef", {}).get("name"),
        )
        async with slots:
            try:
                if reconciler.quiet(body, model in existing):
                    return  # Ready and nothing due: no need to read anything again
                await reconciler.reconcile_version(body, periodic=True)
            except RetryLater:
                pass  # the event handler owns retries with backoff
            except Exception:
                meta = body["metadata"]
                logger.exception("periodic check of %s/%s failed", meta["namespace"], meta["name"])

    await asyncio.gather(*(check(b) for b in await cluster.list_all(MODELVERSIONS, namespaces)))
    for model in models:
        await reconciler.refresh_model(model["metadata"]["namespace"], model["metadata"]["name"])
