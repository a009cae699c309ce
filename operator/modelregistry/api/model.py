"""The Model kind: a named model, its policy, and the summary of its versions."""

from __future__ import annotations

from pydantic import Field

from modelregistry.api.lifecycle import (
    ProductionHandover,
    ProductionLock,
    PromotionPolicy,
    ResolvedVersion,
    Stage,
)
from modelregistry.api.meta import (
    DNS_LABEL_PATTERN,
    ApiModel,
    Condition,
    LongText,
    ShortText,
)
from modelregistry.api.modelversion import Validation, ValidationCheck
from modelregistry.api.signing import SigningPolicy
from modelregistry.api.specpaths import MAPS, PATHS

# A Model may require only paths that name something in a ModelVersion's spec.
_KNOWN_PATH = (
    "p in ["
    + ", ".join(f"'{p.path}'" for p in PATHS)
    + "] || ["
    + ", ".join(f"'{m.path}.'" for m in MAPS)
    + "].exists(m, p.startsWith(m) && size(p) > size(m))"
)


class ApprovalPolicy(ApiModel):
    """Who must approve a promotion."""

    required_for: list[Stage] = Field(
        default_factory=list,
        max_length=4,
        description="Stages that need an approval before they are granted, e.g. [Production].",
    )
    approvers: list[ShortText] = Field(
        default_factory=list,
        max_length=64,
        description="Users or groups whose approvals count (empty: anyone who holds the "
        "approve verb on the Model).",
    )
    min_approvals: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="Distinct approvers needed for each stage in requiredFor (default 1).",
    )


class ValidationPolicy(ApiModel):
    """What every version of the model must show in validation."""

    require_signature: bool | None = Field(
        default=None,
        description="Every version's format check fails a model that has no input signature; "
        "a format check runs for every version, listed or not.",
    )
    metric_thresholds: list[ShortText] = Field(
        default_factory=list,
        max_length=64,
        description="Thresholds over spec.metrics, e.g. 'auc >= 0.9', 'latency_p95_ms <= 50'; "
        "checked by every metrics check.",
    )
    required_checks: list[ValidationCheck] = Field(
        default_factory=list,
        max_length=8,
        description="Built-in checks every version runs, whatever it declares: a floor that a "
        "version's spec.validation (or spec.defaultValidation) adds to and never replaces. A "
        "declared check with the same name and built-in tightens it (thresholds add up).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(c, has(c.builtin))",
                    "message": "required checks must be built-in checks (builtin: format, "
                    "metrics or loadAndPredict)",
                }
            ],
        },
    )


class VerificationPolicy(ApiModel):
    """How a version's bytes may be verified the first time."""

    accept_store_checksum: bool | None = Field(
        default=None,
        description="When true, a first verification may accept the store's full-object SHA-256 "
        "checksum (S3 ChecksumSHA256 of a single-part upload, as `modelregistry upload` sends "
        "it) when it equals spec.artifact.digest, reading no bytes; the operator then hashes "
        "the bytes in full on its next periodic pass. For artifacts too large to hash before "
        "they are needed.",
    )


class MustBeat(ApiModel):
    """The champion gate: Production only for a version that beats the one it would follow."""

    metric: ShortText = Field(
        min_length=1,
        description="The metric compared: a key of spec.metrics (e.g. auc), or the metric a "
        "compare check named in `check` scores.",
    )
    by: float | None = Field(
        default=None,
        ge=0,
        description="The margin: the candidate must be better by at least this much (default 0: "
        "strictly better).",
    )
    lower_is_better: bool | None = Field(
        default=None,
        description="True for latency- or loss-like metrics, where a lower value wins.",
    )
    against: str | None = Field(
        default=None,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="Whom to beat: holder (the default: the version holding Production when the "
        "gate runs) or the name of an alias in spec.aliases (e.g. champion).",
    )
    check: str | None = Field(
        default=None,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="The name of a compare check of this metric that the Model requires "
        "(policy.validation.requiredChecks): when it ran and passed against the version "
        "compared with, the scores it measured are compared instead of the declared "
        "spec.metrics.",
    )


class ProductionPolicy(ApiModel):
    """What a version must show to be granted Production."""

    must_beat: MustBeat | None = Field(
        default=None,
        description="Beat the current holder (or the version an alias names) on a metric.",
    )


