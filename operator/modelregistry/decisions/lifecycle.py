"""Step 5: the stage asked for (`spec.stage`) and the stage granted (`status.stage`).

A chain of small gates, each a (reason, message) or nothing, as
cert-manager's policies: the stage must be allowed by the Model's policy,
the spec must set what the policy requires of every version, the bytes
verified, the checks passed, the artifact signed by a key the Model trusts
where the policy requires a signature (`policy.signing`), for Production
the champion beaten where the policy asks (`champion.py`), the approvals
the policy asks for given (and checked at the API server), and, for
Production with exclusive holding, no other holder where the policy says
to wait. None and Archived need no gate;
restoring a stage is asking for it again, and the gates apply again. A
stage held is taken away when the bytes or the checks stop passing, with a
history entry and an Event.

The step owns `StageGranted` and `MetadataComplete`, both informational: a
version waiting for a person, or one a stricter policy finds lacking, still
serves at its granted stage, so it stays Ready (and kstatus Current); a
pipeline waits on `status.stage` itself.

Taking Production when it is held exclusively needs the Model's lock
(`reconciler/production.py`): the decision says so, and the reconciler
takes the lock before the write that says Production, or turns the grant
into a wait.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from modelregistry import conditions as cond
from modelregistry.api.lifecycle import (
    Approval,
    Comparison,
    DeletionProtection,
    HistoryEntry,
    Stage,
)
from modelregistry.api.model import ModelPolicy
from modelregistry.api.modelversion import CheckResult
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import champion, history, metadata
from modelregistry.decisions.champion import Champion
from modelregistry.decisions.deployments import Deployments, User
from modelregistry.decisions.passdata import Event, StepResult, VersionView
from modelregistry.reasons import METADATA_COMPLETE, STAGE_GRANTED, Reason

CONDITIONS = (METADATA_COMPLETE, STAGE_GRANTED)
GATED: Final = ("Staging", "Production")
# An approval dated further ahead than this (a clock far off) does not count yet.
CLOCK_SKEW: Final = timedelta(minutes=5)
AUTO_STAGING: Final = "policy:autoStaging"
VERSION_LIMIT: Final = "policy:versionLimit"


@dataclass(frozen=True)
class Policy:
    """The parts of a Model's spec.policy the lifecycle reads, with their safe defaults."""

    allowed: frozenset[str] | None = None  # None: every stage
    exclusive: bool = True
    handover: str = "wait"
    approval_for: frozenset[str] = frozenset()
    approvers: frozenset[str] = frozenset()
    min_approvals: int = 1
    auto_staging: bool = False
    retention_days: int | None = None
    required_metadata: tuple[str, ...] = ()
    must_beat: champion.Rule | None = None
    protect_in_use: bool = True
    signing_required: bool = False  # policy.signing.required
    trusted_keys: frozenset[str] = frozenset()  # policy.signing.trustedKeys (fingerprints)

    @classmethod
    def of(cls, policy: ModelPolicy | None) -> Policy:
        if policy is None:
            return cls()
        approval, signing = policy.approval, policy.signing
        return cls(
            allowed=frozenset(policy.stages) if policy.stages else None,
            exclusive=policy.production_exclusive is not False,
            handover=policy.production_handover or "wait",
            approval_for=frozenset(approval.required_for) if approval else frozenset(),
            approvers=frozenset(approval.approvers) if approval else frozenset(),
            min_approvals=(approval.min_approvals or 1) if approval else 1,
            auto_staging=bool(policy.promotion and policy.promotion.auto_staging),
            retention_days=policy.archived_retention_days,
            required_metadata=tuple(policy.required_metadata),
            must_beat=champion.Rule.of(policy.production.must_beat if policy.production else None),
            protect_in_use=policy.protect_in_use is not False,
            signing_required=bool(signing and signing.required),
            trusted_keys=frozenset(signing.trusted_keys) if signing else frozenset(),
        )


@dataclass(frozen=True)
class Holder:
    """The version that holds the Model's Production lock."""

    name: str
    uid: str


