"""The ingest service through ``import_dicom``: study/series/volume/segmentations, duplicates, conflicts,
bad input kept in quarantine with its reason, unknown patients, masks waiting for their series, label maps."""
import io
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from django.core.management import call_command
from django.test import override_settings
from pydicom.data import get_testdata_file

from imaging import selectors, services
from imaging.ingest import curation
from imaging.models import (
    IngestJob,
    Instance,
    LesionMeasurement,
    QuarantinedFile,
    Segment,
    Segmentation,
    Series,
    Study,
    Timepoint,
)
from patients.models import PatientIdentity
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

pytestmark = pytest.mark.django_db


def import_dicom(*paths, **options):
    out = io.StringIO()
    call_command("import_dicom", *map(str, paths), no_progress=True, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def study(tmp_path):
    return write_study(tmp_path / "study")


def test_import_builds_study_series_volume_and_segmentations(study):
    patient = patient_with_mrn()
    report = import_dicom(study.root)
    assert "stored:      15" in report  # 12 slices + SEG + RTSTRUCT + label map
    s = Study.objects.get()
    assert s.patient == patient and s.study_date.isoformat() == "2024-03-01"
    assert s.timepoint == Timepoint.objects.get(patient=patient) and s.timepoint.kind == "unscheduled"
    ct = Series.objects.get(series_instance_uid=study.series_uid)
    assert (ct.modality, ct.instance_count, ct.volume_status, ct.convolution_kernel) == ("CT", 12, "ok", "B30f")
    assert ct.geometry["size"] == [48, 48, 12] and ct.geometry["spacing"] == [4.0, 4.0, 5.0]
    assert ct.pixel_spacing_row_mm == 4.0 and ct.kvp == 120.0 and ct.manufacturer == "radimmuno"
    volume = selectors.series_volume(ct)
    assert np.array_equal(volume.array, study.syn.array) and volume.units == "HU"
    # the originals are stored unchanged under their SHA-256
    instance = Instance.objects.filter(series=ct).first()
    assert instance.file.name == f"dicom/{instance.sha256[:2]}/{instance.sha256[2:4]}/{instance.sha256}.dcm"
    original = next(p for p in study.ct_paths if pydicom.dcmread(p).SOPInstanceUID == instance.sop_instance_uid)
    assert instance.file.read() == original.read_bytes()
    # three segmentations, one per format, with the same masks and the same RECIST numbers
    assert sorted(Segmentation.objects.values_list("kind", flat=True)) == ["labelmap", "rtstruct", "seg"]
    by_kind = {}
    for segment in Segment.objects.select_related("segmentation", "lesion"):
        by_kind.setdefault(segment.segmentation.kind, {})[segment.number] = segment
    for kind in ("seg", "rtstruct", "labelmap"):
        mask = sitk.GetArrayFromImage(selectors.segment_mask(by_kind[kind][1]))
        assert np.array_equal(mask.astype(bool), study.syn.label_array == 1), kind
    t1 = by_kind["seg"][1]
    assert t1.lesion.label == "T1" and t1.lesion_mapping == "label" and t1.proposal_status == "proposed"
    assert by_kind["seg"][2].lesion.label == "N1"  # "N1 node" → N1 by its first word
    assert by_kind["labelmap"][1].lesion is None and by_kind["labelmap"][1].lesion_mapping == "unmatched"
    assert 28 <= t1.long_axis_mm <= 28 + 4 * 1.5 and t1.volume_mm3 == pytest.approx(t1.voxel_count * 80.0)
    assert {s.mask_sha256 for s in (by_kind["seg"][1], by_kind["rtstruct"][1], by_kind["labelmap"][1])} == {
        t1.mask_sha256}
    assert not LesionMeasurement.objects.exists()  # offered, not written


def test_same_files_again_are_a_no_op_and_other_content_is_a_conflict(study, tmp_path):
    patient_with_mrn()
    import_dicom(study.root)
    counts = (Instance.objects.count(), Segment.objects.count())
    report = import_dicom(study.root)
    assert "stored:      0" in report and "duplicates:  15" in report
    assert (Instance.objects.count(), Segment.objects.count()) == counts
    changed = pydicom.dcmread(study.ct_paths[0])
    changed.SeriesDescription = "edited elsewhere"
    changed.save_as(tmp_path / "conflict.dcm")
    stored_before = Instance.objects.get(sop_instance_uid=changed.SOPInstanceUID).file.read()
    report = import_dicom(tmp_path / "conflict.dcm")
    assert "conflicts:   1" in report
    q = QuarantinedFile.objects.get(reason_code="conflict")
    assert changed.SOPInstanceUID in q.reason and q.file.read() == (tmp_path / "conflict.dcm").read_bytes()
    assert Instance.objects.get(sop_instance_uid=changed.SOPInstanceUID).file.read() == stored_before


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("MR_truncated.dcm", "truncated"),
        ("rtplan_truncated.dcm", "truncated"),
        ("no_meta.dcm", "not_dicom"),
        ("meta_missing_tsyntax.dcm", "missing_attributes"),
        ("rtdose.dcm", "unsupported_sop_class"),
        ("test-SR.dcm", "unsupported_sop_class"),
    ],
)
def test_pydicom_malformed_files_are_quarantined_with_their_reason(name, code, tmp_path):
    shutil.copy(get_testdata_file(name), tmp_path / name)
    report = import_dicom(tmp_path / name)
    assert "rejected:    1" in report and name in report
    q = QuarantinedFile.objects.get()
    assert q.reason_code == code and q.reason and q.status == "open"
    assert q.file.read() == (tmp_path / name).read_bytes()  # the file is kept as it was
    assert not (Instance.objects.exists() or Series.objects.exists() or Study.objects.exists())


