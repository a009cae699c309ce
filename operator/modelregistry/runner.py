"""Run the Kopf operator in the foreground."""

from __future__ import annotations

import asyncio
import logging

import kopf

from modelregistry.settings import Settings


def run_operator(*, namespaces: list[str] | None = None, verbose: bool = False) -> int:
    """Run until interrupted; `namespaces` (else MODELREGISTRY_NAMESPACES) limits the scope."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Request-level logs of the S3 client say nothing a person needs and
    # print signing details; keep them quiet even when verbose.
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Importing registers the handlers with Kopf's default registry.
    import modelregistry.handlers  # noqa: F401

    scope = list(namespaces or Settings.from_environment().namespaces)
    asyncio.run(
        kopf.operator(
            clusterwide=not scope,
            namespaces=scope,
            standalone=True,
            liveness_endpoint=None,
            # The periodic pass looks at the same namespaces as the watches.
            memo=kopf.Memo(namespaces=scope),
        )
    )
    return 0
