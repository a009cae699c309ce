"""The fingerprint of a validation Pod's spec: what the operator built, and what runs.

The operator records the fingerprint of the spec it built (in the Pod's
`modelregistry.io/pod-spec-digest` annotation and in the version's status)
and reads a Pod only while the Pod's own spec still has it. The fingerprint
covers what decides what a Pod runs and can reach: every container's
image, command, environment, mounts and security context, the volumes, the
service account, the runtime class, the deadline; so it changes when a
mutating admission webhook injects credentials or a sidecar, and when
someone patches a container's image or adds an ephemeral container. It
leaves out what the API server fills in or rewrites by itself (defaults
such as `terminationMessagePath`, tolerations, quantities written in
canonical form), so the Pod as stored has the fingerprint of the Pod as
built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from modelregistry.decisions import quantity

CONTAINER_FIELDS: Final = (
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "env",
    "envFrom",
    "volumeMounts",
    "volumeDevices",
    "securityContext",
    "ports",
    "stdin",
    "tty",
)
CONTAINER_LISTS: Final = ("initContainers", "containers", "ephemeralContainers")
POD_FIELDS: Final = (
    "volumes",
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "runtimeClassName",
    "activeDeadlineSeconds",
    "restartPolicy",
    "enableServiceLinks",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostUsers",
    "shareProcessNamespace",
)


def pruned(value: Any) -> Any:
    """`value` without empty strings, lists, maps and nulls (the API server omits them)."""
    if isinstance(value, Mapping):
        kept = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def projection(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a Pod spec the fingerprint covers, pruned of empty values."""
    projected: dict[str, Any] = {key: spec.get(key) for key in POD_FIELDS}
    if isinstance(projected["volumes"], list):
        projected["volumes"] = [_by_value(v) for v in projected["volumes"]]
    for key in CONTAINER_LISTS:
        projected[key] = [
            {field: container.get(field) for field in CONTAINER_FIELDS}
            for container in spec.get(key) or []
            if isinstance(container, Mapping)
        ]
    kept = pruned(projected)
    assert isinstance(kept, dict)
    return kept


def _by_value(volume: Any) -> Any:
    """A volume with its emptyDir's sizeLimit as an exact number of bytes: the API server
    stores a quantity in canonical form (`1024Mi` as `1Gi`, `0.5Gi` as `512Mi`)."""
    if not isinstance(volume, Mapping) or not isinstance(volume.get("emptyDir"), Mapping):
        return volume
    empty_dir: Mapping[str, Any] = volume["emptyDir"]
    size = empty_dir.get("sizeLimit")
    if not isinstance(size, str):
        return volume
    try:
        exact = quantity.parse(size)
    except quantity.QuantityError:
        return volume
    return {**volume, "emptyDir": {**empty_dir, "sizeLimit": str(exact)}}


def fingerprint(spec: Mapping[str, Any]) -> str:
    """`sha256:<hex>` over the canonical JSON of the spec's projection."""
    text = json.dumps(projection(spec), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def differences(built: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    """What differs between two specs' projections, for a person: `containers[fetch].env`, ..."""
    a, b = projection(built), projection(found)
    changed: list[str] = []
    for key in POD_FIELDS:
        if a.get(key) != b.get(key):
            changed.append(key)
    for key in CONTAINER_LISTS:
        ours = {c["name"]: c for c in a.get(key, []) if "name" in c}
        theirs = {c.get("name", "?"): c for c in b.get(key, [])}
        for name in sorted(set(ours) | set(theirs)):
            if name not in theirs:
                changed.append(f"{key}[{name}] removed")
            elif name not in ours:
                changed.append(f"{key}[{name}] added")
            else:
                changed += [
                    f"{key}[{name}].{field}"
                    for field in CONTAINER_FIELDS
                    if ours[name].get(field) != theirs[name].get(field)
                ]
    return changed
