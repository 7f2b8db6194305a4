"""Stored analytics results. Response assessments are recomputed from lesion data whenever it changes; survival
analyses are stored runs of a spec, reproducible from their record; delta-radiomics and feature robustness are
stored per lesion pair and per profile version."""
from .alerts import Alert
from .delta import DeltaFeature, DeltaRefresh
from .response import ResponseAssessment, TimepointResponse
from .robustness import FeatureRobustness
from .runs import AnalysisRun

__all__ = ["Alert", "ResponseAssessment", "TimepointResponse", "AnalysisRun", "DeltaFeature", "DeltaRefresh", "FeatureRobustness"]
