"""`modelregistry://` URIs: their grammar, and which verified bytes one names.

    modelregistry://<namespace>/<model>@<target>

- `<namespace>`: an RFC 1123 label; `<model>`: the Model's name.
- `<target>`, one of:
  - a granted stage, `Staging` or `Production` (capitalised, as the API writes
    them): the version whose *granted* `status.stage` is that stage, as the
    Model's status resolves it (the newest holder of Staging);
  - a version number, `3` (no sign, no leading zero): the version whose
    operator-recorded `status.version` is 3;
  - an alias, any other RFC 1123 label (`champion`): what the Model's status
    resolved the alias to.
  `None` and `Archived` are stages nothing is served from; anything else is
  malformed. A number that is also the name of an alias of the Model is
  ambiguous and refused.

Only what the operator wrote counts: the Model's status (`resolved`, kept by
the operator, checked against the Model's generation for aliases) names the
version, and that version's own status must agree with it (number, digest,
granted stage), say Ready and ArtifactVerified, and hold the verified record
(digest, size, files and their versionIds) that is fetched. A person who may
edit a ModelVersion's spec, or create one under any name, changes none of
that: they cannot redirect what a URI serves. A version's name is not a
target at all, since whoever creates the object picks it.

An oci:// version is served by the manifest digest the operator verified
(its content digest): the manifest names every blob by digest, and each is
hashed again as it lands. Where its registry is and whether it speaks plain
HTTP come from the version, as the operator read it.

Pure: bodies in (as the API server returns them), a decision out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from modelregistry.api.meta import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN
from modelregistry.decisions.oci.reference import OciReferenceError, is_oci
from modelregistry.decisions.oci.reference import parse as parse_oci
from modelregistry.reasons import ARTIFACT_VERIFIED, READY

SCHEME: Final = "modelregistry://"
SERVED_STAGES: Final = ("Staging", "Production")
UNSERVED_STAGES: Final = ("None", "Archived")
_NUMBER: Final = re.compile(r"^[1-9][0-9]{0,17}$")
_LABEL: Final = re.compile(DNS_LABEL_PATTERN)
_SUBDOMAIN: Final = re.compile(DNS_SUBDOMAIN_PATTERN)
_EXAMPLE: Final = "modelregistry://team-a/churn@champion"

Body = Mapping[str, Any]
TargetKind = Literal["alias", "stage", "number"]


class UriError(ValueError):
    """A `modelregistry://` URI that names nothing; the message says how to write it."""


class Refusal(Exception):
    """The URI names no version that may be served now; the message says why."""


@dataclass(frozen=True)
class ServingUri:
    namespace: str
    model: str
    target: str
    kind: TargetKind

    def __str__(self) -> str:
        return f"{SCHEME}{self.namespace}/{self.model}@{self.target}"

    @property
    def number(self) -> int:
        if self.kind != "number":
            raise ValueError(f"{self} names no version number")
        return int(self.target)


def parse_uri(text: str) -> ServingUri:
    """The URI's parts, or UriError naming what is wrong and how to write it."""
    if not text.startswith(SCHEME):
        raise UriError(f"{text!r} is not a {SCHEME} URI: write {SCHEME}NAMESPACE/MODEL@TARGET")
    rest = text[len(SCHEME) :]
    path, at, target = rest.partition("@")
    if not at or "@" in target:
        raise UriError(
            f"{text!r} names no single target: write {SCHEME}NAMESPACE/MODEL@TARGET with "
            f"one '@', e.g. {_EXAMPLE}"
        )
    namespace, slash, model = path.partition("/")
    if not slash or "/" in model:
        raise UriError(f"{text!r}: the path must be NAMESPACE/MODEL, two segments, e.g. {_EXAMPLE}")
    return reference_to(namespace, model, target, text)


