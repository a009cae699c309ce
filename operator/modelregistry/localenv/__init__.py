"""Real servers for tests and `make run`: a Kubernetes control plane, a node and S3.

The binaries come from `hack/build-tools.sh`, which builds them at pinned
versions into a per-user cache.
"""

from modelregistry.localenv.controlplane import ControlPlane
from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.node import Node
from modelregistry.localenv.s3server import S3Server
from modelregistry.localenv.tools import find_tool

__all__ = ["ControlPlane", "LocalEnvError", "Node", "S3Server", "find_tool"]
