"""/healthz, /readyz and /metrics over plain HTTP, served from the operator's event loop.

Served by the loop itself, /healthz answers only while the loop does: a
loop blocked or starved makes the liveness probe fail, which is the point.
Each request is a coroutine on that loop, no thread of its own, and the
answers are cheap (the metrics are a few dozen series).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

logger = logging.getLogger(__name__)

# The classic text format, which every Prometheus reads (the names need nothing newer).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Why the operator is not ready, for a person reading the probe's answer; None: ready.
Readiness = Callable[[], str | None]


class Endpoints:
    """The probes' and Prometheus' endpoints on one port of every address."""

    def __init__(
        self,
        port: int,
        not_ready: Readiness,
        registry: CollectorRegistry = REGISTRY,
        host: str = "0.0.0.0",  # noqa: S104  # probes and scrapes come from outside the Pod
    ) -> None:
        self._port = port
        self._host = host
        self._not_ready = not_ready
        self._registry = registry
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int | None:
        """The port served (the one bound, when asked for 0); None when not serving."""
        if self._runner is None:
            return None
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                return int(address[1])
        return None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        # No access log: probes every few seconds would drown every other line.
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        reason = self._not_ready()
        if reason is None:
            return web.Response(text="ok\n")
        return web.Response(status=503, text=reason.replace("\n", " ") + "\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": METRICS_CONTENT_TYPE}
        )


async def serve(port: int, not_ready: Readiness) -> Endpoints | None:
    """Serve on `port` (0: nothing). A port that cannot be bound is logged, not fatal.

    The liveness probe then fails, so in a Pod the kubelet says so and restarts
    it; on a machine that runs several operators (tests, benchmarks) each
    still runs.
    """
    if port == 0:
        return None
    endpoints = Endpoints(port, not_ready)
    try:
        await endpoints.start()
    except OSError as error:
        logger.error(
            "cannot serve /healthz, /readyz and /metrics on port %d: %s; set "
            "MODELREGISTRY_HTTP_PORT to a free port (0: serve none)",
            port,
            error,
        )
        return None
    logger.info("serving /healthz, /readyz and /metrics on port %d", port)
    return endpoints
