"""API types of the `modelregistry.io/v1alpha1` group.

The pydantic models here are the schema: `make crds` renders them into the
CRD manifests under `crds/`, and the operator validates every object it reads
with the same models.

The names are imported when first used (PEP 562), so a command that needs
only `api.meta`'s constants (`modelregistry fetch` in an init container)
does not build every model first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelregistry.lazynames import lazy_getattr

if TYPE_CHECKING:
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

# Where each public name lives, for __getattr__.
_HOMES: dict[str, str] = {
    "GROUP": "modelregistry.api.meta",
    "VERSION": "modelregistry.api.meta",
    "Artifact": "modelregistry.api.modelversion",
    "Condition": "modelregistry.api.meta",
    "LocalObjectReference": "modelregistry.api.meta",
    "ModelSpec": "modelregistry.api.model",
    "ModelStatus": "modelregistry.api.model",
    "ModelVersionSpec": "modelregistry.api.modelversion",
    "ModelVersionStatus": "modelregistry.api.modelversion",
    "Stage": "modelregistry.api.lifecycle",
    "VerifiedArtifact": "modelregistry.api.modelversion",
}


__getattr__ = lazy_getattr(__name__, _HOMES, globals())
