"""API types of the `modelregistry.io/v1alpha1` group.

The pydantic models here are the schema: `make crds` renders them into the
CRD manifests under `crds/`, and the operator validates every object it reads
with the same models.
"""

from modelregistry.api.lifecycle import Stage
from modelregistry.api.meta import GROUP, VERSION, Condition, LocalObjectReference
from modelregistry.api.model import ModelSpec, ModelStatus
from modelregistry.api.modelversion import (
    Artifact,
    ModelVersionSpec,
    ModelVersionStatus,
    VerifiedArtifact,
)

__all__ = [
    "GROUP",
    "VERSION",
    "Artifact",
    "Condition",
    "LocalObjectReference",
    "ModelSpec",
    "ModelStatus",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "Stage",
    "VerifiedArtifact",
]
