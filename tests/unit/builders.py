"""Shared builders for the decision-layer tests: specs, statuses, digests, views,
times, whole passes, and the exact Condition objects a pass must write.

Times are aware datetimes in zones other than UTC, so a test that forgets a
conversion fails on any machine, not only on one whose clock is not UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from modelregistry.api.meta import Condition, ConditionStatus
from modelregistry.api.modelversion import ModelVersionSpec, ModelVersionStatus, VerifiedArtifact
from modelregistry.decisions import modelref, numbering, verification
from modelregistry.decisions import version as compose
from modelregistry.decisions.numbering import VersionDecision
from modelregistry.decisions.passdata import Decision, StepResult, VersionView
from modelregistry.decisions.verification import Hashed, Outcome, VerificationFailure
from modelregistry.digest import ArtifactDigest, FileDigest, prefix_artifact, single_object
from modelregistry.reasons import ARTIFACT_VERIFIED, MODEL_FOUND, VALIDATED, VERSION_ASSIGNED

# Every step's condition types in step order, as reconciler/version.py declares them.
OWNED: tuple[str, ...] = (MODEL_FOUND, VERSION_ASSIGNED, ARTIFACT_VERIFIED, VALIDATED)

# --- times: east and west of UTC, across a date line ---------------------------------

EAST = timezone(timedelta(hours=5, minutes=30))
WEST = timezone(timedelta(hours=-5))
NOW = datetime(2030, 1, 2, 8, 34, 5, tzinfo=EAST)  # 03:04:05 UTC
NOW_TEXT = "2030-01-02T03:04:05Z"
LATER = datetime(2030, 1, 2, 0, 4, 5, tzinfo=WEST)  # 05:04:05 UTC, two hours after NOW
LATER_TEXT = "2030-01-02T05:04:05Z"
LAST = datetime(2030, 1, 3, 1, 0, 0, tzinfo=EAST)  # 2030-01-02 19:30 UTC
LAST_TEXT = "2030-01-02T19:30:00Z"
HOUR = timedelta(hours=1)

# --- names and digests ---------------------------------------------------------------

NAMESPACE = "team-a"
MODEL = "fraud"
URI = "s3://models/fraud/v1/model.onnx"
PREFIX_URI = "s3://models/fraud/v1/mlflow/"
TOKENIZER_URI = "s3://models/fraud/v1/tokenizer.json"
ENCODER_URI = "s3://models/fraud/v1/encoder.onnx"
HEX_A = "a" * 64
HEX_B = "b" * 64
HEX_C = "c" * 64
HEX_D = "d" * 64
DIGEST_A = "sha256:" + HEX_A
DIGEST_B = "sha256:" + HEX_B
DIGEST_C = "sha256:" + HEX_C
DIGEST_D = "sha256:" + HEX_D

Row = tuple[str, ConditionStatus, str, str, str]


def artifact_body(uri: str, digest: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"uri": uri}
    if digest is not None:
        body["digest"] = digest
    return body


def make_spec(
    *,
    model: str = MODEL,
    uri: str = URI,
    digest: str | None = DIGEST_A,
    version: int | None = None,
    components: Sequence[tuple[str, str, str | None]] = (),
) -> ModelVersionSpec:
    """A spec; `components` are (name, uri, digest) triples."""
    body: dict[str, Any] = {"modelRef": {"name": model}, "artifact": artifact_body(uri, digest)}
    if version is not None:
        body["version"] = version
    if components:
        body["components"] = [
            {"name": name, "artifact": artifact_body(c_uri, c_digest)}
            for name, c_uri, c_digest in components
        ]
    return ModelVersionSpec.model_validate(body)


def make_view(
    spec: ModelVersionSpec | None = None,
    status: ModelVersionStatus | None = None,
    *,
    generation: int = 1,
    now: datetime = NOW,
    namespace: str = NAMESPACE,
) -> VersionView:
    return VersionView(
        spec=spec if spec is not None else make_spec(),
        status=status if status is not None else ModelVersionStatus(),
        generation=generation,
        now=now,
        namespace=namespace,
    )


def one_object(
    hexdigest: str = HEX_A,
    size: int = 42,
    version_id: str | None = "v1",
    path: str = "model.onnx",
) -> ArtifactDigest:
    return single_object(
        FileDigest(path=path, hexdigest=hexdigest, size=size, version_id=version_id)
    )


def two_files() -> ArtifactDigest:
    return prefix_artifact(
        [
            FileDigest(path="data/model.pkl", hexdigest="2" * 64, size=90),
            FileDigest(path="MLmodel", hexdigest="1" * 64, size=10, version_id="m1"),
        ]
    )


def record(
    uri: str = URI,
    digest: str = DIGEST_A,
    *,
    size: int = 42,
    version_id: str | None = "v1",
    at: str = NOW_TEXT,
) -> VerifiedArtifact:
    """status.artifact (or a component's record) after bytes were verified at `at`."""
    return VerifiedArtifact(
        uri=uri, digest=digest, size=size, file_count=1, version_id=version_id, verified_at=at
    )


def failed(reason: str, message: str | None = None) -> VerificationFailure:
    return VerificationFailure(reason, message if message is not None else f"{reason} happened.")


def hashed(artifact: Outcome, *components: Outcome) -> Hashed:
    return Hashed(artifact, tuple(components))


def conditions(generation: int, *rows: Row) -> list[Condition]:
    """The exact conditions expected: (type, status, reason, message, lastTransitionTime)."""
    return [
        Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=at,
            observed_generation=generation,
        )
        for type_, status, reason, message, at in rows
    ]


