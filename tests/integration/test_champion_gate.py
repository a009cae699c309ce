"""The champion gate on the real API server: Production only for a version whose declared metric
beats the holder's (or an alias's version) by the margin, both values side by side in the
StageGranted message and status.comparison."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from tests.integration.support import Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def registered(
    s3_client: S3Client, bucket: str, objects: Objects, name: str, model: str, **spec: Any
) -> None:
    s3_client.put_object(Bucket=bucket, Key=f"{name}.bin", Body=name.encode())
    objects.version(name, model, f"s3://{bucket}/{name}.bin", **spec)


def stage_of(objects: Objects, name: str) -> str | None:
    return cast(str | None, (objects.get("modelversions", name).get("status") or {}).get("stage"))


def comparison(objects: Objects, name: str) -> dict[str, Any]:
    return cast(dict[str, Any], objects.get("modelversions", name)["status"]["comparison"])


def in_production(objects: Objects, operator: OperatorProcess, name: str) -> None:
    wait_until(
        lambda: stage_of(objects, name) == "Production",
        what=f"{name} in Production",
        on_timeout=operator.log_tail,
    )


def test_production_goes_only_to_a_version_that_beats_the_holder_by_the_margin(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model(
        "churn",
        policy={
            "productionHandover": "replace",
            "production": {"mustBeat": {"metric": "auc", "by": 0.005}},
        },
    )
    # With no holder yet, the first version passes.
    registered(
        s3_client, bucket, objects, "churn-1", "churn", metrics={"auc": 0.9}, stage="Production"
    )
    in_production(objects, operator, "churn-1")
    first = objects.present_condition("churn-1", "StageGranted")
    assert first["message"] == (
        "Production is granted: auc 0.9; there is no version to beat (no other version holds "
        "Production)."
    )

    # Better, but not by the margin: refused, both values side by side.
    registered(
        s3_client, bucket, objects, "churn-2", "churn", metrics={"auc": 0.903}, stage="Production"
    )
    refused = objects.wait_condition(
        "churn-2", "StageGranted", "False", "ChampionNotBeaten", on_timeout=operator.log_tail
    )
    assert refused["message"] == (
        "Production needs auc above 0.9 (churn-1, the Production holder) by at least 0.005 "
        "(the Model's spec.policy.production.mustBeat); this version has 0.903, better by "
        "0.003. Register a better version, or change the policy."
    )
    assert comparison(objects, "churn-2") == {
        "metric": "auc",
        "candidate": 0.903,
        "against": 0.9,
        "againstVersion": "churn-1",
        "by": 0.005,
        "source": "Declared",
        "passed": False,
    }

    # Without the metric: refused, the metric named.
    registered(
        s3_client, bucket, objects, "churn-3", "churn", metrics={"f1": 0.7}, stage="Production"
    )
    missing = objects.wait_condition(
        "churn-3", "StageGranted", "False", "MetricMissing", on_timeout=operator.log_tail
    )
    assert missing["message"].startswith(
        "Production needs auc (the Model's spec.policy.production.mustBeat), and this version "
        "declares none in spec.metrics."
    )

    # By the margin: granted, and the holder archived.
    registered(
        s3_client, bucket, objects, "churn-4", "churn", metrics={"auc": 0.912}, stage="Production"
    )
    in_production(objects, operator, "churn-4")
    granted = objects.present_condition("churn-4", "StageGranted")
    assert granted["message"] == (
        "Production is granted: auc 0.912 beats 0.9 (churn-1, the Production holder) by 0.012, "
        "at least 0.005 asked."
    )
    assert comparison(objects, "churn-4")["passed"] is True
    assert stage_of(objects, "churn-1") == "Archived"
    for name in ("churn-2", "churn-3"):
        assert stage_of(objects, name) == "None"

    # churn-2 is now measured against the new holder.
    wait_until(
        lambda: comparison(objects, "churn-2").get("againstVersion") == "churn-4",
        what="churn-2 compared with the new holder",
        on_timeout=operator.log_tail,
    )
    assert stage_of(objects, "churn-2") == "None"


def test_lower_is_better_against_an_alias(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model(
        "ranker",
        aliases={"champion": 1},
        policy={
            "production": {
                "mustBeat": {
                    "metric": "latency_ms",
                    "by": 5,
                    "lowerIsBetter": True,
                    "against": "champion",
                }
            }
        },
    )
    registered(
        s3_client, bucket, objects, "ranker-1", "ranker", version=1, metrics={"latency_ms": 50}
    )
    registered(
        s3_client,
        bucket,
        objects,
        "ranker-2",
        "ranker",
        version=2,
        metrics={"latency_ms": 47},
        stage="Production",
    )
    refused = objects.wait_condition(
        "ranker-2", "StageGranted", "False", "ChampionNotBeaten", on_timeout=operator.log_tail
    )
    assert "latency_ms below 50 (ranker-1, alias 'champion') by at least 5" in refused["message"]

    registered(
        s3_client,
        bucket,
        objects,
        "ranker-3",
        "ranker",
        version=3,
        metrics={"latency_ms": 41},
        stage="Production",
    )
    in_production(objects, operator, "ranker-3")
    assert objects.present_condition("ranker-3", "StageGranted")["message"] == (
        "Production is granted: latency_ms 41 beats 50 (ranker-1, alias 'champion') by 9, at "
        "least 5 asked."
    )
    assert comparison(objects, "ranker-3") == {
        "metric": "latency_ms",
        "candidate": 41,
        "against": 50,
        "againstVersion": "ranker-1",
        "by": 5,
        "lowerIsBetter": True,
        "source": "Declared",
        "passed": True,
    }
