"""OCI artifacts: `oci://registry/repository@sha256:<manifest digest>`.

The manifest digest is the artifact's content digest: the manifest names
every blob (config and layers) by its own digest, so one digest pins them
all. A tag alone is refused: a tag is a pointer anyone who may push can
move, so it does not say which bytes were meant (docs/oci.md says why the
first-verified pinning of s3:// keys is not used here).

The patterns below are RE2 (the API server's `pattern` and CEL `matches`)
and Python `re` alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelregistry.api.meta import ApiModel, Digest, LocalObjectReference

OCI_SCHEME = "oci://"
# A registry host: DNS labels or an IPv4 address, or a bracketed IPv6 address, and a port.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
REGISTRY_PATTERN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]{{1,5}})?"
# A repository: lowercase path components joined by '/', as the distribution spec allows.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN = rf"{_COMPONENT}(?:/{_COMPONENT})*"
OCI_DIGEST_URI_PATTERN = rf"^oci://{REGISTRY_PATTERN}/{REPOSITORY_PATTERN}@sha256:[a-f0-9]{{64}}$"
# What the schema lets through to the CEL rules, which say what is wrong in words.
OCI_ANY_URI_PATTERN = r"oci://[^\s]+"

OciLayout = Literal["ModelPack", "KitOps"]


class RegistrySettings(ApiModel):
    """How to reach the OCI registry of an oci:// artifact."""

    secret_ref: LocalObjectReference | None = Field(
        default=None,
        description=(
            "Secret in this namespace with the registry's credentials: a "
            "kubernetes.io/basic-auth Secret (keys username and password) or a "
            "kubernetes.io/dockerconfigjson Secret (`kubectl create secret docker-registry`) "
            "with an entry for the registry. Without it the registry is read anonymously."
        ),
    )
    plain_http: bool | None = Field(
        default=None,
        description=(
            "Speak plain HTTP to the registry instead of HTTPS: only for a registry on a "
            "network you trust (a local test registry). Credentials then cross the network "
            "in the clear; the digests still protect the bytes."
        ),
    )


class OciDescriptor(ApiModel):
    """One blob of an OCI artifact, as its manifest names it and the operator verified it."""

    media_type: str = Field(max_length=255, description="The blob's media type.")
    digest: Digest = Field(description="SHA-256 of the blob's bytes, as hashed.")
    size: int = Field(ge=0, description="Size in bytes.")
    path: str | None = Field(
        default=None,
        max_length=4096,
        description=(
            "For a layer that is one file: where it lies in the artifact "
            "(org.cncf.model.filepath, else org.opencontainers.image.title)."
        ),
    )


class VerifiedOciManifest(ApiModel):
    """The OCI manifest behind a verified oci:// artifact: its digest is the artifact's."""

    registry: str = Field(max_length=512, description="Registry host (and port).")
    repository: str = Field(max_length=512, description="Repository in the registry.")
    layout: OciLayout = Field(
        description="ModelPack (CNCF model-spec) or KitOps (a ModelKit), as the manifest says."
    )
    media_type: str = Field(max_length=255, description="The manifest's media type.")
    artifact_type: str | None = Field(
        default=None, max_length=255, description="The manifest's artifactType, where it has one."
    )
    config: OciDescriptor = Field(description="The config blob (ModelPack config or Kitfile).")
    layers: list[OciDescriptor] = Field(
        default_factory=list,
        max_length=1000,
        description="Every layer, in manifest order, each verified against its digest.",
    )
    unpacked_size: int = Field(
        ge=0,
        description="Bytes the layers take once unpacked, at most (gzip layers inflated): the "
        "room a validation Pod gives the artifact.",
    )
