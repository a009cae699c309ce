"""What the validation Pod needs to pull a verified OCI artifact, and where it may go.

The fetch step pulls by the manifest digest the operator verified (the
manifest names every blob by digest), from the registry as Pods reach it:
the operator's setting MODELREGISTRY_VALIDATION_REGISTRIES lists the
registries validation Pods may read, each `REGISTRY[=ENDPOINT]` (ENDPOINT,
host[:port], where Pods reach REGISTRY: a mirror, a forward). A registry not
listed is not reached: its validation fails in words that name the setting.
The NetworkPolicy of validation Pods lets them reach each ENDPOINT's port
(443 when none is named). The registry's credentials reach the fetch step
alone, as optional variables from the version's Secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from modelregistry.api.oci import REGISTRY_PATTERN, RegistrySettings, VerifiedOciManifest

SETTING: Final = "MODELREGISTRY_VALIDATION_REGISTRIES"
USERNAME_VARIABLE: Final = "MODELREGISTRY_REGISTRY_USERNAME"
PASSWORD_VARIABLE: Final = "MODELREGISTRY_REGISTRY_PASSWORD"  # noqa: S105 (a variable's name)
DOCKERCONFIG_VARIABLE: Final = "MODELREGISTRY_REGISTRY_DOCKERCONFIGJSON"
# Secret key -> the fetch step's variable; each optional, so one Secret type or the other fits.
SECRET_KEYS: Final = (
    ("username", USERNAME_VARIABLE),
    ("password", PASSWORD_VARIABLE),
    (".dockerconfigjson", DOCKERCONFIG_VARIABLE),
)
HTTPS_PORT: Final = 443
_HOST: Final = re.compile(rf"^{REGISTRY_PATTERN}$")


def parse_registries(raw: str | None, setting: str = SETTING) -> tuple[tuple[str, str], ...]:
    """`REGISTRY[=ENDPOINT]`, separated by spaces or commas, as (registry, endpoint) pairs;
    `setting` names where they were written, in the ValueError."""
    pairs = []
    for item in (raw or "").replace(",", " ").split():
        registry, _, endpoint = item.partition("=")
        endpoint = endpoint or registry
        if not _HOST.match(registry) or not _HOST.match(endpoint):
            raise ValueError(
                f"{setting}: {item!r}: expected REGISTRY or REGISTRY=ENDPOINT, each a "
                "host[:port], e.g. registry.example.com or 127.0.0.1:5000=10.0.0.1:31500"
            )
        pairs.append((registry.lower(), endpoint.lower()))
    return tuple(pairs)


def endpoint_address(endpoint: str) -> tuple[str, int]:
    """(host, port) of host[:port]; an IPv6 address keeps no brackets."""
    if endpoint.startswith("["):
        host, _, rest = endpoint[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else HTTPS_PORT
    host, colon, port = endpoint.rpartition(":")
    if not colon:
        return endpoint, HTTPS_PORT
    return host, int(port)


def fetch_plan(
    uri: str,
    verified: VerifiedOciManifest,
    manifest_digest: str,
    settings: RegistrySettings | None,
    registries: Mapping[str, str],
) -> dict[str, Any]:
    """The fetch step's plan: the manifest digest, where Pods reach its registry, how much room."""
    return {
        "uri": uri,
        "digest": manifest_digest,
        "unpackLimit": verified.unpacked_size,
        "oci": {
            "endpoint": registries.get(verified.registry.lower()),
            "plainHTTP": bool(settings is not None and settings.plain_http),
        },
    }


def credential_variables(secret: str | None) -> list[dict[str, Any]]:
    """The fetch step's environment from the registry Secret: every key optional."""
    if secret is None:
        return []
    return [
        {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}},
        }
        for key, variable in SECRET_KEYS
    ]
