#!/usr/bin/env bash
# Build the real parts the tests and `make run` start: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubectl (same version as
# the server), versitygw, helm and the OCI registry (distribution's
# cmd/registry, which the OCI artifact tests push to); and kstatus, our own
# small program over sigs.k8s.io/cli-utils' kstatus (hack/kstatus), which the
# GitOps tests run.
# Everything is built from the Go module proxy and cached outside the repo,
# keyed by version, so later runs reuse it.
# Prints nothing when the cache is warm; otherwise a line per step with the
# time since it began, and "still ..." every 30 s while one `go build` runs.
#
# Usage: hack/build-tools.sh [etcd|kubernetes|versitygw|helm|registry|kstatus ...]   (default: all)
set -euo pipefail
# shellcheck source=hack/progress.sh
source "$(dirname "${BASH_SOURCE[0]}")/progress.sh"

ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.35.4}"
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
REGISTRY_VERSION="${REGISTRY_VERSION:-v3.1.2}"
# kstatus is keyed by the version of sigs.k8s.io/cli-utils it is built with.
KSTATUS_VERSION="${KSTATUS_VERSION:-v0.37.2}"
KSTATUS_SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kstatus"
CACHE_ROOT="${MODELREGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelregistry}"
KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
progress_start build-tools

log() { printf 'build-tools: %s\n' "$*" >&2; }

# Steps are numbered over every binary this run builds.
step=0
steps=0
building() {
  step=$((step + 1))
  current="$1 ($step/$steps)"
  say "building $current"
}
go_build() { with_heartbeat "building $current" go build "$@"; }
go_fetch() {
  local what="$1"
  shift
  say "fetching the modules of $what"
  with_heartbeat "fetching the modules of $what" quietly go get "$@"
}

# COMMAND...: its output (go get's hundreds of "go: added" lines) only if it fails.
quietly() {
  local out status=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 || status=$?
  ((status == 0)) || cat "$out" >&2
  rm -f "$out"
  return "$status"
}

# A fresh throw-away module to build one tool in.
new_module() {
  local dir="$1"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init "build.local/$(basename "$dir")" >/dev/null 2>&1)
}

# The binaries a target would build: those not in the cache.
missing_binaries() {
  case "$1" in
    etcd) [[ -x "$CACHE_ROOT/etcd-$ETCD_VERSION/etcd" ]] || echo etcd ;;
    kubernetes)
      local cmd
      for cmd in "${KUBERNETES_COMMANDS[@]}"; do
        [[ -x "$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION/$cmd" ]] || echo "$cmd"
      done
      ;;
    versitygw) [[ -x "$CACHE_ROOT/versitygw-$VERSITYGW_VERSION/versitygw" ]] || echo versitygw ;;
    helm) [[ -x "$CACHE_ROOT/helm-$HELM_VERSION/helm" ]] || echo helm ;;
    registry) [[ -x "$CACHE_ROOT/registry-$REGISTRY_VERSION/registry" ]] || echo registry ;;
    kstatus)
      # Our own source too: a binary built from an older main.go is rebuilt.
      local out="$CACHE_ROOT/kstatus-$KSTATUS_VERSION"
      [[ -x "$out/kstatus" && "$(cat "$out/source" 2>/dev/null)" == "$(kstatus_source)" ]] \
        || echo kstatus
      ;;
    *) log "unknown tool '$1' (expected etcd, kubernetes, versitygw, helm, registry or kstatus)"; exit 2 ;;
  esac
}

# build_single NAME VERSION PACKAGE [LDFLAGS]: one main package, one binary.
build_single() {
  local name="$1" version="$2" package="$3" ldflags="${4:--s -w}"
  local out="$CACHE_ROOT/$name-$version"
  [[ -x "$out/$name" ]] && return 0
  local work="$CACHE_ROOT/.work/$name-$version"
  new_module "$work"
  pushd "$work" >/dev/null
  go_fetch "$name $version" -tool "$package@$version"
  building "$name $version"
  go_build -trimpath -ldflags "$ldflags" -o "$work/$name" "$package"
  popd >/dev/null
  mkdir -p "$out" && mv "$work/$name" "$out/$name" && rm -rf "$work"
}

