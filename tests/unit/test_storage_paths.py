"""The pure checks of storage.py: keys no store reads literally, endpoints no client can use."""

from __future__ import annotations

import pytest

from modelregistry.errors import InvalidArtifactError
from modelregistry.storage import S3Location, endpoint_problem, key_problem

DOTS = "'.' and '..' segments are not allowed in the key"
EMPTY = "empty segments ('//', or a key starting with '/') are not allowed in the key"
CONTROL = "control characters and backslashes are not allowed in the key"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("tmp/../good/model.bin", DOTS),
        ("./x", DOTS),
        ("models/.", DOTS),
        ("..", DOTS),
        ("dir/../", DOTS),
        ("a//b", EMPTY),
        ("/model.bin", EMPTY),
        ("/", EMPTY),
        ("dir//", EMPTY),
        ("a\\b", CONTROL),
        ("a\x00b", CONTROL),
        ("a\nb", CONTROL),
        ("a\tb", CONTROL),
        ("a\x1fb", CONTROL),
        ("a\x7fb", CONTROL),
    ],
)
def test_hostile_keys_are_named(key: str, problem: str) -> None:
    assert key_problem(key) == problem


@pytest.mark.parametrize(
    "key",
    [
        "model.bin",
        "fraud/v1/model.onnx",
        "fraud/v1/mlflow/",
        "a/.hidden",
        "a/..b",
        "a/b.",
        "with space/ünïcode ~!@#$%^&()=+[]{};',.bin",
    ],
)
def test_plain_keys_pass(key: str) -> None:
    assert key_problem(key) is None


def test_dots_are_named_before_empty_segments_and_control_characters() -> None:
    assert key_problem("a//../b\\c") == DOTS
    assert key_problem("a//b\\c") == EMPTY


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "'http://[::1' is not a usable URL (Invalid IPv6 URL)"),
        (
            "http://127.0.0.1:99999",
            "'http://127.0.0.1:99999' is not a usable URL (Port out of range 0-65535)",
        ),
        ("ftp://x", "'ftp://x' is not an http(s)://host[:port] URL"),
        ("http://", "'http://' is not an http(s)://host[:port] URL"),
        ("http://:9000", "'http://:9000' is not an http(s)://host[:port] URL"),
        ("minio:9000", "'minio:9000' is not an http(s)://host[:port] URL"),
        ("http://minio:0", "'http://minio:0' names port 0"),
        ("https://[::1]:0", "'https://[::1]:0' names port 0"),
    ],
)
def test_unusable_endpoints_are_named(url: str, problem: str) -> None:
    assert endpoint_problem(url) == problem


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.eu-west-1.amazonaws.com",
        "http://minio.storage:9000",
        "http://127.0.0.1:1",
        "http://[::1]:65535",
        "https://s3.example.com/base/path",
    ],
)
def test_usable_endpoints_pass(url: str) -> None:
    assert endpoint_problem(url) is None


@pytest.mark.parametrize(
    ("uri", "bucket", "key", "prefix"),
    [
        ("s3://models/fraud/v1/model.onnx", "models", "fraud/v1/model.onnx", False),
        ("s3://models/fraud/v1/mlflow/", "models", "fraud/v1/mlflow/", True),
        ("s3://b/k", "b", "k", False),
    ],
)
def test_parse_splits_bucket_and_key(uri: str, bucket: str, key: str, prefix: bool) -> None:
    location = S3Location.parse(uri)

    assert location == S3Location(bucket=bucket, key=key)
    assert location.is_prefix is prefix
    assert location.uri == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://models/model.bin", "'http://models/model.bin' is not an s3://bucket/key URI"),
        ("s3://models", "'s3://models' is not an s3://bucket/key URI"),
        ("s3://models/", "'s3://models/' is not an s3://bucket/key URI"),
        ("s3:///model.bin", "'s3:///model.bin' is not an s3://bucket/key URI"),
        ("s3://models/tmp/../good/model.bin", f"'s3://models/tmp/../good/model.bin': {DOTS}"),
        ("s3://models/./x", f"'s3://models/./x': {DOTS}"),
        ("s3://models/a//b", f"'s3://models/a//b': {EMPTY}"),
        ("s3://models//model.bin", f"'s3://models//model.bin': {EMPTY}"),
        ("s3://models/a\\b", f"'s3://models/a\\\\b': {CONTROL}"),
        ("s3://models/a\x01b", f"'s3://models/a\\x01b': {CONTROL}"),
    ],
)
def test_parse_refuses_what_no_store_reads_literally(uri: str, message: str) -> None:
    with pytest.raises(InvalidArtifactError) as raised:
        S3Location.parse(uri)

    assert str(raised.value) == message
