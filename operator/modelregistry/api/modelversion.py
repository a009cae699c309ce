"""The ModelVersion kind: one immutable, verified artifact of a Model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, JsonValue

from modelregistry.api.deployments import DEPLOYMENTS_LISTED, Deployment
from modelregistry.api.lifecycle import (
    APPROVALS_LIMIT,
    HISTORY_LIMIT,
    Approval,
    Comparison,
    DeletionProtection,
    HistoryEntry,
    HistorySummary,
    Stage,
)
from modelregistry.api.meta import (
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    ApiModel,
    Condition,
    Digest,
    LocalObjectReference,
    LongText,
    ShortText,
)
from modelregistry.api.oci import (
    OCI_ANY_URI_PATTERN,
    OCI_DIGEST_URI_PATTERN,
    RegistrySettings,
    VerifiedOciManifest,
)
from modelregistry.api.signing import ArtifactSignature, VerifiedSignature

# One segment of an object key: not empty, not `.` or `..` (stores and proxies
# resolve those, so the key would name another object), no backslash or
# control character.
_CHAR = r"[^/\\\x00-\x1f\x7f]"
_NOT_DOT = r"[^/.\\\x00-\x1f\x7f]"
_KEY_SEGMENT = rf"(?:{_NOT_DOT}{_CHAR}*|\.{_NOT_DOT}{_CHAR}*|\.\.{_CHAR}+)"
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# s3://bucket/key, or s3://bucket/prefix/ for a directory of files.
S3_URI_PATTERN = rf"^s3://{_BUCKET}/(?:{_KEY_SEGMENT}/)*{_KEY_SEGMENT}/?$"
# What spec.artifact.uri may be: an s3:// object or prefix, or an oci:// reference
# (whose form the CEL rules below check, saying what is wrong in words).
ARTIFACT_URI_PATTERN = rf"^(?:{S3_URI_PATTERN[1:-1]}|{OCI_ANY_URI_PATTERN})$"

ArtifactFormat = Literal[
    "mlflow",
    "onnx",
    "pickle",
    "joblib",
    "safetensors",
    "pytorch",
    "tensorflow-savedmodel",
    "keras",
    "gguf",
    "xgboost",
    "lightgbm",
    "other",
]

# What was registered cannot change: only stage, description (and later the
# approval) are mutable, besides labels and annotations. The spec-level rules
# below also cover optional fields (adding or removing one is a change too).
IMMUTABLE_SPEC_FIELDS = (
    "modelRef",
    "version",
    "artifact",
    "lineage",
    "metrics",
    "hyperparameters",
    "signature",
    "featureRetrieval",
    "modelCard",
    "components",
    "validation",
)


def _immutable_rule(field: str) -> JsonValue:
    return {
        "rule": (
            f"has(oldSelf.{field}) ? (has(self.{field}) && self.{field} == oldSelf.{field})"
            f" : !has(self.{field})"
        ),
        "message": (f"spec.{field} is immutable after creation; create a new ModelVersion instead"),
        "fieldPath": f".{field}",
        "reason": "FieldValueForbidden",
    }


class StorageSettings(ApiModel):
    """How to reach the object store. Every field is optional: the operator's defaults apply."""

    endpoint: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[^\s/]+(/.*)?$",
        description=(
            "S3 endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com or "
            "http://minio.storage:9000. Default: the operator's configured endpoint, "
            "else AWS S3."
        ),
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "isURL(self)",
                    "message": "must be a URL such as http://minio.storage:9000",
                },
                {
                    "rule": (
                        "!isURL(self) || url(self).getPort() == '' || "
                        "(int(url(self).getPort()) >= 1 && int(url(self).getPort()) <= 65535)"
                    ),
                    "message": "the port must be between 1 and 65535",
                },
            ]
        },
    )
    region: str | None = Field(
        default=None, max_length=64, description="Region to sign requests for (e.g. us-east-1)."
    )
    addressing_style: Literal["auto", "path", "virtual"] | None = Field(
        default=None,
        description="Bucket addressing: path (http://host/bucket/key), virtual or auto.",
    )
    secret_ref: LocalObjectReference | None = Field(
        default=None,
        description=(
            "Secret in this namespace with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and optionally AWS_SESSION_TOKEN). Without it the operator uses its own AWS "
            "credential chain (environment, web identity, instance profile)."
        ),
    )


