"""A small cohort full of identifying data in every place the database can hold it, for the export tests."""
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from accounts.models import SiteMembership
from exports.models import ExportProject
from imaging.models import (
    ExternalFeatureSet,
    ExtractionProfile,
    FeatureSet,
    Instance,
    QuarantinedFile,
    Segment,
    Segmentation,
    Series,
    Study,
    Timepoint,
)
from imaging.services import external_profile_for_import, lesion_create, measurement_record
from patients.models import Biomarker, BiomarkerKind, Site, TreatmentRegimen
from tests.analytics.builders import patient_with_scans
from tests.factories import AdverseEventFactory, IdentityFactory, OutcomeFactory, RegimenFactory, UserFactory, drug

START = dt.date(2024, 1, 10)

#: Strings that identify a person (or a scan) and must never leave the database; each appears somewhere below.
IDENTIFYING = {
    "family name": "Quintrellwood",
    "given name": "Ottolinda",
    "mrn": "MRN-7733",
    "dicom patient name": "QUINTRELLWOOD^OTTOLINDA",
    "accession number": "ACC-55501",
    "birth date iso": "1931-03-14",
    "birth date dicom": "19310314",
    "birth date eu": "14/03/1931",
    "study uid": "1.2.826.0.1.3680043.99.7",
    "series uid": "1.2.826.0.1.3680043.99.8",
    "frame of reference uid": "1.2.826.0.1.3680043.99.9",
    "sop instance uid": "1.2.826.0.1.3680043.99.10",
    "histology note": "Mr-Quintrellwood-histology",
    "regimen note": "seen-by-dr-Ottolinda",
    "timepoint note": "phoned-Quintrellwood",
    "lesion location": "near-Quintrellwood-scar",
    "ae free text": "Quintrellwood-syndrome",
    "assay": "assay-Quintrellwood",
    "segment label": "Ottolinda-T1",
    "segmentation file": "Quintrellwood_SEG.dcm",
    "study description": "CT chest ACC-55501 QUINTRELLWOOD",
    "stage free text": "Quintrellwood",
    "regimen start date": START.isoformat(),
}


@pytest.fixture
def exporter(db):
    """A researcher who may export (the export page's and the API's permission), at every site."""
    user = UserFactory(username="researcher")
    user.user_permissions.add(Permission.objects.get(codename="add_datasetexport"))
    SiteMembership.objects.get_or_create(user=user, site=None)
    return user


@pytest.fixture
def project(db):
    return ExportProject.objects.create(name="Lung cohort 2026", slug="lung-2026", pseudonymise=True)


def _study(patient, timepoint, n, *, identifying):
    uid = identifying["study uid"] + f".{n}" if n else identifying["study uid"]
    study = Study.objects.create(patient=patient, timepoint=timepoint, study_instance_uid=uid,
                                 study_date=timepoint.date, study_description=identifying["study description"])
    series = Series.objects.create(
        study=study, series_instance_uid=f"{identifying['series uid']}.{n}", modality="CT",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2", instance_count=1, volume_status="ok",
        series_description=identifying["dicom patient name"],
        frame_of_reference_uid=f"{identifying['frame of reference uid']}.{n}")
    Instance.objects.create(series=series, sop_instance_uid=f"{identifying['sop instance uid']}.{n}",
                            sop_class_uid="1.2.840.10008.5.1.4.1.1.2", sha256="a" * 64, file=f"dicom/{n}.dcm",
                            size_bytes=1)
    return series


