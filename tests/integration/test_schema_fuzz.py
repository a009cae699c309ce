"""Manifests drawn from the CRDs' own schemas, through the real API server.

Every drawn Model and ModelVersion is created for real: what the API server
refuses must be refused with 422 naming a `spec.` field; what it accepts must
reach an explained state (kstatus: Ready with a reason and a message, and
Ready=True, Stalled=True or Reconciling=True, each reason one the registry in
modelregistry.reasons knows), and leaves its first steps (Reconciling with
Progressing or Verifying, which take a moment on these small artifacts) within
EXPLAINED_WITHIN + SETTLE_WITHIN seconds; and the operator logs no traceback.
A bug the draws found has a case of its own, with the manifest minimised.

The draws are hypothesis-jsonschema's, derandomized and with exact pins of
both libraries (pyproject.toml), so every run creates the same manifests.
What the schemas say is drawn as JSON Schema says it, with these adjustments:

- `x-kubernetes-*` keys and descriptions are dropped; JSON Schema knows none.
- CEL rules that JSON Schema can say exactly are said so (builtin xor image,
  alias names as `propertyNames`); the rest (URL and port of an endpoint,
  immutability on update) stay with the API server, and what they refuse
  counts as refused. Unique list-map keys stay with the API server too.
- Objects get `additionalProperties: false`: the API server prunes unknown
  fields, so drawing them would test nothing.
- String lengths, list and map sizes are capped (MAX_*), so a draw is quick
  and a manifest small; integers are bounded to int64, as in Kubernetes.
- RE2 patterns are kept: those in the CRDs mean the same in Python's `re`
  except `$`, which also matches before a final newline in Python and is
  drawn as `\\Z` to keep RE2's meaning.

Two in three ModelVersions get their artifact (and their components') pointed
at real objects in a bucket of the session's S3 server, half of those without
a digest, so verification, digest pinning and validation are reached too; the
others keep the drawn URI. Their `spec.modelRef.name` names each drawn Model in
turn, or a Model that does not exist.

The objects live in a namespace of their own, handled by an operator of this
test's own (no node: validation Pods stay Pending). Its name begins with
mr-incluster-, which the session's operator ignores (conftest.py), so no two
operators act on one object.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from kubernetes.client.exceptions import ApiException

from modelregistry.api.meta import GROUP, VERSION
from modelregistry.localenv import S3Server
from modelregistry.reasons import READY, REASONS, RECONCILING, STALLED, Reason, is_transient
from tests.integration.conftest import Cluster, operator_environment, temporary_namespace
from tests.integration.support import Body, Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

T = TypeVar("T")

CRDS = Path(__file__).resolve().parents[2] / "crds"
MODELS_DRAWN = 8
VERSIONS_DRAWN = 40
# A draw's caps: small manifests, drawn quickly.
MAX_LENGTH = 80
MAX_ITEMS = 3
MAX_PROPERTIES = 3
INT64 = 2**63 - 1
# How long an accepted object may take to be explained, and how long the
# operator gets after that to go past its first steps (verification, Pods).
EXPLAINED_WITHIN = 20.0
SETTLE_WITHIN = 10.0
# Steps under way: the settle phase waits for objects to leave them.
FIRST_STEPS = {Reason.PROGRESSING, Reason.VERIFYING}

MISSING_MODEL = "fuzz-model-missing"
# The artifacts the "stored" ModelVersions point at.
STORED_OBJECT = "fuzz/model.bin"
STORED_PREFIX = "fuzz/dir/"
STORED_FILES = {
    STORED_OBJECT: b"model bytes",
    f"{STORED_PREFIX}MLmodel": b"flavors: {}\n",
    f"{STORED_PREFIX}model.pkl": b"not really a pickle",
}


# --- the schemas, as hypothesis-jsonschema can draw from them ---------------

_ALL_MATCH = re.compile(r"^self\.all\(k, k\.matches\('(?P<pattern>.+)'\)\)$")
_EXACTLY_ONE = re.compile(r"^has\(self\.(?P<a>\w+)\) != has\(self\.(?P<b>\w+)\)$")


def spec_schema(filename: str) -> dict[str, Any]:
    """The `spec` sub-schema of a committed CRD, made feasible for drawing."""
    crd = yaml.safe_load((CRDS / filename).read_text())
    (version,) = crd["spec"]["versions"]
    return feasible(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def feasible(node: dict[str, Any]) -> dict[str, Any]:
    """`node` as plain JSON Schema with small bounds (see the module's docstring)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "description":
            continue
        if key == "properties":
            out[key] = {name: feasible(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = feasible(value)
        elif key == "maxLength":
            out[key] = min(value, MAX_LENGTH)
        elif key == "maxItems":
            out[key] = min(value, MAX_ITEMS)
        elif key == "maxProperties":
            out[key] = min(value, MAX_PROPERTIES)
        elif key == "pattern":
            out[key] = re2_as_python(value)
        else:
            out[key] = value
    for rule in node.get("x-kubernetes-validations", []):
        out.update(cel_as_json_schema(rule["rule"]))
    if out.get("type") == "object":
        out.setdefault("additionalProperties", False)
    if out.get("type") == "string":
        out.setdefault("maxLength", MAX_LENGTH)
    if out.get("type") == "array":
        out.setdefault("maxItems", MAX_ITEMS)
    if out.get("type") == "integer":
        out.setdefault("minimum", -INT64 - 1)
        out.setdefault("maximum", INT64)
    return out


def cel_as_json_schema(rule: str) -> dict[str, Any]:
    """The JSON Schema that says exactly what a CEL rule says, where there is one."""
    if found := _ALL_MATCH.match(rule):
        return {"propertyNames": {"pattern": re2_as_python(found["pattern"])}}
    if found := _EXACTLY_ONE.match(rule):
        return {"oneOf": [{"required": [found["a"]]}, {"required": [found["b"]]}]}
    return {}  # left to the API server: what it refuses counts as refused


def re2_as_python(pattern: str) -> str:
    """An RE2 pattern that means the same in Python's `re`: `$` ends the text."""
    assert pattern.endswith("$") and not pattern.endswith("\\$"), pattern
    return pattern[:-1] + r"\Z"


# --- drawing -----------------------------------------------------------------


def draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` values of `strategy`, the same ones on every run."""
    drawn: list[T] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        drawn.append(value)

    collect()
    return drawn


@dataclass(frozen=True)
class DrawnVersion:
    spec: Body
    # Where the artifacts are: as drawn; at the stored objects with the drawn
    # digests; or there without digests, so the first verification pins them
    # and validation follows.
    artifacts: str


def specs(filename: str) -> st.SearchStrategy[Body]:
    """Specs drawn from the `spec` schema of a committed CRD."""
    return from_schema(spec_schema(filename)).map(lambda spec: cast(Body, spec))


def draw_models() -> list[Body]:
    specs_drawn = draw(specs("modelregistry.io_models.yaml"), MODELS_DRAWN)
    return [manifest("Model", f"fuzz-model-{i}", spec) for i, spec in enumerate(specs_drawn)]


def draw_versions(bucket: str) -> list[Body]:
    strategy = st.builds(
        DrawnVersion,
        spec=specs("modelregistry.io_modelversions.yaml"),
        artifacts=st.sampled_from(["drawn", "stored", "pinned"]),
    )
    manifests = []
    for i, drawn in enumerate(draw(strategy, VERSIONS_DRAWN)):
        spec = dict(drawn.spec)
        # Each Model in turn (so each one's defaultValidation), and the missing one.
        index = i % (MODELS_DRAWN + 1)
        model = MISSING_MODEL if index == MODELS_DRAWN else f"fuzz-model-{index}"
        spec["modelRef"] = {"name": model}
        if drawn.artifacts != "drawn":
            pin = drawn.artifacts == "pinned"
            spec["artifact"] = stored(spec["artifact"], bucket, pin=pin)
            if "components" in spec:
                spec["components"] = [
                    {**c, "artifact": stored(c["artifact"], bucket, pin=pin)}
                    for c in spec["components"]
                ]
        manifests.append(manifest("ModelVersion", f"fuzz-version-{i}", spec))
    return manifests


def stored(artifact: Body, bucket: str, *, pin: bool) -> Body:
    """`artifact` at the stored objects: one object, or the prefix where a prefix was drawn.

    The operator's own endpoint and credentials reach them, so `storage` goes;
    with `pin`, so does the digest.
    """
    key = STORED_PREFIX if artifact["uri"].endswith("/") else STORED_OBJECT
    dropped = {"storage", "digest"} if pin else {"storage"}
    return {
        **{k: v for k, v in artifact.items() if k not in dropped},
        "uri": f"s3://{bucket}/{key}",
    }


def manifest(kind: str, name: str, spec: Body) -> Body:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name, "labels": {"test": "schema-fuzz"}},
        "spec": spec,
    }


# --- what "explained" means ------------------------------------------------


def conditions_of(body: Body) -> dict[str, Body]:
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}


def is_current(body: Body) -> bool:
    """Whether status has a Ready condition for the object's current generation."""
    ready = conditions_of(body).get(READY)
    generation = body["metadata"]["generation"]
    return ready is not None and ready.get("observedGeneration") == generation


def unexplained(body: Body) -> list[str]:
    """What keeps `body` from an explained state; empty when it is explained."""
    generation = body["metadata"]["generation"]
    found = conditions_of(body)
    problems = []
    for name, condition in found.items():
        if (
            name in (READY, RECONCILING, STALLED)
            and condition.get("observedGeneration") != generation
        ):
            problems.append(f"{name} is for generation {condition.get('observedGeneration')}")
    ready = found.get(READY)
    if ready is None:
        return [*problems, "no Ready condition"]
    if not ready.get("reason") or not str(ready.get("message", "")).strip():
        problems.append(f"Ready without a reason or a message: {ready}")
    problems += unregistered(ready)
    if ready["status"] == "True":
        return problems
    stalled, reconciling = found.get(STALLED), found.get(RECONCILING)
    if stalled is not None and stalled["status"] == "True":
        problems += unregistered(stalled)
        if is_transient(stalled["reason"]):
            problems.append(f"Stalled with {stalled['reason']}, which clears up on its own")
    elif reconciling is not None and reconciling["status"] == "True":
        problems += unregistered(reconciling)
    else:
        problems.append("Ready is not True, and neither Stalled nor Reconciling is True")
    return problems


def unregistered(condition: Body) -> list[str]:
    """A reason the registry does not know, or one it knows for another status of Ready."""
    reason = condition.get("reason", "")
    known = REASONS.get(reason)
    if known is None:
        return [f"{condition['type']}: reason {reason!r} is not in modelregistry.reasons"]
    if condition["type"] == READY and known.status != condition["status"]:
        return [f"Ready={condition['status']} with {reason}, which explains {known.status}"]
    return []


# --- the drawn objects, created once for the module ------------------------


@dataclass
class Fuzzed:
    """The drawn manifests, what the API server said, and the states they reached."""

    objects: Objects
    operator: OperatorProcess
    manifests: dict[str, Body] = field(default_factory=dict)  # name: as drawn
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)  # name: (status, body)
    # Status when every accepted object was current (or EXPLAINED_WITHIN ran out),
    # and again when they had gone past their first steps (or SETTLE_WITHIN ran out).
    first: dict[str, Body] = field(default_factory=dict)
    last: dict[str, Body] = field(default_factory=dict)

    @property
    def accepted(self) -> list[str]:
        return [name for name in self.manifests if name not in self.refused]

    def create(self, plural: str, bodies: list[Body]) -> None:
        for body in bodies:
            name = body["metadata"]["name"]
            self.manifests[name] = body
            try:
                self.objects.create(plural, body)
            except ApiException as refused:
                self.refused[name] = (refused.status, str(refused.body))

    def snapshot(self) -> dict[str, Body]:
        found: dict[str, Body] = {}
        for plural in PLURALS:
            items = cast(
                Body,
                self.objects.api.list_namespaced_custom_object(
                    GROUP, VERSION, self.objects.namespace, plural
                ),
            )
            found.update({item["metadata"]["name"]: item for item in items["items"]})
        return found

    def describe(self, name: str) -> str:
        body = self.last.get(name) or self.first.get(name) or {}
        return (
            f"manifest: {json.dumps(self.manifests[name])}\n"
            f"status: {json.dumps(body.get('status'))}"
        )


PLURALS = ("models", "modelversions")


@pytest.fixture(scope="module")
def fuzz_namespace(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "mr-incluster-fuzz-") as name:
        yield name


@pytest.fixture(scope="module")
def fuzz_operator(
    cluster: Cluster, s3: S3Server, fuzz_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator for this namespace alone, without a node (no validation image)."""
    process = OperatorProcess(
        operator_environment(cluster, s3),
        tmp_path_factory.mktemp("fuzz-operator") / "operator.log",
        namespace=fuzz_namespace,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def fuzz_bucket(s3_client: S3Client) -> str:
    """A versioned bucket holding the stored artifacts."""
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for key, data in STORED_FILES.items():
        s3_client.put_object(Bucket=name, Key=key, Body=data)
    return name


@pytest.fixture(scope="module")
def fuzzed(
    cluster: Cluster, fuzz_namespace: str, fuzz_operator: OperatorProcess, fuzz_bucket: str
) -> Iterator[Fuzzed]:
    began = time.monotonic()
    fuzzed = Fuzzed(Objects(cluster.api_client, fuzz_namespace), fuzz_operator)
    fuzzed.create("models", draw_models())
    fuzzed.create("modelversions", draw_versions(fuzz_bucket))

    def current() -> dict[str, Body] | None:
        bodies = fuzzed.snapshot()
        done = all(name in bodies and is_current(bodies[name]) for name in fuzzed.accepted)
        return bodies if done else None

    def past_first_steps() -> dict[str, Body] | None:
        bodies = fuzzed.snapshot()
        done = all(name in bodies and not under_way(bodies[name]) for name in fuzzed.accepted)
        return bodies if done else None

    # Each check of a case reports what did not happen in time; waiting here
    # for all at once keeps the module quick.
    fuzzed.first = poll(current, EXPLAINED_WITHIN) or fuzzed.snapshot()
    fuzzed.last = poll(past_first_steps, SETTLE_WITHIN) or fuzzed.snapshot()
    states: dict[str, int] = {}
    for name in fuzzed.accepted:
        state = summary_state(fuzzed.last.get(name, {}))
        states[state] = states.get(state, 0) + 1
    print(
        f"\nschema fuzz: {len(fuzzed.manifests)} drawn, {len(fuzzed.accepted)} accepted,"
        f" {len(fuzzed.refused)} refused, in {time.monotonic() - began:.1f}s;"
        f" states {dict(sorted(states.items()))}"
    )
    yield fuzzed
    for plural in PLURALS:
        fuzzed.objects.api.delete_collection_namespaced_custom_object(
            GROUP, VERSION, fuzz_namespace, plural
        )


def poll(found: Callable[[], T | None], timeout: float) -> T | None:
    """What `found` returns once it returns something, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (result := found()) is None and time.monotonic() < deadline:
        time.sleep(0.25)
    return result


def under_way(body: Body) -> str | None:
    """The first step the object is still in, if any."""
    reason = conditions_of(body).get(RECONCILING, {}).get("reason")
    return reason if reason in FIRST_STEPS else None


def summary_state(body: Body) -> str:
    found = conditions_of(body)
    for kind in (STALLED, RECONCILING, READY):
        if kind in found and found[kind]["status"] == "True":
            return f"{kind}={found[kind]['reason']}"
    return "unexplained"


# --- the checks, one case per drawn manifest --------------------------------


def check(fuzzed: Fuzzed, name: str) -> None:
    if name in fuzzed.refused:
        status, body = fuzzed.refused[name]
        assert status == 422, f"{name} refused with {status}: {body}\n{fuzzed.describe(name)}"
        message = json.loads(body).get("message", "")
        assert "spec." in message, f"{name}: the refusal names no spec field: {message}"
        return
    first = fuzzed.first.get(name)
    assert first is not None and is_current(first), (
        f"{name} had no status for its generation within {EXPLAINED_WITHIN:.0f}s\n"
        f"{fuzzed.describe(name)}"
    )
    problems = unexplained(first)
    assert not problems, f"{name}: {problems}\n{fuzzed.describe(name)}"
    last = fuzzed.last[name]
    problems = unexplained(last)
    assert not problems, f"{name}, later: {problems}\n{fuzzed.describe(name)}"
    step = under_way(last)
    assert step is None, (
        f"{name} is still Reconciling with {step} {EXPLAINED_WITHIN + SETTLE_WITHIN:.0f}s"
        f" after it was created\n{fuzzed.describe(name)}"
    )


@pytest.mark.parametrize("index", range(MODELS_DRAWN), ids=lambda i: f"model-{i}")
def test_a_drawn_model_is_refused_naming_a_field_or_explained(fuzzed: Fuzzed, index: int) -> None:
    check(fuzzed, f"fuzz-model-{index}")


@pytest.mark.parametrize("index", range(VERSIONS_DRAWN), ids=lambda i: f"version-{i}")
def test_a_drawn_version_is_refused_naming_a_field_or_explained(fuzzed: Fuzzed, index: int) -> None:
    check(fuzzed, f"fuzz-version-{index}")


def test_a_check_whose_resources_are_no_quantities_is_refused_at_apply(
    cluster: Cluster, fuzz_namespace: str
) -> None:
    """Found by the draws: a Model's default check with `requests: {"1e100": "Æ"}`."""
    objects = Objects(cluster.api_client, fuzz_namespace)
    check = {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "lots"}}}
    with pytest.raises(ApiException) as refused:
        objects.model("unquantified", defaultValidation={"checks": [check]})
    assert refused.value.status == 422
    assert "spec.defaultValidation.checks[0].resources.requests" in str(refused.value.body)
    assert "each value must be a Kubernetes quantity, such as 500m, 2 or 1Gi" in str(
        refused.value.body
    )


def test_a_check_whose_pod_the_api_server_refuses_stalls_naming_the_reason(
    cluster: Cluster, fuzz_namespace: str, fuzz_operator: OperatorProcess, fuzz_bucket: str
) -> None:
    """Resources the schema accepts, a Pod the API server does not: an extended resource
    requested without a limit (a request above a limit the operator lowers to the limit)."""
    objects = Objects(cluster.api_client, fuzz_namespace)
    resources = {"requests": {"example.com/accelerator": "1"}}
    check = {"name": "c", "image": "busybox", "resources": resources}
    objects.model("overcommitted", defaultValidation={"checks": [check]})
    objects.version("overcommitted-1", "overcommitted", f"s3://{fuzz_bucket}/{STORED_OBJECT}")
    stalled = objects.wait_condition(
        "overcommitted-1",
        STALLED,
        "True",
        timeout=EXPLAINED_WITHIN,
        on_timeout=lambda: fuzz_operator.log_tail(20),
    )
    assert stalled["reason"] == Reason.INVALID_CHECK, stalled
    assert stalled["message"].startswith(
        'The API server refused the validation Pod: Pod "overcommitted-1-validation-1-'
    ), stalled
    assert "Limit must be set for non overcommitable resources" in stalled["message"], stalled
    assert stalled["message"].endswith(
        "Fix the checks' image, env or resources: in the Model's spec.defaultValidation or "
        "spec.policy.validation, or, since spec.validation cannot change, in a new ModelVersion."
    ), stalled


def test_the_operator_deletes_them_all_and_logs_no_traceback(fuzzed: Fuzzed) -> None:
    for plural in PLURALS:
        fuzzed.objects.api.delete_collection_namespaced_custom_object(
            GROUP, VERSION, fuzzed.objects.namespace, plural
        )
    wait_until(lambda: not fuzzed.snapshot(), timeout=30, what="the drawn objects to go")
    time.sleep(1)  # the operator's handling of the deletions
    assert "Traceback" not in fuzzed.operator.log(), fuzzed.operator.log_tail(200)
