"""The pass over one ModelVersion: ordered steps, one status write at the end.

Steps, in order: the Model reference, the version number, the bytes, their
signature where one is declared (on the files the bytes step hashed, not a
second read), the checks, the stage. Each step gathers what it needs (from
the index, the counter, the store), hands it to its pure decision in
`decisions/`, and either lets the next step run
or stops the chain. `decisions.version.compose` then derives Ready,
Reconciling and Stalled from the steps' conditions, and the status is
written once, as a merge patch of what changed. A first verification still
reading after `PROGRESS_AFTER` whose bytes left would take a second or more
at the rate they arrive (`verification.read_is_long`), or that is not done
after `PROGRESS_AT_THE_LATEST` whatever it reads, is announced with a progress
write made while the bytes stream, so kstatus readers see `Reconciling`
while it lasts: one write from create to Ready for small artifacts, two for
large ones, no more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError

from modelregistry import conditions as cond
from modelregistry import logs, metrics
from modelregistry.api import Artifact, ModelVersionSpec, ModelVersionStatus
from modelregistry.api.meta import MODELVERSIONS
from modelregistry.api.model import ModelPolicy, ValidationPolicy
from modelregistry.api.modelversion import Validation, ValidationStatus
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import (
    champion,
    lifecycle,
    modelref,
    numbering,
    signature,
    validation,
    verification,
)
from modelregistry.decisions import version as compose
from modelregistry.decisions.lifecycle import Holder
from modelregistry.decisions.oci.reference import is_oci
from modelregistry.decisions.passdata import Decision, StepResult, VersionView
from modelregistry.decisions.podstate import PodRef, read_pod
from modelregistry.decisions.validationplan import Plan, gate_checks, measured_results, plan_for
from modelregistry.decisions.validationpod import PodSettings, build_pod
from modelregistry.decisions.verification import Hashed, Outcome
from modelregistry.digest import ArtifactDigest, FileDigest
from modelregistry.errors import (
    ConflictError,
    CredentialsError,
    InvalidObjectError,
    ObjectRefusedError,
)
from modelregistry.mergepatch import merge_patch
from modelregistry.oci.verifier import OciVerifier
from modelregistry.reasons import ARTIFACT_VERIFIED, SIGNATURE_VERIFIED, VALIDATED
from modelregistry.reconciler.admission import AdmissionCheck
from modelregistry.reconciler.comparison import DatasetProblem, read_datasets, with_targets
from modelregistry.reconciler.index import Catalog, ModelEntry, ModelKey, version_entry
from modelregistry.reconciler.locks import Locks
from modelregistry.reconciler.numbering import Numbering
from modelregistry.reconciler.ociartifact import OciVerifierPort, verify_oci
from modelregistry.reconciler.ports import Body, ClusterPort, VerifierPort
from modelregistry.reconciler.production import (
    Busy,
    Compared,
    HolderChanged,
    ProductionLocks,
    lock_of,
)
from modelregistry.reconciler.reading import (
    baseline,
    dump_status,
    mapping,
    parse_spec,
    parse_status,
)
from modelregistry.reconciler.sandbox import Sandbox
from modelregistry.reconciler.signature import Signatures
from modelregistry.storage import ReadProgress
from modelregistry.verifier import failure_from_error

logger = logging.getLogger(__name__)

# How often a first verification is looked at while it runs, and so the
# shortest one that can be announced with a progress write (Reconciling=True,
# Verifying); one done sooner costs no write of its own. The rate of the read,
# not time alone, marks it long: under a burst a small artifact can wait longer
# than this for a hashing slot, and a write for it would only add load where
# there is most. Whatever it reads, a verification not done after
# PROGRESS_AT_THE_LATEST (a store slow to answer, retries) is announced too.
PROGRESS_AFTER = 0.25
PROGRESS_AT_THE_LATEST = 5.0

# Every step's conditions, in step order: what Ready is derived from.
OWNED = (
    *modelref.CONDITIONS,
    *numbering.CONDITIONS,
    *verification.CONDITIONS,
    *signature.CONDITIONS,
    *validation.CONDITIONS,
)


@dataclasses.dataclass(frozen=True)
class PassOutcome:
    """What the caller schedules after a pass."""

    retry: bool = False


class VersionReconciler:
    def __init__(
        self,
        cluster: ClusterPort,
        verifier: VerifierPort,
        catalog: Catalog,
        numbers: Numbering,
        *,
        reverify_interval: timedelta,
        pod_settings: PodSettings,
        sandbox: Sandbox,
        clock: Callable[[], datetime],
        production: ProductionLocks,
        admission: AdmissionCheck,
        limits: Mapping[ModelKey, frozenset[str]],
        oci: OciVerifierPort | None = None,
    ) -> None:
        self._cluster = cluster
        self._verifier = verifier
        self._oci = oci or OciVerifier()
        self._catalog = catalog
        self._numbers = numbers
        self._reverify_interval = reverify_interval
        self._pod_settings = pod_settings
        self._sandbox = sandbox
        self._production = production
        self._admission = admission
        self._limits = limits  # the versions each Model's version limit archives
        self._clock = clock
        self._locks = Locks()
        self._signatures = Signatures(cluster, verifier)
        # uid -> reason the last re-check could not read the bytes (announced once).
        self._unreadable: dict[str, str] = {}
        self.status_writes = 0

    def busy(self, uid: str) -> bool:
        return self._locks.locked(uid)

    def forget(self, uid: str) -> None:
        """Drop what is remembered of a deleted ModelVersion."""
        self._unreadable.pop(uid, None)
        self._numbers.forget(uid)

    async def reconcile(
        self,
        body: Body,
        *,
        fresh: bool,
        periodic: bool = False,
        only_if: Callable[[], bool] | None = None,
    ) -> PassOutcome:
        """One pass, unless `only_if` (asked under the object's lock) says it needs none.

        `fresh`: `body` came with a watch event. One older than this
        operator's own last write is skipped (the event of that write
        follows). Otherwise (retries, periodic looks) the object is read again.
        """
        meta = body["metadata"]
        with logs.concerning("ModelVersion", meta["namespace"], meta["name"], meta["uid"]):
            async with self._locks.hold(meta["uid"]):
                if fresh:
                    if self._catalog.is_stale(body):
                        return PassOutcome()
                else:
                    current = await self._cluster.get_version(meta["namespace"], meta["name"])
                    if current is None or current["metadata"].get("uid") != meta["uid"]:
                        self.forget(meta["uid"])
                        return PassOutcome()  # deleted (a re-created one has its own events)
                    body = current
                if only_if is not None and not only_if():
                    return PassOutcome()
                with metrics.PASSES_IN_PROGRESS.track_inprogress(), metrics.PASS_DURATION.time():
                    return await self._pass(body, periodic=periodic)

    async def _pass(self, body: Body, *, periodic: bool) -> PassOutcome:
        meta = body["metadata"]
        generation = meta.get("generation", 1)
        status = parse_status(ModelVersionStatus, body)
        try:
            spec = parse_spec(ModelVersionSpec, body)
        except InvalidObjectError as error:
            # Only reachable when the CRD schema was bypassed or is older than the operator.
            decision = compose.invalid_spec(status, str(error), generation, self._clock())
            await self._write(body, status, decision)
            return PassOutcome()
        view = VersionView(
            spec, status, generation, self._clock(), meta["namespace"], meta["name"], meta["uid"]
        )

        results: list[StepResult] = []
        finished_pods: tuple[PodRef, ...] = ()
        found = self._catalog.model_exists(view.namespace, view.model)
        step = modelref.decide(view, found)
        results.append(step)
        if step.proceed:
            held = await self._numbers.settle(body, _claim(body), view.model)
            if held is None:  # the Model went away meanwhile
                results[-1] = step = modelref.decide(view, False)
            else:
                step = numbering.decide(view, held)
                results.append(step)
        verified_at = -1  # where the bytes step's result is in `results`
        if step.proceed:
            body, view, step, hashed = await self._verification(
                body,
                view,
                results,
                periodic=periodic,
                force=self._signatures.needs_bytes(view),
            )
            results.append(step)
            verified_at = len(results) - 1
            if step.proceed and signature.declared(view) is not None:
                step = await self._signature(view, step, hashed)
                results.append(step)
        if step.proceed:
            # Validation reads what verification just recorded (the pinned bytes);
            # the pass still writes against the status it started from.
            verified = view.status.model_copy(update=dict(results[verified_at].status))
            step, finished_pods = await self._validation(
                body, dataclasses.replace(view, status=verified)
            )
            results.append(step)
            if step.reverify:
                # The bytes fetched for validation were not the verified ones: hash them
                # again now, so ArtifactVerified says what the store holds.
                body, view, rechecked, _ = await self._verification(
                    body, view, results[:verified_at], periodic=False, force=True
                )
                results[verified_at] = rechecked

        stage: lifecycle.StageDecision | None = None
        precondition: str | None = None
        if results[0].proceed:  # the Model exists: its policy decides the stage
            stage, precondition = await self._lifecycle(body, view, results)
            results.append(stage.result)

        decision = compose.compose(view, results, OWNED, informational=lifecycle.CONDITIONS)
        await self._write(body, view.status, decision, resource_version=precondition)
        metrics.pass_decided(decision.status, decision.retry)
        if stage is not None and stage.release_production:
            await self._production.release(view)
        # Only once their results are in status: a restart in between runs nothing twice.
        for pod in finished_pods:
            await self._cluster.delete_pod(view.namespace, pod.name, pod.uid)
        return PassOutcome(retry=decision.retry)

    async def _lifecycle(
        self, body: Body, view: VersionView, results: list[StepResult]
    ) -> tuple[lifecycle.StageDecision, str | None]:
        """The stage to grant; with Production taken now, the precondition of the write."""
        model = self._catalog.model(view.namespace, view.model)
        policy = lifecycle.Policy.of(_parsed(ModelPolicy, model.policy if model else None))
        decided = {c.type: c for r in results for c in r.conditions}

        def status_of(condition_type: str) -> str:
            if condition_type in decided:
                return decided[condition_type].status
            found = cond.find(view.status.conditions, condition_type)
            return found.status if found is not None else "Unknown"

        validated = status_of(VALIDATED)
        lock = lock_of({"status": {"production": model.production if model else None}})
        holder = Holder(lock.holder, lock.uid) if lock.holder and lock.uid else None
        incoming = lock.incoming
        observed = lifecycle.Observed(
            policy=policy,
            verified=status_of(ARTIFACT_VERIFIED) == "True",
            validated=validated,
            validated_since=_since(view, VALIDATED, decided) if validated == "True" else None,
            holder=holder,
            incoming=Holder(incoming.name, incoming.uid) if incoming else None,
            over_limit=view.uid in self._limits.get((view.namespace, view.model), frozenset()),
            signed=status_of(SIGNATURE_VERIFIED),
            signing_key=_signing_key(view, results),
        )
        # The stage to grant may be the policy's own (autoStaging), not spec.stage.
        wanted = lifecycle.target(view, observed)[0]
        if wanted in policy.approval_for:
            observed = dataclasses.replace(
                observed, admission_problem=await self._admission.problem()
            )
        compared: Compared | None = None
        rule = policy.must_beat
        if rule is not None and wanted == "Production" and view.status.stage != "Production":
            beaten = await self._champion(view, model, rule)
            compared = Compared(beaten.uid) if rule.against == champion.HOLDER else None
            observed = dataclasses.replace(
                observed,
                champion=beaten,
                # Only scores measured on this metric, against the version compared with.
                checks=measured_results(
                    _validation(view, results).checks, rule.metric, beaten.name
                ),
                builtin_checks=_gate_checks(view, model),
            )
        # The number this pass assigned, for the history entry and the Event.
        number = next((r.status["version"] for r in results if "version" in r.status), None)
        if number is not None:
            view = dataclasses.replace(
                view, status=view.status.model_copy(update={"version": number})
            )
        stage = lifecycle.decide(view, observed)
        if not stage.take_production:
            return stage, None
        taken = await self._production.acquire(view, policy, compared)
        if isinstance(taken, HolderChanged):
            raise ConflictError(
                f"Model {view.model!r}: Production is held by {taken.holder or 'nobody'} now, "
                "not the version the champion gate compared with; looking again"
            )
        if isinstance(taken, Busy):
            if taken.holder is None and taken.incoming is None:
                raise ConflictError(f"Model {view.model!r} is gone; looking again")
            kept = dataclasses.replace(
                observed, holder=taken.holder or holder, incoming=taken.incoming
            )
            return lifecycle.decide(view, kept), None
        return stage, str(body["metadata"]["resourceVersion"])

    async def _champion(
        self, view: VersionView, model: ModelEntry | None, rule: champion.Rule
    ) -> champion.Champion:
        """The version to beat, read afresh: the holder the Model's lock names, or an alias's."""
        if rule.against == champion.HOLDER:
            role = "the Production holder"
            fresh = await self._cluster.get_model(view.namespace, view.model)
            if fresh is None:
                raise ConflictError(f"Model {view.model!r} is gone; looking again")
            lock = lock_of(fresh)
            if lock.holder is None or lock.uid is None or lock.uid == view.uid:
                return champion.Champion(role, why_none="no other version holds Production")
            name, uid = lock.holder, lock.uid
        else:
            role = f"alias {rule.against!r}"
            number = mapping(model.aliases if model else None).get(rule.against)
            if not isinstance(number, int):
                return champion.Champion(role, why_none=f"{role} is not set")
            found = [
                e for e in self._catalog.versions(view.namespace, view.model) if e.version == number
            ]
            if not found:
                return champion.Champion(
                    role, problem=f"{role} names version {number}, which does not exist"
                )
            if found[0].uid == view.uid:
                return champion.Champion(role, why_none=f"{role} names this version")
            name, uid = found[0].name, found[0].uid
        body = await self._cluster.get_version(view.namespace, name)
        if body is None or body["metadata"].get("uid") != uid:
            if rule.against == champion.HOLDER:
                return champion.Champion(role, why_none=f"the holder {name} is gone")
            return champion.Champion(role, problem=f"{role} names {name}, which is gone")
        return champion.Champion(role, name=name, uid=uid, metrics=_metrics(body))

    async def _verification(
        self,
        body: Body,
        view: VersionView,
        earlier: list[StepResult],
        *,
        periodic: bool,
        force: bool = False,
    ) -> tuple[Body, VersionView, StepResult, tuple[FileDigest, ...] | None]:
        """Hash the bytes when due; the view returned is the baseline for the final write.

        Also returns the files as hashed on this pass (None when not hashed).
        """
        spec, status = view.spec, view.status
        # Events and retries hash what is not verified yet; the periodic pass also
        # re-checks verified bytes whose interval has passed.
        due = (
            force
            or not verification.is_verified(spec, status)
            or (
                periodic
                and verification.reverification_due(status, view.now, self._reverify_interval)
            )
        )
        if not due:
            return body, view, verification.unchanged(view), None
        read = ReadProgress()
        hashing = asyncio.create_task(self._hash(view, read))
        if cond.find(status.conditions, ARTIFACT_VERIFIED) is None:
            # First verification: bytes hashed quickly go straight into the final
            # write; a long read is announced while the bytes stream.
            try:
                if await _long_read(hashing, read):
                    progress = compose.compose(view, [*earlier, verification.hashing(view)], OWNED)
                    written = await self._write(body, status, progress)
                    if written is not None:
                        body = written
                    view = dataclasses.replace(view, status=progress.status)
            except BaseException:
                hashing.cancel()
                raise
        hashed = await hashing
        view = dataclasses.replace(view, now=self._clock())
        uid = body["metadata"]["uid"]
        decided = verification.decide(view, hashed, self._unreadable.get(uid))
        metrics.verification(decided.result.conditions, decided.unreadable)
        if decided.unreadable is not None:
            self._unreadable[uid] = decided.unreadable
        else:
            self._unreadable.pop(uid, None)
        files = hashed.artifact.files if isinstance(hashed.artifact, ArtifactDigest) else None
        return body, view, decided.result, files

    async def _signature(
        self, view: VersionView, verified: StepResult, hashed: tuple[FileDigest, ...] | None
    ) -> StepResult:
        """The signature over the files the bytes step verified (this pass's, or its record's)."""
        status = view.status.model_copy(update=dict(verified.status))
        assert status.artifact is not None  # the bytes step proceeds only with a record
        return await self._signatures.check(
            dataclasses.replace(view, status=status), status.artifact, hashed
        )

    async def _validation(
        self, body: Body, view: VersionView
    ) -> tuple[StepResult, tuple[PodRef, ...]]:
        """Run the planned checks: metrics here, the rest in the run's Pod.

        Returns the step and the Pods to delete once the pass has written status.
        """
        meta = body["metadata"]
        model = self._catalog.model(view.namespace, view.model)
        plan = plan_for(
            view.spec.validation,
            _parsed(Validation, model.default_validation if model else None),
            _parsed(ValidationPolicy, model.validation_policy if model else None),
        )
        # A compare check scores another version too: which one is part of the plan.
        plan = await with_targets(plan, view, self._catalog, self._cluster)
        current = view.status.validation
        pod: Body | None = None
        if current is not None and current.pod_name is not None:
            pod = self._catalog.pod(meta["uid"], current.pod_name)
            if pod is None and current.finished_at is None:
                # Not in the index: just created, or really gone? Ask.
                pod = await self._cluster.get_pod(view.namespace, current.pod_name)
        annotations = mapping(meta.get("annotations"))
        token = annotations.get(validation.REVALIDATE_ANNOTATION)
        decided = validation.decide(
            view,
            validation.Observed(
                plan,
                token if isinstance(token, str) else None,
                read_pod(pod) if pod is not None else None,
                view.spec.metrics or {},
                tuple(read_pod(p) for p in self._catalog.pods_of(meta["uid"])),
            ),
        )
        for stale in decided.delete_now:
            await self._cluster.delete_pod(view.namespace, stale.name, stale.uid)
        if decided.create_pod and decided.status is not None:
            decided = await self._create_pod(view, plan, decided)
        return decided.result, decided.delete_pods

    async def _create_pod(
        self, view: VersionView, plan: Plan, decided: validation.ValidationDecision
    ) -> validation.ValidationDecision:
        """Create the run's Pod in the namespace's box; record it, or refuse it if altered."""
        assert decided.status is not None
        datasets = await read_datasets(plan, view.namespace, view.spec, self._hash_one)
        if isinstance(datasets, DatasetProblem):
            return validation.inputs_unavailable(
                view, decided, datasets.check, datasets.message, transient=datasets.transient
            )
        manifest = build_pod(view, view.uid, decided.status, plan, self._pod_settings, datasets)
        await self._sandbox.ensure(view.namespace)
        try:
            created = await self._cluster.create_pod(view.namespace, manifest)
        except ObjectRefusedError as refused:
            return validation.pod_refused(view, decided, str(refused))
        decided = validation.pod_created(view, decided, plan, manifest, created)
        for altered in decided.delete_now:
            await self._cluster.delete_pod(view.namespace, altered.name, altered.uid)
        return decided

    async def _hash(self, view: VersionView, read: ReadProgress) -> Hashed:
        """Hash the artifact, then each component, one after the other."""
        spec, status, namespace = view.spec, view.status, view.namespace
        model = self._catalog.model(namespace, view.model)
        accepts = model is not None and model.accept_store_checksum
        artifact = await self._hash_one(
            namespace,
            spec.artifact,
            "spec.artifact",
            verification.store_checksum_stands_for(spec.artifact, status.artifact, accepts),
            read,
        )
        components = [
            await self._hash_one(
                namespace,
                c.artifact,
                f"spec.components[{i}].artifact",
                verification.store_checksum_stands_for(
                    c.artifact, verification.component_record(status, c.name), accepts
                ),
                read,
            )
            for i, c in enumerate(spec.components)
        ]
        return Hashed(artifact, tuple(components))

    async def _hash_one(
        self,
        namespace: str,
        artifact: Artifact,
        field: str,
        checksum_may_prove: str | None,
        read: ReadProgress,
    ) -> Outcome:
        if is_oci(artifact.uri):
            return await verify_oci(self._cluster, self._oci, namespace, artifact, field, read)
        credentials = None
        secret = artifact.storage.secret_ref if artifact.storage else None
        if secret is not None:
            try:
                credentials = await self._cluster.read_credentials(
                    namespace, secret.name, f"{field}.storage.secretRef.name"
                )
            except CredentialsError as error:
                endpoint = self._verifier.endpoint_for(artifact)
                return failure_from_error(error, artifact, endpoint, field)
        return await self._verifier.verify(artifact, credentials, field, checksum_may_prove, read)

    async def _write(
        self,
        body: Body,
        current: ModelVersionStatus,
        decision: Decision,
        *,
        resource_version: str | None = None,
    ) -> Body | None:
        """Write the decided status where it differs and post its Events.

        With `resource_version`, only if the object is still that version (the
        write that says Production). Returns the object as written (None when
        nothing was written, or it is gone).
        """
        meta = body["metadata"]
        patch = merge_patch(baseline(body, current), dump_status(decision.status))
        written: Body | None = None
        if patch:
            written = await self._cluster.patch_status(
                MODELVERSIONS,
                meta["namespace"],
                meta["name"],
                patch,
                resource_version=resource_version,
            )
            self.status_writes += 1
            if written is not None:
                metrics.version_written(current, decision.status)
                self._catalog.wrote(written)
                if decision.status.version is not None:
                    self._numbers.recorded(meta["uid"])
        for event in decision.events:
            logger.debug("%s Event %s: %s", event.type, event.reason, event.message)
            await self._cluster.post_event(body, event)
        return written


async def _long_read(hashing: asyncio.Task[Hashed], read: ReadProgress) -> bool:
    """Wait for `hashing`; True (and it still runs) once it shows itself a long read."""
    waited = 0.0
    while waited < PROGRESS_AT_THE_LATEST:
        done, _ = await asyncio.wait({hashing}, timeout=PROGRESS_AFTER)
        if done:
            return False
        waited += PROGRESS_AFTER
        if verification.read_is_long(*read.seen()):
            return True
    return True


def _claim(body: Body) -> numbering.Claim:
    entry = version_entry(body)
    if entry is None:  # parse_spec succeeded, so modelRef is there
        raise InvalidObjectError("spec.modelRef.name is missing")
    return entry.claim


def _validation(view: VersionView, results: list[StepResult]) -> ValidationStatus:
    """The validation run as this pass left it."""
    for result in results:
        if "validation" in result.status:
            return result.status["validation"] or ValidationStatus()
    return view.status.validation or ValidationStatus()


def _gate_checks(view: VersionView, model: ModelEntry | None) -> frozenset[str]:
    """The compare checks of the version's plan whose scores the champion gate may read."""
    plan = plan_for(
        view.spec.validation,
        _parsed(Validation, model.default_validation if model else None),
        _parsed(ValidationPolicy, model.validation_policy if model else None),
    )
    return gate_checks(plan)


