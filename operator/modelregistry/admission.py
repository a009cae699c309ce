"""Who may do what, enforced by the API server: admission policies and ClusterRoles.

Rendered from here into crds/ (and the chart) by `make crds`, and installed
with the CRDs by `install.py`; a unit test keeps the committed files in step.

- `modelregistry-approvals` (UPDATE of modelversions/status, by anyone but
  the operator): a request may add exactly one entry at the end of
  status.approvals and change nothing else in status; the entry names the
  requester and only groups the requester is in; the requester holds the
  custom verb `approve` on the version's Model (RBAC `resourceNames` narrows
  it to one Model); the version is Validated, and the entry is not dated
  before it became so. This is how Kubernetes approves a
  CertificateSigningRequest and cert-manager a CertificateRequest.
- `modelregistry-history` (UPDATE of modelversions/status, by everyone, the
  operator included): status.history only grows at its end, except that its
  oldest entries may move into historySummary, whose count grows by exactly
  as many; status.approvals only grows at its end.
- `modelregistry-deletion` (DELETE of a ModelVersion): refused while the
  version holds Production or its status.deletionProtection is set (CEL has
  no clock: the operator keeps that field and clears it when retention ends;
  it names the users of a version in use, and the message names them too).
- `modelregistry-model-deletion` (DELETE of a Model): refused while any of
  its versions is protected (status.protectedVersions, kept by the operator).
- `modelregistry-required-metadata` (CREATE of a ModelVersion, by everyone):
  refused while its spec lacks a path its Model's `policy.requiredMetadata`
  names. The Models of the namespace that carry REQUIRED_METADATA_LABEL are
  its parameters: a binding cannot pick "the Model this version names", and
  the API server evaluates a policy once per parameter (copying the request's
  objects each time), so selecting every Model made each create cost
  ~0.13 ms per Model of its namespace. A match condition skips the Models a
  version does not name; without a parameter (a version created before its
  Model) the version is admitted. Its CEL is drawn from
  `decisions/metadata.py`'s vocabulary, which the operator checks too (and
  the paths the policy leaves out).
- `modelregistry-required-metadata-label` (CREATE and UPDATE of a Model, by
  everyone): a Model whose `policy.requiredMetadata` names anything carries
  REQUIRED_METADATA_LABEL, so the binding above selects every Model that
  requires something.

The operators are exempt from the first policy by their user names (one,
or one per shard when several releases share the cluster), which the policy
carries as an annotation too, so an operator can tell that the policy
installed is one that exempts it (`reconciler/admission.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import yaml

from modelregistry.api import ModelVersionStatus
from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.api.specpaths import Kind, SpecPath
from modelregistry.decisions.metadata import VOCABULARY, VOCABULARY_MAPS

APPROVALS: Final = "modelregistry-approvals"
HISTORY: Final = "modelregistry-history"
DELETION: Final = "modelregistry-deletion"
MODEL_DELETION: Final = "modelregistry-model-deletion"
REQUIRED_METADATA: Final = "modelregistry-required-metadata"
REQUIRED_METADATA_LABELLED: Final = "modelregistry-required-metadata-label"
POLICY_NAMES: Final = (
    APPROVALS,
    HISTORY,
    DELETION,
    MODEL_DELETION,
    REQUIRED_METADATA,
    REQUIRED_METADATA_LABELLED,
)
# On every Model whose policy.requiredMetadata names anything: the required-metadata
# policy's parameters are the Models that carry it.
REQUIRED_METADATA_LABEL: Final = f"{GROUP}/required-metadata"
# The exempt operators' user names, comma-separated.
OPERATOR_ANNOTATION: Final = f"{GROUP}/operators"
APPROVE_VERB: Final = "approve"
# The chart's operator ServiceAccount in the namespace the README installs it to.
DEFAULT_OPERATOR: Final = "system:serviceaccount:modelregistry-system:modelregistry-operator"
ADMISSION_API: Final = "admissionregistration.k8s.io/v1"
RBAC_API: Final = "rbac.authorization.k8s.io/v1"
_LABELS: Final = {"app.kubernetes.io/name": "modelregistry"}


def _status_fields_but(kept: str) -> list[str]:
    """Every status field (as on the wire) but `kept`."""
    return [
        field.alias or name
        for name, field in ModelVersionStatus.model_fields.items()
        if (field.alias or name) != kept
    ]


def _rules(plural: str, operations: list[str]) -> dict[str, Any]:
    return {
        "resourceRules": [
            {
                "apiGroups": [GROUP],
                "apiVersions": [VERSION],
                "operations": operations,
                "resources": [plural],
            }
        ]
    }


def _policy(
    name: str,
    constraints: dict[str, Any],
    validations: list[dict[str, str]],
    *,
    variables: list[dict[str, str]] | None = None,
    match_conditions: list[dict[str, str]] | None = None,
    annotations: dict[str, str] | None = None,
    param_kind: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"failurePolicy": "Fail"}
    if param_kind:
        spec["paramKind"] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": param_kind}
    spec["matchConstraints"] = constraints
    if match_conditions:
        spec["matchConditions"] = match_conditions
    if variables:
        spec["variables"] = variables
    spec["validations"] = validations
    metadata: dict[str, Any] = {"name": name, "labels": dict(_LABELS)}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": ADMISSION_API,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata,
        "spec": spec,
    }


def _binding(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"policyName": name, "validationActions": ["Deny"]}
    if name == REQUIRED_METADATA:
        # The Models of the request's namespace that require something; none: admitted.
        spec["paramRef"] = {
            "selector": {"matchLabels": {REQUIRED_METADATA_LABEL: "true"}},
            "parameterNotFoundAction": "Allow",
        }
    return {
        "apiVersion": ADMISSION_API,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": dict(_LABELS)},
        "spec": spec,
    }


def approvals_policy(operators: Sequence[str]) -> dict[str, Any]:
    unchanged = " && ".join(
        f"object.?status.?{field} == oldObject.?status.?{field}"
        for field in _status_fields_but("approvals")
    )
    validated = (
        "oldObject.?status.?conditions.orValue([]).exists(c, c.type == 'Validated' && "
        "c.status == 'True'"
    )
    return _policy(
        APPROVALS,
        _rules(f"{MODELVERSIONS}/status", ["UPDATE"]),
        match_conditions=[
            {
                "name": "not-the-operator",
                "expression": "!(request.userInfo.username in ["
                + ", ".join(repr(o) for o in operators)
                + "])",
            }
        ],
        annotations={OPERATOR_ANNOTATION: ",".join(operators)},
        variables=[
            {"name": "before", "expression": "oldObject.?status.?approvals.orValue([])"},
            {"name": "after", "expression": "object.?status.?approvals.orValue([])"},
            {
                "name": "added",
                "expression": "size(variables.after) == size(variables.before) + 1 && "
                "variables.after.slice(0, size(variables.before)) == variables.before",
            },
            # Read only where `added` holds (CEL's || absorbs the error otherwise).
            {"name": "entry", "expression": "variables.after[size(variables.after) - 1]"},
        ],
        validations=[
            {
                "expression": unchanged,
                "message": "only the operator writes a ModelVersion's status: an approver may "
                "add one entry to status.approvals and change nothing else (stage, conditions, "
                "artifact, validation and history are the operator's)",
                "reason": "Forbidden",
            },
            {
                "expression": "variables.added",
                "message": "an approval adds exactly one entry at the end of status.approvals "
                "and changes no earlier one (modelregistry approve VERSION --stage STAGE)",
                "reason": "Forbidden",
            },
            {
                "expression": "!variables.added || variables.entry.user == "
                "request.userInfo.username",
                "messageExpression": "'an approval must name its approver: user ' + "
                "request.userInfo.username + ', not ' + variables.entry.user",
                "reason": "Forbidden",
            },
            {
                "expression": "!variables.added || variables.entry.?groups.orValue([]).all(g, "
                "g in request.userInfo.groups)",
                "messageExpression": "'an approval may name only groups its approver is in ("
                "' + request.userInfo.groups.join(', ') + ')'",
                "reason": "Forbidden",
            },
            {
                "expression": f"authorizer.group('{GROUP}').resource('{MODELS}')"
                ".namespace(object.metadata.namespace).name(object.spec.modelRef.name)"
                f".check('{APPROVE_VERB}').allowed()",
                "messageExpression": "'user ' + request.userInfo.username + ' may not approve "
                f"versions of Model ' + object.spec.modelRef.name + ': approving needs the "
                f"{APPROVE_VERB} verb on {MODELS}/' + object.spec.modelRef.name + ' in namespace "
                "' + object.metadata.namespace + ' (a RoleBinding to the modelregistry-approver "
                "ClusterRole)'",
                "reason": "Forbidden",
            },
            {
                "expression": f"!variables.added || {validated})",
                "message": "a version can be approved only once it is Validated (its checks "
                "passed): wait for Validated=True",
                "reason": "Forbidden",
            },
            {
                "expression": f"!variables.added || {validated} && "
                "timestamp(variables.entry.time) >= timestamp(c.lastTransitionTime))",
                "message": "an approval cannot be dated before the version became Validated: "
                "set time to now",
                "reason": "Forbidden",
            },
        ],
    )


def history_policy() -> dict[str, Any]:
    return _policy(
        HISTORY,
        _rules(f"{MODELVERSIONS}/status", ["UPDATE"]),
        variables=[
            {"name": "before", "expression": "oldObject.?status.?history.orValue([])"},
            {"name": "after", "expression": "object.?status.?history.orValue([])"},
            {
                "name": "moved",
                "expression": "object.?status.?historySummary.?count.orValue(0) - "
                "oldObject.?status.?historySummary.?count.orValue(0)",
            },
            {"name": "approvalsBefore", "expression": "oldObject.?status.?approvals.orValue([])"},
            {"name": "approvalsAfter", "expression": "object.?status.?approvals.orValue([])"},
        ],
        validations=[
            {
                "expression": "variables.moved >= 0 && variables.moved <= size(variables.before) "
                "&& size(variables.after) >= size(variables.before) - variables.moved && "
                "variables.after.slice(0, size(variables.before) - variables.moved) == "
                "variables.before.slice(variables.moved, size(variables.before))",
                "message": "status.history is append-only: entries are added at its end, and "
                "the oldest leave it only into historySummary, counted",
                "reason": "Forbidden",
            },
            {
                "expression": "size(variables.approvalsAfter) >= size(variables.approvalsBefore)"
                " && variables.approvalsAfter.slice(0, size(variables.approvalsBefore)) == "
                "variables.approvalsBefore",
                "message": "status.approvals is append-only: no approval is changed or removed",
                "reason": "Forbidden",
            },
        ],
    )


def deletion_policy() -> dict[str, Any]:
    return _policy(
        DELETION,
        _rules(MODELVERSIONS, ["DELETE"]),
        validations=[
            {
                "expression": "oldObject.?status.?stage.orValue('None') != 'Production' && "
                "!oldObject.?status.?deletionProtection.hasValue()",
                "messageExpression": "oldObject.?status.?deletionProtection.?reason.orValue('') == "
                "'InUse' ? 'ModelVersion ' + oldObject.metadata.name + ' is in use by ' + "
                "oldObject.status.deletionProtection.?users.orValue('workloads') + ' "
                "(status.deployments) and cannot be deleted: move them to another version "
                "first, or set the Model\\'s spec.policy.protectInUse to false' : "
                "oldObject.?status.?deletionProtection.?until.hasValue() ? "
                "'ModelVersion ' + oldObject.metadata.name + ' is archived and kept by its "
                "Model\\'s retention policy (policy.archivedRetentionDays): it can be deleted "
                "from ' + oldObject.status.deletionProtection.until : 'ModelVersion ' + "
                "oldObject.metadata.name + ' holds Production and cannot be deleted: move "
                "another version to Production, or set spec.stage to Archived first'",
                "reason": "Forbidden",
            }
        ],
    )


def model_deletion_policy() -> dict[str, Any]:
    return _policy(
        MODEL_DELETION,
        _rules(MODELS, ["DELETE"]),
        validations=[
            {
                "expression": "oldObject.?status.?protectedVersions.orValue(0) == 0",
                "messageExpression": "'Model ' + oldObject.metadata.name + ' has ' + "
                "string(oldObject.status.protectedVersions) + ' protected versions (in "
                "Production, in use, or archived and within retention): it can be deleted once "
                "none is'",
                "reason": "Forbidden",
            }
        ],
    )


def _optional(base: str, steps: list[str]) -> str:
    return base + "".join(f".?{step}" for step in steps)


def _is_set(value: str, kind: Kind) -> str:
    """CEL: the optional `value` is set, as `decisions/metadata.py` tells it for `kind`."""
    if kind == "text":
        return f"{value}.orValue('') != ''"
    if kind == "list":
        return f"size({value}.orValue([])) > 0"
    if kind == "map":
        return f"size({value}.orValue({{}})) > 0"
    return f"{value}.hasValue()"


def present(path: SpecPath) -> str:
    """CEL: the version's spec sets `path` (through one list at most)."""
    steps = path.path.split(".")
    listed = next((i for i, step in enumerate(steps) if step.endswith("[]")), None)
    if listed is None:
        return _is_set(_optional("object.spec", steps), path.kind)
    items = _optional("object.spec", [*steps[:listed], steps[listed][:-2]]) + ".orValue([])"
    each = _is_set(_optional("i", steps[listed + 1 :]), path.kind)
    return f"size({items}) > 0 && {items}.all(i, {each})"


