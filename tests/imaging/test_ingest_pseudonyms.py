"""Issue 15: auto-created patients get a keyed pseudonym (HMAC-SHA256 under RADIMMUNO_PSEUDONYM_KEY), not an
unkeyed hash of their MRN, which anyone could reverse by hashing every possible MRN."""
import hashlib
import hmac
import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from imaging.ingest.placement import Placement, auto_created_study_id
from imaging.models import IngestJob, Series
from patients.models import Patient, PatientIdentity
from tests.factories import IdentityFactory, PatientFactory, SiteFactory
from tests.imaging.test_ingest_helpers import write_study

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
MRN = "MRN-IMG-1"  # write_study's Patient ID


def keyed(key, mrn):
    return "IMG-" + hmac.new(key.encode(), mrn.encode(), hashlib.sha256).hexdigest()[:12]


def test_the_study_id_is_the_hmac_of_the_mrn_under_the_key():
    with override_settings(RADIMMUNO_PSEUDONYM_KEY="k" * 40):
        one = auto_created_study_id(MRN)
    with override_settings(RADIMMUNO_PSEUDONYM_KEY="j" * 40):
        other = auto_created_study_id(MRN)
    assert one == keyed("k" * 40, MRN) and other == keyed("j" * 40, MRN) and one != other
    unkeyed = "IMG-" + hashlib.sha256(MRN.encode()).hexdigest()[:12]  # what it was: derivable from the MRN alone
    assert unkeyed not in (one, other)


def test_no_key_no_auto_created_patient():
    with override_settings(RADIMMUNO_PSEUDONYM_KEY=""), pytest.raises(ImproperlyConfigured, match="PSEUDONYM_KEY"):
        auto_created_study_id(MRN)


@override_settings(RADIMMUNO_AUTO_CREATE_PATIENTS=True, RADIMMUNO_AUTO_CREATE_SITE="RESEARCH",
                   RADIMMUNO_PSEUDONYM_KEY="a-test-key-of-thirty-two-characters!")
def test_ingest_creates_the_keyed_study_id(tmp_path):
    study = write_study(tmp_path / "study")
    call_command("import_dicom", str(study.ct_dir), no_progress=True, stdout=io.StringIO())
    patient = PatientIdentity.objects.get(mrn=MRN).patient
    assert patient.study_id == keyed("a-test-key-of-thirty-two-characters!", MRN)
    assert Series.objects.get().study.patient == patient


@override_settings(RADIMMUNO_AUTO_CREATE_PATIENTS=True, RADIMMUNO_AUTO_CREATE_SITE="RESEARCH",
                   RADIMMUNO_PSEUDONYM_KEY="a-new-key-of-at-least-thirty-two-chars")
def test_a_patient_created_before_keeps_its_study_id_and_its_scans(tmp_path):
    """A patient auto-created with the unkeyed hash (or another key) is found by its MRN, as every patient is:
    a re-sent scan goes to it, and no second patient is created."""
    old_id = "IMG-" + hashlib.sha256(MRN.encode()).hexdigest()[:12]
    before = IdentityFactory(patient=PatientFactory(site=SiteFactory(code="RESEARCH"), study_id=old_id), mrn=MRN)
    study = write_study(tmp_path / "study")
    call_command("import_dicom", str(study.ct_dir), no_progress=True, stdout=io.StringIO())
    assert list(Patient.objects.values_list("study_id", flat=True)) == [old_id]
    assert Series.objects.get().study.patient == before.patient
    placement = Placement(IngestJob.objects.create(source="import"))
    assert placement.patient_for({"patient_id": MRN}) == before.patient


def run_production_check(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "RADIMMUNO_"))}
    full.update(DJANGO_SETTINGS_MODULE="radimmuno.settings.production", DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
                DATABASE_URL="postgres://u@127.0.0.1:5432/x", DJANGO_ALLOWED_HOSTS="radimmuno.example.org", **env)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=120)


def test_production_refuses_auto_created_patients_without_a_key():
    for env in ({"RADIMMUNO_AUTO_CREATE_PATIENTS": "1"},
                {"RADIMMUNO_AUTO_CREATE_PATIENTS": "1", "RADIMMUNO_PSEUDONYM_KEY": "short"}):
        result = run_production_check(**env)
        assert result.returncode != 0 and "RADIMMUNO_PSEUDONYM_KEY must be set" in result.stderr
    result = run_production_check(RADIMMUNO_AUTO_CREATE_PATIENTS="1", RADIMMUNO_PSEUDONYM_KEY=secrets.token_urlsafe(48))
    assert result.returncode == 0, result.stderr