class Artifact(ApiModel):
    """Where the model's bytes are, and what they must hash to."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"!self.uri.startsWith('oci://') || "
                    f"self.uri.matches(r'{OCI_DIGEST_URI_PATTERN}')",
                    "message": "an oci:// artifact is named by its manifest digest: "
                    "oci://REGISTRY/REPOSITORY@sha256:<64 hex> (a tag can be moved by anyone "
                    "who may push; `oras resolve REGISTRY/REPOSITORY:TAG` prints the digest)",
                    "fieldPath": ".uri",
                },
                {
                    "rule": "!self.uri.startsWith('oci://') || !has(self.digest) || "
                    "self.uri.endsWith('@' + self.digest)",
                    "message": "for an oci:// artifact the digest is the manifest digest the URI "
                    "names: leave digest out or make it equal",
                    "fieldPath": ".digest",
                },
                {
                    "rule": "!self.uri.startsWith('oci://') || !has(self.storage)",
                    "message": "storage (S3 settings) does not apply to an oci:// artifact: "
                    "use registry",
                    "fieldPath": ".storage",
                },
                {
                    "rule": "self.uri.startsWith('oci://') || !has(self.registry)",
                    "message": "registry applies to oci:// artifacts only: use storage for s3://",
                    "fieldPath": ".registry",
                },
                {
                    "rule": "!self.uri.startsWith('oci://') || !has(self.signature)",
                    "message": "signature: the operator does not check signatures of oci:// "
                    "artifacts yet; register the signed files and their bundle at an s3:// "
                    "URI, or leave signature out (docs/signing.md)",
                    "fieldPath": ".signature",
                },
            ]
        },
    )

    uri: str = Field(
        max_length=2048,
        pattern=ARTIFACT_URI_PATTERN,
        description=(
            "Location of the artifact: s3://bucket/key for one object, "
            "s3://bucket/prefix/ (ending in '/') for every object under a prefix, "
            "such as an MLflow model directory, or oci://REGISTRY/REPOSITORY@sha256:<digest> "
            "for a ModelPack or KitOps artifact in an OCI registry, named by its manifest "
            "digest (docs/oci.md)."
        ),
    )
    digest: Digest | None = Field(
        default=None,
        description=(
            "Expected digest, sha256:<64 hex>. For one object, the SHA-256 of its bytes; for a "
            "prefix, the manifest digest (docs/digest.md). Compute it with "
            "`modelregistry digest PATH`. When omitted, the first verified digest is pinned "
            "in status.artifact.digest and later checks compare against it."
        ),
    )
    format: ArtifactFormat | None = Field(
        default=None, description="Serialization format of the model, e.g. onnx or safetensors."
    )
    storage: StorageSettings | None = Field(
        default=None, description="Endpoint, region and credentials of the object store."
    )
    registry: RegistrySettings | None = Field(
        default=None, description="Credentials and transport of an oci:// artifact's registry."
    )
    signature: ArtifactSignature | None = Field(
        default=None,
        description="An OpenSSF model-signing bundle over the artifact's files and the identity "
        "that must have signed it: the operator sets SignatureVerified (docs/signing.md).",
    )


class DatasetReference(ApiModel):
    """A dataset the model was trained or evaluated on."""

    name: ShortText = Field(description="Dataset name.")
    version: ShortText | None = Field(default=None, description="Dataset version or snapshot.")
    uri: str | None = Field(default=None, max_length=2048, description="Where the data lives.")
    digest: Digest | None = Field(default=None, description="Digest of the dataset contents.")
    role: Literal["training", "validation", "test", "evaluation", "other"] | None = Field(
        default=None, description="What the dataset was used for."
    )


class CodeReference(ApiModel):
    """The source code that produced the model."""

    repository: str = Field(max_length=2048, description="Repository URL.")
    commit: str = Field(
        max_length=64,
        pattern=r"^[0-9a-f]{7,64}$",
        description="Full or abbreviated commit hash (hex).",
    )
    path: str | None = Field(
        default=None, max_length=1024, description="Path of the training entry point."
    )


class TrainingRun(ApiModel):
    """The run (experiment tracker, pipeline, job) that trained the model."""

    id: ShortText = Field(description="Run identifier.")
    uri: str | None = Field(default=None, max_length=2048, description="Link to the run.")
    system: ShortText | None = Field(
        default=None, description="Tracker or orchestrator, e.g. mlflow, kubeflow, airflow."
    )


class Environment(ApiModel):
    """The software environment the model was trained in."""

    image: str | None = Field(
        default=None,
        max_length=1024,
        description="Container image, preferably pinned by digest (repo@sha256:...).",
    )
    dependencies: list[ShortText] = Field(
        default_factory=list,
        max_length=512,
        description="Pinned packages, e.g. torch==2.5.1.",
    )


class ParentVersion(ApiModel):
    """A version this one was derived from (fine-tuned, distilled, ...)."""

    model: str = Field(
        pattern=DNS_SUBDOMAIN_PATTERN, max_length=253, description="Name of the parent Model."
    )
    version: int = Field(ge=1, description="Version number of the parent.")


class Lineage(ApiModel):
    """Where the model came from: data, code, run, environment and parents."""

    datasets: list[DatasetReference] = Field(
        default_factory=list, max_length=64, description="Datasets used."
    )
    code: CodeReference | None = Field(default=None, description="Source code and commit.")
    training_run: TrainingRun | None = Field(default=None, description="The training run.")
    environment: Environment | None = Field(default=None, description="Training environment.")
    parents: list[ParentVersion] = Field(
        default_factory=list, max_length=16, description="Versions this one derives from."
    )


class TensorSpec(ApiModel):
    """One named input or output of the model."""

    name: ShortText = Field(description="Input or output name.")
    dtype: ShortText = Field(description="Element type, e.g. float32, int64, string.")
    shape: list[int] = Field(
        default_factory=list,
        max_length=16,
        description="Dimensions; -1 marks a variable dimension (e.g. the batch).",
    )


class Signature(ApiModel):
    """The model's input and output schema."""

    inputs: list[TensorSpec] = Field(default_factory=list, max_length=256, description="Inputs.")
    outputs: list[TensorSpec] = Field(default_factory=list, max_length=256, description="Outputs.")


