"""Async front of the artifact store: bounded concurrency, errors to outcomes."""

from __future__ import annotations

import asyncio
import time

from modelregistry import metrics, storage
from modelregistry.api.modelversion import Artifact
from modelregistry.decisions.modelsigning import MAX_BUNDLE_BYTES
from modelregistry.decisions.signature import FIELD as SIGNATURE_FIELD
from modelregistry.decisions.signature import Fetched, Unavailable
from modelregistry.decisions.verification import (
    Outcome,
    VerificationFailure,
    store_checksum_accepted,
)
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsError,
    CredentialsRejectedError,
    InvalidArtifactError,
    InvalidEndpointError,
    StorageError,
    StorageUnreachableError,
)
from modelregistry.reasons import Reason


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
        checksum_may_prove: str | None = None,
        progress: storage.ReadProgress | None = None,
    ) -> Outcome:
        """Hash `artifact`; a failure's message names `field`, where it is declared.

        With `checksum_may_prove`, the store's checksums are asked first and
        accepted if they equal that digest; anything else is hashed.
        `progress` learns the size of what is read.
        """
        endpoint = self.endpoint_for(artifact)
        try:
            location = storage.S3Location.parse(artifact.uri)
            async with self._slots:
                if checksum_may_prove is not None:
                    try:
                        stored = await asyncio.to_thread(
                            self._store.stored_checksum, location, endpoint, credentials
                        )
                    except StorageError:
                        stored = None  # hashing says what is wrong, in its own words
                    if stored is not None and store_checksum_accepted(checksum_may_prove, stored):
                        return stored
                started = time.perf_counter()
                hashed = await asyncio.to_thread(
                    self._store.hash_artifact, location, endpoint, credentials, progress
                )
                metrics.hashed(hashed.size, time.perf_counter() - started)
                return hashed
        except StorageError as error:
            return failure_from_error(error, artifact, endpoint, field)

    async def read_signature(
        self, artifact: Artifact, credentials: storage.Credentials | None
    ) -> Fetched | Unavailable:
        """The bytes of `artifact.signature`'s bundle, read with the artifact's store settings."""
        assert artifact.signature is not None
        uri = artifact.signature.uri
        endpoint = self.endpoint_for(artifact)
        try:
            raw, version_id = await asyncio.to_thread(
                self._store.read_object,
                storage.S3Location.parse(uri),
                endpoint,
                credentials,
                MAX_BUNDLE_BYTES,
            )
        except ArtifactNotFoundError:
            return Unavailable(
                Reason.SIGNATURE_MISSING,
                f"Nothing found at {uri} ({SIGNATURE_FIELD}.uri) on "
                f"{endpoint.url or 'the default AWS S3 endpoint'}: upload the signature bundle "
                "there (`model_signing sign key MODEL --signature ...`, or `modelregistry "
                "register --sign-key`); the operator looks again.",
            )
        except InvalidArtifactError as error:  # larger than any bundle
            return Unavailable(
                Reason.SIGNATURE_INVALID,
                f"{uri} ({SIGNATURE_FIELD}.uri) is not a signature bundle: {error}. Upload the "
                "bundle there, or register the model again as a new ModelVersion.",
            )
        except StorageError as error:
            bundle = artifact.model_copy(update={"uri": uri})
            failure = failure_from_error(error, bundle, endpoint)
            return Unavailable(
                Reason.SIGNATURE_UNREADABLE,
                f"Could not read the signature bundle ({SIGNATURE_FIELD}.uri): {failure.message}",
            )
        return Fetched(raw, version_id)


def failure_from_error(
    error: StorageError | CredentialsError,
    artifact: Artifact,
    endpoint: storage.Endpoint,
    field: str = "spec.artifact",
) -> VerificationFailure:
    """Say what went wrong, which field is involved and what to do."""
    uri = artifact.uri
    where = endpoint.url or "the default AWS S3 endpoint"
    own_endpoint = artifact.storage is not None and artifact.storage.endpoint is not None
    endpoint_field = (
        f"{field}.storage.endpoint"
        if own_endpoint
        else f"the operator's MODELREGISTRY_S3_ENDPOINT (or set {field}.storage.endpoint)"
    )
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
    message: str
    if isinstance(error, CredentialsError):
        message = str(error)
    elif isinstance(error, ArtifactNotFoundError):
        message = (
            f"Nothing found at {uri} ({field}.uri) on {where}: {error}. Upload the "
            f"artifact, or fix {field}.uri by creating a new ModelVersion."
        )
    elif isinstance(error, CredentialsRejectedError):
        message = (
            f"{where} does not know the access key in {credentials}: {error}. Put a valid "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY there; the operator checks again "
            "periodically."
        )
    elif isinstance(error, AccessDeniedError):
        message = (
            f"{where} denied access to {uri}: {error}. Check {credentials} and the bucket "
            "policy; the operator checks again periodically."
        )
    elif isinstance(error, StorageUnreachableError):
        message = (
            f"Cannot reach the object store at {where} ({endpoint_field}): {error}. "
            "Check the endpoint and the network between the operator and the store."
        )
    elif isinstance(error, InvalidEndpointError):
        message = (
            f"The object store endpoint cannot be used: {error}. Fix {endpoint_field} "
            "(an http(s)://host[:port] URL) by creating a new ModelVersion."
        )
    elif isinstance(error, InvalidArtifactError):
        message = f"{error} ({field}.uri). Create a new ModelVersion with a plain key."
    else:
        message = (
            f"The object store at {where} failed to serve {uri} ({field}.uri): {error}. If it "
            "persists, check the store's health and logs."
        )
    return VerificationFailure(error.reason, message)
