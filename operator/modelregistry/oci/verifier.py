"""Async front of the OCI verification: bounded concurrency, errors to outcomes.

The operator's counterpart of `verifier.py` for oci:// artifacts: the
manifest and every blob hashed by `store.OciStore` in a worker thread, at
most `max_concurrent` artifacts at a time, and any failure said in words
that name the field and the fix (`decisions/oci/failures.py`).
"""

from __future__ import annotations

import asyncio
import time

from modelregistry import metrics
from modelregistry.api.modelversion import Artifact
from modelregistry.decisions.oci import failures
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.reference import OciReference
from modelregistry.decisions.verification import Outcome
from modelregistry.errors import ModelRegistryError
from modelregistry.oci.store import OciStore
from modelregistry.storage import ReadProgress


class OciVerifier:
    """Verifies oci:// artifacts in worker threads, at most `max_concurrent` at a time."""

    def __init__(self, store: OciStore | None = None, max_concurrent: int = 4) -> None:
        self._store = store or OciStore()
        self._slots = asyncio.Semaphore(max_concurrent)

    async def verify(
        self,
        reference: OciReference,
        artifact: Artifact,
        credentials: RegistryCredentials | None,
        field: str,
        progress: ReadProgress | None = None,
    ) -> Outcome:
        """Hash the manifest `reference` names and every blob it lists."""
        settings = artifact.registry
        plain_http = bool(settings is not None and settings.plain_http)
        try:
            async with self._slots:
                started = time.perf_counter()
                hashed = await asyncio.to_thread(
                    self._store.hash_artifact,
                    reference,
                    credentials,
                    progress,
                    plain_http=plain_http,
                )
                metrics.hashed(hashed.size, time.perf_counter() - started)
                return hashed
        except ModelRegistryError as error:
            secret = settings.secret_ref.name if settings and settings.secret_ref else None
            return failures.failure(error, reference, field, secret, plain_http)