def _metrics(body: Body) -> dict[str, float]:
    """A version's declared spec.metrics, as numbers."""
    declared = mapping(mapping(body.get("spec")).get("metrics"))
    return {
        str(k): float(v)
        for k, v in declared.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


ParsedT = TypeVar("ParsedT", Validation, ValidationPolicy, ModelPolicy)


def _parsed(model: type[ParsedT], raw: object) -> ParsedT | None:
    """A Model's validation settings as the API types read them (None when absent or unreadable)."""
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        logger.warning("ignoring an unreadable %s in a Model's spec", model.__name__)
        return None


def _signing_key(view: VersionView, results: list[StepResult]) -> str | None:
    """The fingerprint of the key the signature verified with, as this pass recorded it."""
    record = next(
        (r.status["artifact_signature"] for r in results if "artifact_signature" in r.status),
        view.status.artifact_signature,
    )
    return record.key_fingerprint if record is not None else None


def _since(
    view: VersionView, condition_type: str, decided: Mapping[str, DesiredCondition]
) -> datetime:
    """When the condition took the status this pass gives it: now, if this pass changed it."""
    old = cond.find(view.status.conditions, condition_type)
    new = decided.get(condition_type)
    if old is not None and (new is None or new.status == old.status):
        return cond.parse_time(old.last_transition_time)
    return view.now
