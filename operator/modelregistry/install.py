"""Install (or update) the CRDs in a cluster, straight from the API types."""

from __future__ import annotations

import time
from typing import Any, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from modelregistry import crdgen
from modelregistry.api.meta import GROUP


def install_crds(api_client: kubernetes.client.ApiClient, timeout: float = 60) -> None:
    """Create or replace both CRDs, then wait until the API server serves them."""
    api = kubernetes.client.ApiextensionsV1Api(api_client)
    for kind in crdgen.KINDS:
        manifest = crdgen.crd_manifest(kind)
        name = manifest["metadata"]["name"]
        try:
            current = api.read_custom_resource_definition(name)
        except ApiException as error:
            if error.status != 404:
                raise
            # The client accepts plain dicts as bodies; its stubs only name the model class.
            api.create_custom_resource_definition(cast(Any, manifest))
        else:
            if current.metadata is not None:  # replace only the version we read
                manifest["metadata"]["resourceVersion"] = current.metadata.resource_version
            api.replace_custom_resource_definition(name, cast(Any, manifest))
    deadline = time.monotonic() + timeout
    for kind in crdgen.KINDS:
        name = f"{kind.plural}.{GROUP}"
        while not _established(api, name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} was not Established within {timeout:.0f}s")
            time.sleep(0.2)


def _established(api: kubernetes.client.ApiextensionsV1Api, name: str) -> bool:
    crd = api.read_custom_resource_definition(name)
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)
