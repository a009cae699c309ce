"""What the API client makes of the API server's answers and of a Secret's keys."""

from __future__ import annotations

import base64

import pytest

from modelregistry.cluster import Reply, secret_credentials
from modelregistry.errors import ClusterError, CredentialsError
from modelregistry.storage import Credentials

FIELD = "spec.artifact.storage.secretRef.name"


def encoded(**values: str) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}


def test_a_secret_with_both_keys_gives_credentials_and_an_optional_session_token() -> None:
    secret = {"data": encoded(AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="s3cr3t")}
    assert secret_credentials(secret, "s3", FIELD) == Credentials("AKID", "s3cr3t", None)
    secret["data"].update(encoded(AWS_SESSION_TOKEN="tok"))
    assert secret_credentials(secret, "s3", FIELD) == Credentials("AKID", "s3cr3t", "tok")


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        (encoded(AWS_ACCESS_KEY_ID="AKID"), "AWS_SECRET_ACCESS_KEY"),
        (encoded(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="x"), "AWS_ACCESS_KEY_ID"),
    ],
)
def test_a_secret_without_a_key_names_what_to_add(data: dict[str, str], missing: str) -> None:
    with pytest.raises(CredentialsError) as error:
        secret_credentials({"data": data}, "s3", FIELD)
    assert str(error.value) == f"Secret 's3' ({FIELD}) lacks {missing}. Add the missing keys."


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"\xff\xfe").decode(), None])
def test_a_secret_value_that_is_not_text_says_how_to_store_it(value: str | None) -> None:
    with pytest.raises(CredentialsError) as error:
        secret_credentials({"data": {"AWS_ACCESS_KEY_ID": value}}, "s3", FIELD)
    assert str(error.value) == (
        f"Secret 's3' ({FIELD}) holds a value that is not UTF-8 text. Store the access keys "
        "as plain text (kubectl create secret generic --from-literal=AWS_ACCESS_KEY_ID=...)."
    )


def test_an_error_answer_names_what_was_done_the_code_and_the_api_server_s_message() -> None:
    reply = Reply(403, "Forbidden", {"kind": "Status", "message": 'pods "x" is forbidden'})
    assert not reply.ok
    error = reply.error("creating Pod x")
    assert isinstance(error, ClusterError)
    assert str(error) == (
        'creating Pod x: the API server answered 403 Forbidden: pods "x" is forbidden'
    )
    assert str(Reply(500, "Internal Server Error", {}).error("reading Secret s3")) == (
        "reading Secret s3: the API server answered 500 Internal Server Error"
    )


@pytest.mark.parametrize(
    ("status", "ok"), [(199, False), (200, True), (201, True), (299, True), (300, False)]
)
def test_only_2xx_is_ok(status: int, ok: bool) -> None:
    assert Reply(status, "", {}).ok is ok
