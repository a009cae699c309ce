"""Search the catalog: LIST requests carrying what the API server can select, the rest
matched here (decisions/catalog.py), page by page.

    from modelregistry.client import Session, parse_query, search_versions

    query = parse_query(now=datetime.now(UTC), model="churn", where=["auc>=0.9"])
    for entry in search_versions(Session.connect("ml"), query):
        print(entry.name, entry.version, entry.stage, entry.metrics["auc"])
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.client.errors import BadQuery, Refused, RegistryError
from modelregistry.client.session import Body, Session
from modelregistry.decisions.catalog import (
    CatalogEntry,
    ModelFacts,
    Scope,
    entry_of,
    matches,
    scope_of,
    server_selectors,
)
from modelregistry.decisions.catalogquery import Query, QueryError
from modelregistry.decisions.catalogquery import parse_query as _parse_query
from modelregistry.decisions.descent import Descendant, LineageNode, descendants, root_of

# kubectl's page size: a page of 500 versions is about 2 MB of JSON.
PAGE_SIZE = 500


def parse_query(now: datetime | None = None, **criteria: Any) -> Query:
    """A Query from the search's flags by name (model=, where=[...], since="7d", ...).

    Raises BadQuery naming the value that cannot be understood and how to write it.
    """
    try:
        return _parse_query(now=now or datetime.now(UTC), **criteria)
    except QueryError as error:
        raise BadQuery(str(error)) from None


@dataclass(frozen=True)
class Request:
    """One LIST request as it went: its URL, and what came back."""

    path: str
    query: tuple[tuple[str, str], ...]
    items: int
    size: int  # bytes of the response body
    seconds: float

    @property
    def url(self) -> str:
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    def __str__(self) -> str:
        return (
            f"GET {self.url}: {self.items} items, {self.size / 1024:.1f} KiB, "
            f"{self.seconds * 1000:.0f} ms"
        )


@dataclass
class Traffic:
    """The requests a search made (pass one in to see them)."""

    requests: list[Request] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def size(self) -> int:
        return sum(r.size for r in self.requests)

    @property
    def items(self) -> int:
        return sum(r.items for r in self.requests)


def list_all(
    session: Session,
    plural: str,
    *,
    all_namespaces: bool = False,
    labels: str | None = None,
    fields: str | None = None,
    page_size: int = PAGE_SIZE,
    traffic: Traffic | None = None,
) -> Iterator[Body]:
    """Every object the API server selects, `page_size` at a time (0: one request)."""
    where = "" if all_namespaces else f"/namespaces/{session.namespace}"
    path = f"/apis/{GROUP}/{VERSION}{where}/{plural}"
    token: str | None = None
    while True:
        began = time.perf_counter()
        try:
            data = session.list_page(
                plural,
                all_namespaces=all_namespaces,
                label_selector=labels,
                field_selector=fields,
                limit=page_size or None,
                continue_token=token,
            )
        except Refused as refused:
            raise _explained(refused, plural, session.namespace, all_namespaces) from None
        page = json.loads(data)
        if traffic is not None:
            query = {
                "labelSelector": labels,
                "fieldSelector": fields,
                "limit": str(page_size) if page_size else None,
                "continue": token,
            }
            traffic.requests.append(
                Request(
                    path,
                    tuple((k, v) for k, v in query.items() if v),
                    len(page.get("items") or []),
                    len(data),
                    time.perf_counter() - began,
                )
            )
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def _explained(refused: Refused, plural: str, namespace: str, all_namespaces: bool) -> Refused:
    resource = f"{plural}.{GROUP}"
    if refused.status == 403 and all_namespaces:
        return Refused(
            f"{refused}. -A reads every namespace at once, which needs the list verb on "
            f"{resource} across the cluster (a ClusterRoleBinding); without it, search a "
            "namespace you may read: -n NAMESPACE",
            403,
        )
    if refused.status == 403:
        return Refused(
            f"{refused}. Searching namespace {namespace!r} needs the list verb on {resource} "
            "there (the view role has it)",
            403,
        )
    if refused.status == 410:
        return Refused(
            f"{refused}. The listing outlived its continue token: run the search again "
            "(a larger --chunk-size makes fewer, longer requests)",
            410,
        )
    return refused


def search_versions(
    session: Session,
    query: Query | None = None,
    *,
    all_namespaces: bool = False,
    descends_from: str | None = None,
    page_size: int = PAGE_SIZE,
    push_down: bool = True,
    traffic: Traffic | None = None,
) -> list[CatalogEntry]:
    """The versions that match `query`, by namespace, Model and number.

    `descends_from` (a version's name, or MODEL@NUMBER) keeps only its
    descendants. Without `push_down`, the API server selects by labels only
    and everything else is matched here (the same answer, more bytes).
    """
    query = query or Query()
    if descends_from is not None and all_namespaces:
        raise RegistryError(
            "--descends-from follows parents within one namespace: name it with -n, not -A"
        )
    selectors = server_selectors(query, push_down=push_down)
    models = {
        facts.key: facts
        for facts in map(
            ModelFacts.of,
            list_all(
                session,
                MODELS,
                all_namespaces=all_namespaces,
                fields=selectors.models,
                page_size=page_size,
                traffic=traffic,
            ),
        )
    }
    scope = scope_of(query, models.values())
    if scope.empty:
        return []
    fields = selectors.fields
    if descends_from is not None:
        fields = None  # the lineage graph needs every version of the namespace
    elif push_down:
        fields = ",".join(t for t in [fields, *scope.fields(query)] if t) or None
    bodies = list_all(
        session,
        MODELVERSIONS,
        all_namespaces=all_namespaces,
        labels=selectors.labels,
        fields=fields,
        page_size=page_size,
        traffic=traffic,
    )
    if descends_from is not None:
        everything = list(bodies)
        names = {d.node.name for d in _descendants(everything, descends_from, session.namespace)}
        bodies = iter([b for b in everything if b["metadata"]["name"] in names])
    return _entries(query, bodies, models, scope)


def _entries(
    query: Query,
    bodies: Iterator[Body],
    models: dict[tuple[str, str], ModelFacts],
    scope: Scope,
) -> list[CatalogEntry]:
    found = []
    for body in bodies:
        namespace = body["metadata"].get("namespace", "")
        model = models.get(
            (namespace, ((body.get("spec") or {}).get("modelRef") or {}).get("name", ""))
        )
        if matches(query, body, model, scope):
            found.append(entry_of(body, model))
    return sorted(found, key=lambda e: e.sort_key)


def descendants_of(
    session: Session,
    version: str,
    *,
    page_size: int = PAGE_SIZE,
    traffic: Traffic | None = None,
) -> list[Descendant]:
    """Every version that descends from `version` (a name, or MODEL@NUMBER), depth first."""
    bodies = list(list_all(session, MODELVERSIONS, page_size=page_size, traffic=traffic))
    return _descendants(bodies, version, session.namespace)


def _descendants(bodies: list[Body], reference: str, namespace: str) -> list[Descendant]:
    nodes = [LineageNode.of(b) for b in bodies]
    root = root_of(nodes, reference)
    if root is None:
        known = any(n.name == reference for n in nodes)
        why = "it has no version number yet" if known else "no such version"
        raise RegistryError(
            f"{reference!r} in namespace {namespace!r}: {why}; name a ModelVersion, or write "
            "MODEL@NUMBER such as churn@3"
        )
    return descendants(nodes, root)
