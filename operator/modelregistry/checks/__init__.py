"""Built-in validation checks: `modelregistry validate format|metrics|loadAndPredict`.

Each check runs the same in a locked-down validation Pod and on a laptop
against a local file or directory. Its exit code is the verdict (0 passed,
1 failed, 2 usage or bad input) and its report is a small JSON object
(`report.Report`, docs/validation.md) bounded to the 4 KiB that Kubernetes
keeps of a termination message.

`report` and `thresholds` are pure (standard library and pydantic only): the
operator imports them. The other modules import numpy, scikit-learn, onnx and
onnxruntime inside the functions that need them.
"""
