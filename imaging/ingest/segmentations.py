"""Segmentation objects (DICOM SEG, RTSTRUCT) and label maps (NIfTI, NRRD, MHA): the image series each was drawn
on, its masks on that series' grid, and one Segment per mask with its RECIST measurement, each object written in
one transaction. A mask drawn on a series that is not stored yet waits in quarantine (``waiting_masks``) and is
re-tried when that series is complete."""
from __future__ import annotations

import logging
from pathlib import Path

import SimpleITK as sitk
from django.db import transaction
from django.db.models import F

from .. import storage
from ..choices import QuarantineReason as R
from ..choices import LesionMapping, ProposalStatus, QuarantineStatus, SegmentationKind, VolumeStatus
from ..compute.dicom_headers import IMAGE_SOP_CLASSES, DicomHeaderError, load_dataset
from ..compute.recist import recist_measure
from ..compute.segmentation import (
    GeometryMismatchError,
    SegmentationError,
    UnknownReferenceError,
    check_geometry,
    read_label_map,
    read_rtstruct_masks,
    read_seg_masks,
)
from ..compute.volume import Geometry, VolumeAssemblyError
from ..models import Lesion, QuarantinedFile, Segment, Segmentation, Series
from .inputs import SEGMENTATION_SOP_CLASSES, label_map_suffix
from .outcomes import DUPLICATE, STORED, Outcome, database_unavailable
from .records import clip, instance_row, match_lesion, series_layout

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """Raised inside this layer when an object cannot be placed; its callers get the Outcome."""

    def __init__(self, code, reason):
        self.outcome = Outcome.refused(code, reason)
        super().__init__(reason)


def waiting_masks(series_uids):
    """Quarantined segmentation objects waiting for one of these image series to be stored."""
    return QuarantinedFile.objects.filter(status=QuarantineStatus.OPEN, reason_code=R.UNKNOWN_REFERENCE,
                                          referenced_series_uid__in=series_uids)


