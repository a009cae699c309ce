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

# The chart's in-cluster test (tests/integration/test_chart_install.py) needs
# the operator's image on the kind node and an address of this machine that
# the cluster's Pods reach (the kind network's IPv4 gateway), where the test
# forwards to the S3 server. Without them that test is skipped, with the reason.
if [[ -z "${MODELREGISTRY_TEST_OPERATOR_IMAGE:-}" ]]; then
  export MODELREGISTRY_TEST_OPERATOR_IMAGE=localhost/modelregistry/operator:e2e
  docker build -q -t "$MODELREGISTRY_TEST_OPERATOR_IMAGE" . >/dev/null
  "$kind" load docker-image --name "$CLUSTER_NAME" "$MODELREGISTRY_TEST_OPERATOR_IMAGE"
fi
if [[ -z "${MODELREGISTRY_TEST_POD_HOST_ADDRESS:-}" ]]; then
  MODELREGISTRY_TEST_POD_HOST_ADDRESS=$(docker network inspect kind \
    --format '{{range .IPAM.Config}}{{println .Gateway}}{{end}}' | grep -m1 -F . || true)
  export MODELREGISTRY_TEST_POD_HOST_ADDRESS
fi

# The operator and the S3 server run on this host; the cluster only stores objects
# (and runs the chart's operator in the test that installs it).
MODELREGISTRY_TEST_USE_KUBECONFIG=1 .venv/bin/python -m pytest tests/integration "$@"
