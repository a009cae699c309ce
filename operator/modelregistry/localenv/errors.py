"""The one error type of the local environment."""


class LocalEnvError(RuntimeError):
    """A local control plane or S3 server could not be found, started or used."""
