"""The DICOM listener against dcmtk's storescu/echoscu: a CT series and a SEG pushed over the network appear as
study, series, volume and lesion segmentation; bad input gets a DICOM failure status and a recorded reason, and
the listener keeps serving."""
import io
import os
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from imaging import selectors
from imaging.listener import Listener
from imaging.models import IngestJob, Instance, QuarantinedFile, Segment, Segmentation, Series, Study
from tests.imaging.test_ingest_helpers import patient_with_mrn, require_dcmtk, write_study

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("vocabularies")]
ENV = {**os.environ, "TCP_NODELAY": "1"}


def _running_listener(**options):
    require_dcmtk()
    server = Listener(ae_title="RADIMMUNO", host="127.0.0.1", port=0, **options)
    server.start()
    return server


@pytest.fixture
def listener():
    server = _running_listener()
    yield server
    server.stop()


def storescu(listener, *paths):
    result = subprocess.run(["storescu", "-v", "-nh", "-R", "-aec", "RADIMMUNO", "127.0.0.1", str(listener.port),
                             *map(str, paths)], capture_output=True, text=True, env=ENV, timeout=60)
    assert listener.wait_idle(), "the listener did not finish its ingest job"
    return result


def echo(listener):
    return subprocess.run(["echoscu", "-aec", "RADIMMUNO", "127.0.0.1", str(listener.port)],
                          capture_output=True, text=True, env=ENV, timeout=30).returncode == 0


def test_storescu_pushes_a_ct_series_and_a_seg(listener, tmp_path):
    study = write_study(tmp_path / "study")
    patient = patient_with_mrn()
    assert echo(listener)
    result = storescu(listener, *study.ct_paths, study.seg)
    assert result.returncode == 0, result.stderr
    job = IngestJob.objects.get()
    assert (job.source, job.status, job.stored, job.segmentations) == ("network", "done", 13, 1)
    assert job.peer_ae_title == "STORESCU" and job.peer_address.startswith("127.0.0.1:")
    s = Study.objects.get()
    assert s.patient == patient and s.timepoint.date.isoformat() == "2024-03-01"
    ct = Series.objects.get(series_instance_uid=study.series_uid)
    assert (ct.instance_count, ct.volume_status) == (12, "ok")
    # checked from the headers read on arrival: the same grid as from the stored files
    from imaging.ingest import series_layout

    from_files = series_layout(ct).geometry
    assert ct.geometry == {"size": list(from_files.size), "origin": list(from_files.origin),
                           "spacing": list(from_files.spacing), "direction": list(from_files.direction)}
    assert np.array_equal(selectors.series_volume(ct).array, study.syn.array)
    segmentation = Segmentation.objects.get()
    assert segmentation.kind == "seg" and segmentation.image_series == ct
    assert sorted(Segment.objects.values_list("lesion__label", flat=True)) == ["N1", "T1"]
    # the same push again: duplicates, nothing new
    assert storescu(listener, *study.ct_paths, study.seg).returncode == 0
    again = IngestJob.objects.latest("pk")
    assert (again.stored, again.duplicates) == (0, 13) and Instance.objects.count() == 13
    # ... through the shortcuts in imaging.dimse_speedups, each of which checked itself against pynetdicom
    assert listener.speedups_used[-1] == {"version": listener.speedups_used[-1]["version"], "log_handlers": False,
                                          "fast_response": True, "fast_file_meta": True}


def _without_pixels(path, sop_instance_uid, out):
    """A header-only copy of a slice under another UID (refused: "no_pixel_data")."""
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.SOPInstanceUID = sop_instance_uid
    ds.save_as(out)


def _stored_originals():
    from django.core.files.storage import default_storage

    return {i.sop_instance_uid: default_storage.open(i.file.name, "rb").read() for i in Instance.objects.all()}