def key_missing(owner: SpecPath) -> str:
    """CEL: the key that path `p` names after the map `owner` is not set."""
    entries = _optional("object.spec", owner.path.split(".")) + ".orValue({})"
    key = f"p.substring({len(owner.path) + 1})"
    if owner.values == "text":
        return f"{entries}[?{key}].orValue('') == ''"
    return f"!({key} in {entries})"


def required_metadata_policy() -> dict[str, Any]:
    fixed = ", ".join(f"'{p.path}': {present(p)}" for p in VOCABULARY)
    keys = "".join(f"p.startsWith('{m.path}.') ? {key_missing(m)} : " for m in VOCABULARY_MAPS)
    return _policy(
        REQUIRED_METADATA,
        _rules(MODELVERSIONS, ["CREATE"]),
        param_kind="Model",
        # Evaluated per parameter: a Model the version does not name is skipped here,
        # before the validations' own copy of the request is made.
        match_conditions=[
            {
                "name": "names-this-model",
                "expression": "params.metadata.name == object.spec.?modelRef.?name.orValue('')",
            }
        ],
        variables=[
            {
                "name": "required",
                "expression": "params.?spec.?policy.?requiredMetadata.orValue([])",
            },
            # Read only for the version's own Model, once per request.
            {"name": "set", "expression": "{" + fixed + "}"},
            {
                "name": "missing",
                "expression": "variables.required.filter(p, p in variables.set ? "
                f"!variables.set[p] : {keys}false)",
            },
        ],
        validations=[
            {
                "expression": "size(variables.missing) == 0",
                "messageExpression": "'ModelVersion ' + object.metadata.name + ' lacks what "
                "Model ' + params.metadata.name + ' requires of every version "
                "(spec.policy.requiredMetadata): ' + variables.missing.join(', ') + '. Set "
                "them in its spec (what a version registers cannot change once it is "
                "created)'",
                "reason": "Forbidden",
            }
        ],
    )