@pytest.fixture
def identified_cohort(db, django_capture_on_commit_callbacks):
    """Six patients at two sites on pembrolizumab, with scans, responses, outcomes, biomarkers, an irAE,
    radiomic features (extracted and imported), and identifying data in the identity, the free-text fields and the
    DICOM rows. One patient is over 89 at the start, one has a second (non-ICI) regimen, one never had an ICI."""
    sites = [Site.objects.create(code="EXP-A", name="St Quintrellwood Hospital"),
             Site.objects.create(code="EXP-B", name="Ottolinda Cancer Centre")]
    profile = ExtractionProfile.objects.get(name="ct-default", version=1)
    external, _ = external_profile_for_import(name="ext-tool", description="imported features")
    sums = [[(-5, 100), (56, 60), (112, 40)], [(-5, 80), (56, 88), (112, 130)], [(-3, 50), (60, 50)],
            [(-5, 120), (56, 150), (112, 100)], [(-5, 90), (50, 40)], [(-4, 70), (70, 70), (140, 72)]]
    with django_capture_on_commit_callbacks(execute=True):
        for i, series_sums in enumerate(sums):
            patient, regimen, lesions, timepoints = patient_with_scans(series_sums, start=START,
                                                                       study_id=f"EXPT-{i:03d}")
            patient.site = sites[i % 2]
            patient.histology = IDENTIFYING["histology note"]
            patient.year_of_birth = 1931 if i == 0 else 1950 + i
            patient.stage = IDENTIFYING["stage free text"] if i == 1 else "IVA"
            patient.ecog_baseline = i % 3
            patient.sex = "MF"[i % 2]
            patient.save()
            IdentityFactory(patient=patient, family_name=IDENTIFYING["family name"],
                            given_name=IDENTIFYING["given name"], mrn=f"{IDENTIFYING['mrn']}{i}",
                            date_of_birth=dt.date(1931, 3, 14) if i == 0 else dt.date(1950 + i, 6, 1))
            TreatmentRegimen.objects.filter(pk=regimen.pk).update(notes=IDENTIFYING["regimen note"])
            Timepoint.objects.filter(patient=patient).update(notes=IDENTIFYING["timepoint note"])
            lesions[0].location = IDENTIFYING["lesion location"]
            lesions[0].save()
            dead = i % 2 == 0
            last = START + dt.timedelta(days=200 + 60 * i)
            OutcomeFactory(patient=patient, last_contact_date=last, vital_status="dead" if dead else "alive",
                           death_date=last if dead else None)
            Biomarker.objects.create(patient=patient, kind=BiomarkerKind.objects.get(code="pdl1_tps"),
                                     value_numeric=Decimal(10 * i + 0.5), measured_on=START - dt.timedelta(days=12),
                                     specimen="tissue", assay=IDENTIFYING["assay"])
            if i == 3:
                AdverseEventFactory(patient=patient, regimen=regimen, term="other",
                                    term_other=IDENTIFYING["ae free text"], onset_date=START + dt.timedelta(days=30))
                RegimenFactory(patient=patient, start_date=START + dt.timedelta(days=150), line_of_therapy=2,
                               agents=["carboplatin"])
            if i == 4:
                new_tp = timepoints[-1]
                new = lesion_create(patient=patient, label="N1", organ="liver", role="new", appeared_at=new_tp)
                measurement_record(lesion=new, timepoint=new_tp, size_mm=Decimal("12.5"))
            for n, timepoint in enumerate(timepoints):
                series = _study(patient, timepoint, 100 * i + n, identifying=IDENTIFYING)
                segmentation = Segmentation.objects.create(
                    kind="labelmap", image_series=series, file=f"seg/{i}-{n}.nrrd", sha256="b" * 64,
                    original_name=IDENTIFYING["segmentation file"], label=IDENTIFYING["dicom patient name"])
                segment = Segment.objects.create(
                    segmentation=segmentation, number=1, label=IDENTIFYING["segment label"], lesion=lesions[0],
                    lesion_mapping="label", mask_file=f"mask/{i}-{n}.nrrd", mask_sha256="c" * 64, voxel_count=40,
                    volume_mm3=310.0 + n, long_axis_mm=12.0)
                FeatureSet.objects.create(segment=segment, profile=profile, status="done", features={
                    "original_shape_VoxelVolume": 310.0 + n + i / 3, "original_firstorder_Mean": -12.25 * (n + 1),
                    "original_glcm_Contrast": 0.1 + i * n})
                ExternalFeatureSet.objects.create(lesion=lesions[1], timepoint=timepoint, profile=external,
                                                  features={"tool_volume": 1.5 * (i + n), "tool_texture": n / 7},
                                                  feature_count=2)
        QuarantinedFile.objects.create(reason_code="unknown_patient", reason="unknown", file="q/1.dcm",
                                       sha256="d" * 64, size_bytes=1, source="import",
                                       original_name=IDENTIFYING["dicom patient name"],
                                       dicom_patient_id=IDENTIFYING["mrn"] + "0")
        never, chemotherapy, *_ = patient_with_scans([(-5, 100)], start=START, study_id="EXPT-NOICI")
        chemotherapy.agents.set([drug("carboplatin")])
        never.site = sites[0]
        never.save()
    Site.objects.exclude(pk__in=[s.pk for s in sites]).delete()  # the factories' own sites, now unused
    return sites