def test_each_file_gets_its_own_outcome_while_the_indexer_quarantines_others(study):
    """Defect 5: the listener read a shared ``last_problem`` after ``add_bytes`` while the indexer thread could
    overwrite it, so a rejected file could be answered with another file's status and comment."""
    from imaging.ingest import Ingest, Outcome

    job = IngestJob.objects.create(source="network", status="running")
    ingest = Ingest(job)
    truncated = open(get_testdata_file("MR_truncated.dcm"), "rb").read()
    rtdose = open(get_testdata_file("rtdose.dcm"), "rb").read()
    real_hold = ingest.quarantine.hold

    def quarantine_then_the_indexer_quarantines_another(*args, **kwargs):
        held = real_hold(*args, **kwargs)
        real_hold("other", "0" * 64, 1, "another file", Outcome.refused("unknown_patient", "another file's reason"))
        return held

    ingest.quarantine.hold = quarantine_then_the_indexer_quarantines_another
    first, second = ingest.add_bytes(truncated, "a"), ingest.add_bytes(rtdose, "b")
    ingest.quarantine.hold = real_hold
    ingest.finish()
    assert (first.kind, first.code) == ("rejected", "truncated") and "another" not in first.reason
    assert (second.kind, second.code) == ("rejected", "unsupported_sop_class")


def test_bad_files_in_a_zip_and_no_pixel_data(study, tmp_path):
    import zipfile

    patient_with_mrn()
    nopix = pydicom.dcmread(study.ct_paths[0])
    del nopix.PixelData
    nopix.SOPInstanceUID = "1.2.3.4.5.6.7"
    nopix.save_as(tmp_path / "nopix.dcm")
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in study.ct_paths:
            z.write(p, f"study/ct/{p.name}")
        z.write(tmp_path / "nopix.dcm", "study/nopix.dcm")
        z.writestr("study/notes.txt", "not a scan")
        z.writestr("__MACOSX/._junk", "x")
    report = import_dicom(archive)
    assert "stored:      12" in report and "rejected:    2" in report
    assert set(QuarantinedFile.objects.values_list("reason_code", flat=True)) == {"no_pixel_data", "not_dicom"}
    assert QuarantinedFile.objects.get(reason_code="no_pixel_data").original_name.endswith("upload.zip!study/nopix.dcm")
    assert Series.objects.get().instance_count == 12


