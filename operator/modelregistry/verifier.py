"""Async front of the artifact store: bounded concurrency, errors to outcomes."""

from __future__ import annotations

import asyncio

from modelregistry import storage
from modelregistry.api.modelversion import Artifact
from modelregistry.conditions import Reason
from modelregistry.decisions import Outcome, VerificationFailure
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsError,
    InvalidArtifactError,
    StorageError,
    StorageUnreachableError,
)


class Verifier:
    """Hashes artifacts in worker threads, at most `max_concurrent` at a time."""

    def __init__(
        self, store: storage.ArtifactStore, default_endpoint: storage.Endpoint, max_concurrent: int
    ) -> None:
        self._store = store
        self._default_endpoint = default_endpoint
        self._slots = asyncio.Semaphore(max_concurrent)

    def endpoint_for(self, artifact: Artifact) -> storage.Endpoint:
        settings = artifact.storage
        default = self._default_endpoint
        if settings is None:
            return default
        return storage.Endpoint(
            url=settings.endpoint or default.url,
            region=settings.region or default.region,
            addressing_style=settings.addressing_style or default.addressing_style,
        )

    async def verify(
        self,
        artifact: Artifact,
        credentials: storage.Credentials | None,
        field: str = "spec.artifact",
    ) -> Outcome:
        """Hash `artifact`; a failure's message names `field`, where it is declared."""
        location = storage.S3Location.parse(artifact.uri)
        endpoint = self.endpoint_for(artifact)
        async with self._slots:
            try:
                return await asyncio.to_thread(
                    self._store.hash_artifact, location, endpoint, credentials
                )
            except StorageError as error:
                return failure_from_error(error, artifact, endpoint, field)


def failure_from_error(
    error: StorageError | CredentialsError,
    artifact: Artifact,
    endpoint: storage.Endpoint,
    field: str = "spec.artifact",
) -> VerificationFailure:
    """Say what went wrong, which field is involved and what to do."""
    uri = artifact.uri
    where = endpoint.url or "the default AWS S3 endpoint"
    secret = (
        artifact.storage.secret_ref.name
        if artifact.storage and artifact.storage.secret_ref
        else None
    )
    credentials = (
        f"the credentials in Secret {secret!r} ({field}.storage.secretRef)"
        if secret
        else f"the operator's own credentials (or set {field}.storage.secretRef)"
    )
    if isinstance(error, CredentialsError):
        return VerificationFailure(Reason.CREDENTIALS_NOT_FOUND, str(error), transient=True)
    if isinstance(error, ArtifactNotFoundError):
        return VerificationFailure(
            Reason.ARTIFACT_NOT_FOUND,
            f"Nothing found at {uri} ({field}.uri) on {where}: {error}. Upload the "
            f"artifact, or fix {field}.uri by creating a new ModelVersion.",
            transient=True,
        )
    if isinstance(error, AccessDeniedError):
        return VerificationFailure(
            Reason.ACCESS_DENIED,
            f"{where} denied access to {uri}: {error}. Check {credentials} and the bucket "
            "policy; the operator checks again periodically.",
            transient=False,
        )
    if isinstance(error, StorageUnreachableError):
        return VerificationFailure(
            Reason.STORAGE_UNREACHABLE,
            f"Cannot reach the object store at {where} ({field}.storage.endpoint): {error}. "
            "Check the endpoint and the network between the operator and the store.",
            transient=True,
        )
    if isinstance(error, InvalidArtifactError):
        return VerificationFailure(Reason.INVALID_SPEC, f"{error} ({field}.uri).", transient=False)
    return VerificationFailure(
        Reason.STORAGE_ERROR,
        f"The object store at {where} failed to serve {uri} ({field}.uri): {error}. If it "
        "persists, check the store's health and logs.",
        transient=True,
    )
