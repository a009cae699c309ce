"""Run the Kopf operator in the foreground."""

from __future__ import annotations

import asyncio
import logging

import kopf


def run_operator(*, namespaces: list[str] | None = None, verbose: bool = False) -> int:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Importing registers the handlers with Kopf's default registry.
    import modelregistry.handlers  # noqa: F401

    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=namespaces or [],
            standalone=True,
            liveness_endpoint=None,
        )
    )
    return 0
