"""The CRD manifests: committed files match the API types, and the schema is one
the API server accepts and `kubectl explain` can document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelregistry import crdgen
from modelregistry.api.meta import SHA256_DIGEST_PATTERN
from modelregistry.api.modelversion import IMMUTABLE_SPEC_FIELDS, RESERVED_CHECK_NAMES

ROOT = Path(__file__).resolve().parents[2]
# Makefile's check-crds covers both copies.
CRD_DIRS = [ROOT / "crds", ROOT / "charts" / "modelregistry" / "crds"]
KINDS = {kind.kind: kind for kind in crdgen.KINDS}


def open_api_schema(kind: crdgen.Kind) -> dict[str, Any]:
    (version,) = crdgen.crd_manifest(kind)["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def schema_nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below `node`, with a dotted path for messages."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from schema_nodes(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_nodes(node["additionalProperties"], f"{path}{{}}")


def properties(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named property at every depth below `node`."""
    for node_path, sub in schema_nodes(node, path):
        for name, prop in sub.get("properties", {}).items():
            yield f"{node_path}.{name}", prop


@pytest.mark.parametrize("directory", CRD_DIRS, ids=lambda d: str(d.relative_to(ROOT)))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_committed_crd_matches_the_api_types(directory: Path, kind: str) -> None:
    target = directory / crdgen.crd_filename(KINDS[kind])
    rendered = crdgen.render(KINDS[kind])

    committed = target.read_text() if target.exists() else None

    assert committed == rendered, (
        f"{target.relative_to(ROOT)} is stale: it differs from the API types in "
        "operator/modelregistry/api. Run `make crds` and commit the result."
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_rendered_yaml_parses_back_to_the_manifest(kind: str) -> None:
    text = crdgen.render(KINDS[kind])

    assert text.startswith(crdgen.HEADER)
    assert yaml.safe_load(text) == crdgen.crd_manifest(KINDS[kind])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_structural(kind: str) -> None:
    for path, node in schema_nodes(open_api_schema(KINDS[kind]), kind):
        forbidden = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "default"} & set(node)
        assert not forbidden, f"{path} has {sorted(forbidden)}"
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), (
            f"{path} has no type"
        )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_rendered_text_has_no_ref_anyof_or_title(kind: str) -> None:
    # A key-level check over the whole document, in case a keyword hides
    # somewhere the schema walk does not go.
    def keys(value: Any, inside_properties: bool = False) -> Iterator[str]:
        if isinstance(value, dict):
            for key, sub in value.items():
                if not inside_properties:
                    yield key
                yield from keys(sub, inside_properties=key == "properties")
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    found = set(keys(crdgen.crd_manifest(KINDS[kind])))

    assert not {"$ref", "anyOf", "title"} & found


