"""OCI artifacts over the registry HTTP API: reading, verifying and pulling by digest.

`registry` speaks the distribution spec (manifests and blobs by digest,
anonymous, basic and bearer-token auth); `store` is the operator's
verification (the manifest's digest, then every blob's); `pull` is the
validation Pod's: the same blobs by digest, hashed again while they are
written out. The decisions they apply are pure, in `decisions.oci`.
"""
