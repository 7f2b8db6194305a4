from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, pagination, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from radimmuno.api import OwnRowsPermissions, ReadThenActionPermissions, ServiceCreateMixin, field_errors, service_create_schema
from radimmuno.lazy import lazy_import

from .. import selectors, services
from ..filtersets import (
    ExtractionProfileFilterSet,
    FeatureSetFilterSet,
    IngestJobFilterSet,
    LesionFilterSet,
    MeasurementFilterSet,
    QuarantinedFileFilterSet,
    SegmentationFilterSet,
    SegmentFilterSet,
    SeriesFilterSet,
    StudyFilterSet,
    TimepointFilterSet,
)
from ..models import (
    ExtractionProfile,
    FeatureSet,
    IngestJob,
    Lesion,
    LesionMeasurement,
    Segment,
    Segmentation,
    Series,
    Study,
    Timepoint,
)
from ..choices import IngestSource
from .serializers import (
    ExtractionProfileSerializer,
    FeatureSetDetailSerializer,
    FeatureSetSerializer,
    FeatureValueSerializer,
    IngestJobSerializer,
    LesionSerializer,
    MeasurementSerializer,
    QuarantinedFileSerializer,
    SegmentAcceptSerializer,
    SegmentationSerializer,
    SegmentOverrideSerializer,
    SegmentSerializer,
    SeriesSerializer,
    StudySerializer,
    TimepointSerializer,
    UploadSerializer,
)

ingest = lazy_import("imaging.ingest")  # pydicom, highdicom: loaded by the first upload


class IngestJobViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Ingest jobs. ``POST`` multipart ``files`` (DICOM files, zips, label maps) to upload: the answer (202) is
    the job, whose ``status`` and counters can be polled at its ``url``."""

    serializer_class = IngestJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = IngestJobFilterSet

    queryset = IngestJob.objects.order_by("-created_at", "-pk")  # own jobs only (accounts.access.OWNER_PATHS)
    permission_classes = [OwnRowsPermissions]  # an uploader reads the jobs they started; POST: add_ingestjob

    def get_serializer_class(self):
        return UploadSerializer if self.action == "create" else IngestJobSerializer

    def create(self, request, *args, **kwargs):
        upload = UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        try:
            job = ingest.upload_job_create(
                files=data["files"], user=request.user, source=IngestSource.API,
                options={"resample": data["resample"], "reference_series_uid": data["reference_series_uid"]},
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        body = IngestJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class SeriesViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored series with their acquisition attributes and volume check."""

    serializer_class = SeriesSerializer
    queryset = Series.objects.select_related("study__patient", "study__timepoint").order_by("pk")
    filterset_class = SeriesFilterSet


class SegmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Lesion segments with the RECIST measurement derived from each. ``accept`` records it as the lesion's
    measurement (source "segmentation"); ``override`` records the clinician's own size instead."""

    serializer_class = SegmentSerializer
    permission_classes = [ReadThenActionPermissions]  # accept / override check the measurement permission
    queryset = Segment.objects.select_related("lesion", "segmentation__image_series").order_by("pk")
    filterset_class = SegmentFilterSet

    def _review(self, request, pk, input_serializer, call):
        segment = self.get_object()
        if not request.user.has_perm("imaging.change_lesionmeasurement"):
            self.permission_denied(request, message="Recording measurements needs the change-measurement right.")
        payload = input_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            call(segment, payload.validated_data)
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        segment.refresh_from_db()
        return Response(SegmentSerializer(segment, context={"request": request}).data)

    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._review(request, pk, SegmentAcceptSerializer, lambda s, d: services.segment_measurement_accept(
            segment=s, user=request.user, replace_manual=d["replace_manual"]))

    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        return self._review(request, pk, SegmentOverrideSerializer, lambda s, d: services.segment_measurement_override(
            segment=s, user=request.user, size_mm=d["size_mm"]))


class QuarantineViewSet(viewsets.ReadOnlyModelViewSet):
    """Open quarantined files (curators): what could not be ingested and why."""

    serializer_class = QuarantinedFileSerializer
    filterset_class = QuarantinedFileFilterSet

    def get_queryset(self):
        return selectors.quarantine_open().order_by("-created_at")


class FeatureSetViewSet(viewsets.ReadOnlyModelViewSet):
    """Radiomics feature sets: one per lesion mask (segment), profile version and region, with the extraction's
    status. The list leaves out the features themselves; a feature set's ``url`` has them, with pyradiomics'
    diagnostics, the provenance (library versions, parameter hash, input hashes) and the timings."""

    queryset = FeatureSet.objects.select_related(
        "profile", "segment__lesion", "segment__segmentation__image_series__study__patient").order_by("pk")
    filterset_class = FeatureSetFilterSet

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.defer("features", "diagnostics", "provenance", "timings")
        return queryset

    def get_serializer_class(self):
        return FeatureSetDetailSerializer if self.action == "retrieve" else FeatureSetSerializer


