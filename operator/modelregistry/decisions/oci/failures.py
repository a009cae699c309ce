"""What a failed verification of an OCI artifact says: the field, the registry, the fix."""

from __future__ import annotations

from modelregistry.decisions.oci.reference import OciReference
from modelregistry.decisions.verification import VerificationFailure
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsError,
    CredentialsRejectedError,
    InvalidArtifactError,
    ModelRegistryError,
    StorageError,
    StorageUnreachableError,
)
from modelregistry.reasons import Reason


class BlobDigestMismatchError(StorageError):
    """A registry served bytes for a manifest or blob that do not hash to the digest naming it."""

    reason = Reason.BLOB_DIGEST_MISMATCH

    def __init__(self, message: str, *, blob: str, expected: str, observed: str) -> None:
        super().__init__(message)
        self.blob = blob
        self.expected = expected
        self.observed = observed


def failure(
    error: ModelRegistryError,
    reference: OciReference,
    field: str,
    secret: str | None,
    plain_http: bool,
) -> VerificationFailure:
    """Say what went wrong with the artifact `field` declares, and what to do."""
    uri, registry = reference.uri, reference.registry
    if isinstance(error, CredentialsError):
        message = str(error)
    elif isinstance(error, BlobDigestMismatchError):
        message = (
            f"{uri} ({field}.uri): {error.blob} is not the bytes its digest names: expected "
            f"{error.expected}, the registry served {error.observed}. A registry serves a "
            "digest's bytes or nothing: check the registry and any proxy or cache in front of "
            "it. Nothing it served was pinned; the operator checks again periodically."
        )
    elif isinstance(error, ArtifactNotFoundError):
        message = (
            f"{error} ({field}.uri). Push the artifact (`oras push` prints the manifest's "
            "digest): the operator looks again until it appears. Or create a new ModelVersion "
            "with the right digest."
        )
    elif isinstance(error, CredentialsRejectedError):
        message = (
            f"{error}. Fix the username and password in Secret {secret!r} "
            f"({field}.registry.secretRef); the operator checks again periodically."
        )
    elif isinstance(error, AccessDeniedError):
        fix = (
            f"Check that the credentials in Secret {secret!r} ({field}.registry.secretRef) may "
            f"pull {reference.repository}"
            if secret
            else f"Name a Secret with the registry's credentials in {field}.registry.secretRef "
            "(a new ModelVersion)"
        )
        message = f"{error}. {fix}; the operator checks again periodically."
    elif isinstance(error, StorageUnreachableError):
        scheme = "plain HTTP" if plain_http else "HTTPS"
        message = (
            f"Cannot reach the registry {registry} over {scheme} ({field}.uri): {error}. Check "
            "the registry's address and the network between the operator and the registry; "
            "the operator tries again."
        )
    elif isinstance(error, InvalidArtifactError):
        message = (
            f"{error} ({field}.uri). Push the model as a ModelPack or KitOps artifact and "
            "create a new ModelVersion naming its manifest's digest."
        )
    else:
        message = (
            f"The registry {registry} failed to serve {uri} ({field}.uri): {error}. If it "
            "persists, check the registry's health and logs."
        )
    return VerificationFailure(error.reason, message)
