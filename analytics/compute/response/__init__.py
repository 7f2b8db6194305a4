"""Tumour response engine: RECIST 1.1, iRECIST, hyperprogression, pseudoprogression,
dissociated response and durable clinical benefit (shared/RESPONSE_RULES.md).

Pure Python, no Django imports.  Entry points:

* :func:`evaluate` - document dict -> JSON-serialisable result dict;
* :func:`evaluate_result` - document dict -> exact :class:`ResponseResult`;
* :class:`ResponseEvaluator` - estimator-style wrapper (``fit(document)`` -> ``self``);
* :func:`parse_document` / :func:`validate_document` - input validation only.
"""

from .document import parse_document, validate_document
from .engine import ResponseEvaluator, evaluate, evaluate_input, evaluate_result
from .errors import ResponseDataWarning, ResponseInputError, ResponseWarning
from .hpd import HPD_DEFINITIONS
from .model import (BaselineLesion, ClinicalInputs, LesionObservation, NewLesionObservation, PriorLine, ResponseInput,
                    Timepoint)
from .options import DEFAULT_OPTIONS, OPTION_SPECS, ResponseOptions
from .patterns import DISSOCIATED_DEFINITIONS
from .results import (ENGINE_VERSION, BestResponse, DcbResult, DissociatedResult, HpdResult, PseudoprogressionResult,
                      ResponseResult, SurvivalOutcome, TimepointResult)

__all__ = [
    "evaluate", "evaluate_result", "evaluate_input", "ResponseEvaluator", "parse_document", "validate_document",
    "ResponseInputError", "ResponseWarning", "ResponseDataWarning", "ResponseOptions", "DEFAULT_OPTIONS",
    "OPTION_SPECS", "ResponseInput", "Timepoint", "BaselineLesion", "LesionObservation", "NewLesionObservation",
    "ClinicalInputs", "PriorLine", "ResponseResult", "TimepointResult", "BestResponse", "SurvivalOutcome",
    "PseudoprogressionResult", "DcbResult", "HpdResult", "DissociatedResult", "HPD_DEFINITIONS",
    "DISSOCIATED_DEFINITIONS", "ENGINE_VERSION",
]
