"""Dataset manifests: one YAML file per dataset, shipped as package data."""

__all__: list[str] = []
