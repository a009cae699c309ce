# The operator's image: the `modelregistry` CLI (operator and validation checks)
# in a Python virtual environment on Debian bookworm.
#
#   docker build -t modelregistry/operator .        (or: podman build ...)
#
# Machines that reach Debian or PyPI only through local settings (a proxy's CA,
# a pip index, apt options) pass them in as build secrets, which never land in
# a layer; hack/build-image.sh does that for this machine:
#   --secret id=aptconf,src=apt.conf --secret id=pipconf,src=pip.conf --secret id=cacert,src=ca.crt
# A secret that is not passed is simply absent, and the defaults apply.
# Secrets are mounted under /run/secrets, where the base image has no files:
# a secret mounted over an existing file would remove that file from the layer.

# Stage 1: the dependencies, in a virtual environment without pip or
# setuptools. pip runs from a separate tools environment (`pip --python`), so
# nothing used to build or install ends up in the final image.
FROM docker.io/library/debian:bookworm-slim AS deps
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN --mount=type=secret,id=aptconf,target=/run/secrets/aptconf \
    --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    set -eu; \
    if [ -f /run/secrets/aptconf ]; then export APT_CONFIG=/run/secrets/aptconf; fi; \
    apt-get update -q; \
    apt-get install -y -q --no-install-recommends python3 python3-venv; \
    rm -rf /var/lib/apt/lists/*; \
    python3 -m venv /opt/buildtools; \
    python3 -m venv --without-pip /opt/modelregistry

WORKDIR /src
# Keyed by pyproject.toml alone, so an edit of the sources or README reuses this layer.
# The `validate` extra (model checks run in validation Pods) is included when
# pyproject.toml defines it. Debian's pip (23.0) backtracks for many minutes
# over boto3 releases; a current pip resolves the same requirements at once.
# setuptools (the build backend) is downloaded here so the project's own
# install below needs no network.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pipconf,target=/run/secrets/pipconf \
    --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    set -eu; \
    if [ -f /run/secrets/pipconf ]; then export PIP_CONFIG_FILE=/run/secrets/pipconf; fi; \
    if [ -f /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi; \
    python3 -c 'import re, tomllib; \
p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
reqs = p["dependencies"] + p.get("optional-dependencies", {}).get("validate", []); \
own = lambda r: re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] == p["name"]; \
print("\n".join(r for r in reqs if not own(r)))' > /tmp/requirements.txt; \
    /opt/buildtools/bin/pip install -q --upgrade pip; \
    /opt/buildtools/bin/pip download -q --dest /opt/buildtools/wheels 'setuptools>=77'; \
    /opt/buildtools/bin/pip --python /opt/modelregistry/bin/python install -q -r /tmp/requirements.txt

# Stage 2: the project itself, offline. Its installed files (package,
# metadata, the `modelregistry` script) are gathered under /project at their
# final paths, so the final image adds them as one small layer of their own.
FROM deps AS project
COPY README.md ./
COPY operator ./operator
RUN set -eu; \
    PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/buildtools/wheels \
        /opt/buildtools/bin/pip --python /opt/modelregistry/bin/python install -q --no-deps .; \
    /opt/modelregistry/bin/python -c 'import importlib.metadata, pathlib, shutil, tomllib; \
name = tomllib.load(open("pyproject.toml", "rb"))["project"]["name"]; \
dist = importlib.metadata.distribution(name); \
paths = [pathlib.Path(dist.locate_file(f)).resolve() for f in dist.files]; \
targets = [pathlib.Path("/project" + str(path)) for path in paths]; \
[target.parent.mkdir(parents=True, exist_ok=True) for target in targets]; \
[shutil.copy2(path, target) for path, target in zip(paths, targets)]'; \
    /opt/modelregistry/bin/modelregistry --help >/dev/null

FROM docker.io/library/debian:bookworm-slim
# python3 runs the virtual environment; libstdc++6 is what manylinux wheels
# (onnxruntime, scikit-learn) expect from the system; ca-certificates lets the
# operator reach S3 and the API server over TLS. Apt's lists and logs are
# removed so nothing of the build machine's package setup stays in the image.
RUN --mount=type=secret,id=aptconf,target=/run/secrets/aptconf \
    --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    set -eu; \
    if [ -f /run/secrets/aptconf ]; then export APT_CONFIG=/run/secrets/aptconf; fi; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        python3 ca-certificates libstdc++6; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
        /var/log/apt /var/log/dpkg.log /var/log/alternatives.log; \
    echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'nonroot:x:65532:' >> /etc/group; \
    install -d -o 65532 -g 65532 -m 0750 /home/nonroot

# Dependencies first (changes with pyproject.toml), then the project (changes
# with every source edit): a rebuild after an edit adds one small layer.
COPY --from=deps /opt/modelregistry /opt/modelregistry
COPY --from=project /project/ /
# Read-only root filesystem: nothing is written at start (bytecode was compiled
# at install time), HOME exists, and output is unbuffered for `kubectl logs`.
ENV PATH=/opt/modelregistry/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/nonroot
LABEL org.opencontainers.image.title="modelregistry-operator" \
      org.opencontainers.image.description="Model Registry Operator: the modelregistry CLI, operator and validation checks" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd.
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["modelregistry"]
CMD ["--help"]
