"""The box validation Pods run in: the ServiceAccount and NetworkPolicy the operator keeps in
each namespace, and when what is stored must be written again."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from modelregistry.decisions.sandbox import (
    MANAGED_LABELS,
    POLICY_NAME,
    POLICY_PURPOSE,
    PURPOSE_ANNOTATION,
    SERVICE_ACCOUNT_PURPOSE,
    egress_rules,
    needs_writing,
    network_policy,
    service_account,
)

LABELS = {
    "app.kubernetes.io/managed-by": "modelregistry-operator",
    "app.kubernetes.io/component": "validation",
}
DNS = "kube-system/k8s-app=kube-dns"
DNS_RULE = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def test_the_names_and_words_of_the_box() -> None:
    assert MANAGED_LABELS == LABELS
    assert POLICY_NAME == "modelregistry-validation"
    assert PURPOSE_ANNOTATION == "modelregistry.io/purpose"
    assert SERVICE_ACCOUNT_PURPOSE == (
        "Validation Pods of the Model Registry run as this account: no token, no cloud "
        "identity. The operator rewrites it when it changes."
    )
    assert POLICY_PURPOSE == (
        "Validation Pods of the Model Registry may reach only the object store and cluster DNS. "
        "The operator rewrites it when it changes."
    )


def test_the_service_account_has_no_token_and_only_the_operator_s_labels() -> None:
    assert service_account("modelregistry-validation", "team-a") == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "modelregistry-validation",
            "namespace": "team-a",
            "labels": LABELS,
            "annotations": {"modelregistry.io/purpose": SERVICE_ACCOUNT_PURPOSE},
        },
        "automountServiceAccountToken": False,
    }


def test_the_network_policy_lets_validation_pods_reach_the_store_and_dns_only() -> None:
    store = [("10.0.0.5", 9000), ("fd00::1", 443)]

    assert network_policy("team-a", store, DNS) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "modelregistry-validation",
            "namespace": "team-a",
            "labels": LABELS,
            "annotations": {"modelregistry.io/purpose": POLICY_PURPOSE},
        },
        "spec": {
            "podSelector": {"matchLabels": LABELS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}],
                    "ports": [{"protocol": "TCP", "port": 9000}],
                },
                {
                    "to": [{"ipBlock": {"cidr": "fd00::1/128"}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                },
                DNS_RULE,
            ],
        },
    }


def test_each_built_object_is_a_fresh_copy() -> None:
    built = service_account("sa", "ns")
    built["metadata"]["labels"]["extra"] = "x"
    policy = network_policy("ns", [], None)
    policy["spec"]["podSelector"]["matchLabels"]["extra"] = "x"
    policy["metadata"]["labels"]["extra"] = "x"

    assert MANAGED_LABELS == LABELS
    assert service_account("sa", "ns")["metadata"]["labels"] == LABELS
    assert network_policy("ns", [], None)["spec"]["podSelector"]["matchLabels"] == LABELS
    assert network_policy("ns", [], None)["metadata"]["labels"] == LABELS


@pytest.mark.parametrize(
    ("store", "dns", "rules"),
    [
        ([], None, []),
        ([], DNS, [DNS_RULE]),
        (
            [("10.0.0.9/24", 9000)],
            None,
            [
                {
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                    "ports": [{"protocol": "TCP", "port": 9000}],
                }
            ],
        ),
        # Sorted, each pair once.
        (
            [("10.0.0.6", 80), ("10.0.0.5", 9000), ("10.0.0.6", 80), ("10.0.0.5", 443)],
            None,
            [
                {
                    "to": [{"ipBlock": {"cidr": f"{address}/32"}}],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
                for address, port in (("10.0.0.5", 443), ("10.0.0.5", 9000), ("10.0.0.6", 80))
            ],
        ),
        (
            [],
            "dns-system/app.kubernetes.io/name=coredns",
            [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "dns-system"}
                            },
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "coredns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        ),
    ],
    ids=["nothing", "dns-only", "cidr", "sorted-once", "label-with-slash"],
)
def test_the_egress_rules(
    store: list[tuple[str, int]], dns: str | None, rules: list[dict[str, Any]]
) -> None:
    assert egress_rules(store, dns) == rules


def test_no_rule_ever_allows_the_metadata_address() -> None:
    policy = network_policy("team-a", [("10.0.0.5", 9000)], DNS)

    blocks = [
        t["ipBlock"]["cidr"] for r in policy["spec"]["egress"] for t in r["to"] if "ipBlock" in t
    ]
    assert blocks == ["10.0.0.5/32"]
    assert policy["spec"]["ingress"] == []


# --- needs_writing ----------------------------------------------------------------------------

POLICY = network_policy("team-a", [("10.0.0.5", 9000), ("fd00::1", 443)], DNS)
ACCOUNT = service_account("modelregistry-validation", "team-a")


def stored_policy() -> dict[str, Any]:
    """POLICY as kube-apiserver 1.35.4 returned it: server fields added, `ingress: []` omitted."""
    stored = copy.deepcopy(POLICY)
    stored["metadata"].update(
        creationTimestamp="2030-01-02T03:04:05Z",
        generation=1,
        resourceVersion="214",
        uid="9e7e3acc-d088-4353-84cc-9d37bdeeb862",
    )
    del stored["spec"]["ingress"]
    return stored


def stored_account() -> dict[str, Any]:
    stored = copy.deepcopy(ACCOUNT)
    stored["metadata"].update(
        creationTimestamp="2030-01-02T03:04:05Z",
        resourceVersion="213",
        uid="98aa329a-7804-40ee-bdb2-7b6e5a8490fd",
    )
    return stored


def test_what_the_api_server_stored_needs_no_writing() -> None:
    assert needs_writing(POLICY, stored_policy()) is False
    assert needs_writing(ACCOUNT, stored_account()) is False
    assert needs_writing(POLICY, copy.deepcopy(POLICY)) is False


def test_a_missing_object_is_written() -> None:
    assert needs_writing(POLICY, None) is True
    assert needs_writing(ACCOUNT, None) is True


Edit = Callable[[dict[str, Any]], None]

EDITS: list[tuple[str, Edit]] = [
    ("label-added", lambda o: o["metadata"]["labels"].update(team="a")),
    ("label-removed", lambda o: o["metadata"]["labels"].pop("app.kubernetes.io/component")),
    ("labels-removed", lambda o: o["metadata"].pop("labels")),
    (
        "role-annotation",
        lambda o: o["metadata"]["annotations"].update(
            {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/tenant"}
        ),
    ),
    (
        "annotation-changed",
        lambda o: o["metadata"]["annotations"].update({PURPOSE_ANNOTATION: "x"}),
    ),
    ("annotations-removed", lambda o: o["metadata"].pop("annotations")),
    ("no-metadata", lambda o: o.pop("metadata")),
]


@pytest.mark.parametrize("edit", [e[1] for e in EDITS], ids=[e[0] for e in EDITS])
@pytest.mark.parametrize("kind", ["account", "policy"])
def test_labels_and_annotations_must_be_exactly_the_operator_s(edit: Edit, kind: str) -> None:
    built, stored = (ACCOUNT, stored_account()) if kind == "account" else (POLICY, stored_policy())

    edit(stored)

    assert needs_writing(built, stored) is True


POLICY_EDITS: list[tuple[str, Edit]] = [
    ("egress-opened", lambda o: o["spec"]["egress"].append({})),
    (
        "metadata-address",
        lambda o: o["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}]}),
    ),
    ("egress-removed", lambda o: o["spec"].pop("egress")),
    ("port-changed", lambda o: o["spec"]["egress"][0]["ports"][0].update(port=80)),
    ("selector-changed", lambda o: o["spec"].update(podSelector={})),
    ("policy-types", lambda o: o["spec"].update(policyTypes=["Ingress"])),
    ("ingress-opened", lambda o: o["spec"].update(ingress=[{}])),
    ("no-spec", lambda o: o.pop("spec")),
    ("rules-reordered", lambda o: o["spec"]["egress"].reverse()),
]


@pytest.mark.parametrize("edit", [e[1] for e in POLICY_EDITS], ids=[e[0] for e in POLICY_EDITS])
def test_a_changed_policy_spec_is_written_again(edit: Edit) -> None:
    stored = stored_policy()

    edit(stored)

    assert needs_writing(POLICY, stored) is True


@pytest.mark.parametrize(
    "edit",
    [
        lambda o: o.pop("automountServiceAccountToken"),
        lambda o: o.update(automountServiceAccountToken=True),
    ],
    ids=["token-default", "token-on"],
)
def test_a_service_account_that_may_mount_a_token_is_written_again(edit: Edit) -> None:
    stored = stored_account()

    edit(stored)

    assert needs_writing(ACCOUNT, stored) is True


@pytest.mark.parametrize(
    "edit",
    [
        lambda o: o.update(secrets=[{"name": "legacy-token"}]),
        lambda o: o["metadata"].update(resourceVersion="999", managedFields=[{"manager": "x"}]),
        lambda o: o["spec"].update(ingress=None) if "spec" in o else None,
    ],
    ids=["unbuilt-field", "server-metadata", "null-ingress"],
)
def test_fields_the_operator_does_not_set_are_not_compared(edit: Edit) -> None:
    account, policy = stored_account(), stored_policy()

    edit(account)
    edit(policy)

    assert needs_writing(ACCOUNT, account) is False
    assert needs_writing(POLICY, policy) is False
