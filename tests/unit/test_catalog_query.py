"""The catalog's query grammar: what each flag accepts, and what it refuses in words."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from modelregistry.decisions.catalogquery import (
    COMPARISONS,
    DATASET_ROLES,
    STAGES,
    DatasetMatch,
    MetricCondition,
    Query,
    QueryError,
    parse_alias,
    parse_commit,
    parse_dataset,
    parse_name,
    parse_query,
    parse_stage,
    parse_time,
    parse_where,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
WHERE_USAGE = (
    "write a metric, one of >= > <= < == !=, and a number, such as --where 'auc>=0.9'; "
    "repeat --where for more conditions (all must hold)"
)
DATASET_USAGE = (
    "write NAME, NAME@VERSION, NAME@sha256:DIGEST or @VERSION (a version of any dataset)"
)
TIME_USAGE = (
    "write a duration back from now (30m, 12h, 7d, 2w, 1d12h) or an RFC 3339 time "
    "(2026-01-05T09:30:00Z, or a date: 2026-01-05)"
)


def refusal(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(QueryError) as raised:
        call(*args)
    return str(raised.value)


# ------------------------------------------------------------------ --where


def test_the_stages_and_roles_are_the_api_types() -> None:
    assert STAGES == ("None", "Staging", "Production", "Archived")
    assert DATASET_ROLES == ("training", "validation", "test", "evaluation", "other")
    assert sorted(COMPARISONS) == sorted([">=", ">", "<=", "<", "==", "!="])


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("auc>=0.9", "auc", ">=", 0.9),
        ("auc > 0.9", "auc", ">", 0.9),
        ("  loss<=0.25 ", "loss", "<=", 0.25),
        ("loss<-1e-3", "loss", "<", -0.001),
        ("f1==1", "f1", "==", 1.0),
        ("val/f1-score != .5", "val/f1-score", "!=", 0.5),
        ("_p:at.k>+3.", "_p:at.k", ">", 3.0),
    ],
)
def test_a_condition_is_a_metric_an_operator_and_a_number(
    text: str, metric: str, op: str, value: float
) -> None:
    assert parse_where(text) == MetricCondition(metric, op, value)


def test_a_condition_reads_as_it_is_compared() -> None:
    assert str(parse_where("auc >= 0.90")) == "auc>=0.9"
    assert str(parse_where("loss < 2")) == "loss<2"
    assert str(parse_where("x == 1e20")) == "x==1e+20"


@pytest.mark.parametrize(
    ("op", "below", "equal", "above"),
    [
        (">=", False, True, True),
        (">", False, False, True),
        ("<=", True, True, False),
        ("<", True, False, False),
        ("==", False, True, False),
        ("!=", True, False, True),
    ],
)
def test_every_operator_compares_exactly(op: str, below: bool, equal: bool, above: bool) -> None:
    condition = parse_where(f"auc{op}0.9")

    assert condition.holds({"auc": 0.89}) is below
    assert condition.holds({"auc": 0.9}) is equal
    assert condition.holds({"auc": 0.91}) is above
    assert condition.holds({"auc": 1}) is above  # an integer is a number too


@pytest.mark.parametrize("op", [">=", ">", "<=", "<", "==", "!="])
def test_a_missing_or_unusable_metric_meets_no_condition(op: str) -> None:
    condition = parse_where(f"auc{op}0.9")

    assert not condition.holds({})
    assert not condition.holds({"f1": 0.9})
    assert not condition.holds({"auc": math.nan})
    assert not condition.holds({"auc": "0.95"})
    assert not condition.holds({"auc": True})
    assert not condition.holds({"auc": None})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auc", "--where 'auc' has no comparison: " + WHERE_USAGE),
        ("", "--where '' has no comparison: " + WHERE_USAGE),
        ("auc=0.9", "--where 'auc=0.9': '=' is not a comparison; write --where 'auc==0.9'"),
        ("auc => 0.9", "--where 'auc => 0.9': '=>' is not a comparison; write --where 'auc>=0.9'"),
        ("auc=<0.9", "--where 'auc=<0.9': '=<' is not a comparison; write --where 'auc<=0.9'"),
        (">= 0.9", "--where '>= 0.9' names no metric before '>=': " + WHERE_USAGE),
        (
            "9auc>=1",
            "--where '9auc>=1': '9auc' is not a metric name (a letter or _, then letters, "
            "digits, _ . : / -): " + WHERE_USAGE,
        ),
        (
            "my auc>=1",
            "--where 'my auc>=1': 'my auc' is not a metric name (a letter or _, then letters, "
            "digits, _ . : / -): " + WHERE_USAGE,
        ),
        (
            "auc>=0.9,f1>0.8",
            "--where 'auc>=0.9,f1>0.8' holds more than one comparison: " + WHERE_USAGE,
        ),
        (
            "auc>=0.9 and f1>0.8",
            "--where 'auc>=0.9 and f1>0.8' holds more than one comparison: " + WHERE_USAGE,
        ),
        (
            "0.8<auc<0.9",
            "--where '0.8<auc<0.9': '0.8' is not a metric name (a letter or _, "
            "then letters, digits, _ . : / -): " + WHERE_USAGE,
        ),
        ("auc>=high", "--where 'auc>=high': 'high' is not a number: " + WHERE_USAGE),
        ("auc>=", "--where 'auc>=': '' is not a number: " + WHERE_USAGE),
        ("auc>=nan", "--where 'auc>=nan': 'nan' is not a number: " + WHERE_USAGE),
        ("auc>=0.9x", "--where 'auc>=0.9x': '0.9x' is not a number: " + WHERE_USAGE),
        ("auc>=1e999", "--where 'auc>=1e999': '1e999' is too large a number: " + WHERE_USAGE),
    ],
)
def test_a_bad_condition_is_named_with_its_fix(text: str, message: str) -> None:
    assert refusal(parse_where, text) == message


# ------------------------------------------------------------------ --dataset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("events", DatasetMatch("events")),
        (" events ", DatasetMatch("events")),
        ("events@2024-06", DatasetMatch("events", version="2024-06")),
        (f"events@{DIGEST}", DatasetMatch("events", digest=DIGEST)),
        ("@2024-06", DatasetMatch(version="2024-06")),
        (f"@{DIGEST}", DatasetMatch(digest=DIGEST)),
        ("mail@corp@v2", DatasetMatch("mail@corp", version="v2")),
    ],
)
def test_a_dataset_is_a_name_a_version_or_a_digest(text: str, expected: DatasetMatch) -> None:
    assert parse_dataset(text) == expected


def test_a_dataset_role_narrows_it() -> None:
    assert parse_dataset("events", "training") == DatasetMatch("events", role="training")
    assert str(parse_dataset("events@v2", "test")) == "events@v2 (test)"
    assert str(parse_dataset(f"events@{DIGEST}")) == f"events@{DIGEST}"
    assert str(parse_dataset("@v2")) == "@v2"
    assert str(parse_dataset("events")) == "events"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--dataset '' is empty: " + DATASET_USAGE),
        ("  ", "--dataset '  ' is empty: " + DATASET_USAGE),
        ("events@", "--dataset 'events@' has nothing after '@': " + DATASET_USAGE),
        ("@", "--dataset '@' has nothing after '@': " + DATASET_USAGE),
        (
            "events@sha256:abc",
            "--dataset 'events@sha256:abc': 'sha256:abc' is not a digest (sha256: and 64 "
            "lowercase hex digits): " + DATASET_USAGE,
        ),
    ],
)
def test_a_bad_dataset_is_named_with_its_fix(text: str, message: str) -> None:
    assert refusal(parse_dataset, text) == message


def test_an_unknown_role_is_refused() -> None:
    assert refusal(parse_dataset, "events", "train") == (
        "--dataset-role 'train' is not a dataset role: write one of training, validation, "
        "test, evaluation, other"
    )


DATASETS = [
    {"name": "events", "version": "2024-06", "digest": DIGEST, "role": "training"},
    {"name": "holdout", "version": "v1", "role": "test"},
]


@pytest.mark.parametrize(
    ("match", "holds"),
    [
        (DatasetMatch("events"), True),
        (DatasetMatch("holdout"), True),
        (DatasetMatch("clicks"), False),
        (DatasetMatch("events", version="2024-06"), True),
        (DatasetMatch("events", version="2024-05"), False),
        (DatasetMatch("events", version="v1"), False),  # holdout's version, not events'
        (DatasetMatch("events", digest=DIGEST), True),
        (DatasetMatch("holdout", digest=DIGEST), False),
        (DatasetMatch(version="v1"), True),
        (DatasetMatch(digest=DIGEST), True),
        (DatasetMatch("events", role="training"), True),
        (DatasetMatch("events", role="test"), False),
        (DatasetMatch("holdout", role="test"), True),
        (DatasetMatch("events", version="2024-06", role="training"), True),
    ],
)
def test_one_dataset_must_have_everything_asked(match: DatasetMatch, holds: bool) -> None:
    assert match.holds(DATASETS) is holds
    assert match.holds([]) is False


# ------------------------------------------------------------------ commit, time, stage, names


def test_a_commit_is_a_hex_prefix_of_at_least_4_digits() -> None:
    assert parse_commit("abc1") == "abc1"
    assert parse_commit(" ABCDEF0123 ") == "abcdef0123"
    assert parse_commit("a" * 64) == "a" * 64
    message = (
        "--commit {!r} is not a commit: write its hex digits, at least the first 4 (the commit "
        "recorded in spec.lineage.code.commit begins with them)"
    )
    for bad in ("abc", "xyz123", "a" * 65, "abc1 def2"):
        assert refusal(parse_commit, bad) == message.format(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("1d12h", NOW - timedelta(hours=36)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90s", NOW - timedelta(seconds=90)),
        ("0h", NOW),
        (" 12h ", NOW - timedelta(hours=12)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
        ("2026-01-05T09:30:00Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05t09:30:00z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05T09:30:00+02:00", datetime(2026, 1, 5, 7, 30, tzinfo=UTC)),
        ("2026-01-05 09:30:00.5-01:00", datetime(2026, 1, 5, 10, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_a_time_is_a_duration_back_from_now_or_rfc_3339(text: str, expected: datetime) -> None:
    parsed = parse_time(text, NOW, "--since")

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "7x", "d", "7", "-7d", "7 d", "2026-13-01", ""])
def test_a_bad_time_is_named_with_both_forms(text: str) -> None:
    assert refusal(parse_time, text, NOW, "--until") == (
        f"--until {text!r} is neither a duration nor a time: {TIME_USAGE}"
    )


def test_a_time_without_a_zone_is_refused() -> None:
    assert refusal(parse_time, "2026-01-05T09:30:00", NOW, "--since") == (
        "--since '2026-01-05T09:30:00' has no time zone: add Z (UTC) or an offset such as "
        "+02:00, as RFC 3339 asks: 2026-01-05T09:30:00Z"
    )
    assert "has no time zone" in refusal(parse_time, "20260105", NOW, "--since")


def test_a_stage_is_one_of_four_in_any_case() -> None:
    assert [parse_stage(s, "--stage") for s in ("none", "STAGING", " Production ", "archived")] == [
        "None",
        "Staging",
        "Production",
        "Archived",
    ]
    assert refusal(parse_stage, "Prod", "--asked") == (
        "--asked 'Prod' is not a stage: write one of None, Staging, Production, Archived"
    )


def test_a_model_name_is_an_object_name() -> None:
    assert parse_name("churn.v2-eu", "--model") == "churn.v2-eu"
    message = (
        "--model {!r} is not an object name: lowercase letters, digits, '-' and '.' (RFC 1123), "
        "as the Model's metadata.name"
    )
    for bad in ("Churn", "churn_v2", "-churn", "", "a" * 254):
        assert refusal(parse_name, bad, "--model") == message.format(bad)
    assert parse_name("a" * 253, "--model") == "a" * 253


def test_an_alias_is_a_label_and_not_a_stage() -> None:
    assert parse_alias("champion") == "champion"
    assert parse_alias("a" * 63) == "a" * 63
    assert refusal(parse_alias, "production") == (
        "--alias 'production' is a stage, not an alias: write --stage Production for the "
        "version granted it"
    )
    assert "write --stage None" in refusal(parse_alias, "None")
    message = (
        "--alias {!r} is not an alias name: aliases are RFC 1123 labels (lowercase letters, "
        "digits, '-'), as in the Model's spec.aliases"
    )
    for bad in ("Champion", "champ.ion", "a" * 64, ""):
        assert refusal(parse_alias, bad) == message.format(bad)


# ------------------------------------------------------------------ the whole query


def test_an_empty_query_asks_nothing() -> None:
    query = parse_query(now=NOW)

    assert query == Query()
    assert not query.asks_models


def test_every_flag_lands_in_its_place() -> None:
    query = parse_query(
        now=NOW,
        model="churn",
        labels="team=risk",
        stage="production",
        asked="staging",
        aliases=["champion"],
        tags=["tabular", "pii"],
        owner="team-risk",
        task="classification",
        where=["auc>=0.9", "loss<0.3"],
        datasets=["events@2024-06", "holdout"],
        dataset_role="training",
        commit="ABC123",
        run="run-7",
        digest=DIGEST,
        since="7d",
        until="2026-01-10",
    )

    assert query == Query(
        model="churn",
        labels="team=risk",
        stage="Production",
        asked="Staging",
        aliases=("champion",),
        tags=("tabular", "pii"),
        owner="team-risk",
        task="classification",
        where=(MetricCondition("auc", ">=", 0.9), MetricCondition("loss", "<", 0.3)),
        datasets=(
            DatasetMatch("events", version="2024-06", role="training"),
            DatasetMatch("holdout", role="training"),
        ),
        commit="abc123",
        run="run-7",
        digest=DIGEST,
        since=NOW - timedelta(days=7),
        until=datetime(2026, 1, 10, tzinfo=UTC),
    )
    assert query.asks_models


@pytest.mark.parametrize(
    "asked",
    [{"aliases": ["champion"]}, {"tags": ["x"]}, {"owner": "me"}, {"task": "ranking"}],
)
def test_what_only_the_model_knows_asks_for_models(asked: dict[str, object]) -> None:
    assert parse_query(now=NOW, **asked).asks_models  # type: ignore[arg-type]


def test_an_empty_label_selector_is_none() -> None:
    assert parse_query(now=NOW, labels="").labels is None


def test_a_role_without_a_dataset_is_refused() -> None:
    assert refusal(lambda: parse_query(now=NOW, dataset_role="test")) == (
        "--dataset-role narrows --dataset: name the dataset too, such as --dataset events "
        "--dataset-role test"
    )


def test_a_bad_digest_is_refused() -> None:
    assert refusal(lambda: parse_query(now=NOW, digest="sha256:xyz")) == (
        "--digest 'sha256:xyz' is not a digest: write sha256: and 64 lowercase hex digits, as "
        "`modelregistry digest PATH` prints it"
    )


def test_since_after_until_is_refused() -> None:
    assert refusal(lambda: parse_query(now=NOW, since="1d", until="2d")) == (
        "--since 1d is after --until 2d: no version can be created in between; swap them"
    )
    same = parse_query(now=NOW, since="2026-01-05", until="2026-01-05")
    assert same.since == same.until


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"model": "Churn"}, "--model 'Churn'"),
        ({"stage": "prod"}, "--stage 'prod'"),
        ({"asked": "prod"}, "--asked 'prod'"),
        ({"aliases": ["Best"]}, "--alias 'Best'"),
        ({"where": ["auc>=0.9", "f1=>1"]}, "--where 'f1=>1'"),
        ({"datasets": ["x@"]}, "--dataset 'x@'"),
        ({"datasets": ["x"], "dataset_role": "t"}, "--dataset-role 't'"),
        ({"commit": "zz"}, "--commit 'zz'"),
        ({"since": "soon"}, "--since 'soon'"),
        ({"until": "later"}, "--until 'later'"),
    ],
)
def test_each_flag_names_itself_when_wrong(flags: dict[str, object], named: str) -> None:
    assert refusal(lambda: parse_query(now=NOW, **flags)).startswith(named)  # type: ignore[arg-type]
