"""`modelregistry fetch` of an oci:// version: its verified manifest and blobs, pulled by digest.

The pull is the validation Pod's (`pull.py`): the manifest by the digest the
operator verified, hashed before it is read, then every blob by its digest,
hashed in the read that writes it out; a blob that is not its digest's bytes
stops the pull (BlobDigestMismatchError) and what was written is removed.

Where the registry is: MODELREGISTRY_REGISTRIES, `REGISTRY=ENDPOINT` items
(spaces or commas between them) as the operator's
MODELREGISTRY_VALIDATION_REGISTRIES writes them, names the host[:port] at
which this machine reaches a registry under another name (a mirror, a
forward); a registry it does not name is reached at its own name.

Credentials, the first found: the validation Pod's fetch-step variables
(MODELREGISTRY_REGISTRY_USERNAME and _PASSWORD, or _DOCKERCONFIGJSON: the
version's Secret, through secretKeyRef), else the entry for the registry in
a docker config file ($DOCKER_CONFIG/config.json, else
~/.docker/config.json); else the registry is read anonymously.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from modelregistry.decisions.oci import auth
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.podplan import parse_registries
from modelregistry.decisions.oci.reference import parse
from modelregistry.decisions.serving import Pinned
from modelregistry.errors import CredentialsError
from modelregistry.oci.pull import Pulled, credentials_from_environment, pull
from modelregistry.oci.registry import Repository, new_pool

REGISTRIES_VARIABLE: Final = "MODELREGISTRY_REGISTRIES"
DOCKER_CONFIG_VARIABLE: Final = "DOCKER_CONFIG"


def endpoint_for(registry: str, environ: Mapping[str, str]) -> str | None:
    """Where MODELREGISTRY_REGISTRIES says `registry` is reached; None: at its own name.

    ValueError names the variable and the form when it is malformed.
    """
    mapping = dict(parse_registries(environ.get(REGISTRIES_VARIABLE), REGISTRIES_VARIABLE))
    return mapping.get(registry.lower())


def docker_config_path(environ: Mapping[str, str], home: Path) -> Path:
    """The docker config file the docker CLI would read."""
    directory = environ.get(DOCKER_CONFIG_VARIABLE)
    return (Path(directory) if directory else home / ".docker") / "config.json"


def credentials_for(
    registry: str, environ: Mapping[str, str], config: str | None, where: str
) -> RegistryCredentials | None:
    """The credentials to pull from `registry` with: the environment's, else the docker
    config's (`config`: its text, read from `where`) entry for it, else None (anonymous).

    CredentialsError when what was given cannot be used (the message names it).
    """
    given = credentials_from_environment(environ, registry)
    if given is not None or config is None:
        return given
    try:
        auths = json.loads(config).get("auths")
    except (ValueError, AttributeError):
        raise CredentialsError(f"{where} is not a docker config (JSON with auths)") from None
    if not isinstance(auths, dict) or not any(auth.host_of(k) == registry.lower() for k in auths):
        return None
    return auth.credentials_from({auth.DOCKERCONFIG_KEY: config}, registry, where)


def pull_version(found: Pinned, staging: Path, environ: Mapping[str, str] | None = None) -> Pulled:
    """Pull the oci:// version `found` names into `staging` (emptied again on failure)."""
    assert found.oci is not None  # the caller fetches only oci:// versions here
    environ = os.environ if environ is None else environ
    plan = found.oci_plan(endpoint_for(found.oci.registry, environ))
    path = docker_config_path(environ, Path.home())
    try:
        config = path.read_text() if path.is_file() else None
    except OSError as error:
        raise CredentialsError(f"cannot read the docker config {path}: {error}") from None
    reference = parse(str(plan["uri"]), "the version's status.artifact.uri")
    repository = Repository(
        new_pool(),
        reference.registry,
        reference.repository,
        credentials_for(reference.registry, environ, config, str(path)),
        plain_http=bool(plan["oci"]["plainHTTP"]),
        endpoint=str(plan["oci"]["endpoint"]),
    )
    limit = plan.get("unpackLimit")
    return pull(repository, reference, staging, None, int(limit) if limit else None)
