"""The lifecycle's types: stages, approvals, the audit history, retention, resolved versions.

A ModelVersion's `spec.stage` is the stage asked for; `status.stage` the one
the operator granted after the gates passed. Approvals are entries that
approvers append to `status.approvals` themselves; an admission policy at the
API server checks who wrote each one (`admission.py`). Everything else here
is written by the operator only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelregistry.api.meta import ApiModel, Digest, LongText, ShortText

Stage = Literal["None", "Staging", "Production", "Archived"]
GatedStage = Literal["Staging", "Production"]
ProductionHandover = Literal["wait", "replace"]

# RFC 3339 in UTC with a `Z`, as the API server writes times (fractions allowed):
# CEL's timestamp() reads it, and times compare as text in the same order.
TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"
Time = ShortText
# How many entries status.history keeps before the oldest are summarised.
HISTORY_LIMIT = 32
APPROVALS_LIMIT = 64


class Approval(ApiModel):
    """One person's approval of a stage, appended to status.approvals by that person.

    The API server's admission policy admits the entry only from a user who
    holds the `approve` verb on the Model, only naming that user (and groups
    the user is in), only while the version is Validated, and only as one new
    entry with nothing else in status changed.
    """

    stage: GatedStage = Field(description="The stage approved: Staging or Production.")
    user: ShortText = Field(description="Who approved: the requester's user name.")
    groups: list[ShortText] = Field(
        default_factory=list,
        max_length=32,
        description="Groups of the approver named for the Model's approvers list; each one "
        "the requester's.",
    )
    time: Time = Field(
        pattern=TIME_PATTERN,
        description="When (RFC 3339, UTC); not before the version became Validated.",
    )
    comment: LongText | None = Field(default=None, description="Why, for the audit trail.")


class HistoryEntry(ApiModel):
    """One change of the granted stage."""

    time: Time = Field(description="When the operator recorded the change (RFC 3339).")
    from_stage: Stage = Field(alias="from", description="The granted stage before.")
    to: Stage = Field(description="The granted stage after.")
    actor: ShortText | None = Field(
        default=None,
        description="Who caused it, where known: the approvers of record, or the policy.",
    )
    reason: ShortText = Field(description="A CamelCase word: why (Granted, Replaced, ...).")
    message: LongText = Field(default="", description="The change, for people.")
    generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation of the version at the time."
    )


class HistorySummary(ApiModel):
    """Entries that no longer fit in status.history: counted, never dropped unseen."""

    count: int = Field(ge=0, description="How many of the oldest entries are summarised here.")
    first: Time | None = Field(default=None, description="Time of the oldest of them.")
    last: Time | None = Field(default=None, description="Time of the newest of them.")


class DeletionProtection(ApiModel):
    """Why the version cannot be deleted, and until when (read at admission: CEL has no clock)."""

    reason: Literal["Production", "Retention", "InUse"] = Field(
        description="Production: while it holds Production; Retention: archived, kept for the "
        "Model's policy.archivedRetentionDays; InUse: workloads use it (status.deployments) "
        "and the Model's policy.protectInUse is not false."
    )
    users: ShortText | None = Field(
        default=None,
        description="InUse: the workloads, named (the first three, and how many more).",
    )
    until: Time | None = Field(
        default=None,
        description="When it becomes deletable (absent while in Production); the operator "
        "clears this field on its periodic pass once the time has passed.",
    )


class ResolvedVersion(ApiModel):
    """A version as deployers consume it: exactly the bytes that were verified."""

    version: int = Field(ge=1, description="Version number.")
    name: ShortText = Field(description="The ModelVersion's name.")
    stage: Stage = Field(description="Its granted stage.")
    uri: str = Field(max_length=2048, description="The verified artifact URI.")
    digest: Digest = Field(description="The verified digest.")
    version_id: str | None = Field(
        default=None,
        max_length=1024,
        description="The verified versionId of a single-object artifact (a prefix's are listed "
        "in the ModelVersion's status.artifact.files).",
    )


class ProductionIncoming(ApiModel):
    name: ShortText = Field(description="The ModelVersion taking Production over.")
    uid: ShortText = Field(description="Its uid.")


class ProductionLock(ApiModel):
    """Which version may say Production: written with a resourceVersion precondition.

    A version writes `status.stage: Production` only while it holds this
    lock; a hand-over records the newcomer as `incoming` first, fences the
    holder (writes its status, so a write it had under way fails on its
    resourceVersion), then names the newcomer holder.
    """

    holder: ShortText | None = Field(default=None, description="The ModelVersion that holds it.")
    uid: ShortText | None = Field(default=None, description="The holder's uid.")
    since: Time | None = Field(default=None, description="When it took it.")
    incoming: ProductionIncoming | None = Field(
        default=None, description="A version that is taking Production over."
    )


class PromotionPolicy(ApiModel):
    """Stages the operator grants by itself when their gates pass."""

    auto_staging: bool | None = Field(
        default=None,
        description="Grant Staging to every version whose spec.stage is None once it is "
        "verified and validated (the CI/CD pattern: promote when the checks pass). "
        "Production always follows its own gates.",
    )


class Comparison(ApiModel):
    """The champion gate's last comparison: this version's metric beside the one it must beat."""

    metric: ShortText = Field(description="The metric compared (the Model's mustBeat.metric).")
    candidate: float | None = Field(
        default=None, description="This version's value (absent: it has none)."
    )
    against: float | None = Field(
        default=None, description="The value to beat (absent: nothing to beat, or none known)."
    )
    against_version: ShortText | None = Field(
        default=None,
        description="The ModelVersion compared against: the Production holder, or the version "
        "the alias names (absent: there is none).",
    )
    by: float = Field(default=0, ge=0, description="The margin asked for.")
    lower_is_better: bool | None = Field(
        default=None, description="Whether a lower value wins (latency, loss)."
    )
    source: Literal["Declared", "Measured"] = Field(
        description="Declared: both values from spec.metrics; Measured: the scores the Model's "
        "compare check measured on its held-out data set."
    )
    passed: bool = Field(description="Whether this version beat it by the margin.")
