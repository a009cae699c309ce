#!/usr/bin/env bash
# Builds the local node's images into ~/.cache/modelregistry/node-images-$KUBERNETES_VERSION/
# as OCI archives, for a node that can pull from no registry:
#   pause    from the Kubernetes module's build/pause/linux/pause.c (gcc -static); needs
#            hack/build-tools.sh kubernetes first, which puts the module in Go's cache
#   busybox  the host's static busybox (apt-get install busybox-static) in an empty image,
#            for the node tests
# The Node service builds the pause image itself when it is missing; this script
# warms the cache. Usage: hack/build-node-images.sh [pause] [busybox]
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -c '
import sys
from modelregistry.localenv.images import main
sys.exit(main())
' "$@"
