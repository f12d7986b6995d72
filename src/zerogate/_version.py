"""The package version, read by hatchling and `zerogate --version`."""

__version__ = "0.1.0"
