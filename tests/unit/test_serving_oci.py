"""`modelregistry fetch` of an oci:// version: where the registry is reached, and which
credentials are used (the environment's, else a docker config's entry, else none)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.errors import CredentialsError
from modelregistry.oci.servingpull import credentials_for, docker_config_path, endpoint_for

REGISTRY = "registry.example.com:5000"


def config(entries: dict[str, dict[str, str]]) -> str:
    return json.dumps({"auths": entries})


def test_a_registry_named_in_the_variable_is_reached_at_its_endpoint() -> None:
    environ = {"MODELREGISTRY_REGISTRIES": f"other.example.com, {REGISTRY}=10.0.0.1:31500"}

    assert endpoint_for(REGISTRY, environ) == "10.0.0.1:31500"
    assert endpoint_for("REGISTRY.example.com:5000", environ) == "10.0.0.1:31500"
    # Named without an endpoint: reached at its own name.
    assert endpoint_for("other.example.com", environ) == "other.example.com"
    assert endpoint_for("unlisted.example.com", environ) is None
    assert endpoint_for(REGISTRY, {}) is None


def test_a_malformed_mapping_names_the_variable_and_the_form() -> None:
    with pytest.raises(ValueError) as refused:
        endpoint_for(REGISTRY, {"MODELREGISTRY_REGISTRIES": f"{REGISTRY}=http://x:1"})

    assert str(refused.value).startswith(
        f"MODELREGISTRY_REGISTRIES: '{REGISTRY}=http://x:1': expected REGISTRY or REGISTRY=ENDPOINT"
    )


def test_the_docker_config_is_where_the_docker_cli_looks(tmp_path: Path) -> None:
    home = tmp_path / "home"

    assert docker_config_path({}, home) == home / ".docker" / "config.json"
    assert docker_config_path({"DOCKER_CONFIG": "/etc/docker"}, home) == Path(
        "/etc/docker/config.json"
    )


def test_the_environment_s_credentials_come_first() -> None:
    environ = {
        "MODELREGISTRY_REGISTRY_USERNAME": "puller",
        "MODELREGISTRY_REGISTRY_PASSWORD": "from-env",
    }
    file = config({REGISTRY: {"username": "other", "password": "from-file"}})

    assert credentials_for(REGISTRY, environ, file, "c.json") == RegistryCredentials(
        "puller", "from-env"
    )


def test_the_environment_s_docker_config_is_read_for_the_registry() -> None:
    environ = {
        "MODELREGISTRY_REGISTRY_DOCKERCONFIGJSON": config(
            {f"https://{REGISTRY}/v1/": {"username": "u", "password": "p"}}
        )
    }

    assert credentials_for(REGISTRY, environ, None, "c.json") == RegistryCredentials("u", "p")


def test_a_docker_config_file_s_entry_is_used_without_the_environment_s() -> None:
    encoded = base64.b64encode(b"robot:secret").decode()
    file = config({"elsewhere.example.com": {"auth": "eA=="}, REGISTRY: {"auth": encoded}})

    assert credentials_for(REGISTRY, {}, file, "c.json") == RegistryCredentials("robot", "secret")


def test_a_docker_config_without_an_entry_for_the_registry_means_anonymous() -> None:
    file = config({"elsewhere.example.com": {"username": "u", "password": "p"}})

    assert credentials_for(REGISTRY, {}, file, "c.json") is None
    assert credentials_for(REGISTRY, {}, None, "c.json") is None
    assert credentials_for(REGISTRY, {}, json.dumps({"credsStore": "x"}), "c.json") is None


def test_an_unusable_docker_config_is_said_naming_the_file() -> None:
    with pytest.raises(CredentialsError, match=r"^/h/c\.json is not a docker config"):
        credentials_for(REGISTRY, {}, "not json", "/h/c.json")
    with pytest.raises(CredentialsError, match=r"^/h/c\.json: the \.dockerconfigjson entry"):
        credentials_for(REGISTRY, {}, config({REGISTRY: {"identitytoken": "t"}}), "/h/c.json")