@pytest.mark.parametrize("part", ["spec", "status"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_property_has_a_description(kind: str, part: str) -> None:
    root = open_api_schema(KINDS[kind])["properties"][part]

    missing = [
        path
        for path, prop in properties(root, f"{kind}.{part}")
        if not (isinstance(prop.get("description"), str) and prop["description"].strip())
    ]

    assert isinstance(root.get("description"), str)
    assert root["description"].strip()
    assert missing == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_top_level_property_has_a_description(kind: str) -> None:
    # The API server refuses anything but `type` on metadata; kubectl explain
    # documents it from ObjectMeta.
    missing = [
        path
        for path, prop in properties(open_api_schema(KINDS[kind]), kind)
        if path != f"{kind}.metadata"
        and not (isinstance(prop.get("description"), str) and prop["description"].strip())
    ]

    assert missing == []


def test_artifact_digest_has_the_sha256_pattern() -> None:
    spec = open_api_schema(crdgen.MODELVERSION)["properties"]["spec"]
    digests = [
        spec["properties"]["artifact"]["properties"]["digest"],
        spec["properties"]["components"]["items"]["properties"]["artifact"]["properties"]["digest"],
    ]

    for digest in digests:
        assert digest["type"] == "string"
        assert digest["pattern"] == SHA256_DIGEST_PATTERN
    pattern = re.compile(SHA256_DIGEST_PATTERN)
    assert pattern.match("sha256:" + "0123456789abcdef" * 4)
    assert not pattern.match("sha256:" + "0123456789ABCDEF" * 4)
    assert not pattern.match("sha256:" + "0" * 63)
    assert not pattern.match("sha512:" + "0" * 64)


def test_a_one_value_literal_becomes_a_one_value_enum() -> None:
    status = open_api_schema(crdgen.MODELVERSION)["properties"]["status"]
    verified_by = status["properties"]["artifact"]["properties"]["verifiedBy"]

    assert verified_by["enum"] == ["StoreChecksum"]
    assert verified_by["type"] == "string"
    assert "const" not in verified_by


def test_artifact_uri_is_required_and_has_a_pattern() -> None:
    spec = open_api_schema(crdgen.MODELVERSION)["properties"]["spec"]
    artifact = spec["properties"]["artifact"]

    assert set(spec["required"]) == {"modelRef", "artifact"}
    assert artifact["required"] == ["uri"]
    pattern = re.compile(artifact["properties"]["uri"]["pattern"])
    assert pattern.match("s3://models/churn/model.onnx")
    assert pattern.match("oci://registry.example.com/models/churn@sha256:" + "a" * 64)
    # A tag gets past the pattern to the CEL rule, which says what to write instead.
    assert pattern.match("oci://registry.example.com/models/churn:v1")
    assert not pattern.match("https://example.com/model.onnx")
    assert not pattern.match("oci://")


def test_modelversion_printer_columns() -> None:
    (version,) = crdgen.crd_manifest(crdgen.MODELVERSION)["spec"]["versions"]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    default_view = [
        c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) == 0
    ]

    assert default_view == [
        "Model",
        "Version",
        "Stage",
        "Verified",
        "Validated",
        "Ready",
        "In use",
        "Age",
    ]
    assert columns["Model"]["jsonPath"] == ".spec.modelRef.name"
    assert columns["In use"]["jsonPath"] == ".status.deploymentCount"
    assert columns["Version"] == {
        "name": "Version",
        "type": "integer",
        "jsonPath": ".status.version",
        "description": "Version number.",
    }
    assert columns["Stage"]["jsonPath"] == ".status.stage"
    assert columns["Verified"]["jsonPath"] == (
        '.status.conditions[?(@.type=="ArtifactVerified")].status'
    )
    assert columns["Validated"]["jsonPath"] == ('.status.conditions[?(@.type=="Validated")].status')
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert (columns["Age"]["type"], columns["Age"]["jsonPath"]) == (
        "date",
        ".metadata.creationTimestamp",
    )
    assert all(c["description"] for c in columns.values())


def test_printer_columns_point_at_schema_fields() -> None:
    for kind in crdgen.KINDS:
        schema = open_api_schema(kind)
        for column in crdgen.crd_manifest(kind)["spec"]["versions"][0]["additionalPrinterColumns"]:
            path = column["jsonPath"].split("[")[0].strip(".").split(".")
            if path[0] == "metadata":
                continue
            node = schema
            for name in path:
                assert name in node.get("properties", {}) or node.get("additionalProperties"), (
                    f"{kind.kind} column {column['name']}: {column['jsonPath']} not in schema"
                )
                node = node.get("properties", {}).get(name) or node["additionalProperties"]


def test_modelversion_names_and_subresources() -> None:
    spec = crdgen.crd_manifest(crdgen.MODELVERSION)["spec"]
    (version,) = spec["versions"]

    assert "mv" in spec["names"]["shortNames"]
    assert spec["names"]["kind"] == "ModelVersion"
    assert spec["scope"] == "Namespaced"
    assert version["subresources"] == {"status": {}}
    assert version["served"] is True
    assert version["storage"] is True


def test_model_has_a_status_subresource() -> None:
    (version,) = crdgen.crd_manifest(crdgen.MODEL)["spec"]["versions"]

    assert version["subresources"] == {"status": {}}


def test_immutable_spec_fields_have_validation_rules() -> None:
    spec = open_api_schema(crdgen.MODELVERSION)["properties"]["spec"]
    rules = {rule["fieldPath"]: rule for rule in spec["x-kubernetes-validations"]}

    assert set(rules) == {f".{field}" for field in IMMUTABLE_SPEC_FIELDS}
    assert {"modelRef", "version", "artifact"} <= set(IMMUTABLE_SPEC_FIELDS)
    for field in IMMUTABLE_SPEC_FIELDS:
        assert field in spec["properties"], f"rule for spec.{field}, which does not exist"
        rule = rules[f".{field}"]
        assert rule["rule"] == (
            f"has(oldSelf.{field}) ? (has(self.{field}) && self.{field} == oldSelf.{field})"
            f" : !has(self.{field})"
        )
        assert rule["message"].startswith(f"spec.{field} is immutable")
        assert rule["reason"] == "FieldValueForbidden"


def test_mutable_spec_fields_have_no_immutability_rule() -> None:
    spec = open_api_schema(crdgen.MODELVERSION)["properties"]["spec"]
    rules = " ".join(rule["rule"] for rule in spec["x-kubernetes-validations"])
    mutable = set(spec["properties"]) - set(IMMUTABLE_SPEC_FIELDS)

    # Promotion changes spec.stage, so it must stay mutable.
    assert "stage" in mutable
    for field in mutable:
        assert not re.search(rf"\bself\.{field}\b", rules), f"spec.{field} is locked"


def test_kopf_bookkeeping_is_free_form() -> None:
    for kind in crdgen.KINDS:
        kopf = open_api_schema(kind)["properties"]["status"]["properties"]["kopf"]

        assert kopf["type"] == "object"
        assert kopf["x-kubernetes-preserve-unknown-fields"] is True
        assert kopf["description"].strip()


# --- validation checks: the names a check may take, and the Model's floor -------------------------

RESERVED_RULE = {
    "rule": "has(self.builtin) || !(self.name in "
    "['format', 'metrics', 'loadandpredict', 'load-and-predict', 'compare', 'fetch'])",
    "message": "a custom check may not be named format, metrics, loadandpredict, "
    "load-and-predict, compare, fetch: those names belong to the registry's built-in checks "
    "and its fetch step; give the check another name",
    "fieldPath": ".name",
}
FETCH_RULE = {
    "rule": "self.name != 'fetch'",
    "message": "the name fetch belongs to the validation Pod's fetch step; give the check "
    "another name",
    "fieldPath": ".name",
}
BUILTIN_OR_IMAGE_RULE = {
    "rule": "has(self.builtin) != has(self.image)",
    "message": "set either builtin (format, metrics, loadAndPredict, compare) or image",
}
COMPARE_NEEDS_RULE = {
    "rule": "!has(self.builtin) || self.builtin != 'compare' || "
    "(has(self.dataset) && has(self.metric))",
    "message": "a compare check needs dataset (uri, digest, target) and metric",
}
COMPARE_ONLY_RULE = {
    "rule": "(has(self.builtin) && self.builtin == 'compare') || "
    "!(has(self.dataset) || has(self.metric) || has(self.against))",
    "message": "dataset, metric and against belong to compare checks: set builtin: compare, "
    "or leave them out",
}


def node_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema node at a dotted path; `[]` steps into a list's items."""
    node = schema
    for part in path.split("."):
        if part.endswith("[]"):
            node = node["properties"][part[:-2]]["items"]
        else:
            node = node["properties"][part]
    return node


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("ModelVersion", "spec.validation.checks[]"),
        ("Model", "spec.defaultValidation.checks[]"),
        ("Model", "spec.policy.validation.requiredChecks[]"),
    ],
)
def test_every_check_is_refused_a_reserved_name_at_apply(kind: str, path: str) -> None:
    check = node_at(open_api_schema(KINDS[kind]), path)

    assert check["x-kubernetes-validations"] == [
        BUILTIN_OR_IMAGE_RULE,
        RESERVED_RULE,
        FETCH_RULE,
        COMPARE_NEEDS_RULE,
        COMPARE_ONLY_RULE,
    ]


def test_the_reserved_rule_names_every_reserved_name() -> None:
    assert all(f"'{name}'" in RESERVED_RULE["rule"] for name in RESERVED_CHECK_NAMES)


def test_required_checks_must_be_builtins_and_are_a_map_by_name() -> None:
    required = node_at(open_api_schema(KINDS["Model"]), "spec.policy.validation.requiredChecks")

    assert required["x-kubernetes-validations"] == [
        {
            "rule": "self.all(c, has(c.builtin))",
            "message": "required checks must be built-in checks (builtin: format, metrics or "
            "loadAndPredict)",
        }
    ]
    assert (required["type"], required["maxItems"]) == ("array", 8)
    assert required["x-kubernetes-list-type"] == "map"
    assert required["x-kubernetes-list-map-keys"] == ["name"]


def test_the_validation_status_records_the_pod_s_uid_and_spec_digest() -> None:
    run = node_at(open_api_schema(KINDS["ModelVersion"]), "status.validation")["properties"]

    assert (run["podUid"]["type"], run["podUid"]["maxLength"]) == ("string", 64)
    assert (run["podSpecDigest"]["type"], run["podSpecDigest"]["maxLength"]) == ("string", 80)
