"""The informers against a real API server: list, watch, deletions seen live and while away."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelregistry.api.meta import GROUP, MODELVERSIONS, VERSION
from modelregistry.cluster import Cluster as ApiCluster
from modelregistry.errors import WatchExpiredError
from modelregistry.handlers import _version_keyed
from modelregistry.informer import Grouped, Informer
from modelregistry.reconciler.index import ModelKey, VersionEntry
from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess

pytestmark = pytest.mark.integration

Body = dict[str, Any]


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def on_event(self, kind: str, body: Body) -> None:
        self.events.append((kind, body["metadata"]["name"]))
        self.changed.set()

    async def on_deleted(self, uid: str, key: object, entry: VersionEntry | None) -> None:
        self.events.append(("GONE", entry.name if entry else uid))
        self.changed.set()

    async def until(self, done: Callable[[], bool], within: float = 20) -> None:
        async def wait() -> None:
            while not done():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), within)


async def _in_thread(call: Callable[[], object]) -> None:
    await asyncio.to_thread(call)


def _delete(objects: Objects, name: str) -> None:
    objects.api.delete_namespaced_custom_object(
        GROUP, VERSION, objects.namespace, MODELVERSIONS, name
    )


def _names(index: Grouped[ModelKey, VersionEntry], key: ModelKey) -> list[str]:
    return sorted(e.name for e in index.get(key, ()))


def test_an_informer_lists_watches_and_sees_deletions_live_and_while_away(
    cluster: Cluster, objects: Objects, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    uri = "s3://bucket/model.bin"
    objects.model("m")
    objects.version("v1", "m", uri)
    objects.version("v2", "m", uri)
    key = (namespace, "m")

    async def scenario() -> None:
        api = ApiCluster.connect()
        seen = Seen()
        index: Grouped[ModelKey, VersionEntry] = Grouped()
        informer = Informer(
            api,
            f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{MODELVERSIONS}",
            "ModelVersion",
            f"{GROUP}/{VERSION}",
            index,
            _version_keyed,
            seen.on_event,
            seen.on_deleted,
        )
        listed = await informer.load()
        assert sorted(b["metadata"]["name"] for b in listed) == ["v1", "v2"]
        assert {b["kind"] for b in listed} == {"ModelVersion"}
        assert _names(index, key) == ["v1", "v2"]

        watching = asyncio.create_task(informer.run())
        await _in_thread(lambda: objects.version("v3", "m", uri))
        await seen.until(lambda: ("ADDED", "v3") in seen.events)
        await _in_thread(lambda: _delete(objects, "v1"))
        await seen.until(lambda: ("GONE", "v1") in seen.events)
        assert _names(index, key) == ["v2", "v3"]

        # Away (no watch) while one is deleted and one created: the next list tells.
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
        seen.events.clear()
        await _in_thread(lambda: _delete(objects, "v2"))
        await _in_thread(lambda: objects.version("v4", "m", uri))
        changed = await informer.load()
        assert seen.events == [("GONE", "v2")]
        # v3 only if the operator of the session wrote its status meanwhile.
        assert {b["metadata"]["name"] for b in changed} - {"v3"} == {"v4"}
        assert _names(index, key) == ["v3", "v4"]
        await api.close()

    asyncio.run(scenario())


def test_a_watch_from_a_version_too_old_says_so(
    cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))

    async def scenario() -> list[Body]:
        api = ApiCluster.connect()
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{MODELVERSIONS}"
        events: list[Body] = []
        try:
            async for event in api.watch(path, "1", 5):
                events.append(event)
        finally:
            await api.close()
        return events

    # The API server answers either with a 410 or with an ERROR event carrying it.
    try:
        events = asyncio.run(scenario())
    except WatchExpiredError:
        return
    assert events and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410


def test_an_operator_that_cannot_start_watching_is_stopped_by_the_harness(
    tmp_path: Path,
) -> None:
    """A failing test leaves no process: here, no API server answers at all."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"
        "clusters: [{name: nowhere, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: nobody, user: {token: none}}]\n"
        "contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]\n"
    )
    process = OperatorProcess({"KUBECONFIG": str(kubeconfig)}, tmp_path / "operator.log")
    with pytest.raises(AssertionError, match="the operator to start watching"):
        process.start(timeout=3)
    assert not process.running
    assert "listing /apis/modelregistry.io/v1alpha1/models failed" in process.log()
