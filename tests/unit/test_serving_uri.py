"""`modelregistry://` URIs: the grammar, and which verified bytes one names, from what the
operator wrote (the Model's status, the version's status) and never from a spec alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelregistry.decisions.serving import (
    Pinned,
    PinnedFile,
    PinnedOci,
    Refusal,
    ServingUri,
    UriError,
    choose,
    parse_uri,
    reference_to,
    version_to_read,
)

from .builders import DIGEST_A, DIGEST_B, DIGEST_C, PREFIX_URI, URI

# --- the grammar --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("modelregistry://team-a/churn@champion", ("team-a", "churn", "champion", "alias")),
        ("modelregistry://team-a/churn@Production", ("team-a", "churn", "Production", "stage")),
        ("modelregistry://team-a/churn@Staging", ("team-a", "churn", "Staging", "stage")),
        ("modelregistry://team-a/churn@3", ("team-a", "churn", "3", "number")),
        ("modelregistry://a/b.c-d@10", ("a", "b.c-d", "10", "number")),
        ("modelregistry://a/m@production", ("a", "m", "production", "alias")),
        ("modelregistry://a/m@v2", ("a", "m", "v2", "alias")),
        ("modelregistry://a/m@" + "x" * 63, ("a", "m", "x" * 63, "alias")),
        ("modelregistry://" + "n" * 63 + "/m@1", ("n" * 63, "m", "1", "number")),
        ("modelregistry://a/" + "m" * 253 + "@1", ("a", "m" * 253, "1", "number")),
    ],
)
def test_a_uri_names_a_namespace_a_model_and_a_target(
    text: str, expected: tuple[str, str, str, str]
) -> None:
    uri = parse_uri(text)

    assert (uri.namespace, uri.model, uri.target, uri.kind) == expected
    assert str(uri) == text


def test_a_number_target_is_its_number_and_no_other_target_has_one() -> None:
    assert parse_uri("modelregistry://a/m@42").number == 42
    with pytest.raises(ValueError, match=r"^modelregistry://a/m@champion names no version number$"):
        _ = parse_uri("modelregistry://a/m@champion").number


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "s3://models/churn",
            "'s3://models/churn' is not a modelregistry:// URI: write "
            "modelregistry://NAMESPACE/MODEL@TARGET",
        ),
        (
            "modelregistry:/a/m@1",
            "'modelregistry:/a/m@1' is not a modelregistry:// URI: write "
            "modelregistry://NAMESPACE/MODEL@TARGET",
        ),
        (
            "modelregistry://a/m",
            "'modelregistry://a/m' names no single target: write "
            "modelregistry://NAMESPACE/MODEL@TARGET with one '@', e.g. "
            "modelregistry://team-a/churn@champion",
        ),
        (
            "modelregistry://a/m@x@y",
            "'modelregistry://a/m@x@y' names no single target: write "
            "modelregistry://NAMESPACE/MODEL@TARGET with one '@', e.g. "
            "modelregistry://team-a/churn@champion",
        ),
        (
            "modelregistry://churn@champion",
            "'modelregistry://churn@champion': the path must be NAMESPACE/MODEL, two segments, "
            "e.g. modelregistry://team-a/churn@champion",
        ),
        (
            "modelregistry://a/b/c@1",
            "'modelregistry://a/b/c@1': the path must be NAMESPACE/MODEL, two segments, e.g. "
            "modelregistry://team-a/churn@champion",
        ),
        (
            "modelregistry://Team/m@1",
            "'modelregistry://Team/m@1': namespace 'Team' is not a namespace name (an RFC 1123 "
            "label: lowercase letters, digits and '-', at most 63)",
        ),
        (
            "modelregistry:///m@1",
            "'modelregistry:///m@1': namespace '' is not a namespace name (an RFC 1123 label: "
            "lowercase letters, digits and '-', at most 63)",
        ),
        (
            "modelregistry://a/M_1@1",
            "'modelregistry://a/M_1@1': model 'M_1' is not a Model name (lowercase letters, "
            "digits, '-' and '.')",
        ),
        (
            "modelregistry://a/@1",
            "'modelregistry://a/@1': model '' is not a Model name (lowercase letters, digits, "
            "'-' and '.')",
        ),
        (
            "modelregistry://a/m@",
            "'modelregistry://a/m@': target '' is neither a stage (Staging, Production), a "
            "version number nor an alias name (lowercase letters, digits and '-')",
        ),
        (
            "modelregistry://a/m@Champion",
            "'modelregistry://a/m@Champion': target 'Champion' is neither a stage (Staging, "
            "Production), a version number nor an alias name (lowercase letters, digits and "
            "'-')",
        ),
        (
            "modelregistry://a/m@-1",
            "'modelregistry://a/m@-1': target '-1' is neither a stage (Staging, Production), a "
            "version number nor an alias name (lowercase letters, digits and '-')",
        ),
        (
            "modelregistry://a/m@champion?x=1",
            "'modelregistry://a/m@champion?x=1': target 'champion?x=1' is neither a stage "
            "(Staging, Production), a version number nor an alias name (lowercase letters, "
            "digits and '-')",
        ),
        (
            "modelregistry://a/m@0",
            "'modelregistry://a/m@0': version numbers start at 1 and have no leading zero "
            "(e.g. @3)",
        ),
        (
            "modelregistry://a/m@03",
            "'modelregistry://a/m@03': version numbers start at 1 and have no leading zero "
            "(e.g. @3)",
        ),
        (
            "modelregistry://a/m@None",
            "'modelregistry://a/m@None': nothing is served from stage None; name Staging, "
            "Production, an alias or a version number",
        ),
        (
            "modelregistry://a/m@Archived",
            "'modelregistry://a/m@Archived': nothing is served from stage Archived; name "
            "Staging, Production, an alias or a version number",
        ),
    ],
)
def test_a_malformed_uri_is_refused_saying_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(UriError) as refused:
        parse_uri(text)

    assert str(refused.value) == message


@pytest.mark.parametrize(
    "text",
    [
        "modelregistry://" + "n" * 64 + "/m@1",
        "modelregistry://a/" + "m" * 254 + "@1",
        "modelregistry://a/m@" + "x" * 64,
        "modelregistry://a/m@" + "9" * 19,
        "modelregistry://a-/m@1",
        "modelregistry://a/m@x-",
    ],
    ids=["namespace-64", "model-254", "alias-64", "number-19-digits", "label-end", "alias-end"],
)
def test_names_past_their_limits_are_malformed(text: str) -> None:
    with pytest.raises(UriError):
        parse_uri(text)


def test_a_reference_in_a_namespace_is_read_as_a_uri_there() -> None:
    assert reference_to("team-a", "churn", "Production") == ServingUri(
        "team-a", "churn", "Production", "stage"
    )
    with pytest.raises(UriError) as refused:
        reference_to("team-a", "churn", "None")
    assert str(refused.value).startswith("'modelregistry://team-a/churn@None': nothing")


# --- what the operator wrote ---------------------------------------------------------------------


def artifact(uri: str = URI, digest: str = DIGEST_A, **more: Any) -> dict[str, Any]:
    return {"uri": uri, "digest": digest, "size": 10, "fileCount": 1, **more}


def version(
    name: str,
    number: int | None,
    *,
    stage: str = "None",
    digest: str = DIGEST_A,
    model: str = "churn",
    ready: str = "True",
    verified: str = "True",
    record: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "stage": stage,
        "artifact": record
        if record is not None
        else artifact(digest=digest, versionId="v-" + name),
        "conditions": [
            {"type": "ArtifactVerified", "status": verified, "reason": "Verified", "message": "ok"},
            {"type": "Ready", "status": ready, "reason": "Succeeded", "message": "fine"},
        ],
    }
    if number is not None:
        status["version"] = number
    return {
        "metadata": {"name": name},
        "spec": {"modelRef": {"name": model}, "artifact": {"uri": URI}, **(spec or {})},
        "status": status,
    }


def entry(body: dict[str, Any]) -> dict[str, Any]:
    status = body["status"]
    return {
        "version": status["version"],
        "name": body["metadata"]["name"],
        "stage": status["stage"],
        "uri": status["artifact"]["uri"],
        "digest": status["artifact"]["digest"],
    }


def model(
    resolved: dict[str, dict[str, Any]] | None = None,
    aliases: dict[str, int] | None = None,
    *,
    generation: int = 4,
    observed: int = 4,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"observedGeneration": observed, "conditions": conditions or []}
    if resolved is not None:
        status["resolved"] = resolved
    return {
        "metadata": {"name": "churn", "generation": generation},
        "spec": {"aliases": aliases} if aliases is not None else {},
        "status": status,
    }


CHAMPION = parse_uri("modelregistry://team-a/churn@champion")
PRODUCTION = parse_uri("modelregistry://team-a/churn@Production")
STAGING = parse_uri("modelregistry://team-a/churn@Staging")
THREE = parse_uri("modelregistry://team-a/churn@3")


def refusal(call: Any) -> str:
    with pytest.raises(Refusal) as refused:
        call()
    return str(refused.value)


# --- an alias ------------------------------------------------------------------------------------


def test_an_alias_serves_the_verified_record_of_the_version_the_model_resolved_it_to() -> None:
    two = version(
        "churn-2",
        2,
        stage="Staging",
        spec={"artifact": {"uri": URI, "storage": {"endpoint": "http://s3:9000"}}},
        record=artifact(digest=DIGEST_B, versionId="v7", size=12),
    )
    found = model({"champion": entry(two)}, {"champion": 2})

    assert version_to_read(CHAMPION, found) == "churn-2"
    assert choose(CHAMPION, found, [two]) == Pinned(
        uri=CHAMPION,
        name="churn-2",
        version=2,
        stage="Staging",
        artifact_uri=URI,
        digest=DIGEST_B,
        size=12,
        file_count=1,
        version_id="v7",
        files=(),
        endpoint="http://s3:9000",
        region=None,
        addressing_style=None,
    )


def test_the_plan_pins_every_recorded_file_and_the_store_settings() -> None:
    files = [
        {"path": "MLmodel", "digest": DIGEST_B, "size": 3, "versionId": "m1"},
        {"path": "data/model.pkl", "digest": DIGEST_C, "size": 7},
    ]
    one = version(
        "churn-1",
        1,
        record=artifact(uri=PREFIX_URI, size=10, fileCount=3, files=files),
        spec={
            "artifact": {
                "uri": PREFIX_URI,
                "storage": {"region": "eu-west-1", "addressingStyle": "path"},
            }
        },
    )
    pinned = choose(ServingUri("team-a", "churn", "1", "number"), model(), [one])

    assert pinned.is_prefix
    assert pinned.files == (
        PinnedFile("MLmodel", DIGEST_B, 3, "m1"),
        PinnedFile("data/model.pkl", DIGEST_C, 7, None),
    )
    assert pinned.plan() == {
        "uri": PREFIX_URI,
        "digest": DIGEST_A,
        "versionId": None,
        "size": 10,
        "fileCount": 3,
        "files": [
            {"path": "MLmodel", "versionId": "m1", "digest": DIGEST_B, "size": 3},
            {"path": "data/model.pkl", "versionId": None, "digest": DIGEST_C, "size": 7},
        ],
        "endpoint": None,
        "region": "eu-west-1",
        "addressingStyle": "path",
    }
    assert pinned.resolved() == {
        "version": 1,
        "name": "churn-1",
        "stage": "None",
        "uri": PREFIX_URI,
        "digest": DIGEST_A,
    }


def test_a_single_object_resolves_with_its_version_id_and_one_file_by_default() -> None:
    one = version(
        "churn-1", 1, record={"uri": URI, "digest": DIGEST_A, "size": 0, "versionId": "x"}
    )

    pinned = choose(parse_uri("modelregistry://team-a/churn@1"), model(), [one])

    assert (pinned.is_prefix, pinned.file_count, pinned.size) == (False, 1, 0)
    assert pinned.resolved()["versionId"] == "x"
    assert pinned.plan()["versionId"] == "x"


def test_a_spec_that_claims_the_alias_does_not_move_it() -> None:
    """Mallory creates a version under a name and number of her choice: the Model's status
    still names churn-1, and she is not it."""
    one = version("churn-1", 1)
    mallory = version("churn-champion", 1, digest=DIGEST_C, spec={"version": 1})
    found = model({"champion": entry(one)}, {"champion": 1})

    assert choose(CHAMPION, found, [mallory, one]).digest == DIGEST_A
    assert (
        refusal(lambda: choose(CHAMPION, found, [mallory]))
        == "modelregistry://team-a/churn@champion: ModelVersion 'churn-1' of Model 'churn', "
        "which the Model's status names, is gone; try again once the operator has caught up"
    )


def test_a_version_of_another_model_is_never_chosen() -> None:
    other = version("churn-1", 1, model="fraud")
    found = model({"champion": entry(version("churn-1", 1))}, {"champion": 1})

    assert "is gone" in refusal(lambda: choose(CHAMPION, found, [other]))
    assert refusal(lambda: choose(THREE, model(), [version("x", 3, model="fraud")])) == (
        "modelregistry://team-a/churn@3: Model 'churn' has no version 3"
    )


def test_a_version_whose_status_disagrees_with_the_model_is_not_served() -> None:
    """Recreated under the same name with other bytes (or the Model's status lags)."""
    recreated = version("churn-1", 1, digest=DIGEST_C)
    found = model({"champion": entry(version("churn-1", 1))}, {"champion": 1})

    assert refusal(lambda: choose(CHAMPION, found, [recreated])) == (
        f"modelregistry://team-a/churn@champion: the Model's status names version 1 "
        f"({DIGEST_A}) but ModelVersion 'churn-1' records version 1 ({DIGEST_C}); try again "
        "once the operator has caught up"
    )
    renumbered = version("churn-1", 5)
    assert "records version 5" in refusal(lambda: choose(CHAMPION, found, [renumbered]))


def test_an_alias_is_not_served_before_the_operator_saw_the_model_s_generation() -> None:
    one = version("churn-1", 1)
    stale = model({"champion": entry(one)}, {"champion": 1}, generation=5, observed=4)

    message = (
        "modelregistry://team-a/churn@champion: the operator has not resolved Model 'churn' at "
        "its generation 5 yet (status is of 4); try again shortly"
    )
    assert refusal(lambda: version_to_read(CHAMPION, stale)) == message
    assert refusal(lambda: choose(CHAMPION, stale, [one])) == message


def test_a_stage_is_served_from_a_model_whose_spec_moved_on() -> None:
    """Stages follow the versions' granted stages, not the Model's spec."""
    one = version("churn-1", 1, stage="Production")
    found = model({"Production": entry(one)}, generation=5, observed=4)

    assert choose(PRODUCTION, found, [one]).name == "churn-1"


def test_an_alias_that_does_not_resolve_says_why_in_the_operator_s_words() -> None:
    why = "alias 'champion' points at version 9, which does not exist. Point the alias ..."
    found = model(
        {},
        {"champion": 9},
        conditions=[
            {"type": "Ready", "status": "False", "message": "no"},
            {"type": "AliasesResolved", "status": "False", "message": why},
        ],
    )

    assert refusal(lambda: version_to_read(CHAMPION, found)) == (
        f"modelregistry://team-a/churn@champion does not resolve: {why}"
    )


def test_an_alias_the_operator_has_not_resolved_yet_says_so() -> None:
    found = model(None, {"champion": 2})
    resolved_true = model(
        None, {"champion": 2}, conditions=[{"type": "AliasesResolved", "status": "True"}]
    )

    expected = "modelregistry://team-a/churn@champion does not resolve: version 2 is not Ready"
    assert refusal(lambda: version_to_read(CHAMPION, found)) == expected
    assert refusal(lambda: version_to_read(CHAMPION, resolved_true)) == expected


def test_an_unknown_alias_names_what_the_model_resolves() -> None:
    one = entry(version("churn-1", 1, stage="Staging"))
    found = model({"Staging": one, "champion": one}, {"champion": 1})

    assert refusal(
        lambda: version_to_read(parse_uri("modelregistry://team-a/churn@best"), found)
    ) == (
        "modelregistry://team-a/churn@best: Model 'churn' has no alias 'best'; it resolves: "
        "Staging, champion"
    )
    assert refusal(
        lambda: version_to_read(parse_uri("modelregistry://team-a/churn@staging"), model())
    ) == (
        "modelregistry://team-a/churn@staging: Model 'churn' has no alias 'staging' (stages "
        "are written Staging); it resolves: none"
    )


def test_a_resolved_entry_without_a_name_resolves_nothing() -> None:
    found = model({"champion": {"version": 1}}, {"champion": 1})
    found["status"]["resolved"]["Production"] = "churn-1"  # not an entry at all

    assert "does not resolve" in refusal(lambda: version_to_read(CHAMPION, found))
    assert refusal(lambda: version_to_read(PRODUCTION, found)) == (
        "modelregistry://team-a/churn@Production: no version of Model 'churn' holds Production"
    )


# --- a stage -------------------------------------------------------------------------------------


def test_a_stage_serves_its_granted_holder() -> None:
    holder = version("churn-2", 2, stage="Production", digest=DIGEST_B)
    found = model({"Production": entry(holder)})

    assert version_to_read(PRODUCTION, found) == "churn-2"
    assert choose(PRODUCTION, found, [holder]).digest == DIGEST_B


def test_a_stage_asked_for_but_not_granted_is_not_served_as_that_stage() -> None:
    asked = version("churn-3", 3, spec={"stage": "Production"})

    assert refusal(lambda: version_to_read(PRODUCTION, model({}))) == (
        "modelregistry://team-a/churn@Production: no version of Model 'churn' holds Production"
    )
    # The Model's status still names it, but its own granted stage is gone.
    found = model({"Production": {**entry(asked), "stage": "Production"}})
    assert refusal(lambda: choose(PRODUCTION, found, [asked])) == (
        "modelregistry://team-a/churn@Production: ModelVersion 'churn-3' no longer holds "
        "Production (it holds None); try again once the operator has caught up"
    )
    unset = copy.deepcopy(asked)
    del unset["status"]["stage"]
    assert "(it holds None)" in refusal(lambda: choose(PRODUCTION, found, [unset]))


def test_staging_serves_the_newest_holder_the_model_names() -> None:
    older = version("churn-1", 1, stage="Staging")
    newer = version("churn-2", 2, stage="Staging", digest=DIGEST_B)
    found = model({"Staging": entry(newer)})

    assert choose(STAGING, found, [older, newer]).name == "churn-2"


# --- a number ------------------------------------------------------------------------------------


def test_a_number_serves_the_version_that_records_it() -> None:
    three = version("churn-3", 3, digest=DIGEST_B)

    assert version_to_read(THREE, model()) is None
    assert choose(THREE, model(), [version("churn-1", 1), three, version("x", None)]).name == (
        "churn-3"
    )


def test_a_number_claimed_in_a_spec_only_is_not_the_version() -> None:
    claimed = version("mallory", None, spec={"version": 3})

    assert refusal(lambda: choose(THREE, model(), [claimed])) == (
        "modelregistry://team-a/churn@3: Model 'churn' has no version 3"
    )


def test_a_number_recorded_twice_is_refused_naming_both() -> None:
    both = [version("b", 3), version("a", 3)]

    assert refusal(lambda: choose(THREE, model(), both)) == (
        "modelregistry://team-a/churn@3: version 3 is recorded by more than one: a, b"
    )


def test_a_number_that_is_also_an_alias_is_ambiguous() -> None:
    found = model(aliases={"3": 1})

    message = (
        "modelregistry://team-a/churn@3 is ambiguous: Model 'churn' has an alias named '3' as "
        "well as (perhaps) a version 3; rename the alias"
    )
    assert refusal(lambda: version_to_read(THREE, found)) == message
    assert refusal(lambda: choose(THREE, found, [version("churn-3", 3)])) == message


# --- only what may be served ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"verified": "False"},
            "ModelVersion 'churn-3' is not ArtifactVerified (Verified: ok)",
        ),
        ({"ready": "Unknown"}, "ModelVersion 'churn-3' is not Ready (Succeeded: fine)"),
        (
            {"stage": "Archived"},
            "ModelVersion 'churn-3' is Archived, and archived versions are "
            "not served; point the alias at another version, or name another",
        ),
    ],
)
def test_a_version_not_ready_verified_and_active_is_not_served(
    changes: dict[str, str], message: str
) -> None:
    body = version("churn-3", 3, **changes)  # type: ignore[arg-type]

    assert refusal(lambda: choose(THREE, model(), [body])) == (
        f"modelregistry://team-a/churn@3: {message}"
    )


