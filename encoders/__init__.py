"""Encoding models: ridge, banded ridge and attention readout (issue #5)."""

__all__: list[str] = []
