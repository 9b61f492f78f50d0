"""OpenBench Desktop: benchmark AI models on your own workstation."""

__version__ = "0.1.0"
