"""failure_from_error: each error class to a reason, a retry policy (read from the
reason registry) and a whole message that names the field a person has to look at."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from modelregistry import errors
from modelregistry.api.modelversion import Artifact
from modelregistry.decisions.verification import VerificationFailure
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
from modelregistry.reasons import REASONS, Reason, is_transient
from modelregistry.storage import ArtifactStore, Endpoint
from modelregistry.verifier import Verifier, failure_from_error

URI = "s3://models/fraud/v1/model.onnx"
MINIO = "http://minio.storage:9000"
ENDPOINT = Endpoint(url=MINIO, region="us-east-1")
SECRET = "the credentials in Secret 's3-creds' (spec.artifact.storage.secretRef)"
OWN_CREDENTIALS = "the operator's own credentials (or set spec.artifact.storage.secretRef)"
DEFAULT_ENDPOINT = (
    "the operator's MODELREGISTRY_S3_ENDPOINT (or set spec.artifact.storage.endpoint)"
)

Failing = type[StorageError] | type[CredentialsError]


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


# (error class, reason, transient)
TABLE: list[tuple[Failing, str, bool]] = [
    (ArtifactNotFoundError, Reason.ARTIFACT_NOT_FOUND, True),
    (StorageUnreachableError, Reason.STORAGE_UNREACHABLE, True),
    (StorageError, Reason.STORAGE_ERROR, True),
    (CredentialsError, Reason.CREDENTIALS_NOT_FOUND, True),
    (AccessDeniedError, Reason.ACCESS_DENIED, False),
    (CredentialsRejectedError, Reason.CREDENTIALS_REJECTED, False),
    (InvalidEndpointError, Reason.INVALID_ENDPOINT, False),
    (InvalidArtifactError, Reason.INVALID_ARTIFACT, False),
]


def test_table_covers_every_error_a_verification_can_meet() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, (StorageError, CredentialsError))
    }

    assert defined == {row[0] for row in TABLE}


@pytest.mark.parametrize(("error_class", "reason", "transient"), TABLE)
def test_error_maps_to_its_registered_reason_and_retry_policy(
    error_class: Failing, reason: str, transient: bool
) -> None:
    failure = failure_from_error(error_class("detail"), artifact(secret="s3-creds"), ENDPOINT)

    assert failure.reason == reason
    assert error_class.reason == reason
    assert reason in REASONS
    assert failure.transient is transient
    assert error_class("x").transient is transient
    assert is_transient(reason) is transient


# Whole messages: (error class, artifact's secret, artifact's own endpoint, message).
MESSAGES: list[tuple[Failing, str | None, str | None, str]] = [
    (
        ArtifactNotFoundError,
        "s3-creds",
        None,
        f"Nothing found at {URI} (spec.artifact.uri) on {MINIO}: no such key. Upload the "
        "artifact, or fix spec.artifact.uri by creating a new ModelVersion.",
    ),
    (
        CredentialsRejectedError,
        "s3-creds",
        None,
        f"{MINIO} does not know the access key in {SECRET}: no such key. Put a valid "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY there; the operator checks again "
        "periodically.",
    ),
    (
        CredentialsRejectedError,
        None,
        None,
        f"{MINIO} does not know the access key in {OWN_CREDENTIALS}: no such key. Put a valid "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY there; the operator checks again "
        "periodically.",
    ),
    (
        AccessDeniedError,
        "s3-creds",
        None,
        f"{MINIO} denied access to {URI}: no such key. Check {SECRET} and the bucket policy; "
        "the operator checks again periodically.",
    ),
    (
        AccessDeniedError,
        None,
        None,
        f"{MINIO} denied access to {URI}: no such key. Check {OWN_CREDENTIALS} and the bucket "
        "policy; the operator checks again periodically.",
    ),
    (
        StorageUnreachableError,
        None,
        None,
        f"Cannot reach the object store at {MINIO} ({DEFAULT_ENDPOINT}): no such key. Check "
        "the endpoint and the network between the operator and the store.",
    ),
    (
        StorageUnreachableError,
        None,
        "http://own:9000",
        f"Cannot reach the object store at {MINIO} (spec.artifact.storage.endpoint): no such "
        "key. Check the endpoint and the network between the operator and the store.",
    ),
    (
        InvalidEndpointError,
        None,
        "http://own:9000",
        "The object store endpoint cannot be used: no such key. Fix "
        "spec.artifact.storage.endpoint (an http(s)://host[:port] URL) by creating a new "
        "ModelVersion.",
    ),
    (
        InvalidEndpointError,
        "s3-creds",
        None,
        f"The object store endpoint cannot be used: no such key. Fix {DEFAULT_ENDPOINT} (an "
        "http(s)://host[:port] URL) by creating a new ModelVersion.",
    ),
    (
        InvalidArtifactError,
        None,
        None,
        "no such key (spec.artifact.uri). Create a new ModelVersion with a plain key.",
    ),
    (
        StorageError,
        None,
        None,
        f"The object store at {MINIO} failed to serve {URI} (spec.artifact.uri): no such key. "
        "If it persists, check the store's health and logs.",
    ),
]


@pytest.mark.parametrize(("error_class", "secret", "endpoint", "message"), MESSAGES)
def test_whole_message(
    error_class: Failing, secret: str | None, endpoint: str | None, message: str
) -> None:
    failure = failure_from_error(
        error_class("no such key"), artifact(secret=secret, endpoint=endpoint), ENDPOINT
    )

    assert failure == VerificationFailure(error_class.reason, message)


def test_a_secret_without_an_endpoint_still_names_the_operators_endpoint() -> None:
    failure = failure_from_error(
        StorageUnreachableError("refused"), artifact(secret="s3-creds"), ENDPOINT
    )

    assert failure.message == (
        f"Cannot reach the object store at {MINIO} ({DEFAULT_ENDPOINT}): refused. Check the "
        "endpoint and the network between the operator and the store."
    )


@pytest.mark.parametrize(
    ("error_class", "message"),
    [
        (
            ArtifactNotFoundError,
            f"Nothing found at {URI} (spec.components[1].artifact.uri) on {MINIO}: x. Upload "
            "the artifact, or fix spec.components[1].artifact.uri by creating a new "
            "ModelVersion.",
        ),
        (
            AccessDeniedError,
            f"{MINIO} denied access to {URI}: x. Check the credentials in Secret 'creds' "
            "(spec.components[1].artifact.storage.secretRef) and the bucket policy; the "
            "operator checks again periodically.",
        ),
        (
            StorageUnreachableError,
            f"Cannot reach the object store at {MINIO} (the operator's "
            "MODELREGISTRY_S3_ENDPOINT (or set spec.components[1].artifact.storage.endpoint)): "
            "x. Check the endpoint and the network between the operator and the store.",
        ),
        (
            InvalidArtifactError,
            "x (spec.components[1].artifact.uri). Create a new ModelVersion with a plain key.",
        ),
        (
            StorageError,
            f"The object store at {MINIO} failed to serve {URI} "
            "(spec.components[1].artifact.uri): x. If it persists, check the store's health "
            "and logs.",
        ),
    ],
)
def test_a_component_failure_names_the_component_field(
    error_class: type[StorageError], message: str
) -> None:
    field = "spec.components[1].artifact"

    failure = failure_from_error(error_class("x"), artifact(secret="creds"), ENDPOINT, field)

    assert failure.message == message


def test_default_endpoint_is_named_as_aws() -> None:
    failure = failure_from_error(StorageUnreachableError("timeout"), artifact(), Endpoint())

    assert failure.message == (
        f"Cannot reach the object store at the default AWS S3 endpoint ({DEFAULT_ENDPOINT}): "
        "timeout. Check the endpoint and the network between the operator and the store."
    )


def test_credentials_error_text_is_kept_verbatim() -> None:
    text = "Secret 'gone' (spec.artifact.storage.secretRef.name) does not exist in namespace 'a'."

    failure = failure_from_error(CredentialsError(text), artifact(secret="gone"), ENDPOINT)

    assert failure == VerificationFailure(Reason.CREDENTIALS_NOT_FOUND, text)


def test_endpoint_for_merges_artifact_settings_over_the_default() -> None:
    default = Endpoint(url="http://default:9000", region="eu-west-1", addressing_style="path")
    verifier = Verifier(ArtifactStore(), default, max_concurrent=1)
    custom = Artifact.model_validate(
        {
            "uri": URI,
            "storage": {"endpoint": "https://s3.example.com", "addressingStyle": "virtual"},
        }
    )
    regional = Artifact.model_validate({"uri": URI, "storage": {"region": "ap-south-1"}})

    assert verifier.endpoint_for(artifact()) == default
    assert verifier.endpoint_for(artifact(secret="only-secret")) == default
    assert verifier.endpoint_for(custom) == Endpoint(
        url="https://s3.example.com", region="eu-west-1", addressing_style="virtual"
    )
    assert verifier.endpoint_for(regional) == Endpoint(
        url="http://default:9000", region="ap-south-1", addressing_style="path"
    )


def test_a_key_no_store_reads_literally_is_refused_before_any_request() -> None:
    verifier = Verifier(ArtifactStore(), ENDPOINT, max_concurrent=1)
    # The CRD pattern refuses such a URI; an object written past the schema still gets here.
    hostile = Artifact.model_construct(uri="s3://models/tmp/../good/model.bin")

    outcome = asyncio.run(verifier.verify(hostile, None, "spec.components[0].artifact"))

    assert outcome == VerificationFailure(
        Reason.INVALID_ARTIFACT,
        "'s3://models/tmp/../good/model.bin': '.' and '..' segments are not allowed in the key "
        "(spec.components[0].artifact.uri). Create a new ModelVersion with a plain key.",
    )
