"""The operator's exception tree.

Storage and cluster code raise these; only the Kopf handlers map them to
`kopf.TemporaryError` / `kopf.PermanentError`, and the decision layer maps
them to condition reasons.
"""

from __future__ import annotations


class ModelRegistryError(Exception):
    """Base of every error the operator raises on purpose."""


class StorageError(ModelRegistryError):
    """The object store failed in a way not covered by a subclass."""

    transient = True


class ArtifactNotFoundError(StorageError):
    """No object (or no object under the prefix) at the artifact URI."""


class AccessDeniedError(StorageError):
    """The object store refused the request's credentials or permissions."""

    transient = False


class StorageUnreachableError(StorageError):
    """The endpoint did not answer (DNS, connection refused, timeout)."""


class InvalidArtifactError(StorageError):
    """The artifact cannot be verified as declared (e.g. an unrepresentable file name)."""

    transient = False


class CredentialsError(ModelRegistryError):
    """The Secret named in spec.artifact.storage.secretRef is missing or incomplete."""