def test_the_speedups_change_nothing_a_sender_or_the_database_sees(tmp_path):
    """The same push with and without imaging.dimse_speedups: the same responses, the same stored bytes."""
    study = write_study(tmp_path / "study")
    patient_with_mrn()
    _without_pixels(study.ct_paths[0], "1.2.826.0.1.3680043.8.498.2", tmp_path / "nopix.dcm")
    outcomes = []
    for speedups in (False, True):
        Instance.objects.all().delete()
        Series.objects.all().delete()
        Study.objects.all().delete()
        QuarantinedFile.objects.all().delete()
        server = _running_listener(speedups=speedups)
        try:
            result = storescu(server, *study.ct_paths, tmp_path / "nopix.dcm", study.seg)
        finally:
            server.stop()
        responses = [line.split("(", 1)[-1] for line in (result.stdout + result.stderr).splitlines()
                     if "Received Store Response" in line]
        outcomes.append((responses, _stored_originals(), sorted(QuarantinedFile.objects.values_list("reason_code",
                                                                                                  flat=True))))
    stock, fast = outcomes
    assert len(stock[0]) == 14 and stock[0].count("Success)") == 13
    assert fast == stock


def _data_set_bytes(data):
    """The bytes after the file meta group (preamble, prefix, (0002,0000) and the group it counts)."""
    assert data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00"
    return data[144 + int.from_bytes(data[140:144], "little"):]


def test_stock_pynetdicom_stores_each_file_as_pynetdicom_writes_it(tmp_path):
    """Issue 9, defect 7: ``--stock-pynetdicom`` is plain pynetdicom, the benchmarks' baseline and a fallback:
    every stored file is pynetdicom's file meta in front of the data set exactly as storescu sent it."""
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

    study = write_study(tmp_path / "study")
    patient_with_mrn()
    sent = {pydicom.dcmread(p).SOPInstanceUID: p for p in [*study.ct_paths, study.seg]}
    server = _running_listener(speedups=False)
    try:
        result = storescu(server, *sent.values())
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert not server.speedups_used  # no shortcut was installed on the association
    stored = _stored_originals()
    assert set(stored) == set(sent)
    for uid, path in sent.items():
        original = path.read_bytes()
        assert _data_set_bytes(stored[uid]) == _data_set_bytes(original), uid
        got, want = pydicom.dcmread(io.BytesIO(stored[uid])), pydicom.dcmread(path)
        assert got == want  # every element of the data set
        assert got.file_meta.TransferSyntaxUID == want.file_meta.TransferSyntaxUID
        assert got.file_meta.MediaStorageSOPInstanceUID == uid
        assert got.file_meta.ImplementationClassUID == PYNETDICOM_IMPLEMENTATION_UID


def test_stock_pynetdicom_never_calls_the_direct_file_meta_builder(tmp_path, monkeypatch):
    """In stock mode the builder of imaging.dimse_speedups must not run (before the fix it built every file's
    meta there too); with the speedups on it builds every one (the control: the spy is in the path)."""
    from imaging import dimse_speedups

    study = write_study(tmp_path / "study")
    patient_with_mrn()
    real_builder, calls = dimse_speedups.file_meta_bytes, []

    def spy(*args, **kwargs):
        calls.append(args)
        if refuse:
            raise AssertionError("the direct file meta builder ran in stock pynetdicom mode")
        return real_builder(*args, **kwargs)

    monkeypatch.setattr(dimse_speedups, "file_meta_bytes", spy)
    for speedups, refuse in ((False, True), (True, False)):
        Instance.objects.all().delete()
        calls.clear()
        server = _running_listener(speedups=speedups)
        try:
            result = storescu(server, *study.ct_paths)
        finally:
            server.stop()
        output = result.stdout + result.stderr
        assert output.count("Received Store Response (Success)") == 12, output
        assert Instance.objects.count() == 12
        assert len(calls) == (12 if speedups else 0)


