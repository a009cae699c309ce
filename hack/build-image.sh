#!/usr/bin/env bash
# Build the operator's image from the top-level Dockerfile with buildah, on
# machines with no container registry: the Dockerfile's base image
# (docker.io/library/debian:bookworm-slim) is bootstrapped locally from this
# machine's Debian mirror, then `buildah bud --pull=never` builds the image and
# writes it as an OCI archive that `ctr -n k8s.io images import` loads.
#
# This machine's package settings (apt options, pip configuration, the CA
# bundle that PyPI and the mirror are reached through) go in as build secrets:
# they are mounted for the RUN steps that install packages and never stored in
# a layer.
#
# Cached by a key over the Dockerfile, .dockerignore, pyproject.toml,
# README.md, this script and the sources under operator/ (git-tracked or
# untracked-but-not-ignored): when the archive for the key exists the script
# only prints it. modelregistry.localenv.image computes the same key.
# Layers and the base image live in $CACHE/buildah/<driver> (so later builds
# reuse them), the last two archives in $CACHE/images; $CACHE is
# ${MODELREGISTRY_CACHE:-~/.cache/modelregistry}.
#
# A build says, on stderr, each step (the base image, each Dockerfile step as
# buildah reaches it, the archive) with the time since it began, and "still
# ..." every 30 s while one step runs; buildah's own output is shown only when
# the build fails.
#
# Usage: hack/build-image.sh [--print-key] [--ctr-address SOCKET]
#   --print-key           print the cache key and exit
#   --ctr-address SOCKET  also import the archive into that containerd (namespace k8s.io)
# Prints, on stdout:  reference=<image>  dev_reference=<image>  archive=<path>
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=hack/progress.sh
source hack/progress.sh
# Timed from the first start, across the re-exec into a mount namespace below.
progress_start build-image "${MODELREGISTRY_IMAGE_STARTED:-}"

CACHE_ROOT="${MODELREGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelregistry}"
# The same names as modelregistry.localenv.image.
IMAGE_REPOSITORY=localhost/modelregistry/operator
DEV_TAG=dev
DEBIAN_RELEASE=bookworm
BASE_IMAGE="docker.io/library/debian:$DEBIAN_RELEASE-slim"
# overlay works on these machines; vfs is the fallback where it does not.
STORAGE_DRIVER="${MODELREGISTRY_BUILDAH_DRIVER:-overlay}"
STORAGE_ROOT="$CACHE_ROOT/buildah/$STORAGE_DRIVER"
IMAGES_DIR="$CACHE_ROOT/images"
KEEP_ARCHIVES=2

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

original_args=("$@")
print_key=0
ctr_address=""
while (($#)); do
  case "$1" in
    --print-key) print_key=1 ;;
    --ctr-address) ctr_address="${2:?--ctr-address needs a socket path}"; shift ;;
    *) die "unknown argument '$1' (expected --print-key or --ctr-address SOCKET)" ;;
  esac
  shift
done

# The files whose content decides the image, one per line, sorted bytewise.
image_inputs() {
  {
    printf '%s\n' Dockerfile .dockerignore pyproject.toml README.md hack/build-image.sh
    git ls-files --cached --others --exclude-standard -- operator
  } | LC_ALL=C sort -u | while IFS= read -r path; do
    [[ -f "$path" ]] && printf '%s\n' "$path"
  done
}

# sha256 over "<sha256 of file>  <path>" lines (sha256sum's own format) of
# the paths on stdin, relative to the current directory.
hash_files() {
  local path
  while IFS= read -r path; do sha256sum -- "$path"; done | sha256sum | cut -d' ' -f1
}

command -v git >/dev/null || die "git is needed to list the image's sources"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$PWD is not a git checkout"
key=$(image_inputs | hash_files)
if ((print_key)); then
  printf '%s\n' "$key"
  exit 0
fi

set_key() {
  key="$1"
  reference="$IMAGE_REPOSITORY:${key:0:12}"
  archive="$IMAGES_DIR/modelregistry-$key.oci.tar"
}
set_key "$key"
dev_reference="$IMAGE_REPOSITORY:$DEV_TAG"

report() {
  if [[ -n "$ctr_address" ]]; then
    say "importing into containerd at $ctr_address"
    ctr --address "$ctr_address" -n k8s.io images import "$archive" >&2
  fi
  printf 'reference=%s\ndev_reference=%s\narchive=%s\n' "$reference" "$dev_reference" "$archive"
}

if [[ -s "$archive" ]]; then
  report
  exit 0
fi

for tool in buildah debootstrap flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install buildah debootstrap)"
done
((EUID == 0)) || die "building needs root (debootstrap, and buildah with runc isolation)"