@dataclass(frozen=True)
class Observed:
    """What the reconciler gathered for this step."""

    policy: Policy = field(default_factory=Policy)
    verified: bool = False  # ArtifactVerified is True, as this pass decided it
    validated: str = "Unknown"  # the Validated condition's status, as this pass decided it
    validated_since: datetime | None = None  # when Validated last turned True
    # Why approvals cannot be trusted now (the admission policy is missing), or None.
    admission_problem: str | None = None
    holder: Holder | None = None  # the Production lock's holder, when another version
    # A version the lock is being handed to right now (another pass is mid-way).
    incoming: Holder | None = None
    over_limit: bool = False  # the version limit archives this version
    # The version Production must beat, read when the gate runs (None: not read).
    champion: Champion | None = None
    checks: tuple[CheckResult, ...] = ()  # the check results as this pass decided them
    builtin_checks: frozenset[str] = frozenset()  # the names of the planned built-in checks
    signed: str = "Unknown"  # the SignatureVerified condition's status, as this pass decided it
    signing_key: str | None = None  # the fingerprint of the key that verified it


@dataclass(frozen=True)
class StageDecision:
    result: StepResult
    take_production: bool = False  # Production is granted now: the lock comes first
    release_production: bool = False  # Production was left: the lock goes after the write


Gate = Callable[[str, VersionView, Observed], tuple[str, str] | None]