def test_unknown_patient_is_quarantined_then_assigned_by_a_curator(study, curator):
    report = import_dicom(study.ct_dir)
    assert "quarantined: 12" in report and not Study.objects.exists()
    files = QuarantinedFile.objects.filter(reason_code="unknown_patient")
    assert files.count() == 12 and set(files.values_list("dicom_patient_id", flat=True)) == {"MRN-IMG-1"}
    # the MRN is kept for curators in its own field, never in messages, reports or job summaries
    assert "MRN-IMG-1" not in report and not any("MRN-IMG-1" in r for r in files.values_list("reason", flat=True))
    assert "MRN-IMG-1" not in str(IngestJob.objects.get().summary)
    from tests.factories import PatientFactory

    patient = PatientFactory(study_id="LATE-1")
    job = curation.quarantine_assign_patient(quarantined=files, patient=patient, user=curator)
    assert job.status == "done" and job.stored == 12
    assert Series.objects.get().study.patient == patient
    assert PatientIdentity.objects.get(patient=patient).mrn == "MRN-IMG-1"  # next scans match by themselves
    assert set(QuarantinedFile.objects.values_list("status", "resolved_by")) == {("resolved", curator.pk)}


def test_a_retry_that_fails_for_the_same_reason_keeps_the_entry_open(study, curator):
    """Defect 1: the entry was closed as "quarantined again (see the newer entry)" with no newer entry, so the
    file silently left the curators' queue."""
    import_dicom(study.ct_dir)
    files = QuarantinedFile.objects.filter(reason_code="unknown_patient")
    first = list(files.order_by("pk"))
    job = curation.quarantine_retry(quarantined=files, user=curator)  # the patient is still unknown
    assert job.status == "done" and job.quarantined == 12
    assert list(QuarantinedFile.objects.order_by("pk")) == first  # no new entries ...
    assert set(QuarantinedFile.objects.values_list("status", flat=True)) == {"open"}  # ... and none left the queue
    patient_with_mrn()  # the cause is fixed: now the retry ingests them
    curation.quarantine_retry(quarantined=files, user=curator)
    assert set(QuarantinedFile.objects.values_list("status", "resolution")) == {
        ("resolved", f"re-tried (job #{IngestJob.objects.latest('pk').pk}): ingested")}
    assert Instance.objects.count() == 12


@override_settings(RADIMMUNO_AUTO_CREATE_PATIENTS=True, RADIMMUNO_AUTO_CREATE_SITE="RESEARCH")
def test_research_sites_can_auto_create_patients(study):
    import_dicom(study.ct_dir)
    identity = PatientIdentity.objects.get(mrn="MRN-IMG-1")
    assert identity.patient.site.code == "RESEARCH" and identity.patient.study_id.startswith("IMG-")
    assert "MRN-IMG-1" not in identity.patient.study_id  # pseudonymous
    assert Series.objects.get().study.patient == identity.patient


def test_segmentation_before_its_series_waits_in_quarantine_and_is_retried(study):
    patient_with_mrn()
    import_dicom(study.seg)
    q = QuarantinedFile.objects.get()
    assert q.reason_code == "unknown_reference" and q.referenced_series_uid == study.series_uid
    assert not Segmentation.objects.exists() and not Instance.objects.exists()  # nothing half-written
    import_dicom(study.ct_dir)
    q.refresh_from_db()
    assert q.status == "resolved" and "re-tried automatically" in q.resolution
    assert Segmentation.objects.get().kind == "seg" and Segment.objects.count() == 2


def test_a_stored_series_put_in_a_new_study_leaves_no_empty_study_behind(study, tmp_path):
    """Defect 8: the file was quarantined, but the Study (and timepoint) made for it stayed, without a series."""
    patient_with_mrn()
    import_dicom(study.ct_dir)
    ds = pydicom.dcmread(study.ct_paths[0])
    ds.StudyInstanceUID, ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyDate = "20250101"  # a date no timepoint has
    ds.save_as(tmp_path / "moved.dcm")
    timepoints = Timepoint.objects.count()
    import_dicom(tmp_path / "moved.dcm")
    q = QuarantinedFile.objects.get()
    assert q.reason_code == "patient_mismatch" and "UIDs are inconsistent" in q.reason
    assert Study.objects.count() == 1 and Timepoint.objects.count() == timepoints


def test_segmentation_of_another_series_is_rejected(study, tmp_path):
    patient_with_mrn()
    import_dicom(study.ct_dir)
    other = write_study(tmp_path / "other", entropy="other")
    import_dicom(other.rtstruct)
    q = QuarantinedFile.objects.get()
    assert q.reason_code == "unknown_reference" and other.series_uid in q.reason
    assert not Segmentation.objects.exists()


