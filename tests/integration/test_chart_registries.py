"""The chart's validation.registries: rendered into the operator's
MODELREGISTRY_VALIDATION_REGISTRIES as it reads it, and from there into the egress its
validation Pods get (the operator writes their NetworkPolicy; the chart has none)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from modelregistry.decisions import sandbox
from modelregistry.decisions.oci.podplan import endpoint_address
from modelregistry.reconciler.sandbox import store_addresses
from modelregistry.settings import Settings
from tests.integration.test_chart import container_env, one, rendered, template

pytestmark = pytest.mark.integration


def test_the_registries_reach_the_operator_and_the_validation_pods_egress(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "validation": {
                    "registries": [
                        {"registry": "registry.example.com"},
                        {"registry": "127.0.0.1:5000", "endpoint": "10.0.0.1:31500"},
                        {"registry": "Mirror.Example.com:443", "endpoint": ""},
                    ]
                }
            }
        )
    )
    env = container_env(rendered("--values", str(values)))

    assert env["MODELREGISTRY_VALIDATION_REGISTRIES"] == (
        "registry.example.com 127.0.0.1:5000=10.0.0.1:31500 Mirror.Example.com:443"
    )
    settings = Settings.from_environment(env)
    assert settings.validation_registries == (
        ("registry.example.com", "registry.example.com"),
        ("127.0.0.1:5000", "10.0.0.1:31500"),
        ("mirror.example.com:443", "mirror.example.com:443"),
    )

    # What the operator lets validation Pods reach for a registry at an address: that
    # address and port, and no other for it (the 127.0.0.1 name is not where Pods go).
    (_, endpoint) = settings.validation_registries[1]
    host, port = endpoint_address(endpoint)
    egress = asyncio.run(store_addresses(f"http://{host}:{port}"))
    policy = sandbox.network_policy("team-a", egress, None)
    allowed = [
        (block["ipBlock"]["cidr"], port["port"])
        for rule in policy["spec"]["egress"]
        for block in rule.get("to", [])
        if "ipBlock" in block
        for port in rule.get("ports", [])
    ]
    assert allowed == [("10.0.0.1/32", 31500)]


def test_without_registries_the_operator_gets_no_setting_and_extra_env_wins() -> None:
    assert "MODELREGISTRY_VALIDATION_REGISTRIES" not in container_env(rendered())
    assert Settings.from_environment(container_env(rendered())).validation_registries == ()

    documents = rendered(
        *("--set", "validation.registries[0].registry=registry.example.com"),
        *("--set", "extraEnv[0].name=MODELREGISTRY_VALIDATION_REGISTRIES"),
        *("--set", "extraEnv[0].value=other.example.com"),
    )
    [container] = one(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    named = [e for e in container["env"] if e["name"] == "MODELREGISTRY_VALIDATION_REGISTRIES"]
    assert named == [{"name": "MODELREGISTRY_VALIDATION_REGISTRIES", "value": "other.example.com"}]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (
            ("--set", "validation.registries[0].registry=https://registry.example.com"),
            "at '/validation/registries/0/registry'",
        ),
        (
            ("--set", "validation.registries[0].endpoint=10.0.0.1:31500"),
            "at '/validation/registries/0': missing property 'registry'",
        ),
    ],
)
def test_helm_refuses_a_registry_that_is_no_host(flags: tuple[str, ...], said: str) -> None:
    result = template(*flags)
    assert result.returncode != 0
    assert said in result.stderr, result.stderr
