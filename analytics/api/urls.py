from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import AnalysisRunViewSet, ResponseAssessmentViewSet, ResponseEvaluateView, TimepointResponseViewSet

app_name = "analytics"
router = DefaultRouter()
router.register("response-assessments", ResponseAssessmentViewSet, basename="response-assessment")
router.register("runs", AnalysisRunViewSet, basename="analysis-run")
router.register("timepoint-responses", TimepointResponseViewSet, basename="timepoint-response")
urlpatterns = [
    path("response/evaluate/", ResponseEvaluateView.as_view(), name="response-evaluate"),
    *router.urls,
]
