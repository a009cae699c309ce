"""Informers of a resource the cluster may not have: given up on a 403 or 404 instead of retried,
watched once discovery says it is served, forgotten when its CRD goes, each change said once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from modelregistry.decisions.optionalapi import INFERENCE_SERVICES, REFUSALS, State
from modelregistry.errors import ClusterError
from modelregistry.informer import Grouped, Informer
from modelregistry.optionalinformer import Discovery, OptionalInformer
from tests.unit.test_informer import FakeServer, Recorder, groups, keyed, obj, page, run

Body = dict[str, Any]
PATH = INFERENCE_SERVICES.collection(None)
SERVED: Body = {
    "resources": [{"name": "inferenceservices", "verbs": ["get", "list", "watch", "create"]}]
}
INTERVAL = 10.0


class Stop(Exception):
    """Ends a run() that would otherwise look again for good."""


class FakeCluster(FakeServer):
    """The informer's fake server, with discovery answers served in order (the last repeats)."""

    def __init__(self, *answers: Body | Exception | None) -> None:
        super().__init__()
        self.answers = list(answers)
        self.asked = 0

    async def api_resources(self, group_version: str) -> Body | None:
        assert group_version == "serving.kserve.io/v1beta1"
        self.asked += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def refused(status: int) -> ClusterError:
    return ClusterError(f"listing {PATH}: the API server answered {status}", status)


class Clock:
    """Monotonic time that moves only when the code under test sleeps."""

    def __init__(self, sleeps_allowed: int = 20) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._left = sleeps_allowed

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self._left == 0:
            raise Stop
        self._left -= 1
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def optional(
    cluster: FakeCluster, recorder: Recorder, clock: Clock, namespace: str | None = None
) -> tuple[OptionalInformer, Grouped[tuple[str, str], str]]:
    index: Grouped[tuple[str, str], str] = Grouped()
    informer = Informer(
        cluster,
        INFERENCE_SERVICES.collection(namespace),
        "InferenceService",
        INFERENCE_SERVICES.group_version,
        index,
        keyed,
        recorder.on_event,
        recorder.on_deleted,
        clock.sleep,
        give_up_on=REFUSALS,
    )
    discovery = Discovery(cluster, INFERENCE_SERVICES, INTERVAL, clock)
    return OptionalInformer(
        informer, INFERENCE_SERVICES, namespace, discovery, INTERVAL, clock.sleep
    ), index


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "modelregistry.optionalinformer"]


