"""Zerogate: zero-trust access, verified per request."""

from zerogate._version import __version__

__all__ = ["__version__"]
