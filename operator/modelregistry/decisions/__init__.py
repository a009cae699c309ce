"""Pure decisions: from what a pass observed to the status to write.

Nothing here does I/O or imports a client. One module per step of a
ModelVersion's pass (`modelref`, `numbering`, `verification`), each building
the conditions it owns; `summary` derives Ready/Reconciling/Stalled and the
transition Events from those conditions alone; `version` puts a pass
together; `model` sums up a Model's versions. `passdata` holds the plain
data they share, so the imports form a tree.
"""