class FeatureRetrieval(ApiModel):
    """How a serving system fetches the model's features (e.g. from a Feast feature store)."""

    feature_store: ShortText | None = Field(
        default=None, description="Feature store or project name."
    )
    feature_service: ShortText | None = Field(
        default=None, description="Named feature service or view that serves the features."
    )
    entity_keys: list[ShortText] = Field(
        default_factory=list, max_length=32, description="Entity join keys."
    )
    features: list[ShortText] = Field(
        default_factory=list, max_length=1024, description="Feature references (view:feature)."
    )


class ModelCard(ApiModel):
    """Documentation for the people who decide whether and how to use the model."""

    summary: LongText | None = Field(default=None, description="What the model does.")
    intended_use: LongText | None = Field(default=None, description="Intended uses and users.")
    limitations: LongText | None = Field(default=None, description="Known limitations.")
    ethical_considerations: LongText | None = Field(
        default=None, description="Risks, fairness and privacy considerations."
    )
    evaluation: LongText | None = Field(
        default=None, description="How the model was evaluated, and on what."
    )


class Component(ApiModel):
    """One part of a multi-part model (e.g. tokenizer, encoder, adapter)."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.artifact.signature)",
                    "message": "a component's artifact takes no signature: sign the version's "
                    "spec.artifact",
                    "fieldPath": ".artifact.signature",
                }
            ]
        },
    )

    name: str = Field(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="Component name (an RFC 1123 label), unique within the version.",
    )
    artifact: Artifact = Field(description="Where the component's bytes are.")


BuiltinCheck = Literal["format", "metrics", "loadAndPredict", "compare"]
# Names a custom (image) check may not take: the built-in checks' own, so a
# report named `format` always comes from the registry's format check, and
# the validation Pod's fetch step (no check may take that one).
RESERVED_CHECK_NAMES = (
    "format",
    "metrics",
    "loadandpredict",
    "load-and-predict",
    "compare",
    "fetch",
)
# What the compare check scores with (scikit-learn's metrics); the last three are
# errors, where lower is better.
CompareMetric = Literal[
    "accuracy",
    "balanced_accuracy",
    "f1",
    "precision",
    "recall",
    "auc",
    "log_loss",
    "rmse",
    "mae",
    "r2",
]
LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "rmse", "mae"})
# The version a compare check scores besides the candidate when it names none.
HOLDER = "holder"
# status.validation.checks[].details of a compare check: what the operator ran it on.
DETAIL_METRIC = "metric"
DETAIL_DATASET_DIGEST = "datasetDigest"
DETAIL_AGAINST = "against"
DETAIL_HOLDER = "holder"
DETAIL_HOLDER_VERSION = "holderVersion"
DETAIL_HOLDER_DIGEST = "holderDigest"
# Environment variable names, as Kubernetes accepts them in a container.
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


class EnvVar(ApiModel):
    """One environment variable of a custom check's container."""

    name: str = Field(pattern=ENV_NAME_PATTERN, max_length=256, description="Variable name.")
    value: LongText = Field(default="", description="Value.")


