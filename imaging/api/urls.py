from rest_framework.routers import DefaultRouter

from .views import FeatureSetViewSet, IngestJobViewSet, QuarantineViewSet, SegmentViewSet, SeriesViewSet

app_name = "imaging"
router = DefaultRouter()
router.register("ingest-jobs", IngestJobViewSet, basename="ingest-job")
router.register("series", SeriesViewSet, basename="series")
router.register("segments", SegmentViewSet, basename="segment")
router.register("quarantine", QuarantineViewSet, basename="quarantined-file")
router.register("feature-sets", FeatureSetViewSet, basename="feature-set")
urlpatterns = router.urls
