"""A validation Pod for an oci:// artifact: pulled by the verified digest, from the registry as
Pods reach it, with the registry's credentials for the fetch step alone."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from modelregistry.api.modelversion import (
    ModelVersionSpec,
    ModelVersionStatus,
    ValidationCheck,
    ValidationStatus,
    VerifiedArtifact,
)
from modelregistry.api.oci import OciDescriptor, VerifiedOciManifest
from modelregistry.decisions.oci import podplan
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.validationplan import Plan
from modelregistry.decisions.validationpod import (
    ARTIFACT_DIR,
    PLAN_VARIABLE,
    PodSettings,
    artifact_path,
    artifact_size_limit,
    build_pod,
)
from modelregistry.reconciler.sandbox import Sandbox, SandboxSettings
from modelregistry.settings import Settings

from .builders import DIGEST_A, DIGEST_B, DIGEST_C, NOW, NOW_TEXT

REGISTRY = "registry.example.com:5000"
URI = f"oci://{REGISTRY}/models/churn@{DIGEST_A}"
UID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
SETTINGS = PodSettings(
    image="localhost/modelregistry/operator:dev",
    registries=(("registry.example.com:5000", "10.0.0.7:31500"),),
    default_secret="s3-for-validation",
)
OCI = VerifiedOciManifest(
    registry=REGISTRY,
    repository="models/churn",
    layout="KitOps",
    media_type="application/vnd.oci.image.manifest.v1+json",
    config=OciDescriptor(
        media_type="application/vnd.kitops.modelkit.config.v1+json", digest=DIGEST_B, size=90
    ),
    layers=[
        OciDescriptor(
            media_type="application/vnd.kitops.modelkit.model.v1.tar+gzip",
            digest=DIGEST_C,
            size=40 << 20,
        )
    ],
    unpacked_size=300 << 20,
)
FORMAT = ValidationCheck(name="format", builtin="format")


def view_of(registry: dict[str, Any] | None = None) -> VersionView:
    artifact: dict[str, Any] = {"uri": URI, "format": "onnx"}
    if registry is not None:
        artifact["registry"] = registry
    spec = ModelVersionSpec.model_validate({"modelRef": {"name": "churn"}, "artifact": artifact})
    verified = VerifiedArtifact(
        uri=URI, digest=DIGEST_A, size=40 << 20, file_count=1, verified_at=NOW_TEXT, oci=OCI
    )
    return VersionView(spec, ModelVersionStatus(artifact=verified), 4, NOW, "team-a", "c-1", UID)


def fetch_step(view: VersionView, settings: PodSettings = SETTINGS) -> dict[str, Any]:
    run = ValidationStatus(run=1, checks_digest=DIGEST_C, started_at=NOW_TEXT)
    pod = build_pod(view, UID, run, Plan(checks=(FORMAT,)), settings)
    (fetch,) = pod["spec"]["initContainers"]
    assert pod["spec"]["volumes"][0]["emptyDir"] == {"sizeLimit": artifact_size_limit(view)}
    return dict(fetch)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_fetch_step_pulls_the_verified_digest_where_pods_reach_the_registry() -> None:
    fetch = fetch_step(view_of({"secretRef": {"name": "pull"}, "plainHttp": True}))

    env = env_of(fetch)
    assert json.loads(env[PLAN_VARIABLE]) == {
        "uri": URI,
        "digest": DIGEST_A,
        "unpackLimit": 300 << 20,
        "oci": {"endpoint": "10.0.0.7:31500", "plainHTTP": True},
    }
    for key, variable in podplan.SECRET_KEYS:
        assert env[variable] == {"secretKeyRef": {"name": "pull", "key": key, "optional": True}}


def test_without_a_registry_secret_no_credentials_reach_the_pod() -> None:
    env = env_of(fetch_step(view_of()))

    assert not {v for _, v in podplan.SECRET_KEYS} & set(env)
    assert json.loads(env[PLAN_VARIABLE])["oci"] == {
        "endpoint": "10.0.0.7:31500",
        "plainHTTP": False,
    }


def test_a_registry_pods_may_not_reach_has_no_endpoint_in_the_plan() -> None:
    env = env_of(fetch_step(view_of(), PodSettings(image="own", registries=())))

    assert json.loads(env[PLAN_VARIABLE])["oci"]["endpoint"] is None


def test_the_artifact_lies_in_the_directory_with_room_for_it_unpacked() -> None:
    assert artifact_path(URI) == ARTIFACT_DIR
    # 300 MiB unpacked, not the 40 MiB of the gzip layer, plus two blocks and the slack.
    assert artifact_size_limit(view_of()) == "302Mi"


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        (None, ()),
        ("", ()),
        ("registry.example.com", (("registry.example.com", "registry.example.com"),)),
        (
            "Registry.Example.com:5000=10.0.0.7:31500, ghcr.io",
            (("registry.example.com:5000", "10.0.0.7:31500"), ("ghcr.io", "ghcr.io")),
        ),
        ("[fd00::1]:5000=[fd00::2]", (("[fd00::1]:5000", "[fd00::2]"),)),
    ],
)
def test_the_registries_setting_is_read_as_registry_and_endpoint_pairs(
    raw: str | None, pairs: tuple[tuple[str, str], ...]
) -> None:
    assert podplan.parse_registries(raw) == pairs


@pytest.mark.parametrize("raw", ["https://registry.example.com", "a=b=c", "registry/path", "=x"])
def test_a_registries_setting_that_is_not_hosts_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(
        ValueError, match=r"^MODELREGISTRY_VALIDATION_REGISTRIES: .*REGISTRY=ENDPOINT"
    ):
        podplan.parse_registries(raw)
    with pytest.raises(ValueError, match=r"MODELREGISTRY_VALIDATION_REGISTRIES"):
        Settings.from_environment({"MODELREGISTRY_VALIDATION_REGISTRIES": raw})


def test_the_operator_reads_the_registries_setting() -> None:
    read = Settings.from_environment(
        {"MODELREGISTRY_VALIDATION_REGISTRIES": "127.0.0.1:5000=10.0.0.7:31500"}
    )

    assert read.validation_registries == (("127.0.0.1:5000", "10.0.0.7:31500"),)
    assert Settings.from_environment({}).validation_registries == ()


@pytest.mark.parametrize(
    ("endpoint", "address"),
    [
        ("10.0.0.7:31500", ("10.0.0.7", 31500)),
        ("registry.example.com", ("registry.example.com", 443)),
        ("[fd00::2]:5000", ("fd00::2", 5000)),
        ("[fd00::2]", ("fd00::2", 443)),
    ],
)
def test_an_endpoint_is_a_host_and_a_port(endpoint: str, address: tuple[str, int]) -> None:
    assert podplan.endpoint_address(endpoint) == address


class Written:
    """The cluster as the Sandbox writes it: nothing stored yet, every write kept."""

    def __init__(self) -> None:
        self.written: dict[str, dict[str, Any]] = {}

    async def get_namespaced(self, api: str, plural: str, namespace: str, name: str) -> None:
        return None

    async def write_namespaced(
        self, api: str, plural: str, namespace: str, body: dict[str, Any], version: str | None
    ) -> None:
        self.written[plural] = body


def test_the_network_policy_lets_validation_pods_reach_each_registry_endpoint() -> None:
    cluster = Written()
    settings = SandboxSettings(
        service_account="modelregistry-validation",
        endpoint="http://10.0.0.5:9000",
        registries=("10.0.0.7:31500", "[fd00::2]"),
        dns=None,
    )

    asyncio.run(Sandbox(cluster, settings).ensure("team-a"))  # type: ignore[arg-type]

    egress = cluster.written["networkpolicies"]["spec"]["egress"]
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in egress] == [
        ("10.0.0.5/32", 9000),
        ("10.0.0.7/32", 31500),
        ("fd00::2/128", 443),
    ]