async def until_watching(cluster: FakeCluster, task: asyncio.Task[None]) -> None:
    await asyncio.wait(
        [task, asyncio.ensure_future(cluster.idle.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    task.cancel()
    with pytest.raises((asyncio.CancelledError, Stop)):
        await task


# --- the informer gives up on what it is told to ---------------------------------------------


@pytest.mark.parametrize("status", [403, 404])
def test_an_informer_gives_up_on_a_refused_list_instead_of_retrying(status: int) -> None:
    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [refused(status), page([], "1")]
        informer = Informer(
            cluster, PATH, "InferenceService", "v", Grouped(), keyed,
            recorder.on_event, recorder.on_deleted, clock.sleep, give_up_on=REFUSALS,
        )  # fmt: skip
        with pytest.raises(ClusterError) as raised:
            await informer.load()
        assert raised.value.status == status
        assert clock.slept == [] and len(cluster.calls) == 1

    run(scenario())


def test_without_being_told_an_informer_retries_a_403() -> None:
    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [refused(403), page([obj("a", "1")], "1")]
        informer = Informer(
            cluster, PATH, "InferenceService", "v", Grouped(), keyed,
            recorder.on_event, recorder.on_deleted, clock.sleep,
        )  # fmt: skip
        assert [i["metadata"]["uid"] for i in await informer.load()] == ["a"]
        assert len(clock.slept) == 1

    run(scenario())


def test_a_404_on_the_watch_ends_run_and_the_next_run_lists_afresh() -> None:
    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [page([obj("a", "1")], "10"), page([obj("a", "1")], "30")]
        cluster.watches = [[{"type": "ADDED", "object": obj("b", "11")}], refused(404)]
        informer = Informer(
            cluster, PATH, "InferenceService", "v", Grouped(), keyed,
            recorder.on_event, recorder.on_deleted, clock.sleep, give_up_on=REFUSALS,
        )  # fmt: skip
        await informer.load()
        with pytest.raises(ClusterError):
            await informer.run()
        task = asyncio.create_task(informer.run())
        await until_watching(cluster, task)
        kinds = [c[0] for c in cluster.calls]
        assert kinds == ["list", "watch", "watch", "list", "watch"]
        assert cluster.calls[-1][2] == "30"  # watched from the new list

    run(scenario())


def test_an_error_event_carries_its_code_and_is_given_up_on_when_told() -> None:
    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [page([], "1")]
        cluster.watches = [[{"type": "ERROR", "object": {"code": 403, "message": "forbidden"}}]]
        informer = Informer(
            cluster, PATH, "InferenceService", "v", Grouped(), keyed,
            recorder.on_event, recorder.on_deleted, clock.sleep, give_up_on=REFUSALS,
        )  # fmt: skip
        await informer.load()
        with pytest.raises(ClusterError) as raised:
            await informer.run()
        assert raised.value.status == 403 and "forbidden" in str(raised.value)

    run(scenario())


def test_forget_all_hands_every_known_object_on_as_deleted_and_empties_the_index() -> None:
    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [page([obj("a", "1"), obj("b", "2", model="n"), obj("c", "3")], "10")]
        index: Grouped[tuple[str, str], str] = Grouped()
        informer = Informer(
            cluster, PATH, "InferenceService", "v", index, keyed,
            recorder.on_event, recorder.on_deleted, clock.sleep,
        )  # fmt: skip
        await informer.load()
        await informer.forget_all()
        assert sorted(recorder.seen) == [
            ("GONE", "a ('ns', 'm') a@1"),
            ("GONE", "b ('ns', 'n') b@2"),
            ("GONE", "c ('ns', 'm') c@3"),
        ]
        assert groups(index) == {}

    run(scenario())


# --- watched only while it can be -------------------------------------------------------------


def test_not_served_at_start_nothing_is_listed_and_that_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(None), Recorder(), Clock(sleeps_allowed=5)
        inf, _ = optional(cluster, recorder, clock)
        assert await inf.load() == []
        assert inf.state is State.NOT_SERVED
        with pytest.raises(Stop):
            await inf.run()
        assert cluster.calls == []  # never listed
        assert clock.slept == [INTERVAL] * 5
        assert cluster.asked == 6  # once at start, once per interval

    run(scenario())
    assert said(caplog) == [
        "InferenceServices are not watched: the API server does not serve "
        "serving.kserve.io/v1beta1 (the CRD inferenceservices.serving.kserve.io is not "
        "installed); looking again every 10 s, and they are watched once it is"
    ]


def test_a_crd_installed_later_is_listed_handed_on_and_watched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(None, None, None, SERVED), Recorder(), Clock()
        cluster.lists = [page([obj("a", "1")], "10")]
        inf, index = optional(cluster, recorder, clock)
        assert await inf.load() == []
        task = asyncio.create_task(inf.run())
        await until_watching(cluster, task)
        assert clock.slept == [INTERVAL] * 3
        assert recorder.seen == [("ADDED", "a")]
        assert groups(index) == {("ns", "m"): ["a@1"]}
        assert [c[0] for c in cluster.calls] == ["list", "watch"]
        assert inf.state is State.WATCHED

    run(scenario())
    assert said(caplog)[1:] == [
        "InferenceServices are served (serving.kserve.io/v1beta1): watching them in any namespace"
    ]


def test_served_at_start_it_is_listed_with_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [page([obj("a", "1"), obj("b", "2")], "10")]
        inf, _ = optional(cluster, recorder, clock, namespace="team-a")
        items = await inf.load()
        assert [i["metadata"]["uid"] for i in items] == ["a", "b"]
        assert recorder.seen == []  # handed on by the caller, after every list
        await inf.hand_on(items)
        assert recorder.seen == [("ADDED", "a"), ("ADDED", "b")]
        assert cluster.calls[0][1] == INFERENCE_SERVICES.collection("team-a")

    run(scenario())
    assert said(caplog) == [
        "InferenceServices are served (serving.kserve.io/v1beta1): watching them in namespace "
        "team-a"
    ]


def test_forbidden_is_said_once_with_the_rule_and_watched_once_granted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock()
        cluster.lists = [refused(403), refused(403), refused(403), page([obj("a", "1")], "10")]
        inf, _ = optional(cluster, recorder, clock, namespace="team-a")
        assert await inf.load() == []
        assert inf.state is State.FORBIDDEN
        task = asyncio.create_task(inf.run())
        await until_watching(cluster, task)
        assert clock.slept == [INTERVAL] * 3  # a LIST per interval, not a hot loop
        assert recorder.seen == [("ADDED", "a")]

    run(scenario())
    messages = said(caplog)
    assert len(messages) == 2, messages
    assert messages[0].startswith("InferenceServices are not watched in namespace team-a")
    rule = "grant it get, list, watch on inferenceservices in apiGroup serving.kserve.io"
    assert rule in messages[0]
    assert messages[1].startswith("InferenceServices are served")
    assert [r.levelname for r in caplog.records if r.getMessage() == messages[0]] == ["WARNING"]


def test_forbidden_while_watched_keeps_what_it_knew(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED), Recorder(), Clock(sleeps_allowed=2)
        cluster.lists = [page([obj("a", "1")], "10"), refused(403), refused(403)]
        cluster.watches = [refused(403)]
        inf, index = optional(cluster, recorder, clock)
        await inf.hand_on(await inf.load())
        with pytest.raises(Stop):
            await inf.run()
        assert inf.state is State.FORBIDDEN
        assert groups(index) == {("ns", "m"): ["a@1"]}
        assert ("GONE", "a ('ns', 'm') a@1") not in recorder.seen

    run(scenario())


def test_a_crd_deleted_while_watched_forgets_its_objects_and_waits_for_it_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        cluster, recorder, clock = FakeCluster(SERVED, None), Recorder(), Clock(sleeps_allowed=3)
        cluster.lists = [page([obj("a", "1"), obj("b", "2")], "10")]
        cluster.watches = [refused(404)]
        inf, index = optional(cluster, recorder, clock)
        await inf.hand_on(await inf.load())
        with pytest.raises(Stop):
            await inf.run()
        assert inf.state is State.NOT_SERVED
        assert groups(index) == {}
        assert sorted(recorder.seen)[:2] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
        ]
        assert sorted(s for s in recorder.seen if s[0] == "GONE") == [
            ("GONE", "a ('ns', 'm') a@1"),
            ("GONE", "b ('ns', 'm') b@2"),
        ]
        # Asked again at once after the 404 (not from the cache), then each interval.
        assert cluster.asked == 1 + 3

    run(scenario())
    messages = said(caplog)
    assert len(messages) == 2, messages
    assert messages[1].startswith("InferenceServices are not watched: the API server does not")


def test_discovery_is_asked_at_most_once_per_half_interval_for_every_namespace() -> None:
    async def scenario() -> None:
        cluster, clock = FakeCluster(None), Clock()
        discovery = Discovery(cluster, INFERENCE_SERVICES, INTERVAL, clock)
        for _ in range(5):  # five namespaces' informers, at one moment
            assert not await discovery.served()
        assert cluster.asked == 1
        clock.now += INTERVAL / 2
        assert not await discovery.served()
        assert cluster.asked == 2
        discovery.ask_again()
        await discovery.served()
        assert cluster.asked == 3

    run(scenario())


def test_discovery_that_fails_keeps_the_last_answer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        failed = ClusterError("discovering: the API server did not answer")
        cluster, clock = FakeCluster(SERVED, failed, failed, None), Clock()
        discovery = Discovery(cluster, INFERENCE_SERVICES, INTERVAL, clock)
        assert await discovery.served()
        clock.now += INTERVAL
        assert await discovery.served()  # no answer: still as it was
        assert await discovery.served()  # and asked again, not cached
        assert cluster.asked == 3
        assert not await discovery.served()
        assert not await Discovery(FakeCluster(failed), INFERENCE_SERVICES, 1, clock).served()

    run(scenario())
    assert len(said(caplog)) == 1  # only the change to not served
