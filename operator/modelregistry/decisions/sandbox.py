"""The box validation Pods run in, per namespace: a ServiceAccount and a NetworkPolicy.

Both are the operator's own, rebuilt from its settings and written whenever
what is stored differs (someone created the name first, or edited it):

- The ServiceAccount carries no token (`automountServiceAccountToken:
  false`) and no annotation or label at all but the operator's, so no
  workload-identity webhook (IRSA, GKE and Azure workload identity) has a
  role to inject; the namespace's `default` ServiceAccount, which a tenant may
  have bound to a cloud role, is never used.
- The NetworkPolicy selects the validation Pods and lets them reach only the
  object store (address and port) and the cluster DNS Pods; no ingress, no
  metadata address, nothing else. It is enforced where the cluster's network
  plugin enforces NetworkPolicy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, Final

from modelregistry.decisions.podspec import pruned
from modelregistry.decisions.validationpod import COMPONENT, MANAGED_BY

MANAGED_LABELS: Final = {
    "app.kubernetes.io/managed-by": MANAGED_BY,
    "app.kubernetes.io/component": COMPONENT,
}
POLICY_NAME: Final = "modelregistry-validation"
PURPOSE_ANNOTATION: Final = "modelregistry.io/purpose"
SERVICE_ACCOUNT_PURPOSE: Final = (
    "Validation Pods of the Model Registry run as this account: no token, no cloud identity. "
    "The operator rewrites it when it changes."
)
POLICY_PURPOSE: Final = (
    "Validation Pods of the Model Registry may reach only the object store and cluster DNS. "
    "The operator rewrites it when it changes."
)


def service_account(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(MANAGED_LABELS),
            "annotations": {PURPOSE_ANNOTATION: SERVICE_ACCOUNT_PURPOSE},
        },
        "automountServiceAccountToken": False,
    }


def egress_rules(store: Iterable[tuple[str, int]], dns: str | None) -> list[dict[str, Any]]:
    """The store's addresses and ports, then the DNS Pods (`namespace/label=value`)."""
    rules: list[dict[str, Any]] = [
        {
            "to": [{"ipBlock": {"cidr": str(ipaddress.ip_network(cidr, strict=False))}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }
        for cidr, port in sorted(set(store))
    ]
    if dns is not None:
        namespace, _, label = dns.partition("/")
        key, _, value = label.partition("=")
        rules.append(
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": namespace}
                        },
                        "podSelector": {"matchLabels": {key: value}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        )
    return rules


def network_policy(
    namespace: str, store: Iterable[tuple[str, int]], dns: str | None
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "namespace": namespace,
            "labels": dict(MANAGED_LABELS),
            "annotations": {PURPOSE_ANNOTATION: POLICY_PURPOSE},
        },
        "spec": {
            "podSelector": {"matchLabels": dict(MANAGED_LABELS)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress_rules(store, dns),
        },
    }


def needs_writing(built: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """Whether the stored object differs from the built one in anything the operator sets.

    Labels and annotations must be exactly the operator's (an annotation
    naming a cloud role would be a way in); the rest is compared field by
    field as built, since the API server adds defaults of its own.
    """
    if stored is None:
        return True
    meta, found = built["metadata"], stored.get("metadata") or {}
    if (found.get("labels") or {}) != meta["labels"]:
        return True
    if (found.get("annotations") or {}) != meta["annotations"]:
        return True
    return any(
        pruned(stored.get(key)) != pruned(value)
        for key, value in built.items()
        if key != "metadata"
    )
