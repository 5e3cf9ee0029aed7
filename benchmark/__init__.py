"""larpbench: a reproducibility benchmark for music encoders on cold-start playlist continuation."""

__version__ = "0.1.0"
