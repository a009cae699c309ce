"""The lifecycle step in the reconciler, on the in-memory API server: stages granted, the
Production lock taken before the write that says Production, hand-overs, races, restarts,
revocation, the admission check and the version limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelregistry import admission
from modelregistry.decisions.passdata import Event
from modelregistry.errors import ConflictError
from modelregistry.reconciler import Operator
from modelregistry.reconciler.admission import FRESH_FOR, AdmissionCheck
from modelregistry.settings import Settings
from tests.unit.memorycluster import FixedVerifier, MemoryCluster

NOW = datetime(2030, 1, 1, tzinfo=UTC)
NOW_TEXT = "2030-01-01T00:00:00Z"
Body = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def created(i: int) -> str:
    return (NOW + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def install_admission(cluster: MemoryCluster, operator: str, *, actions: str = "Deny") -> None:
    for manifest in admission.manifests(operator):
        if manifest["kind"] == "ValidatingAdmissionPolicy":
            cluster.add_cluster_object("validatingadmissionpolicies", manifest)
        elif manifest["kind"] == "ValidatingAdmissionPolicyBinding":
            manifest["spec"]["validationActions"] = [actions]
            cluster.add_cluster_object("validatingadmissionpolicybindings", manifest)


class Registry:
    """Model 'fraud' with `policy`, the admission policies installed, and an operator."""

    def __init__(
        self,
        policy: Body | None = None,
        aliases: dict[str, int] | None = None,
        *,
        installed: bool = True,
        **settings: str,
    ) -> None:
        self.cluster = MemoryCluster()
        self.verifier = FixedVerifier()
        self.clock = Clock()
        # Model summaries are refreshed only when a test says so.
        self.settings = Settings.from_environment(
            {
                "MODELREGISTRY_MODEL_REFRESH_WINDOW": "3600",
                "MODELREGISTRY_RETRY_BASE_DELAY": "30",
                **settings,
            }
        )
        spec: Body = {}
        if policy is not None:
            spec["policy"] = policy
        if aliases is not None:
            spec["aliases"] = aliases
        self.cluster.add("models", "fraud", spec, created(0))
        if installed:
            install_admission(self.cluster, self.cluster.user)
        self.operator: Operator | None = None

    def start(self) -> Operator:
        self.operator = Operator(
            self.cluster, self.verifier, self.cluster.catalog(), self.settings, clock=self.clock
        )
        return self.operator

    async def restart(self) -> Operator:
        await self.close()
        return self.start()

    async def close(self) -> None:
        if self.operator is not None:
            await self.operator.close()

    def version(self, number: int, asked: str = "None") -> str:
        name = f"fraud-{number}"
        spec = {
            "modelRef": {"name": "fraud"},
            "artifact": {"uri": f"s3://models/fraud/{number}.bin"},
            "version": number,
            "stage": asked,
        }
        # Its number already recorded: the pass that grants a stage is its first write.
        self.cluster.add("modelversions", name, spec, created(number), {"version": number})
        return name

    def approve(self, name: str, user: str, *groups: str, stage: str = "Production") -> None:
        """`user` appends an approval, as the admission policy lets them."""
        approvals = self.status(name).get("approvals", [])
        entry = {"stage": stage, "user": user, "groups": list(groups), "time": NOW_TEXT}
        self.cluster.patch_status_as_someone_else(
            "modelversions", name, {"approvals": [*approvals, entry]}
        )

    def status(self, name: str) -> Body:
        return self.cluster.status("modelversions", name)

    def stage(self, name: str) -> str | None:
        return self.status(name).get("stage")

    def granted(self, name: str) -> tuple[str, str, str]:
        found = next(c for c in self.status(name)["conditions"] if c["type"] == "StageGranted")
        return found["status"], found["reason"], found["message"]

    def lock(self) -> Body | None:
        production: Body | None = self.cluster.status("models", "fraud").get("production")
        return production or None

    def writes_to(self, name: str) -> int:
        return sum(
            1 for plural, n, _ in self.cluster.writes if plural == "modelversions" and n == name
        )

    def events(self, name: str, reason: str) -> list[Event]:
        return [e for n, e in self.cluster.events if n == name and e.reason == reason]

    def most_holders_at_once(self) -> int:
        """Replaying every status write in order: the most versions that said Production."""
        stages: dict[str, str | None] = {}
        most = 0
        for plural, name, status in self.cluster.writes:
            if plural == "modelversions":
                stages[name] = status.get("stage")
                most = max(most, sum(s == "Production" for s in stages.values()))
        return most


async def kicked(operator: Operator) -> None:
    """Until every pass kicked to run at once (not a retry after a backoff) has run."""
    loop = asyncio.get_running_loop()
    requeue = operator.requeue
    for _ in range(100):
        await asyncio.sleep(0)
        due = [t for t in requeue._timers.values() if t.when() <= loop.time()]
        if requeue._tasks:
            await asyncio.gather(*list(requeue._tasks))
        elif not due:
            return
    raise AssertionError("passes kept being kicked")


def history(name: str, *moves: tuple[str, str, str, str | None, str]) -> list[Body]:
    """History entries at NOW: (from, to, reason, actor, message), generation 1."""
    entries = []
    for from_stage, to, reason, actor, message in moves:
        entry: Body = {"time": NOW_TEXT, "from": from_stage, "to": to}
        if actor is not None:
            entry["actor"] = actor
        entries.append({**entry, "reason": reason, "message": message, "generation": 1})
    return entries


def held_by(holder: str) -> str:
    return (
        f"ModelVersion {holder} holds Production (Model 'fraud', "
        "spec.policy.productionHandover: wait): set its spec.stage to Archived (or to "
        "Staging), or set the handover to replace."
    )


def moved(number: int, current: str, to: str) -> str:
    return f"Version {number} of Model 'fraud': {current} -> {to}."


APPROVAL_POLICY = {
    "approval": {"requiredFor": ["Production"], "approvers": ["alice", "sre"], "minApprovals": 2}
}


# --- stages granted -------------------------------------------------------------------


def test_staging_is_granted_in_the_version_s_one_status_write() -> None:
    async def scenario() -> None:
        r = Registry()
        name = r.version(1, "Staging")
        operator = r.start()

        await r.cluster.settle(operator)

        status = r.status(name)
        assert status["stage"] == "Staging"
        assert r.granted(name) == ("True", "Granted", "Staging is granted.")
        assert status["history"] == history(
            name, ("None", "Staging", "Granted", None, moved(1, "None", "Staging"))
        )
        assert "deletionProtection" not in status
        assert r.writes_to(name) == 1
        assert r.events(name, "Granted") == [
            Event("Normal", "Granted", moved(1, "None", "Staging"), action="Promote")
        ]
        assert r.lock() is None
        await r.close()

    run(scenario)


def test_production_waits_for_its_approvals_then_takes_the_lock_before_it_says_production() -> None:
    async def scenario() -> None:
        r = Registry(APPROVAL_POLICY)
        name = r.version(1, "Production")
        operator = r.start()
        await r.cluster.settle(operator)
        asking = (
            "Production needs 2 approvals from alice, sre given since the version became "
            "Validated{}: modelregistry approve fraud-1 --stage Production --comment '...'"
        )
        assert r.granted(name) == ("False", "ApprovalRequired", asking.format(""))
        assert r.stage(name) == "None"

        r.approve(name, "alice")
        r.approve(name, "carol")  # not an approver of this Model
        await r.cluster.settle(operator)
        assert r.granted(name) == ("False", "ApprovalRequired", asking.format("; has 1 (alice)"))

        r.approve(name, "bob", "sre")
        before = len(r.cluster.writes)
        await r.cluster.settle(operator)

        assert [(p, n) for p, n, _ in r.cluster.writes[before:]] == [
            ("models", "fraud"),
            ("modelversions", name),
        ]
        assert r.lock() == {"holder": name, "uid": f"uid-{name}", "since": NOW_TEXT}
        status = r.status(name)
        assert status["stage"] == "Production"
        assert r.granted(name) == ("True", "Granted", "Production is granted.")
        assert status["history"] == history(
            name, ("None", "Production", "Granted", "alice, bob", moved(1, "None", "Production"))
        )
        assert status["deletionProtection"] == {"reason": "Production"}
        await r.close()

    run(scenario)


def test_production_in_wait_mode_waits_for_the_holder_and_the_model_event_wakes_it() -> None:
    async def scenario() -> None:
        r = Registry()
        first = r.version(1, "Production")
        operator = r.start()
        await r.cluster.settle(operator)
        second = r.version(2, "Production")
        await r.cluster.settle(operator)
        assert (r.stage(first), r.stage(second)) == ("Production", "None")
        assert r.granted(second) == ("False", "ProductionHeld", held_by(first))

        r.cluster.edit_spec("modelversions", first, stage="Staging")
        await r.cluster.settle(operator)
        assert (r.stage(first), r.lock()) == ("Staging", None)
        assert r.stage(second) == "None"  # nothing told it yet

        await r.cluster.deliver_models(operator)
        await kicked(operator)

        assert r.stage(second) == "Production"
        assert r.lock() == {"holder": second, "uid": f"uid-{second}", "since": NOW_TEXT}
        assert r.most_holders_at_once() == 1
        await r.close()

    run(scenario)


def test_replace_archives_the_holder_before_the_newcomer_says_production() -> None:
    async def scenario() -> None:
        r = Registry({"productionHandover": "replace"})
        first = r.version(1, "Production")
        operator = r.start()
        await r.cluster.settle(operator)
        second = r.version(2, "Production")
        before = len(r.cluster.writes)

        await r.cluster.settle(operator)

        handover = [(p, n, s.get("stage")) for p, n, s in r.cluster.writes[before:]]
        assert handover[:4] == [
            ("models", "fraud", None),  # the newcomer named incoming
            ("modelversions", first, "Archived"),  # the holder fenced
            ("models", "fraud", None),  # the newcomer named holder
            ("modelversions", second, "Production"),
        ]
        replaced = (
            f"ModelVersion {second} took Production (spec.policy.productionHandover: replace); "
            "version 1 was archived."
        )
        assert r.status(first)["history"] == history(
            first,
            ("None", "Production", "Granted", None, moved(1, "None", "Production")),
            ("Production", "Archived", "Replaced", second, replaced),
        )
        assert r.granted(first) == (
            "False",
            "Replaced",
            f"{replaced} Change spec.stage (to Staging, say, then Production) to ask for "
            "Production again.",
        )
        assert "deletionProtection" not in r.status(first)
        assert r.lock() == {"holder": second, "uid": f"uid-{second}", "since": NOW_TEXT}
        assert r.most_holders_at_once() == 1
        await r.close()

    run(scenario)


def test_a_stale_production_write_fails_on_its_precondition_so_never_two_say_production() -> None:
    async def scenario() -> None:
        r = Registry({"productionHandover": "replace"})
        first, second = r.version(1, "Production"), r.version(2, "Production")
        operator = r.start()

        async def second_gets_in_first(plural: str, name: str, patch: Body) -> None:
            # The first holds the lock and is about to say Production: the second takes over.
            if (name, patch.get("stage")) == (first, "Production"):
                r.cluster.before_write = None
                await operator.versions.reconcile(
                    r.cluster.objects[("modelversions", second)], fresh=False
                )

        r.cluster.before_write = second_gets_in_first
        with pytest.raises(ConflictError):
            await operator.versions.reconcile(
                r.cluster.objects[("modelversions", first)], fresh=False
            )

        assert (r.stage(first), r.stage(second)) == ("None", "Production")
        assert r.lock() == {"holder": second, "uid": f"uid-{second}", "since": NOW_TEXT}
        assert r.cluster.calls["conflict modelversions/status"] == 1
        assert r.most_holders_at_once() == 1
        await r.close()

    run(scenario)


def test_a_restart_after_the_lock_was_taken_writes_production_without_taking_it_again() -> None:
    async def scenario() -> None:
        r = Registry()
        name = r.version(1, "Production")
        lock = {"holder": name, "uid": f"uid-{name}", "since": "2029-12-31T00:00:00Z"}
        r.cluster.patch_status_as_someone_else("models", "fraud", {"production": lock})
        operator = r.start()

        await r.cluster.settle(operator)

        assert r.stage(name) == "Production"
        assert r.lock() == lock
        assert [p for p, _, _ in r.cluster.writes] == ["modelversions"]
        await r.close()

    run(scenario)


def test_a_restart_in_the_middle_of_a_hand_over_carries_it_through() -> None:
    async def scenario() -> None:
        r = Registry({"productionHandover": "replace"})
        first = r.version(1, "Production")
        operator = r.start()
        await r.cluster.settle(operator)
        # The newcomer named itself incoming; then the operator stopped.
        second = r.version(2, "Production")
        lock = r.lock()
        assert lock is not None
        incoming = {**lock, "incoming": {"name": second, "uid": f"uid-{second}"}}
        r.cluster.patch_status_as_someone_else("models", "fraud", {"production": incoming})
        operator = await r.restart()
        before = len(r.cluster.writes)

        await r.cluster.settle(operator)

        assert [(p, n, s.get("stage")) for p, n, s in r.cluster.writes[before:]][:3] == [
            ("modelversions", first, "Archived"),
            ("models", "fraud", None),
            ("modelversions", second, "Production"),
        ]
        assert r.lock() == {"holder": second, "uid": f"uid-{second}", "since": NOW_TEXT}
        assert r.most_holders_at_once() == 1
        await r.close()

    run(scenario)


def test_leaving_production_writes_the_version_then_releases_the_lock() -> None:
    async def scenario() -> None:
        r = Registry({"archivedRetentionDays": 30})
        name = r.version(1, "Production")
        operator = r.start()
        await r.cluster.settle(operator)
        r.cluster.edit_spec("modelversions", name, stage="Archived")
        before = len(r.cluster.writes)

        await r.cluster.settle(operator)

        assert [(p, n) for p, n, _ in r.cluster.writes[before:]] == [
            ("modelversions", name),
            ("models", "fraud"),
        ]
        assert r.lock() is None
        status = r.status(name)
        assert status["stage"] == "Archived"
        assert status["deletionProtection"] == {
            "reason": "Retention",
            "until": "2030-01-31T00:00:00Z",
        }
        assert status["history"][-1] == {
            "time": NOW_TEXT,
            "from": "Production",
            "to": "Archived",
            "reason": "Granted",
            "message": moved(1, "Production", "Archived"),
            "generation": 2,
        }
        await r.close()

    run(scenario)


def test_retention_ended_the_periodic_pass_clears_the_protection() -> None:
    async def scenario() -> None:
        # Bytes re-checked monthly: only the retention makes the version due.
        r = Registry({"archivedRetentionDays": 1}, MODELREGISTRY_REVERIFY_INTERVAL=str(30 * 86400))
        name = r.version(1, "Archived")
        operator = r.start()
        await r.cluster.settle(operator)
        until = {"reason": "Retention", "until": "2030-01-02T00:00:00Z"}
        assert r.status(name)["deletionProtection"] == until

        r.clock.now = NOW + timedelta(hours=23)
        assert await operator.periodic_pass() == 0
        r.clock.now = NOW + timedelta(days=1)
        assert await operator.periodic_pass() == 1

        assert "deletionProtection" not in r.status(name)
        assert r.stage(name) == "Archived"
        await r.close()

    run(scenario)


def test_a_tampered_production_version_loses_production_at_once_and_says_so() -> None:
    async def scenario() -> None:
        r = Registry()
        name = r.version(1, "Production")
        operator = r.start()
        await r.cluster.settle(operator)
        assert r.lock() is not None

        r.verifier.hexdigest = "b" * 64
        r.clock.now = NOW + timedelta(hours=2)
        await operator.versions.reconcile(
            r.cluster.objects[("modelversions", name)], fresh=False, periodic=True
        )

        status = r.status(name)
        message = (
            "Production needs verified bytes, and ArtifactVerified is not True: see its "
            "message. Production was taken away."
        )
        lost = f"Version 1 of Model 'fraud' lost Production: {message}"
        assert status["stage"] == "None"
        assert r.granted(name) == ("False", "NotVerified", message)
        assert status["history"][-1] == {
            "time": "2030-01-01T02:00:00Z",
            "from": "Production",
            "to": "None",
            "reason": "StageRevoked",
            "message": lost,
            "generation": 1,
        }
        assert "deletionProtection" not in status
        assert r.events(name, "StageRevoked") == [
            Event("Warning", "StageRevoked", lost, action="Promote")
        ]
        assert r.lock() is None
        await r.close()

    run(scenario)


# --- approvals are trusted only behind the admission policy --------------------------------


INSTALL = (
    "Install the CRDs' admission policies (kubectl apply -f crds/, or the chart) for an "
    "operator running as {}."
)


def missing(name: str) -> str:
    return (
        f"The admission policy {name} (or its binding) is not installed, so nothing checks who "
        "wrote an approval: no gated stage is granted. " + INSTALL.format("me")
    )


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda c: c.cluster_objects.clear(), missing("modelregistry-approvals")),
        (
            lambda c: c.cluster_objects.pop(
                ("validatingadmissionpolicies", "modelregistry-approvals")
            ),
            missing("modelregistry-approvals"),
        ),
        (
            lambda c: c.cluster_objects.pop(
                ("validatingadmissionpolicybindings", "modelregistry-history")
            ),
            missing("modelregistry-history"),
        ),
        (
            lambda c: install_admission(c, "me", actions="Audit"),
            "The binding of admission policy modelregistry-approvals does not Deny. "
            + INSTALL.format("me"),
        ),
        (
            lambda c: install_admission(c, "someone-else"),
            "The admission policy modelregistry-approvals exempts someone-else, not this one "
            "(me): approvals are not counted. " + INSTALL.format("me"),
        ),
    ],
)
def test_without_the_admission_policy_that_checks_them_approvals_grant_nothing(
    tamper: Callable[[MemoryCluster], object], expected: str
) -> None:
    async def scenario() -> None:
        r = Registry({"approval": {"requiredFor": ["Production"]}}, installed=False)
        r.cluster.user = "me"
        install_admission(r.cluster, "me")
        tamper(r.cluster)
        name = r.version(1, "Production")
        r.approve(name, "alice")
        operator = r.start()

        await r.cluster.settle(operator)

        assert r.granted(name) == ("False", "AdmissionPolicyMissing", expected)
        assert r.stage(name) == "None"
        await r.close()

    run(scenario)


def test_with_the_policy_in_place_the_same_approval_grants_production() -> None:
    async def scenario() -> None:
        r = Registry({"approval": {"requiredFor": ["Production"]}})
        name = r.version(1, "Production")
        r.approve(name, "alice")
        operator = r.start()

        await r.cluster.settle(operator)

        assert r.stage(name) == "Production"
        await r.close()

    run(scenario)


def test_auto_staging_behind_approvals_also_needs_the_admission_policy() -> None:
    async def scenario() -> None:
        policy = {"promotion": {"autoStaging": True}, "approval": {"requiredFor": ["Staging"]}}
        r = Registry(policy, installed=False)
        name = r.version(1)
        r.approve(name, "alice", stage="Staging")
        operator = r.start()

        await r.cluster.settle(operator)

        assert r.granted(name)[:2] == ("False", "AdmissionPolicyMissing")
        assert r.stage(name) == "None"
        await r.close()

    run(scenario)


# --- the version limit ----------------------------------------------------------------


def test_the_version_limit_archives_the_oldest_that_ask_for_nothing_and_spares_the_rest() -> None:
    async def scenario() -> None:
        r = Registry({"versionLimit": 3}, aliases={"champion": 4})
        names = [r.version(i, "Production" if i == 2 else "None") for i in range(1, 9)]
        operator = r.start()
        await r.cluster.settle(operator)
        assert {n: r.stage(n) for n in names} == {
            n: "Production" if n == "fraud-2" else "None" for n in names
        }

        await operator.models.refresh("team-a", "fraud")
        await kicked(operator)
        await r.cluster.settle(operator)

        archived = ["fraud-1", "fraud-3", "fraud-5", "fraud-6", "fraud-7"]
        assert {n: r.stage(n) for n in names} == {
            **{n: "Archived" for n in archived},
            "fraud-2": "Production",
            "fraud-4": "None",
            "fraud-8": "None",
        }
        limit_message = (
            "Archived: Model 'fraud' keeps at most its spec.policy.versionLimit active versions, "
            "and this is one of the oldest that ask for no stage. Set spec.stage to Staging to "
            "bring it back."
        )
        for n in archived:
            number = int(n.split("-")[1])
            assert r.granted(n) == ("False", "VersionLimit", limit_message)
            assert r.status(n)["history"] == history(
                n,
                (
                    "None",
                    "Archived",
                    "VersionLimit",
                    "policy:versionLimit",
                    moved(number, "None", "Archived"),
                ),
            )
            assert r.events(n, "VersionLimit") == [
                Event("Normal", "VersionLimit", moved(number, "None", "Archived"), action="Promote")
            ]
        # One write from create to Ready for a version that asks for nothing, one more to archive.
        assert {n: r.writes_to(n) for n in names} == {
            **{n: 2 for n in archived},
            "fraud-2": 1,
            "fraud-4": 1,
            "fraud-8": 1,
        }

        # Within the limit now: nothing more is archived, and the archived stay so.
        await operator.models.refresh("team-a", "fraud")
        assert operator.models.over_limit[("team-a", "fraud")] == frozenset()
        operator = await r.restart()
        await operator.periodic_pass()
        assert [r.stage(n) for n in archived] == ["Archived"] * 5
        assert {n: r.writes_to(n) for n in archived} == {n: 2 for n in archived}
        await r.close()

    run(scenario)


def test_what_the_admission_check_found_is_kept_for_a_while() -> None:
    async def scenario() -> None:
        cluster = MemoryCluster()
        seconds = [0.0]
        check = AdmissionCheck(cluster, clock=lambda: seconds[0])

        first = await check.problem()
        install_admission(cluster, cluster.user)
        seconds[0] = FRESH_FOR - 0.5
        kept = await check.problem()
        seconds[0] = FRESH_FOR
        again = await check.problem()

        assert first is not None and first.startswith(
            "The admission policy modelregistry-approvals"
        )
        assert kept == first
        assert again is None
        assert cluster.calls["create selfsubjectreviews"] == 1
        assert cluster.calls["get validatingadmissionpolicies"] == 3  # one look each, two policies

    run(scenario)
