"""The required-metadata and champion gates in the reconciler, on the in-memory API server: the
version's own Model decides, the holder is read afresh when the gate runs, and a hand-over to
another holder meanwhile is looked at again, never fenced unseen."""

from __future__ import annotations

from typing import Any

from tests.unit.test_reconciler_lifecycle import NOW_TEXT, Registry, created, kicked, run

Body = dict[str, Any]
CHAMPION = {"production": {"mustBeat": {"metric": "auc", "by": 0.005}}}


def registry(policy: Body, aliases: dict[str, int] | None = None) -> Registry:
    return Registry(policy, aliases)


def version(r: Registry, number: int, asked: str = "None", **spec: Any) -> str:
    name = r.version(number, asked)
    r.cluster.objects[("modelversions", name)]["spec"].update(spec)
    return name


def condition(r: Registry, name: str, kind: str) -> tuple[str, str, str] | None:
    found = next((c for c in r.status(name).get("conditions", []) if c["type"] == kind), None)
    return (found["status"], found["reason"], found["message"]) if found else None


def test_the_first_version_passes_and_the_next_must_beat_it_by_the_margin() -> None:
    async def scenario() -> None:
        r = registry({**CHAMPION, "productionHandover": "replace"})
        first = version(r, 1, "Production", metrics={"auc": 0.9})
        operator = r.start()
        await r.cluster.settle(operator)
        assert r.stage(first) == "Production"
        assert r.granted(first)[2] == (
            "Production is granted: auc 0.9; there is no version to beat (no other version "
            "holds Production)."
        )
        assert r.status(first)["comparison"] == {
            "metric": "auc",
            "candidate": 0.9,
            "by": 0.005,
            "source": "Declared",
            "passed": True,
        }

        close = version(r, 2, "Production", metrics={"auc": 0.903})
        await r.cluster.settle(operator)
        assert (r.stage(first), r.stage(close)) == ("Production", "None")
        assert r.granted(close)[:2] == ("False", "ChampionNotBeaten")
        assert r.status(close)["comparison"] == {
            "metric": "auc",
            "candidate": 0.903,
            "against": 0.9,
            "againstVersion": first,
            "by": 0.005,
            "source": "Declared",
            "passed": False,
        }

        better = version(r, 3, "Production", metrics={"auc": 0.91})
        await r.cluster.settle(operator)
        assert (r.stage(first), r.stage(better)) == ("Archived", "Production")
        assert r.granted(better)[2] == (
            "Production is granted: auc 0.91 beats 0.9 (fraud-1, the Production holder) by "
            "0.01, at least 0.005 asked."
        )
        assert r.lock() == {"holder": better, "uid": f"uid-{better}", "since": NOW_TEXT}
        await r.close()

    run(scenario)


def test_the_holder_is_read_with_a_get_when_the_gate_runs() -> None:
    async def scenario() -> None:
        r = registry({**CHAMPION, "productionHandover": "replace"})
        first = version(r, 1, "Production", metrics={"auc": 0.9})
        operator = r.start()
        await r.cluster.settle(operator)
        second = version(r, 2, "Production", metrics={"auc": 0.95})
        reads = r.cluster.calls["get modelversions"]

        await r.cluster.settle(operator)

        assert r.cluster.calls["get modelversions"] > reads  # the holder, for its metrics
        assert r.status(second)["comparison"]["againstVersion"] == first
        await r.close()

    run(scenario)


