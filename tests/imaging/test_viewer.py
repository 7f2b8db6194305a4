"""The scan viewer: a series slice by slice as PNG, windowed, with the lesion masks outlined and the RECIST axes drawn
on the key slice."""
import io

import numpy as np
import pytest
from PIL import Image

from imaging.compute.viewer import WINDOWS, outline, slice_png, windowed
from imaging.models import Segment, Series
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

pytestmark = pytest.mark.django_db


def test_window_and_outline():
    hu = np.array([[-1000, -600, 150, 3000]])
    assert windowed(hu, *WINDOWS["lung"]).tolist() == [[59, 127, 255, 255]]
    mask = np.zeros((5, 5), bool)
    mask[1:4, 1:4] = True
    edge = outline(mask)
    assert edge.sum() == 8 and not edge[2, 2]  # the ring, not the centre
    png = slice_png(np.zeros((8, 8)), overlays=[{"mask": np.pad(mask, ((0, 3), (0, 3))), "label": "T1",
                                                 "long": ((1, 2), (3, 2)), "short": None}])
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (512, 512)  # an 8 x 8 slice enlarged 64 times
    colours = {tuple(c) for c in np.asarray(picture).reshape(-1, 3)}
    assert (230, 159, 0) in colours  # the first outline colour


@pytest.fixture
def ingested(tmp_path, admin_client_logged_in, django_capture_on_commit_callbacks, settings):
    from django.core.management import call_command

    settings.RADIMMUNO_AUTO_EXTRACT = False
    patient_with_mrn()
    study = write_study(tmp_path / "study")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_dicom", str(study.ct_dir), str(study.seg), "--no-extract", stdout=io.StringIO())
    return Series.objects.get(modality="CT")


def test_viewer_page_and_slices(admin_client_logged_in, ingested):
    series = ingested
    t1 = Segment.objects.get(segmentation__image_series=series, lesion__label="T1")
    page = admin_client_logged_in.get(f"/imaging/series/{series.pk}/viewer/").content.decode()
    assert f'value="{t1.slice_index}"' in page  # opens on the first key slice
    assert f'data-z="{t1.slice_index}"' in page and "Mediastinum (W 400 / L 40)" in page
    tile = admin_client_logged_in.get(f"/imaging/series/{series.pk}/slices/{t1.slice_index}.png?window=lung")
    assert tile["Content-Type"] == "image/png" and tile["Cache-Control"] == "no-store"
    picture = np.asarray(Image.open(io.BytesIO(tile.content)).convert("RGB"))
    assert ((picture == (230, 159, 0)).all(axis=-1)).sum() > 50  # T1 outlined in the first colour
    n1 = Segment.objects.get(segmentation__image_series=series, lesion__label="N1")
    assert not ((picture == (86, 180, 233)).all(axis=-1)).any() or n1.slice_index == t1.slice_index  # N1 not here
    empty = admin_client_logged_in.get(f"/imaging/series/{series.pk}/slices/0.png?window=lung").content
    assert empty != tile.content
    assert admin_client_logged_in.get(f"/imaging/series/{series.pk}/slices/999.png").status_code == 404
    assert admin_client_logged_in.get(f"/imaging/series/{series.pk}/slices/1.png?window=nope").status_code == 404
    scans = admin_client_logged_in.get(f"/imaging/patients/{series.study.patient_id}/scans/").content.decode()
    assert f"/imaging/series/{series.pk}/viewer/" in scans
