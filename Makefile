# Model Registry Operator — developer entry points.
#
#   make run     start a local control plane + S3 server and run the operator
#   make test    the whole suite (unit + integration), as CI runs it
#
# Both check the machine first (Debian packages, installed here when root; Go
# and Python versions; root, cgroups and the local node's fixed names), with
# the system's Python and before anything long: see PREREQUISITES.

PYTHON ?= python3
VENV ?= .venv
# Where `make run` keeps its control plane, S3 data and the env file to source.
DEV_DIR ?= .dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PREREQUISITES := operator/modelregistry/localenv/prerequisites.py

# $(call prerequisites,ARGS): the check for a goal; it stops make when something is missing.
define prerequisites
@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: Python >= 3.11 is needed and there is no $(PYTHON) on PATH: install it (sudo apt-get install -y python3 python3-venv) or name one (PYTHON=...)" >&2; exit 1; }
@$(PYTHON) -I $(PREREQUISITES) $(1)
endef

.PHONY: all run test unit integration lint crds check-crds tools venv bench bench-registry bench-validation bench-huge e2e-kind clean image

all: lint test

$(STAMP): pyproject.toml
	@echo "make: creating $(VENV) and installing the project with its dev dependencies (about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# etcd, the Kubernetes binaries, versitygw, helm and kstatus,
# built from the Go module proxy into ~/.cache/modelregistry (once); and
# KServe's CRDs, which the serving tests validate KServe manifests against.
tools:
	hack/build-tools.sh
	hack/fetch-kserve-crds.sh

# The operator's image from the Dockerfile, built with buildah on a locally
# bootstrapped Debian base; an OCI archive in ~/.cache/modelregistry/images (once per source change).
image:
	hack/build-image.sh

# CLUSTER=kubeconfig uses the cluster in KUBECONFIG instead of a local control plane;
# NODE=0 starts no local node (faster; validation Pods then stay Pending).
# The steps after the check run in a make of their own: in order, even under -j.
# `modelregistry dev` builds the image, when the node needs it, before it starts anything.
run:
	$(call prerequisites,run --dev-dir $(DEV_DIR) $(if $(filter kubeconfig,$(CLUSTER)),--kubeconfig,) $(if $(filter 0,$(NODE)),--no-node,))
	@$(MAKE) -s --no-print-directory $(STAMP) tools
	$(BIN)/modelregistry dev --workdir $(DEV_DIR) $(if $(filter kubeconfig,$(CLUSTER)),--use-kubeconfig,) $(if $(filter 0,$(NODE)),--no-node,)

# The integration tests run validation Pods on the project's image: built first (cached).
test:
	$(call prerequisites,test)
	@$(MAKE) -s --no-print-directory $(STAMP) tools image
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration:
	$(call prerequisites,test)
	@$(MAKE) -s --no-print-directory $(STAMP) tools image
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/modelregistry crds --check --output-dir crds --chart charts/modelregistry --reference docs/reference

crds: $(STAMP)
	$(BIN)/modelregistry crds --output-dir crds --chart charts/modelregistry --reference docs/reference

bench: $(STAMP) tools
	$(BIN)/python bench/verify_throughput.py

# MLflow's registry against the operator: versions/s to Ready (bench/README.md).
bench-registry: $(STAMP) tools
	$(BIN)/python bench/registry_throughput.py $(BENCH_ARGS)

# Validation Pods on the local node: ArtifactVerified → Validated, by phase (docs/benchmarks.md).
bench-validation: $(STAMP) tools
	$(BIN)/python bench/validation_latency.py $(BENCH_ARGS)

# A 10 GiB artifact to Ready: hashed, or by the store's SHA-256 checksum (docs/benchmarks.md).
bench-huge: $(STAMP) tools
	$(BIN)/python bench/huge_artifact.py $(BENCH_ARGS)

# On machines with Docker: the same suite against a kind cluster.
e2e-kind: $(STAMP)
	hack/e2e-kind.sh

clean:
	rm -rf $(VENV) $(DEV_DIR) .pytest_cache .mypy_cache .ruff_cache
