"""One level-triggered reconcile per kind: gather, decide, act.

Watch events, retries and the periodic pass all call the same pass, which
looks at the whole object and what the operator knows of the world (the
in-memory index fed by the watches) and converges. Every step is
idempotent, so an operator killed at any line repeats only unfinished work.
"""

from modelregistry.reconciler.index import Catalog, ModelEntry, VersionEntry
from modelregistry.reconciler.model import ModelRefresher
from modelregistry.reconciler.operator import Operator
from modelregistry.reconciler.version import VersionReconciler

__all__ = [
    "Catalog",
    "ModelEntry",
    "ModelRefresher",
    "Operator",
    "VersionEntry",
    "VersionReconciler",
]
