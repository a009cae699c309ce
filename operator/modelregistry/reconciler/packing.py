"""Bodies as they wait in the pass queue: compact JSON, without what no pass reads.

Applied faster than they can be verified, thousands of versions wait in
the queue at once. Held as parsed dicts, each took about 7 KB of small
Python objects, and the allocator kept those arenas after the burst,
interleaved with the index entries made meanwhile (docs/benchmarks.md).
Held as one bytes object each, they are a fraction of the size and come from
the general allocator, which gives the memory back when they are gone.
"""

from __future__ import annotations

import json

from modelregistry.reconciler.ports import Body

# Written by kubectl apply: the whole object again, as a string. No pass reads it.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def pack(body: Body) -> bytes:
    """`body` as compact JSON, without managedFields and kubectl's last-applied copy."""
    meta = {k: v for k, v in body["metadata"].items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return json.dumps({**body, "metadata": meta}, separators=(",", ":")).encode()


def unpack(packed: bytes) -> Body:
    body: Body = json.loads(packed)
    return body
