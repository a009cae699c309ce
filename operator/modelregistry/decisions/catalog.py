"""The catalog: what the API server selects, what is matched here, and a version's entry.

The API server filters a LIST by labels and by the CRDs' selectable fields
(crdgen.py): the Model a version belongs to, the stages asked and granted,
the version number, the verified digest, the commit and the training run;
and Models by owner and task. Everything else (metrics, datasets, a commit's
prefix, aliases, tags, creation time) is matched here, over what the server
sent. `matches` checks every part of a query, the server's too, so a search
without any selector pushed down gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from modelregistry.decisions.catalogquery import STAGES, MetricCondition, Query

Body = Mapping[str, Any]

# The selectable fields a search uses, as crdgen.py declares them.
MODEL_FIELD: Final = "spec.modelRef.name"
STAGE_FIELD: Final = "status.stage"
ASKED_FIELD: Final = "spec.stage"
DIGEST_FIELD: Final = "status.artifact.digest"
RUN_FIELD: Final = "spec.lineage.trainingRun.id"
OWNER_FIELD: Final = "spec.owner"
TASK_FIELD: Final = "spec.task"
NAME_FIELD: Final = "metadata.name"  # every kind's


def escape(value: str) -> str:
    """A field selector's value: `\\`, `,` and `=` escaped, as the API server reads them."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def stage_terms(field: str, stage: str) -> list[str]:
    """Terms selecting `stage`; an absent stage reads as None, and the server sees it as ''."""
    if stage == "None":
        return [f"{field}!={other}" for other in STAGES if other != "None"]
    return [f"{field}={stage}"]


@dataclass(frozen=True)
class Selectors:
    """What the API server is asked to select: each None when it selects nothing."""

    models: str | None = None  # fieldSelector of the Models LIST
    labels: str | None = None  # labelSelector of the ModelVersions LIST
    fields: str | None = None  # fieldSelector of the ModelVersions LIST


def server_selectors(query: Query, *, push_down: bool = True) -> Selectors:
    """The selectors of the LIST requests; without `push_down`, labels alone (nothing else
    can be matched here)."""
    if not push_down:
        return Selectors(labels=query.labels)
    models = [f"{OWNER_FIELD}={escape(query.owner)}"] if query.owner is not None else []
    if query.task is not None:
        models.append(f"{TASK_FIELD}={escape(query.task)}")
    fields = [f"{MODEL_FIELD}={query.model}"] if query.model is not None else []
    if query.stage is not None:
        fields += stage_terms(STAGE_FIELD, query.stage)
    if query.asked is not None:
        fields += stage_terms(ASKED_FIELD, query.asked)
    if query.digest is not None:
        fields.append(f"{DIGEST_FIELD}={query.digest}")
    if query.run is not None:
        fields.append(f"{RUN_FIELD}={escape(query.run)}")
    return Selectors(_joined(models), query.labels, _joined(fields))


def client_side_terms(
    query: Query, *, push_down: bool = True, descends_from: str | None = None
) -> list[str]:
    """What is matched here, over what the API server sent, in words (`--explain`)."""
    terms = []
    if not push_down:
        terms += [f"Model {query.model}"] if query.model is not None else []
        terms += [f"stage {query.stage}"] if query.stage is not None else []
        terms += [f"asked {query.asked}"] if query.asked is not None else []
        terms += [f"digest {query.digest}"] if query.digest is not None else []
        terms += [f"training run {query.run}"] if query.run is not None else []
        terms += [f"owner {query.owner}"] if query.owner is not None else []
        terms += [f"task {query.task}"] if query.task is not None else []
    terms += [f"tag {tag} (its Model's spec.tags)" for tag in query.tags]
    terms += [f"alias {alias} (its Model's status.resolved)" for alias in query.aliases]
    terms += [f"metric {condition}" for condition in query.where]
    terms += [f"dataset {dataset}" for dataset in query.datasets]
    terms += [f"commit {query.commit}*"] if query.commit is not None else []
    terms += [f"created since {query.since.isoformat()}"] if query.since is not None else []
    terms += [f"created until {query.until.isoformat()}"] if query.until is not None else []
    if descends_from is not None:
        terms.append(f"descends from {descends_from} (every version of the namespace is read)")
    return terms


