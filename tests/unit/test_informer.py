"""The informers: LIST then WATCH, the index they keep, and what they hand on, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

import pytest

from modelregistry.cluster import split_lines
from modelregistry.errors import ClusterError, WatchExpiredError
from modelregistry.informer import (
    BACKOFF_SECONDS,
    LIST_PAGE,
    WATCH_SECONDS,
    Grouped,
    Informer,
    Known,
    Watches,
    in_scope,
    is_pattern,
    relisted,
)

Body = dict[str, Any]
PATH = "/apis/modelregistry.io/v1alpha1/modelversions"


def obj(uid: str, rv: str, model: str = "m", namespace: str = "ns", **extra: Any) -> Body:
    return {
        "metadata": {"uid": uid, "resourceVersion": rv, "namespace": namespace, "name": uid},
        "spec": {"model": model},
        **extra,
    }


def keyed(body: Body) -> tuple[tuple[str, str], str] | None:
    model = body.get("spec", {}).get("model")
    if model is None:
        return None
    meta = body["metadata"]
    return (meta["namespace"], model), f"{meta['name']}@{meta['resourceVersion']}"


class FakeServer:
    """LIST pages and WATCH streams, served in the order given; records every call."""

    def __init__(self) -> None:
        self.lists: list[list[Body] | Exception] = []
        self.watches: list[list[Body] | Exception] = []
        self.calls: list[tuple[str, ...]] = []
        self.selectors: list[tuple[str, str]] = []  # (list or watch, the label selector sent)
        self.idle = asyncio.Event()

    async def list_page(
        self, path: str, continue_token: str | None, limit: int, label_selector: str | None = None
    ) -> Body:
        self.calls.append(("list", path, str(continue_token), str(limit)))
        if label_selector is not None:
            self.selectors.append(("list", label_selector))
        page = self.lists.pop(0)
        if isinstance(page, Exception):
            raise page
        return page[0]

    async def watch(
        self,
        path: str,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> AsyncGenerator[Body, None]:
        self.calls.append(("watch", path, resource_version, str(timeout_seconds)))
        if label_selector is not None:
            self.selectors.append(("watch", label_selector))
        if not self.watches:
            self.idle.set()
            await asyncio.Event().wait()  # a quiet watch, until cancelled
        stream = self.watches.pop(0)
        if isinstance(stream, Exception):
            raise stream
        for event in stream:
            yield event


def page(items: list[Body], rv: str, more: str | None = None) -> list[Body]:
    meta: Body = {"resourceVersion": rv}
    if more:
        meta["continue"] = more
    return [{"metadata": meta, "items": items}]


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.index_at_event: list[list[str]] = []

    async def on_event(self, kind: str, body: Body) -> None:
        self.seen.append((kind, body["metadata"]["uid"]))

    async def on_deleted(self, uid: str, key: object, entry: object) -> None:
        self.seen.append(("GONE", f"{uid} {key} {entry}"))


def informer(
    server: FakeServer, recorder: Recorder, index: Grouped[tuple[str, str], str] | None = None
) -> tuple[Informer[tuple[str, str], str], Grouped[tuple[str, str], str], list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    index = index if index is not None else Grouped()
    return (
        Informer(
            server,
            PATH,
            "ModelVersion",
            "modelregistry.io/v1alpha1",
            index,
            keyed,
            recorder.on_event,
            recorder.on_deleted,
            sleep,
        ),
        index,
        slept,
    )


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, 10))


async def until_idle(server: FakeServer, task: asyncio.Task[None]) -> None:
    await server.idle.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def groups(index: Grouped[tuple[str, str], str]) -> dict[tuple[str, str], list[str]]:
    return {key: sorted(index[key]) for key in index}


# --- pure parts ----------------------------------------------------------------------


def test_split_lines_keeps_the_unfinished_line_and_skips_blank_ones() -> None:
    assert split_lines(b'{"a":1}\n\n{"b":2}\n{"c"') == ([b'{"a":1}', b'{"b":2}'], b'{"c"')
    assert split_lines(b"") == ([], b"")
    assert split_lines(b"partial") == ([], b"partial")
    assert split_lines(b"x\n") == ([b"x"], b"")
    assert split_lines(b" \n\t\ny\n") == ([b"y"], b"")


def test_relisted_names_what_changed_and_what_is_gone() -> None:
    known = {
        "a": Known("1", ("ns", "m"), "a@1"),
        "b": Known("2", ("ns", "m"), "b@2"),
        "c": Known("3", None, None),
    }
    diff = relisted(known, [obj("a", "1"), obj("b", "5"), obj("d", "6")])
    assert [i["metadata"] for i in diff.changed] == [
        obj("b", "5")["metadata"],
        obj("d", "6")["metadata"],
    ]
    assert diff.gone == {"c": Known("3", None, None)}


def test_grouped_reads_as_a_mapping_of_collections() -> None:
    index: Grouped[str, int] = Grouped()
    index.put("m", "u1", 1)
    index.put("m", "u2", 2)
    index.put("n", "u3", 3)
    index.put("m", "u1", 10)  # replaces
    assert sorted(index["m"]) == [2, 10]
    assert len(index) == 2 and set(index) == {"m", "n"}
    index.drop("n", "u3")
    index.drop("n", "u3")  # twice is harmless
    index.drop("absent", "u9")
    assert set(index) == {"m"} and index.get("n") is None


# --- the informer ------------------------------------------------------------------------


def test_first_list_fills_the_index_over_pages_before_anything_is_handed_on() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [
            page([obj("a", "1"), obj("b", "2", model="n")], "", more="tok"),
            page([obj("c", "3"), {"metadata": {"uid": "x", "resourceVersion": "4"}}], "40"),
        ]
        inf, index, _ = informer(server, recorder)
        changed = await inf.load()
        assert recorder.seen == []  # nothing handed on by load()
        assert groups(index) == {("ns", "m"): ["a@1", "c@3"], ("ns", "n"): ["b@2"]}
        assert server.calls == [
            ("list", PATH, "None", str(LIST_PAGE)),
            ("list", PATH, "tok", str(LIST_PAGE)),
        ]
        # Items get the kind an Event names, when the list left it out.
        assert {(i["kind"], i["apiVersion"]) for i in changed} == {
            ("ModelVersion", "modelregistry.io/v1alpha1")
        }
        await inf.hand_on(changed)
        assert recorder.seen == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"), ("ADDED", "x")]

    run(scenario())


def test_the_watch_resumes_from_the_list_then_from_the_last_version_seen() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([obj("a", "1")], "10")]
        server.watches = [
            [
                {"type": "ADDED", "object": obj("b", "11")},
                {"type": "MODIFIED", "object": obj("a", "12", model="n")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
            ],
            [{"type": "DELETED", "object": obj("b", "16")}],
        ]
        inf, index, slept = informer(server, recorder)
        await inf.hand_on(await inf.load())
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        watches = [c for c in server.calls if c[0] == "watch"]
        assert [w[2] for w in watches] == ["10", "15", "16"]
        assert all(w[3] == str(WATCH_SECONDS) for w in watches)
        assert recorder.seen == [
            ("ADDED", "a"),
            ("ADDED", "b"),
            ("MODIFIED", "a"),
            ("GONE", "b ('ns', 'm') b@11"),
        ]
        # a moved to another Model: it left the first group, which is gone with b.
        assert groups(index) == {("ns", "n"): ["a@12"]}
        assert slept == []

    run(scenario())


def test_a_410_lists_again_and_hands_on_only_what_changed_and_what_went() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [
            page([obj("a", "1"), obj("b", "2"), obj("c", "3")], "10"),
            page([obj("a", "1"), obj("c", "7"), obj("d", "8")], "20"),
        ]
        server.watches = [
            [{"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}],
        ]
        inf, index, slept = informer(server, recorder)
        await inf.load()
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert recorder.seen == [
            ("GONE", "b ('ns', 'm') b@2"),
            ("ADDED", "c"),
            ("ADDED", "d"),
        ]
        assert groups(index) == {("ns", "m"): ["a@1", "c@7", "d@8"]}
        assert [c[2] for c in server.calls if c[0] == "watch"] == ["10", "20"]
        assert slept == []  # an expired watch lists again at once

    run(scenario())


def test_watches_expired_again_right_after_each_list_back_off() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        expired = [{"type": "ERROR", "object": {"code": 410, "message": "too old"}}]
        server.lists = [page([], str(rv)) for rv in (10, 20, 30, 40, 50)]
        bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "41"}}}
        server.watches = [expired, expired, expired, [bookmark], expired]
        inf, _, slept = informer(server, recorder)
        await inf.load()
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        # The first expiry lists at once, the ones right after wait longer each
        # time; a watch that ran resets that.
        assert slept == [BACKOFF_SECONDS[0], BACKOFF_SECONDS[1]]
        watched = [c[2] for c in server.calls if c[0] == "watch"]
        assert watched == ["10", "20", "30", "40", "41", "50"]

    run(scenario())


def test_an_expired_watch_raised_by_the_client_lists_again_too() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([], "10"), page([obj("a", "1")], "30")]
        server.watches = [WatchExpiredError("gone")]
        inf, _, slept = informer(server, recorder)
        await inf.load()
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert recorder.seen == [("ADDED", "a")]
        assert [c[2] for c in server.calls if c[0] == "watch"] == ["10", "30"]
        assert slept == []

    run(scenario())


def test_failures_back_off_doubling_and_a_good_watch_resets_the_wait() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [ClusterError("down"), ClusterError("down"), page([], "10")]
        server.watches = [
            ClusterError("reset"),
            [{"type": "ERROR", "object": {"code": 500, "message": "internal"}}],
            ClusterError("reset"),
            [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "11"}}}],
            ClusterError("reset"),
        ]
        inf, _, slept = informer(server, recorder)
        await inf.load()
        assert slept == list(BACKOFF_SECONDS[:2])
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert slept == [*BACKOFF_SECONDS[:2], *BACKOFF_SECONDS[:3], BACKOFF_SECONDS[0]]
        # Errors other than 410 resume from where the watch was: no new LIST.
        assert [c[0] for c in server.calls].count("list") == 3

    run(scenario())


def test_watches_that_end_empty_at_once_back_off_instead_of_looping_hot() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([], "10")]
        bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}}
        server.watches = [[], [], [bookmark], []]
        inf, _, slept = informer(server, recorder)
        await inf.load()
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        # Two empty ones wait longer each time; a bookmark is a watch that ran.
        assert slept == [BACKOFF_SECONDS[0], BACKOFF_SECONDS[1], BACKOFF_SECONDS[0]]
        assert [c[2] for c in server.calls if c[0] == "watch"] == ["10", "10", "10", "12", "12"]

    run(scenario())


def test_the_backoff_stops_growing_at_its_last_step() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        down: list[list[Body] | Exception] = [ClusterError("down")] * (len(BACKOFF_SECONDS) + 2)
        server.lists = [*down, page([], "1")]
        inf, _, slept = informer(server, recorder)
        await inf.load()
        assert slept == [*BACKOFF_SECONDS, BACKOFF_SECONDS[-1], BACKOFF_SECONDS[-1]]

    run(scenario())


def test_a_handler_that_raises_is_logged_and_the_watch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        server = FakeServer()
        seen: list[str] = []

        async def on_event(kind: str, body: Body) -> None:
            seen.append(body["metadata"]["uid"])
            if body["metadata"]["uid"] == "a":
                raise RuntimeError("boom")

        async def on_deleted(uid: str, key: object, entry: object) -> None:
            raise RuntimeError("bang")

        server.lists = [page([], "1")]
        server.watches = [
            [
                {"type": "ADDED", "object": obj("a", "2")},
                {"type": "ADDED", "object": obj("b", "3")},
                {"type": "DELETED", "object": obj("b", "4")},
                {"type": "ADDED", "object": obj("c", "5")},
            ]
        ]
        index: Grouped[tuple[str, str], str] = Grouped()
        inf = Informer(
            server, PATH, "ModelVersion", "v", index, keyed, on_event, on_deleted, asyncio.sleep
        )
        await inf.load()
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert seen == ["a", "b", "c"]
        assert groups(index) == {("ns", "m"): ["a@2", "c@5"]}

    run(scenario())
    messages = [r.getMessage() for r in caplog.records]
    assert "handling a ADDED event of ModelVersion failed" in messages
    assert "handling the deletion of ModelVersion b failed" in messages


def test_an_object_the_index_cannot_read_is_logged_and_the_rest_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def picky(body: Body) -> tuple[tuple[str, str], str] | None:
        if body["metadata"]["uid"] == "bad":
            raise ValueError("unreadable")
        return keyed(body)

    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([obj("a", "1"), obj("bad", "2"), obj("c", "3")], "5")]
        server.watches = [[{"type": "MODIFIED", "object": obj("bad", "6")}]]
        index: Grouped[tuple[str, str], str] = Grouped()
        inf = Informer(
            server, PATH, "ModelVersion", "v", index, picky, recorder.on_event, recorder.on_deleted
        )
        await inf.hand_on(await inf.load())
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert groups(index) == {("ns", "m"): ["a@1", "c@3"]}
        # Its pass still gets it, to say what is wrong.
        assert recorder.seen == [
            ("ADDED", "a"),
            ("ADDED", "bad"),
            ("ADDED", "c"),
            ("MODIFIED", "bad"),
        ]

    run(scenario())
    failures = [r for r in caplog.records if r.getMessage() == "ModelVersion bad cannot be indexed"]
    assert len(failures) == 2 and all(r.exc_info for r in failures)


def test_a_broken_stream_is_logged_and_listed_again(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([], "1"), page([obj("a", "9")], "9")]
        server.watches = [ValueError("not JSON")]  # anything unexpected
        inf, _, slept = informer(server, recorder)
        await inf.load()
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert recorder.seen == [("ADDED", "a")]
        assert slept == [BACKOFF_SECONDS[0]]

    run(scenario())
    assert any(
        r.getMessage() == f"watching {PATH} broke, listing again in {BACKOFF_SECONDS[0]:.1f} s"
        and r.exc_info
        for r in caplog.records
    )


def test_watches_list_models_then_versions_before_handing_anything_on() -> None:
    async def scenario() -> None:
        order: list[str] = []
        models_server, versions_server = FakeServer(), FakeServer()
        models_server.lists = [page([obj("m1", "1")], "5")]
        versions_server.lists = [page([obj("v1", "2"), obj("v2", "3")], "6")]
        model_index: Grouped[tuple[str, str], str] = Grouped()
        version_index: Grouped[tuple[str, str], str] = Grouped()

        def handler(name: str) -> Any:
            async def on_event(kind: str, body: Body) -> None:
                # Both indexes are full when the first event is handed on.
                order.append(f"{name}:{body['metadata']['uid']}:{len(version_index['ns', 'm'])}")

            return on_event

        async def on_deleted(uid: str, key: object, entry: object) -> None:
            pass

        models = Informer(
            models_server, "/m", "Model", "v", model_index, keyed, handler("model"), on_deleted
        )
        versions = Informer(
            versions_server,
            "/v",
            "ModelVersion",
            "v",
            version_index,
            keyed,
            handler("version"),
            on_deleted,
        )
        watches = Watches([models], [versions])
        task = asyncio.create_task(watches.run())
        await watches.synced.wait()
        assert order == ["model:m1:2", "version:v1:2", "version:v2:2"]
        await models_server.idle.wait()
        await versions_server.idle.wait()
        assert models_server.calls[-1] == ("watch", "/m", "5", str(WATCH_SECONDS))
        assert versions_server.calls[-1] == ("watch", "/v", "6", str(WATCH_SECONDS))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())


# --- namespace patterns --------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "pattern"),
    [("team-a", False), ("team-*", True), ("!kube-system", True), ("t?", True), ("a,b", True)],
)
def test_a_scope_entry_is_a_pattern_when_it_has_glob_or_exclusion_marks(
    scope: str, pattern: bool
) -> None:
    assert is_pattern(scope) is pattern


@pytest.mark.parametrize(
    ("namespace", "patterns", "inside"),
    [
        ("t-1", ["!mr-incluster-*"], True),
        ("mr-incluster-x", ["!mr-incluster-*"], False),
        ("team-a", ["team-*"], True),
        ("Team-a", ["team-*"], False),  # names are matched case-sensitively
        ("other", ["team-*"], False),
        ("other", ["team-*", "other"], True),  # any pattern of the list
        ("ab", ["a?"], True),
        ("abc", ["a?"], False),
        # Kopf's own examples: the first glob matches, later ones include again
        # only what it matched; a leading exclusion implies "*" before it.
        ("myapp-test", ["myapp-*, !*-pr-*, *pr-123"], True),
        ("myapp-pr-123", ["myapp-*, !*-pr-*, *pr-123"], True),
        ("myapp-pr-456", ["myapp-*, !*-pr-*, *pr-123"], False),
        ("otherapp-pr-123", ["myapp-*, !*-pr-*, *pr-123"], False),
        ("otherapp-pr-123", ["!*-pr-*, *pr-123"], True),
        ("myapp-pr-456", ["!*-pr-*, *pr-123"], False),
        ("anything", ["!*-pr-*, *pr-123"], True),
    ],
)
def test_namespaces_match_patterns_as_kopf_reads_them(
    namespace: str, patterns: list[str], inside: bool
) -> None:
    assert in_scope(namespace, patterns) is inside


def test_an_informer_with_a_namespace_filter_sees_only_those_namespaces() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([obj("a", "1", namespace="in"), obj("b", "2", namespace="out")], "5")]
        server.watches = [
            [
                {"type": "ADDED", "object": obj("c", "6", namespace="out")},
                {"type": "ADDED", "object": obj("d", "7", namespace="in")},
                {"type": "DELETED", "object": obj("c", "8", namespace="out")},
            ]
        ]
        index: Grouped[tuple[str, str], str] = Grouped()
        inf = Informer(
            server,
            PATH,
            "ModelVersion",
            "v",
            index,
            keyed,
            recorder.on_event,
            recorder.on_deleted,
            namespaces=lambda ns: ns == "in",
        )
        await inf.hand_on(await inf.load())
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert recorder.seen == [("ADDED", "a"), ("ADDED", "d")]
        assert groups(index) == {("in", "m"): ["a@1", "d@7"]}
        # The bookmark of a filtered event still moves the watch on.
        assert [c[2] for c in server.calls if c[0] == "watch"] == ["5", "8"]

    run(scenario())


def test_a_shard_s_label_selector_goes_with_every_list_and_watch() -> None:
    async def scenario() -> None:
        server, recorder = FakeServer(), Recorder()
        server.lists = [page([obj("a", "1")], "5")]
        server.watches = [[{"type": "ADDED", "object": obj("b", "6")}]]
        inf = Informer(
            server,
            PATH,
            "ModelVersion",
            "v",
            Grouped(),
            keyed,
            recorder.on_event,
            recorder.on_deleted,
            asyncio.sleep,
            label_selector="shard=b",
        )
        await inf.hand_on(await inf.load())
        task = asyncio.create_task(inf.run())
        await until_idle(server, task)
        assert server.selectors[:2] == [("list", "shard=b"), ("watch", "shard=b")]
        assert all(selector == "shard=b" for _, selector in server.selectors)

    run(scenario())