def required_metadata_label_policy() -> dict[str, Any]:
    label = f"object.metadata.?labels[?'{REQUIRED_METADATA_LABEL}'].orValue('')"
    return _policy(
        REQUIRED_METADATA_LABELLED,
        _rules(MODELS, ["CREATE", "UPDATE"]),
        validations=[
            {
                "expression": "size(object.spec.?policy.?requiredMetadata.orValue([])) == 0 || "
                f"{label} == 'true'",
                "messageExpression": "'Model ' + object.metadata.name + ' sets "
                "spec.policy.requiredMetadata, so it must carry the label "
                f"{REQUIRED_METADATA_LABEL}=true (metadata.labels): the API server holds the "
                "versions of the Models that carry it to their required metadata. Add it to "
                "the manifest, or run: kubectl label model ' + object.metadata.name + ' "
                f"{REQUIRED_METADATA_LABEL}=true'",
                "reason": "Invalid",
            }
        ],
    )


def cluster_roles() -> list[dict[str, Any]]:
    """The roles people get: view and edit (aggregated into Kubernetes' own), and approver."""
    resources = [MODELS, MODELVERSIONS]
    read = ["get", "list", "watch"]

    def role(name: str, rules: list[dict[str, Any]], aggregate: tuple[str, ...]) -> dict[str, Any]:
        labels = dict(_LABELS)
        labels.update({f"rbac.authorization.k8s.io/aggregate-to-{a}": "true" for a in aggregate})
        return {
            "apiVersion": RBAC_API,
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels},
            "rules": rules,
        }

    return [
        role(
            "modelregistry-view",
            [
                {
                    "apiGroups": [GROUP],
                    "resources": [*resources, *(f"{r}/status" for r in resources)],
                    "verbs": read,
                }
            ],
            ("view", "edit", "admin"),
        ),
        role(
            "modelregistry-edit",
            [
                {
                    "apiGroups": [GROUP],
                    "resources": resources,
                    "verbs": ["create", "update", "patch", "delete", "deletecollection"],
                }
            ],
            ("edit", "admin"),
        ),
        # Not aggregated: bind it where someone may approve (narrow it to one Model
        # with a Role of your own naming the Model in resourceNames).
        role(
            "modelregistry-approver",
            [
                {"apiGroups": [GROUP], "resources": [MODELS], "verbs": [APPROVE_VERB, *read]},
                {
                    "apiGroups": [GROUP],
                    "resources": [f"{MODELVERSIONS}/status"],
                    "verbs": ["get", "patch", "update"],
                },
                {"apiGroups": [GROUP], "resources": [MODELVERSIONS], "verbs": read},
            ],
            (),
        ),
    ]


