#!/usr/bin/env bash
# Run the integration suite against a kind cluster instead of the local
# control plane. Needs a running Docker engine (kind runs nodes as containers).
set -euo pipefail
cd "$(dirname "$0")/.."

KIND_VERSION="${KIND_VERSION:-v0.33.0}"
CACHE_ROOT="${MODELREGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelregistry}"
CLUSTER_NAME="${KIND_CLUSTER_NAME:-modelregistry-e2e}"

if ! docker info >/dev/null 2>&1; then
  echo "e2e-kind: no Docker engine answers 'docker info'; use 'make test' (local control plane) instead" >&2
  exit 1
fi

kind="$CACHE_ROOT/kind-$KIND_VERSION/kind"
if [[ ! -x "$kind" ]]; then
  GOBIN="$(dirname "$kind")" CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION"
fi

work=$(mktemp -d)
export KUBECONFIG="$work/kubeconfig"
"$kind" create cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG" --wait 120s
trap '"$kind" delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG"; rm -rf "$work"' EXIT

# The operator and the S3 server run on this host; the cluster only stores objects.
MODELREGISTRY_TEST_USE_KUBECONFIG=1 .venv/bin/python -m pytest tests/integration "$@"