def _allowed(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    allowed = observed.policy.allowed
    if allowed is None or stage in allowed:
        return None
    names = ", ".join(s for s in ("None", "Staging", "Production", "Archived") if s in allowed)
    return (
        Reason.STAGE_NOT_ALLOWED,
        f"Model {view.model!r} allows the stages {names} (spec.policy.stages), not {stage}: "
        "set spec.stage to one of them.",
    )


def _metadata(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    lacking = metadata.lacking(view, observed.policy.required_metadata)
    if not lacking:
        return None
    return (
        Reason.METADATA_MISSING,
        f"{stage} needs what Model {view.model!r} requires of every version "
        f"(spec.policy.requiredMetadata), and the spec lacks {', '.join(lacking)}: register a "
        "new version that sets them.",
    )


def _verified(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    if observed.verified:
        return None
    return (
        Reason.NOT_VERIFIED,
        f"{stage} needs verified bytes, and ArtifactVerified is not True: see its message.",
    )


def _validated(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    if observed.validated == "True":
        return None
    if observed.validated == "False":
        return (
            Reason.VALIDATION_FAILED,
            f"{stage} needs passed checks, and Validated is False: see its message.",
        )
    return (
        Reason.VALIDATION_PENDING,
        f"{stage} is granted once the checks pass; they have not yet (Validated).",
    )


def _signed(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    """Where the Model requires it: a signature that verified, by a key the Model lists."""
    policy = observed.policy
    if not policy.signing_required:
        return None
    if view.spec.artifact.signature is None and view.spec.artifact.uri.startswith("oci://"):
        return (
            Reason.SIGNATURE_REQUIRED,
            f"{stage} needs a signed artifact (Model {view.model!r}, spec.policy.signing."
            "required), and the operator does not check signatures of oci:// artifacts yet: "
            "register the signed files and their bundle at an s3:// URI, as a new "
            "ModelVersion (docs/signing.md).",
        )
    if view.spec.artifact.signature is None:
        return (
            Reason.SIGNATURE_REQUIRED,
            f"{stage} needs a signed artifact (Model {view.model!r}, spec.policy.signing."
            "required), and this version declares no spec.artifact.signature: register the "
            "model again signed, as a new ModelVersion (modelregistry register --sign-key KEY "
            "--public-key CONFIGMAP/KEY, or model_signing sign key).",
        )
    if observed.signed != "True" or observed.signing_key is None:
        return (
            Reason.SIGNATURE_NOT_VERIFIED,
            f"{stage} needs a verified signature, and SignatureVerified is not True: see its "
            "message.",
        )
    if observed.signing_key in policy.trusted_keys:
        return None
    return (
        Reason.KEY_NOT_TRUSTED,
        f"{stage} needs a signature by a key Model {view.model!r} trusts, and this version was "
        f"signed with {observed.signing_key}, which its spec.policy.signing.trustedKeys does not "
        "list: sign with a trusted key and register a new version, or have the Model's owners "
        "add the key.",
    )


def _champion(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    rule = observed.policy.must_beat
    if stage != "Production" or rule is None:
        return None
    if observed.champion is None:  # the reconciler reads it before asking
        return (
            Reason.CHAMPION_NOT_BEATEN,
            f"Production needs {rule.metric} compared with the version to beat, which was not "
            "read: looking again.",
        )
    comparison = comparison_for(view, observed)
    assert comparison is not None
    return champion.refusal(rule, comparison, observed.champion)


def comparison_for(view: VersionView, observed: Observed) -> Comparison | None:
    """The champion gate's comparison, where the policy asks for one and the champion was read."""
    rule = observed.policy.must_beat
    if rule is None or observed.champion is None:
        return None
    return champion.compare(
        rule,
        view.spec.metrics or {},
        observed.champion,
        observed.checks,
        observed.builtin_checks,
    )


def _approved(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    policy = observed.policy
    if stage not in policy.approval_for:
        return None
    if observed.admission_problem is not None:
        return Reason.ADMISSION_POLICY_MISSING, observed.admission_problem
    given = counted_approvals(
        stage, view.status.approvals, observed.validated_since, policy.approvers, view.now
    )
    if len(given) >= policy.min_approvals:
        return None
    whose = (
        f" from {', '.join(sorted(policy.approvers))}"
        if policy.approvers
        else " from holders of the approve verb on the Model"
    )
    have = f"; has {len(given)} ({', '.join(a.user for a in given)})" if given else ""
    return (
        Reason.APPROVAL_REQUIRED,
        f"{stage} needs {policy.min_approvals} approval{'s' * (policy.min_approvals > 1)}"
        f"{whose} given since the version became Validated{have}: "
        f"modelregistry approve {view.name} --stage {stage} --comment '...'",
    )


def _exclusive(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    policy, holder, incoming = observed.policy, observed.holder, observed.incoming
    if stage != "Production" or not policy.exclusive:
        return None
    if incoming is not None and incoming.uid != view.uid:
        return (
            Reason.PRODUCTION_HELD,
            f"ModelVersion {incoming.name} is taking Production over (Model {view.model!r}); "
            "this version asks again once it is done.",
        )
    if holder is None or holder.uid == view.uid or policy.handover == "replace":
        return None
    return (
        Reason.PRODUCTION_HELD,
        f"ModelVersion {holder.name} holds Production (Model {view.model!r}, "
        "spec.policy.productionHandover: wait): set its spec.stage to Archived (or to "
        "Staging), or set the handover to replace.",
    )


def in_use(view: VersionView, policy: Policy) -> str | None:
    """The workloads that use the version, named, where the policy protects it; else None."""
    count = view.status.deployment_count or 0
    if not count or not policy.protect_in_use:
        return None
    users = (User(d.namespace, d.name, d.kind, d.since) for d in view.status.deployments or [])
    return Deployments(tuple(users), count).describe()


def _in_use(view: VersionView, observed: Observed) -> tuple[str, str] | None:
    """Archived, asked for in spec.stage, waits while workloads use the version."""
    users = in_use(view, observed.policy)
    if users is None:
        return None
    return (
        Reason.IN_USE,
        f"Archived is refused: this version is in use by {users} (status.deployments). Move "
        f"them to another version first, or set Model {view.model!r}'s spec.policy.protectInUse "
        "to false.",
    )


def _not_failed(stage: str, view: VersionView, observed: Observed) -> tuple[str, str] | None:
    """A stage held survives checks that run again; it goes when they fail."""
    if observed.validated != "False":
        return None
    return _validated(stage, view, observed)


# In order: what a person can fix first is said first; what cannot change (the spec) before
# what may come (the checks), and no approval is asked of a version that does not beat the holder.
GATES: Final[tuple[Gate, ...]] = (
    _allowed,
    _metadata,
    _verified,
    _validated,
    _signed,
    _champion,
    _approved,
    _exclusive,
)
# What a stage already held must keep passing: its bytes verified, its checks not failed.
# The rest (policy, approvals, the lock) is checked when it is granted.
HOLDING: Final[tuple[Gate, ...]] = (_verified, _not_failed)


def first_failure(
    stage: str, view: VersionView, observed: Observed, gates: Sequence[Gate] = GATES
) -> tuple[str, str] | None:
    return next((f for g in gates if (f := g(stage, view, observed)) is not None), None)


def counted_approvals(
    stage: str,
    approvals: Sequence[Approval],
    validated_since: datetime | None,
    approvers: frozenset[str],
    now: datetime,
) -> list[Approval]:
    """The approvals that count for `stage`: one per user, given since the version became
    Validated (and not from a clock far ahead), by a listed user or group where a list is set."""
    if validated_since is None:
        return []
    counted: dict[str, Approval] = {}
    for approval in approvals:
        try:
            given = cond.parse_time(approval.time)
        except ValueError:
            continue
        listed = (
            not approvers or approval.user in approvers or bool(approvers & set(approval.groups))
        )
        if approval.stage == stage and validated_since <= given <= now + CLOCK_SKEW and listed:
            counted.setdefault(approval.user, approval)
    return list(counted.values())


def target(view: VersionView, observed: Observed) -> tuple[Stage, str | None]:
    """The stage to grant if its gates pass, and the policy that asks for it (if not spec)."""
    asked, current = view.spec.stage, view.status.stage or "None"
    held = cond.find(view.status.conditions, STAGE_GRANTED)
    if asked == "Production" and _replaced_at_this_generation(view):
        return "Archived", None
    if asked != "None":
        return asked, None
    if observed.over_limit and current != "Production":
        return "Archived", VERSION_LIMIT
    if current == "Archived" and held is not None and held.reason == Reason.VERSION_LIMIT:
        return "Archived", VERSION_LIMIT
    if observed.policy.auto_staging:
        return "Staging", AUTO_STAGING
    return "None", None


def _replaced_at_this_generation(view: VersionView) -> bool:
    """Another version took Production from this one, and its spec has not changed since."""
    last = view.status.history[-1] if view.status.history else None
    return (
        view.status.stage == "Archived"
        and last is not None
        and last.reason == Reason.REPLACED
        and last.generation == view.generation
    )


def decide(view: VersionView, observed: Observed) -> StageDecision:
    current: Stage = view.status.stage or "None"
    wanted, by_policy = target(view, observed)
    gates = HOLDING if wanted == current else GATES
    failure = first_failure(wanted, view, observed, gates) if wanted in GATED else None
    if wanted == "Archived" and current != "Archived" and by_policy is None:
        failure = _in_use(view, observed)
    # Written whenever the gate ran: the record of what a grant beat, or why it was refused.
    comparison = (
        comparison_for(view, observed) if wanted == "Production" and gates is GATES else None
    )
    if failure is None:
        granted: Stage = wanted
        condition = _granted_condition(view, wanted, by_policy, observed, comparison)
        change_reason = Reason.VERSION_LIMIT if by_policy == VERSION_LIMIT else Reason.GRANTED
    else:
        reason, message = failure
        granted = current
        change_reason = Reason.STAGE_REVOKED
        if current in GATED and first_failure(current, view, observed, HOLDING) is not None:
            granted = "None"
            message += f" {current} was taken away."
        condition = DesiredCondition(STAGE_GRANTED, "False", reason, message)
    if wanted == "Archived" and _replaced_at_this_generation(view):
        condition = DesiredCondition(
            STAGE_GRANTED,
            "False",
            Reason.REPLACED,
            f"{view.status.history[-1].message} Change spec.stage (to Staging, say, then "
            "Production) to ask for Production again.",
        )
    elif wanted == "Archived" and by_policy == VERSION_LIMIT:
        condition = DesiredCondition(
            STAGE_GRANTED,
            "False",
            Reason.VERSION_LIMIT,
            f"Archived: Model {view.model!r} keeps at most its spec.policy.versionLimit active "
            "versions, and this is one of the oldest that ask for no stage. Set spec.stage to "
            "Staging to bring it back.",
        )
    decision = _decision(view, observed, current, granted, condition, change_reason, by_policy)
    marked = metadata.condition(view, observed.policy.required_metadata)
    compared = {"comparison": comparison} if comparison is not None else {}
    result = replace(
        decision.result,
        conditions=(*([marked] if marked else []), *decision.result.conditions),
        status={**decision.result.status, **compared},
    )
    return replace(decision, result=result)


def _granted_condition(
    view: VersionView,
    stage: str,
    by_policy: str | None,
    observed: Observed,
    comparison: Comparison | None,
) -> DesiredCondition:
    if stage == "None":
        message = "No stage is asked for (spec.stage: None)."
    elif by_policy == AUTO_STAGING:
        message = "Staging, granted by the Model's spec.policy.promotion.autoStaging."
    elif comparison is not None and observed.policy.must_beat and observed.champion:
        beaten = champion.summary(observed.policy.must_beat, comparison, observed.champion)
        message = f"{stage} is granted: {beaten}"
    else:
        message = f"{stage} is granted."
    return DesiredCondition(STAGE_GRANTED, "True", Reason.GRANTED, message)


def _decision(
    view: VersionView,
    observed: Observed,
    current: Stage,
    granted: Stage,
    condition: DesiredCondition,
    change_reason: str,
    by_policy: str | None,
) -> StageDecision:
    status = view.status
    updates: dict[str, object] = {"stage": granted}
    events: list[Event] = []
    recorded = view  # with this pass's history entry: retention runs from this move
    if granted != current:
        actor = by_policy or _approvers(view, observed, granted)
        message = (
            f"Version {status.version} of Model {view.model!r}: {current} -> {granted}."
            if change_reason != Reason.STAGE_REVOKED
            else f"Version {status.version} of Model {view.model!r} lost {current}: "
            f"{condition.message}"
        )
        entry = HistoryEntry(
            time=cond.format_time(view.now),
            from_stage=current,
            to=granted,
            actor=actor,
            reason=change_reason,
            message=message,
            generation=view.generation,
        )
        kept = history.append(status.history, status.history_summary, [entry])
        updates["history"] = list(kept.entries)
        updates["history_summary"] = kept.summary
        recorded = replace(view, status=status.model_copy(update={"history": kept.entries}))
        if change_reason == Reason.STAGE_REVOKED:
            events.append(Event("Warning", change_reason, message, action="Promote"))
        else:
            events.append(Event("Normal", change_reason, message, action="Promote"))
    protection = deletion_protection(granted, recorded, observed.policy)
    updates["deletion_protection"] = protection
    return StageDecision(
        StepResult((condition,), status=updates, events=tuple(events)),
        take_production=granted == "Production"
        and current != "Production"
        and observed.policy.exclusive,
        release_production=current == "Production" and granted != "Production",
    )


def _approvers(view: VersionView, observed: Observed, stage: str) -> str | None:
    if stage not in observed.policy.approval_for:
        return None
    given = counted_approvals(
        stage,
        view.status.approvals,
        observed.validated_since,
        observed.policy.approvers,
        view.now,
    )
    return ", ".join(a.user for a in given) or None


def deletion_protection(
    granted: str, view: VersionView, policy: Policy
) -> DeletionProtection | None:
    """What keeps the version from being deleted now (None: nothing)."""
    if granted == "Production":
        return DeletionProtection(reason="Production")
    users = in_use(view, policy)
    if users is not None:
        return DeletionProtection(reason="InUse", users=users)
    if granted != "Archived" or not policy.retention_days:
        return None
    kept = view.status.deletion_protection
    if kept is not None and kept.reason == "Retention" and kept.until:
        until = cond.parse_time(kept.until)
    else:
        moved = history.last_move_to(view.status.history, "Archived")
        since = cond.parse_time(moved.time) if moved is not None else view.now
        until = since + timedelta(days=policy.retention_days)
    if view.now >= until:
        return None
    return DeletionProtection(reason="Retention", until=cond.format_time(until))


def fence(view: VersionView, by: str, policy: Policy) -> dict[str, object]:
    """The status write that takes Production (or its lock) from this version for `by`.

    It always changes the status, so a write this version had under way,
    made with its resourceVersion as a precondition, fails.
    """
    status = view.status
    current = status.stage or "None"
    moved = current == "Production"
    granted = "Archived" if moved else current
    message = (
        f"ModelVersion {by} took Production (spec.policy.productionHandover: "
        f"{policy.handover}); "
        f"version {status.version} was archived."
        if moved
        else f"ModelVersion {by} took the Production lock, which this version held without "
        "holding Production."
    )
    entry = HistoryEntry(
        time=cond.format_time(view.now),
        from_stage=current,
        to=granted,
        actor=by,
        reason=Reason.REPLACED,
        message=message,
        generation=view.generation,
    )
    kept = history.append(status.history, status.history_summary, [entry])
    updates: dict[str, object] = {
        "stage": granted,
        "history": [
            e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in kept.entries
        ],
    }
    if kept.summary is not None:
        updates["historySummary"] = kept.summary.model_dump(mode="json", by_alias=True)
    if moved:
        archived = replace(view, status=status.model_copy(update={"history": kept.entries}))
        protection = deletion_protection("Archived", archived, policy)
        updates["deletionProtection"] = (
            protection.model_dump(mode="json", by_alias=True, exclude_none=True)
            if protection
            else None
        )
    return updates
