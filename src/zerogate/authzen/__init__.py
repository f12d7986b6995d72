"""The PDP's network face: the OpenID AuthZEN Authorization API 1.0 over HTTP (docs/authzen.md)."""

from zerogate.authzen._app import create_app
from zerogate.authzen._decision import Evaluations, EvaluationsSemantic
from zerogate.authzen._translate import (
    MAX_EVALUATIONS,
    translate_evaluation,
    translate_evaluations,
)

__all__ = [
    "MAX_EVALUATIONS",
    "Evaluations",
    "EvaluationsSemantic",
    "create_app",
    "translate_evaluation",
    "translate_evaluations",
]
