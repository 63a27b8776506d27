"""cnnbench: benchmark and compress the classic vision CNNs."""

__version__ = "0.1.0"