def test_label_map_on_another_grid_is_an_error_unless_resampling_is_asked(study, tmp_path):
    patient_with_mrn()
    shifted = sitk.Image(study.syn.label)
    shifted.SetOrigin(tuple(v + 2.0 for v in shifted.GetOrigin()))
    (tmp_path / "in").mkdir()
    shutil.copytree(study.ct_dir, tmp_path / "in" / "ct")
    sitk.WriteImage(shifted, str(tmp_path / "in" / "shifted.nii.gz"))
    report = import_dicom(tmp_path / "in")
    q = QuarantinedFile.objects.get()
    assert q.reason_code == "geometry_mismatch" and "origin" in q.reason and "resample" in report.lower()
    assert not Segmentation.objects.exists()
    import_dicom(tmp_path / "in", resample=True)
    segmentation = Segmentation.objects.get()
    assert segmentation.resampled and any("resampled" in n for n in segmentation.notes)


def test_pet_series_records_suv_attributes(tmp_path):
    import datetime as dt

    from tests.factories import IdentityFactory

    IdentityFactory(mrn="PET-1")
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.Modality, ds.PatientID, ds.PatientWeight = "PT", "PET-1", 75
    ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
    ds.SeriesDate, ds.SeriesTime = "20240301", "100000"
    ds.AcquisitionDate, ds.AcquisitionTime = "20240301", "100000"
    item = pydicom.Dataset()
    item.Radiopharmaceutical = "Fluorodeoxyglucose"
    item.RadionuclideTotalDose, item.RadionuclideHalfLife = 370e6, 6586.2
    item.RadiopharmaceuticalStartTime = "090000"
    ds.RadiopharmaceuticalInformationSequence = [item]
    ds.save_as(tmp_path / "pet.dcm")
    import_dicom(tmp_path / "pet.dcm")
    pet = Series.objects.get()
    assert (pet.modality, pet.radiopharmaceutical, pet.pet_units, pet.decay_correction) == (
        "PT", "Fluorodeoxyglucose", "BQML", "START")
    assert pet.radionuclide_total_dose_bq == 370e6 and pet.radiopharmaceutical_start == "09:00:00"
    expected = 75000 / (370e6 * 2 ** (-3600 / 6586.2))
    assert pet.suv_bw_factor == pytest.approx(expected, rel=1e-9), pet.volume_warnings
    assert pet.study.study_date == dt.date(2004, 1, 19)  # CT_small's study date


def test_accepting_and_overriding_the_derived_measurement(study, user):
    from django.core.exceptions import ValidationError

    patient_with_mrn()
    import_dicom(study.ct_dir, study.seg)
    t1 = Segment.objects.get(label="T1")
    node = Segment.objects.get(lesion__label="N1")
    measurement = services.segment_measurement_accept(segment=t1, user=user)
    assert measurement.source == "segmentation" and measurement.size_mm == t1.proposed_size_mm
    assert node.proposed_size_mm == pytest.approx(round(node.short_axis_mm, 1))  # a node: its short axis
    manual = services.segment_measurement_override(segment=node, user=user, size_mm=12)
    assert manual.source == "manual" and node.proposal_status == "overridden"
    node.proposal_status = "proposed"
    with pytest.raises(ValidationError, match="manual measurement"):
        services.segment_measurement_accept(segment=node, user=user)
    assert LesionMeasurement.objects.get(pk=manual.pk).size_mm == 12  # kept
    services.segment_measurement_accept(segment=node, user=user, replace_manual=True)
    assert LesionMeasurement.objects.get(pk=manual.pk).source == "segmentation"