def test_bad_input_gets_a_failure_status_and_the_listener_keeps_serving(listener, tmp_path):
    from pynetdicom import AE

    study = write_study(tmp_path / "study")
    patient_with_mrn()
    _without_pixels(study.ct_paths[0], "1.2.826.0.1.3680043.8.498.1", tmp_path / "nopix.dcm")
    nopid = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del nopid.PatientID
    nopid.save_as(tmp_path / "nopid.dcm")
    result = storescu(listener, tmp_path / "nopix.dcm", tmp_path / "nopid.dcm", *study.ct_paths[:3])
    output = result.stderr + result.stdout
    assert output.count("Received Store Response (Error: DataSetDoesNotMatchSOPClass)") == 2, output  # 0xA900
    codes = set(QuarantinedFile.objects.values_list("reason_code", flat=True))
    assert codes == {"no_pixel_data", "missing_attributes"}
    assert "PatientID" in QuarantinedFile.objects.get(reason_code="missing_attributes").reason
    assert Instance.objects.count() == 3  # the good files of the same association were stored
    assert echo(listener)

    # A conflicting instance (same UID, other content) gets a failure status too; the stored one is kept.
    changed = pydicom.dcmread(study.ct_paths[0])
    changed.PixelData = bytes(len(changed.PixelData))
    changed.save_as(tmp_path / "conflict.dcm")
    result = storescu(listener, tmp_path / "conflict.dcm")
    assert "Received Store Response (Error: CannotUnderstand)" in result.stderr + result.stdout  # 0xC001
    assert QuarantinedFile.objects.filter(reason_code="conflict").count() == 1

    # A peer that aborts in the middle of an association: what arrived is kept, the listener goes on.
    ae = AE(ae_title="ABORTER")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="RADIMMUNO")
    assert assoc.is_established
    status = assoc.send_c_store(pydicom.dcmread(study.ct_paths[3]))
    assert status.Status == 0x0000
    assoc.abort()
    assert listener.wait_idle()
    assert echo(listener)
    result = storescu(listener, *study.ct_paths)
    assert result.returncode == 0, result.stderr
    assert Series.objects.get(series_instance_uid=study.series_uid).instance_count == 12
    assert IngestJob.objects.filter(status="done").count() == IngestJob.objects.count()


def test_with_fsync_every_file_is_on_disk_before_its_acknowledgement(tmp_path, monkeypatch):
    study = write_study(tmp_path / "study")
    patient_with_mrn()
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    server = _running_listener(fsync=True)
    try:
        result = storescu(server, *study.ct_paths[:4])
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert Instance.objects.count() == 4 and len(synced) == 4


def test_small_pdus_implicit_vr_and_two_senders_at_once(listener, tmp_path):
    """Many PDUs per instance, the other transfer syntax, and two associations in parallel, through the
    listener's own PDU reader: every slice arrives whole and the volume is the one that was sent."""
    study = write_study(tmp_path / "study")
    patient_with_mrn()
    base = ["storescu", "-aec", "RADIMMUNO", "--max-send-pdu", "4096", "127.0.0.1", str(listener.port)]
    first = subprocess.Popen([*base, "-xi", *map(str, study.ct_paths[:6])], env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    second = subprocess.Popen([*base, *map(str, study.ct_paths[6:])], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    assert first.wait(timeout=60) == 0, first.stdout.read()
    assert second.wait(timeout=60) == 0, second.stdout.read()
    assert listener.wait_idle()
    assert listener.speedups_used[-1]["fast_response"] and listener.speedups_used[-2]["fast_response"]
    syntaxes = set(Instance.objects.values_list("transfer_syntax_uid", flat=True))
    assert syntaxes == {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
    from imaging.ingest import series_finalize

    ct = series_finalize(Series.objects.get(series_instance_uid=study.series_uid))  # both halves together
    assert (ct.instance_count, ct.volume_status) == (12, "ok")
    assert np.array_equal(selectors.series_volume(ct).array, study.syn.array)


@pytest.mark.parametrize("argv, speedups, fsync", [
    ([], True, None),
    (["--stock-pynetdicom", "--fsync"], False, True),
])
def test_dicom_listener_command_passes_its_options(monkeypatch, argv, speedups, fsync):
    from django.core.management import call_command

    import imaging.management.commands.dicom_listener as command

    made = {}

    class Recording:
        def __init__(self, **options):
            made.update(options)

        def start(self, *, block):
            made["block"] = block

    monkeypatch.setattr(command, "Listener", Recording)
    call_command("dicom_listener", "--port", "11999", *argv)
    assert (made["port"], made["speedups"], made["fsync"], made["block"]) == (11999, speedups, fsync, True)