# The digest of hack/kstatus as it is now, recorded beside the binary.
kstatus_source() {
  cat "$KSTATUS_SOURCE"/main.go "$KSTATUS_SOURCE"/go.mod "$KSTATUS_SOURCE"/go.sum \
    | sha256sum | cut -d' ' -f1
}

# Built in a copy, so neither `go get` of another KSTATUS_VERSION nor -mod=mod
# ever rewrites go.mod or go.sum in the checkout.
build_kstatus() {
  [[ -n "$(missing_binaries kstatus)" ]] || return 0
  local out="$CACHE_ROOT/kstatus-$KSTATUS_VERSION"
  local work="$CACHE_ROOT/.work/kstatus-$KSTATUS_VERSION"
  rm -rf "$work" && mkdir -p "$work"
  cp "$KSTATUS_SOURCE"/main.go "$KSTATUS_SOURCE"/go.mod "$KSTATUS_SOURCE"/go.sum "$work/"
  pushd "$work" >/dev/null
  go_fetch "kstatus $KSTATUS_VERSION" "sigs.k8s.io/cli-utils/pkg/kstatus/status@$KSTATUS_VERSION"
  building "kstatus $KSTATUS_VERSION"
  go_build -trimpath -ldflags "-s -w" -o "$work/kstatus" .
  popd >/dev/null
  mkdir -p "$out" && mv "$work/kstatus" "$out/kstatus" && kstatus_source >"$out/source"
  rm -rf "$work"
}

build_kubernetes() {
  local out="$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION"
  local missing=()
  mapfile -t missing < <(missing_binaries kubernetes)
  ((${#missing[@]})) || return 0
  local work="$CACHE_ROOT/.work/kubernetes-$KUBERNETES_VERSION"
  new_module "$work"
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  pushd "$work" >/dev/null
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces
  # them with ./staging/...; point each at its published release instead.
  # The list comes from that version's own go.mod.
  say "fetching k8s.io/kubernetes $KUBERNETES_VERSION's go.mod"
  local gomod
  gomod=$(with_heartbeat "fetching k8s.io/kubernetes" \
    go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$gomod" ]] || { log "cannot read go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"; exit 1; }
  local staged
  staged=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$gomod" | sort -u)
  [[ -n "$staged" ]] || { log "no staging replacements found in $gomod"; exit 1; }
  local module
  for module in $staged; do
    go mod edit -replace "$module=$module@$staging_version"
  done
  go mod edit -require "k8s.io/kubernetes@$KUBERNETES_VERSION"
  local packages=() cmd
  for cmd in "${missing[@]}"; do packages+=("k8s.io/kubernetes/cmd/$cmd@$KUBERNETES_VERSION"); done
  go_fetch "Kubernetes $KUBERNETES_VERSION" "${packages[@]}"
  local minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for cmd in "${missing[@]}"; do
    building "$cmd $KUBERNETES_VERSION"
    go_build -trimpath -ldflags "$ldflags" -o "$work/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
  popd >/dev/null
  mkdir -p "$out"
  for cmd in "${missing[@]}"; do mv "$work/$cmd" "$out/"; done
  rm -rf "$work"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kubernetes versitygw helm registry kstatus)
for target in "${targets[@]}"; do
  planned=$(missing_binaries "$target")
  [[ -z "$planned" ]] || steps=$((steps + $(wc -l <<<"$planned")))
done
((steps)) || exit 0
command -v go >/dev/null || { log "Go >= 1.26 is needed to build them, and there is no go on PATH"; exit 1; }
say "tools to build: $steps, into $CACHE_ROOT with $(go env GOVERSION) (all of them: 8 to 15 minutes on 2 cores)"
for target in "${targets[@]}"; do
  case "$target" in
    etcd) build_single etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 ;;
    kubernetes) build_kubernetes ;;
    versitygw)
      build_single versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw ;;
    helm)
      build_single helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
        "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" ;;
    registry)
      build_single registry "$REGISTRY_VERSION" github.com/distribution/distribution/v3/cmd/registry \
        "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" ;;
    kstatus) build_kstatus ;;
  esac
done
say "done"
