"""Registry authentication, as the distribution spec and Docker's token flow have it.

A registry that wants credentials answers 401 with `WWW-Authenticate`:
`Basic realm="..."` (send the username and password with every request), or
`Bearer realm="https://auth/token",service="...",scope="..."` (fetch a token
from the realm, with the username and password where there are any, and
send it instead). Credentials come from a Secret: a kubernetes.io/basic-auth
one (username, password) or a kubernetes.io/dockerconfigjson one, whose
entry for the registry is found by host.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode, urlsplit

from modelregistry.errors import CredentialsError

USERNAME_KEY: Final = "username"
PASSWORD_KEY: Final = "password"  # noqa: S105 (the key's name, not a password)
DOCKERCONFIG_KEY: Final = ".dockerconfigjson"
_PARAM: Final = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*')
_SCHEME: Final = re.compile(r"\s*([A-Za-z][\w-]*)(?:\s+|$)")


@dataclass(frozen=True)
class RegistryCredentials:
    """A username and password for one registry. The password never appears in repr or logs."""

    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        """The value of an Authorization header with these credentials."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


@dataclass(frozen=True)
class Challenge:
    """One challenge of a WWW-Authenticate header: its scheme (lowercase) and parameters."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges in a WWW-Authenticate header, in order; unreadable parts end the list."""
    challenges: list[Challenge] = []
    position = 0
    while position < len(header):
        scheme = _SCHEME.match(header, position)
        if scheme is None:
            break
        position = scheme.end()
        params: list[tuple[str, str]] = []
        while (param := _PARAM.match(header, position)) is not None:
            value = param.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else param.group(3)
            params.append((param.group(1).lower(), value))
            position = param.end()
            if header.startswith(",", position):
                position += 1
        challenges.append(Challenge(scheme.group(1).lower(), tuple(params)))
        while header.startswith((",", " "), position):
            position += 1
    return challenges


def token_url(challenge: Challenge, repository: str) -> str | None:
    """Where to ask for a pull token for `repository`; None when the realm is no http(s) URL."""
    realm = challenge.param("realm")
    if not realm or urlsplit(realm).scheme not in ("http", "https") or not urlsplit(realm).netloc:
        return None
    query = [("scope", f"repository:{repository}:pull")]
    service = challenge.param("service")
    if service:
        query.insert(0, ("service", service))
    separator = "&" if urlsplit(realm).query else "?"
    return realm + separator + urlencode(query)


def token_of(answer: object) -> str | None:
    """The bearer token in a token endpoint's JSON answer (`token`, else `access_token`)."""
    if not isinstance(answer, dict):
        return None
    for key in ("token", "access_token"):
        value = answer.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def credentials_from(data: Mapping[str, str], registry: str, where: str) -> RegistryCredentials:
    """The credentials for `registry` in a Secret's (decoded) data; CredentialsError if none.

    `where` names the Secret and its field for the message. A basic-auth pair
    wins over a docker config.
    """
    username, password = data.get(USERNAME_KEY), data.get(PASSWORD_KEY)
    if username and password:
        return RegistryCredentials(username, password)
    config = data.get(DOCKERCONFIG_KEY)
    if config:
        return _from_docker_config(config, registry, where)
    raise CredentialsError(
        f"{where} holds neither {USERNAME_KEY} and {PASSWORD_KEY} (a kubernetes.io/basic-auth "
        f"Secret) nor {DOCKERCONFIG_KEY} (`kubectl create secret docker-registry`). Add them."
    )


def _from_docker_config(config: str, registry: str, where: str) -> RegistryCredentials:
    try:
        auths = json.loads(config).get("auths")
    except (ValueError, AttributeError):
        auths = None
    if not isinstance(auths, dict):
        raise CredentialsError(f"{where}: {DOCKERCONFIG_KEY} is not a docker config with auths")
    entry = next((v for k, v in auths.items() if host_of(k) == registry.lower()), None)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(host_of(k) for k in auths)) or "none"
        raise CredentialsError(
            f"{where}: {DOCKERCONFIG_KEY} has no entry for {registry} (it has: {known}). "
            f"Add one (`kubectl create secret docker-registry --docker-server={registry}`)."
        )
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        return RegistryCredentials(username, password)
    encoded = entry.get("auth")
    if isinstance(encoded, str):
        try:
            pair = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, ValueError):
            pair = ""
        user, colon, secret = pair.partition(":")
        if colon and user and secret:
            return RegistryCredentials(user, secret)
    raise CredentialsError(
        f"{where}: the {DOCKERCONFIG_KEY} entry for {registry} has no username and password "
        "(nor an auth of base64 'username:password'); identity tokens are not supported"
    )


def host_of(server: str) -> str:
    """host[:port] of a docker config key: `https://host/v1/`, `host`, `http://host:5000`."""
    rest = server.split("://", 1)[-1]
    return rest.split("/", 1)[0].lower()


def secret_data(secret: Mapping[str, object], where: str) -> dict[str, str]:
    """A Secret's data, decoded from base64 to text; CredentialsError if a value is not text."""
    encoded = secret.get("data") or {}
    if not isinstance(encoded, Mapping):
        raise CredentialsError(f"{where} has no data")
    try:
        return {
            str(k): base64.b64decode(str(v), validate=True).decode() for k, v in encoded.items()
        }
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CredentialsError(
            f"{where} holds a value that is not base64 of UTF-8 text: store the registry's "
            "credentials as `kubectl create secret docker-registry` or a kubernetes.io/basic-auth "
            "Secret does"
        ) from None