class Segmentations:
    """The segmentation objects and label maps of one run.

    Parameters
    ----------
    job : IngestJob
        The run's status row.
    placement, quarantine, tally
        The run's rows (``Placement``), its quarantine (``Quarantine``) and its counts (``Tally``).
    resample : bool
        Allow resampling a label map whose grid differs from the only candidate series (recorded).
    reference_series_uid : str, optional
        The series label maps in this run belong to.
    """

    def __init__(self, job, *, placement, quarantine, tally, resample=False, reference_series_uid=""):
        self.job, self.placement, self.quarantine, self.tally = job, placement, quarantine, tally
        self.resample = resample
        self.reference_series_uid = reference_series_uid
        self._layouts = {}

    def _layout(self, series, known=None):
        if series.pk not in self._layouts:
            self._layouts[series.pk] = series_layout(series, known=(known or {}).get(series.pk))
        return self._layouts[series.pk]

    # -- DICOM SEG and RTSTRUCT ----------------------------------------------------------------------------------
    def ingest_object(self, received, *, known=None):
        """One SEG or RTSTRUCT (stored as ``received.name``): its masks and segments, or quarantined with its
        reason. ``known``: series pk -> this run's headers (see ``series_layout``). Returns the Outcome."""
        h = received.header
        kind = SEGMENTATION_SOP_CLASSES[h["sop_class_uid"]]
        referenced = []
        hold = self.quarantine.hold_received
        try:
            source = storage.stored_source(received.name)
            ds = load_dataset(source)
            referenced = _referenced_series_uids(ds)
            image_series = self._reference_series(referenced, h)
            if image_series is None:
                raise _Refused(
                    R.UNKNOWN_REFERENCE,
                    f"this {h['sop_class_name']} was drawn on series {', '.join(referenced) or '(none named)'}, "
                    "which is not stored; it is re-tried automatically when that series arrives",
                )
            patient = self.placement.patient_for(h)
            if isinstance(patient, Outcome):
                return hold(received, patient)
            if image_series.study.patient_id != patient.pk:
                raise _Refused(
                    R.PATIENT_MISMATCH,
                    f"its image series belongs to patient {image_series.study.patient}, but its Patient ID "
                    f"to {patient}",
                )
            if image_series.volume_status == VolumeStatus.FAILED:
                raise _Refused(
                    R.UNKNOWN_REFERENCE,
                    f"its image series {image_series.series_instance_uid} is not a usable volume "
                    f"({image_series.volume_message}); it is re-tried when that series is complete",
                )
            layout = self._layout(image_series, known)
            reader = read_seg_masks if kind == SegmentationKind.SEG else read_rtstruct_masks
            masks = reader(source, layout)
            segments = self._segments(masks, layout, patient)
            with transaction.atomic():
                home = self.placement.place(h, patient)
                if isinstance(home, Outcome):  # refused before any row was written
                    return hold(received, home)
                _, own_series = home
                instance = instance_row(received, own_series, self.job)
                instance.save()
                Series.objects.filter(pk=own_series.pk).update(instance_count=F("instance_count") + 1)
                segmentation = Segmentation.objects.create(
                    kind=kind, image_series=image_series, instance=instance, file=received.name,
                    sha256=received.sha256, original_name=clip(received.label, 500),
                    label=clip(h["series_description"] or ds.get("ContentLabel", ""), 255), notes=masks.notes,
                    job=self.job,
                )
                self._save_segments(segmentation, segments)
            self.tally.count("stored")
            return Outcome(STORED)
        except _Refused as exc:
            self.placement.forget()
            ref = exc.outcome.code == R.UNKNOWN_REFERENCE and (referenced[0] if referenced else "")
            return hold(received, exc.outcome, referenced_series_uid=ref or "")
        except UnknownReferenceError as exc:
            return hold(received, Outcome.refused(R.UNKNOWN_REFERENCE, str(exc)),
                        referenced_series_uid=referenced[0] if referenced else "")
        except GeometryMismatchError as exc:
            return hold(received, Outcome.refused(R.GEOMETRY_MISMATCH, str(exc)))
        except (SegmentationError, DicomHeaderError, VolumeAssemblyError) as exc:
            return hold(received, Outcome.refused(R.SEGMENTATION_ERROR, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the file
            if database_unavailable(exc):  # not this file's fault: the run is re-run, the file is kept
                raise
            logger.exception("segmentation %s failed", received.label)
            self.placement.forget()
            return hold(received, Outcome.refused(R.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))

    def _reference_series(self, referenced, h):
        qs = Series.objects.filter(sop_class_uid__in=IMAGE_SOP_CLASSES).select_related("study__patient")
        if referenced:
            return qs.filter(series_instance_uid__in=referenced).first()
        if h["frame_of_reference_uid"]:
            candidates = list(qs.filter(frame_of_reference_uid=h["frame_of_reference_uid"],
                                        study__study_instance_uid=h["study_instance_uid"])[:2])
            if len(candidates) == 1:
                return candidates[0]
        return None

    # -- label maps ----------------------------------------------------------------------------------------------
    def ingest_label_map(self, name, sha, size, label, *, candidates):
        """One stored label map, drawn on one of the image series ``candidates`` (those of its run) or on the
        run's reference series. Returns the Outcome."""
        if Segmentation.objects.filter(kind=SegmentationKind.LABEL_MAP, sha256=sha).exists():
            self.tally.count("duplicates")
            return Outcome(DUPLICATE)
        hold = self.quarantine.hold
        try:
            with storage.local_copy(name, suffix=label_map_suffix(name) or "") as path:  # SimpleITK reads paths
                reader = sitk.ImageFileReader()
                reader.SetFileName(path)
                try:
                    reader.ReadImageInformation()
                except RuntimeError as exc:
                    raise SegmentationError(
                        f"SimpleITK cannot read this label map ({str(exc).strip()[:300]})") from exc
                if reader.GetDimension() != 3:
                    raise SegmentationError(f"expected a 3-D label map, got {reader.GetDimension()}-D")
                grid = Geometry(size=tuple(reader.GetSize()), origin=tuple(reader.GetOrigin()),
                                spacing=tuple(reader.GetSpacing()), direction=tuple(reader.GetDirection()))
                series, resample = self._label_map_series(grid, candidates)
                if Segmentation.objects.filter(image_series=series, sha256=sha).exists():
                    self.tally.count("duplicates")
                    return Outcome(DUPLICATE)
                layout = self._layout(series)
                masks = read_label_map(path, layout, resample=resample)
            segments = self._segments(masks, layout, series.study.patient)
            with transaction.atomic():
                segmentation = Segmentation.objects.create(
                    kind=SegmentationKind.LABEL_MAP, image_series=series, file=name, sha256=sha,
                    original_name=clip(label, 500), label=clip(Path(label.split("!")[-1]).name, 255),
                    resampled=masks.resampled, notes=masks.notes, job=self.job,
                )
                self._save_segments(segmentation, segments)
            self.tally.count("stored")
            return Outcome(STORED)
        except _Refused as exc:
            return hold(name, sha, size, label, exc.outcome)
        except GeometryMismatchError as exc:
            return hold(name, sha, size, label, Outcome.refused(R.GEOMETRY_MISMATCH, str(exc)))
        except (SegmentationError, VolumeAssemblyError, DicomHeaderError) as exc:
            return hold(name, sha, size, label, Outcome.refused(R.SEGMENTATION_ERROR, str(exc)))
        except Exception as exc:  # noqa: BLE001
            if database_unavailable(exc):
                raise
            logger.exception("label map %s failed", label)
            return hold(name, sha, size, label, Outcome.refused(R.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))

    def _label_map_series(self, grid, candidates):
        """The image series a label map belongs to: the given one, else the one of this run on the same grid."""
        if self.reference_series_uid:
            series = Series.objects.filter(series_instance_uid=self.reference_series_uid).first()
            if series is None or not series.geometry:
                raise _Refused(R.NO_REFERENCE_SERIES,
                               f"reference series {self.reference_series_uid} is not stored as a usable volume")
            candidates = [series]
        candidates = [s for s in candidates if s.is_image and s.geometry]
        if not candidates:
            raise _Refused(
                R.NO_REFERENCE_SERIES,
                "a label map must come with the image series it was drawn on (in the same upload/import) or "
                "name its reference series; no usable image series came with this one",
            )
        matching, problems = [], []
        for s in candidates:
            try:
                check_geometry(grid, storage.geometry_from_dict(s.geometry), what="label map", allow_reindexing=True)
                matching.append(s)
            except GeometryMismatchError as exc:
                problems.append(f"series {s.series_instance_uid} ({s.series_description}): {exc}")
        if len(matching) == 1:
            return matching[0], False
        if len(matching) > 1:
            raise _Refused(
                R.NO_REFERENCE_SERIES,
                "the label map's grid matches several series (" + ", ".join(s.series_instance_uid for s in matching)
                + "); name the reference series",
            )
        if self.resample and len(candidates) == 1:
            return candidates[0], True
        raise GeometryMismatchError(
            "the label map's voxel grid matches none of the image series it came with - "
            + " | ".join(problems) + ". Resampling is only done on request (resample option), and recorded",
            {},
        )

    # -- segments ------------------------------------------------------------------------------------------------
    def _segments(self, masks, layout, patient):
        """Unsaved Segment rows, with their masks stored, for a MaskSet on ``layout``'s grid."""
        lesions = {lesion.label.strip().lower(): lesion for lesion in Lesion.objects.filter(patient=patient)}
        geometry = layout.geometry
        out = []
        for label, mask in masks.masks.items():
            lesion = match_lesion(label, lesions)
            voxels = int(mask.sum())
            mask_name, mask_sha = storage.store_mask(mask, geometry)
            segment = Segment(
                number=masks.numbers[label], label=clip(label, 128), lesion=lesion,
                lesion_mapping=LesionMapping.LABEL if lesion else LesionMapping.UNMATCHED,
                mask_file=mask_name, mask_sha256=mask_sha, voxel_count=voxels,
                volume_mm3=voxels * geometry.voxel_volume_mm3,
                proposal_status=ProposalStatus.PROPOSED if voxels else ProposalStatus.EMPTY,
            )
            if voxels:
                m = recist_measure(mask, geometry.spacing)
                segment.long_axis_mm, segment.short_axis_mm = m.long_axis_mm, m.short_axis_mm
                segment.slice_index, segment.area_mm2 = m.slice_index, m.area_mm2
                segment.components_on_slice = m.components_on_slice
                segment.axis_endpoints = {"long": [list(p) for p in m.long_axis_endpoints],
                                          "short": [list(p) for p in m.short_axis_endpoints]}
            out.append(segment)
        return out

    def _save_segments(self, segmentation, segments):
        for segment in segments:
            segment.segmentation = segmentation
            segment.save()  # one by one: history rows, and post_save for whoever listens (radiomics)
        self.tally.segmentation(segmentation.pk)


def _referenced_series_uids(ds):
    uids = [str(i.SeriesInstanceUID) for i in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in i]
    for ref_for in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in ref_for.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series:
                    uids.append(str(series.SeriesInstanceUID))
    return list(dict.fromkeys(uids))
