"""Locate the binaries that `hack/build-tools.sh` builds and caches.

The cache is keyed by version so that several versions can live side by side;
the layout and the environment variables match the build script exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError

# tool name -> (cache directory prefix, version variable, default version)
_TOOLS: Final[dict[str, tuple[str, str, str]]] = {
    "etcd": ("etcd", "ETCD_VERSION", "v3.6.16"),
    "kube-apiserver": ("kubernetes", "KUBERNETES_VERSION", "v1.35.4"),
    "kube-controller-manager": ("kubernetes", "KUBERNETES_VERSION", "v1.35.4"),
    "kube-scheduler": ("kubernetes", "KUBERNETES_VERSION", "v1.35.4"),
    "kubelet": ("kubernetes", "KUBERNETES_VERSION", "v1.35.4"),
    "kubectl": ("kubernetes", "KUBERNETES_VERSION", "v1.35.4"),
    "versitygw": ("versitygw", "VERSITYGW_VERSION", "v1.8.0"),
    "helm": ("helm", "HELM_VERSION", "v3.22.0"),
    # distribution's cmd/registry: the OCI registry the OCI artifact tests push to.
    "registry": ("registry", "REGISTRY_VERSION", "v3.1.2"),
    # Our own hack/kstatus, keyed by the sigs.k8s.io/cli-utils it is built with.
    "kstatus": ("kstatus", "KSTATUS_VERSION", "v0.37.2"),
}


def cache_root() -> Path:
    """The cache directory `hack/build-tools.sh` builds into."""
    if explicit := os.environ.get("MODELREGISTRY_CACHE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "modelregistry"


def override_variable(name: str) -> str:
    """The environment variable that points at a binary directly, e.g. MODELREGISTRY_KUBECTL."""
    return "MODELREGISTRY_" + name.upper().replace("-", "_")


def find_tool(name: str) -> Path:
    """Return the path of an executable tool, or raise `LocalEnvError` saying how to build it."""
    if name not in _TOOLS:
        known = ", ".join(sorted(_TOOLS))
        raise LocalEnvError(f"unknown tool {name!r} (known: {known})")
    variable = override_variable(name)
    if explicit := os.environ.get(variable):
        path = Path(explicit)
        if not _is_executable(path):
            raise LocalEnvError(f"{variable}={explicit} is not an executable file")
        return path
    prefix, version_variable, default_version = _TOOLS[name]
    version = os.environ.get(version_variable) or default_version
    path = cache_root() / f"{prefix}-{version}" / name
    if not _is_executable(path):
        raise LocalEnvError(
            f"{name} {version} not found at {path}; run hack/build-tools.sh {prefix} "
            f"to build it (or set {variable} to an existing binary)"
        )
    return path


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