# containers/image keeps a blob-info cache in /var/lib/containers/cache for
# root, whatever --root says; in a mount namespace of its own the script puts
# its cache directory there (on the host, /var/lib/containers is only an empty
# mount point).
if [[ -z "${MODELREGISTRY_IMAGE_NAMESPACE:-}" ]]; then
  mkdir -p /var/lib/containers
  exec unshare --mount --propagation private \
    env MODELREGISTRY_IMAGE_NAMESPACE=1 MODELREGISTRY_IMAGE_STARTED="$_progress_started" \
    bash "$PWD/hack/build-image.sh" "${original_args[@]}"
fi
mkdir -p "$IMAGES_DIR" "$STORAGE_ROOT" "$CACHE_ROOT/buildah/var-lib-containers"
mount --bind "$CACHE_ROOT/buildah/var-lib-containers" /var/lib/containers
# One build at a time per cache (tests and `make image` may race).
exec 9>"$CACHE_ROOT/buildah/lock"
flock -n 9 || {
  say "waiting for another build of the image to finish (it holds $CACHE_ROOT/buildah/lock)"
  flock 9
}
if [[ -s "$archive" ]]; then
  report
  exit 0
fi

# Storage of its own, so nothing lands in /var/lib/containers and later runs
# reuse the layers.
buildah=(buildah --root "$STORAGE_ROOT/root" --runroot "$STORAGE_ROOT/run" --storage-driver "$STORAGE_DRIVER")

work=$(mktemp -d "$CACHE_ROOT/buildah/work.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# The first Debian mirror apt on this machine uses for the release.
debian_mirror() {
  local uri
  # shellcheck disable=SC2016 # apt expands $(...) in its format, not the shell
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null \
    | awk -v rel="$DEBIAN_RELEASE" '$2 == rel && $3 == "deb" { print $1; exit }')
  printf '%s\n' "${uri:-http://deb.debian.org/debian/}"
}

# The Dockerfile's base image, bootstrapped from the mirror like Debian's own
# slim images: minbase, no docs/man pages/locales, no apt lists or caches.
ensure_base_image() {
  if "${buildah[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  local mirror rootfs="$work/rootfs"
  mirror=$(debian_mirror)
  say "bootstrapping the base image $BASE_IMAGE from $mirror (debootstrap)"
  run_debootstrap() {
    debootstrap --variant=minbase "$DEBIAN_RELEASE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1
  }
  with_heartbeat "bootstrapping the base image" run_debootstrap \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # The same path excludes as the official slim images, so later installs skip them too.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/usr/share/{man,info,lintian}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  tar -C "$rootfs" --numeric-owner --xattrs -cf "$work/rootfs.tar" .
  rm -rf "$rootfs"
  local container
  container=$("${buildah[@]}" from --pull=never scratch)
  "${buildah[@]}" add "$container" "$work/rootfs.tar" / >/dev/null
  "${buildah[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --os linux --arch "$(dpkg --print-architecture)" \
    --label "org.opencontainers.image.description=debootstrap --variant=minbase $DEBIAN_RELEASE $mirror" \
    "$container"
  "${buildah[@]}" commit -q --rm "$container" "$BASE_IMAGE" >/dev/null
  rm -f "$work/rootfs.tar"
  say "base image ready"
}

# This machine's package settings, as files for `--secret`. Written to the
# work dir (mode 0600, deleted on exit); nothing here is copied into the image.
secret_args=()
secret_names=()
add_secret() { secret_args+=(--secret "id=$1,src=$2"); secret_names+=("$1"); }
collect_package_settings() {
  local ca=""
  local candidate
  for candidate in "${PIP_CERT:-}" "$(pip_config_value global.cert)" "${REQUESTS_CA_BUNDLE:-}" \
    "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    if [[ -n "$candidate" && -f "$candidate" ]]; then ca="$candidate"; break; fi
  done
  if [[ -n "$ca" ]]; then
    install -m 0600 "$ca" "$work/cacert"
    add_secret cacert "$work/cacert"
  fi

  # pip: every setting pip sees here (its config files and PIP_* variables),
  # except the CA path (replaced by the cacert secret) and local find-links
  # directories (host paths that do not exist in the build).
  install -m 0600 /dev/null "$work/pipconf"
  pip_settings >>"$work/pipconf"
  if [[ -s "$work/pipconf" ]]; then
    add_secret pipconf "$work/pipconf"
  fi

  # apt: the Acquire:: options of this machine (proxies, snapshot mirror
  # date checks, ...); https mirrors are verified with the same CA bundle.
  install -m 0600 /dev/null "$work/aptconf"
  {
    cat /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null \
      | grep -E '^[[:space:]]*Acquire::[^{}]*;[[:space:]]*$' || true
    if [[ -n "$ca" ]]; then printf 'Acquire::https::CAInfo "/run/secrets/cacert";\n'; fi
  } >>"$work/aptconf"
  if [[ -s "$work/aptconf" ]]; then
    add_secret aptconf "$work/aptconf"
  fi
}