# Refused at apply rather than when the check's Pod is created.
_QUANTITIES: dict[str, JsonValue] = {
    "rule": "self.all(k, isQuantity(self[k]))",
    "message": "each value must be a Kubernetes quantity, such as 500m, 2 or 1Gi",
}


class CheckResources(ApiModel):
    """CPU and memory for a check's container, in Kubernetes quantities (e.g. 500m, 1Gi)."""

    requests: dict[str, ShortText] | None = Field(
        default=None,
        max_length=8,
        description="Requests, e.g. cpu: 500m, memory: 512Mi.",
        json_schema_extra={"x-kubernetes-validations": [_QUANTITIES]},
    )
    limits: dict[str, ShortText] | None = Field(
        default=None,
        max_length=8,
        description="Limits, e.g. memory: 1Gi.",
        json_schema_extra={"x-kubernetes-validations": [_QUANTITIES]},
    )


class HeldOutDataset(ApiModel):
    """The held-out data set a compare check scores models on: one object, pinned by digest."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!self.uri.endsWith('/')",
                    "message": "the data set is one object (a CSV or Parquet file), not a prefix",
                    "fieldPath": ".uri",
                },
                {
                    "rule": "!has(self.features) || !(self.target in self.features)",
                    "message": "the target column cannot also be a feature",
                    "fieldPath": ".features",
                },
            ]
        },
    )

    uri: str = Field(
        max_length=2048,
        pattern=S3_URI_PATTERN,
        description="Where the data set is: s3://bucket/key of one CSV or Parquet file, read "
        "with storage below, else spec.artifact.storage (its endpoint and credentials).",
    )
    storage: StorageSettings | None = Field(
        default=None,
        description="The data set's store (endpoint, region, a Secret with its credentials); "
        "default: spec.artifact.storage. An oci:// version has no S3 storage of its own: "
        "name the data set's Secret here.",
    )
    digest: Digest = Field(
        description="SHA-256 of the file's bytes (`modelregistry digest FILE`): the operator "
        "and the validation Pod's fetch step refuse other bytes."
    )
    format: Literal["csv", "parquet"] | None = Field(
        default=None,
        description="csv (a header row, comma-separated) or parquet; default: parquet for a "
        "URI ending in .parquet, else csv.",
    )
    target: ShortText = Field(description="The column holding the true values (labels).")
    features: list[ShortText] = Field(
        default_factory=list,
        max_length=1024,
        description="The columns the models take, in their order; default: every column but "
        "the target, in the file's order.",
    )

    @property
    def file_format(self) -> Literal["csv", "parquet"]:
        """The declared format, else the one the URI's suffix says."""
        if self.format is not None:
            return self.format
        return "parquet" if self.uri.lower().endswith(".parquet") else "csv"