def test_lung2_round_trips_and_its_masks_agree_through_ingest(lung2, lung2_dicom, tmp_path, pyradiomics_data):
    image, label = lung2
    from imaging.compute.writers import write_rtstruct, write_seg

    patient_with_mrn(mrn="LUNG2", lesions=(("T1", "lung", False),))
    import_dicom(*lung2_dicom.paths)
    ct = Series.objects.get()
    volume = selectors.series_volume(ct)
    assert np.array_equal(volume.array, sitk.GetArrayFromImage(image))
    assert np.allclose(volume.geometry.origin, image.GetOrigin(), atol=1e-4)
    assert np.allclose(volume.geometry.spacing, image.GetSpacing(), atol=1e-6)
    layout = selectors.series_layout(ct) if hasattr(selectors, "series_layout") else None
    from imaging.ingest import series_layout

    layout = series_layout(ct)
    write_seg(label, layout, tmp_path / "seg.dcm", segment_labels={1: "T1"})
    write_rtstruct(label, layout, tmp_path / "rts.dcm", roi_names={1: "T1"})
    shutil.copy(pyradiomics_data / "lung2_label.nrrd", tmp_path / "lung2_label.nrrd")
    import_dicom(tmp_path / "seg.dcm", tmp_path / "rts.dcm")
    import_dicom(tmp_path / "lung2_label.nrrd", reference_series=ct.series_instance_uid)
    source = sitk.GetArrayFromImage(label) == 1
    masks = {s.segmentation.kind: sitk.GetArrayFromImage(selectors.segment_mask(s)).astype(bool)
             for s in Segment.objects.select_related("segmentation")}
    assert set(masks) == {"seg", "rtstruct", "labelmap"}
    assert np.array_equal(masks["seg"], source) and np.array_equal(masks["labelmap"], source)
    dice = 2 * np.logical_and(masks["rtstruct"], source).sum() / (masks["rtstruct"].sum() + source.sum())
    assert dice >= 0.98
    mask_image = selectors.segment_mask(Segment.objects.get(segmentation__kind="seg"))
    assert mask_image.GetOrigin() == pytest.approx(image.GetOrigin(), abs=1e-4)
    assert IngestJob.objects.filter(status="done").count() == 3


def test_a_crashed_listener_job_is_re_run_from_its_spool(study):
    """The listener acknowledges files once they are in its spool; if it dies before indexing them, the
    reconciler's re-run of the job (the task) ingests them from the spool listed in the job's manifest."""
    from imaging.ingest import Ingest, job_manifest
    from imaging.tasks import ingest_job_run

    patient_with_mrn()
    job = IngestJob.objects.create(source="network", status="running", peer_ae_title="PACS")
    journal = open(job_manifest(job), "a", encoding="utf-8", buffering=1)
    ingest = Ingest(job, journal=journal, background=True, batch_size=1000)
    for path in study.ct_paths:
        assert ingest.add_bytes(path.read_bytes(), f"PACS {path.name}").kind == "stored"
    journal.close()  # ... and the process dies: nothing indexed
    ingest._indexer.shutdown()
    assert not Instance.objects.exists()
    assert ingest_job_run(job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.stored, job.files_total) == ("done", 12, 12)
    assert Series.objects.get().volume_status == "ok"
    assert not job_manifest(job).exists()
    assert ingest_job_run(job.pk) == "skipped"  # a redelivered task does nothing twice


@pytest.mark.django_db(transaction=True)
def test_acknowledged_files_survive_a_database_that_refuses_every_write(study, monkeypatch):
    """Defect 8: with the database write-locked past its timeout, the listener acknowledged files that ended
    neither stored nor quarantined, and the job ended "done" with its spool deleted. Now the run refuses to end
    done, keeps spool and manifest, and the reconciler's re-run (once the lock is gone) accounts for every file."""
    import datetime as dt

    from django.db import OperationalError
    from django.utils import timezone

    from imaging.ingest import Ingest, IngestIncomplete, job_manifest
    from imaging.ingest.records import Quarantine
    from radimmuno.jobs import reconcile

    patient_with_mrn()
    now = timezone.now()
    job = IngestJob.objects.create(source="network", status="running", started_at=now, heartbeat_at=now,
                                   claim_token="listener", generation=1, claimed_generation=1)
    journal = open(job_manifest(job), "a", encoding="utf-8", buffering=1)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(Ingest, "_index_group", locked)  # every write the indexer tries ...
    monkeypatch.setattr(Quarantine, "hold", locked)  # ... and the fallback that needs the same database
    ingest = Ingest(job, journal=journal, background=True, batch_size=4)
    outcomes = [ingest.add_bytes(path.read_bytes(), f"PACS {path.name}").kind for path in study.ct_paths]
    assert outcomes == ["stored"] * len(study.ct_paths)  # acknowledged to the sender
    with pytest.raises(IngestIncomplete, match=f"{len(study.ct_paths)} received file"):
        ingest.finish()
    ingest.abandon()
    journal.close()
    job.retry_later("locked")  # what the listener does with a failed finish
    spool = [line.split("\t")[0][6:] for line in job_manifest(job).read_text().splitlines() if line.startswith("spool:")]
    assert len(spool) == 1 and default_storage_exists(spool[0]) and not Instance.objects.exists()
    job.refresh_from_db()
    assert job.status == "pending" and job.error == "locked"

    monkeypatch.undo()  # the lock is released
    assert reconcile(now=timezone.now() + dt.timedelta(minutes=3))["imaging.IngestJob"] == 1  # (in-process task)
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert Instance.objects.count() == len(study.ct_paths)  # every acknowledged file stored
    assert not job_manifest(job).exists() and not default_storage_exists(spool[0])  # cleaned up only now


