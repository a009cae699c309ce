"""The format check on artifacts the tests build: MLflow, ONNX, safetensors, pickle."""

from __future__ import annotations

import json
import pickle
import subprocess
from pathlib import Path

import onnx
import pytest

from modelregistry.checks.formats import check_format, pickle_modules
from modelregistry.checks.report import Report
from modelregistry.checks.signature import Column, ModelSignature
from tests.unit.test_checks_artifacts import (
    INPUTS,
    f32,
    fitted_logistic_regression,
    onnx_linear_model,
    safetensors_file,
    sklearn_mlflow_model,
)

MLFLOW_DETAILS = {
    "flavors": ["python_function", "sklearn"],
    "files": ["conda.yaml", "input_example.json", "model.pkl", "python_env.yaml"],
    "environment": ["conda.yaml", "python_env.yaml", "requirements.txt"],
    "signature": True,
}
SPEC = ModelSignature(
    inputs=(Column("x", "float64"), Column("y", "float64"), Column("z", "float64")),
    outputs=(Column(None, "int64"),),
)
AGREE = "make the artifact and spec.signature agree"


def mlflow_failure(message: str, **details: object) -> Report:
    return Report("format", False, "mlflow", None, message, {**MLFLOW_DETAILS, **details})


# ---------------------------------------------------------------- MLflow


def test_a_complete_mlflow_model_passes(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")

    assert check_format(model, "mlflow", declared=SPEC, require_signature=True) == Report(
        "format",
        True,
        "mlflow",
        None,
        "MLmodel is valid and names only files the artifact holds",
        MLFLOW_DETAILS,
    )


def test_the_mlmodel_file_itself_stands_for_its_directory(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")

    assert check_format(model / "MLmodel", "mlflow").passed is True


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a pickle", "at position 0, opcode b'n' unknown"),
        (b"\x80\x04N", "pickle exhausted before seeing STOP"),
        (b"\x80\x04\x95", "not enough data in stream to read uint8"),
    ],
)
def test_a_corrupt_model_pkl_fails_naming_the_file(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "model.pkl").write_bytes(content)

    assert check_format(model, "mlflow") == mlflow_failure(
        f"MLmodel names model.pkl (flavors.sklearn.pickled_model), which is not a valid pickle "
        f"stream ({reason}): the file is corrupt or truncated; save the model again"
    )