def test_a_version_the_operator_has_not_judged_is_not_served() -> None:
    body = version("churn-3", 3)
    body["status"]["conditions"] = [{"type": "Ready", "status": "True"}, "junk"]

    assert refusal(lambda: choose(THREE, model(), [body])) == (
        "modelregistry://team-a/churn@3: ModelVersion 'churn-3' is not ArtifactVerified (the "
        "operator has not said yet)"
    )
    body["status"]["conditions"] = [{"type": "ArtifactVerified", "status": "True"}]
    assert "is not Ready (the operator has not said yet)" in refusal(
        lambda: choose(THREE, model(), [body])
    )


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (None, "ModelVersion 'churn-1' has no verified artifact in its status"),
        ({"uri": URI, "size": 1}, "ModelVersion 'churn-1' has no verified artifact in its status"),
        (
            {"uri": URI, "digest": DIGEST_A},
            "ModelVersion 'churn-1' has no verified artifact in its status",
        ),
        (
            {"digest": DIGEST_A, "size": 1},
            "ModelVersion 'churn-1' has no verified artifact in its status",
        ),
        (
            {"uri": "gs://b/m.bin", "digest": DIGEST_A, "size": 1},
            "ModelVersion 'churn-1' is at gs://b/m.bin; fetch reads s3:// and oci:// only",
        ),
        (
            {"uri": "oci://r/m@sha256:1", "digest": DIGEST_A, "size": 1},
            "ModelVersion 'churn-1': status.artifact.uri: 'oci://r/m@sha256:1': the digest "
            "must be sha256: and 64 lowercase hex digits (the manifest's SHA-256), not "
            "'sha256:1'",
        ),
    ],
)
def test_a_version_without_a_verified_s3_record_is_not_served(
    record: dict[str, Any] | None, message: str
) -> None:
    body = version("churn-1", 1, record=record or {})
    if record is None:
        del body["status"]["artifact"]

    assert (
        refusal(lambda: choose(parse_uri("modelregistry://team-a/churn@1"), model(), [body]))
        == f"modelregistry://team-a/churn@1: {message}"
    )


