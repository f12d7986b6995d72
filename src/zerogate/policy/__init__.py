"""The policy decision point: Cedar policies, bundles, decisions with explanations, and a cache."""

from zerogate.policy._bundle import (
    Bundle,
    CompiledBundle,
    compile_bundle,
    default_schema_text,
    entity_from_json,
    uid_from_json,
)
from zerogate.policy._cache import CacheStats, DecisionCache
from zerogate.policy._model import (
    ConditionCheck,
    Decision,
    Entity,
    EntityUID,
    Explanation,
    Outcome,
    PartKind,
    PolicyEvalError,
    PolicyExplanation,
    Request,
)
from zerogate.policy._pdp import PDP

__all__ = [
    "PDP",
    "Bundle",
    "CacheStats",
    "CompiledBundle",
    "ConditionCheck",
    "Decision",
    "DecisionCache",
    "Entity",
    "EntityUID",
    "Explanation",
    "Outcome",
    "PartKind",
    "PolicyEvalError",
    "PolicyExplanation",
    "Request",
    "compile_bundle",
    "default_schema_text",
    "entity_from_json",
    "uid_from_json",
]
