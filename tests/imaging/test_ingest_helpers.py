"""Helpers for the ingest tests (no tests here): a small synthetic study on disk, patients with MRNs, dcmtk."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import SimpleITK as sitk

from imaging.compute.volume import read_series_layout
from imaging.compute.synthetic_ct import synthetic_ct
from imaging.compute.writers import write_ct_series, write_rtstruct, write_seg


@dataclass
class StudyOnDisk:
    root: Path
    ct_dir: Path
    ct_paths: list
    seg: Path
    rtstruct: Path
    label_map: Path
    series_uid: str
    syn: object


def write_study(root, *, mrn="MRN-IMG-1", date="20240301", names=None, entropy=None, shape=(12, 48, 48)):
    """A CT series with two lesions (labels T1 and N1 by default) and the same masks as SEG, RTSTRUCT and NRRD."""
    root = Path(root)
    names = names or {1: "T1", 2: "N1 node"}
    lesions = [((-40.0, 0.0, 0.0), 14.0), ((40.0, 10.0, 5.0), (9.0, 6.0, 8.0))]
    syn = synthetic_ct(shape, (4.0, 4.0, 5.0), lesions=lesions, seed=3)
    written = write_ct_series(syn.image, root / "ct", patient_id=mrn, study_date=date, series_description="chest CT",
                              convolution_kernel="B30f", uid_entropy=entropy)
    layout = read_series_layout(written.paths)
    seg = write_seg(syn.label_array, layout, root / "masks" / "seg.dcm", segment_labels=names, uid_entropy=entropy)
    rts = write_rtstruct(syn.label_array, layout, root / "masks" / "rtstruct.dcm", roi_names=names,
                         uid_entropy=entropy)
    label = root / "masks" / "lesions.nrrd"
    sitk.WriteImage(syn.label, str(label))
    return StudyOnDisk(root=root, ct_dir=root / "ct", ct_paths=list(written.paths), seg=seg.path, rtstruct=rts.path,
                       label_map=label, series_uid=written.series_instance_uid, syn=syn)


def patient_with_mrn(mrn="MRN-IMG-1", lesions=(("T1", "lung", False), ("N1", "lymph_node", True))):
    from imaging.models import Lesion
    from tests.factories import IdentityFactory

    identity = IdentityFactory(mrn=mrn)
    for label, organ, nodal in lesions:
        Lesion.objects.create(patient=identity.patient, label=label, organ=organ, nodal=nodal,
                              role="non-target" if nodal else "target")
    return identity.patient


def require_dcmtk():
    missing = [tool for tool in ("storescu", "echoscu") if shutil.which(tool) is None]
    if missing:
        message = f"dcmtk not installed ({', '.join(missing)} missing): apt-get install dcmtk"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