def test_a_truncated_model_pkl_fails(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    whole = (model / "model.pkl").read_bytes()
    (model / "model.pkl").write_bytes(whole[: len(whole) // 2])

    report = check_format(model, "mlflow")

    assert report.passed is False
    assert report.message.startswith(
        "MLmodel names model.pkl (flavors.sklearn.pickled_model), which is not a valid pickle "
        "stream ("
    )


def test_a_missing_model_file_is_named_for_every_flavor_that_names_it(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "model.pkl").unlink()
    first = (
        "MLmodel names model.pkl (flavors.python_function.model_path), which is missing from "
        "the artifact: upload the complete model directory"
    )
    second = (
        "MLmodel names model.pkl (flavors.sklearn.pickled_model), which is missing from the "
        "artifact: upload the complete model directory"
    )

    assert check_format(model, "mlflow") == mlflow_failure(
        f"{first} (and 1 more: see details.problems)",
        files=["conda.yaml", "input_example.json", "python_env.yaml"],
        problems=[first, second],
    )


def test_a_path_outside_the_model_directory_is_refused(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", pickled_model="../model.pkl")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted_logistic_regression()))
    problem = (
        "MLmodel names ../model.pkl ({where}), which points outside the artifact: paths in "
        "MLmodel are relative to the model directory"
    )

    assert check_format(model, "mlflow") == mlflow_failure(
        problem.format(where="flavors.python_function.model_path")
        + " (and 1 more: see details.problems)",
        files=["conda.yaml", "input_example.json", "python_env.yaml"],
        problems=[
            problem.format(where="flavors.python_function.model_path"),
            problem.format(where="flavors.sklearn.pickled_model"),
        ],
    )


def test_no_environment_file_fails(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "MLmodel").write_text(
        (model / "MLmodel").read_text().replace("    env:\n", "    e:\n")
    )
    for name in ("conda.yaml", "python_env.yaml", "requirements.txt"):
        (model / name).unlink()

    assert check_format(model, "mlflow") == mlflow_failure(
        "the artifact has no environment file (conda.yaml / python_env.yaml / requirements.txt) "
        "next to MLmodel: save the model with its environment so it can be served",
        files=["input_example.json", "model.pkl"],
        environment=[],
    )


@pytest.mark.parametrize("kept", ["conda.yaml", "python_env.yaml", "requirements.txt"])
def test_any_one_environment_file_is_enough(tmp_path: Path, kept: str) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "MLmodel").write_text(
        (model / "MLmodel").read_text().replace("    env:\n", "    e:\n")
    )
    for name in {"conda.yaml", "python_env.yaml", "requirements.txt"} - {kept}:
        (model / name).unlink()

    report = check_format(model, "mlflow")

    assert report.passed is True
    assert report.details["environment"] == [kept]


def test_an_unknown_flavor_fails(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", flavors_extra="  my_flavor:\n    x: 1")

    assert check_format(model, "mlflow") == mlflow_failure(
        "MLmodel flavors my_flavor is not known MLflow flavors: use a built-in flavor "
        "(python_function, sklearn, onnx, ...)",
        flavors=["my_flavor", "python_function", "sklearn"],
    )


def test_a_missing_signature_fails_only_when_required(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", inputs=None)

    assert check_format(model, "mlflow").passed is True
    assert check_format(model, "mlflow", require_signature=True) == mlflow_failure(
        "MLmodel has no signature (a model without a schema), and the Model's policy requires "
        "one: log the model with signature=infer_signature(X, y)",
        signature=False,
    )


def test_a_signature_column_missing_from_the_spec_is_named(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    declared = ModelSignature(
        inputs=(Column("x", "float64"), Column("y", "double"), Column("w", "float64")),
        outputs=SPEC.outputs,
    )
    first = (
        "spec.signature.inputs[2] declares 'w', which the MLmodel signature's inputs does not "
        f"have (it has x, y, z): {AGREE}"
    )
    second = (
        "the MLmodel signature's inputs has 'z', which spec.signature.inputs does not declare: "
        f"{AGREE}"
    )

    assert check_format(model, "mlflow", declared=declared) == mlflow_failure(
        f"{first} (and 1 more: see details.problems)", problems=[first, second]
    )


def test_a_column_type_that_disagrees_is_named(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    declared = ModelSignature(
        inputs=(Column("x", "float64"), Column("y", "float32"), Column("z", "float64")),
        outputs=(),
    )

    assert check_format(model, "mlflow", declared=declared) == mlflow_failure(
        "'y' is double in the MLmodel signature's inputs but float32 in "
        f"spec.signature.inputs[1]: {AGREE}"
    )


def test_an_output_type_that_disagrees_is_named(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    declared = ModelSignature(inputs=SPEC.inputs, outputs=(Column("label", "string"),))

    assert check_format(model, "mlflow", declared=declared) == mlflow_failure(
        "'label' is long in the MLmodel signature's outputs but string in "
        f"spec.signature.outputs[0]: {AGREE}"
    )


def test_tensor_signatures_compare_shapes(tmp_path: Path) -> None:
    tensor = [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]
    model = sklearn_mlflow_model(tmp_path / "model", inputs=tensor)
    same = ModelSignature(inputs=(Column("features", "double", (-1, 3)),), outputs=())
    other = ModelSignature(inputs=(Column("features", "float64", (-1, 4)),), outputs=())

    assert check_format(model, "mlflow", declared=same).passed is True
    assert check_format(model, "mlflow", declared=other) == mlflow_failure(
        "'features' has shape [-1, 3] in the MLmodel signature's inputs but [-1, 4] in "
        f"spec.signature.inputs[0]: {AGREE}"
    )


def test_a_signature_that_is_not_json_is_named(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    text = (model / "MLmodel").read_text().replace(json.dumps(INPUTS), "[{oops")
    (model / "MLmodel").write_text(text)

    assert check_format(model, "mlflow") == mlflow_failure(
        "MLmodel signature.inputs is not valid JSON (Expecting property name enclosed in double "
        "quotes: line 1 column 3 (char 2))",
        signature=False,
    )


@pytest.mark.parametrize(
    ("mlmodel", "message"),
    [
        ("flavors: [", "MLmodel is not valid YAML (while parsing a flow node)"),
        ("- a list\n", "MLmodel must be a YAML mapping with a 'flavors' key"),
        ("artifact_path: model\n", "MLmodel has no flavors: it must name at least one flavor"),
        ("flavors: {}\n", "MLmodel has no flavors: it must name at least one flavor"),
    ],
)
def test_a_broken_mlmodel_is_named(tmp_path: Path, mlmodel: str, message: str) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "MLmodel").write_text(mlmodel)

    assert check_format(model, "mlflow") == Report("format", False, "mlflow", None, message)


def test_a_directory_without_mlmodel_is_not_mlflow(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "MLmodel").unlink()

    assert check_format(model, "mlflow") == Report(
        "format",
        False,
        "mlflow",
        None,
        "the artifact has no MLmodel file at its top level, so it is not an MLflow model: "
        "upload the directory mlflow.<flavor>.save_model wrote, or declare the right "
        "spec.artifact.format",
    )


def test_a_single_file_is_not_an_mlflow_model(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({}))

    assert check_format(path, "mlflow").message == (
        "model.pkl is a single file, but an MLflow model is a directory holding an MLmodel "
        "file: upload the whole model directory (a prefix)"
    )


# ---------------------------------------------------------------- ONNX

ONNX_DETAILS = {
    "file": "linear.onnx",
    "inputs": [{"name": "X", "dtype": "float32", "shape": [-1, 3]}],
    "outputs": [{"name": "Y", "dtype": "float32", "shape": [-1, 2]}],
}


def test_an_onnx_model_passes(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    declared = ModelSignature(
        inputs=(Column("X", "float32", (-1, 3)),), outputs=(Column("Y", "float", (-1, 2)),)
    )

    assert check_format(path, "onnx", declared=declared, require_signature=True) == Report(
        "format", True, "onnx", None, "linear.onnx passes onnx.checker", ONNX_DETAILS
    )


def test_an_onnx_file_in_a_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "model" / "sub").mkdir(parents=True)
    onnx_linear_model(tmp_path / "model" / "sub" / "linear.onnx")

    report = check_format(tmp_path / "model", "onnx")

    assert report.message == "sub/linear.onnx passes onnx.checker"


def test_an_onnx_signature_that_disagrees_is_named(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    declared = ModelSignature(inputs=(Column("X", "float64", (-1, 3)),), outputs=())

    assert check_format(path, "onnx", declared=declared) == Report(
        "format",
        False,
        "onnx",
        None,
        "'X' is float32 in the ONNX graph of linear.onnx's inputs but float64 in "
        f"spec.signature.inputs[0]: {AGREE}",
        ONNX_DETAILS,
    )


@pytest.mark.parametrize("content", [b"garbage", b""])
def test_a_broken_onnx_file_fails(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(Exception) as raised:  # the checker's own wording is expected
        onnx.checker.check_model(str(path))
    reason = str(raised.value).strip().splitlines()[0]

    assert check_format(path, "onnx") == Report(
        "format", False, "onnx", None, f"broken.onnx does not pass onnx.checker ({reason})"
    )


def test_an_onnx_graph_that_fails_the_checker(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    model = onnx.load(str(path))
    model.graph.node[0].op_type = "NoSuchOp"
    onnx.save(model, str(path))

    report = check_format(path, "onnx")

    assert report.passed is False
    assert report.message.startswith("linear.onnx does not pass onnx.checker (")
    assert "NoSuchOp" in report.message


def test_a_directory_without_onnx_files_fails(tmp_path: Path) -> None:
    assert check_format(tmp_path, "onnx") == Report(
        "format", False, "onnx", None, "the artifact directory holds no ONNX file (.onnx)"
    )


def test_two_onnx_files_are_ambiguous(tmp_path: Path) -> None:
    onnx_linear_model(tmp_path / "a.onnx")
    onnx_linear_model(tmp_path / "b.onnx")

    assert check_format(tmp_path, "onnx").message == (
        "the artifact directory holds 2 ONNX files (a.onnx, b.onnx): point the check at one of them"
    )


# ---------------------------------------------------------------- safetensors


def test_a_good_safetensors_file_passes(tmp_path: Path) -> None:
    path = safetensors_file(
        tmp_path / "model.safetensors",
        {"w": ("F32", [2, 2], f32(1, 2, 3, 4)), "b": ("F32", [2], f32(0, 1))},
    )

    assert check_format(path, "safetensors") == Report(
        "format",
        True,
        "safetensors",
        None,
        "the artifact is a well-formed safetensors model",
        {"files": 1, "tensors": 2},
    )


def test_sharded_safetensors_in_a_directory_are_all_checked(tmp_path: Path) -> None:
    safetensors_file(tmp_path / "a.safetensors", {"w": ("F16", [3], b"\x00" * 6)})
    safetensors_file(tmp_path / "b.safetensors", {"v": ("I64", [1], b"\x01" * 8)})
    safetensors_file(tmp_path / "c.safetensors", {"u": ("F32", [2], f32(1))}, offsets={"u": [0, 8]})

    assert check_format(tmp_path, "safetensors") == Report(
        "format",
        False,
        "safetensors",
        None,
        "c.safetensors: tensor 'u' ends at byte 8 of the data, past its end (4 bytes): the "
        "file is truncated or its header is wrong",
    )


@pytest.mark.parametrize(
    ("tensors", "offsets", "message"),
    [
        (
            {"w": ("F32", [2], f32(1, 2))},
            {"w": [0, 12]},
            "model.safetensors: tensor 'w' ends at byte 12 of the data, past its end (8 bytes): "
            "the file is truncated or its header is wrong",
        ),
        (
            {"w": ("F32", [3], f32(1, 2))},
            None,
            "model.safetensors: tensor 'w' spans 8 bytes, but dtype F32 and shape [3] need 12",
        ),
        (
            {"w": ("F32", [1], f32(1)), "v": ("F32", [1], f32(2))},
            {"v": [0, 4]},
            "model.safetensors: tensors 'v' and 'w' overlap",
        ),
        (
            {"w": ("F32", [1], f32(1)), "v": ("F32", [1], f32(2))},
            {"w": [4, 8], "v": [4, 8]},
            "model.safetensors: bytes 0..4 of the data belong to no tensor (before 'v')",
        ),
        (
            {"w": ("F32", [1], f32(1) + f32(2))},
            {"w": [0, 4]},
            "model.safetensors: the tensors cover 4 bytes of data but the file holds 8",
        ),
        (
            {"w": ("F33", [1], f32(1))},
            None,
            "model.safetensors: tensor 'w' has an unknown dtype 'F33'",
        ),
        (
            {"w": ("F32", [-1], f32(1))},
            None,
            "model.safetensors: tensor 'w' has a shape that is not a list of sizes: [-1]",
        ),
        (
            {"w": ("F32", [1], f32(1))},
            {"w": [4, 0]},
            "model.safetensors: tensor 'w' begins at byte 4, after its end 0",
        ),
        (
            {"w": ("F32", [1], f32(1))},
            {"w": [0]},
            "model.safetensors: tensor 'w' has data_offsets that are not [begin, end]: [0]",
        ),
    ],
)
def test_bad_safetensors_headers_are_named(
    tmp_path: Path,
    tensors: dict[str, tuple[str, list[int], bytes]],
    offsets: dict[str, list[int]] | None,
    message: str,
) -> None:
    path = safetensors_file(tmp_path / "model.safetensors", tensors, offsets=offsets)

    assert check_format(path, "safetensors") == Report(
        "format", False, "safetensors", None, message
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x05\x00",
            "model.safetensors is 2 bytes, shorter than the 8-byte header length of a "
            "safetensors file",
        ),
        (
            (100).to_bytes(8, "little") + b"{}",
            "model.safetensors: the header length in its first 8 bytes (100) runs past the end of "
            "the file (10 bytes): the file is truncated or not safetensors",
        ),
        (
            (3).to_bytes(8, "little") + b"{x}",
            "model.safetensors: the header is not JSON (Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1))",
        ),
        (
            (2).to_bytes(8, "little") + b"[]",
            "model.safetensors: the header must be a JSON object of tensors",
        ),
        (
            (26).to_bytes(8, "little") + b'{"__metadata__": {"a": 1}}',
            "model.safetensors: __metadata__ must map strings to strings",
        ),
        (
            (8).to_bytes(8, "little") + b'{"w": 1}',
            "model.safetensors: tensor 'w' must be an object with dtype, shape and data_offsets",
        ),
    ],
)
def test_unreadable_safetensors_are_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)

    assert check_format(path, "safetensors") == Report(
        "format", False, "safetensors", None, message
    )


def test_safetensors_need_a_declared_signature_when_required(tmp_path: Path) -> None:
    path = safetensors_file(tmp_path / "m.safetensors", {"w": ("F32", [1], f32(1))})

    assert check_format(path, "safetensors", require_signature=True).message == (
        "a safetensors artifact carries no signature of its own and spec.signature declares no "
        "inputs, but the Model's policy requires a signature: declare spec.signature.inputs"
    )
    assert check_format(path, "safetensors", declared=SPEC, require_signature=True).passed


# ---------------------------------------------------------------- pickle, joblib, skops, other


def test_a_pickle_passes_without_being_loaded(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted_logistic_regression()))

    assert check_format(path, "pickle") == Report(
        "format",
        True,
        "pickle",
        None,
        "the artifact is a well-formed pickle model",
        {"file": "model.pkl", "serialization": "pickle", "modules": ["numpy", "sklearn"]},
    )


class RunsACommand:
    def __reduce__(self) -> tuple[object, tuple[str, ...]]:
        return (subprocess.run, ("true",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_the_modules_a_pickle_would_import_are_listed(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps([RunsACommand(), Path("x"), {"k": "numpy"}], protocol=protocol))

    assert pickle_modules(path) == ["pathlib", "subprocess"]


def test_a_truncated_pickle_fails(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pkl").write_bytes(pickle.dumps([1, 2, 3])[:-1])

    assert check_format(tmp_path / "model", "pickle") == Report(
        "format",
        False,
        "pickle",
        None,
        "model.pkl is not a valid pickle stream (pickle exhausted before seeing STOP): the file "
        "is corrupt or truncated; save the model again",
    )


def test_joblib_and_skops_files(tmp_path: Path) -> None:
    import joblib
    import skops.io

    model = fitted_logistic_regression()
    joblib.dump(model, tmp_path / "model.joblib", compress=3)
    skops.io.dump(model, tmp_path / "model.skops")
    (tmp_path / "bad.joblib").write_bytes(b"hello")

    assert check_format(tmp_path / "model.joblib", "joblib").details == {
        "file": "model.joblib",
        "serialization": "joblib",
    }
    assert check_format(tmp_path / "model.skops", "pickle").details == {
        "file": "model.skops",
        "serialization": "skops",
    }
    assert check_format(tmp_path / "bad.joblib", "joblib").message == (
        "bad.joblib starts with neither a pickle header nor a joblib compression header: it is "
        "not a joblib file"
    )


def test_formats_without_a_built_in_check_pass_unchecked(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF")

    assert check_format(tmp_path / "model.gguf", "gguf") == Report(
        "format",
        True,
        "gguf",
        None,
        "format gguf has no built-in structural check; nothing was checked",
        {"checked": False},
    )


def test_a_flavor_that_is_not_a_mapping_is_named(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", flavors_extra="  onnx: model.onnx")

    assert check_format(model, "mlflow") == mlflow_failure(
        "MLmodel flavors.onnx must be a mapping", flavors=["onnx", "python_function", "sklearn"]
    )


def test_an_env_given_as_one_file_is_checked(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    text = (model / "MLmodel").read_text()
    text = text.replace(
        "    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n",
        "    env: env.yaml\n",
    )
    (model / "MLmodel").write_text(text)

    assert check_format(model, "mlflow") == mlflow_failure(
        "MLmodel names env.yaml (flavors.python_function.env), which is missing from the "
        "artifact: upload the complete model directory",
        files=["input_example.json", "model.pkl"],
    )


def test_a_skops_serialized_mlflow_model(tmp_path: Path) -> None:
    import skops.io

    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "MLmodel").write_text((model / "MLmodel").read_text().replace("cloudpickle", "skops"))
    skops.io.dump(fitted_logistic_regression(), model / "model.pkl")

    assert check_format(model, "mlflow").passed is True

    (model / "model.pkl").write_bytes(pickle.dumps(1))
    assert check_format(model, "mlflow") == mlflow_failure(
        "MLmodel names model.pkl (flavors.sklearn.pickled_model), which is not a valid skops "
        "(zip) archive (File is not a zip file)"
    )


def test_an_onnx_flavor_in_mlflow_layout_is_checked(tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    (root / "model.onnx").write_bytes(b"")
    (root / "MLmodel").write_text("flavors:\n  onnx:\n    data: model.onnx\n")
    (root / "requirements.txt").write_text("onnx\n")
    with pytest.raises(Exception) as raised:  # the checker's own wording is expected
        onnx.checker.check_model(str(root / "model.onnx"))
    reason = str(raised.value).strip().splitlines()[0]

    assert check_format(root, "mlflow") == Report(
        "format",
        False,
        "mlflow",
        None,
        f"MLmodel names model.onnx (flavors.onnx.data), which does not pass onnx.checker "
        f"({reason})",
        {
            "flavors": ["onnx"],
            "files": ["model.onnx"],
            "environment": ["requirements.txt"],
            "signature": False,
        },
    )


def test_a_directory_without_safetensors_fails(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")

    assert check_format(tmp_path, "safetensors").message == (
        "the artifact directory holds no .safetensors file"
    )


def test_a_zip_without_schema_is_not_skops(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "model.skops", "w") as archive:
        archive.writestr("other.json", "{}")

    assert check_format(tmp_path / "model.skops", "pickle").message == (
        "model.skops is a zip archive without schema.json, so not a skops file"
    )