class StudyViewSet(viewsets.ReadOnlyModelViewSet):
    """DICOM studies, each attached to the patient's assessment on its date."""

    serializer_class = StudySerializer
    queryset = Study.objects.select_related("patient").annotate(series_count=Count("series")).order_by("pk")
    filterset_class = StudyFilterSet


class _ServiceWriteViewSet(ServiceCreateMixin, viewsets.ReadOnlyModelViewSet):
    pass


@service_create_schema(TimepointSerializer)
class TimepointViewSet(_ServiceWriteViewSet):
    """Imaging assessments (timepoints). POST: the patient's assessment on that date, created or updated
    (``timepoint_upsert``, as the lesion table's "Add an assessment")."""

    serializer_class = TimepointSerializer
    queryset = Timepoint.objects.select_related("patient").order_by("patient_id", "date")
    filterset_class = TimepointFilterSet

    def perform_write(self, data):
        return services.timepoint_upsert(**data)


@service_create_schema(LesionSerializer)
class LesionViewSet(_ServiceWriteViewSet):
    """Lesions followed over time. POST creates one (``lesion_create``, as "Add a lesion")."""

    serializer_class = LesionSerializer
    queryset = Lesion.objects.select_related("patient").order_by("patient_id", "label")
    filterset_class = LesionFilterSet

    def perform_write(self, data):
        return services.lesion_create(**data), True


class MeasurementPagination(pagination.CursorPagination):
    """Measurements are the large table: a cursor (stable while rows are added) in the order they were stored."""

    ordering = "pk"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@service_create_schema(MeasurementSerializer)
class MeasurementViewSet(_ServiceWriteViewSet):
    """Lesion measurements (cursor-paginated). POST records a lesion's size or status at an assessment, or corrects
    it (``measurement_enter``, as the lesion table's cell: a segmentation's proposed size there is overridden); the
    patient's response is recomputed after the commit."""

    serializer_class = MeasurementSerializer
    queryset = LesionMeasurement.objects.select_related("lesion", "timepoint", "recorded_by")
    filterset_class = MeasurementFilterSet
    pagination_class = MeasurementPagination

    def perform_write(self, data):
        existed = LesionMeasurement.objects.filter(lesion=data["lesion"], timepoint=data["timepoint"]).exists()
        data["expected_version"] = data.pop("version", None)
        measurement = services.measurement_enter(user=self.request.user, **data)
        return measurement, not existed


class SegmentationViewSet(viewsets.ReadOnlyModelViewSet):
    """Segmentation objects (DICOM SEG, RTSTRUCT, label maps) with their segments."""

    serializer_class = SegmentationSerializer
    queryset = Segmentation.objects.select_related("image_series__study__patient").prefetch_related(
        "segments").order_by("pk")
    filterset_class = SegmentationFilterSet


class ExtractionProfileViewSet(viewsets.ReadOnlyModelViewSet):
    """Radiomics extraction profiles: every version, with its pyradiomics parameters and their hash."""

    serializer_class = ExtractionProfileSerializer
    queryset = ExtractionProfile.objects.order_by("name", "version")
    filterset_class = ExtractionProfileFilterSet


class FeatureSetCursor(pagination.CursorPagination):
    """Pages of finished feature sets, each expanded to one record per feature: 5 sets by default, up to 100."""

    ordering = "pk"
    page_size = 5
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema_view(list=extend_schema(
    summary="Radiomic feature values in long format",
    parameters=[OpenApiParameter("feature", str, description="Feature name pattern(s), e.g. original_glcm_* "
                                                             "(shell patterns, comma-separated)"),
                OpenApiParameter("page_size", int, description="Feature sets per page (1-100; default 5)")],
    responses=FeatureValueSerializer(many=True)))
class FeatureValueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Radiomic feature values, one record per feature of each finished feature set (long format, cursor-paginated
    by feature set): filter as the feature sets (patient, series, segment, profile, region) and by a feature-name
    pattern."""

    filterset_class = FeatureSetFilterSet
    pagination_class = FeatureSetCursor
    serializer_class = FeatureValueSerializer

    def get_queryset(self):
        return FeatureSet.objects.filter(status="done").select_related(*selectors.FEATURE_SET_CONTEXT)

    def list(self, request, *args, **kwargs):
        sets = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        records = list(selectors.feature_values_long(sets, feature_pattern=request.query_params.get("feature")))
        return self.get_paginated_response(self.get_serializer(records, many=True).data)
