"""The admission policies and ClusterRoles, exactly as rendered; and their CEL, compiled and
run against the status changes they must admit or deny.

The CEL half needs `cel-expr-python` (CEL's own C++ runtime, with the optional-field syntax
`a.?b` that Kubernetes' policies use and the pure-Python `cel-python` cannot parse); it is
skipped where that package is not installed. Kubernetes' own list `slice()` and the
`authorizer` are stood in for here.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelregistry import admission
from modelregistry.api import ModelVersionStatus
from modelregistry.api.specpaths import PATHS
from modelregistry.decisions import metadata
from modelregistry.decisions.metadata import VOCABULARY

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = "system:serviceaccount:ops:registry"
Body = dict[str, Any]

# Every status field of a ModelVersion as on the wire; only approvals is an approver's.
STATUS_FIELDS = [
    "observedGeneration",
    "version",
    "stage",
    "artifact",
    "artifactSignature",
    "components",
    "artifactCheckedAt",
    "validation",
    "comparison",
    "history",
    "historySummary",
    "deletionProtection",
    "deployments",
    "deploymentCount",
    "conditions",
    "kopf",
]
LABELS = {"app.kubernetes.io/name": "modelregistry"}


def by_name(operator: str = OPERATOR) -> dict[tuple[str, str], Body]:
    return {(m["kind"], m["metadata"]["name"]): m for m in admission.manifests(operator)}


def rules(resource: str, operation: str) -> Body:
    return {
        "resourceRules": [
            {
                "apiGroups": ["modelregistry.io"],
                "apiVersions": ["v1alpha1"],
                "operations": [operation],
                "resources": [resource],
            }
        ]
    }


# --- the manifests ----------------------------------------------------------------------


def test_six_policies_their_bindings_and_three_roles_in_order() -> None:
    assert [
        (m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in admission.manifests("x")
    ] == [
        *(
            ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", name)
            for name in admission.POLICY_NAMES
        ),
        *(
            ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", name)
            for name in admission.POLICY_NAMES
        ),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "modelregistry-view"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "modelregistry-edit"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "modelregistry-approver"),
    ]
    assert admission.POLICY_NAMES == (
        "modelregistry-approvals",
        "modelregistry-history",
        "modelregistry-deletion",
        "modelregistry-model-deletion",
        "modelregistry-required-metadata",
        "modelregistry-required-metadata-label",
    )


@pytest.mark.parametrize("name", [*admission.POLICY_NAMES[:4], admission.POLICY_NAMES[5]])
def test_every_binding_denies(name: str) -> None:
    assert by_name()[("ValidatingAdmissionPolicyBinding", name)] == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": LABELS},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }


@pytest.mark.parametrize(
    ("name", "constraints"),
    [
        ("modelregistry-approvals", rules("modelversions/status", "UPDATE")),
        ("modelregistry-history", rules("modelversions/status", "UPDATE")),
        ("modelregistry-deletion", rules("modelversions", "DELETE")),
        ("modelregistry-model-deletion", rules("models", "DELETE")),
        ("modelregistry-required-metadata", rules("modelversions", "CREATE")),
    ],
)
def test_what_each_policy_matches_and_that_it_fails_closed(name: str, constraints: Body) -> None:
    spec = by_name()[("ValidatingAdmissionPolicy", name)]["spec"]

    assert spec["matchConstraints"] == constraints
    assert spec["failurePolicy"] == "Fail"
    assert all(v["reason"] == "Forbidden" for v in spec["validations"])


def test_the_label_policy_judges_every_model_write_and_fails_closed() -> None:
    spec = policy_named("modelregistry-required-metadata-label")["spec"]

    assert spec["matchConstraints"] == {
        "resourceRules": [
            {
                "apiGroups": ["modelregistry.io"],
                "apiVersions": ["v1alpha1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["models"],
            }
        ]
    }
    assert spec["failurePolicy"] == "Fail"
    assert "matchConditions" not in spec  # the operator's writes too
    assert [v["reason"] for v in spec["validations"]] == ["Invalid"]


def test_only_the_approvals_policy_exempts_the_operator_and_names_it() -> None:
    policies = {k[1]: m for k, m in by_name().items() if k[0] == "ValidatingAdmissionPolicy"}

    approvals = policies.pop("modelregistry-approvals")
    assert approvals["metadata"] == {
        "name": "modelregistry-approvals",
        "labels": LABELS,
        "annotations": {"modelregistry.io/operators": OPERATOR},
    }
    assert approvals["spec"]["matchConditions"] == [
        {
            "name": "not-the-operator",
            "expression": "!(request.userInfo.username in ['system:serviceaccount:ops:registry'])",
        }
    ]
    for name, policy in policies.items():
        assert policy["metadata"] == {"name": name, "labels": LABELS}
        # The other match condition picks the version's own Model, not a user.
        conditions = policy["spec"].get("matchConditions", [])
        assert all("request" not in c["expression"] for c in conditions)


def test_every_shard_s_operator_is_exempt_and_named() -> None:
    (approvals,) = [
        m
        for m in admission.manifests(OPERATOR, "system:serviceaccount:team-b:registry")
        if m["metadata"]["name"] == "modelregistry-approvals" and "policyName" not in m["spec"]
    ]

    assert approvals["metadata"]["annotations"] == {
        "modelregistry.io/operators": f"{OPERATOR},system:serviceaccount:team-b:registry"
    }
    assert approvals["spec"]["matchConditions"][0]["expression"] == (
        "!(request.userInfo.username in ['system:serviceaccount:ops:registry', "
        "'system:serviceaccount:team-b:registry'])"
    )


def test_an_approver_may_change_no_status_field_but_approvals() -> None:
    spec = by_name()[("ValidatingAdmissionPolicy", "modelregistry-approvals")]["spec"]

    assert [f.alias or n for n, f in ModelVersionStatus.model_fields.items()] == [
        *STATUS_FIELDS[:9],
        "approvals",
        *STATUS_FIELDS[9:],
    ]
    assert spec["validations"][0]["expression"] == " && ".join(
        f"object.?status.?{f} == oldObject.?status.?{f}" for f in STATUS_FIELDS
    )


def test_the_approvals_policy_variables_and_rules() -> None:
    spec = by_name()[("ValidatingAdmissionPolicy", "modelregistry-approvals")]["spec"]
    validated = (
        "oldObject.?status.?conditions.orValue([]).exists(c, c.type == 'Validated' && "
        "c.status == 'True'"
    )

    assert spec["variables"] == [
        {"name": "before", "expression": "oldObject.?status.?approvals.orValue([])"},
        {"name": "after", "expression": "object.?status.?approvals.orValue([])"},
        {
            "name": "added",
            "expression": "size(variables.after) == size(variables.before) + 1 && "
            "variables.after.slice(0, size(variables.before)) == variables.before",
        },
        {"name": "entry", "expression": "variables.after[size(variables.after) - 1]"},
    ]
    assert [v["expression"] for v in spec["validations"][1:]] == [
        "variables.added",
        "!variables.added || variables.entry.user == request.userInfo.username",
        "!variables.added || variables.entry.?groups.orValue([]).all(g, "
        "g in request.userInfo.groups)",
        "authorizer.group('modelregistry.io').resource('models')"
        ".namespace(object.metadata.namespace).name(object.spec.modelRef.name)"
        ".check('approve').allowed()",
        f"!variables.added || {validated})",
        f"!variables.added || {validated} && "
        "timestamp(variables.entry.time) >= timestamp(c.lastTransitionTime))",
    ]


def test_the_history_policy_binds_the_operator_too() -> None:
    spec = by_name()[("ValidatingAdmissionPolicy", "modelregistry-history")]["spec"]

    assert [v["name"] for v in spec["variables"]] == [
        "before",
        "after",
        "moved",
        "approvalsBefore",
        "approvalsAfter",
    ]
    assert [v["message"] for v in spec["validations"]] == [
        "status.history is append-only: entries are added at its end, and the oldest leave it "
        "only into historySummary, counted",
        "status.approvals is append-only: no approval is changed or removed",
    ]


def test_the_deletion_policies_read_what_the_operator_keeps() -> None:
    policies = by_name()
    version = policies[("ValidatingAdmissionPolicy", "modelregistry-deletion")]["spec"]
    model = policies[("ValidatingAdmissionPolicy", "modelregistry-model-deletion")]["spec"]

    assert [v["expression"] for v in version["validations"]] == [
        "oldObject.?status.?stage.orValue('None') != 'Production' && "
        "!oldObject.?status.?deletionProtection.hasValue()"
    ]
    assert [v["expression"] for v in model["validations"]] == [
        "oldObject.?status.?protectedVersions.orValue(0) == 0"
    ]


def test_the_cluster_roles_and_their_aggregation() -> None:
    roles = {k[1]: m for k, m in by_name().items() if k[0] == "ClusterRole"}
    read = ["get", "list", "watch"]

    def labels(*to: str) -> dict[str, str]:
        return {**LABELS, **{f"rbac.authorization.k8s.io/aggregate-to-{a}": "true" for a in to}}

    assert roles == {
        "modelregistry-view": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "modelregistry-view", "labels": labels("view", "edit", "admin")},
            "rules": [
                {
                    "apiGroups": ["modelregistry.io"],
                    "resources": [
                        "models",
                        "modelversions",
                        "models/status",
                        "modelversions/status",
                    ],
                    "verbs": read,
                }
            ],
        },
        "modelregistry-edit": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "modelregistry-edit", "labels": labels("edit", "admin")},
            "rules": [
                {
                    "apiGroups": ["modelregistry.io"],
                    "resources": ["models", "modelversions"],
                    "verbs": ["create", "update", "patch", "delete", "deletecollection"],
                }
            ],
        },
        "modelregistry-approver": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "modelregistry-approver", "labels": LABELS},
            "rules": [
                {
                    "apiGroups": ["modelregistry.io"],
                    "resources": ["models"],
                    "verbs": ["approve", *read],
                },
                {
                    "apiGroups": ["modelregistry.io"],
                    "resources": ["modelversions/status"],
                    "verbs": ["get", "patch", "update"],
                },
                {"apiGroups": ["modelregistry.io"], "resources": ["modelversions"], "verbs": read},
            ],
        },
    }


def test_render_is_the_header_and_every_manifest() -> None:
    text = admission.render(OPERATOR)

    assert text.startswith(
        "# Generated by `make crds` from operator/modelregistry/admission.py; do not edit.\n"
    )
    assert list(yaml.safe_load_all(text)) == admission.manifests(OPERATOR)
    assert list(yaml.safe_load_all(admission.render())) == admission.manifests(
        "system:serviceaccount:modelregistry-system:modelregistry-operator"
    )


def test_the_chart_template_exempts_the_releases_own_operator() -> None:
    text = admission.render_chart_template()

    assert text.startswith(
        "# Generated by `make crds` from operator/modelregistry/admission.py (a Helm template);"
        " do not edit.\n"
    )
    assert "placeholder" not in text
    # As Helm renders it for release `mr` in `ops` with one other shard's operator.
    rendered = (
        text.replace("{{- if .Values.admission.install }}\n", "")
        .replace("{{- end }}\n", "")
        .replace("{{ .Release.Namespace }}", "ops")
        .replace("{{ .Release.Name }}", "mr")
        .replace("{{ range .Values.admission.extraOperators }}", "")
        .replace("{{ . }}", "system:serviceaccount:b:op")
        .replace("{{ end }}", "")
    )
    assert list(yaml.safe_load_all(rendered)) == admission.manifests(
        "system:serviceaccount:ops:mr-operator", "system:serviceaccount:b:op"
    )
    assert "{{- if .Values.admission.install }}" in text


def test_the_committed_files_are_the_rendered_ones() -> None:
    assert (ROOT / "crds" / admission.FILENAME).read_text() == admission.render()
    chart = ROOT / "charts" / "modelregistry" / "templates" / "admission.yaml"
    assert chart.read_text() == admission.render_chart_template()


# --- the CEL: compiled, and run on the changes it must admit or deny ----------------------


def expressions(policy: Body) -> list[tuple[str, str]]:
    """(kind, expression) of everything CEL in a policy."""
    spec = policy["spec"]
    found = [("variable", v["expression"]) for v in spec.get("variables", [])]
    found += [("condition", c["expression"]) for c in spec.get("matchConditions", [])]
    for v in spec["validations"]:
        found.append(("validation", v["expression"]))
        if "messageExpression" in v:
            found.append(("message", v["messageExpression"]))
    return found


class Cel:
    """CEL as Kubernetes' admission policies have it, stood in for where it is Kubernetes' own."""

    def __init__(self, may_approve: Callable[[str, str, str], bool] | None = None) -> None:
        self.cel = pytest.importorskip("cel_expr_python.cel")
        ext_optional = pytest.importorskip("cel_expr_python.ext.ext_optional")
        ext_strings = pytest.importorskip("cel_expr_python.ext.ext_strings")
        dyn, string = self.cel.Type.DYN, self.cel.Type.STRING
        may = may_approve or (lambda user, namespace, model: True)

        authorizer = self.cel.Type.Map(string, dyn)

        def member(
            name: str, impl: Callable[..., Any], *params: Any, on: Any = authorizer, returns: Any
        ) -> Any:
            overload = self.cel.Overload(
                id=f"{name}_member",
                return_type=returns,
                parameters=[on, *params],
                is_member=True,
                impl=impl,
            )
            return self.cel.FunctionDecl(name, [overload])

        def slice_(items: list[Any], start: int, end: int) -> list[Any]:
            if not 0 <= start <= end <= len(items):
                raise IndexError(f"slice({start}, {end}) of {len(items)}")
            return items[start:end]

        # The authorizer is a dict that each call narrows, as Kubernetes' builder does.
        def narrow(key: str) -> Callable[[Body, str], Body]:
            return lambda request, value: {**request, key: value}

        self.env = self.cel.NewEnv(
            variables={
                n: dyn
                for n in ("object", "oldObject", "params", "request", "variables", "authorizer")
            },
            extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()],
            functions=[
                member(
                    "slice",
                    slice_,
                    self.cel.Type.INT,
                    self.cel.Type.INT,
                    on=self.cel.Type.List(dyn),
                    returns=self.cel.Type.List(dyn),
                ),
                *(
                    member(k, narrow(k), string, returns=authorizer)
                    for k in ("group", "resource", "namespace", "name")
                ),
                member("check", narrow("verb"), string, returns=authorizer),
                member(
                    "allowed",
                    lambda a: (
                        a["verb"] == admission.APPROVE_VERB
                        and a["group"] == "modelregistry.io"
                        and a["resource"] == "models"
                        and may(a["user"], a["namespace"], a["name"])
                    ),
                    returns=self.cel.Type.BOOL,
                ),
            ],
        )

    def type_of(self, expression: str) -> str:
        return str(self.env.compile(expression).return_type().name())

    def run(self, expression: str, data: Body) -> Any:
        """The value, or the error as an exception."""
        value = self.env.compile(expression).eval(data=data)
        if value.type() == self.cel.Type.ERROR:
            raise ValueError(str(value.plain_value()))
        return value.plain_value()

    def denials(
        self,
        policy: Body,
        old: Body | None,
        new: Body | None,
        user: str,
        groups: list[str],
        params: Body | None = None,
    ) -> list[str] | None:
        """The messages of the failing validations; None when the policy does not match."""
        request = {"userInfo": {"username": user, "groups": groups}}
        data: Body = {
            "object": new,
            "oldObject": old,
            "params": params,
            "request": request,
            "authorizer": {"user": user},
        }
        spec = policy["spec"]
        if not all(self.run(c["expression"], data) for c in spec.get("matchConditions", [])):
            return None
        variables: Body = {}
        for variable in spec.get("variables", []):
            # A variable in error is an error only where it is read.
            with contextlib.suppress(ValueError):
                variables[variable["name"]] = self.run(
                    variable["expression"], {**data, "variables": variables}
                )
        data["variables"] = variables
        denied = []
        for validation in spec["validations"]:
            try:
                passed = self.run(validation["expression"], data) is True
            except ValueError:
                passed = False
            if not passed:
                message = validation.get("message")
                if "messageExpression" in validation:
                    message = self.run(validation["messageExpression"], data)
                denied.append(str(message))
        return denied


@pytest.mark.parametrize("policy", admission.manifests(OPERATOR)[:6], ids=admission.POLICY_NAMES)
def test_every_expression_compiles_to_the_type_its_place_needs(policy: Body) -> None:
    cel = Cel()
    wanted = {
        "validation": {"bool", "dyn"},
        "condition": {"bool"},
        "message": {"string"},
        "variable": {"bool", "dyn", "int", "list<dyn>", "map<string, bool>"},
    }

    for kind, expression in expressions(policy):
        assert cel.type_of(expression).lower() in wanted[kind], expression


def test_a_misspelt_expression_is_refused_so_the_compile_check_means_something() -> None:
    cel = Cel()

    for wrong in ("object.?status.?x.orValeu(1)", "size(variables.a) + 'b'", "a &&"):
        with pytest.raises(Exception, match="INVALID_ARGUMENT"):
            cel.type_of(wrong)


VALIDATED = {
    "type": "Validated",
    "status": "True",
    "reason": "Passed",
    "message": "ok",
    "lastTransitionTime": "2030-01-02T03:00:00Z",
}


def version_body(**status: Any) -> Body:
    return {
        "metadata": {"name": "fraud-3", "namespace": "team-a"},
        "spec": {"modelRef": {"name": "fraud"}},
        "status": {"stage": "Staging", "conditions": [VALIDATED], **status},
    }


def approval_entry(user: str = "alice", time: str = "2030-01-02T03:00:00Z", **more: Any) -> Body:
    return {"stage": "Production", "user": user, "time": time, **more}


def policy_named(name: str) -> Body:
    return by_name()[("ValidatingAdmissionPolicy", name)]


ONLY_APPROVALS = (
    "only the operator writes a ModelVersion's status: an approver may add one entry to "
    "status.approvals and change nothing else (stage, conditions, artifact, validation and "
    "history are the operator's)"
)
ONE_ENTRY = (
    "an approval adds exactly one entry at the end of status.approvals and changes no earlier "
    "one (modelregistry approve VERSION --stage STAGE)"
)
NOT_VALIDATED = (
    "a version can be approved only once it is Validated (its checks passed): wait for "
    "Validated=True"
)
TOO_EARLY = "an approval cannot be dated before the version became Validated: set time to now"


@pytest.mark.parametrize(
    ("old", "new", "user", "groups", "expected"),
    [
        # The approver's own entry, naming a group of theirs: admitted.
        (
            version_body(),
            version_body(approvals=[approval_entry(groups=["sre"])]),
            "alice",
            ["sre", "ml"],
            [],
        ),
        (
            version_body(approvals=[approval_entry("bob")]),
            version_body(approvals=[approval_entry("bob"), approval_entry()]),
            "alice",
            [],
            [],
        ),
        # The stage granted in the same patch.
        (
            version_body(),
            version_body(stage="Production", approvals=[approval_entry()]),
            "alice",
            [],
            [ONLY_APPROVALS],
        ),
        # A condition's message edited, nothing approved.
        (
            version_body(),
            {
                **version_body(),
                "status": {"stage": "Staging", "conditions": [{**VALIDATED, "message": "x"}]},
            },
            "alice",
            [],
            [ONLY_APPROVALS, ONE_ENTRY],
        ),
        (
            version_body(),
            version_body(approvals=[approval_entry("bob")]),
            "alice",
            [],
            ["an approval must name its approver: user alice, not bob"],
        ),
        (
            version_body(),
            version_body(approvals=[approval_entry(groups=["admins"])]),
            "alice",
            ["sre"],
            ["an approval may name only groups its approver is in (sre)"],
        ),
        (
            version_body(),
            version_body(approvals=[approval_entry(), approval_entry()]),
            "alice",
            [],
            [ONE_ENTRY],
        ),
        (
            version_body(approvals=[approval_entry("bob")]),
            version_body(approvals=[approval_entry("carol"), approval_entry()]),
            "alice",
            [],
            [ONE_ENTRY],
        ),
        (
            version_body(),
            version_body(approvals=[approval_entry(time="2030-01-02T02:59:59Z")]),
            "alice",
            [],
            [TOO_EARLY],
        ),
        (
            {**version_body(), "status": {"stage": "None"}},
            {**version_body(), "status": {"stage": "None", "approvals": [approval_entry()]}},
            "alice",
            [],
            [NOT_VALIDATED, TOO_EARLY],
        ),
    ],
)
def test_the_approvals_policy_admits_only_the_approvers_own_single_entry(
    old: Body, new: Body, user: str, groups: list[str], expected: list[str]
) -> None:
    cel = Cel()

    assert cel.denials(policy_named("modelregistry-approvals"), old, new, user, groups) == expected


def test_approving_needs_the_approve_verb_on_the_versions_model() -> None:
    cel = Cel(may_approve=lambda user, namespace, model: (namespace, model) == ("team-a", "other"))
    new = version_body(approvals=[approval_entry()])

    assert cel.denials(
        policy_named("modelregistry-approvals"), version_body(), new, "alice", []
    ) == [
        "user alice may not approve versions of Model fraud: approving needs the approve verb on "
        "models/fraud in namespace team-a (a RoleBinding to the modelregistry-approver "
        "ClusterRole)"
    ]


def test_the_operator_is_not_held_by_the_approvals_policy() -> None:
    cel = Cel()
    new = version_body(stage="Production")

    assert (
        cel.denials(policy_named("modelregistry-approvals"), version_body(), new, OPERATOR, [])
        is None
    )
    assert cel.denials(policy_named("modelregistry-approvals"), version_body(), new, "x", []) == [
        ONLY_APPROVALS,
        ONE_ENTRY,
    ]


def history_entry(minute: int) -> Body:
    return {
        "time": f"2030-01-02T03:{minute:02d}:00Z",
        "from": "None",
        "to": "Staging",
        "reason": "Granted",
    }


HISTORY_ONLY_GROWS = (
    "status.history is append-only: entries are added at its end, and the oldest leave it "
    "only into historySummary, counted"
)
APPROVALS_ONLY_GROW = "status.approvals is append-only: no approval is changed or removed"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({}, {"history": [history_entry(1)]}, []),
        ({"history": [history_entry(1)]}, {"history": [history_entry(1), history_entry(2)]}, []),
        # The oldest into the summary, counted.
        (
            {"history": [history_entry(1), history_entry(2)], "historySummary": {"count": 3}},
            {"history": [history_entry(2), history_entry(3)], "historySummary": {"count": 4}},
            [],
        ),
        ({"history": [history_entry(1)]}, {"history": []}, [HISTORY_ONLY_GROWS]),
        ({"history": [history_entry(1)]}, {"history": [history_entry(2)]}, [HISTORY_ONLY_GROWS]),
        # Dropped without being counted, or a count that shrinks.
        (
            {"history": [history_entry(1), history_entry(2)]},
            {"history": [history_entry(2), history_entry(3)]},
            [HISTORY_ONLY_GROWS],
        ),
        (
            {"history": [history_entry(1)], "historySummary": {"count": 2}},
            {"history": [history_entry(1)], "historySummary": {"count": 1}},
            [HISTORY_ONLY_GROWS],
        ),
        ({"approvals": [approval_entry()]}, {"approvals": []}, [APPROVALS_ONLY_GROW]),
        (
            {"approvals": [approval_entry()]},
            {"approvals": [approval_entry("mallory")]},
            [APPROVALS_ONLY_GROW],
        ),
    ],
)
def test_the_history_policy_keeps_history_and_approvals_append_only(
    old: Body, new: Body, expected: list[str]
) -> None:
    cel = Cel()
    policy = policy_named("modelregistry-history")

    assert cel.denials(policy, {"status": old}, {"status": new}, OPERATOR, []) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, []),
        ({"stage": "Staging"}, []),
        (
            {"stage": "Production", "deletionProtection": {"reason": "Production"}},
            [
                "ModelVersion fraud-3 holds Production and cannot be deleted: move another "
                "version to Production, or set spec.stage to Archived first"
            ],
        ),
        (
            {
                "stage": "Archived",
                "deletionProtection": {"reason": "Retention", "until": "2037-01-01T00:00:00Z"},
            },
            [
                "ModelVersion fraud-3 is archived and kept by its Model's retention policy "
                "(policy.archivedRetentionDays): it can be deleted from 2037-01-01T00:00:00Z"
            ],
        ),
        (
            {
                "stage": "Archived",
                "deletionProtection": {"reason": "InUse", "users": "Pod t/a, Pod t/b"},
            },
            [
                "ModelVersion fraud-3 is in use by Pod t/a, Pod t/b (status.deployments) and "
                "cannot be deleted: move them to another version first, or set the Model's "
                "spec.policy.protectInUse to false"
            ],
        ),
        (
            {"deletionProtection": {"reason": "InUse"}},
            [
                "ModelVersion fraud-3 is in use by workloads (status.deployments) and cannot be "
                "deleted: move them to another version first, or set the Model's "
                "spec.policy.protectInUse to false"
            ],
        ),
    ],
)
def test_the_deletion_policy_reads_the_protection_the_operator_keeps(
    status: Body, expected: list[str]
) -> None:
    cel = Cel()
    old = {"metadata": {"name": "fraud-3"}, "status": status}

    assert cel.denials(policy_named("modelregistry-deletion"), old, None, "admin", []) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, []),
        ({"protectedVersions": 0}, []),
        (
            {"protectedVersions": 2},
            [
                "Model fraud has 2 protected versions (in Production, in use, or archived and "
                "within retention): it can be deleted once none is"
            ],
        ),
    ],
)
def test_a_model_with_protected_versions_cannot_be_deleted(
    status: Body, expected: list[str]
) -> None:
    cel = Cel()
    old = {"metadata": {"name": "fraud"}, "status": status}

    assert (
        cel.denials(policy_named("modelregistry-model-deletion"), old, None, "admin", [])
        == expected
    )


# --- required metadata: the version's own Model is the parameter ------------------------


def test_the_required_metadata_policy_takes_the_namespace_s_models_as_parameters() -> None:
    policy = policy_named("modelregistry-required-metadata")
    binding = by_name()[("ValidatingAdmissionPolicyBinding", "modelregistry-required-metadata")]

    assert policy["spec"]["paramKind"] == {
        "apiVersion": "modelregistry.io/v1alpha1",
        "kind": "Model",
    }
    assert binding["spec"] == {
        "policyName": "modelregistry-required-metadata",
        "validationActions": ["Deny"],
        # The Models of the request's namespace that require something; with none, the
        # version is admitted.
        "paramRef": {
            "selector": {"matchLabels": {"modelregistry.io/required-metadata": "true"}},
            "parameterNotFoundAction": "Allow",
        },
    }
    # Each Model's evaluation judges only the versions that name it.
    assert policy["spec"]["matchConditions"] == [
        {
            "name": "names-this-model",
            "expression": "params.metadata.name == object.spec.?modelRef.?name.orValue('')",
        }
    ]
    (validation,) = policy["spec"]["validations"]
    assert validation["expression"] == "size(variables.missing) == 0"


def model_params(name: str = "churn", *required: str) -> Body:
    policy = {"requiredMetadata": list(required)} if required else {}
    return {"metadata": {"name": name, "namespace": "team-a"}, "spec": {"policy": policy}}


def new_version(name: str = "churn-7", model: str = "churn", **spec: Any) -> Body:
    body = {"modelRef": {"name": model}, "artifact": {"uri": "s3://b/k"}, **spec}
    return {"metadata": {"name": name, "namespace": "team-a"}, "spec": body}


def lacking(version: str, model: str, *paths: str) -> str:
    return (
        f"ModelVersion {version} lacks what Model {model} requires of every version "
        f"(spec.policy.requiredMetadata): {', '.join(paths)}. Set them in its spec (what a "
        "version registers cannot change once it is created)"
    )


def labelled_model(labels: dict[str, str] | None, *required: str) -> Body:
    body = model_params("churn", *required)
    if labels is not None:
        body["metadata"]["labels"] = labels
    return body


LABEL_NEEDED = (
    "Model churn sets spec.policy.requiredMetadata, so it must carry the label "
    "modelregistry.io/required-metadata=true (metadata.labels): the API server holds the "
    "versions of the Models that carry it to their required metadata. Add it to the "
    "manifest, or run: kubectl label model churn modelregistry.io/required-metadata=true"
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (labelled_model(None, "signature"), [LABEL_NEEDED]),
        (labelled_model({"team": "a"}, "signature"), [LABEL_NEEDED]),
        (
            labelled_model({"modelregistry.io/required-metadata": "false"}, "metrics.f1"),
            [LABEL_NEEDED],
        ),
        (labelled_model({"modelregistry.io/required-metadata": "true"}, "signature"), []),
        # Nothing required: the label is neither needed nor harmful.
        (labelled_model(None), []),
        (labelled_model({"modelregistry.io/required-metadata": "true"}), []),
    ],
)
def test_a_model_that_requires_metadata_must_carry_the_label_its_binding_selects(
    model: Body, expected: list[str]
) -> None:
    cel = Cel()
    policy = policy_named("modelregistry-required-metadata-label")

    assert cel.denials(policy, None, model, "alice", []) == expected
    assert cel.denials(policy, model, model, "alice", []) == expected


@pytest.mark.parametrize(
    ("params", "version", "expected"),
    [
        (
            model_params("churn", "signature", "metrics.f1", "modelCard.intendedUse"),
            new_version(metrics={"auc": 0.9}),
            [lacking("churn-7", "churn", "signature", "metrics.f1", "modelCard.intendedUse")],
        ),
        (
            model_params("churn", "lineage.datasets[].version", "hyperparameters.algorithm"),
            new_version(
                lineage={"datasets": [{"name": "a", "version": "1"}, {"name": "b"}]},
                hyperparameters={"algorithm": "xgb"},
            ),
            [lacking("churn-7", "churn", "lineage.datasets[].version")],
        ),
        (
            model_params("churn", "signature", "metrics.f1"),
            new_version(signature={}, metrics={"f1": 0.0}),
            [],
        ),
        # Another Model's evaluation: skipped by the match condition.
        (model_params("other", "signature"), new_version(), None),
        # A Model that requires nothing.
        (model_params("churn"), new_version(), []),
        # Deeper than one list: left to the operator.
        (
            model_params("churn", "validation.checks[].resources.limits.memory"),
            new_version(),
            [],
        ),
    ],
)
def test_the_required_metadata_policy_refuses_a_version_lacking_what_its_model_requires(
    params: Body, version: Body, expected: list[str] | None
) -> None:
    cel = Cel()
    policy = policy_named("modelregistry-required-metadata")

    assert cel.denials(policy, None, version, "alice", [], params) == expected


def full_spec() -> Body:
    """A spec that sets every path the types have: each list has one item, each map one key."""
    spec: Body = {}
    samples: dict[str, Any] = {"text": "x", "value": 1}
    for path in PATHS:
        node: Any = spec
        steps = path.path.split(".")
        for step in steps[:-1]:
            node = node[step.removesuffix("[]")]
            if step.endswith("[]"):
                node = node[0]
        leaf = steps[-1]
        if path.kind == "object":
            node[leaf] = {}
        elif path.kind == "list":
            objects = any(p.path.startswith(path.path + "[].") for p in PATHS)
            item: Any = {} if objects else "x"
            node[leaf] = [item]
        elif path.kind == "map":
            node[leaf] = {"k": 1.0} if path.values == "value" else {"k": "x"}
        else:
            node[leaf] = samples[path.kind]
    return spec


def without(spec: Body, path: str, value: Any) -> Body:
    """`spec` with the last field of `path` set to `value` (None: removed), in its last item."""
    changed = copy.deepcopy(spec)
    node: Any = changed
    steps = path.split(".")
    for step in steps[:-1]:
        node = node[step.removesuffix("[]")]
        if step.endswith("[]"):
            node.append(copy.deepcopy(node[0]))  # a second item, which lacks it
            node = node[-1]
    if value is None:
        node.pop(steps[-1], None)
    else:
        node[steps[-1]] = value
    return changed


EMPTY = {"text": "", "list": [], "map": {}}


def test_the_policy_and_the_operator_agree_on_every_path_of_the_vocabulary() -> None:
    cel = Cel()
    variables = {
        v["name"]: cel.env.compile(v["expression"])
        for v in policy_named("modelregistry-required-metadata")["spec"]["variables"]
    }
    required = [p.path for p in VOCABULARY] + ["metrics.k", "metrics.other", "hyperparameters.k"]
    full = full_spec()
    # Each path unset, and set empty, in turn (in a list's second item where it goes through one).
    specs = [full, {}]
    specs += [without(full, p.path, None) for p in VOCABULARY]
    specs += [without(full, p.path, EMPTY[p.kind]) for p in VOCABULARY if p.kind in EMPTY]
    specs += [without(full, "hyperparameters.k", ""), without(full, "metrics.k", None)]
    assert metadata.missing(full, required) == ["metrics.other"]
    for spec in specs:
        data: Body = {"object": {"spec": spec}}
        data["variables"] = {
            "required": required,
            "set": variables["set"].eval(data=data).plain_value(),
        }
        lacks = variables["missing"].eval(data=data).plain_value()
        assert lacks == metadata.missing(spec, required), spec
    assert len(specs) > len(VOCABULARY) + 60
