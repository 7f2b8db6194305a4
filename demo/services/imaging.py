"""Demo imaging: for the first patients of the demo cohort, a synthetic CT per assessment whose lesions have
the sizes recorded in the patient's measurements, and a DICOM SEG of those lesions (one segment per lesion,
labelled with the lesion's label), all stored through the ingest service like any other upload.
"""
import tempfile
import zlib
from pathlib import Path

import numpy as np

from imaging.choices import IngestSource
from imaging.compute.synthetic_ct import Lesion as SyntheticLesion
from imaging.compute.synthetic_ct import synthetic_ct
from imaging.compute.volume import read_series_layout
from imaging.compute.writers import write_ct_series, write_seg
from imaging.ingest import Ingest
from imaging.models import IngestJob, LesionMeasurement, Timepoint
from radimmuno.jobs import Heartbeat

#: Small matrices keep `make run` fast: 16 slices of 128 x 128 at 2.5 x 2.5 x 5 mm (a 320 mm field of view;
#: fine enough in-plane for the default 0-3 mm peritumoral ring).
DEMO_SHAPE = (16, 128, 128)
DEMO_SPACING = (2.5, 2.5, 5.0)
TOO_SMALL_MM = 4.0


def _lesion_place(label, k, n):
    """A stable position per lesion (mm, around the centre of the volume), spread on a ring."""
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    angle = 2 * np.pi * k / max(n, 1) + rng.uniform(-0.3, 0.3)
    radius = 70.0 + rng.uniform(-10, 10)
    # centred on a slice, so the largest cross-section (the RECIST slice) is imaged
    z = -(DEMO_SHAPE[0] - 1) * DEMO_SPACING[2] / 2 + DEMO_SPACING[2] * (DEMO_SHAPE[0] // 2 + int(rng.integers(-2, 3)))
    return (float(radius * np.cos(angle)), float(radius * 0.7 * np.sin(angle)), float(z))


def demo_imaging_create(*, patients, seed=0, progress=None):
    """Write and ingest a CT + SEG for every assessment of ``patients``. Returns the ingest job."""
    job = IngestJob.objects.create(source=IngestSource.DEMO, label=f"demo imaging for {len(patients)} patient(s)")
    job.claim()  # this process runs it: claimed with a token and kept alive by a heartbeat, like any other run
    ingest = Ingest(job)
    done = 0
    with Heartbeat(job), tempfile.TemporaryDirectory(prefix="radimmuno-demo-") as tmp:
        for patient in patients:
            mrn = patient.identity.mrn
            lesions = list(patient.lesions.order_by("label"))
            places = {lesion.pk: _lesion_place(lesion.label, k, len(lesions)) for k, lesion in enumerate(lesions)}
            sizes = {}
            for m in LesionMeasurement.objects.filter(lesion__patient=patient):
                if m.size_mm:
                    sizes[(m.lesion_id, m.timepoint_id)] = float(m.size_mm)
                elif m.status == "too-small-to-measure":
                    sizes[(m.lesion_id, m.timepoint_id)] = TOO_SMALL_MM
            for t, timepoint in enumerate(Timepoint.objects.filter(patient=patient).order_by("date")):
                specs, names = [], {}
                for lesion in lesions:
                    size = sizes.get((lesion.pk, timepoint.pk))
                    if not size:
                        continue
                    # RECIST: the long axis (a node's short axis) is the recorded size.
                    r = size / 2 if not lesion.nodal else size / 2 * 1.5
                    radii = (r, size / 2, min(size / 2, 12.0)) if lesion.nodal else (r, r * 0.85, min(r, 12.0))
                    specs.append(SyntheticLesion(places[lesion.pk], radii, mean_hu=45 + 5 * (len(specs) % 3)))
                    names[len(specs)] = lesion.label
                syn = synthetic_ct(DEMO_SHAPE, DEMO_SPACING, lesions=specs, seed=seed * 7919 + patient.pk * 31 + t)
                out = Path(tmp) / f"{patient.pk}-{t}"
                entropy = f"demo-{seed}-{patient.study_id}-{timepoint.date.isoformat()}"
                written = write_ct_series(
                    syn.image, out, patient_id=mrn, study_date=timepoint.date, series_description="Chest CT (demo)",
                    study_description="CT chest-abdomen (demo)", convolution_kernel="B30f",
                    contrast_bolus_agent="iohexol", uid_entropy=entropy,
                )
                paths = list(written.paths)
                if names and syn.label_array.any():
                    layout = read_series_layout(written.paths)
                    seg = write_seg(syn.label_array, layout, out / "seg.dcm", segment_labels=names,
                                    series_description="Lesions (demo)", uid_entropy=entropy)
                    paths.append(seg.path)
                for path in paths:
                    ingest.add_path(path)
            done += 1
            if progress:
                progress(done, len(patients))
        fields = ingest.finish()
    job.finish(**fields)
    return job


def demo_patients_for_imaging(patients, n):
    return [p for p in patients if hasattr(p, "identity") and p.identity.mrn][:n]