@pytest.mark.django_db(transaction=True)
def test_a_segmentation_under_a_passing_database_lock_is_kept_for_the_re_run_not_quarantined(study, monkeypatch):
    """A SEG whose transaction met a locked database was quarantined as "internal_error: database is locked" and
    the job ended done: a passing database problem became a curator's task. Now the run ends incomplete, keeps
    the spool, and its re-run stores the SEG."""
    import datetime as dt

    from django.db import OperationalError
    from django.utils import timezone

    from imaging.ingest import Ingest, IngestIncomplete, job_manifest
    from imaging.ingest.segmentations import Segmentations
    from imaging.models import Segmentation
    from radimmuno.jobs import reconcile

    patient_with_mrn()
    now = timezone.now()
    job = IngestJob.objects.create(source="network", status="running", started_at=now, heartbeat_at=now,
                                   claim_token="listener", generation=1, claimed_generation=1)
    journal = open(job_manifest(job), "a", encoding="utf-8", buffering=1)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(Segmentations, "_reference_series", locked)
    ingest = Ingest(job, journal=journal, background=True, batch_size=4)
    kinds = [ingest.add_bytes(path.read_bytes(), f"PACS {path.name}").kind for path in [*study.ct_paths, study.seg]]
    assert kinds == ["stored"] * len(study.ct_paths) + ["pending"]  # a SEG waits for the run's end
    with pytest.raises(IngestIncomplete, match="database was unavailable"):
        ingest.finish()
    ingest.abandon()
    journal.close()
    job.retry_later("locked")
    assert not QuarantinedFile.objects.exists() and not Segmentation.objects.exists()

    monkeypatch.undo()
    assert reconcile(now=timezone.now() + dt.timedelta(minutes=3))["imaging.IngestJob"] == 1
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert Segmentation.objects.get().kind == "seg" and not QuarantinedFile.objects.exists()
    assert Instance.objects.count() == len(study.ct_paths) + 1 and not job_manifest(job).exists()


def default_storage_exists(name):
    from django.core.files.storage import default_storage

    return default_storage.exists(name)


def test_a_zip_bomb_member_is_quarantined_and_the_members_after_it_still_read(study, tmp_path, settings):
    """Defect 8: members were read whole (a 1.5 MB zip with one 1.5 GB member took 2.35 GB), the job failed and
    the valid members after it were skipped."""
    import resource
    import zipfile

    settings.RADIMMUNO_INGEST_MAX_FILE_BYTES = 8 << 20
    patient_with_mrn()
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("bomb.dcm", "w", force_zip64=True) as member:
            for _ in range(200):  # 200 MB of zeros, ~200 KB compressed
                member.write(bytes(1 << 20))
        for path in study.ct_paths:
            z.write(path, f"ct/{path.name}")
    assert archive.stat().st_size < 2 * sum(p.stat().st_size for p in study.ct_paths) + (1 << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = import_dicom(archive)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, grown_mb  # the member was streamed, never held whole
    q = QuarantinedFile.objects.get()
    assert q.reason_code == "too_large" and q.size_bytes == 200 << 20 and "bomb.dcm" in q.original_name
    assert f"stored:      {len(study.ct_paths)}" in report  # every valid member after it
    assert q.file.size == 200 << 20  # kept as it was