pip_config_value() {
  python3 -m pip config get "$1" 2>/dev/null || true
}

pip_settings() {
  local listing line name value section
  listing=$(python3 -m pip config list 2>/dev/null) || return 0
  declare -A sections=()
  while IFS= read -r line; do
    name="${line%%=*}"
    value="${line#*=}"
    value="${value#\'}"
    value="${value%\'}"
    section="${name%%.*}"
    name="${name#*.}"
    [[ "$section" == ":env:" ]] && section=global
    case "$name" in
      cert | client-cert) continue ;;
      find-links) [[ "$value" == *://* ]] || continue ;;
    esac
    sections[$section]+="$name = $value"$'\n'
  done <<<"$listing"
  for section in "${!sections[@]}"; do
    printf '[%s]\n%s' "$section" "${sections[$section]}"
  done
}

# The build context is a snapshot of the inputs, and the key is taken from the
# snapshot: files edited during the build can neither slip into an image
# labelled with an older key nor be missed.
context="$work/context"
mkdir -p "$context"
image_inputs | while IFS= read -r path; do cp --parents -p -- "$path" "$context/"; done
set_key "$(cd "$context" && find . -type f -printf '%P\n' | LC_ALL=C sort | hash_files)"
if [[ -s "$archive" ]]; then
  report
  exit 0
fi

say "building $reference (the first build takes about 5 minutes; after a source edit, seconds)"
ensure_base_image
collect_package_settings
say "building the Dockerfile with this machine's ${secret_names[*]:-(no)} settings as secrets"
build_log="$work/build.log"

# Buildah's output goes to the log; each step it starts is shown as it comes.
show_steps() {
  local line
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$build_log"
    if [[ "$line" =~ STEP\ [0-9]+/[0-9]+: ]]; then say "$(brief "$line")"; fi
  done
}
# A Dockerfile step on one short line: without its secret mounts and `set -eu;`.
brief() {
  local text="$1"
  text=$(sed -E 's/--mount=[^ ]+ +//g; s/set -eu; *//; s/  +/ /g' <<<"$text")
  ((${#text} <= 100)) || text="${text:0:97}..."
  printf '%s' "$text"
}
current_build_step() {
  local last
  last=$(grep -E 'STEP [0-9]+/[0-9]+:' "$build_log" | tail -n 1 || true)
  printf 'building the image, at %s' "$(brief "${last:-its first step}")"
}
run_buildah_bud() {
  "${buildah[@]}" bud --pull=never --layers --network=host \
    "${secret_args[@]}" \
    --tag "$reference" --tag "$dev_reference" \
    --file "$context/Dockerfile" "$context" 2>&1 | show_steps
}
: >"$build_log"
with_heartbeat current_build_step run_buildah_bud \
  || { tail -40 "$build_log" >&2; die "buildah bud failed (its last lines above)"; }
say "image built"

# Pushed once into an OCI layout (writing the layers, gzip-compressed, is
# most of the time after a source edit: buildah 1.28 re-reads every layer).
layout="$work/layout"
say "writing the archive"
with_heartbeat "writing the archive" \
  "${buildah[@]}" push -q "$reference" "oci:$layout:$reference" >/dev/null
# The archive is that layout with the index naming the image twice, so an
# import creates both names (what `buildah push oci-archive:` writes, with one
# name more). ctr names an image by io.containerd.image.name first: set to the
# full name, no importer's prefix rule can change it.
python3 - "$layout" "$dev_reference" <<'EOF'
import copy, json, pathlib, sys
layout, dev_reference = pathlib.Path(sys.argv[1]), sys.argv[2]
index = json.loads((layout / "index.json").read_text())
(entry,) = index["manifests"]
dev_entry = copy.deepcopy(entry)
dev_entry["annotations"]["org.opencontainers.image.ref.name"] = dev_reference
index["manifests"].append(dev_entry)
for entry in index["manifests"]:
    annotations = entry["annotations"]
    annotations["io.containerd.image.name"] = annotations["org.opencontainers.image.ref.name"]
(layout / "index.json").write_text(json.dumps(index))
EOF
tar -C "$layout" -cf "$archive.partial" oci-layout index.json blobs
mv "$archive.partial" "$archive"
say "wrote $archive ($(du -h "$archive" | cut -f1))"

# Older archives are superseded; keep a few (and their tags, which hold their
# layers in storage) for quick switching between branches.
find "$IMAGES_DIR" -maxdepth 1 -name 'modelregistry-*.oci.tar' -printf '%T@ %p\n' \
  | sort -rn | tail -n +$((KEEP_ARCHIVES + 1)) | cut -d' ' -f2- \
  | while IFS= read -r old; do
    old_key="${old##*/modelregistry-}"
    "${buildah[@]}" rmi "$IMAGE_REPOSITORY:${old_key:0:12}" >/dev/null 2>&1 || true
    rm -f -- "$old"
  done
report
