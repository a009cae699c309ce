"""Operator settings from the environment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelregistry.settings import Settings
from modelregistry.storage import Endpoint

NUMERIC = (
    "MODELREGISTRY_REVERIFY_INTERVAL",
    "MODELREGISTRY_CHECK_INTERVAL",
    "MODELREGISTRY_MAX_CONCURRENT_VERIFICATIONS",
    "MODELREGISTRY_FILE_WORKERS",
    "MODELREGISTRY_RETRY_BASE_DELAY",
    "MODELREGISTRY_RETRY_MAX_DELAY",
)
INTEGER = ("MODELREGISTRY_MAX_CONCURRENT_VERIFICATIONS", "MODELREGISTRY_FILE_WORKERS")


def test_defaults() -> None:
    settings = Settings.from_environment({})

    assert settings == Settings(
        default_endpoint=Endpoint(url=None, region=None, addressing_style=None),
        reverify_interval=timedelta(hours=1),
        check_interval=60.0,
        max_concurrent_verifications=2,
        file_workers=4,
        retry_base_delay=2.0,
        retry_max_delay=60.0,
        namespaces=(),
        validation_image="localhost/modelregistry/operator:dev",
        validation_pull_policy="IfNotPresent",
        validation_endpoint=None,
        validation_secret=None,
        model_refresh_window=1.0,
    )


def test_empty_values_mean_the_default() -> None:
    env = dict.fromkeys(
        (*NUMERIC, "MODELREGISTRY_NAMESPACES", "MODELREGISTRY_S3_ENDPOINT", "AWS_ENDPOINT_URL"), ""
    )

    assert Settings.from_environment(env) == Settings.from_environment({})


def test_values_are_parsed() -> None:
    settings = Settings.from_environment(
        {
            "MODELREGISTRY_S3_ENDPOINT": "http://minio.storage:9000",
            "MODELREGISTRY_S3_REGION": "eu-west-1",
            "MODELREGISTRY_S3_ADDRESSING_STYLE": "path",
            "MODELREGISTRY_REVERIFY_INTERVAL": "90.5",
            "MODELREGISTRY_CHECK_INTERVAL": "15",
            "MODELREGISTRY_MAX_CONCURRENT_VERIFICATIONS": "8",
            "MODELREGISTRY_FILE_WORKERS": "16",
            "MODELREGISTRY_RETRY_BASE_DELAY": "0.5",
            "MODELREGISTRY_RETRY_MAX_DELAY": "300",
            "MODELREGISTRY_NAMESPACES": "ml-team",
            "MODELREGISTRY_VALIDATION_IMAGE": "registry.example/mr:1.2",
            "MODELREGISTRY_VALIDATION_IMAGE_PULL_POLICY": "Always",
            "MODELREGISTRY_VALIDATION_S3_ENDPOINT": "http://10.0.0.5:9000",
            "MODELREGISTRY_MODEL_REFRESH_WINDOW": "0.25",
            "MODELREGISTRY_VALIDATION_SECRET": "s3-keys",
        }
    )

    assert settings == Settings(
        default_endpoint=Endpoint(
            url="http://minio.storage:9000", region="eu-west-1", addressing_style="path"
        ),
        reverify_interval=timedelta(seconds=90.5),
        check_interval=15.0,
        max_concurrent_verifications=8,
        file_workers=16,
        retry_base_delay=0.5,
        retry_max_delay=300.0,
        namespaces=("ml-team",),
        validation_image="registry.example/mr:1.2",
        validation_pull_policy="Always",
        validation_endpoint="http://10.0.0.5:9000",
        validation_secret="s3-keys",
        model_refresh_window=0.25,
    )
    assert isinstance(settings.max_concurrent_verifications, int)
    assert isinstance(settings.file_workers, int)


def test_aws_endpoint_url_is_the_fallback_endpoint() -> None:
    fallback = Settings.from_environment({"AWS_ENDPOINT_URL": "http://s3.local:9000"})
    both = Settings.from_environment(
        {"AWS_ENDPOINT_URL": "http://s3.local:9000", "MODELREGISTRY_S3_ENDPOINT": "http://own:1"}
    )

    assert fallback.default_endpoint.url == "http://s3.local:9000"
    assert both.default_endpoint.url == "http://own:1"


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELREGISTRY_FILE_WORKERS", "3")
    monkeypatch.setenv("MODELREGISTRY_NAMESPACES", "from-env, other")

    settings = Settings.from_environment()

    assert settings.file_workers == 3
    assert settings.namespaces == ("from-env", "other")


@pytest.mark.parametrize("variable", NUMERIC)
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "expected a number"),
        ("10s", "expected a number"),
        ("0", "must be greater than zero"),
        ("-1", "must be greater than zero"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        Settings.from_environment({variable: value})

    assert f"{variable}={value!r}" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MODELREGISTRY_FILE_WORKERS", "0.5"),
        ("MODELREGISTRY_MAX_CONCURRENT_VERIFICATIONS", "0.5"),
        ("MODELREGISTRY_MAX_CONCURRENT_VERIFICATIONS", "inf"),
        ("MODELREGISTRY_FILE_WORKERS", "nan"),
        ("MODELREGISTRY_CHECK_INTERVAL", "nan"),
        ("MODELREGISTRY_RETRY_MAX_DELAY", "nan"),
    ],
)
def test_unusable_numbers_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError) as raised:
        Settings.from_environment({variable: value})

    assert variable in str(raised.value)


def test_retry_delay_doubles_from_the_base() -> None:
    settings = Settings.from_environment(
        {"MODELREGISTRY_RETRY_BASE_DELAY": "2", "MODELREGISTRY_RETRY_MAX_DELAY": "60"}
    )

    assert [settings.retry_delay(n) for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]


@pytest.mark.parametrize("retry", [5, 16, 17, 100, 10**9])
def test_retry_delay_is_capped(retry: int) -> None:
    settings = Settings.from_environment(
        {"MODELREGISTRY_RETRY_BASE_DELAY": "1.5", "MODELREGISTRY_RETRY_MAX_DELAY": "45"}
    )

    delay = settings.retry_delay(retry)

    assert delay == 45.0
    assert isinstance(delay, float)


def test_retry_delay_never_exceeds_the_cap_even_when_the_base_does() -> None:
    settings = Settings.from_environment(
        {"MODELREGISTRY_RETRY_BASE_DELAY": "120", "MODELREGISTRY_RETRY_MAX_DELAY": "30"}
    )

    assert settings.retry_delay(0) == 30.0


def test_addressing_style_must_be_one_boto3_knows() -> None:
    assert (
        Settings.from_environment(
            {"MODELREGISTRY_S3_ADDRESSING_STYLE": "path"}
        ).default_endpoint.addressing_style
        == "path"
    )
    with pytest.raises(ValueError, match="MODELREGISTRY_S3_ADDRESSING_STYLE='bucket'"):
        Settings.from_environment({"MODELREGISTRY_S3_ADDRESSING_STYLE": "bucket"})


def test_validation_endpoint_falls_back_to_the_operators_own() -> None:
    settings = Settings.from_environment({"MODELREGISTRY_S3_ENDPOINT": "http://own:1"})

    assert settings.validation_endpoint == "http://own:1"


def test_an_unknown_pull_policy_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_environment({"MODELREGISTRY_VALIDATION_IMAGE_PULL_POLICY": "Sometimes"})

    assert str(refused.value) == (
        "MODELREGISTRY_VALIDATION_IMAGE_PULL_POLICY='Sometimes': expected one of Always, "
        "IfNotPresent, Never"
    )
