"""The exceptions and typed warnings of the prediction package (no Django).

:class:`SpecError` and :class:`AnalysisError` are the survival package's own classes, re-exported, so that
callers (the analysis service, the API) catch one class whatever the analysis kind.
"""
from ..survival.model import AnalysisError, SpecError

__all__ = ["SpecError", "AnalysisError", "NoFeaturesLeftError", "PredictionWarning", "CalibrationWarning",
           "BootstrapWarning", "MODELS", "LINEAR_MODELS", "SELECTION_METHODS"]

#: The estimators a spec can name (``"model"``), the first being the default.
MODELS = ("l1_logistic", "elastic_net", "random_forest", "svm", "gradient_boosting")
#: The models whose fitted form is a Rad-score (a logistic formula of standardised features).
LINEAR_MODELS = ("l1_logistic", "elastic_net")
#: Feature selection methods (``"selection": {"method": ...}``).
SELECTION_METHODS = ("univariate", "l1", "none")


class NoFeaturesLeftError(AnalysisError):
    """Every feature was removed (excluded by name, empty, or constant), so there is nothing to model."""


class PredictionWarning(UserWarning):
    """Statistical trouble that a prediction result reports in its ``warnings`` list instead of a number."""


class CalibrationWarning(PredictionWarning):
    """The calibration slope or intercept is undefined (e.g. the outcome is perfectly separated by the
    predictions, so the logistic recalibration has no finite maximum-likelihood estimate)."""


class BootstrapWarning(PredictionWarning):
    """Many bootstrap resamples had a single class and were skipped, so the confidence interval is rough."""
