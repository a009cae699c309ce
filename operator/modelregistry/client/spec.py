"""The ModelVersion a registration creates, checked against the API types before any upload.

The API server would refuse a bad spec too, but only after the bytes went up;
the same pydantic types it was generated from say so at once, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelregistry.api.meta import GROUP, VERSION
from modelregistry.api.modelversion import ModelVersionSpec
from modelregistry.client.errors import RegistryError

Body = dict[str, Any]
# Stands in for the digest while the spec is checked before the upload.
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
STAGES = ("None", "Staging", "Production", "Archived")
# Said instead of a pattern nobody reads.
_FORMS = {
    "artifact.uri": "s3://BUCKET/KEY or s3://BUCKET/PREFIX/ (a bucket name of 3 to 63 "
    "lowercase letters, digits, '.' and '-'; no empty, '.' or '..' key segments)",
    "lineage.code.commit": "a hex commit hash",
}


class SpecError(RegistryError):
    """A field the ModelVersion would be refused for."""


@dataclass(frozen=True)
class VersionPlan:
    """Everything a ModelVersion records, gathered before the upload."""

    model: str
    uri: str
    name: str | None = None  # None: the API server generates `<model>-<random>`
    version: int | None = None  # None: the operator assigns the next number
    stage: str = "None"
    description: str | None = None
    artifact_format: str | None = None
    storage: Mapping[str, Any] | None = None  # spec.artifact.storage, as the API spells it
    code: Mapping[str, str] | None = None
    training_run: Mapping[str, str] | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    signature: Mapping[str, Any] | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_signature: Mapping[str, Any] | None = None  # spec.artifact.signature


def version_body(plan: VersionPlan, digest: str = PLACEHOLDER_DIGEST) -> Body:
    """The ModelVersion to create, its spec checked (see `check_spec`)."""
    artifact: Body = {"uri": plan.uri, "digest": digest}
    if plan.artifact_format:
        artifact["format"] = plan.artifact_format
    if plan.storage:
        artifact["storage"] = dict(plan.storage)
    if plan.artifact_signature:
        artifact["signature"] = dict(plan.artifact_signature)
    spec: Body = {"modelRef": {"name": plan.model}, "artifact": artifact, "stage": plan.stage}
    lineage: Body = {}
    if plan.code:
        lineage["code"] = dict(plan.code)
    if plan.training_run:
        lineage["trainingRun"] = dict(plan.training_run)
    optional: dict[str, Any] = {
        "version": plan.version,
        "description": plan.description,
        "lineage": lineage,
        "metrics": dict(plan.metrics),
        "hyperparameters": dict(plan.hyperparameters),
        "signature": dict(plan.signature) if plan.signature else None,
    }
    spec.update({k: v for k, v in optional.items() if v not in (None, {}, "")})
    metadata: Body = {"name": plan.name} if plan.name else {"generateName": f"{plan.model}-"}
    if plan.annotations:
        metadata["annotations"] = dict(plan.annotations)
    check_spec(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": metadata,
        "spec": spec,
    }


def check_spec(spec: Body) -> None:
    """Raise SpecError naming every field the API types refuse."""
    try:
        ModelVersionSpec.model_validate(spec)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"])
            if problem["type"] == "string_pattern_mismatch":
                form = _FORMS.get(where, "the form the API server requires")
                problems.append(f"spec.{where}: {problem['input']!r} is not {form}")
            else:
                problems.append(f"spec.{where}: {problem['msg']}")
        raise SpecError("the ModelVersion would be refused: " + "; ".join(problems)) from None
