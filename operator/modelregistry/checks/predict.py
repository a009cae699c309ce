"""The `loadAndPredict` check: load the model, predict once, check the output, time it.

Loads a scikit-learn model (MLflow sklearn flavor, pickle, joblib or skops)
or an ONNX model (onnxruntime), predicts on the MLflow input example or on
input generated from the signature, checks the output against the output
signature, then measures p50/p95 latency over N more calls.

Loading a pickle runs the artifact's code: this check belongs in the
locked-down validation Pod, never in the operator.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelregistry.checks.common import (
    MLMODEL,
    ArtifactProblem,
    UsageError,
    import_optional,
    mlflow_root,
    named_file,
    read_mlmodel,
    single_file,
)
from modelregistry.checks.report import Report
from modelregistry.checks.signature import (
    Column,
    ModelSignature,
    SignatureError,
    parse_mlflow_signature,
    shapes_agree,
)

CHECK = "loadAndPredict"
DEFAULT_CALLS = 20
# Rows of generated input.
GENERATED_ROWS = 5
# Which numpy dtype kinds an output declared with each canonical dtype may have.
_OUTPUT_KINDS = {
    "float64": "fiu",
    "float32": "fiu",
    "float16": "fiu",
    "int64": "iu",
    "int32": "iu",
    "int16": "iu",
    "int8": "iu",
    "uint64": "u",
    "uint32": "u",
    "uint16": "u",
    "uint8": "u",
    "bool": "b",
    "string": "OUS",
    "bytes": "OS",
}
# onnxruntime's input types, as canonical dtypes.
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint64)": "uint64",
    "tensor(uint32)": "uint32",
    "tensor(uint16)": "uint16",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "string",
}


@dataclass
class _Model:
    """A loaded model behind one call, with what is known of its signature."""

    loader: str  # "scikit-learn" or "onnxruntime"
    file: str  # the file, and where MLmodel names it
    predict: Callable[[Any], list[tuple[str, Any]]]
    inputs: tuple[Column, ...]  # used to generate input when there is no example
    outputs: tuple[Column, ...]  # what the output is checked against
    example: Path | None = None
    # Class probabilities and their classes (None: unknown), where the model gives them.
    probabilities: Callable[[Any], tuple[Any, list[Any] | None]] | None = None


def check_load_and_predict(
    artifact: Path,
    fmt: str,
    *,
    declared: ModelSignature | None = None,
    calls: int = DEFAULT_CALLS,
    max_p95_ms: float | None = None,
) -> Report:
    """Run loadAndPredict on a local file or directory. UsageError for bad input."""
    if calls < 1:
        raise UsageError(f"--calls must be at least 1, not {calls}")
    np = import_optional("numpy", "numpy", CHECK)
    try:
        model = _load(artifact, fmt, declared)
        feed, source, rows = _input(model, np)
        outputs = _call(model, feed, source)
        problems = _output_problems(outputs, model.outputs, rows, np)
        if problems:
            raise ArtifactProblem(
                f"the prediction on {source} does not match the output signature: "
                + "; ".join(problems)
            )
        p50, p95 = _latency(model, feed, calls)
    except ArtifactProblem as problem:
        return Report(CHECK, False, None, max_p95_ms, str(problem))
    first = np.asarray(outputs[0][1])
    details: dict[str, Any] = {
        "loader": model.loader,
        "file": model.file,
        "input": source,
        "rows": rows,
        "outputShape": list(first.shape),
        "outputDtype": str(first.dtype),
        "calls": calls,
        "p50Ms": p50,
        "p95Ms": p95,
    }
    summary = (
        f"{model.file} loaded with {model.loader} and predicted {rows} rows from {source}; "
        f"latency over {calls} calls: p50 {p50} ms, p95 {p95} ms"
    )
    if max_p95_ms is not None and p95 > max_p95_ms:
        return Report(
            CHECK,
            False,
            p95,
            max_p95_ms,
            f"p95 latency {p95} ms over {calls} calls exceeds the threshold of {max_p95_ms} ms "
            f"({summary})",
            details,
        )
    return Report(CHECK, True, p95, max_p95_ms, summary, details)


# ---------------------------------------------------------------- loading


def _load(artifact: Path, fmt: str, declared: ModelSignature | None) -> _Model:
    declared_inputs = declared.inputs if declared else ()
    declared_outputs = declared.outputs if declared else ()
    if fmt == "mlflow":
        return _load_mlflow(artifact, declared_inputs, declared_outputs)
    if fmt == "onnx":
        path = single_file(artifact, (".onnx",), "ONNX")
        return _load_onnx(path, _name(artifact, path), declared_inputs, declared_outputs)
    if fmt in ("pickle", "joblib", "other"):
        suffixes = (".pkl", ".pickle", ".joblib", ".skops")
        path = single_file(artifact, suffixes, "scikit-learn model")
        return _load_sklearn(
            path,
            _name(artifact, path),
            _serialization(path, fmt),
            declared_inputs,
            declared_outputs,
        )
    raise UsageError(
        f"loadAndPredict loads scikit-learn (MLflow sklearn flavor, pickle, joblib, skops) and "
        f"ONNX models, not format {fmt}"
    )


def _name(artifact: Path, path: Path) -> str:
    return path.name if path == artifact else path.relative_to(artifact).as_posix()


def _serialization(path: Path, fmt: str) -> str:
    import zipfile

    if zipfile.is_zipfile(path):
        return "skops"
    return "joblib" if fmt == "joblib" or path.suffix == ".joblib" else "pickle"


def _load_mlflow(
    artifact: Path, declared_inputs: tuple[Column, ...], declared_outputs: tuple[Column, ...]
) -> _Model:
    root = mlflow_root(artifact)
    mlmodel = read_mlmodel(root)
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict):
        raise ArtifactProblem(f"{MLMODEL} has no flavors: it must name at least one flavor")
    try:
        signature = parse_mlflow_signature(mlmodel)
    except SignatureError as error:
        raise ArtifactProblem(str(error)) from None
    inputs = signature.inputs if signature else declared_inputs
    outputs = signature.outputs if signature and signature.outputs else declared_outputs
    example = None
    info = mlmodel.get("saved_input_example_info")
    if isinstance(info, dict) and info.get("artifact_path") is not None:
        example = named_file(root, info["artifact_path"], "saved_input_example_info.artifact_path")
    if isinstance(flavors.get("sklearn"), dict):
        config = flavors["sklearn"]
        where = "flavors.sklearn.pickled_model"
        path = named_file(root, config.get("pickled_model"), where)
        serialization = config.get("serialization_format", "cloudpickle")
        loaded = _load_sklearn(
            path,
            f"{config['pickled_model']} ({where})",
            "skops" if serialization == "skops" else "pickle",
            inputs,
            outputs,
        )
    elif isinstance(flavors.get("onnx"), dict):
        where = "flavors.onnx.data"
        path = named_file(root, flavors["onnx"].get("data"), where)
        loaded = _load_onnx(path, f"{flavors['onnx']['data']} ({where})", inputs, outputs)
    else:
        raise ArtifactProblem(
            f"{MLMODEL} has no flavor this check can load (sklearn or onnx); it has "
            f"{', '.join(sorted(str(f) for f in flavors))}: use a custom check for this model"
        )
    loaded.example = example
    return loaded


def _load_sklearn(
    path: Path,
    name: str,
    serialization: str,
    inputs: tuple[Column, ...],
    outputs: tuple[Column, ...],
) -> _Model:
    import_optional("sklearn", "scikit-learn", CHECK)
    try:
        if serialization == "skops":
            sio = import_optional("skops.io", "skops", CHECK)
            # Trusted because this runs in the locked-down Pod, like a pickle does.
            model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        elif serialization == "joblib":
            joblib = import_optional("joblib", "joblib", CHECK)
            model = joblib.load(path)
        else:
            import pickle

            with path.open("rb") as stream:
                model = pickle.load(stream)  # noqa: S301 - the point of this check, in its Pod
    except UsageError:
        raise
    except Exception as error:  # unpickling raises anything the artifact's code raises
        raise ArtifactProblem(
            f"{name} could not be loaded with {serialization} "
            f"({type(error).__name__}: {_first_line(error)}): the file is corrupt, truncated, "
            f"or needs other library versions than this image has"
        ) from None
    if not callable(getattr(model, "predict", None)):
        raise ArtifactProblem(f"{name} holds a {type(model).__name__}, which has no predict method")
    if not inputs and isinstance(getattr(model, "n_features_in_", None), int):
        inputs = tuple(Column(f"x{i}", "float64") for i in range(model.n_features_in_))

    def predict(feed: Any) -> list[tuple[str, Any]]:
        return [("predict", model.predict(feed))]

    loaded = _Model(f"scikit-learn ({type(model).__name__})", name, predict, inputs, outputs)
    classes = getattr(model, "classes_", None)
    if callable(getattr(model, "predict_proba", None)) and classes is not None:

        def probabilities(feed: Any) -> tuple[Any, list[Any] | None]:
            return model.predict_proba(feed), list(getattr(classes, "tolist", lambda: classes)())

        loaded.probabilities = probabilities
    return loaded


def _load_onnx(
    path: Path,
    name: str,
    inputs: tuple[Column, ...],
    outputs: tuple[Column, ...],
) -> _Model:
    ort = import_optional("onnxruntime", "onnxruntime", CHECK)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types
        raise ArtifactProblem(
            f"{name} could not be loaded with onnxruntime ({_first_line(error)})"
        ) from None
    session_inputs = tuple(
        Column(i.name, _ORT_TYPES.get(i.type, i.type), _dims(i.shape)) for i in session.get_inputs()
    )
    session_outputs = tuple(
        Column(o.name, _ORT_TYPES.get(o.type, o.type), _dims(o.shape))
        for o in session.get_outputs()
    )
    names = [o.name for o in session.get_outputs()]

    def predict(feed: Any) -> list[tuple[str, Any]]:
        return list(zip(names, session.run(None, feed), strict=True))

    # The session knows the graph's exact inputs; a declared signature checks the outputs.
    loaded = _Model("onnxruntime", name, predict, session_inputs, outputs or session_outputs)
    # A converted classifier (skl2onnx) gives its label first, then its probabilities.
    found = [n for n in names[1:] if "prob" in n.lower()]
    if found:
        wanted = found[0]

        def probabilities(feed: Any) -> tuple[Any, list[Any] | None]:
            (scores,) = session.run([wanted], feed)
            if isinstance(scores, list) and scores and isinstance(scores[0], dict):
                classes = sorted(scores[0])  # ZipMap: one {class: probability} per row
                return [[row[c] for c in classes] for row in scores], classes
            return scores, None

        loaded.probabilities = probabilities
    return loaded


def _dims(shape: Sequence[object] | None) -> tuple[int, ...] | None:
    if shape is None:
        return None
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in shape)


# ---------------------------------------------------------------- input


def _input(model: _Model, np: Any) -> tuple[Any, str, int]:
    """The feed for the model, where it came from, and its number of rows."""
    if model.example is not None:
        feed, rows = _example(model, model.example, np)
        return feed, model.example.name, rows
    if not model.inputs:
        raise ArtifactProblem(
            "there is no input example and no input signature to generate input from: log the "
            "model with an input example or a signature, or declare spec.signature.inputs"
        )
    rng = np.random.default_rng(0)
    if model.loader == "onnxruntime":
        feed = {str(c.name): _generated(c, rng, np) for c in model.inputs}
        return feed, "input generated from the signature", _rows(next(iter(feed.values())))
    if len(model.inputs) == 1 and model.inputs[0].shape is not None:
        array = _generated(model.inputs[0], rng, np)
        return array, "input generated from the signature", _rows(array)
    columns = [_generated(Column(c.name, c.dtype, (-1,)), rng, np) for c in model.inputs]
    table = np.column_stack(columns)
    return table, "input generated from the signature", GENERATED_ROWS


def _generated(column: Column, rng: Any, np: Any) -> Any:
    shape = tuple(GENERATED_ROWS if d == -1 else d for d in (column.shape or (-1,)))
    dtype = column.canonical_dtype
    if dtype.startswith(("float", "bfloat")):
        return rng.standard_normal(shape).astype("float32" if dtype == "bfloat16" else dtype)
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 4, size=shape).astype(dtype)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype == "string":
        return np.full(shape, "a", dtype=object)
    raise ArtifactProblem(
        f"cannot generate input for {column.name!r} of type {column.dtype}: log the model "
        f"with an input example"
    )


def _rows(array: Any) -> int:
    return int(array.shape[0]) if getattr(array, "ndim", 0) else 1


def _example(model: _Model, path: Path, np: Any) -> tuple[Any, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactProblem(f"the input example {path.name} is not JSON ({error})") from None
    if isinstance(data, dict) and isinstance(data.get("dataframe_split"), dict):
        data = data["dataframe_split"]
    if isinstance(data, dict) and "inputs" in data:
        data = data["inputs"]
    elif isinstance(data, dict) and "instances" in data:
        data = data["instances"]
    try:
        if isinstance(data, dict) and "columns" in data and "data" in data:
            table = np.asarray(data["data"])
            if model.loader == "onnxruntime":
                return _onnx_feed(model, {str(model.inputs[0].name): table}, np)
            return table, _rows(table)
        if isinstance(data, dict):
            if model.loader == "onnxruntime":
                return _onnx_feed(model, data, np)
            raise ArtifactProblem(
                f"the input example {path.name} holds named tensors, which a scikit-learn "
                f"model cannot take: log a dataframe or array example"
            )
        if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            columns = list(data[0])
            table = np.asarray([[r.get(c) for c in columns] for r in data])
            if model.loader == "onnxruntime":
                return _onnx_feed(model, {str(model.inputs[0].name): table}, np)
            return table, _rows(table)
        array = np.asarray(data)
    except (ValueError, TypeError) as error:
        raise ArtifactProblem(
            f"the input example {path.name} is not a table or array ({error})"
        ) from None
    if model.loader == "onnxruntime":
        return _onnx_feed(model, {str(model.inputs[0].name): array}, np)
    return array, _rows(array)


def _onnx_feed(model: _Model, named: dict[str, Any], np: Any) -> tuple[dict[str, Any], int]:
    dtypes = {str(c.name): c.canonical_dtype for c in model.inputs}
    missing = sorted(set(dtypes) - set(named))
    if missing:
        raise ArtifactProblem(f"the input example has no value for the ONNX input {missing[0]!r}")
    feed = {}
    for name, value in named.items():
        dtype = dtypes.get(name)
        feed[name] = np.asarray(value, dtype=object if dtype in (None, "string") else dtype)
    return feed, _rows(next(iter(feed.values())))


# ---------------------------------------------------------------- predicting


def _call(model: _Model, feed: Any, source: str) -> list[tuple[str, Any]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.predict(feed)
    except Exception as error:  # the model's own code raises anything
        raise ArtifactProblem(
            f"{model.file} failed to predict on {source} "
            f"({type(error).__name__}: {_first_line(error)})"
        ) from None


def _output_problems(
    outputs: list[tuple[str, Any]], declared: tuple[Column, ...], rows: int, np: Any
) -> list[str]:
    arrays = [(name, np.asarray(value)) for name, value in outputs]
    problems = []
    for name, array in arrays:
        if array.ndim == 0 or array.shape[0] != rows:
            problems.append(
                f"output {name!r} has shape {list(array.shape)}, not one row per input row ({rows})"
            )
    if not declared:
        return problems
    if len(arrays) == 1 and len(declared) > 1:
        # Column outputs of a table model: one 2-D prediction, one column per output.
        name, array = arrays[0]
        if array.ndim != 2 or array.shape[1] != len(declared):
            problems.append(
                f"the signature declares {len(declared)} output columns but the prediction has "
                f"shape {list(array.shape)}"
            )
        pairs = [(c, name, array) for c in declared]
    else:
        by_name = dict(arrays)
        if all(c.name in by_name for c in declared):
            pairs = [(c, str(c.name), by_name[str(c.name)]) for c in declared]
        elif len(declared) == len(arrays):
            pairs = [(c, n, a) for c, (n, a) in zip(declared, arrays, strict=True)]
        else:
            return [
                *problems,
                f"the signature declares {len(declared)} outputs but the model returned "
                f"{len(arrays)}",
            ]
    for column, name, array in pairs:
        label = repr(column.name) if column.name else f"output {name!r}"
        kinds = _OUTPUT_KINDS.get(column.canonical_dtype)
        if kinds is not None and array.dtype.kind not in kinds:
            problems.append(
                f"{label} is declared {column.dtype} but the model returned {array.dtype}"
            )
        if column.shape is not None and not shapes_agree(array.shape, column.shape):
            problems.append(
                f"{label} is declared with shape {list(column.shape)} but the model returned "
                f"{list(array.shape)}"
            )
    return problems


def _latency(model: _Model, feed: Any, calls: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds (nearest rank) over `calls` predictions."""
    timings = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in range(calls):
            start = time.perf_counter()
            try:
                model.predict(feed)
            except Exception as error:  # the model's own code raises anything
                raise ArtifactProblem(
                    f"{model.file} failed on timed call {call + 1} of {calls} "
                    f"({type(error).__name__}: {_first_line(error)})"
                ) from None
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return round(percentile(timings, 50), 3), round(percentile(timings, 95), 3)


# ---------------------------------------------------------------- for the compare check

LoadedModel = _Model


def load_model(artifact: Path, fmt: str, declared: ModelSignature | None = None) -> LoadedModel:
    """Load a model as this check does; ArtifactProblem or UsageError when it cannot be."""
    return _load(artifact, fmt, declared)


def call_model(model: LoadedModel, feed: Any, source: str) -> list[tuple[str, Any]]:
    """One prediction; ArtifactProblem, naming `source`, when the model's code fails."""
    return _call(model, feed, source)


def onnx_feed(model: LoadedModel, named: dict[str, Any], np: Any) -> dict[str, Any]:
    """Named inputs cast to the ONNX graph's input types."""
    return _onnx_feed(model, named, np)[0]


def percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
