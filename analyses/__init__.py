"""Shared analyses: RSA, CKA, Ricci curvature, encoding scores, neuron-level statistics."""

__all__: list[str] = []