def reference_to(namespace: str, model: str, target: str, text: str | None = None) -> ServingUri:
    """NAMESPACE, MODEL and TARGET checked and classified; `text` is what the user wrote."""
    text = text or f"{SCHEME}{namespace}/{model}@{target}"
    if len(namespace) > 63 or not _LABEL.match(namespace):
        raise UriError(
            f"{text!r}: namespace {namespace!r} is not a namespace name (an RFC 1123 label: "
            "lowercase letters, digits and '-', at most 63)"
        )
    if len(model) > 253 or not _SUBDOMAIN.match(model):
        raise UriError(
            f"{text!r}: model {model!r} is not a Model name (lowercase letters, digits, '-' "
            "and '.')"
        )
    return ServingUri(namespace, model, target, _kind(text, target))


def _kind(text: str, target: str) -> TargetKind:
    if target in SERVED_STAGES:
        return "stage"
    if target in UNSERVED_STAGES:
        raise UriError(
            f"{text!r}: nothing is served from stage {target}; name Staging, Production, an "
            "alias or a version number"
        )
    if _NUMBER.match(target):
        return "number"
    if target.isdigit():
        raise UriError(f"{text!r}: version numbers start at 1 and have no leading zero (e.g. @3)")
    if len(target) <= 63 and _LABEL.match(target):
        return "alias"
    raise UriError(
        f"{text!r}: target {target!r} is neither a stage (Staging, Production), a version "
        "number nor an alias name (lowercase letters, digits and '-')"
    )


@dataclass(frozen=True)
class PinnedFile:
    """One verified file of a prefix, as the operator recorded it."""

    path: str
    digest: str | None
    size: int | None
    version_id: str | None


@dataclass(frozen=True)
class PinnedOci:
    """Where the verified manifest of an oci:// version is, as the operator read it."""

    registry: str  # host[:port], as the URI names it
    repository: str
    plain_http: bool
    # What the layers take once unpacked, at most (the operator measured gzip layers).
    unpacked_size: int | None
    secret: str | None  # spec.artifact.registry.secretRef.name: said in hints only


@dataclass(frozen=True)
class Pinned:
    """The verified bytes a URI names: what to download and what they must hash to."""

    uri: ServingUri
    name: str  # the ModelVersion
    version: int
    stage: str  # its granted stage
    artifact_uri: str
    digest: str
    size: int
    file_count: int
    version_id: str | None
    files: tuple[PinnedFile, ...]
    # spec.artifact.storage: where the operator read the bytes (None: its default store).
    endpoint: str | None = None
    region: str | None = None
    addressing_style: str | None = None
    oci: PinnedOci | None = None

    @property
    def is_prefix(self) -> bool:
        return self.artifact_uri.endswith("/")

    def oci_plan(self, endpoint: str | None) -> dict[str, Any]:
        """The pull plan of an oci:// version, in the form the validation Pod's fetch step
        reads (`decisions/oci/podplan.py`): the registry reached at `endpoint` (host[:port])."""
        if self.oci is None:
            raise ValueError(f"{self.artifact_uri} is not an oci:// artifact")
        return {
            "uri": self.artifact_uri,
            "digest": self.digest,
            "unpackLimit": self.oci.unpacked_size,
            "oci": {"endpoint": endpoint or self.oci.registry, "plainHTTP": self.oci.plain_http},
        }

    def plan(self) -> dict[str, Any]:
        """The download plan, in the form the validation Pod's fetch step reads too."""
        return {
            "uri": self.artifact_uri,
            "digest": self.digest,
            "versionId": self.version_id,
            "size": self.size,
            "fileCount": self.file_count,
            "files": [
                {"path": f.path, "versionId": f.version_id, "digest": f.digest, "size": f.size}
                for f in self.files
            ],
            "endpoint": self.endpoint,
            "region": self.region,
            "addressingStyle": self.addressing_style,
        }

    def resolved(self) -> dict[str, Any]:
        """What `modelregistry resolve` prints: version, name, stage, URI, digest, versionId."""
        found: dict[str, Any] = {
            "version": self.version,
            "name": self.name,
            "stage": self.stage,
            "uri": self.artifact_uri,
            "digest": self.digest,
        }
        if self.version_id:
            found["versionId"] = self.version_id
        return found


