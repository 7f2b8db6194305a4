from rest_framework.routers import DefaultRouter

from .views import AdverseEventViewSet, BiomarkerViewSet, OutcomeViewSet, PatientViewSet, RegimenViewSet, SiteViewSet

app_name = "patients"
router = DefaultRouter()
router.register("sites", SiteViewSet, basename="site")
router.register("patients", PatientViewSet, basename="patient")
router.register("regimens", RegimenViewSet, basename="regimen")
router.register("biomarkers", BiomarkerViewSet, basename="biomarker")
router.register("adverse-events", AdverseEventViewSet, basename="adverse-event")
router.register("outcomes", OutcomeViewSet, basename="outcome")
urlpatterns = router.urls
