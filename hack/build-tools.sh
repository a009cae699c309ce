#!/usr/bin/env bash
# Build the real parts the tests and `make run` start: etcd, kube-apiserver,
# kube-controller-manager, kubectl (same version as the server), versitygw and helm.
# Everything is built from the Go module proxy and cached outside the repo,
# keyed by version, so later runs reuse it. Prints nothing when the cache is
# warm.
#
# Usage: hack/build-tools.sh [etcd|kubernetes|versitygw|helm ...]   (default: all)
set -euo pipefail

ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.35.4}"
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${MODELREGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelregistry}"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf 'build-tools: %s\n' "$*" >&2; }

# A fresh throw-away module to build one tool in.
new_module() {
  local dir="$1"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init "build.local/$(basename "$dir")" >/dev/null 2>&1)
}

# build_single NAME VERSION PACKAGE [LDFLAGS]: one main package, one binary.
build_single() {
  local name="$1" version="$2" package="$3" ldflags="${4:--s -w}"
  local out="$CACHE_ROOT/$name-$version"
  [[ -x "$out/$name" ]] && return 0
  log "building $name $version into $out"
  local work="$CACHE_ROOT/.work/$name-$version"
  new_module "$work"
  (
    cd "$work"
    go get -tool "$package@$version"
    go build -trimpath -ldflags "$ldflags" -o "$work/$name" "$package"
  )
  mkdir -p "$out" && mv "$work/$name" "$out/$name" && rm -rf "$work"
}

build_kubernetes() {
  local out="$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION"
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
  local missing=() cmd
  for cmd in "${cmds[@]}"; do [[ -x "$out/$cmd" ]] || missing+=("$cmd"); done
  ((${#missing[@]})) || return 0
  log "building ${missing[*]} $KUBERNETES_VERSION into $out"
  local work="$CACHE_ROOT/.work/kubernetes-$KUBERNETES_VERSION"
  new_module "$work"
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  (
    cd "$work"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces
    # them with ./staging/...; point each at its published release instead.
    # The list comes from that version's own go.mod.
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
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
    go get "${packages[@]}"
    local minor="${KUBERNETES_VERSION#v1.}"
    minor="${minor%%.*}"
    local ldflags="-s -w"
    local pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
      ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    for cmd in "${missing[@]}"; do
      go build -trimpath -ldflags "$ldflags" -o "$work/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
  mkdir -p "$out"
  for cmd in "${missing[@]}"; do mv "$work/$cmd" "$out/"; done
  rm -rf "$work"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kubernetes versitygw helm)
for target in "${targets[@]}"; do
  case "$target" in
    etcd) build_single etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 ;;
    kubernetes) build_kubernetes ;;
    versitygw)
      build_single versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw ;;
    helm)
      build_single helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
        "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" ;;
    *) log "unknown tool '$target' (expected etcd, kubernetes, versitygw or helm)"; exit 2 ;;
  esac
done
