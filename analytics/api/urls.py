from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import (
    AnalysisRunViewSet,
    DeltaFeatureViewSet,
    FeatureRobustnessViewSet,
    ModelScoreView,
    ResponseAssessmentViewSet,
    ResponseEvaluateView,
    TimepointResponseViewSet,
)

app_name = "analytics"
router = DefaultRouter()
router.register("response-assessments", ResponseAssessmentViewSet, basename="response-assessment")
router.register("runs", AnalysisRunViewSet, basename="analysis-run")
router.register("delta-features", DeltaFeatureViewSet, basename="delta-feature")
router.register("feature-robustness", FeatureRobustnessViewSet, basename="feature-robustness")
router.register("timepoint-responses", TimepointResponseViewSet, basename="timepoint-response")
urlpatterns = [
    path("response/evaluate/", ResponseEvaluateView.as_view(), name="response-evaluate"),
    path("models/<int:pk>/score/", ModelScoreView.as_view(), name="model-score"),
    *router.urls,
]
