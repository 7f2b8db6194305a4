from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import ResponseAssessmentViewSet, ResponseEvaluateView

app_name = "analytics"
router = DefaultRouter()
router.register("response-assessments", ResponseAssessmentViewSet, basename="response-assessment")
urlpatterns = [
    path("response/evaluate/", ResponseEvaluateView.as_view(), name="response-evaluate"),
    *router.urls,
]
