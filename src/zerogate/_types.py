"""Identifier types shared by every part, so an id of one kind is never passed as another."""

from __future__ import annotations

from typing import NewType

DecisionID = NewType("DecisionID", str)
PolicyID = NewType("PolicyID", str)
BundleHash = NewType("BundleHash", str)
UserID = NewType("UserID", str)
SpiffeID = NewType("SpiffeID", str)

__all__ = ["BundleHash", "DecisionID", "PolicyID", "SpiffeID", "UserID"]