class ValidationCheck(ApiModel):
    """One validation check: a built-in one, or a container of your own.

    A container's exit code is its verdict (0 passes); an optional JSON report
    in its termination message (docs/validation.md) lands in status.
    """

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.builtin) != has(self.image)",
                    "message": "set either builtin (format, metrics, loadAndPredict, compare) "
                    "or image",
                },
                {
                    "rule": "has(self.builtin) || !(self.name in "
                    + "["
                    + ", ".join(f"'{n}'" for n in RESERVED_CHECK_NAMES)
                    + "])",
                    "message": "a custom check may not be named "
                    + ", ".join(RESERVED_CHECK_NAMES)
                    + ": those names belong to the registry's built-in checks and its fetch "
                    "step; give the check another name",
                    "fieldPath": ".name",
                },
                {
                    "rule": "self.name != 'fetch'",
                    "message": "the name fetch belongs to the validation Pod's fetch step; "
                    "give the check another name",
                    "fieldPath": ".name",
                },
                {
                    "rule": "!has(self.builtin) || self.builtin != 'compare' || "
                    "(has(self.dataset) && has(self.metric))",
                    "message": "a compare check needs dataset (uri, digest, target) and metric",
                },
                {
                    "rule": "(has(self.builtin) && self.builtin == 'compare') || "
                    "!(has(self.dataset) || has(self.metric) || has(self.against))",
                    "message": "dataset, metric and against belong to compare checks: set "
                    "builtin: compare, or leave them out",
                },
            ]
        },
    )

    name: str = Field(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="Check name (an RFC 1123 label); also the container name.",
    )
    builtin: BuiltinCheck | None = Field(
        default=None,
        description=(
            "A check the registry ships: format (the files the artifact's format needs), "
            "metrics (thresholds over spec.metrics, without a Pod), loadAndPredict (load "
            "the model and predict, in the locked-down Pod) or compare (score this version "
            "and the Production holder on a held-out data set, in the same Pod)."
        ),
    )
    image: str | None = Field(
        default=None,
        max_length=1024,
        description="Container image of a custom check (the artifact is mounted read-only at "
        "/artifact; see docs/validation.md).",
    )
    command: list[LongText] = Field(
        default_factory=list, max_length=64, description="Entrypoint override."
    )
    args: list[LongText] = Field(default_factory=list, max_length=256, description="Arguments.")
    env: list[EnvVar] = Field(
        default_factory=list, max_length=64, description="Environment of a custom check."
    )
    resources: CheckResources | None = Field(
        default=None, description="CPU and memory for the check's container."
    )
    thresholds: list[ShortText] = Field(
        default_factory=list,
        max_length=64,
        description="metrics: thresholds such as 'auc >= 0.9', besides the Model policy's.",
    )
    calls: int | None = Field(
        default=None, ge=1, le=10000, description="loadAndPredict: timed predictions (20)."
    )
    max_latency_p95_ms: float | None = Field(
        default=None, ge=0.001, description="loadAndPredict: the highest p95 latency that passes."
    )
    dataset: HeldOutDataset | None = Field(
        default=None, description="compare: the held-out data set both versions are scored on."
    )
    metric: CompareMetric | None = Field(
        default=None,
        description="compare: the score, one of accuracy, balanced_accuracy, f1, precision, "
        "recall, auc, log_loss, rmse, mae, r2 (scikit-learn's; log_loss, rmse and mae are "
        "lower-is-better).",
    )
    against: str | None = Field(
        default=None,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="compare: the version scored besides this one: holder (the Model's "
        "Production holder, the default) or an alias of the Model's spec.aliases.",
    )


class Validation(ApiModel):
    """Checks to run against the verified artifact before the version may be promoted."""

    checks: list[ValidationCheck] = Field(
        default_factory=list,
        max_length=16,
        description="Checks; those that need a Pod run as containers of one Pod.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        le=86400,
        description="Time limit for the Pod's checks together (default 600).",
    )


