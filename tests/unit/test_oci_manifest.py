"""Model manifests: ModelPack and KitOps layouts read, anything else refused in words."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelregistry.decisions.oci.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_MEDIA_TYPE,
    KITOPS_CONFIG,
    MANIFEST_MEDIA_TYPE,
    MAX_CONFIG_BYTES,
    MAX_LAYERS,
    MAX_MANIFEST_BYTES,
    MODELPACK_ARTIFACT_TYPE,
    MODELPACK_CONFIG,
    Descriptor,
    Layer,
    ManifestError,
    parse,
)

D = ["sha256:" + f"{i:02x}" * 32 for i in range(8)]


def blob(
    media_type: str, digest: Any = D[1], size: Any = 10, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if annotations:
        found["annotations"] = annotations
    return found


def weights(path: str = "model.onnx", digest: str = D[1], size: int = 10) -> dict[str, Any]:
    return blob(
        "application/vnd.cncf.model.weight.v1.raw",
        digest,
        size,
        {"org.opencontainers.image.title": path},
    )


def modelpack(*layers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": MODELPACK_ARTIFACT_TYPE,
        "config": blob(MODELPACK_CONFIG, D[0], 301),
        "layers": list(layers or [weights()]),
        **extra,
    }


def raw(document: Any) -> bytes:
    return json.dumps(document).encode()


def refusal(document: Any, content_type: str | None = None) -> str:
    with pytest.raises(ManifestError) as refused:
        parse(raw(document) if not isinstance(document, bytes) else document, content_type)
    return str(refused.value)


def test_the_model_spec_example_is_read_with_every_layer_and_its_packing() -> None:
    document = modelpack(
        blob("application/vnd.cncf.model.weight.v1.tar", D[1], 30327160),
        blob("application/vnd.cncf.model.weight.v1.tar+gzip", D[2], 5),
        blob("application/vnd.cncf.model.weight.config.v1.tar+zstd", D[3], 106),
        weights("docs/README.md", D[4], 23040),
    )

    manifest = parse(raw(document))

    assert manifest.layout == "ModelPack"
    assert manifest.media_type == MANIFEST_MEDIA_TYPE
    assert manifest.artifact_type == MODELPACK_ARTIFACT_TYPE
    assert manifest.config == Descriptor(MODELPACK_CONFIG, D[0], 301)
    assert [(layer.packing, layer.compression, layer.path) for layer in manifest.layers] == [
        ("tar", None, None),
        ("tar", "gzip", None),
        ("tar", "zstd", None),
        ("file", None, "docs/README.md"),
    ]
    assert manifest.layers[0].descriptor == Descriptor(
        "application/vnd.cncf.model.weight.v1.tar", D[1], 30327160
    )
    assert manifest.size == 30327160 + 5 + 106 + 23040


@pytest.mark.parametrize("kind", ["weight", "weight.config", "doc", "code", "dataset"])
@pytest.mark.parametrize("packing", ["raw", "tar", "tar+gzip", "tar+zstd"])
def test_every_modelpack_layer_media_type_is_read(kind: str, packing: str) -> None:
    media_type = f"application/vnd.cncf.model.{kind}.v1.{packing}"
    layer = blob(media_type, annotations={"org.cncf.model.filepath": "a/b"})

    (found,) = parse(raw(modelpack(layer))).layers

    assert found.packing == ("file" if packing == "raw" else "tar")
    assert found.path == ("a/b" if packing == "raw" else None)


def test_a_modelpack_config_without_an_artifact_type_is_modelpack_too() -> None:
    document = modelpack()
    del document["artifactType"]

    manifest = parse(raw(document))

    assert manifest.layout == "ModelPack"
    assert manifest.artifact_type is None


def test_the_artifact_type_alone_makes_modelpack() -> None:
    document = modelpack(config=blob("application/vnd.oci.empty.v1+json", D[0], 2))

    assert parse(raw(document)).layout == "ModelPack"


def test_a_kitops_modelkit_without_a_media_type_takes_the_registrys() -> None:
    document = {
        "schemaVersion": 2,
        "config": blob(KITOPS_CONFIG, D[0], 409),
        "layers": [
            blob("application/vnd.kitops.modelkit.model.v1.tar", D[1], 123456789),
            blob("application/vnd.kitops.modelkit.code.v1.tar+gzip", D[2], 23456),
            blob("application/vnd.kitops.modelkit.modelpart.v1.tar", D[3], 7),
        ],
        "annotations": {"ml.kitops.modelkit.cli-version": "0.2.5-29dbdc4"},
    }

    for content_type in (MANIFEST_MEDIA_TYPE, None, "application/json"):
        manifest = parse(raw(document), content_type)
        assert manifest.layout == "KitOps"
        assert manifest.media_type == MANIFEST_MEDIA_TYPE
        assert [(layer.packing, layer.compression) for layer in manifest.layers] == [
            ("tar", None),
            ("tar", "gzip"),
            ("tar", None),
        ]


def test_a_content_type_with_parameters_is_read_by_its_media_type() -> None:
    document = modelpack()
    del document["mediaType"]

    assert parse(raw(document), f"{MANIFEST_MEDIA_TYPE}; charset=utf-8").media_type == (
        MANIFEST_MEDIA_TYPE
    )
    assert "'text/plain', not application/vnd.oci" in refusal(document, "text/plain")


@pytest.mark.parametrize("media_type", [INDEX_MEDIA_TYPE, DOCKER_LIST])
def test_an_index_is_refused_saying_to_name_the_models_own_manifest(media_type: str) -> None:
    document = {"schemaVersion": 2, "mediaType": media_type, "manifests": []}

    assert refusal(document) == (
        "the digest names an index (a list of manifests), not one artifact: name the digest "
        "of the model's own manifest in it (`oras manifest fetch` shows the list)"
    )
    assert "names an index" in refusal({"schemaVersion": 2, "manifests": []})
    del document["mediaType"]
    assert "names an index" in refusal(document, media_type)


def test_a_docker_image_manifest_is_refused() -> None:
    document = modelpack(mediaType=DOCKER_MANIFEST)

    assert refusal(document) == (
        "the digest names a Docker image manifest, not an OCI model artifact (ModelPack or KitOps)"
    )


def test_a_manifest_of_another_media_type_is_refused_naming_it() -> None:
    assert refusal(modelpack(mediaType="application/vnd.example+json")) == (
        f"the manifest's media type is 'application/vnd.example+json', not {MANIFEST_MEDIA_TYPE}"
    )


def test_a_container_image_is_not_a_model() -> None:
    document = modelpack(config=blob("application/vnd.oci.image.config.v1+json", D[0], 5))
    del document["artifactType"]

    assert refusal(document) == (
        "not a model artifact: artifactType None, config "
        "'application/vnd.oci.image.config.v1+json'. The operator reads CNCF ModelPack "
        f"(artifactType {MODELPACK_ARTIFACT_TYPE} or config {MODELPACK_CONFIG}) and KitOps "
        f"ModelKits (config {KITOPS_CONFIG})"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"\xff\xfe", "the manifest is not JSON"),
        (b"{", "the manifest is not JSON"),
        (b"[]", "the manifest is not a JSON object"),
        ({**modelpack(), "schemaVersion": 1}, "schemaVersion is 1; an OCI manifest has 2"),
        ({**modelpack(), "schemaVersion": "2"}, "schemaVersion is '2'; an OCI manifest has 2"),
        ({**modelpack(), "layers": []}, "the manifest lists no layers"),
        ({**modelpack(), "layers": {}}, "the manifest lists no layers"),
        ({**modelpack(), "artifactType": 7}, "artifactType is not a string"),
        ({**modelpack(), "config": "x"}, "config is not a descriptor (an object)"),
    ],
)
def test_malformed_manifests_are_refused(document: Any, message: str) -> None:
    assert refusal(document).startswith(message)


def test_the_size_limits_of_a_manifest_its_config_and_its_layers() -> None:
    assert refusal(b" " * (MAX_MANIFEST_BYTES + 1)) == (
        f"the manifest is {MAX_MANIFEST_BYTES + 1} bytes; at most {MAX_MANIFEST_BYTES}"
    )
    config = blob(MODELPACK_CONFIG, D[0], MAX_CONFIG_BYTES + 1)
    assert refusal(modelpack(config=config)) == (
        f"the config is {MAX_CONFIG_BYTES + 1} bytes; a model's config is a small JSON "
        f"document (at most {MAX_CONFIG_BYTES})"
    )
    assert parse(raw(modelpack(config=blob(MODELPACK_CONFIG, D[0], MAX_CONFIG_BYTES))))
    many = [weights(f"f{i}") for i in range(MAX_LAYERS)]
    assert len(parse(raw(modelpack(*many))).layers) == MAX_LAYERS
    assert refusal(modelpack(*many, weights("one-more"))) == (
        f"the manifest lists {MAX_LAYERS + 1} layers; at most {MAX_LAYERS}"
    )


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ([], "layers[0] is not a descriptor (an object)"),
        ({"digest": D[1], "size": 1}, "layers[0].mediaType is None, not a media type"),
        (blob("not a media type"), "layers[0].mediaType is 'not a media type', not a media type"),
        (
            blob("application/vnd.cncf.model.weight.v1.raw", "sha512:" + "a" * 128),
            "layers[0].digest is 'sha512:" + "a" * 128 + "' (sha512): the operator verifies "
            "sha256 digests only",
        ),
        (
            blob("application/vnd.cncf.model.weight.v1.raw", "sha256:" + "A" * 64),
            "layers[0].digest is 'sha256:" + "A" * 64 + "': the operator verifies sha256 "
            "digests only",
        ),
        (
            blob("application/vnd.cncf.model.weight.v1.raw", 7),
            "layers[0].digest is 7: the operator",
        ),
        (blob("application/vnd.cncf.model.weight.v1.raw", D[1], -1), "layers[0].size is -1"),
        (blob("application/vnd.cncf.model.weight.v1.raw", D[1], True), "layers[0].size is True"),
        (blob("application/vnd.cncf.model.weight.v1.raw", D[1], 1.5), "layers[0].size is 1.5"),
        (
            {**weights(), "annotations": {"a": 1}},
            "layers[0].annotations is not a map of strings",
        ),
        ({**weights(), "annotations": ["a"]}, "layers[0].annotations is not a map of strings"),
    ],
)
def test_a_layer_descriptor_must_be_a_media_type_a_sha256_digest_and_a_size(
    layer: Any, message: str
) -> None:
    assert refusal(modelpack(layer)).startswith(message)


def test_a_size_of_zero_is_a_size() -> None:
    (layer,) = parse(raw(modelpack(weights(size=0)))).layers

    assert layer.descriptor.size == 0


def test_a_layer_of_another_layout_is_refused_naming_the_layer_and_the_media_types() -> None:
    assert refusal(modelpack(blob("application/vnd.oci.image.layer.v1.tar", D[5]))) == (
        f"layers[0] ({D[5]}) has media type 'application/vnd.oci.image.layer.v1.tar', not a "
        "ModelPack layer (application/vnd.cncf.model.<weight|weight.config|doc|code|dataset>"
        ".v1.<raw|tar|tar+gzip|tar+zstd>)"
    )
    kit = {
        "schemaVersion": 2,
        "config": blob(KITOPS_CONFIG, D[0]),
        "layers": [
            blob("application/vnd.kitops.modelkit.model.v1.tar"),
            blob(MODELPACK_CONFIG, D[6]),
        ],
    }
    assert refusal(kit) == (
        f"layers[1] ({D[6]}) has media type '{MODELPACK_CONFIG}', not a KitOps layer "
        "(application/vnd.kitops.modelkit.<kind>.v1.tar[+gzip])"
    )
    kit["layers"] = [blob("application/vnd.kitops.modelkit.config.v1.tar", D[6])]
    assert "not a KitOps layer" in refusal(kit)
    kit["layers"] = [blob("application/vnd.kitops.modelkit.model.v1.tar+zstd", D[6])]
    assert "not a KitOps layer" in refusal(kit)


def test_a_raw_layer_lies_at_its_filepath_annotation_before_its_title() -> None:
    layer = blob(
        "application/vnd.cncf.model.weight.v1.raw",
        annotations={
            "org.opencontainers.image.title": "title.bin",
            "org.cncf.model.filepath": "w/x.bin",
        },
    )

    assert parse(raw(modelpack(layer))).layers[0] == Layer(
        Descriptor(
            "application/vnd.cncf.model.weight.v1.raw",
            D[1],
            10,
            (
                ("org.cncf.model.filepath", "w/x.bin"),
                ("org.opencontainers.image.title", "title.bin"),
            ),
        ),
        "file",
        None,
        "w/x.bin",
    )


def test_a_raw_layer_without_a_path_is_refused_saying_how_to_name_one() -> None:
    assert refusal(modelpack(blob("application/vnd.cncf.model.weight.v1.raw"))) == (
        f"layers[0] ({D[1]}) is one file but names no path: annotate it with "
        "org.cncf.model.filepath or org.opencontainers.image.title (`oras push FILE:TYPE` "
        "sets the title)"
    )


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/", ".", "a\\b", "a\nb", "a\x7fb"],
)
def test_a_raw_layer_path_that_could_land_elsewhere_is_refused(path: str) -> None:
    assert refusal(modelpack(weights(path))) == (
        f"layers[0] ({D[1]}) names the path {path!r}: a path must be relative, each segment "
        "a name (no '', '.' or '..'), without control characters or backslashes"
    )


def test_dotted_names_that_are_names_are_paths() -> None:
    layers = parse(
        raw(modelpack(weights(".hidden"), weights("..x/y", D[2]), weights("a.b/c", D[3])))
    )

    assert [layer.path for layer in layers.layers] == [".hidden", "..x/y", "a.b/c"]


def test_two_layers_at_one_path_or_one_under_another_file_are_refused() -> None:
    assert refusal(modelpack(weights("m.bin"), weights("m.bin", D[2]))) == (
        "two layers are both at 'm.bin': each file needs its own path"
    )
    assert refusal(modelpack(weights("a"), weights("a.txt", D[2]), weights("a/b/c", D[3]))) == (
        "one layer is the file 'a' and another lies under it at 'a/b/c'"
    )
    assert refusal(modelpack(weights("x/y/z", D[2]), weights("x/y"))) == (
        "one layer is the file 'x/y' and another lies under it at 'x/y/z'"
    )
    assert len(parse(raw(modelpack(weights("a/b"), weights("a/c", D[2])))).layers) == 2


def test_annotations_are_kept_sorted_and_looked_up_by_key() -> None:
    item = parse(raw(modelpack(weights()))).config

    assert item.annotation("anything") is None
    layer = parse(
        raw(
            modelpack(
                blob("application/vnd.cncf.model.doc.v1.tar", annotations={"z": "1", "a": "2"})
            )
        )
    ).layers[0]
    assert layer.descriptor.annotations == (("a", "2"), ("z", "1"))
    assert layer.descriptor.annotation("z") == "1"