def version_to_read(uri: ServingUri, model: Body) -> str | None:
    """The ModelVersion the Model's status resolves a stage or an alias to; None for a
    number (the Model's versions are listed). Refusal when the Model resolves nothing."""
    if uri.kind == "number":
        if uri.target in _mapping(_spec(model).get("aliases")):
            raise Refusal(
                f"{uri} is ambiguous: Model {uri.model!r} has an alias named {uri.target!r} as "
                f"well as (perhaps) a version {uri.target}; rename the alias"
            )
        return None
    return str(_entry(uri, model)["name"])


def _entry(uri: ServingUri, model: Body) -> Body:
    """The Model's status.resolved entry for the URI's stage or alias."""
    status = _status(model)
    resolved = _mapping(status.get("resolved"))
    if uri.kind == "alias":
        generation = _mapping(model.get("metadata")).get("generation")
        if status.get("observedGeneration") != generation:
            raise Refusal(
                f"{uri}: the operator has not resolved Model {uri.model!r} at its generation "
                f"{generation} yet (status is of {status.get('observedGeneration')}); try again "
                "shortly"
            )
    entry = resolved.get(uri.target)
    if isinstance(entry, Mapping) and entry.get("name"):
        return entry
    if uri.kind == "stage":
        raise Refusal(f"{uri}: no version of Model {uri.model!r} holds {uri.target}")
    aliases = _mapping(_spec(model).get("aliases"))
    if uri.target in aliases:
        why = next(
            (
                str(c.get("message"))
                for c in _conditions(status)
                if c.get("type") == "AliasesResolved" and c.get("status") == "False"
            ),
            f"version {aliases[uri.target]} is not Ready",
        )
        raise Refusal(f"{uri} does not resolve: {why}")
    held = ", ".join(sorted(str(k) for k in resolved)) or "none"
    hint = (
        f" (stages are written {uri.target.capitalize()})"
        if uri.target.capitalize() in SERVED_STAGES
        else ""
    )
    raise Refusal(
        f"{uri}: Model {uri.model!r} has no alias {uri.target!r}{hint}; it resolves: {held}"
    )


def choose(uri: ServingUri, model: Body, versions: Sequence[Body]) -> Pinned:
    """The verified bytes to serve for `uri`, from the Model and the versions read.

    For a stage or an alias, `versions` holds what was read under the name
    `version_to_read` gave (nothing if it is gone); for a number, the Model's
    versions. Refusal says why nothing may be served.
    """
    own = [v for v in versions if _spec(v).get("modelRef", {}).get("name") == uri.model]
    if uri.kind == "number":
        version_to_read(uri, model)  # an alias of the same name makes it ambiguous
        numbered = [v for v in own if _status(v).get("version") == uri.number]
        if not numbered:
            raise Refusal(f"{uri}: Model {uri.model!r} has no version {uri.number}")
        if len(numbered) > 1:
            names = ", ".join(sorted(_name(v) for v in numbered))
            raise Refusal(f"{uri}: version {uri.number} is recorded by more than one: {names}")
        return _servable(uri, numbered[0])
    entry = _entry(uri, model)
    named = [v for v in own if _name(v) == entry["name"]]
    if not named:
        raise Refusal(
            f"{uri}: ModelVersion {entry['name']!r} of Model {uri.model!r}, which the Model's "
            "status names, is gone; try again once the operator has caught up"
        )
    version = named[0]
    status = _status(version)
    recorded = _mapping(status.get("artifact")).get("digest")
    if status.get("version") != entry.get("version") or recorded != entry.get("digest"):
        raise Refusal(
            f"{uri}: the Model's status names version {entry.get('version')} "
            f"({entry.get('digest')}) but ModelVersion {entry['name']!r} records version "
            f"{status.get('version')} ({recorded}); try again once the operator has caught up"
        )
    if uri.kind == "stage" and status.get("stage") != uri.target:
        raise Refusal(
            f"{uri}: ModelVersion {entry['name']!r} no longer holds {uri.target} (it holds "
            f"{status.get('stage') or 'None'}); try again once the operator has caught up"
        )
    return _servable(uri, version)


