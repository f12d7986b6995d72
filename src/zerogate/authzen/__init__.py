"""The PDP's network face: the OpenID AuthZEN Authorization API 1.0 over HTTP (docs/authzen.md).

`read_json` (a bounded JSON body with stable error codes) serves the admin API too."""

from zerogate.authzen._app import create_app
from zerogate.authzen._decision import Evaluations, EvaluationsSemantic
from zerogate.authzen._http import read_json
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
    "read_json",
    "translate_evaluation",
    "translate_evaluations",
]