def condition(
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str = "m",
    at: str = NOW_TEXT,
    generation: int = 1,
) -> Condition:
    (built,) = conditions(generation, (type_, status, reason, message, at))
    return built


def status_with(
    *items: Condition, checked_at: str | None = None, **fields: Any
) -> ModelVersionStatus:
    return ModelVersionStatus(conditions=list(items), artifact_checked_at=checked_at, **fields)


# --- the messages the steps write ------------------------------------------------------


def model_exists(model: str = MODEL, namespace: str = NAMESPACE) -> str:
    return f"Model '{model}' exists in namespace '{namespace}'."


def model_missing(model: str = MODEL, namespace: str = NAMESPACE) -> str:
    return (
        f"Model '{model}' does not exist in namespace '{namespace}'. Create it (or fix "
        "spec.modelRef.name by creating a new ModelVersion); this version waits for it."
    )


def version_held(number: int, model: str = MODEL, *, assigned: bool = False) -> str:
    origin = "assigned by the operator" if assigned else "from spec.version"
    return f"Version {number} of Model '{model}' ({origin})."


def duplicate(number: int, holder: str, model: str = MODEL) -> str:
    return (
        f"Version {number} of Model '{model}' is already held by ModelVersion '{holder}'. "
        "Versions are immutable: delete this ModelVersion and create one with another "
        "spec.version, or omit spec.version to get the next free number."
    )


def ready(number: int, model: str = MODEL) -> str:
    return f"Version {number} of Model '{model}' is ready."


def mismatch(uri: str, observed: str, expected: str, field: str = "spec.artifact") -> str:
    return (
        f"{uri} hashes to {observed}, but {field}.digest is {expected}. {field}.digest is "
        "immutable: upload the expected bytes (checked again periodically), or create a new "
        "ModelVersion with the right digest (`modelregistry digest PATH` computes it)."
    )


def changed(uri: str, was: str, now: str, field: str = "spec.artifact", versions: str = "") -> str:
    return (
        f"{uri} ({field}) changed after it was verified: it was {was}, it is now {now}"
        f"{versions}. Restore the verified bytes, or register the new bytes as a new "
        "ModelVersion."
    )


# --- whole passes, put together as reconciler/version.py does --------------------------


def run_pass(
    view: VersionView,
    *,
    model_found: bool = True,
    number: VersionDecision | None = None,
    outcome: Hashed | None = None,
    hashing: bool = False,
    unreadable_before: str | None = None,
) -> Decision:
    """One pass: the Model reference, the number, then the bytes (hashed, hashing or kept)."""
    results: list[StepResult] = []
    step = modelref.decide(view, model_found)
    results.append(step)
    if step.proceed:
        held = number if number is not None else VersionDecision(view.spec.version or 1)
        step = numbering.decide(view, held)
        results.append(step)
    if step.proceed:
        if hashing:
            step = verification.hashing(view)
        elif outcome is None:
            step = verification.unchanged(view)
        else:
            step = verification.decide(view, outcome, unreadable_before).result
        results.append(step)
    return compose.compose(view, results, OWNED)


def verified_status(
    spec: ModelVersionSpec | None = None,
    outcome: Hashed | None = None,
    *,
    generation: int = 1,
    now: datetime = NOW,
) -> ModelVersionStatus:
    """The status after a first pass whose bytes all matched."""
    view = make_view(spec, generation=generation, now=now)
    return run_pass(view, outcome=outcome or hashed(one_object())).status
