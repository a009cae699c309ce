"""Install (or update) the CRDs in a cluster, straight from the API types; and the admission
policies and ClusterRoles that go with them (`admission.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from modelregistry import admission, crdgen
from modelregistry.api.meta import GROUP


def install_crds(
    api_client: kubernetes.client.ApiClient,
    timeout: float = 60,
    *,
    operator_user: str | None = None,
    other_operators: Sequence[str] = (),
) -> None:
    """Create or replace both CRDs, then wait until the API server serves them.

    With `operator_user` (the user name the operator will run as), also the
    admission policies that exempt it (and `other_operators`: other shards'),
    their bindings, and the ClusterRoles.
    """
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
    if operator_user is not None:
        install_admission(api_client, operator_user, *other_operators)
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


def install_admission(
    api_client: kubernetes.client.ApiClient, operator_user: str, *other_operators: str
) -> None:
    """Create or replace the admission policies, their bindings and the ClusterRoles."""
    policies = kubernetes.client.AdmissionregistrationV1Api(api_client)
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    calls: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]] = {
        "ValidatingAdmissionPolicy": (
            policies.read_validating_admission_policy,
            policies.create_validating_admission_policy,
            policies.replace_validating_admission_policy,
        ),
        "ValidatingAdmissionPolicyBinding": (
            policies.read_validating_admission_policy_binding,
            policies.create_validating_admission_policy_binding,
            policies.replace_validating_admission_policy_binding,
        ),
        "ClusterRole": (
            rbac.read_cluster_role,
            rbac.create_cluster_role,
            rbac.replace_cluster_role,
        ),
    }
    for manifest in admission.manifests(operator_user, *other_operators):
        read, create, replace = calls[manifest["kind"]]
        name = manifest["metadata"]["name"]
        try:
            current = read(name)
        except ApiException as error:
            if error.status != 404:
                raise
            create(manifest)
        else:
            manifest["metadata"]["resourceVersion"] = current.metadata.resource_version
            replace(name, manifest)
