"""Models and ModelVersions as the watches report them: LIST, then WATCH, kept in memory.

Each `Informer` follows one resource in one namespace (or all): a LIST,
then a WATCH from the list's resourceVersion, with bookmarks, resumed from
the last resourceVersion seen when the server ends the stream, and listed
again when that version is too old (410 Gone) or the watch failed. A LIST
after the first tells what was deleted meanwhile by what it no longer holds.

The informers keep no bodies, only what the reconciler's index reads: an
entry per object (`entry_of`), grouped by key in a shared `Grouped`, and
each object's resourceVersion. Every change is handed on (`on_event`,
`on_deleted`) after the index holds it. A scope of namespace patterns (Kopf's
syntax: globs, `!` to exclude) is one cluster-wide informer per kind that
sees only the namespaces matched; plain names are an informer each.

`Watches` starts them in the order the reconciler needs, so no pass sees a
half-filled index: all Models listed, then all ModelVersions listed, and
only then their events handed on, then the watches run.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Collection,
    Hashable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

from modelregistry import logs, metrics
from modelregistry.errors import ClusterError, WatchExpiredError

logger = logging.getLogger(__name__)

Body = dict[str, Any]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Objects per LIST page.
LIST_PAGE: Final = 500
# The server ends a watch after this many seconds; it is resumed from where it was.
WATCH_SECONDS: Final = 300
# Waits between attempts after a failed LIST or WATCH: doubled up to the last.
BACKOFF_SECONDS: Final = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


class WatchPort(Protocol):
    async def list_page(
        self, path: str, continue_token: str | None, limit: int, label_selector: str | None = None
    ) -> Body: ...

    def watch(
        self,
        path: str,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> AsyncGenerator[Body, None]: ...


class Grouped(Mapping[K, Collection[V]], Generic[K, V]):
    """Entries grouped by key (versions by their Model), as the index reads them."""

    def __init__(self) -> None:
        self._groups: dict[K, dict[str, V]] = {}

    def __getitem__(self, key: K) -> Collection[V]:
        return self._groups[key].values()

    def __iter__(self) -> Iterator[K]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def put(self, key: K, uid: str, entry: V) -> None:
        self._groups.setdefault(key, {})[uid] = entry

    def drop(self, key: K, uid: str) -> None:
        group = self._groups.get(key)
        if group is not None:
            group.pop(uid, None)
            if not group:
                del self._groups[key]


@dataclass(frozen=True)
class Known(Generic[K, V]):
    """What is kept of one object: its resourceVersion and its index entry."""

    resource_version: str
    key: K | None
    entry: V | None


@dataclass(frozen=True)
class Relisted(Generic[K, V]):
    """What a LIST says changed since the objects `known`: a pure comparison."""

    changed: list[Body]
    gone: dict[str, Known[K, V]]


def relisted(known: Mapping[str, Known[K, V]], items: list[Body]) -> Relisted[K, V]:
    """Objects listed with a resourceVersion other than the one known, and those not listed."""
    listed: set[str] = set()
    changed = []
    for item in items:
        meta = _meta(item)
        uid = str(meta.get("uid"))
        listed.add(uid)
        seen = known.get(uid)
        if seen is None or seen.resource_version != meta.get("resourceVersion"):
            changed.append(item)
    gone = {uid: k for uid, k in known.items() if uid not in listed}
    return Relisted(changed, gone)


def backoff(attempt: int) -> float:
    """Seconds to wait after the `attempt`-th failure in a row (0 for the first)."""
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]


def is_pattern(scope: str) -> bool:
    """Whether a namespace in the scope is a glob or an exclusion rather than a name."""
    return any(c in scope for c in "!*?,")


def in_scope(namespace: str, patterns: Sequence[str]) -> bool:
    """Whether `namespace` matches any of `patterns`, in Kopf's syntax for them.

    A pattern is comma-separated globs (`*`, `?`); `!` excludes. The first glob
    matches; a leading exclusion implies a `*` before it; later globs include
    again only what the first one matched.
    """
    return any(_matches(namespace, pattern) for pattern in patterns)


def _matches(namespace: str, pattern: str) -> bool:
    globs = [glob.strip() for glob in pattern.split(",")]
    if globs[0].startswith("!"):
        globs.insert(0, "*")
    matches = first = fnmatch.fnmatchcase(namespace, globs[0])
    for glob in globs[1:]:
        if glob.startswith("!"):
            matches = matches and not fnmatch.fnmatchcase(namespace, glob.lstrip("!"))
        else:
            matches = matches or (first and fnmatch.fnmatchcase(namespace, glob))
    return matches


def _meta(body: Body) -> dict[str, object]:
    meta = body.get("metadata")
    return meta if isinstance(meta, dict) else {}


class Informer(Generic[K, V]):
    """One resource in one namespace (or all): its index entries, kept current."""

    def __init__(
        self,
        cluster: WatchPort,
        path: str,
        kind: str,
        api_version: str,
        index: Grouped[K, V],
        entry_of: Callable[[Body], tuple[K, V] | None],
        on_event: Callable[[str, Body], Awaitable[None]],
        on_deleted: Callable[[str, K | None, V | None], Awaitable[None]],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        namespaces: Callable[[str], bool] | None = None,
        label_selector: str | None = None,
        give_up_on: Collection[int] = (),
    ) -> None:
        self._cluster = cluster
        self._path = path
        self._kind = kind
        self._api_version = api_version
        self._index = index
        self._entry_of = entry_of
        self._on_event = on_event
        self._on_deleted = on_deleted
        self._sleep = sleep
        # Which namespaces count, when the scope is patterns: the rest are not seen.
        self._namespaces = namespaces
        # Only objects with these labels (a shard): the API server filters them.
        self._label_selector = label_selector
        # Answers that retrying does not mend (a resource not served, a list refused):
        # raised to the caller, which knows what they mean for it.
        self._give_up_on = give_up_on
        self._known: dict[str, Known[K, V]] = {}
        # Where the watch resumes; None: list (again) first.
        self._resource_version: str | None = None

    @property
    def path(self) -> str:
        return self._path

    async def load(self) -> list[Body]:
        """LIST, retrying until it answers; the index is updated, the changes returned.

        Objects no longer listed are handed on as deleted here; the changed
        ones are the caller's to hand on (`hand_on`), once every index it
        needs is filled.
        """
        attempt = 0
        while True:
            try:
                items, resource_version = await self._list_all()
                break
            except ClusterError as error:
                self._give_up_if_told(error)
                delay = backoff(attempt)
                attempt += 1
                logger.warning("listing %s failed, again in %.1f s: %s", self._path, delay, error)
                await self._sleep(delay)
        diff = relisted(self._known, items)
        for uid, known in diff.gone.items():
            self._forget(uid, known)
            await self._deleted(uid, known)
        for item in diff.changed:
            self._remember(item)
        self._resource_version = resource_version
        return diff.changed

    async def hand_on(self, items: list[Body]) -> None:
        for item in items:
            await self._handle("ADDED", item)

    async def run(self) -> None:
        """Watch for good (until cancelled), listing again whenever the watch cannot resume."""
        attempt = expired = 0
        while True:
            if self._resource_version is None:
                await self.hand_on(await self.load())
            try:
                if await self._watch():
                    attempt = expired = 0
                else:
                    # Ended with not even a bookmark (the API server sends one a
                    # minute): not a watch that ran its course. Do not loop hot.
                    metrics.WATCH_RESTARTS.labels(self._kind, "empty").inc()
                    delay = backoff(attempt)
                    attempt += 1
                    logger.debug("watching %s ended empty, again in %.1f s", self._path, delay)
                    await self._sleep(delay)
            except WatchExpiredError:
                metrics.WATCH_RESTARTS.labels(self._kind, "gone").inc()
                self._resource_version = None  # listed again at once,
                expired += 1
                if expired > 1:  # unless the last list was too old at once too
                    await self._sleep(backoff(expired - 2))
            except ClusterError as error:
                self._give_up_if_told(error)
                metrics.WATCH_RESTARTS.labels(self._kind, "error").inc()
                delay = backoff(attempt)
                attempt += 1
                logger.warning("watching %s failed, again in %.1f s: %s", self._path, delay, error)
                await self._sleep(delay)
            except Exception:
                # Not expected: say so in full, and start over from a fresh list.
                metrics.WATCH_RESTARTS.labels(self._kind, "broken").inc()
                delay = backoff(attempt)
                attempt += 1
                logger.exception("watching %s broke, listing again in %.1f s", self._path, delay)
                self._resource_version = None
                await self._sleep(delay)

    def _give_up_if_told(self, error: ClusterError) -> None:
        if error.status is not None and error.status in self._give_up_on:
            self._resource_version = None  # run() lists afresh when called again
            raise error

    async def forget_all(self) -> None:
        """The resource is no longer served (its CRD deleted, and its objects with it):
        every object known leaves the index and is handed on as deleted."""
        for uid, known in list(self._known.items()):
            self._forget(uid, known)
            await self._deleted(uid, known)
        self._resource_version = None

    async def _list_all(self) -> tuple[list[Body], str]:
        items: list[Body] = []
        token: str | None = None
        while True:
            page = await self._cluster.list_page(self._path, token, LIST_PAGE, self._label_selector)
            for item in _items(page):
                if not self._wanted(item):
                    continue
                # List items of custom resources carry these; be sure, events name them.
                item.setdefault("apiVersion", self._api_version)
                item.setdefault("kind", self._kind)
                items.append(item)
            meta = _meta(page)
            token = str(meta.get("continue") or "") or None
            if token is None:
                return items, str(meta.get("resourceVersion") or "")

    async def _watch(self) -> int:
        """Follow one WATCH to its end; the number of events it brought (bookmarks too)."""
        stream = self._cluster.watch(
            self._path, self._resource_version or "", WATCH_SECONDS, self._label_selector
        )
        received = 0
        try:
            async for event in stream:
                received += 1
                kind = event.get("type")
                body = event.get("object")
                if not isinstance(body, dict):
                    continue
                if kind == "ERROR":
                    if body.get("code") == 410:
                        raise WatchExpiredError(f"{self._path}: {body.get('message')}")
                    code = body.get("code")
                    raise ClusterError(
                        f"watching {self._path}: {body.get('message')}",
                        code if isinstance(code, int) else None,
                    )
                version = _meta(body).get("resourceVersion")
                if isinstance(version, str) and version:
                    self._resource_version = version
                if kind == "BOOKMARK" or not self._wanted(body):
                    continue
                if kind == "DELETED":
                    uid = str(_meta(body).get("uid"))
                    known = self._known.get(uid) or self._known_from(body)
                    self._forget(uid, known)
                    await self._deleted(uid, known)
                elif kind in ("ADDED", "MODIFIED"):
                    self._remember(body)
                    await self._handle(kind, body)
        finally:
            await stream.aclose()
        return received

    def _wanted(self, body: Body) -> bool:
        return self._namespaces is None or self._namespaces(str(_meta(body).get("namespace")))

    def _known_from(self, body: Body) -> Known[K, V]:
        try:
            keyed = self._entry_of(body)
        except Exception:
            # One object the index cannot read must not stop the others; its
            # pass (handed the body) says what is wrong with it.
            logger.exception(
                "%s %s cannot be indexed",
                self._kind,
                _meta(body).get("name"),
                extra=logs.about(self._kind, body),
            )
            keyed = None
        key, entry = keyed if keyed is not None else (None, None)
        return Known(str(_meta(body).get("resourceVersion") or ""), key, entry)

    def _remember(self, body: Body) -> None:
        uid = str(_meta(body).get("uid"))
        before = self._known.get(uid)
        if before is not None and before.key is not None:
            self._index.drop(before.key, uid)
        known = self._known[uid] = self._known_from(body)
        if known.key is not None and known.entry is not None:
            self._index.put(known.key, uid, known.entry)

    def _forget(self, uid: str, known: Known[K, V]) -> None:
        self._known.pop(uid, None)
        if known.key is not None:
            self._index.drop(known.key, uid)

    async def _deleted(self, uid: str, known: Known[K, V]) -> None:
        try:
            await self._on_deleted(uid, known.key, known.entry)
        except Exception:
            # Entries name their object; the uid is all a deletion surely has.
            entry = known.entry
            meta = {k: getattr(entry, k, None) for k in ("namespace", "name")} | {"uid": uid}
            logger.exception(
                "handling the deletion of %s %s failed",
                self._kind,
                uid,
                extra=logs.about(self._kind, meta),
            )

    async def _handle(self, kind: str, body: Body) -> None:
        try:
            await self._on_event(kind, body)
        except Exception:
            logger.exception(
                "handling a %s event of %s failed",
                kind,
                self._kind,
                extra=logs.about(self._kind, body),
            )


def _items(page: Body) -> list[Body]:
    items = page.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


class Follower(Protocol):
    """What `Watches` runs: an `Informer`, or one that watches only while it can."""

    @property
    def path(self) -> str: ...

    async def load(self) -> list[Body]: ...

    async def hand_on(self, items: list[Body]) -> None: ...

    async def run(self) -> None: ...


class Watches:
    """The informers of both kinds, started in the order the reconciler needs.

    `workloads` (Pods, and InferenceServices where served, that may name
    versions) are listed last; `on_listed` is called once all have been handed on.
    """

    def __init__(
        self,
        models: Sequence[Informer[Any, Any]],
        versions: Sequence[Informer[Any, Any]],
        workloads: Sequence[Follower] = (),
        on_listed: Callable[[], None] | None = None,
    ) -> None:
        self._models = models
        self._versions = versions
        self._workloads = workloads
        self._on_listed = on_listed
        self.synced = asyncio.Event()

    async def run(self) -> None:
        """List Models, then ModelVersions, hand on what they hold, then watch for good."""
        every: list[Follower] = [*self._models, *self._versions, *self._workloads]
        listed = [(i, await i.load()) for i in every]
        for informer, items in listed:
            await informer.hand_on(items)
        self.synced.set()
        if self._on_listed is not None:
            self._on_listed()
        counts = [
            sum(len(items) for i, items in listed if i in group)
            for group in (self._models, self._versions)
        ]
        logger.info("Listed %d Models and %d ModelVersions; watching them for changes", *counts)
        async with asyncio.TaskGroup() as group:
            for informer in every:
                group.create_task(informer.run(), name=f"watch {informer.path}")
