"""The operator's exception tree.

Each error carries the condition reason it stands for; whether that reason
is transient (retried) or needs a person is read from `reasons.py`, the one
place that says so. I/O adapters raise these, the reconciler turns them into
conditions, and nothing here is mapped to Kopf's errors: the reconciler
schedules its own retries.
"""

from __future__ import annotations

from modelregistry.reasons import Reason, is_transient


class ModelRegistryError(Exception):
    """Base of every error the operator raises on purpose."""

    reason: str = Reason.STORAGE_ERROR

    @property
    def transient(self) -> bool:
        return is_transient(self.reason)


class StorageError(ModelRegistryError):
    """The object store failed in a way not covered by a subclass."""

    reason = Reason.STORAGE_ERROR


class ArtifactNotFoundError(StorageError):
    """No object (or no object under the prefix) at the artifact URI."""

    reason = Reason.ARTIFACT_NOT_FOUND


class AccessDeniedError(StorageError):
    """The object store refused the request's credentials or permissions."""

    reason = Reason.ACCESS_DENIED


class CredentialsRejectedError(StorageError):
    """The object store does not know the access key at all."""

    reason = Reason.CREDENTIALS_REJECTED


class StorageUnreachableError(StorageError):
    """The endpoint did not answer (DNS, connection refused, timeout)."""

    reason = Reason.STORAGE_UNREACHABLE


class InvalidEndpointError(StorageError):
    """The endpoint cannot be used at all (unparseable URL, impossible port)."""

    reason = Reason.INVALID_ENDPOINT


class InvalidArtifactError(StorageError):
    """The artifact cannot be verified as declared (e.g. an unrepresentable file name)."""

    reason = Reason.INVALID_ARTIFACT


class CredentialsError(ModelRegistryError):
    """The Secret named in a `storage.secretRef` is missing, unreadable or incomplete."""

    reason = Reason.CREDENTIALS_NOT_FOUND


class InvalidObjectError(ModelRegistryError):
    """The object does not match the API types (e.g. written with validation off)."""

    reason = Reason.INVALID_SPEC


class ConflictError(ModelRegistryError):
    """A write lost an optimistic-concurrency race (HTTP 409): read again and retry."""


class ObjectRefusedError(ModelRegistryError):
    """The API server refused an object the operator made as invalid (HTTP 400 or 422).

    The only objects the operator creates are validation Pods, built from the checks.
    """

    reason = Reason.INVALID_CHECK


class ClusterError(ModelRegistryError):
    """The API server answered a read or write with an unexpected error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        # The HTTP status it answered with; None when it did not answer at all.
        self.status = status


class WatchExpiredError(ClusterError):
    """A watch cannot resume: its resourceVersion is too old (410 Gone); list again."""