class ModelPolicy(ApiModel):
    """Rules the operator enforces for every version of the model."""

    version_limit: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="At most this many active (not Archived) versions: beyond it, the oldest "
        "that hold no stage and no alias are archived in status.",
    )
    stages: list[Stage] = Field(
        default_factory=list,
        max_length=4,
        description="Stages versions may be promoted to (default: all).",
    )
    production_exclusive: bool | None = Field(
        default=None,
        description="When true (the default), at most one version holds Production at a time.",
    )
    production_handover: ProductionHandover | None = Field(
        default=None,
        description="With exclusive Production: wait (the default; a newcomer waits until the "
        "holder leaves Production) or replace (the holder is archived when the newcomer is "
        "granted).",
    )
    promotion: PromotionPolicy | None = Field(
        default=None, description="Stages granted automatically when their gates pass."
    )
    approval: ApprovalPolicy | None = Field(default=None, description="Approval rules.")
    validation: ValidationPolicy | None = Field(
        default=None, description="Signature and metric rules every version is validated against."
    )
    verification: VerificationPolicy | None = Field(
        default=None, description="How versions' bytes may be verified the first time."
    )
    protect_in_use: bool | None = Field(
        default=None,
        description="While workloads use a version (its status.deployments), refuse to archive "
        "it (spec.stage: Archived) or delete it, naming them. Default true; false lets a "
        "version in use be archived and deleted.",
    )
    archived_retention_days: int | None = Field(
        default=None,
        ge=0,
        le=36500,
        description="Days an archived version cannot be deleted (the API server refuses it).",
    )
    required_metadata: list[ShortText] = Field(
        default_factory=list,
        max_length=32,
        description="What every version's spec must set, as paths into it: signature, "
        "featureRetrieval, modelCard.intendedUse, lineage.code.commit, metrics.f1, "
        "hyperparameters.algorithm, lineage.datasets[].version (each dataset's). The API server "
        "refuses a version that lacks one at creation (paths through at most one list); the "
        "operator marks any version that lacks one, which is then not promoted. A Model that "
        "sets it carries the label modelregistry.io/required-metadata=true (the API server "
        "refuses it otherwise).",
        json_schema_extra={
            "x-kubernetes-list-type": "set",
            "x-kubernetes-validations": [
                {
                    "rule": f"self.all(p, {_KNOWN_PATH})",
                    "message": "each entry must be a path into a ModelVersion's spec, such as "
                    "signature, modelCard.intendedUse, lineage.datasets[].version, metrics.f1 "
                    "or hyperparameters.algorithm (kubectl explain modelversion.spec)",
                }
            ],
        },
    )
    production: ProductionPolicy | None = Field(
        default=None, description="What a version must show to be granted Production."
    )
    signing: SigningPolicy | None = Field(
        default=None,
        description="Signed artifacts (spec.artifact.signature): whether Staging and Production "
        "need one, and the keys whose signatures count.",
    )


class ModelSpec(ApiModel):
    """Desired state of a Model."""

    description: LongText | None = Field(default=None, description="What the model is for.")
    owner: ShortText | None = Field(default=None, description="Owning team or person.")
    task: ShortText | None = Field(
        default=None, description="ML task, e.g. classification, regression, text-generation."
    )
    tags: list[ShortText] = Field(default_factory=list, max_length=64, description="Free tags.")
    policy: ModelPolicy | None = Field(default=None, description="Lifecycle rules.")
    default_validation: Validation | None = Field(
        default=None, description="Validation for versions that declare none."
    )
    aliases: dict[str, int] | None = Field(
        default=None,
        max_length=64,
        description="Named pointers to versions, e.g. champion: 3.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.all(k, k.matches('{DNS_LABEL_PATTERN}'))",
                    "message": (
                        "alias names must be RFC 1123 labels (lowercase letters, digits, '-')"
                    ),
                }
            ]
        },
    )


class VersionCounts(ApiModel):
    """How many versions the model has, in total and by state."""

    total: int = Field(default=0, ge=0, description="All versions.")
    ready: int = Field(default=0, ge=0, description="Versions that are Ready.")
    stalled: int = Field(default=0, ge=0, description="Versions that need a person.")
    in_use: int | None = Field(
        default=None, ge=0, description="Versions that workloads use (status.deploymentCount)."
    )


class ModelStatus(ApiModel):
    """Observed state of a Model: written only by the operator."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the status was last computed for."
    )
    latest_version: int | None = Field(
        default=None, description="Highest version number among this model's versions."
    )
    latest_ready_version: int | None = Field(
        default=None, description="Highest version number that is Ready."
    )
    counts: VersionCounts | None = Field(default=None, description="Version counts.")
    stages: dict[str, int] | None = Field(
        default=None, description="Which version holds each granted stage (the newest one)."
    )
    resolved: dict[str, ResolvedVersion] | None = Field(
        default=None,
        description="Each stage held (Staging, Production) and each alias that points at a "
        "Ready version, resolved to the verified URI, digest and versionId.",
    )
    deployments: int | None = Field(
        default=None,
        ge=0,
        description="Workloads using any of its versions (the sum of their deploymentCount).",
    )
    production: ProductionLock | None = Field(
        default=None,
        description="The lock on Production: written with a resourceVersion precondition "
        "before any version's status says Production.",
    )
    protected_versions: int | None = Field(
        default=None,
        ge=0,
        description="Versions that may not be deleted now; the Model cannot be deleted while "
        "there are any.",
    )
    version_sequence: int | None = Field(
        default=None,
        ge=0,
        description=(
            "The last version number handed out to a version that named none; the next one "
            "is higher. Advanced by the operator with optimistic concurrency."
        ),
    )
    conditions: list[Condition] = Field(
        default_factory=list, max_length=32, description="Ready and friends."
    )
    kopf: dict[str, object] | None = Field(
        default=None,
        description="The operator framework's own bookkeeping (retries); not for consumers.",
    )