def test_a_holder_that_changed_after_the_comparison_is_not_fenced_unseen() -> None:
    async def scenario() -> None:
        r = registry({**CHAMPION, "productionHandover": "replace"})
        first = version(r, 1, "Production", metrics={"auc": 0.9})
        operator = r.start()
        await r.cluster.settle(operator)
        strong = version(r, 2, metrics={"auc": 0.99})
        await r.cluster.settle(operator)
        weak = version(r, 3, "Production", metrics={"auc": 0.92})
        reads_of_the_model = 0
        get_model = r.cluster.get_model

        async def handed_over_meanwhile(namespace: str, name: str) -> Body | None:
            # The gate's read sees fraud-1; by the lock's own read, fraud-2 holds it.
            nonlocal reads_of_the_model
            reads_of_the_model += 1
            if reads_of_the_model == 2:
                model = r.cluster.objects[("models", "fraud")]
                model["status"]["production"] = {"holder": strong, "uid": f"uid-{strong}"}
                model["metadata"]["resourceVersion"] = r.cluster._next_revision()
                r.cluster.objects[("modelversions", strong)]["status"]["stage"] = "Production"
            return await get_model(namespace, name)

        r.cluster.get_model = handed_over_meanwhile  # type: ignore[method-assign]
        await r.cluster.deliver(operator)

        assert r.stage(weak) is None  # the pass wrote nothing
        assert r.stage(strong) == "Production"
        assert r.stage(first) == "Production"  # not fenced by a version that never beat fraud-2
        assert operator.requeue.pending(f"uid-{weak}")
        r.cluster.get_model = get_model  # type: ignore[method-assign]

        operator.requeue.now("team-a", weak, f"uid-{weak}")  # its retry, without the wait
        await kicked(operator)
        await r.cluster.settle(operator)

        assert r.stage(weak) == "None"
        assert r.granted(weak)[:2] == ("False", "ChampionNotBeaten")
        assert r.status(weak)["comparison"]["againstVersion"] == strong
        await r.close()

    run(scenario)


def test_against_an_alias_the_aliased_version_is_the_one_to_beat() -> None:
    async def scenario() -> None:
        policy = {
            "production": {
                "mustBeat": {
                    "metric": "latency_ms",
                    "by": 5,
                    "lowerIsBetter": True,
                    "against": "champion",
                }
            }
        }
        r = registry(policy, {"champion": 1})
        version(r, 1, metrics={"latency_ms": 50})
        slow = version(r, 2, "Production", metrics={"latency_ms": 48})
        fast = version(r, 3, "Production", metrics={"latency_ms": 40})
        operator = r.start()

        await r.cluster.settle(operator)

        assert r.granted(slow)[:2] == ("False", "ChampionNotBeaten")
        assert "latency_ms below 50 (fraud-1, alias 'champion')" in r.granted(slow)[2]
        assert r.stage(fast) == "Production"
        assert r.granted(fast)[2] == (
            "Production is granted: latency_ms 40 beats 50 (fraud-1, alias 'champion') by 10, at "
            "least 5 asked."
        )
        await r.close()

    run(scenario)


def test_an_alias_naming_no_version_refuses_production() -> None:
    async def scenario() -> None:
        policy = {"production": {"mustBeat": {"metric": "auc", "against": "champion"}}}
        r = registry(policy, {"champion": 7})
        name = version(r, 1, "Production", metrics={"auc": 0.9})
        operator = r.start()

        await r.cluster.settle(operator)

        assert r.granted(name) == (
            "False",
            "ChampionNotBeaten",
            "Production needs auc to beat alias 'champion' (the Model's "
            "spec.policy.production.mustBeat), and alias 'champion' names version 7, which does "
            "not exist: point the alias at a version, or change the policy.",
        )
        await r.close()

    run(scenario)


def test_a_version_created_before_its_model_is_marked_when_a_stricter_model_arrives() -> None:
    async def scenario() -> None:
        r = Registry()
        cluster = r.cluster
        cluster.delete("models", "fraud")
        version(r, 1, "Staging", metrics={"auc": 0.9})
        operator = r.start()
        await cluster.settle(operator)
        assert condition(r, "fraud-1", "ModelFound")[:2] == ("False", "ModelNotFound")  # type: ignore[index]

        policy = {"requiredMetadata": ["metrics.f1", "lineage.datasets[].version"]}
        cluster.add("models", "fraud", {"policy": policy}, created(0))
        await cluster.deliver_models(operator)
        await kicked(operator)
        await cluster.settle(operator)

        assert ("modelversions", "fraud-1") in cluster.objects  # kept
        assert condition(r, "fraud-1", "MetadataComplete")[:2] == ("False", "MetadataIncomplete")  # type: ignore[index]
        assert r.granted("fraud-1")[:2] == ("False", "MetadataMissing")
        assert "the spec lacks metrics.f1, lineage.datasets[].version" in r.granted("fraud-1")[2]
        assert r.stage("fraud-1") == "None"
        assert condition(r, "fraud-1", "Ready")[0] == "True"  # type: ignore[index]
        assert [e.reason for e in r.events("fraud-1", "MetadataIncomplete")] == [
            "MetadataIncomplete"
        ]
        await r.close()

    run(scenario)
