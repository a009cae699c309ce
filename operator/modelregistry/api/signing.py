"""Signed models: where a version's signature is, whom to trust, and what was verified.

The signature is an OpenSSF model-signing bundle (docs/signing.md). The
identity to expect is public, so it is read from a ConfigMap: the operator
reads no Secret for it. Which keys a Model trusts is the Model's own
`policy.signing.trustedKeys`: a namespace user who may write ConfigMaps or
create versions cannot widen it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from modelregistry.api.meta import (
    S3_OBJECT_URI_PATTERN,
    ApiModel,
    Digest,
    ObjectName,
    ShortText,
)

FINGERPRINT_PATTERN = r"^sha256:[a-f0-9]{64}$"
# What the Model's policy may list: fingerprints of public keys (of a signer, or of a root CA).
Fingerprint = Annotated[str, Field(pattern=FINGERPRINT_PATTERN, max_length=71)]
MAX_TRUSTED_KEYS = 16


class ConfigMapKeySelector(ApiModel):
    """One entry of a ConfigMap in the version's namespace."""

    name: ObjectName = Field(description="The ConfigMap's name.")
    key: str = Field(
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="The entry (data key) that holds the PEM text.",
    )


class CertificateIdentity(ApiModel):
    """A signer known by an X.509 certificate that leads to a trust root of yours."""

    trust_root: ConfigMapKeySelector = Field(
        description="A ConfigMap entry with the PEM certificates (root CAs, and any "
        "intermediates) the signing certificate must lead to."
    )
    identity: ShortText | None = Field(
        default=None,
        description="A subject alternative name (email, URI or DNS name) the signing "
        "certificate must carry; any, when omitted.",
    )


class ArtifactSignature(ApiModel):
    """An OpenSSF model-signing bundle over the artifact's files, and who must have signed it."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.publicKey) != has(self.certificate)",
                    "message": "set either publicKey (signed with a key) or certificate "
                    "(signed with a certificate), not both",
                }
            ]
        },
    )

    uri: str = Field(
        max_length=2048,
        pattern=S3_OBJECT_URI_PATTERN,
        description="Where the bundle is: s3://bucket/key of one object in the artifact's store "
        "(read with spec.artifact.storage), e.g. s3://models/churn/3/model.sig inside a prefix "
        "artifact (the one file there that is not signed) or s3://models/churn/model.onnx.sig "
        "next to a single object.",
    )
    public_key: ConfigMapKeySelector | None = Field(
        default=None,
        description="A ConfigMap entry holding the signer's PEM public key (an ECDSA key on "
        "P-256, P-384 or P-521): for bundles made by `model_signing sign key` or "
        "`modelregistry register --sign-key`.",
    )
    certificate: CertificateIdentity | None = Field(
        default=None,
        description="The trust root a signing certificate must lead to: for bundles made by "
        "`model_signing sign certificate`.",
    )


class SigningPolicy(ApiModel):
    """Which signatures the Model accepts before a version is promoted."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.required) && self.required) || "
                    "(has(self.trustedKeys) && size(self.trustedKeys) > 0)",
                    "message": "a required signature needs trustedKeys: without them anyone who "
                    "may create a ConfigMap and a version in the namespace could sign with a key "
                    "of their own (list the fingerprints `modelregistry fingerprint KEY.pub` "
                    "prints)",
                    "fieldPath": ".trustedKeys",
                }
            ]
        },
    )

    required: bool | None = Field(
        default=None,
        description="When true, Staging and Production are granted only to versions whose "
        "artifact signature verified (SignatureVerified) with a key in trustedKeys. Not to be "
        "confused with validation.requireSignature, which is about the model's input and output "
        "schema (MLflow's signature).",
    )
    trusted_keys: list[Fingerprint] = Field(
        default_factory=list,
        max_length=MAX_TRUSTED_KEYS,
        description="Fingerprints (sha256:<hex> of the DER public key, as `modelregistry "
        "fingerprint` prints) of the keys whose signatures count: the signer's public key, or for "
        "certificate signing the root CA's key the chain leads to.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


SigningMethod = Literal["key", "certificate"]


class VerifiedSignature(ApiModel):
    """The signature the operator verified over the artifact's verified files."""

    uri: str = Field(max_length=2048, description="The bundle's URI (spec.artifact.signature).")
    digest: Digest = Field(description="SHA-256 of the bundle's bytes: later reads must match it.")
    version_id: str | None = Field(
        default=None, max_length=1024, description="The bundle's object versionId, where versioned."
    )
    method: SigningMethod = Field(description="key or certificate.")
    key_fingerprint: str = Field(
        max_length=71,
        description="The key that verified: the public key's fingerprint, or for a certificate "
        "the root CA key's (what the Model's policy.signing.trustedKeys pins).",
    )
    signer: str | None = Field(
        default=None,
        max_length=1024,
        description="The signing certificate's subject and alternative names (certificate only).",
    )
    files: int = Field(ge=1, description="How many files the signature covers.")
    artifact_digest: Digest = Field(
        description="The artifact digest (status.artifact.digest) whose files it was checked "
        "against."
    )
    verified_at: str = Field(max_length=64, description="When it was last verified.")