def manifests(operator: str, *more: str) -> list[dict[str, Any]]:
    """Every policy, its binding, and the ClusterRoles, for operators running as these users."""
    policies = [
        approvals_policy([operator, *more]),
        history_policy(),
        deletion_policy(),
        model_deletion_policy(),
        required_metadata_policy(),
        required_metadata_label_policy(),
    ]
    return [*policies, *(_binding(p["metadata"]["name"]) for p in policies), *cluster_roles()]


HEADER = "# Generated by `make crds` from operator/modelregistry/admission.py; do not edit.\n"
FILENAME = f"{GROUP}_admission.yaml"


def render(operator: str = DEFAULT_OPERATOR) -> str:
    return HEADER + yaml.safe_dump_all(manifests(operator), sort_keys=False, width=100)


# The chart's own operator ServiceAccount (templates/serviceaccount.yaml), and the
# operators of other releases (shards) sharing the cluster (`admission.extraOperators`).
CHART_OPERATOR: Final = (
    "system:serviceaccount:{{ .Release.Namespace }}:{{ .Release.Name }}-operator"
)
_PLACEHOLDER: Final = "operator-user-placeholder"
# Inside the single-quoted YAML scalar of the CEL expression, where a quote is doubled.
_CHART_LIST: Final = (
    f"''{CHART_OPERATOR}''{{{{ range .Values.admission.extraOperators }}}}, ''{{{{ . }}}}''"
    "{{ end }}"
)
_CHART_ANNOTATION: Final = (
    f"{CHART_OPERATOR}{{{{ range .Values.admission.extraOperators }}}},{{{{ . }}}}{{{{ end }}}}"
)


def render_chart_template() -> str:
    """The chart's templates/admission.yaml: the policies for the release's own operator
    (and those of `admission.extraOperators`), installed where `admission.install` is true."""
    text = yaml.safe_dump_all(manifests(_PLACEHOLDER), sort_keys=False, width=100)
    text = text.replace(f"''{_PLACEHOLDER}''", _CHART_LIST).replace(_PLACEHOLDER, _CHART_ANNOTATION)
    return (
        HEADER.replace("admission.py", "admission.py (a Helm template)")
        + "{{- if .Values.admission.install }}\n"
        + text
        + "{{- end }}\n"
    )
