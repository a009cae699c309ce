"""The Model's Production lock, taken and released with preconditions (in-memory API server)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import Any

import pytest

from modelregistry.api.lifecycle import ProductionLock
from modelregistry.decisions.lifecycle import Holder, Policy
from modelregistry.decisions.passdata import VersionView
from modelregistry.errors import ConflictError
from modelregistry.reconciler import production
from modelregistry.reconciler.production import Busy, ProductionLocks, Taken, lock_of
from tests.unit.memorycluster import MemoryCluster

from .builders import NOW, NOW_TEXT, make_spec, make_view

Body = dict[str, Any]
ME = Holder("fraud-3", "uid-fraud-3")
HOLDER = Holder("fraud-1", "uid-fraud-1")
NEWCOMER = Holder("fraud-9", "uid-fraud-9")
REPLACE = Policy(handover="replace")
CREATED = "2030-01-01T00:00:00Z"


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


def spec(stage: str = "None") -> Body:
    return {"modelRef": {"name": "fraud"}, "artifact": {"uri": "s3://models/m.bin"}, "stage": stage}


class Registry:
    """A cluster with Model 'fraud' and the locks of one operator over it."""

    def __init__(self, lock: Body | None = None) -> None:
        self.cluster = MemoryCluster()
        self.cluster.add("models", "fraud", {}, CREATED, {"production": lock} if lock else None)
        self.written: list[tuple[tuple[str, str], Body]] = []
        self.locks = ProductionLocks(
            self.cluster, lambda: NOW, lambda key, body: self.written.append((key, body))
        )

    def version(self, holder: Holder, asked: str, stage: str | None, **status: Any) -> None:
        body = self.cluster.add(
            "modelversions",
            holder.name,
            spec(asked),
            CREATED,
            {"version": int(holder.name.split("-")[1]), "stage": stage, **status},
        )
        self.cluster.objects[("modelversions", holder.name)]["metadata"]["uid"] = holder.uid
        assert body["metadata"]["name"] == holder.name

    def lock(self) -> Body | None:
        status: Body = self.cluster.status("models", "fraud")
        return status.get("production")

    def written_to(self) -> list[tuple[str, str]]:
        return [(plural, name) for plural, name, _ in self.cluster.writes]


def view(holder: Holder = ME, asked: str = "Production") -> VersionView:
    spec_ = make_spec().model_copy(update={"stage": asked})
    return dataclasses.replace(make_view(spec_), name=holder.name, uid=holder.uid)


def lock(holder: Holder | None = None, incoming: Holder | None = None) -> Body:
    body: Body = {}
    if holder is not None:
        body.update(holder=holder.name, uid=holder.uid, since="2029-12-31T00:00:00Z")
    if incoming is not None:
        body["incoming"] = {"name": incoming.name, "uid": incoming.uid}
    return body


MINE = {"holder": "fraud-3", "uid": "uid-fraud-3", "since": NOW_TEXT}


# --- acquire --------------------------------------------------------------------------


def test_a_free_lock_is_taken_with_one_write_that_others_learn_of() -> None:
    async def scenario() -> None:
        r = Registry()

        assert await r.locks.acquire(view(), Policy()) == Taken()

        assert r.lock() == MINE
        assert r.written_to() == [("models", "fraud")]
        assert [(key, body["status"]["production"]) for key, body in r.written] == [
            (("team-a", "fraud"), MINE)
        ]

    run(scenario())


def test_a_lock_already_held_is_taken_without_a_write() -> None:
    async def scenario() -> None:
        r = Registry(lock(ME))

        assert await r.locks.acquire(view(), Policy()) == Taken()

        assert r.cluster.writes == []

    run(scenario())


@pytest.mark.parametrize(("asked", "stage"), [("Staging", "Production"), ("Production", None)])
def test_a_holder_that_holds_or_still_asks_keeps_the_lock_while_the_policy_waits(
    asked: str, stage: str | None
) -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER))
        r.version(HOLDER, asked, stage)

        assert await r.locks.acquire(view(), Policy()) == Busy(holder=HOLDER)

        assert r.cluster.writes == []
        assert r.lock() == lock(HOLDER)

    run(scenario())


def test_replace_names_the_newcomer_fences_the_holder_then_hands_over_in_that_order() -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER))
        r.version(HOLDER, "Production", "Production")

        assert await r.locks.acquire(view(), REPLACE) == Taken()

        assert r.written_to() == [
            ("models", "fraud"),
            ("modelversions", "fraud-1"),
            ("models", "fraud"),
        ]
        (_, _, named), (_, _, fenced), (_, _, handed) = r.cluster.writes
        assert named["production"] == {**lock(HOLDER), "incoming": {"name": ME.name, "uid": ME.uid}}
        assert fenced == {
            "version": 1,
            "stage": "Archived",
            "history": [
                {
                    "time": NOW_TEXT,
                    "from": "Production",
                    "to": "Archived",
                    "actor": "fraud-3",
                    "reason": "Replaced",
                    "message": "ModelVersion fraud-3 took Production "
                    "(spec.policy.productionHandover: replace); version 1 was archived.",
                    "generation": 1,
                }
            ],
        }
        assert handed["production"] == MINE
        assert len(r.written) == 2  # both Model writes are known to the other writers

    run(scenario())


def test_a_holder_that_left_production_is_fenced_for_the_lock_even_when_the_policy_waits() -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER))
        r.version(HOLDER, "Staging", "Staging")

        assert await r.locks.acquire(view(), Policy()) == Taken()

        assert r.lock() == MINE
        fenced = r.cluster.status("modelversions", "fraud-1")
        assert fenced["stage"] == "Staging"
        assert [(e["from"], e["to"], e["reason"], e["message"]) for e in fenced["history"]] == [
            (
                "Staging",
                "Staging",
                "Replaced",
                "ModelVersion fraud-3 took the Production lock, which this version held without "
                "holding Production.",
            )
        ]

    run(scenario())


def test_a_holder_that_is_gone_or_was_recreated_is_not_fenced() -> None:
    async def scenario() -> None:
        gone = Registry(lock(HOLDER))
        recreated = Registry(lock(HOLDER))
        recreated.version(Holder(HOLDER.name, "uid-new"), "Production", "Production")

        for r in (gone, recreated):
            assert await r.locks.acquire(view(), REPLACE) == Taken()
            assert r.written_to() == [("models", "fraud")]
            assert r.lock() == MINE
        assert recreated.cluster.status("modelversions", "fraud-1")["stage"] == "Production"

    run(scenario())


def test_a_holder_the_operator_cannot_read_is_not_fenced_but_loses_the_lock() -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER))
        r.version(HOLDER, "Production", "Production")
        del r.cluster.objects[("modelversions", "fraud-1")]["spec"]["artifact"]

        assert await r.locks.acquire(view(), REPLACE) == Taken()

        assert r.written_to() == [("models", "fraud"), ("models", "fraud")]
        assert r.lock() == MINE

    run(scenario())


def test_a_hand_over_under_way_keeps_others_out_while_its_newcomer_still_asks() -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER, NEWCOMER))
        r.version(HOLDER, "Production", "Production")
        r.version(NEWCOMER, "Production", None)

        assert await r.locks.acquire(view(), REPLACE) == Busy(incoming=NEWCOMER)

        assert r.cluster.writes == []

    run(scenario())


@pytest.mark.parametrize("newcomer", ["gone", "asks for Staging now"])
def test_a_hand_over_whose_newcomer_gave_up_is_cleared_first(newcomer: str) -> None:
    async def scenario() -> None:
        r = Registry(lock(None, NEWCOMER))
        if newcomer != "gone":
            r.version(NEWCOMER, "Staging", None)

        assert await r.locks.acquire(view(), Policy()) == Taken()

        (_, _, cleared), (_, _, taken) = r.cluster.writes
        assert lock_of({"status": cleared}) == ProductionLock()
        assert taken["production"] == MINE

    run(scenario())


def test_the_newcomer_of_a_hand_over_carries_it_on_after_a_restart() -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER, ME))
        r.version(HOLDER, "Production", "Production")

        assert await r.locks.acquire(view(), REPLACE) == Taken()

        assert r.written_to() == [("modelversions", "fraud-1"), ("models", "fraud")]
        assert r.cluster.status("modelversions", "fraud-1")["stage"] == "Archived"
        assert r.lock() == MINE

    run(scenario())


def test_a_newcomer_that_finds_the_holder_asking_again_steps_back_and_clears_its_claim() -> None:
    async def scenario() -> None:
        # The holder had left Production, a newcomer named itself, then the holder asked again.
        r = Registry(lock(HOLDER, ME))
        r.version(HOLDER, "Production", "Staging")

        assert await r.locks.acquire(view(), Policy()) == Busy(holder=HOLDER)
        assert r.lock() == lock(HOLDER)
        # ... so the holder is not kept waiting on a newcomer that waits on it.
        holder = view(HOLDER)
        assert await r.locks.acquire(holder, Policy()) == Taken()

    run(scenario())


def test_no_model_no_lock() -> None:
    async def scenario() -> None:
        r = Registry()
        r.cluster.delete("models", "fraud")

        assert await r.locks.acquire(view(), Policy()) == Busy()

    run(scenario())


def another_writer_first(r: Registry, plural: str, times: int) -> None:
    """Before each of the next `times` writes to `plural`, another writer changes the object."""
    left = [times]

    async def interfere(written: str, name: str, patch: Body) -> None:
        if written == plural and left[0] > 0:
            left[0] -= 1
            r.cluster.objects[(plural, name)]["metadata"]["resourceVersion"] += "0"

    r.cluster.before_write = interfere


def test_a_model_written_meanwhile_is_read_again() -> None:
    async def scenario() -> None:
        r = Registry()
        another_writer_first(r, "models", 2)

        assert await r.locks.acquire(view(), Policy()) == Taken()

        assert r.cluster.calls["conflict models/status"] == 2
        assert r.lock() == MINE

    run(scenario())


def test_a_holder_written_meanwhile_fails_its_fence_and_the_hand_over_starts_again() -> None:
    async def scenario() -> None:
        r = Registry(lock(HOLDER))
        r.version(HOLDER, "Production", "Production")
        another_writer_first(r, "modelversions", 1)

        assert await r.locks.acquire(view(), REPLACE) == Taken()

        assert r.cluster.calls["conflict modelversions/status"] == 1
        assert r.written_to() == [
            ("models", "fraud"),
            ("modelversions", "fraud-1"),
            ("models", "fraud"),
        ]
        assert len(r.cluster.status("modelversions", "fraud-1")["history"]) == 1

    run(scenario())


def test_a_lock_that_keeps_changing_is_given_up_on_with_a_conflict() -> None:
    async def scenario() -> None:
        r = Registry()
        another_writer_first(r, "models", production.MAX_TRIES)

        with pytest.raises(ConflictError, match="Production lock kept changing"):
            await r.locks.acquire(view(), Policy())

        assert r.cluster.calls["conflict models/status"] == production.MAX_TRIES
        assert r.lock() is None

    run(scenario())


# --- release --------------------------------------------------------------------------


def test_leaving_production_frees_the_lock() -> None:
    async def scenario() -> None:
        r = Registry(lock(ME))

        await r.locks.release(view())

        assert r.lock() is None
        assert r.written_to() == [("models", "fraud")]
        assert len(r.written) == 1

    run(scenario())


@pytest.mark.parametrize("held", [lock(HOLDER), lock(ME, NEWCOMER), lock()])
def test_a_lock_that_is_not_ours_or_is_being_handed_over_is_left_alone(held: Body) -> None:
    async def scenario() -> None:
        r = Registry(held or None)

        await r.locks.release(view())

        assert r.cluster.writes == []

    run(scenario())


def test_releasing_without_a_model_does_nothing() -> None:
    async def scenario() -> None:
        r = Registry(lock(ME))
        r.cluster.delete("models", "fraud")

        await r.locks.release(view())

    run(scenario())


def test_a_release_that_meets_another_write_tries_again() -> None:
    async def scenario() -> None:
        r = Registry(lock(ME))
        another_writer_first(r, "models", 1)

        await r.locks.release(view())

        assert r.lock() is None

    run(scenario())


def test_a_release_that_keeps_meeting_other_writes_gives_up_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        r = Registry(lock(ME))
        another_writer_first(r, "models", production.MAX_TRIES)

        await r.locks.release(view())

        assert r.lock() == lock(ME)

    run(scenario())
    assert "could not release the Production lock of Model fraud" in caplog.text


def test_a_lock_the_operator_cannot_read_is_no_lock() -> None:
    model = {"status": {"production": {"holder": 7, "surprise": True}}}

    assert lock_of(model) == ProductionLock()
    assert lock_of({}) == ProductionLock()
