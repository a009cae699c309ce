"""A real OCI registry on loopback: distribution v3's `registry`, filesystem storage.

Plain HTTP on 127.0.0.1, so clients must be told so (`plainHTTP`, oras'
`insecure`). With `users`, it asks for a username and password (htpasswd,
bcrypt) and answers 401 `Basic realm=...` without them; with `token` (its
`auth.token` settings: realm, service, issuer, jwks), it asks for a bearer
token from that realm and verifies it; otherwise it serves everyone. Each
`start()` begins with an empty registry.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import yaml

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.process import ManagedProcess, free_port, wait_until
from modelregistry.localenv.service import LocalService
from modelregistry.localenv.tools import find_tool

REALM: Final = "modelregistry-local"
# The registry reads REGISTRY_* variables as configuration overrides: a developer's own
# settings must not change the registry the tests get.
_SCRUBBED_PREFIX: Final = "REGISTRY_"


class OciRegistry(LocalService):
    """`registry serve` of distribution v3, storing under `<workdir>/data`."""

    name = "OCI registry"

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        users: Mapping[str, str] | None = None,
        token: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(workdir, prefix="modelregistry-oci-", start_timeout=start_timeout)
        if users and token:
            raise LocalEnvError("the registry takes users (htpasswd) or a token service, not both")
        self._users = dict(users or {})
        self._token = dict(token or {})
        self._process: ManagedProcess | None = None
        self._port: int | None = None

    @property
    def host(self) -> str:
        """host:port, as oci:// references and oras name it."""
        if self._port is None:
            raise LocalEnvError("OCI registry not started")
        return f"127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise LocalEnvError("OCI registry not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _running(self) -> bool:
        return self._process is not None

    def _stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._port = None

    def _start(self, workdir: Path, deadline: float) -> None:
        binary = find_tool("registry")
        data = workdir / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        port = free_port()
        config = _config(data, port)
        if self._users:
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text(_htpasswd(self._users))
            config["auth"] = {"htpasswd": {"realm": REALM, "path": str(htpasswd)}}
        if self._token:
            config["auth"] = {"token": self._token}
        config_path = workdir / "config.yml"
        config_path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIX)}
        process = self._process = ManagedProcess(
            "registry", [binary, "serve", config_path], workdir / "registry.log", env=env
        )
        process.start()
        self._port = port
        wait_until(
            lambda: _answers(port),
            deadline=deadline,
            what=f"the OCI registry to answer at http://127.0.0.1:{port}/v2/",
            processes=[process],
            blame=process,
        )


def _config(data: Path, port: int) -> dict[str, object]:
    return {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(data)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "secret": secrets.token_hex(16),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
    }


def _htpasswd(users: Mapping[str, str]) -> str:
    """htpasswd lines with bcrypt hashes, the only kind the registry takes."""
    import bcrypt

    return "".join(
        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
        for user, password in users.items()
    )


def _answers(port: int) -> bool:
    # 200 (open) or 401 (asks for credentials): the API is up.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/v2/")
        return connection.getresponse().status in (200, 401)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        with contextlib.suppress(OSError):
            connection.close()
