"""Types shared by both kinds: the base model, references and conditions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "modelregistry.io"
VERSION = "v1alpha1"
# The kinds' plural names: their resources in the API's paths.
MODELS = "models"
MODELVERSIONS = "modelversions"

# RFC 1123 subdomain, the rule for object names.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# RFC 1123 label: alias names, stage-like identifiers.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SHA256_DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"

# One segment of an object key: not empty, not `.` or `..` (stores and proxies
# resolve those, so the key would name another object), no backslash or
# control character.
_CHAR = r"[^/\\\x00-\x1f\x7f]"
_NOT_DOT = r"[^/.\\\x00-\x1f\x7f]"
_KEY_SEGMENT = rf"(?:{_NOT_DOT}{_CHAR}*|\.{_NOT_DOT}{_CHAR}*|\.\.{_CHAR}+)"
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# s3://bucket/key, or s3://bucket/prefix/ for a directory of files.
S3_URI_PATTERN = rf"^s3://{_BUCKET}/(?:{_KEY_SEGMENT}/)*{_KEY_SEGMENT}/?$"
# s3://bucket/key of one object.
S3_OBJECT_URI_PATTERN = rf"^s3://{_BUCKET}/(?:{_KEY_SEGMENT}/)*{_KEY_SEGMENT}$"

# Bounds keep CEL cost estimates finite (the API server refuses rules over
# unbounded data) and keep objects well under etcd's size limit.
ShortText = Annotated[str, Field(max_length=256)]
LongText = Annotated[str, Field(max_length=8192)]
Digest = Annotated[
    str,
    Field(
        pattern=SHA256_DIGEST_PATTERN,
        max_length=71,
        description="A SHA-256 digest: `sha256:` followed by 64 lowercase hex digits.",
    ),
]
ObjectName = Annotated[str, Field(pattern=DNS_SUBDOMAIN_PATTERN, min_length=1, max_length=253)]


class ApiModel(BaseModel):
    """Base of every API type: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace."""

    name: ObjectName = Field(description="Name of the referenced object.")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """One aspect of the object's state, following the Kubernetes conventions (kstatus)."""

    type: str = Field(
        max_length=316,
        description=(
            "Type of condition: Ready, Reconciling, Stalled, or a domain condition such as "
            "ArtifactVerified."
        ),
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        max_length=1024,
        description="A CamelCase word for programs: why the condition is in this state.",
    )
    message: str = Field(
        max_length=32768,
        description="A sentence for people: what happened and, where needed, what to do.",
    )
    last_transition_time: str = Field(
        max_length=64,
        description="When the status last changed (RFC 3339).",
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The metadata.generation this condition was computed for.",
    )
