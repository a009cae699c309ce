"""Pure decisions about OCI artifacts: references, manifests, layouts, registry auth.

The I/O that uses them (the registry client, the operator's verification,
the validation Pod's pull) is in `modelregistry.oci`.
"""
