"""A real S3-compatible server on loopback: versitygw with its posix backend.

How versitygw v1.8.0 (posix backend, `--versioning-dir` set) behaves with
boto3, which the operator relies on:

- `put_bucket_versioning(Status="Enabled")` is accepted and
  `get_bucket_versioning` then reports `Enabled`;
- in a versioned bucket, `put_object`, `head_object` and `get_object` all
  return a `VersionId`, and every overwrite gets a new one; older versions
  stay readable by `VersionId` and are listed by `list_object_versions`;
- in a bucket that never had versioning enabled no `VersionId` is returned;
- bucket names are checked as strictly as AWS does (e.g. at least 3 characters).

Connections are kept alive (`--keep-alive`; versitygw closes each one after
its answer otherwise).

Without `--versioning-dir` the gateway answers `put_bucket_versioning` with
`VersioningNotConfigured`, so it is always set here. Objects and their
metadata live as plain files with extended attributes, so the work dir must be
on a filesystem with user xattrs (ext4, xfs and btrfs have them).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.process import ManagedProcess, free_port, wait_until
from modelregistry.localenv.service import LocalService
from modelregistry.localenv.tools import find_tool

REGION: Final = "us-east-1"
# versitygw reads these from the environment too; a developer's own settings
# must not change the server the tests get.
_SCRUBBED_PREFIXES: Final = ("VGW_", "ROOT_ACCESS_KEY", "ROOT_SECRET")


class S3Server(LocalService):
    """versitygw serving `<workdir>/data` over plain HTTP on 127.0.0.1.

    Keys default to random ones. Without a `workdir` a temporary directory is
    used and `stop()` removes it; a given one is kept. Each `start()` begins
    with no buckets.
    """

    name = "S3 server"

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(workdir, prefix="modelregistry-s3-", start_timeout=start_timeout)
        self._access_key = access_key or "mr" + secrets.token_hex(8)
        self._secret_key = secret_key or secrets.token_urlsafe(30)
        self._process: ManagedProcess | None = None
        self._port: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self._port is None:
            raise LocalEnvError("S3 server not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def access_key(self) -> str:
        return self._access_key

    @property
    def secret_key(self) -> str:
        return self._secret_key

    @property
    def region(self) -> str:
        return REGION

    def _running(self) -> bool:
        return self._process is not None

    def _stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._port = None

    def _start(self, workdir: Path, deadline: float) -> None:
        binary = find_tool("versitygw")
        data, versions = workdir / "data", workdir / "versions"
        for directory in (data, versions):
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
        port = free_port()
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_SCRUBBED_PREFIXES)
        }
        # Global options must come before the backend subcommand.
        argv: list[str | Path] = [
            binary,
            "--access",
            self._access_key,
            "--secret",
            self._secret_key,
            "--region",
            REGION,
            "--port",
            f"127.0.0.1:{port}",
            "--quiet",
            # As S3 itself, and MinIO, do: without it every answer closes its
            # connection, and each request opens a new one.
            "--keep-alive",
            "posix",
            "--versioning-dir",
            versions,
            data,
        ]
        process = self._process = ManagedProcess(
            "versitygw", argv, workdir / "versitygw.log", env=env
        )
        process.start()
        self._port = port
        wait_until(
            lambda: _answers_http(port),
            deadline=deadline,
            what=f"versitygw to answer at {self.endpoint_url}",
            processes=[process],
            blame=process,
        )


def _answers_http(port: int) -> bool:
    # Any HTTP response counts (an unsigned request gets 403): the listener is up.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        with contextlib.suppress(OSError):
            connection.close()
