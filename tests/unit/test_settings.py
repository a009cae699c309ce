"""Operator settings from the environment."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from modelregistry.decisions.validationpod import ResourceBox
from modelregistry.settings import Settings, dns_selector, egress
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
    monkeypatch.setenv("MODELREGISTRY_NAMESPACES", "from-env other")

    settings = Settings.from_environment()

    assert settings.file_workers == 3
    assert settings.namespaces == ("from-env", "other")


@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        # One pattern, as `--namespace 'team-*,!team-test'` takes it: commas stay inside.
        ("team-*,!team-test", ("team-*,!team-test",)),
        ("team-a team-b", ("team-a", "team-b")),
        ("  team-a\n\tteam-*,!team-test  ", ("team-a", "team-*,!team-test")),
        ("", ()),
    ],
)
def test_namespaces_are_whitespace_separated_kopf_patterns(
    value: str, patterns: tuple[str, ...]
) -> None:
    assert Settings.from_environment({"MODELREGISTRY_NAMESPACES": value}).namespaces == patterns


def test_the_sharding_and_serving_settings() -> None:
    settings = Settings.from_environment(
        {
            "MODELREGISTRY_LABEL_SELECTOR": "shard=b",
            "MODELREGISTRY_HTTP_PORT": "0",
            "MODELREGISTRY_LOG_FORMAT": "json",
            "MODELREGISTRY_LEADER_ELECTION": "true",
            "POD_NAMESPACE": "registry",
            "MODELREGISTRY_LEADER_ELECTION_NAME": "shard-b",
            "MODELREGISTRY_ADMISSION_POLICIES": "installed",
        }
    )

    assert (
        settings.label_selector,
        settings.http_port,
        settings.log_format,
        settings.leader_election,
        settings.leader_election_namespace,
        settings.leader_election_name,
        settings.admission_policies,
    ) == ("shard=b", 0, "json", True, "registry", "shard-b", "installed")
    defaults = Settings.from_environment({})
    assert (
        defaults.label_selector,
        defaults.http_port,
        defaults.log_format,
        defaults.leader_election,
        defaults.leader_election_namespace,
        defaults.leader_election_name,
        defaults.admission_policies,
    ) == (None, 8080, "text", False, None, "modelregistry-operator", "check")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("MODELREGISTRY_HTTP_PORT", "http", "expected a port, 0 to 65535 (0: none)"),
        ("MODELREGISTRY_HTTP_PORT", "70000", "expected a port, 0 to 65535 (0: none)"),
        ("MODELREGISTRY_LOG_FORMAT", "yaml", "expected one of text, json"),
        ("MODELREGISTRY_ADMISSION_POLICIES", "assume", "expected one of check, installed"),
        ("MODELREGISTRY_LEADER_ELECTION", "maybe", "expected true or false"),
    ],
)
def test_a_bad_serving_setting_names_itself(variable: str, value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{variable}={value!r}: {problem}")):
        Settings.from_environment({variable: value})


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


# --- the validation box ---------------------------------------------------------------------------


def test_the_validation_box_defaults() -> None:
    settings = Settings.from_environment({})

    assert settings.validation_service_account == "modelregistry-validation"
    assert settings.validation_runtime_class is None
    assert settings.validation_resources == ResourceBox(
        requests={"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi"},
        limits={"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        maximum={"cpu": "4", "memory": "8Gi", "ephemeral-storage": "10Gi"},
        scratch="256Mi",
    )
    assert settings.validation_network_policy is True
    assert settings.validation_egress == ()
    assert settings.validation_dns == "kube-system/k8s-app=kube-dns"


def test_the_validation_box_is_read_from_the_environment() -> None:
    settings = Settings.from_environment(
        {
            "MODELREGISTRY_VALIDATION_SERVICE_ACCOUNT": "mr-box",
            "MODELREGISTRY_VALIDATION_RUNTIME_CLASS": "gvisor",
            "MODELREGISTRY_VALIDATION_REQUESTS": "cpu=250m, memory=512Mi",
            "MODELREGISTRY_VALIDATION_LIMITS": "ephemeral-storage=2Gi",
            "MODELREGISTRY_VALIDATION_MAX_LIMITS": "cpu=2,memory=4Gi,ephemeral-storage= 5Gi ",
            "MODELREGISTRY_VALIDATION_SCRATCH_SIZE": "1Gi",
            "MODELREGISTRY_VALIDATION_NETWORK_POLICY": "false",
            "MODELREGISTRY_VALIDATION_EGRESS": "10.0.0.5:9000, 10.1.0.0/16:443",
            "MODELREGISTRY_VALIDATION_DNS": "dns/app=coredns",
        }
    )

    assert settings.validation_service_account == "mr-box"
    assert settings.validation_runtime_class == "gvisor"
    assert settings.validation_resources == ResourceBox(
        requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "64Mi"},
        limits={"cpu": "1", "memory": "1Gi", "ephemeral-storage": "2Gi"},
        maximum={"cpu": "2", "memory": "4Gi", "ephemeral-storage": "5Gi"},
        scratch="1Gi",
    )
    assert settings.validation_network_policy is False
    assert settings.validation_egress == (("10.0.0.5/32", 9000), ("10.1.0.0/16", 443))
    assert settings.validation_dns == "dns/app=coredns"


def test_empty_validation_values_mean_the_default() -> None:
    names = (
        "SERVICE_ACCOUNT",
        "RUNTIME_CLASS",
        "REQUESTS",
        "LIMITS",
        "MAX_LIMITS",
        "SCRATCH_SIZE",
        "NETWORK_POLICY",
        "EGRESS",
    )

    assert Settings.from_environment(
        {f"MODELREGISTRY_VALIDATION_{n}": "" for n in names}
    ) == Settings.from_environment({})


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        *[("true", True), ("True", True), ("1", True), ("yes", True), ("YES", True)],
        *[("false", False), ("FALSE", False), ("0", False), ("no", False), ("No", False)],
    ],
)
def test_the_network_policy_flag(raw: str, flag: bool) -> None:
    settings = Settings.from_environment({"MODELREGISTRY_VALIDATION_NETWORK_POLICY": raw})

    assert settings.validation_network_policy is flag


@pytest.mark.parametrize("raw", ["on", "off", "2", "ture"])
def test_a_flag_that_is_neither_true_nor_false_is_refused(raw: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_environment({"MODELREGISTRY_VALIDATION_NETWORK_POLICY": raw})

    assert str(refused.value) == (
        f"MODELREGISTRY_VALIDATION_NETWORK_POLICY={raw!r}: expected true or false"
    )


@pytest.mark.parametrize("name", ["REQUESTS", "LIMITS", "MAX_LIMITS"])
@pytest.mark.parametrize("raw", ["cpu", "gpu=1", "cpu=1,", "cpu:1", "CPU=1", "=1"])
def test_resources_name_the_kinds_they_take(name: str, raw: str) -> None:
    variable = f"MODELREGISTRY_VALIDATION_{name}"

    with pytest.raises(ValueError) as refused:
        Settings.from_environment({variable: raw})

    assert str(refused.value) == (
        f"{variable}={raw!r}: expected cpu=QUANTITY,memory=QUANTITY,ephemeral-storage=QUANTITY"
    )


@pytest.mark.parametrize("name", ["REQUESTS", "LIMITS", "MAX_LIMITS"])
def test_a_resource_that_is_not_a_quantity_is_refused_naming_the_variable(name: str) -> None:
    variable = f"MODELREGISTRY_VALIDATION_{name}"

    with pytest.raises(ValueError) as refused:
        Settings.from_environment({variable: "cpu=1,memory=lots"})

    assert str(refused.value) == (
        f"{variable}: memory: 'lots' is not a Kubernetes quantity (such as 500m, 2 or 1Gi)"
    )


def test_a_scratch_size_that_is_not_a_quantity_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_environment({"MODELREGISTRY_VALIDATION_SCRATCH_SIZE": "1GB"})

    assert str(refused.value) == (
        "MODELREGISTRY_VALIDATION_SCRATCH_SIZE: '1GB' is not a Kubernetes quantity (such as "
        "500m, 2 or 1Gi)"
    )


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        (None, ()),
        ("", ()),
        (" , ", ()),
        ("10.0.0.5:9000", (("10.0.0.5/32", 9000),)),
        ("10.0.0.5/24:9000", (("10.0.0.0/24", 9000),)),
        ("[fd00::1]:443", (("fd00::1/128", 443),)),
        ("[fd00::/64]:443", (("fd00::/64", 443),)),
        ("0.0.0.0/0:1", (("0.0.0.0/0", 1),)),
        (" 10.0.0.5:80 ,10.0.0.6:65535 ", (("10.0.0.5/32", 80), ("10.0.0.6/32", 65535))),
    ],
)
def test_egress_is_address_or_cidr_and_port(
    raw: str | None, pairs: tuple[tuple[str, int], ...]
) -> None:
    assert egress(raw) == pairs


@pytest.mark.parametrize(
    "item",
    [
        "10.0.0.5",
        "10.0.0.5:",
        "10.0.0.5:0",
        "10.0.0.5:65536",
        "10.0.0.5:http",
        "minio.storage:9000",
        ":9000",
        "10.0.0.300:9000",
        "10.0.0.5:-1",
    ],
)
def test_an_egress_item_that_is_not_an_address_and_port_is_refused_naming_it(item: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_environment({"MODELREGISTRY_VALIDATION_EGRESS": f"10.0.0.1:80,{item}"})

    assert str(refused.value) == (
        f"MODELREGISTRY_VALIDATION_EGRESS: {item!r}: expected ADDRESS[/BITS]:PORT, "
        "e.g. 10.0.0.0/24:9000"
    )


@pytest.mark.parametrize(
    ("raw", "selector"),
    [
        (None, "kube-system/k8s-app=kube-dns"),
        ("", None),
        ("   ", None),
        ("kube-system/k8s-app=coredns", "kube-system/k8s-app=coredns"),
        (" dns/app.kubernetes.io/name=coredns ", "dns/app.kubernetes.io/name=coredns"),
        ("dns/app=", "dns/app="),
    ],
)
def test_dns_is_a_namespace_and_a_label_or_nothing(raw: str | None, selector: str | None) -> None:
    assert dns_selector(raw) == selector


def test_an_empty_dns_setting_means_no_dns_not_the_default() -> None:
    settings = Settings.from_environment({"MODELREGISTRY_VALIDATION_DNS": ""})

    assert settings.validation_dns is None


@pytest.mark.parametrize("raw", ["kube-dns", "kube-system", "kube-system/k8s-app", "/k8s-app=x"])
def test_a_dns_setting_that_names_no_namespace_and_label_is_refused(raw: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_environment({"MODELREGISTRY_VALIDATION_DNS": raw})

    assert str(refused.value) == (
        f"MODELREGISTRY_VALIDATION_DNS={raw!r}: expected NAMESPACE/LABEL=VALUE, "
        "e.g. kube-system/k8s-app=kube-dns, or empty for no DNS"
    )
