from rest_framework.routers import DefaultRouter

from .views import (
    ExtractionProfileViewSet,
    FeatureSetViewSet,
    FeatureValueViewSet,
    IngestJobViewSet,
    LesionViewSet,
    MeasurementViewSet,
    QuarantineViewSet,
    SegmentationViewSet,
    SegmentViewSet,
    SeriesViewSet,
    StudyViewSet,
    TimepointViewSet,
)

app_name = "imaging"
router = DefaultRouter()
router.register("ingest-jobs", IngestJobViewSet, basename="ingest-job")
router.register("studies", StudyViewSet, basename="study")
router.register("series", SeriesViewSet, basename="series")
router.register("timepoints", TimepointViewSet, basename="timepoint")
router.register("lesions", LesionViewSet, basename="lesion")
router.register("measurements", MeasurementViewSet, basename="measurement")
router.register("segmentations", SegmentationViewSet, basename="segmentation")
router.register("segments", SegmentViewSet, basename="segment")
router.register("quarantine", QuarantineViewSet, basename="quarantined-file")
router.register("extraction-profiles", ExtractionProfileViewSet, basename="extraction-profile")
router.register("feature-sets", FeatureSetViewSet, basename="feature-set")
router.register("feature-values", FeatureValueViewSet, basename="feature-value")
urlpatterns = router.urls
