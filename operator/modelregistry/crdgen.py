"""Render the CRD manifests from the pydantic API types.

Kubernetes wants a *structural* OpenAPI v3 schema: no `$ref`, no `anyOf`
for optional values, no `title`, and `x-kubernetes-preserve-unknown-fields`
where pydantic says "any object". This module turns pydantic's JSON schema
into that, then wraps it in a CustomResourceDefinition.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from modelregistry.api import (
    GROUP,
    VERSION,
    ModelSpec,
    ModelStatus,
    ModelVersionSpec,
    ModelVersionStatus,
)
from modelregistry.api.meta import MODELS, MODELVERSIONS

JsonSchema = dict[str, Any]

# JSON-schema keywords Kubernetes does not accept (or that pydantic adds for docs only).
_DROPPED_KEYWORDS = frozenset({"title", "default", "examples", "$defs"})


def structural_schema(model: type[BaseModel]) -> JsonSchema:
    """Return `model`'s schema in the structural form a CRD accepts."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.get("$defs", {})
    return _convert(raw, definitions)


def _convert(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    node = _resolve(node, definitions)
    result: JsonSchema = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS:
            continue
        if key == "properties":
            result[key] = {name: _convert(sub, definitions) for name, sub in value.items()}
        elif key == "items":
            result[key] = _convert(value, definitions)
        elif key == "additionalProperties":
            if value is True:
                result["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                result[key] = _convert(value, definitions)
            # `False` (extra="forbid"): the API server prunes or, with strict
            # field validation (kubectl's default), refuses unknown fields.
        elif key == "const":  # a one-value Literal; CRD schemas know no `const`
            result["enum"] = [copy.deepcopy(value)]
        else:
            result[key] = copy.deepcopy(value)
    if (
        result.get("type") == "object"
        and "properties" not in result
        and ("additionalProperties" not in result)
    ):
        result["x-kubernetes-preserve-unknown-fields"] = True
    return result


def _resolve(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    """Inline `$ref` and collapse `anyOf: [X, null]` into X, keeping local keywords."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        local = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**definitions[name], **local}, definitions)
    if "anyOf" in node:
        variants = [v for v in node["anyOf"] if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"cannot express anyOf with {len(variants)} variants in a CRD")
        local = {k: v for k, v in node.items() if k != "anyOf"}
        merged = {**_resolve(variants[0], definitions), **local}
        # Validation rules of both levels apply.
        rules = _resolve(variants[0], definitions).get("x-kubernetes-validations", []) + local.get(
            "x-kubernetes-validations", []
        )
        if rules:
            merged["x-kubernetes-validations"] = rules
        return merged
    return node


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str
    priority: int = 0

    def render(self) -> dict[str, Any]:
        column: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            column["priority"] = self.priority
        return column


def _condition_column(name: str, condition: str, priority: int = 0) -> PrinterColumn:
    return PrinterColumn(
        name=name,
        type="string",
        json_path=f'.status.conditions[?(@.type=="{condition}")].status',
        description=f"Status of the {condition} condition.",
        priority=priority,
    )


def _age_column() -> PrinterColumn:
    return PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation.")


MODELVERSION_COLUMNS = (
    PrinterColumn("Model", "string", ".spec.modelRef.name", "The Model this is a version of."),
    PrinterColumn("Version", "integer", ".status.version", "Version number."),
    PrinterColumn("Stage", "string", ".status.stage", "Stage granted by the operator."),
    _condition_column("Verified", "ArtifactVerified"),
    _condition_column("Validated", "Validated"),
    _condition_column("Ready", "Ready"),
    PrinterColumn(
        "Reason",
        "string",
        '.status.conditions[?(@.type=="Ready")].reason',
        "Why the version is (not) Ready.",
        priority=1,
    ),
    PrinterColumn("Digest", "string", ".status.artifact.digest", "Verified digest.", priority=1),
    PrinterColumn("URI", "string", ".spec.artifact.uri", "Artifact location.", priority=1),
    PrinterColumn("In use", "integer", ".status.deploymentCount", "Workloads using this version."),
    PrinterColumn("Asked", "string", ".spec.stage", "Stage asked for (spec.stage).", priority=1),
    PrinterColumn(
        "Commit", "string", ".spec.lineage.code.commit", "Commit of the training code.", priority=1
    ),
    _age_column(),
)

MODEL_COLUMNS = (
    PrinterColumn("Latest", "integer", ".status.latestVersion", "Highest version number."),
    PrinterColumn("Production", "integer", ".status.stages.Production", "Version in Production."),
    PrinterColumn("Versions", "integer", ".status.counts.total", "Number of versions."),
    _condition_column("Ready", "Ready"),
    PrinterColumn("Owner", "string", ".spec.owner", "Owning team.", priority=1),
    PrinterColumn("Task", "string", ".spec.task", "ML task.", priority=1),
    PrinterColumn("Tags", "string", ".spec.tags", "Free tags.", priority=1),
    _age_column(),
)


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[PrinterColumn, ...]
    # Fields clients (and the operator) can filter on: `--field-selector`.
    selectable_fields: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()


MODEL = Kind(
    kind="Model",
    plural=MODELS,
    short_names=("mdl",),
    description="A machine-learning model: its policy, aliases and the summary of its versions.",
    spec=ModelSpec,
    status=ModelStatus,
    columns=MODEL_COLUMNS,
    selectable_fields=(".spec.owner", ".spec.task"),
)
MODELVERSION = Kind(
    kind="ModelVersion",
    plural=MODELVERSIONS,
    short_names=("mv", "mver"),
    description=(
        "One version of a Model: an artifact whose bytes the operator verifies, with its "
        "lineage, metrics and lifecycle stage."
    ),
    spec=ModelVersionSpec,
    status=ModelVersionStatus,
    columns=MODELVERSION_COLUMNS,
    # Scalar fields only (the API server's rule); docs/catalog.md says which query runs where.
    selectable_fields=(
        ".spec.modelRef.name",
        ".spec.stage",
        ".status.stage",
        ".status.version",
        ".status.artifact.digest",
        ".spec.lineage.code.commit",
        ".spec.lineage.trainingRun.id",
    ),
)
KINDS = (MODEL, MODELVERSION)
CATEGORIES = ["modelregistry", "ml"]


def _status_schema(status: type[BaseModel]) -> JsonSchema:
    schema = structural_schema(status)
    # Kopf's bookkeeping is free-form by nature.
    schema["properties"]["kopf"] = {
        "type": "object",
        "description": schema["properties"]["kopf"].get("description", ""),
        "x-kubernetes-preserve-unknown-fields": True,
    }
    return schema


def crd_manifest(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind, as a plain dict."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": CATEGORIES,
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    **(
                        {"selectableFields": [{"jsonPath": p} for p in kind.selectable_fields]}
                        if kind.selectable_fields
                        else {}
                    ),
                    "additionalPrinterColumns": [c.render() for c in kind.columns],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": f"{GROUP}/{VERSION}",
                                },
                                "kind": {"type": "string", "description": kind.kind},
                                # The API server allows nothing more here; kubectl
                                # explain documents metadata from ObjectMeta itself.
                                "metadata": {"type": "object"},
                                "spec": structural_schema(kind.spec),
                                "status": _status_schema(kind.status),
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = "# Generated by `make crds` from operator/modelregistry/api; do not edit.\n"


def render(kind: Kind) -> str:
    """The CRD of `kind` as YAML text, exactly as committed under crds/."""
    return HEADER + yaml.safe_dump(crd_manifest(kind), sort_keys=False, width=100)


def crd_filename(kind: Kind) -> str:
    return f"{GROUP}_{kind.plural}.yaml"