def _servable(uri: ServingUri, version: Body) -> Pinned:
    """The version's verified record, if it may be served: Ready, its bytes verified."""
    name = _name(version)
    status = _status(version)
    conditions = {str(c.get("type")): c for c in _conditions(status)}
    for kind in (ARTIFACT_VERIFIED, READY):
        found = conditions.get(kind)
        if found is None or found.get("status") != "True":
            said = (
                f"{found.get('reason')}: {found.get('message')}"
                if found is not None
                else "the operator has not said yet"
            )
            raise Refusal(f"{uri}: ModelVersion {name!r} is not {kind} ({said})")
    if status.get("stage") == "Archived":
        raise Refusal(
            f"{uri}: ModelVersion {name!r} is Archived, and archived versions are not served; "
            "point the alias at another version, or name another"
        )
    number = status.get("version")
    if not isinstance(number, int):
        raise Refusal(f"{uri}: ModelVersion {name!r} has no version number yet")
    artifact = _mapping(status.get("artifact"))
    record = (artifact.get("uri"), artifact.get("digest"), artifact.get("size"))
    if not isinstance(record[0], str) or not isinstance(record[1], str) or record[2] is None:
        raise Refusal(f"{uri}: ModelVersion {name!r} has no verified artifact in its status")
    declared = _mapping(_spec(version).get("artifact"))
    oci = None
    if is_oci(record[0]):
        oci = _oci(uri, name, record[0], record[1], artifact, declared)
    elif not record[0].startswith("s3://"):
        raise Refusal(
            f"{uri}: ModelVersion {name!r} is at {record[0]}; fetch reads s3:// and oci:// only"
        )
    storage = _mapping(declared.get("storage"))
    return Pinned(
        uri=uri,
        name=name,
        version=number,
        stage=str(status.get("stage") or "None"),
        artifact_uri=record[0],
        digest=record[1],
        size=int(record[2]),
        file_count=int(artifact.get("fileCount") or 1),
        version_id=artifact.get("versionId"),
        files=tuple(
            PinnedFile(
                path=str(f["path"]),
                digest=f.get("digest"),
                size=f.get("size"),
                version_id=f.get("versionId"),
            )
            for f in artifact.get("files") or []
        ),
        endpoint=storage.get("endpoint"),
        region=storage.get("region"),
        addressing_style=storage.get("addressingStyle"),
        oci=oci,
    )


def _oci(
    uri: ServingUri, name: str, artifact_uri: str, digest: str, recorded: Body, declared: Body
) -> PinnedOci:
    """The verified manifest's whereabouts: the URI's digest must be the one verified."""
    try:
        reference = parse_oci(artifact_uri, "status.artifact.uri")
    except OciReferenceError as error:
        raise Refusal(f"{uri}: ModelVersion {name!r}: {error}") from None
    manifest = _mapping(recorded.get("oci"))
    if reference.digest != digest or (
        manifest.get("registry"),
        manifest.get("repository"),
    ) != (reference.registry, reference.repository):
        raise Refusal(
            f"{uri}: ModelVersion {name!r} records {artifact_uri} but not its verified manifest "
            f"(digest {digest}, status.artifact.oci); try again once the operator has caught up"
        )
    settings = _mapping(declared.get("registry"))
    unpacked = manifest.get("unpackedSize")
    return PinnedOci(
        registry=reference.registry,
        repository=reference.repository,
        plain_http=settings.get("plainHttp") is True,
        unpacked_size=unpacked if isinstance(unpacked, int) else None,
        secret=_mapping(settings.get("secretRef")).get("name"),
    )


def _mapping(value: object) -> Body:
    return value if isinstance(value, Mapping) else {}


def _spec(body: Body) -> Body:
    return _mapping(body.get("spec"))


def _status(body: Body) -> Body:
    return _mapping(body.get("status"))


def _name(body: Body) -> str:
    return str(_mapping(body.get("metadata")).get("name"))


def _conditions(status: Body) -> list[Body]:
    return [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
