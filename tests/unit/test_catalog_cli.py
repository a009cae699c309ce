"""`modelregistry list|search` and `search_versions`, in-process, on an in-memory API server.

The fake selects by field and label selectors and pages by `limit` as the
API server does (tests/unit/clientfakes.py); the real one is in
tests/integration/test_catalog.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from modelregistry import cli, client
from modelregistry.client.errors import Refused
from tests.unit.clientfakes import FakeSession

Body = dict[str, Any]
DIGEST = "sha256:" + "ef" * 32


def model(name: str, namespace: str = "ml", **spec: Any) -> Body:
    status = {"resolved": spec.pop("resolved", {})}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec, "status": status}


def version(
    name: str,
    model: str,
    number: int,
    *,
    namespace: str = "ml",
    stage: str | None = None,
    created: str = "2026-01-08T09:00:00Z",
    **spec: Any,
) -> Body:
    status: Body = {"version": number, "artifact": {"digest": DIGEST}}
    if stage:
        status["stage"] = stage
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {"modelRef": {"name": model}, "artifact": {"uri": "s3://m/x"}, **spec},
        "status": status,
    }


def catalog() -> FakeSession:
    fake = FakeSession(models=())
    objects = [
        model(
            "churn",
            owner="team-risk",
            tags=["tabular"],
            resolved={
                "Production": {"name": "churn-2", "version": 2},
                "champion": {"name": "churn-2", "version": 2},
            },
        ),
        model("fraud", owner="team-fraud"),
        model("churn", namespace="prod", owner="team-risk"),
        version("churn-1", "churn", 1, metrics={"auc": 0.88, "f1": 0.7, "loss": 0.3, "p": 1}),
        version(
            "churn-2",
            "churn",
            2,
            stage="Production",
            metrics={"auc": 0.93},
            lineage={
                "datasets": [{"name": "events", "version": "2024-06"}],
                "code": {"repository": "r", "commit": "abcdef0123"},
            },
        ),
        version(
            "churn-3",
            "churn",
            3,
            stage="Staging",
            metrics={"auc": 0.95},
            lineage={"parents": [{"model": "churn", "version": 2}]},
        ),
        version(
            "fraud-1",
            "fraud",
            1,
            metrics={"auc": 0.97},
            lineage={"parents": [{"model": "churn", "version": 3}]},
        ),
        version("churn-prod-1", "churn", 1, namespace="prod", stage="Production"),
    ]
    for body in objects:
        plural = "models" if "modelRef" not in body["spec"] else "modelversions"
        key = body["metadata"]["name"] + (
            "@prod" if body["metadata"]["namespace"] == "prod" else ""
        )
        fake.objects[(plural, key)] = body
    fake.objects[("modelversions", "churn-1")]["metadata"]["labels"] = {"team": "risk"}
    return fake


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSession]:
    fake = catalog()
    monkeypatch.setattr(client.Session, "connect", lambda namespace=None, **_: fake)
    yield fake


def search(*args: str) -> int:
    return cli.main(["search", *args])


def names(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line.rsplit("/", 1)[1] for line in capsys.readouterr().out.splitlines()]


def test_filters_push_down_what_the_api_server_selects(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    code = search("--model", "churn", "--stage", "Production", "-l", "x!=y", "-o", "name")

    assert code == 0
    assert names(capsys) == ["churn-2"]
    assert session.lists == [
        ("models", False, None, None, 500),
        (
            "modelversions",
            False,
            "x!=y",
            "spec.modelRef.name=churn,status.stage=Production",
            500,
        ),
    ]


def test_what_the_server_cannot_select_is_matched_here(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--where", "auc>0.9", "--where", "auc<0.96", "-o", "name") == 0
    assert names(capsys) == ["churn-2", "churn-3"]
    assert session.lists[-1] == ("modelversions", False, None, None, 500)

    assert search("--dataset", "events@2024-06", "--commit", "ABCD", "-o", "name") == 0
    assert names(capsys) == ["churn-2"]
    assert search("--since", "2026-01-08T09:00:01Z", "-o", "name") == 0
    assert names(capsys) == []


def test_an_owner_is_asked_of_models_and_one_model_left_is_selected(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--owner", "team-risk", "--tag", "tabular", "-o", "name") == 0

    assert names(capsys) == ["churn-1", "churn-2", "churn-3"]
    assert session.lists == [
        ("models", False, None, "spec.owner=team-risk", 500),
        ("modelversions", False, None, "spec.modelRef.name=churn", 500),
    ]


def test_an_alias_naming_one_version_selects_it_by_name(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--alias", "champion", "-o", "name") == 0

    assert names(capsys) == ["churn-2"]
    assert session.lists[-1] == ("modelversions", False, None, "metadata.name=churn-2", 500)


def test_nothing_left_by_the_models_lists_no_version(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--owner", "nobody") == 0

    assert capsys.readouterr().err == "No ModelVersions found in namespace ml.\n"
    assert [plural for plural, *_ in session.lists] == ["models"]


def test_pages_are_followed_to_the_end(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--chunk-size", "2", "-o", "name") == 0

    assert names(capsys) == ["churn-1", "churn-2", "churn-3", "fraud-1"]
    assert [(p, limit) for p, _, _, _, limit in session.lists] == [
        ("models", 2),
        ("modelversions", 2),
        ("modelversions", 2),
    ]
    assert search("--chunk-size", "0", "-o", "name") == 0
    assert len(names(capsys)) == 4
    assert session.lists[-1][-1] is None


def test_all_namespaces(session: FakeSession, capsys: pytest.CaptureFixture[str]) -> None:
    assert search("-A", "--stage", "Production", "--owner", "team-risk") == 0

    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "NAMESPACE",
        "NAME",
        "MODEL",
        "VERSION",
        "STAGE",
        "ALIASES",
        "METRICS",
        "CREATED",
    ]
    assert [r.split()[:6] for r in rows] == [
        ["ml", "churn-2", "churn", "2", "Production", "champion"],
        ["prod", "churn-prod-1", "churn", "1", "Production", "-"],
    ]
    assert all(all_namespaces for _, all_namespaces, *_ in session.lists)


def test_the_table_shows_stage_aliases_key_metrics_and_time(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["list", "--model", "churn"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "NAME     MODEL  VERSION  STAGE       ALIASES   METRICS                        CREATED",
        "churn-1  churn  1        None        -         auc=0.88 f1=0.7 loss=0.3 (+1)  "
        "2026-01-08T09:00:00Z",
        "churn-2  churn  2        Production  champion  auc=0.93                       "
        "2026-01-08T09:00:00Z",
        "churn-3  churn  3        Staging     -         auc=0.95                       "
        "2026-01-08T09:00:00Z",
    ]
    assert search("--where", "p>0", "-o", "wide", "--model", "churn") == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[-5:] == ["ASKED", "READY", "OWNER", "DATASETS", "COMMIT"]
    assert row.split() == [
        "churn-1",
        "churn",
        "1",
        "None",
        "-",
        "p=1",
        "(+3)",
        "2026-01-08T09:00:00Z",
        "None",
        "Unknown",
        "team-risk",
        "-",
        "-",
    ]
    assert search("-o", "wide", "--commit", "abcdef") == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split()[-3:] == ["team-risk", "events@2024-06", "abcdef0123"]


def test_json_and_yaml_are_the_entries(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--alias", "champion", "-o", "json") == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["name"], entry["aliases"], entry["owner"], entry["metrics"]) == (
        "churn-2",
        ["champion"],
        "team-risk",
        {"auc": 0.93},
    )
    assert search("--alias", "champion", "-o", "yaml") == 0
    assert yaml.safe_load(capsys.readouterr().out) == [entry]
    assert search("--owner", "nobody", "-o", "json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_explain_names_each_request_and_what_was_matched_here(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--stage", "Staging", "--where", "auc>0.9", "--explain", "-o", "name") == 0

    out, err = capsys.readouterr()
    assert out == "modelversion.modelregistry.io/churn-3\n"
    lines = err.splitlines()
    assert lines[0].startswith("search: GET /apis/modelregistry.io/v1alpha1/namespaces/ml/models")
    assert lines[0].split("?")[1].startswith("limit=500: 2 items, ")
    assert lines[1].startswith(
        "search: GET /apis/modelregistry.io/v1alpha1/namespaces/ml/modelversions"
        "?fieldSelector=status.stage%3DStaging&limit=500: 1 items, "
    )
    assert lines[2] == "search: matched here: metric auc>0.9"
    assert re.fullmatch(
        r"search: 2 requests, 3 objects received, \d+\.\d KiB; 1 versions matched", lines[3]
    )
    assert len(lines) == 4


def test_a_bad_filter_exits_2_naming_it(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--where", "auc=>0.9") == 2
    assert capsys.readouterr().err == (
        "modelregistry search: --where 'auc=>0.9': '=>' is not a comparison; "
        "write --where 'auc>=0.9'\n"
    )
    assert search("--chunk-size", "-1") == 2
    assert "--chunk-size -1: write 0 (no paging) or more" in capsys.readouterr().err
    assert session.lists == []


def test_all_namespaces_refused_says_what_it_needs(
    session: FakeSession, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    said = (
        'models.modelregistry.io is forbidden: User "carol" cannot list resource "models" in '
        'API group "modelregistry.io" at the cluster scope'
    )

    def refuse(plural: str, **_: Any) -> bytes:
        raise Refused(said, 403)

    monkeypatch.setattr(session, "list_page", refuse)

    assert search("-A") == 1
    assert capsys.readouterr().err == (
        f"modelregistry search: refused by the API server: {said}. -A reads every namespace at "
        "once, which needs the list verb on models.modelregistry.io across the cluster (a "
        "ClusterRoleBinding); without it, search a namespace you may read: -n NAMESPACE\n"
    )
    assert search() == 1
    assert capsys.readouterr().err.endswith(
        ". Searching namespace 'ml' needs the list verb on models.modelregistry.io there "
        "(the view role has it)\n"
    )


@pytest.mark.parametrize("status", [410, 500])
def test_other_refusals(
    session: FakeSession,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    def refuse(plural: str, **_: Any) -> bytes:
        raise Refused("too old", status)

    monkeypatch.setattr(session, "list_page", refuse)

    assert search() == 1
    expected = {
        410: "too old. The listing outlived its continue token: run the search again (a larger "
        "--chunk-size makes fewer, longer requests)",
        500: "too old",
    }[status]
    assert capsys.readouterr().err == (
        f"modelregistry search: refused by the API server: {expected}\n"
    )


def test_descendants_are_searched_through_every_version(
    session: FakeSession, capsys: pytest.CaptureFixture[str]
) -> None:
    assert search("--descends-from", "churn-2", "-o", "name") == 0
    assert names(capsys) == ["churn-3", "fraud-1"]
    assert session.lists[-1] == ("modelversions", False, None, None, 500)

    assert search("--descends-from", "churn@3", "--where", "auc>0.99", "-o", "name") == 0
    assert names(capsys) == []
    assert search("--descends-from", "churn-9") == 1
    assert capsys.readouterr().err == (
        "modelregistry search: 'churn-9' in namespace 'ml': no such version; name a "
        "ModelVersion, or write MODEL@NUMBER such as churn@3\n"
    )
    assert search("--descends-from", "churn-2", "-A") == 1
    assert "within one namespace: name it with -n, not -A" in capsys.readouterr().err


def test_the_sdk_gives_the_same_answer_without_pushing_down(session: FakeSession) -> None:
    query = client.parse_query(model="churn", stage="None", owner="team-risk", where=["auc>0"])
    traffic, plain = client.Traffic(), client.Traffic()

    pushed = client.search_versions(session.as_session(), query, traffic=traffic)
    local = client.search_versions(session.as_session(), query, push_down=False, traffic=plain)

    assert [e.name for e in pushed] == [e.name for e in local] == ["churn-1"]
    assert (traffic.count, traffic.items) == (2, 2)  # the Model of team-risk, 1 version
    assert (plain.count, plain.items) == (2, 6)  # everything in the namespace
    assert traffic.size < plain.size
    assert str(traffic.requests[1]).startswith(
        "GET /apis/modelregistry.io/v1alpha1/namespaces/ml/modelversions?fieldSelector="
        "spec.modelRef.name%3Dchurn%2Cstatus.stage%21%3DStaging"
    )


def test_the_sdk_descendants(session: FakeSession) -> None:
    found = client.descendants_of(session.as_session(), "churn-2")

    assert [(d.node.name, d.depth) for d in found] == [("churn-3", 1), ("fraud-1", 2)]
    with pytest.raises(client.RegistryError, match="it has no version number yet"):
        session.objects[("modelversions", "new")] = version("new", "churn", 0)
        del session.objects[("modelversions", "new")]["status"]["version"]
        client.descendants_of(session.as_session(), "new")


def test_a_bad_query_in_the_sdk_is_a_registry_error() -> None:
    with pytest.raises(client.BadQuery, match="'=>' is not a comparison") as raised:
        client.parse_query(where=["auc=>1"])
    assert isinstance(raised.value, client.RegistryError)
