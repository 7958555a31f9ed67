"""Spiking and biophysical neuron layers: LIF, ELM, Kuramoto (issue #8)."""

__all__: list[str] = []