class ModelVersionSpec(ApiModel):
    """Desired state of a ModelVersion: written by people and pipelines, never by the operator."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [_immutable_rule(f) for f in IMMUTABLE_SPEC_FIELDS]
        },
    )

    model_ref: LocalObjectReference = Field(
        description="The Model (in this namespace) this is a version of. Immutable."
    )
    version: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description=(
            "Version number, unique within the Model. When omitted, the operator assigns the "
            "next free number and records it in status.version. Immutable."
        ),
    )
    description: LongText | None = Field(default=None, description="Free text for people.")
    artifact: Artifact = Field(description="The model's bytes. Immutable.")
    lineage: Lineage | None = Field(
        default=None, description="Data, code, run and environment that produced it. Immutable."
    )
    metrics: dict[str, float] | None = Field(
        default=None,
        max_length=256,
        description="Evaluation metrics, name to value (e.g. accuracy: 0.94). Immutable.",
    )
    hyperparameters: dict[str, ShortText] | None = Field(
        default=None,
        max_length=256,
        description="Training hyperparameters, name to value. Immutable.",
    )
    signature: Signature | None = Field(
        default=None, description="Input and output schema. Immutable."
    )
    feature_retrieval: FeatureRetrieval | None = Field(
        default=None, description="How serving fetches the model's features. Immutable."
    )
    model_card: ModelCard | None = Field(
        default=None, description="Documentation for people. Immutable."
    )
    components: list[Component] = Field(
        default_factory=list,
        max_length=32,
        description="Parts of a multi-part model, each with a unique name. Immutable.",
        # The API server refuses two items with the same name.
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    validation: Validation | None = Field(
        default=None,
        description=(
            "Checks to run; when omitted, the Model's default validation applies. Immutable."
        ),
    )
    stage: Stage = Field(
        default="None",
        description=(
            "Desired stage: None, Staging, Production or Archived. The stage granted after the "
            "gates pass is status.stage."
        ),
    )


class VerifiedFile(ApiModel):
    """One file of a verified prefix."""

    path: str = Field(max_length=4096, description="Path relative to the prefix.")
    digest: Digest = Field(description="SHA-256 of the file's bytes.")
    size: int = Field(ge=0, description="Size in bytes.")
    version_id: str | None = Field(
        default=None, max_length=1024, description="Object versionId, where versioned."
    )


class VerifiedArtifact(ApiModel):
    """What the operator verified: consumers fetch exactly these bytes."""

    uri: str = Field(max_length=2048, description="The artifact URI that was verified.")
    digest: Digest = Field(description="The verified digest.")
    size: int = Field(ge=0, description="Total size in bytes.")
    file_count: int = Field(ge=1, description="Number of objects (1 for a single object).")
    files: list[VerifiedFile] = Field(
        default_factory=list,
        max_length=1000,
        description="Files of a prefix artifact (at most 1000 listed; all are in the digest).",
    )
    version_id: str | None = Field(
        default=None,
        max_length=1024,
        description="versionId of a single-object artifact in a versioned bucket.",
    )
    verified_at: str = Field(max_length=64, description="When the bytes were last hashed.")
    verified_by: Literal["StoreChecksum"] | None = Field(
        default=None,
        description="StoreChecksum while this record rests on the store's full-object SHA-256 "
        "checksums (the Model's policy.verification.acceptStoreChecksum) and the operator has "
        "not hashed the bytes yet; absent once it has.",
    )
    oci: VerifiedOciManifest | None = Field(
        default=None,
        description="For an oci:// artifact: the manifest and every blob (config and layers) "
        "with the digest, media type and size each was verified at.",
    )


class VerifiedComponent(ApiModel):
    """The verified bytes of one component."""

    name: str = Field(max_length=63, description="Component name, as in spec.components.")
    artifact: VerifiedArtifact = Field(description="What was verified for it.")


CheckOutcome = Literal["Passed", "Failed", "Running", "Pending"]


class CheckResult(ApiModel):
    """What one validation check found."""

    name: str = Field(max_length=63, description="The check's name.")
    result: CheckOutcome = Field(description="Passed, Failed, Running or Pending.")
    value: str | None = Field(default=None, max_length=256, description="Measured value.")
    threshold: str | None = Field(
        default=None, max_length=256, description="What the value was compared with."
    )
    message: str = Field(default="", max_length=4096, description="What the check said.")
    started_at: str | None = Field(default=None, max_length=64, description="When it started.")
    finished_at: str | None = Field(default=None, max_length=64, description="When it ended.")
    details: dict[str, ShortText] | None = Field(
        default=None,
        max_length=16,
        description="What the operator ran the check on, where it says: for compare, the "
        "metric, datasetDigest, against, and the holder, holderVersion and holderDigest "
        "scored besides this version (value is this version's score, threshold the holder's).",
    )


class ValidationStatus(ApiModel):
    """The latest validation run of this version."""

    run: int = Field(default=0, ge=0, description="Runs so far; each re-run adds one.")
    checks_digest: str | None = Field(
        default=None, max_length=80, description="Digest of the checks the run ran."
    )
    token: str | None = Field(
        default=None,
        max_length=256,
        description="The modelregistry.io/revalidate annotation the run answered.",
    )
    pod_name: str | None = Field(
        default=None, max_length=253, description="The run's Pod (kept while it failed)."
    )
    pod_uid: str | None = Field(
        default=None,
        max_length=64,
        description="The uid of the Pod the operator created for the run: no other Pod counts.",
    )
    pod_spec_digest: str | None = Field(
        default=None,
        max_length=80,
        description="Digest of the Pod spec the operator built (also the Pod's "
        "modelregistry.io/pod-spec-digest annotation); a Pod whose spec differs is not read.",
    )
    recreated: int = Field(
        default=0, ge=0, description="How often the run's Pod vanished and was created again."
    )
    started_at: str | None = Field(default=None, max_length=64, description="Run started.")
    finished_at: str | None = Field(default=None, max_length=64, description="Run finished.")
    checks: list[CheckResult] = Field(
        default_factory=list, max_length=16, description="Each check's result."
    )


class ModelVersionStatus(ApiModel):
    """Observed state of a ModelVersion: written only by the operator."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the status was last computed for."
    )
    version: int | None = Field(
        default=None, description="The version number: spec.version, or the one assigned."
    )
    stage: Stage | None = Field(default=None, description="The stage granted by the operator.")
    artifact: VerifiedArtifact | None = Field(default=None, description="The verified artifact.")
    artifact_signature: VerifiedSignature | None = Field(
        default=None,
        description="The signature verified over those files (spec.artifact.signature): its "
        "bundle's digest binds later reads.",
    )
    components: list[VerifiedComponent] = Field(
        default_factory=list,
        max_length=32,
        description="The verified artifact of each component, by name.",
    )
    artifact_checked_at: str | None = Field(
        default=None,
        max_length=64,
        description="When the operator last hashed, or tried to hash, the artifact.",
    )
    validation: ValidationStatus | None = Field(
        default=None, description="The latest validation run and each check's result."
    )
    comparison: Comparison | None = Field(
        default=None,
        description="The champion gate's last comparison (the Model's "
        "policy.production.mustBeat): both values side by side.",
    )
    approvals: list[Approval] = Field(
        default_factory=list,
        max_length=APPROVALS_LIMIT,
        description="Approvals of a stage, each appended by its approver (`modelregistry "
        "approve`); the API server admits only the approver's own entry.",
    )
    history: list[HistoryEntry] = Field(
        default_factory=list,
        max_length=HISTORY_LIMIT,
        description="Every change of the granted stage, oldest first; append-only (the API "
        "server's admission policy keeps it so). Older entries are counted in historySummary.",
    )
    history_summary: HistorySummary | None = Field(
        default=None, description="The oldest history entries, summarised once the list is full."
    )
    deletion_protection: DeletionProtection | None = Field(
        default=None,
        description="Set while the version may not be deleted (in Production, or archived and "
        "within the Model's retention); the API server refuses a delete while it is set.",
    )
    deployments: list[Deployment] | None = Field(
        default=None,
        max_length=DEPLOYMENTS_LISTED,
        description="Workloads (Pods, InferenceServices) in this namespace that name this "
        "version with a modelregistry:// URI or the modelregistry.io/uses annotation: the first "
        f"{DEPLOYMENTS_LISTED} by namespace and name (docs/deployments.md).",
    )
    deployment_count: int | None = Field(
        default=None, ge=0, description="How many workloads use this version (all of them)."
    )
    conditions: list[Condition] = Field(
        default_factory=list, max_length=32, description="Ready, Reconciling, Stalled, ..."
    )
    kopf: dict[str, Any] | None = Field(
        default=None,
        description="The operator framework's own bookkeeping (retries); not for consumers.",
    )
