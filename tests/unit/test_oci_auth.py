"""Registry authentication: challenges read, token requests built, Secrets read."""

from __future__ import annotations

import base64
import json

import pytest

from modelregistry.decisions.oci.auth import (
    Challenge,
    RegistryCredentials,
    credentials_from,
    host_of,
    parse_challenges,
    token_of,
    token_url,
)
from modelregistry.errors import CredentialsError

WHERE = "Secret 'pull' (spec.artifact.registry.secretRef)"


def test_dockers_bearer_challenge_is_read() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push"'
    )

    assert parse_challenges(header) == [
        Challenge(
            "bearer",
            (
                ("realm", "https://auth.docker.io/token"),
                ("service", "registry.docker.io"),
                ("scope", "repository:samalba/my-app:pull,push"),
            ),
        )
    ]


def test_several_challenges_tokens_and_escapes_are_read_in_order() -> None:
    header = 'Basic realm="a \\"quoted\\" realm", charset=UTF-8, Bearer realm=https://t/x'

    found = parse_challenges(header)

    assert found == [
        Challenge("basic", (("realm", 'a "quoted" realm'), ("charset", "UTF-8"))),
        Challenge("bearer", (("realm", "https://t/x"),)),
    ]
    assert found[0].param("charset") == "UTF-8"
    assert found[0].param("service") is None


def test_a_scheme_alone_and_an_empty_header() -> None:
    assert parse_challenges("Negotiate") == [Challenge("negotiate")]
    assert parse_challenges("") == []
    assert parse_challenges('  BASIC  Realm="x"') == [Challenge("basic", (("realm", "x"),))]


def test_unreadable_parts_end_the_list() -> None:
    assert parse_challenges('Basic realm="x", =oops') == [Challenge("basic", (("realm", "x"),))]


def test_the_token_url_asks_for_pull_on_the_repository_and_keeps_the_realms_query() -> None:
    bearer = Challenge("bearer", (("realm", "https://auth.example.com/token"), ("service", "reg")))

    assert token_url(bearer, "models/churn") == (
        "https://auth.example.com/token?service=reg&scope=repository%3Amodels%2Fchurn%3Apull"
    )
    no_service = Challenge("bearer", (("realm", "http://auth/token?a=1"),))
    assert token_url(no_service, "m") == "http://auth/token?a=1&scope=repository%3Am%3Apull"


@pytest.mark.parametrize("realm", [None, "", "ftp://auth/token", "https:///token", "token"])
def test_a_realm_that_is_no_http_url_gives_no_token_url(realm: str | None) -> None:
    params = () if realm is None else (("realm", realm),)

    assert token_url(Challenge("bearer", params), "m") is None


def test_the_token_is_token_else_access_token() -> None:
    assert token_of({"token": "t", "access_token": "a"}) == "t"
    assert token_of({"access_token": "a"}) == "a"
    assert token_of({"token": "", "access_token": "a"}) == "a"
    assert token_of({"token": 5}) is None
    assert token_of(["t"]) is None
    assert token_of({}) is None


def test_credentials_never_show_the_password() -> None:
    credentials = RegistryCredentials("alice", "s3cret")

    assert "s3cret" not in repr(credentials)
    assert credentials.basic() == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_a_basic_auth_secret_gives_its_username_and_password() -> None:
    data = {"username": "alice", "password": "pw", ".dockerconfigjson": "{}"}

    assert credentials_from(data, "r.example.com", WHERE) == RegistryCredentials("alice", "pw")


def docker_config(**auths: object) -> str:
    return json.dumps({"auths": auths})


@pytest.mark.parametrize(
    "server",
    ["r.example.com:5000", "https://r.example.com:5000", "http://R.Example.com:5000/v1/"],
)
def test_a_docker_config_entry_is_found_by_host(server: str) -> None:
    config = docker_config(
        **{
            "other.example.com": {"username": "x", "password": "y"},
            server: {"username": "a", "password": "b"},
        }
    )

    found = credentials_from({".dockerconfigjson": config}, "r.example.com:5000", WHERE)

    assert found == RegistryCredentials("a", "b")
    assert credentials_from({".dockerconfigjson": config}, "R.example.COM:5000", WHERE) == found


def test_a_docker_config_auth_is_base64_of_username_colon_password() -> None:
    auth = base64.b64encode(b"bob:pa:ss").decode()

    found = credentials_from(
        {".dockerconfigjson": docker_config(**{"r.io": {"auth": auth}})}, "r.io", WHERE
    )

    assert found == RegistryCredentials("bob", "pa:ss")


def refusal(data: dict[str, str], registry: str = "r.io") -> str:
    with pytest.raises(CredentialsError) as refused:
        credentials_from(data, registry, WHERE)
    return str(refused.value)


def test_a_secret_with_neither_kind_of_credentials_says_which_keys_it_needs() -> None:
    assert refusal({"username": "alice"}) == (
        f"{WHERE} holds neither username and password (a kubernetes.io/basic-auth Secret) nor "
        ".dockerconfigjson (`kubectl create secret docker-registry`). Add them."
    )
    assert refusal({"password": "x", ".dockerconfigjson": ""}).startswith(f"{WHERE} holds neither")


def test_a_docker_config_without_an_entry_for_the_registry_names_those_it_has() -> None:
    config = docker_config(**{"https://b.io/v1/": {"auth": "x"}, "a.io": {"auth": "y"}})

    assert refusal({".dockerconfigjson": config}) == (
        f"{WHERE}: .dockerconfigjson has no entry for r.io (it has: a.io, b.io). Add one "
        "(`kubectl create secret docker-registry --docker-server=r.io`)."
    )
    assert "(it has: none)" in refusal({".dockerconfigjson": docker_config()})


@pytest.mark.parametrize("config", ["not json", "[]", '{"auths": []}', '{"x": 1}'])
def test_a_docker_config_that_is_not_one_is_refused(config: str) -> None:
    assert refusal({".dockerconfigjson": config}) == (
        f"{WHERE}: .dockerconfigjson is not a docker config with auths"
    )


@pytest.mark.parametrize(
    "entry",
    [
        {"identitytoken": "t"},
        {"auth": base64.b64encode(b"nocolon").decode()},
        {"auth": base64.b64encode(b":pw").decode()},
        {"auth": base64.b64encode(b"user:").decode()},
        {"auth": "!!!"},
        {"username": "a"},
        {"username": "a", "password": ""},
        {"username": 1, "password": 2},
        "x",
    ],
)
def test_an_entry_without_a_username_and_password_is_refused(entry: object) -> None:
    message = refusal({".dockerconfigjson": docker_config(**{"r.io": entry})})

    if isinstance(entry, dict):
        assert message == (
            f"{WHERE}: the .dockerconfigjson entry for r.io has no username and password (nor "
            "an auth of base64 'username:password'); identity tokens are not supported"
        )
    else:
        assert "has no entry for r.io" in message


def test_an_entry_with_username_and_password_wins_over_its_auth() -> None:
    entry = {"username": "a", "password": "b", "auth": base64.b64encode(b"c:d").decode()}

    found = credentials_from({".dockerconfigjson": docker_config(**{"r.io": entry})}, "r.io", WHERE)

    assert found == RegistryCredentials("a", "b")


@pytest.mark.parametrize(
    ("server", "host"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("R.IO:5000", "r.io:5000"),
        ("r.io", "r.io"),
        ("http://[::1]:5000/x", "[::1]:5000"),
    ],
)
def test_host_of_a_docker_config_key(server: str, host: str) -> None:
    assert host_of(server) == host