def test_a_version_without_a_recorded_number_is_not_served_by_alias() -> None:
    body = version("churn-1", None)
    found = model({"champion": {"name": "churn-1", "digest": DIGEST_A}}, {"champion": 1})

    assert refusal(lambda: choose(CHAMPION, found, [body])) == (
        "modelregistry://team-a/churn@champion: ModelVersion 'churn-1' has no version number yet"
    )


def test_bodies_missing_whole_parts_are_read_as_empty() -> None:
    bare: dict[str, Any] = {"metadata": {"name": "churn"}, "spec": None, "status": None}

    assert version_to_read(THREE, bare) is None
    assert refusal(lambda: choose(THREE, bare, [{"metadata": {"name": "x"}}])) == (
        "modelregistry://team-a/churn@3: Model 'churn' has no version 3"
    )
    assert "no alias" in refusal(lambda: version_to_read(CHAMPION, {"metadata": {}}))


# --- oci:// versions ----------------------------------------------------------------------------

OCI_URI = f"oci://registry.example.com:5000/models/churn@{DIGEST_B}"


def oci_version(
    uri: str = OCI_URI,
    digest: str = DIGEST_B,
    manifest: dict[str, Any] | None = None,
    registry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A verified version of an oci:// artifact, as the operator records it."""
    oci = {
        "registry": "registry.example.com:5000",
        "repository": "models/churn",
        "layout": "ModelPack",
        "unpackedSize": 30,
        **(manifest or {}),
    }
    record = {"uri": uri, "digest": digest, "size": 20, "fileCount": 2, "oci": oci}
    body = version("churn-4", 4, stage="Production", record=record)
    body["spec"]["artifact"] = {"uri": uri, **({"registry": registry} if registry else {})}
    return body


def test_an_oci_version_is_served_by_its_verified_manifest_digest() -> None:
    body = oci_version(registry={"secretRef": {"name": "pull"}, "plainHttp": True})

    pinned = choose(PRODUCTION, model({"Production": entry(body)}), [body])

    assert pinned.oci == PinnedOci(
        registry="registry.example.com:5000",
        repository="models/churn",
        plain_http=True,
        unpacked_size=30,
        secret="pull",
    )
    assert (pinned.artifact_uri, pinned.digest, pinned.file_count) == (OCI_URI, DIGEST_B, 2)
    # The validation Pod's fetch step reads the same plan.
    assert pinned.oci_plan("10.0.0.1:31500") == {
        "uri": OCI_URI,
        "digest": DIGEST_B,
        "unpackLimit": 30,
        "oci": {"endpoint": "10.0.0.1:31500", "plainHTTP": True},
    }
    assert pinned.oci_plan(None)["oci"]["endpoint"] == "registry.example.com:5000"


def test_an_oci_version_speaks_https_without_credentials_unless_its_spec_says() -> None:
    anonymous = choose(THREE, model(), [_numbered(oci_version(), 3)])
    assert anonymous.oci is not None
    assert (anonymous.oci.plain_http, anonymous.oci.secret) == (False, None)
    assert anonymous.oci_plan(None)["oci"]["plainHTTP"] is False
    # Only true is true: a string the schema would refuse anyway is not.
    odd = choose(THREE, model(), [_numbered(oci_version(registry={"plainHttp": "true"}), 3)])
    assert odd.oci is not None and odd.oci.plain_http is False


def test_an_oci_version_without_a_measured_size_pulls_without_a_limit() -> None:
    body = _numbered(oci_version(manifest={"unpackedSize": None}), 3)

    pinned = choose(THREE, model(), [body])

    assert pinned.oci_plan(None)["unpackLimit"] is None


def test_an_s3_version_has_no_oci_plan() -> None:
    pinned = choose(THREE, model(), [version("churn-3", 3)])

    assert pinned.oci is None
    with pytest.raises(ValueError, match="is not an oci:// artifact"):
        pinned.oci_plan(None)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        # The URI's digest is not the one verified: the status is caught half-way.
        (oci_version(digest=DIGEST_C), f"(digest {DIGEST_C}, status.artifact.oci)"),
        # No record of the manifest at all.
        (oci_version(manifest={"registry": None, "repository": None}), "status.artifact.oci"),
        # A manifest recorded for another repository, or another registry.
        (oci_version(manifest={"repository": "models/other"}), "status.artifact.oci"),
        (oci_version(manifest={"registry": "elsewhere.example.com"}), "status.artifact.oci"),
    ],
)
def test_an_oci_version_whose_record_does_not_pin_its_manifest_is_not_served(
    body: dict[str, Any], said: str
) -> None:
    message = refusal(lambda: choose(THREE, model(), [_numbered(body, 3)]))

    assert message.startswith(
        f"modelregistry://team-a/churn@3: ModelVersion 'churn-4' records {OCI_URI} but not its "
        "verified manifest"
    )
    assert said in message
    assert message.endswith("try again once the operator has caught up")


def _numbered(body: dict[str, Any], number: int) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["status"]["version"] = number
    return body
