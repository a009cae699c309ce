"""The catalog's split of a query between the API server and the client, and its matching."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelregistry import crdgen
from modelregistry.decisions.catalog import (
    CatalogEntry,
    ModelFacts,
    Scope,
    Selectors,
    client_side_terms,
    created,
    entry_of,
    escape,
    key_metrics,
    matches,
    number,
    scope_of,
    server_selectors,
    stage_terms,
)
from modelregistry.decisions.catalogquery import MetricCondition, Query, parse_query

Body = dict[str, Any]
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "cd" * 32


def version(
    name: str = "churn-2",
    model: str = "churn",
    *,
    namespace: str = "ml",
    number: int | None = 2,
    stage: str | None = "Production",
    asked: str | None = "Production",
    created: str = "2026-01-08T09:00:00Z",
    metrics: dict[str, Any] | None = None,
    lineage: Body | None = None,
    labels: dict[str, str] | None = None,
    digest: str | None = DIGEST,
) -> Body:
    spec: Body = {"modelRef": {"name": model}, "artifact": {"uri": "s3://m/churn/2/"}}
    if asked is not None:
        spec["stage"] = asked
    if metrics is not None:
        spec["metrics"] = metrics
    if lineage is not None:
        spec["lineage"] = lineage
    status: Body = {
        "conditions": [
            {"type": "Reconciling", "status": "False", "reason": "Done"},
            {"type": "Ready", "status": "True", "reason": "Succeeded"},
        ]
    }
    if number is not None:
        status["version"] = number
    if stage is not None:
        status["stage"] = stage
    if digest is not None:
        status["artifact"] = {"digest": digest}
    metadata: Body = {"name": name, "namespace": namespace, "creationTimestamp": created}
    if labels is not None:
        metadata["labels"] = labels
    return {"metadata": metadata, "spec": spec, "status": status}


LINEAGE = {
    "datasets": [
        {"name": "events", "version": "2024-06", "role": "training"},
        {"name": "holdout", "version": "v1", "role": "test"},
    ],
    "code": {"repository": "https://git.example.com/ml/churn.git", "commit": "abcdef0123"},
    "trainingRun": {"id": "run-7", "system": "mlflow"},
    "parents": [{"model": "base", "version": 3}],
}
CHURN = ModelFacts(
    namespace="ml",
    name="churn",
    owner="team-risk",
    task="classification",
    tags=("tabular", "pii"),
    aliases={"churn-2": ("champion", "stable"), "churn-3": ("challenger",)},
)
FULL = version(metrics={"auc": 0.93, "f1": 0.81, "loss": 0.2}, lineage=LINEAGE)


def q(**flags: Any) -> Query:
    return parse_query(now=NOW, **flags)


# ------------------------------------------------------------------ what the API server selects


def test_the_selectors_are_fields_the_crds_declare_selectable() -> None:
    selectable = {
        "models": {p.lstrip(".") for p in crdgen.MODEL.selectable_fields},
        "versions": {p.lstrip(".") for p in crdgen.MODELVERSION.selectable_fields},
    }
    everything = q(
        model="churn", stage="None", asked="Staging", digest=DIGEST, run="r", owner="o", task="t"
    )
    selectors = server_selectors(everything)
    assert selectors.fields is not None
    assert selectors.models is not None

    used = {"versions": selectors.fields, "models": selectors.models}
    for kind, text in used.items():
        for term in text.split(","):
            assert term.replace("!=", "=").split("=")[0] in selectable[kind], term
    assert len(crdgen.MODELVERSION.selectable_fields) <= 8  # the API server's limit


def test_an_empty_query_selects_nothing() -> None:
    assert server_selectors(Query()) == Selectors(None, None, None)


def test_the_server_selects_model_stages_digest_run_owner_task_and_labels() -> None:
    query = q(
        model="churn",
        labels="team=risk,tier!=gold",
        stage="Production",
        asked="Staging",
        digest=DIGEST,
        run="run,7=a",
        owner="team=risk",
        task="classification",
        where=["auc>=0.9"],
        datasets=["events"],
        commit="abcd",
        tags=["pii"],
        aliases=["champion"],
        since="7d",
    )

    assert server_selectors(query) == Selectors(
        models="spec.owner=team\\=risk,spec.task=classification",
        labels="team=risk,tier!=gold",
        fields=(
            "spec.modelRef.name=churn,status.stage=Production,spec.stage=Staging,"
            f"status.artifact.digest={DIGEST},spec.lineage.trainingRun.id=run\\,7\\=a"
        ),
    )


def test_without_push_down_only_labels_go_to_the_server() -> None:
    query = q(model="churn", labels="team=risk", stage="Production", owner="o", task="t")

    assert server_selectors(query, push_down=False) == Selectors(None, "team=risk", None)


def test_a_stage_of_none_is_every_other_stage_excluded() -> None:
    # An absent status.stage reads as '' to the API server: `status.stage=None` would miss it.
    assert stage_terms("status.stage", "None") == [
        "status.stage!=Staging",
        "status.stage!=Production",
        "status.stage!=Archived",
    ]
    assert stage_terms("spec.stage", "Archived") == ["spec.stage=Archived"]
    assert server_selectors(q(asked="None")).fields == (
        "spec.stage!=Staging,spec.stage!=Production,spec.stage!=Archived"
    )


def test_selector_values_are_escaped_as_the_api_server_reads_them() -> None:
    assert escape("a,b=c\\d") == "a\\,b\\=c\\\\d"
    assert escape("plain-value.1") == "plain-value.1"


# ------------------------------------------------------------------ Models


def test_a_models_facts_come_from_its_spec_and_what_the_operator_resolved() -> None:
    body = {
        "metadata": {"name": "churn", "namespace": "ml"},
        "spec": {"owner": "team-risk", "task": "classification", "tags": ["tabular"]},
        "status": {
            "resolved": {
                "Production": {"name": "churn-2", "version": 2},
                "champion": {"name": "churn-2", "version": 2},
                "beta": {"name": "churn-3", "version": 3},
                "alpha": {"name": "churn-2", "version": 2},
                "broken": {},
            }
        },
    }

    facts = ModelFacts.of(body)

    assert facts == ModelFacts(
        "ml",
        "churn",
        "team-risk",
        "classification",
        ("tabular",),
        {"churn-2": ("alpha", "champion"), "churn-3": ("beta",)},
    )
    assert facts.key == ("ml", "churn")
    assert facts.aliases_of("churn-2") == ("alpha", "champion")
    assert facts.aliases_of("churn-1") == ()


def test_a_bare_model_has_no_facts() -> None:
    facts = ModelFacts.of({"metadata": {"name": "churn"}})

    assert facts == ModelFacts("", "churn", None, None, (), {})
    assert ModelFacts("ml", "x").aliases_of("x-1") == ()


@pytest.mark.parametrize(
    ("flags", "holds"),
    [
        ({}, True),
        ({"owner": "team-risk"}, True),
        ({"owner": "team-fraud"}, False),
        ({"task": "classification"}, True),
        ({"task": "regression"}, False),
        ({"tags": ["pii"]}, True),
        ({"tags": ["pii", "tabular"]}, True),
        ({"tags": ["pii", "images"]}, False),
        ({"owner": "team-risk", "task": "regression"}, False),
        ({"owner": "team-fraud", "task": "classification"}, False),
    ],
)
def test_a_model_holds_its_owner_task_and_every_tag(flags: dict[str, Any], holds: bool) -> None:
    assert CHURN.holds(q(**flags)) is holds


FRAUD = ModelFacts("ml", "fraud", "team-fraud", "classification", ("tabular",), {})
OTHER_NS = ModelFacts("prod", "churn", "team-risk", None, ("pii",), {"churn-9": ("champion",)})


def test_a_query_that_asks_nothing_of_models_leaves_every_version() -> None:
    scope = scope_of(q(where=["auc>0.5"]), [CHURN, FRAUD])

    assert scope == Scope(None, None)
    assert not scope.empty
    assert scope.admits("any", "thing", "at-all")
    assert scope.fields(Query()) == []


def test_the_models_narrow_the_versions() -> None:
    scope = scope_of(q(owner="team-risk"), [CHURN, FRAUD, OTHER_NS])

    assert scope == Scope(frozenset({("ml", "churn"), ("prod", "churn")}), None)
    assert scope.admits("ml", "churn", "churn-1")
    assert scope.admits("prod", "churn", "churn-1")
    assert not scope.admits("ml", "fraud", "fraud-1")
    assert not scope.admits("dev", "churn", "churn-1")
    # Two Models left: the server cannot select both with one field selector.
    assert scope.fields(q(owner="team-risk")) == []


def test_one_model_left_is_selected_by_the_server() -> None:
    scope = scope_of(q(tags=["pii"], task="classification"), [CHURN, FRAUD, OTHER_NS])

    assert scope.models == frozenset({("ml", "churn")})
    assert scope.fields(q(tags=["pii"])) == ["spec.modelRef.name=churn"]
    # ... unless the query names the Model already.
    assert scope.fields(q(model="churn", tags=["pii"])) == []


def test_no_model_left_means_nothing_to_list() -> None:
    assert scope_of(q(owner="nobody"), [CHURN, FRAUD]).empty
    assert scope_of(q(owner="team-fraud", model="churn"), [CHURN, FRAUD]).empty
    assert scope_of(q(tags=["x"]), []).empty


def test_an_alias_narrows_to_the_versions_it_resolves_to() -> None:
    scope = scope_of(q(aliases=["champion"]), [CHURN, FRAUD, OTHER_NS])

    assert scope.versions == frozenset({("ml", "churn-2"), ("prod", "churn-9")})
    assert scope.models == frozenset({("ml", "churn"), ("ml", "fraud"), ("prod", "churn")})
    assert scope.fields(q(aliases=["champion"])) == []
    assert not scope.admits("ml", "churn", "churn-3")
    assert scope.admits("ml", "churn", "churn-2")


def test_one_version_an_alias_names_is_selected_by_name() -> None:
    query = q(aliases=["champion", "stable"])
    scope = scope_of(query, [CHURN, FRAUD, OTHER_NS])

    assert scope.versions == frozenset({("ml", "churn-2")})
    assert scope.fields(query) == ["metadata.name=churn-2"]
    assert scope_of(q(aliases=["champion", "challenger"]), [CHURN]).empty


def test_one_model_and_one_version() -> None:
    query = q(aliases=["challenger"], owner="team-risk", task="classification", tags=["pii"])

    assert scope_of(query, [CHURN, FRAUD, OTHER_NS]).fields(query) == [
        "spec.modelRef.name=churn",
        "metadata.name=churn-3",
    ]


# ------------------------------------------------------------------ matching a version


def test_an_empty_query_matches_every_version() -> None:
    assert matches(Query(), FULL, None, Scope())
    assert matches(Query(), version(stage=None, asked=None, number=None), None, Scope())


@pytest.mark.parametrize(
    ("flags", "matched"),
    [
        ({"model": "churn"}, True),
        ({"model": "fraud"}, False),
        ({"stage": "Production"}, True),
        ({"stage": "Staging"}, False),
        ({"asked": "Production"}, True),
        ({"asked": "None"}, False),
        ({"where": ["auc>=0.93"]}, True),
        ({"where": ["auc>0.93"]}, False),
        ({"where": ["auc>=0.9", "f1>=0.8"]}, True),
        ({"where": ["auc>=0.9", "f1>=0.9"]}, False),
        ({"where": ["precision>0"]}, False),
        ({"datasets": ["events"]}, True),
        ({"datasets": ["events@2024-06", "holdout@v1"]}, True),
        ({"datasets": ["events@2024-06", "holdout@v2"]}, False),
        ({"datasets": ["clicks"]}, False),
        ({"datasets": ["holdout"], "dataset_role": "test"}, True),
        ({"datasets": ["holdout"], "dataset_role": "training"}, False),
        ({"commit": "abcd"}, True),
        ({"commit": "abcdef0123"}, True),
        ({"commit": "abcdef01234"}, False),
        ({"commit": "bcde"}, False),
        ({"run": "run-7"}, True),
        ({"run": "run-8"}, False),
        ({"digest": DIGEST}, True),
        ({"digest": "sha256:" + "00" * 32}, False),
        ({"since": "2026-01-08"}, True),
        ({"since": "2026-01-08T09:00:00Z"}, True),
        ({"since": "2026-01-08T09:00:01Z"}, False),
        ({"until": "2026-01-08T09:00:00Z"}, True),
        ({"until": "2026-01-08T08:59:59Z"}, False),
        ({"since": "3d"}, True),
        ({"since": "1d"}, False),
        ({"since": "2026-01-01", "until": "2026-01-09"}, True),
        ({"since": "2026-01-01", "until": "2026-01-07"}, False),
    ],
)
def test_each_part_of_a_query_is_matched(flags: dict[str, Any], matched: bool) -> None:
    assert matches(q(**flags), FULL, None, Scope()) is matched


@pytest.mark.parametrize(
    ("flags", "matched"),
    [
        ({"owner": "team-risk"}, True),
        ({"owner": "team-fraud"}, False),
        ({"task": "classification"}, True),
        ({"task": "ranking"}, False),
        ({"tags": ["pii", "tabular"]}, True),
        ({"tags": ["pii", "images"]}, False),
        ({"aliases": ["champion"]}, True),
        ({"aliases": ["champion", "stable"]}, True),
        ({"aliases": ["challenger"]}, False),
        ({"aliases": ["champion", "challenger"]}, False),
    ],
)
def test_what_only_its_model_knows_is_matched_with_the_model(
    flags: dict[str, Any], matched: bool
) -> None:
    assert matches(q(**flags), FULL, CHURN, Scope()) is matched
    # A version whose Model is not there has no owner, tag or alias to match.
    assert matches(q(**flags), FULL, None, Scope()) is False


def test_the_scope_is_matched_too() -> None:
    assert matches(Query(), FULL, CHURN, Scope(frozenset({("ml", "churn")}), None))
    assert not matches(Query(), FULL, CHURN, Scope(frozenset({("ml", "fraud")}), None))
    assert not matches(Query(), FULL, CHURN, Scope(frozenset({("dev", "churn")}), None))
    assert matches(Query(), FULL, CHURN, Scope(None, frozenset({("ml", "churn-2")})))
    assert not matches(Query(), FULL, CHURN, Scope(None, frozenset({("ml", "churn-3")})))


def test_an_absent_stage_is_none() -> None:
    fresh = version(stage=None, asked=None)

    assert matches(q(stage="None"), fresh, None, Scope())
    assert matches(q(asked="None"), fresh, None, Scope())
    assert not matches(q(stage="Staging"), fresh, None, Scope())
    assert matches(q(stage="None"), version(stage="None"), None, Scope())


def test_a_version_without_lineage_metrics_or_digest_matches_no_such_filter() -> None:
    bare = version(metrics=None, lineage=None, digest=None)

    for flags in (
        {"where": ["auc!=0"]},
        {"datasets": ["@v1"]},
        {"commit": "abcd"},
        {"run": "run-7"},
        {"digest": DIGEST},
    ):
        assert not matches(q(**flags), bare, None, Scope()), flags
    empty_code = version(lineage={"code": {"repository": "r", "commit": ""}})
    assert not matches(q(commit="abcd"), empty_code, None, Scope())


def test_a_version_without_a_creation_time_matches_no_time_filter() -> None:
    undated = version(created="")

    assert created(undated) is None
    assert matches(Query(), undated, None, Scope())
    assert not matches(q(since="7d"), undated, None, Scope())
    assert not matches(q(until="1d"), undated, None, Scope())


def test_the_number_is_the_assigned_one_else_the_asked_one() -> None:
    assert number(version(number=4)) == 4
    asked = version(number=None)
    asked["spec"]["version"] = 7
    assert number(asked) == 7
    assert number(version(number=None)) is None
    weird = version(number=None)
    weird["status"]["version"] = "3"
    assert number(weird) is None


# ------------------------------------------------------------------ the entry shown


def test_an_entry_shows_the_version_with_its_models_aliases_and_owner() -> None:
    entry = entry_of(version(metrics={"auc": 0.93}, lineage=LINEAGE, labels={"t": "r"}), CHURN)

    assert entry == CatalogEntry(
        namespace="ml",
        name="churn-2",
        model="churn",
        version=2,
        stage="Production",
        asked="Production",
        aliases=("champion", "stable"),
        metrics={"auc": 0.93},
        created="2026-01-08T09:00:00Z",
        ready="True",
        reason="Succeeded",
        owner="team-risk",
        digest=DIGEST,
        datasets=tuple(LINEAGE["datasets"]),  # type: ignore[arg-type]
        commit="abcdef0123",
        parents=({"model": "base", "version": 3},),
        labels={"t": "r"},
    )
    assert entry.sort_key == ("ml", "churn", 2, "churn-2")
    assert entry.as_dict() == {
        "namespace": "ml",
        "name": "churn-2",
        "model": "churn",
        "version": 2,
        "stage": "Production",
        "stageAsked": "Production",
        "aliases": ["champion", "stable"],
        "metrics": {"auc": 0.93},
        "created": "2026-01-08T09:00:00Z",
        "ready": "True",
        "reason": "Succeeded",
        "owner": "team-risk",
        "digest": DIGEST,
        "datasets": LINEAGE["datasets"],
        "commit": "abcdef0123",
        "parents": [{"model": "base", "version": 3}],
        "labels": {"t": "r"},
    }


def test_an_entry_of_a_version_nobody_has_looked_at_yet() -> None:
    body = {"metadata": {"name": "x-1"}, "spec": {"modelRef": {"name": "x"}}}

    entry = entry_of(body, None)

    assert entry.as_dict() == {
        "namespace": "",
        "name": "x-1",
        "model": "x",
        "version": None,
        "stage": "None",
        "stageAsked": "None",
        "aliases": [],
        "metrics": {},
        "created": "",
        "ready": "Unknown",
        "reason": "",
        "owner": None,
        "digest": None,
        "datasets": [],
        "commit": None,
        "parents": [],
        "labels": {},
    }
    assert entry.sort_key == ("", "x", 0, "x-1")


def test_a_table_shows_the_compared_metrics_else_the_first_by_name() -> None:
    metrics = {"loss": 0.2, "auc": 0.93, "f1": 0.81, "recall": 0.7, "precision": 0.9}

    assert key_metrics(metrics, ()) == ([("auc", 0.93), ("f1", 0.81), ("loss", 0.2)], 2)
    assert key_metrics(metrics, (), most=5) == (sorted(metrics.items()), 0)
    compared = (
        MetricCondition("recall", ">", 0.5),
        MetricCondition("absent", ">", 0),
        MetricCondition("recall", "<", 0.9),
        MetricCondition("auc", ">", 0),
    )
    assert key_metrics(metrics, compared) == ([("recall", 0.7), ("auc", 0.93)], 3)
    assert key_metrics({}, ()) == ([], 0)


def test_explain_says_what_is_matched_here() -> None:
    query = q(
        model="churn",
        stage="Production",
        asked="Staging",
        digest=DIGEST,
        run="r7",
        owner="o",
        task="t",
        tags=["pii"],
        aliases=["champion"],
        where=["auc>=0.9"],
        datasets=["events@v2"],
        commit="abcd",
        since="2026-01-01",
        until="2026-01-09T10:00:00Z",
    )
    here = [
        "tag pii (its Model's spec.tags)",
        "alias champion (its Model's status.resolved)",
        "metric auc>=0.9",
        "dataset events@v2",
        "commit abcd*",
        "created since 2026-01-01T00:00:00+00:00",
        "created until 2026-01-09T10:00:00+00:00",
    ]

    assert client_side_terms(query) == here
    assert client_side_terms(query, push_down=False) == [
        "Model churn",
        "stage Production",
        "asked Staging",
        f"digest {DIGEST}",
        "training run r7",
        "owner o",
        "task t",
        *here,
    ]
    assert client_side_terms(Query(), descends_from="churn-2") == [
        "descends from churn-2 (every version of the namespace is read)"
    ]
    assert client_side_terms(Query(), push_down=False) == []


def schema_node(kind: crdgen.Kind, path: str) -> dict[str, Any]:
    (served,) = crdgen.crd_manifest(kind)["spec"]["versions"]
    node: dict[str, Any] = served["schema"]["openAPIV3Schema"]
    for step in path.strip(".").split("."):
        node = node["properties"][step]
    return node


def test_the_crds_declare_scalar_selectable_fields() -> None:
    # The API server takes at most 8, each a string, integer or boolean outside any list.
    expected = {
        crdgen.MODEL: [".spec.owner", ".spec.task"],
        crdgen.MODELVERSION: [
            ".spec.modelRef.name",
            ".spec.stage",
            ".status.stage",
            ".status.version",
            ".status.artifact.digest",
            ".spec.lineage.code.commit",
            ".spec.lineage.trainingRun.id",
        ],
    }
    for kind, paths in expected.items():
        (served,) = crdgen.crd_manifest(kind)["spec"]["versions"]
        assert served["selectableFields"] == [{"jsonPath": p} for p in paths]
        for path in paths:
            assert schema_node(kind, path)["type"] in ("string", "integer"), path


def test_the_catalogs_printer_columns() -> None:
    columns = {
        kind.kind: {
            c["name"]: (c["jsonPath"], c.get("priority", 0))
            for c in crdgen.crd_manifest(kind)["spec"]["versions"][0]["additionalPrinterColumns"]
        }
        for kind in crdgen.KINDS
    }

    assert columns["ModelVersion"]["Asked"] == (".spec.stage", 1)
    assert columns["ModelVersion"]["Commit"] == (".spec.lineage.code.commit", 1)
    assert columns["Model"]["Owner"] == (".spec.owner", 1)
    assert columns["Model"]["Task"] == (".spec.task", 1)
    assert columns["Model"]["Tags"] == (".spec.tags", 1)