def _joined(terms: Sequence[str]) -> str | None:
    return ",".join(terms) or None


@dataclass(frozen=True)
class ModelFacts:
    """What a search needs of a Model: its owner, task, tags, and the aliases it resolved."""

    namespace: str
    name: str
    owner: str | None = None
    task: str | None = None
    tags: tuple[str, ...] = ()
    # Version name -> the aliases that resolve to it (status.resolved, written by the operator).
    aliases: Mapping[str, tuple[str, ...]] | None = None

    @classmethod
    def of(cls, body: Body) -> ModelFacts:
        spec, status = body.get("spec") or {}, body.get("status") or {}
        aliases: dict[str, list[str]] = {}
        for key, resolved in sorted((status.get("resolved") or {}).items()):
            if key not in STAGES and (resolved or {}).get("name"):
                aliases.setdefault(resolved["name"], []).append(key)
        return cls(
            namespace=body["metadata"].get("namespace", ""),
            name=body["metadata"]["name"],
            owner=spec.get("owner"),
            task=spec.get("task"),
            tags=tuple(spec.get("tags") or ()),
            aliases={name: tuple(names) for name, names in aliases.items()},
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def aliases_of(self, version: str) -> tuple[str, ...]:
        return (self.aliases or {}).get(version, ())

    def holds(self, query: Query) -> bool:
        """Whether the Model has the owner, the task and every tag asked."""
        return (
            (query.owner is None or self.owner == query.owner)
            and (query.task is None or self.task == query.task)
            and all(tag in self.tags for tag in query.tags)
        )


@dataclass(frozen=True)
class Scope:
    """The versions the Models leave: of these Models, with these names (None: any)."""

    models: frozenset[tuple[str, str]] | None = None  # (namespace, Model)
    versions: frozenset[tuple[str, str]] | None = None  # (namespace, ModelVersion)

    @property
    def empty(self) -> bool:
        """Nothing can match: no LIST of versions is needed."""
        return self.models == frozenset() or self.versions == frozenset()

    def admits(self, namespace: str, model: str, name: str) -> bool:
        return (self.models is None or (namespace, model) in self.models) and (
            self.versions is None or (namespace, name) in self.versions
        )

    def fields(self, query: Query) -> list[str]:
        """Terms the API server can add: one Model left, or one version the aliases name."""
        terms = []
        if self.models is not None and len(self.models) == 1 and query.model is None:
            ((_, model),) = self.models
            terms.append(f"{MODEL_FIELD}={model}")
        if self.versions is not None and len(self.versions) == 1:
            ((_, name),) = self.versions
            terms.append(f"{NAME_FIELD}={name}")
        return terms


def scope_of(query: Query, models: Iterable[ModelFacts]) -> Scope:
    """The versions left by what the query asks of their Models."""
    if not query.asks_models:
        return Scope()
    chosen = [m for m in models if m.holds(query) and query.model in (None, m.name)]
    versions = None
    if query.aliases:
        versions = frozenset(
            (m.namespace, name)
            for m in chosen
            for name, names in (m.aliases or {}).items()
            if all(alias in names for alias in query.aliases)
        )
    return Scope(frozenset(m.key for m in chosen), versions)


def granted(body: Body) -> str:
    return str((body.get("status") or {}).get("stage") or "None")


def asked(body: Body) -> str:
    return str((body.get("spec") or {}).get("stage") or "None")


def model_name(body: Body) -> str:
    return str(((body.get("spec") or {}).get("modelRef") or {}).get("name", ""))


def number(body: Body) -> int | None:
    """The version number: the one the operator assigned, else the one asked for."""
    found = (body.get("status") or {}).get("version") or (body.get("spec") or {}).get("version")
    return found if isinstance(found, int) else None


def created(body: Body) -> datetime | None:
    text = body["metadata"].get("creationTimestamp") or ""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def matches(query: Query, body: Body, model: ModelFacts | None, scope: Scope) -> bool:
    """Whether the version has everything the query asks (labels excepted: the server's)."""
    metadata, spec = body["metadata"], body.get("spec") or {}
    lineage = spec.get("lineage") or {}
    namespace, name = metadata.get("namespace", ""), metadata["name"]
    if not scope.admits(namespace, model_name(body), name):
        return False
    if query.model is not None and model_name(body) != query.model:
        return False
    if query.stage is not None and granted(body) != query.stage:
        return False
    if query.asked is not None and asked(body) != query.asked:
        return False
    if query.asks_models and (model is None or not model.holds(query)):
        return False
    if model is not None and not all(a in model.aliases_of(name) for a in query.aliases):
        return False
    if not all(c.holds(spec.get("metrics") or {}) for c in query.where):
        return False
    if not all(d.holds(lineage.get("datasets") or []) for d in query.datasets):
        return False
    commit = str((lineage.get("code") or {}).get("commit") or "")
    if query.commit is not None and not (commit and commit.startswith(query.commit)):
        return False
    if query.run is not None and (lineage.get("trainingRun") or {}).get("id") != query.run:
        return False
    verified = ((body.get("status") or {}).get("artifact") or {}).get("digest")
    if query.digest is not None and verified != query.digest:
        return False
    return _in_time(query, created(body))


def _in_time(query: Query, when: datetime | None) -> bool:
    if query.since is None and query.until is None:
        return True
    if when is None:
        return False
    return (query.since is None or when >= query.since) and (
        query.until is None or when <= query.until
    )


@dataclass(frozen=True)
class CatalogEntry:
    """One version as a search shows it."""

    namespace: str
    name: str
    model: str
    version: int | None
    stage: str  # granted
    asked: str
    aliases: tuple[str, ...]
    metrics: Mapping[str, float]
    created: str
    ready: str  # the Ready condition's status, or Unknown
    reason: str
    owner: str | None
    digest: str | None  # verified
    datasets: tuple[Mapping[str, Any], ...]
    commit: str | None
    parents: tuple[Mapping[str, Any], ...]
    labels: Mapping[str, str]

    @property
    def sort_key(self) -> tuple[str, str, int, str]:
        return (self.namespace, self.model, self.version or 0, self.name)

    def as_dict(self) -> dict[str, Any]:
        """`-o json|yaml`: the names `modelregistry list` has always used, and the rest."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "stageAsked": self.asked,
            "aliases": list(self.aliases),
            "metrics": dict(self.metrics),
            "created": self.created,
            "ready": self.ready,
            "reason": self.reason,
            "owner": self.owner,
            "digest": self.digest,
            "datasets": [dict(d) for d in self.datasets],
            "commit": self.commit,
            "parents": [dict(p) for p in self.parents],
            "labels": dict(self.labels),
        }


def entry_of(body: Body, model: ModelFacts | None) -> CatalogEntry:
    metadata, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    lineage = spec.get("lineage") or {}
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
        {},
    )
    return CatalogEntry(
        namespace=metadata.get("namespace", ""),
        name=metadata["name"],
        model=model_name(body),
        version=number(body),
        stage=granted(body),
        asked=asked(body),
        aliases=model.aliases_of(metadata["name"]) if model is not None else (),
        metrics=dict(spec.get("metrics") or {}),
        created=metadata.get("creationTimestamp", ""),
        ready=ready.get("status", "Unknown"),
        reason=ready.get("reason", ""),
        owner=model.owner if model is not None else None,
        digest=(status.get("artifact") or {}).get("digest"),
        datasets=tuple(lineage.get("datasets") or ()),
        commit=(lineage.get("code") or {}).get("commit"),
        parents=tuple(lineage.get("parents") or ()),
        labels=dict(metadata.get("labels") or {}),
    )


def key_metrics(
    metrics: Mapping[str, float], where: Sequence[MetricCondition], most: int = 3
) -> tuple[list[tuple[str, float]], int]:
    """The metrics a table shows: those the query compares, else the first by name; and how
    many more there are."""
    names = list(dict.fromkeys(c.metric for c in where)) or sorted(metrics)
    present = [(n, metrics[n]) for n in names if n in metrics]
    return present[:most], len(metrics) - len(present[:most])
