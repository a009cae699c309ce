"""An oci:// artifact's verification: its record in status, its failures in words, its Secret."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelregistry.api.modelversion import Artifact
from modelregistry.api.oci import OciDescriptor, RegistrySettings, VerifiedOciManifest
from modelregistry.decisions.oci import auth
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.failures import BlobDigestMismatchError, failure
from modelregistry.decisions.oci.manifest import Descriptor, Layer, ModelManifest
from modelregistry.decisions.oci.record import hashed
from modelregistry.decisions.oci.reference import OciReference, parse
from modelregistry.decisions.verification import Outcome, VerificationFailure, verified_record
from modelregistry.digest import ArtifactDigest, FileDigest
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsError,
    CredentialsRejectedError,
    InvalidArtifactError,
    StorageError,
    StorageUnreachableError,
)
from modelregistry.reasons import REASONS, Reason
from modelregistry.reconciler.ociartifact import verify_oci
from modelregistry.storage import ReadProgress

D = ["sha256:" + f"{i:02x}" * 32 for i in range(8)]
NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
REFERENCE = OciReference("registry.example.com:5000", "models/churn", D[7])
URI = REFERENCE.uri
WEIGHTS = "application/vnd.cncf.model.weight.v1.raw"
CONFIG = "application/vnd.cncf.model.config.v1+json"
MANIFEST = ModelManifest(
    layout="ModelPack",
    media_type="application/vnd.oci.image.manifest.v1+json",
    artifact_type="application/vnd.cncf.model.manifest.v1+json",
    config=Descriptor(CONFIG, D[0], 301),
    layers=(
        Layer(Descriptor(WEIGHTS, D[1], 1000), "file", path="model.onnx"),
        Layer(Descriptor("application/vnd.cncf.model.code.v1.tar+gzip", D[2], 50), "tar", "gzip"),
    ),
)


# --- the record in status ----------------------------------------------------------------


def test_a_verified_oci_artifact_records_its_manifest_and_every_blob() -> None:
    layers = (FileDigest("model.onnx", D[1][7:], 1000), FileDigest(D[2], D[2][7:], 50))
    observed = hashed(REFERENCE, MANIFEST, layers, unpacked_size=1400)

    record = verified_record(URI, observed, NOW)

    assert (record.uri, record.digest, record.size, record.file_count) == (URI, D[7], 1050, 2)
    assert record.files == []  # the layers are listed in the OCI record, with their media types
    assert record.oci == VerifiedOciManifest(
        registry="registry.example.com:5000",
        repository="models/churn",
        layout="ModelPack",
        media_type="application/vnd.oci.image.manifest.v1+json",
        artifact_type="application/vnd.cncf.model.manifest.v1+json",
        config=OciDescriptor(media_type=CONFIG, digest=D[0], size=301),
        layers=[
            OciDescriptor(media_type=WEIGHTS, digest=D[1], size=1000, path="model.onnx"),
            OciDescriptor(
                media_type="application/vnd.cncf.model.code.v1.tar+gzip", digest=D[2], size=50
            ),
        ],
        unpacked_size=1400,
    )
    dumped = record.model_dump(by_alias=True, exclude_none=True)
    assert dumped["oci"]["layers"][0] == {
        "mediaType": WEIGHTS,
        "digest": D[1],
        "size": 1000,
        "path": "model.onnx",
    }


def test_an_s3_artifact_has_no_oci_record() -> None:
    plain = ArtifactDigest(D[3], 3, (FileDigest("m.onnx", D[3][7:], 3, "v1"),), is_prefix=False)

    assert verified_record("s3://models/m.onnx", plain, NOW).oci is None


# --- failures in words ------------------------------------------------------------------


def test_a_blob_that_is_not_its_digest_stalls_naming_the_blob_and_both_digests() -> None:
    error = BlobDigestMismatchError(
        "served other bytes", blob="layer 0 (model.onnx)", expected=D[1], observed=D[4]
    )

    said = failure(error, REFERENCE, "spec.artifact", None, False)

    assert said.reason == Reason.BLOB_DIGEST_MISMATCH == "BlobDigestMismatch"
    assert not said.transient  # a person must look: Stalled
    assert said.message.startswith(
        f"{URI} (spec.artifact.uri): layer 0 (model.onnx) is not the bytes its digest names: "
        f"expected {D[1]}, the registry served {D[4]}. "
    )
    assert REASONS[Reason.BLOB_DIGEST_MISMATCH].condition == "ArtifactVerified"


@pytest.mark.parametrize(
    ("error", "secret", "plain_http", "reason", "start", "fix"),
    [
        (
            ArtifactNotFoundError("r has no manifest"),
            None,
            False,
            Reason.ARTIFACT_NOT_FOUND,
            "r has no manifest (spec.artifact.uri). Push the artifact",
            "the operator looks again until it appears",
        ),
        (
            CredentialsRejectedError("r refuses the credentials of 'u'"),
            "pull",
            False,
            Reason.CREDENTIALS_REJECTED,
            "r refuses the credentials of 'u'. Fix the username and password in Secret 'pull' "
            "(spec.artifact.registry.secretRef)",
            "checks again periodically",
        ),
        (
            AccessDeniedError("r refuses anonymous access"),
            None,
            False,
            Reason.ACCESS_DENIED,
            "r refuses anonymous access. Name a Secret with the registry's credentials in "
            "spec.artifact.registry.secretRef",
            "checks again periodically",
        ),
        (
            AccessDeniedError("r denies access"),
            "pull",
            False,
            Reason.ACCESS_DENIED,
            "r denies access. Check that the credentials in Secret 'pull' "
            "(spec.artifact.registry.secretRef) may pull models/churn",
            "checks again periodically",
        ),
        (
            StorageUnreachableError("connection refused"),
            None,
            True,
            Reason.STORAGE_UNREACHABLE,
            "Cannot reach the registry registry.example.com:5000 over plain HTTP "
            "(spec.artifact.uri): connection refused.",
            "the operator tries again",
        ),
        (
            StorageUnreachableError("TLS failed"),
            None,
            False,
            Reason.STORAGE_UNREACHABLE,
            "Cannot reach the registry registry.example.com:5000 over HTTPS",
            "the operator tries again",
        ),
        (
            InvalidArtifactError("not a model manifest"),
            None,
            False,
            Reason.INVALID_ARTIFACT,
            "not a model manifest (spec.artifact.uri). Push the model as a ModelPack or KitOps",
            "naming its manifest's digest",
        ),
        (
            StorageError("HTTP 500"),
            None,
            False,
            Reason.STORAGE_ERROR,
            f"The registry registry.example.com:5000 failed to serve {URI} (spec.artifact.uri): "
            "HTTP 500.",
            "registry's health and logs",
        ),
        (
            CredentialsError("Secret 'pull' holds neither"),
            "pull",
            False,
            Reason.CREDENTIALS_NOT_FOUND,
            "Secret 'pull' holds neither",
            "neither",
        ),
    ],
)
def test_each_failure_names_the_field_and_the_fix(
    error: StorageError, secret: str | None, plain_http: bool, reason: str, start: str, fix: str
) -> None:
    said = failure(error, REFERENCE, "spec.artifact", secret, plain_http)

    assert said.reason == reason
    assert said.message.startswith(start)
    assert fix in said.message


# --- the registry Secret -----------------------------------------------------------------


def secret(**data: str) -> dict[str, Any]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_a_secrets_data_is_decoded_or_refused_in_words() -> None:
    assert auth.secret_data(secret(username="u", password="p"), "S") == {
        "username": "u",
        "password": "p",
    }
    assert auth.secret_data({}, "S") == {}
    with pytest.raises(CredentialsError, match=r"^S has no data$"):
        auth.secret_data({"data": ["x"]}, "S")
    with pytest.raises(CredentialsError, match=r"^S holds a value that is not base64 of UTF-8"):
        auth.secret_data({"data": {"password": "%%%"}}, "S")
    with pytest.raises(CredentialsError, match=r"^S holds a value that is not base64 of UTF-8"):
        auth.secret_data({"data": {"password": base64.b64encode(b"\xff").decode()}}, "S")


class Secrets:
    """The cluster as verify_oci reads it: Secrets by name, nothing else."""

    def __init__(self, **secrets: dict[str, Any]) -> None:
        self.secrets = secrets
        self.read: list[tuple[str, str, str, str]] = []

    async def get_namespaced(self, api: str, plural: str, namespace: str, name: str) -> Any:
        self.read.append((api, plural, namespace, name))
        return self.secrets.get(name)


class Registry:
    """The OCI verifier, recording what it was asked to verify with which credentials."""

    def __init__(self) -> None:
        self.asked: list[tuple[OciReference, RegistryCredentials | None, str]] = []

    async def verify(
        self,
        reference: OciReference,
        artifact: Artifact,
        credentials: RegistryCredentials | None,
        field: str,
        progress: ReadProgress | None = None,
    ) -> Outcome:
        self.asked.append((reference, credentials, field))
        return VerificationFailure(Reason.STORAGE_ERROR, "recorded")


def run(artifact: Artifact, cluster: Secrets, registry: Registry) -> Outcome:
    return asyncio.run(
        verify_oci(cluster, registry, "team-a", artifact, "spec.components[0].artifact")  # type: ignore[arg-type]
    )


def with_secret(name: str | None) -> Artifact:
    settings = RegistrySettings.model_validate(
        {"secretRef": {"name": name}, "plainHttp": True} if name else {"plainHttp": True}
    )
    return Artifact(uri=URI, registry=settings)


def test_the_registry_secret_is_read_from_the_versions_namespace_for_its_registry() -> None:
    config = {"auths": {"https://registry.example.com:5000/v1/": {"auth": "dTpw"}}}
    cluster = Secrets(pull=secret(**{".dockerconfigjson": json.dumps(config)}))
    registry = Registry()

    run(with_secret("pull"), cluster, registry)

    assert cluster.read == [("v1", "secrets", "team-a", "pull")]
    assert registry.asked == [
        (parse(URI), RegistryCredentials("u", "p"), "spec.components[0].artifact")
    ]


def test_without_a_secret_the_registry_is_read_anonymously() -> None:
    cluster, registry = Secrets(), Registry()

    run(with_secret(None), cluster, registry)

    assert cluster.read == []
    assert registry.asked == [(parse(URI), None, "spec.components[0].artifact")]


def test_a_missing_or_unusable_secret_says_how_to_create_one_and_reads_nothing() -> None:
    registry = Registry()

    missing = run(with_secret("pull"), Secrets(), registry)
    other = {"auths": {"elsewhere.example.com": {"username": "u", "password": "p"}}}
    unusable = run(
        with_secret("pull"),
        Secrets(pull=secret(**{".dockerconfigjson": json.dumps(other)})),
        registry,
    )

    assert registry.asked == []
    assert isinstance(missing, VerificationFailure)
    assert missing.reason == Reason.CREDENTIALS_NOT_FOUND
    assert missing.message == (
        "Secret 'pull' (spec.components[0].artifact.registry.secretRef.name) does not exist in "
        "namespace 'team-a'. Create it: `kubectl create secret docker-registry pull "
        "--docker-server=registry.example.com:5000 --docker-username=... "
        "--docker-password=...`, or a kubernetes.io/basic-auth Secret with username and password."
    )
    assert isinstance(unusable, VerificationFailure)
    assert unusable.reason == Reason.CREDENTIALS_NOT_FOUND
    assert unusable.message.startswith(
        "Secret 'pull' (spec.components[0].artifact.registry.secretRef.name): "
        ".dockerconfigjson has no entry for registry.example.com:5000 (it has: "
        "elsewhere.example.com)"
    )


def test_a_reference_the_operator_cannot_read_fails_in_words_without_a_read() -> None:
    registry = Registry()
    tagged = Artifact.model_construct(uri="oci://registry.example.com/models/churn:v1")

    said = run(tagged, Secrets(), registry)

    assert registry.asked == []
    assert isinstance(said, VerificationFailure)
    assert said.reason == Reason.INVALID_ARTIFACT
    assert said.message.startswith(
        "spec.components[0].artifact.uri: 'oci://registry.example.com/models/churn:v1' names "
        "the tag 'v1', not the manifest by digest."
    )
    assert said.message.endswith("Create a new ModelVersion with such a URI.")
