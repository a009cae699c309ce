"""failure_from_error: each error class to a reason, a retry policy and a message
that names the field a person has to look at."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from modelregistry import errors
from modelregistry.api.modelversion import Artifact
from modelregistry.conditions import Reason
from modelregistry.decisions import TRANSIENT_REASONS
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsError,
    InvalidArtifactError,
    ModelRegistryError,
    StorageError,
    StorageUnreachableError,
)
from modelregistry.storage import ArtifactStore, Endpoint
from modelregistry.verifier import Verifier, failure_from_error

URI = "s3://models/fraud/v1/model.onnx"
ENDPOINT = Endpoint(url="http://minio.storage:9000", region="us-east-1")


def artifact(*, secret: str | None = None, endpoint: str | None = None) -> Artifact:
    storage: dict[str, Any] = {}
    if secret is not None:
        storage["secretRef"] = {"name": secret}
    if endpoint is not None:
        storage["endpoint"] = endpoint
    body: dict[str, Any] = {"uri": URI}
    if storage:
        body["storage"] = storage
    return Artifact.model_validate(body)


# (error class, reason, transient, field the message must name)
TABLE: list[tuple[type[ModelRegistryError], str, bool, str]] = [
    (ArtifactNotFoundError, Reason.ARTIFACT_NOT_FOUND, True, "spec.artifact.uri"),
    (AccessDeniedError, Reason.ACCESS_DENIED, False, "spec.artifact.storage.secretRef"),
    (StorageUnreachableError, Reason.STORAGE_UNREACHABLE, True, "spec.artifact.storage.endpoint"),
    (InvalidArtifactError, Reason.INVALID_SPEC, False, "spec.artifact.uri"),
    (StorageError, Reason.STORAGE_ERROR, True, "spec.artifact.uri"),
    (CredentialsError, Reason.CREDENTIALS_NOT_FOUND, True, "spec.artifact.storage.secretRef"),
]


def test_table_covers_every_error_class() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, ModelRegistryError) and obj is not ModelRegistryError
    }

    assert defined == {row[0] for row in TABLE}


@pytest.mark.parametrize(("error_class", "reason", "transient", "field"), TABLE)
def test_error_maps_to_reason_retry_policy_and_field(
    error_class: type[ModelRegistryError], reason: str, transient: bool, field: str
) -> None:
    if error_class is CredentialsError:
        # The cluster layer raises it with the field in the text (cluster.read_credentials).
        error: Any = CredentialsError(
            "Secret 's3-creds' (spec.artifact.storage.secretRef.name) lacks AWS_ACCESS_KEY_ID."
        )
    else:
        error = error_class(f"{URI}: detail from the store")

    failure = failure_from_error(error, artifact(secret="s3-creds"), ENDPOINT)

    assert failure.reason == reason
    assert failure.transient is transient
    assert field in failure.message


@pytest.mark.parametrize(
    "error_class",
    [ArtifactNotFoundError, AccessDeniedError, StorageUnreachableError, InvalidArtifactError],
)
def test_transient_flag_agrees_with_the_error_class(error_class: type[StorageError]) -> None:
    failure = failure_from_error(error_class("x"), artifact(), ENDPOINT)

    assert failure.transient is error_class.transient


@pytest.mark.parametrize(
    "error_class", [ArtifactNotFoundError, AccessDeniedError, StorageUnreachableError, StorageError]
)
def test_message_keeps_the_error_detail(error_class: type[StorageError]) -> None:
    failure = failure_from_error(error_class("detail-1234"), artifact(), ENDPOINT)

    assert "detail-1234" in failure.message


def test_not_found_names_uri_and_endpoint() -> None:
    failure = failure_from_error(ArtifactNotFoundError("no such key"), artifact(), ENDPOINT)

    assert failure.message.startswith(
        f"Nothing found at {URI} (spec.artifact.uri) on http://minio.storage:9000: no such key."
    )


def test_access_denied_names_the_secret_when_one_is_set() -> None:
    failure = failure_from_error(AccessDeniedError("403"), artifact(secret="s3-creds"), ENDPOINT)

    assert "Secret 's3-creds' (spec.artifact.storage.secretRef)" in failure.message
    assert URI in failure.message


def test_access_denied_without_a_secret_suggests_one() -> None:
    failure = failure_from_error(AccessDeniedError("403"), artifact(), ENDPOINT)

    assert "operator's own credentials" in failure.message
    assert "spec.artifact.storage.secretRef" in failure.message


def test_unreachable_names_the_endpoint() -> None:
    failure = failure_from_error(StorageUnreachableError("refused"), artifact(), ENDPOINT)

    assert failure.message == (
        "Cannot reach the object store at http://minio.storage:9000 "
        "(spec.artifact.storage.endpoint): refused. Check the endpoint and the network "
        "between the operator and the store."
    )


@pytest.mark.parametrize(
    "error_class",
    [
        ArtifactNotFoundError,
        AccessDeniedError,
        StorageUnreachableError,
        InvalidArtifactError,
        StorageError,
    ],
)
def test_a_component_failure_names_the_component_field(error_class: type[StorageError]) -> None:
    field = "spec.components[1].artifact"

    failure = failure_from_error(error_class("x"), artifact(secret="creds"), ENDPOINT, field)

    assert field in failure.message
    assert "spec.artifact" not in failure.message.replace(field, "")


def test_default_endpoint_is_named_as_aws() -> None:
    failure = failure_from_error(StorageUnreachableError("timeout"), artifact(), Endpoint())

    assert "the default AWS S3 endpoint" in failure.message


def test_credentials_error_text_is_kept_verbatim() -> None:
    text = "Secret 'gone' (spec.artifact.storage.secretRef.name) does not exist in namespace 'a'."

    failure = failure_from_error(CredentialsError(text), artifact(secret="gone"), ENDPOINT)

    assert failure.message == text


def test_endpoint_for_merges_artifact_settings_over_the_default() -> None:
    default = Endpoint(url="http://default:9000", region="eu-west-1", addressing_style="path")
    verifier = Verifier(ArtifactStore(), default, max_concurrent=1)
    custom = Artifact.model_validate(
        {
            "uri": URI,
            "storage": {"endpoint": "https://s3.example.com", "addressingStyle": "virtual"},
        }
    )

    assert verifier.endpoint_for(artifact()) == default
    assert verifier.endpoint_for(artifact(secret="only-secret")) == default
    assert verifier.endpoint_for(custom) == Endpoint(
        url="https://s3.example.com", region="eu-west-1", addressing_style="virtual"
    )


@pytest.mark.parametrize(("error_class", "reason", "transient", "field"), TABLE)
def test_retry_policy_agrees_with_the_reason(
    error_class: type[ModelRegistryError], reason: str, transient: bool, field: str
) -> None:
    """A later pass that hashes nothing judges by the reason; both must agree."""
    failure = failure_from_error(error_class("boom"), artifact(), ENDPOINT)

    assert (failure.reason in TRANSIENT_REASONS) is failure.transient
