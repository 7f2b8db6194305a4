"""Issue 9, defect 8: files whose pixels cannot be decoded (a transfer syntax that does not match the data,
Rows 0, a 10-byte Pixel Data, Number of Frames 5 on a one-frame payload) were accepted and their series got
volume status "ok". Through ``import_dicom`` and through the DICOM listener, each is now quarantined as
"unreadable" with a reason that says what is wrong (``imaging.compute.pixels.pixel_data_problem``), the sender
gets a failure status, and the good series beside them is stored with its volume ok."""
import copy
import io
import os
import subprocess

import pydicom
import pytest
from django.core.management import call_command
from django.db.models import Q
from pydicom.uid import JPEGBaseline8Bit, generate_uid

from imaging.listener import Listener
from imaging.models import IngestJob, Instance, QuarantinedFile, Series
from tests.imaging.test_compute_pixels import relabelled
from tests.imaging.test_ingest_helpers import patient_with_mrn, require_dcmtk, write_study

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("vocabularies")]

#: file name -> what the quarantine reason says about it
EXPECTED_REASONS = {
    "ten_bytes.dcm": "Pixel Data holds 10 bytes; 48×48×1 frame×16 bits needs 4,608 bytes",
    "rows_zero.dcm": "Rows is 0",
    "five_frames.dcm": "Pixel Data holds 4,608 bytes; 48×48×5 frames×16 bits needs 23,040 bytes",
    "jpeg_label.dcm": "JPEG Baseline (Process 1) says the pixel data is compressed",
}


def _corrupt_copies(slice_path, out):
    """One corrupt copy of a good slice per kind of defect 8, each an instance of its own one-slice series."""
    out.mkdir()
    good = pydicom.dcmread(slice_path)
    assert (good.Rows, good.Columns, good.BitsAllocated) == (48, 48, 16)

    def variant(name, change):
        ds = copy.deepcopy(good)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        change(ds)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        (out / name).write_bytes(buffer.getvalue())
        return ds

    variant("ten_bytes.dcm", lambda ds: setattr(ds, "PixelData", b"\x00" * 10))
    variant("rows_zero.dcm", lambda ds: setattr(ds, "Rows", 0))
    variant("five_frames.dcm", lambda ds: setattr(ds, "NumberOfFrames", 5))
    variant("jpeg_label.dcm", lambda ds: None)
    path = out / "jpeg_label.dcm"
    path.write_bytes(relabelled(path.read_bytes(), JPEGBaseline8Bit))
    return {name: pydicom.dcmread(out / name, stop_before_pixels=True).SOPInstanceUID for name in EXPECTED_REASONS}


def _assert_quarantined_as_unreadable(uids, names):
    for name in names:
        # by its SOP Instance UID, or by its label (import: the path; listener: "<calling AE> <SOP Instance UID>")
        q = QuarantinedFile.objects.filter(
            Q(sop_instance_uid=uids[name]) | Q(original_name__endswith=f"/{name}")
            | Q(original_name__endswith=f" {uids[name]}")).first()
        assert q is not None, f"{name} was not quarantined"
        assert (q.reason_code, q.status) == ("unreadable", "open"), name
        assert EXPECTED_REASONS[name] in q.reason, (name, q.reason)
    assert not Instance.objects.filter(sop_instance_uid__in=[uids[n] for n in names]).exists()
    assert not Series.objects.exclude(instance_count=12).exists()  # no series made of a corrupt file


def _good_series_stored(study):
    ct = Series.objects.get(series_instance_uid=study.series_uid)
    assert (ct.instance_count, ct.volume_status) == (12, "ok")


def test_import_dicom_quarantines_undecodable_pixels_and_stores_the_good_series(tmp_path):
    study = write_study(tmp_path / "study")
    patient_with_mrn()
    uids = _corrupt_copies(study.ct_paths[0], tmp_path / "bad")
    out = io.StringIO()
    call_command("import_dicom", str(study.ct_dir), str(tmp_path / "bad"), no_progress=True, stdout=out)
    _assert_quarantined_as_unreadable(uids, EXPECTED_REASONS)
    _good_series_stored(study)
    job = IngestJob.objects.get()
    assert (job.status, job.stored, job.rejected) == ("done", 12, 4), out.getvalue()


def test_the_listener_answers_cannot_understand_for_undecodable_pixels(tmp_path):
    """The listener accepts uncompressed syntaxes only, so storescu sends the three native corrupt files (it
    finds no presentation context for the JPEG-labelled one)."""
    require_dcmtk()
    study = write_study(tmp_path / "study")
    patient_with_mrn()
    uids = _corrupt_copies(study.ct_paths[0], tmp_path / "bad")
    native = ["ten_bytes.dcm", "rows_zero.dcm", "five_frames.dcm"]
    server = Listener(ae_title="RADIMMUNO", host="127.0.0.1", port=0)
    server.start()
    try:
        result = subprocess.run(
            ["storescu", "-v", "-nh", "-aec", "RADIMMUNO", "127.0.0.1", str(server.port),
             *map(str, study.ct_paths), *(str(tmp_path / "bad" / n) for n in native)],
            capture_output=True, text=True, env={**os.environ, "TCP_NODELAY": "1"}, timeout=60)
        assert server.wait_idle()
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert output.count("Received Store Response (Success)") == 12, output
    assert output.count("Received Store Response (Error: CannotUnderstand)") == 3, output  # 0xC000
    _assert_quarantined_as_unreadable(uids, native)
    _good_series_stored(study)
    assert IngestJob.objects.get().status == "done"
