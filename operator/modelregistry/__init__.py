"""Model Registry Operator: Model and ModelVersion custom resources for Kubernetes."""

__version__ = "0.1.0"
