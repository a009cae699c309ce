#!/usr/bin/env bash
# KServe's own CRDs (ClusterStorageContainer, InferenceService), against which
# the tests validate the chart's and examples/serving's KServe manifests
# server-side. Taken from the Go module github.com/kserve/kserve at a pinned
# version (its config/crd/full), through the Go module proxy, and cached in
# ~/.cache/modelregistry/kserve-crds-<version>; prints nothing when cached.
#
# Usage: hack/fetch-kserve-crds.sh
set -euo pipefail

KSERVE_VERSION="${KSERVE_VERSION:-v0.17.0}"
CACHE_ROOT="${MODELREGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelregistry}"
OUT="$CACHE_ROOT/kserve-crds-$KSERVE_VERSION"
FILES=(
  config/crd/full/clusterstoragecontainer/serving.kserve.io_clusterstoragecontainers.yaml
  config/crd/full/serving.kserve.io_inferenceservices.yaml
)

complete() {
  local file
  for file in "${FILES[@]}"; do [[ -s "$OUT/$(basename "$file")" ]] || return 1; done
}
complete && exit 0
command -v go >/dev/null || { echo "fetch-kserve-crds: Go is needed (go mod download)" >&2; exit 1; }

echo "fetch-kserve-crds: github.com/kserve/kserve@$KSERVE_VERSION from the Go module proxy" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zip=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" \
  | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",$/\1/p')
[[ -f "$zip" ]] || { echo "fetch-kserve-crds: no module zip for kserve@$KSERVE_VERSION" >&2; exit 1; }
mkdir -p "$OUT"
python3 - "$zip" "github.com/kserve/kserve@$KSERVE_VERSION" "$OUT" "${FILES[@]}" <<'PY'
import pathlib, sys, zipfile
archive, root, out, *files = sys.argv[1:]
with zipfile.ZipFile(archive) as module:
    for name in files:
        pathlib.Path(out, pathlib.PurePosixPath(name).name).write_bytes(module.read(f"{root}/{name}"))
PY
complete
