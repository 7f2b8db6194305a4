from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from radimmuno.lazy import lazy_import

from .. import selectors, services
from ..filtersets import (
    FeatureSetFilterSet,
    IngestJobFilterSet,
    QuarantinedFileFilterSet,
    SegmentFilterSet,
    SeriesFilterSet,
)
from ..models import FeatureSet, IngestJob, Segment, Series
from ..choices import IngestSource
from .serializers import (
    FeatureSetDetailSerializer,
    FeatureSetSerializer,
    IngestJobSerializer,
    QuarantinedFileSerializer,
    SegmentAcceptSerializer,
    SegmentOverrideSerializer,
    SegmentSerializer,
    SeriesSerializer,
    UploadSerializer,
)

ingest = lazy_import("imaging.ingest")  # pydicom, highdicom: loaded by the first upload


class CanIngest(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or request.user.has_perm("imaging.add_ingestjob")


def _validation(exc):
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class IngestJobViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Ingest jobs. ``POST`` multipart ``files`` (DICOM files, zips, label maps) to upload: the answer (202) is
    the job, whose ``status`` and counters can be polled at its ``url``."""

    serializer_class = IngestJobSerializer
    permission_classes = [permissions.IsAuthenticated, CanIngest]
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = IngestJobFilterSet

    def get_queryset(self):
        qs = IngestJob.objects.all()
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return qs.none()
        if not self.request.user.is_staff:
            qs = qs.filter(started_by=self.request.user)
        return qs

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
            raise _validation(exc) from exc
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
            raise _validation(exc) from exc
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
    permission_classes = [permissions.IsAdminUser]
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
