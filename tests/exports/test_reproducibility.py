"""A re-export of unchanged data gives byte-identical files (same SHA-256); the manifest differs only in its time."""
import hashlib

import pytest

from exports.compute.manifest import MANIFEST_NAME
from exports.models import DatasetExport
from tests.exports.helpers import export, manifest

pytestmark = pytest.mark.django_db


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_reexport_is_byte_identical(identified_cohort, project, tmp_path, fmt):
    first = export(tmp_path, "first", "--format", fmt, "--sdtm", "--project", project.slug)
    second = export(tmp_path, "second", "--format", fmt, "--sdtm", "--project", project.slug)
    data = sorted(p.name for p in first.iterdir() if p.name != MANIFEST_NAME)
    assert len(data) == 13 and data == sorted(p.name for p in second.iterdir() if p.name != MANIFEST_NAME)
    for name in data:
        assert sha256(first / name) == sha256(second / name), name
    one, two = manifest(first), manifest(second)
    assert {f["file"]: f["sha256"] for f in one["files"]} == {name: sha256(first / name) for name in data}
    one.pop("exported_at"), two.pop("exported_at")
    assert one == two
    rows = DatasetExport.objects.order_by("pk")
    assert [r.checksums for r in rows][0] != {} and len(rows) == 2
    first_row, second_row = rows
    assert {k: v for k, v in first_row.checksums.items() if k != MANIFEST_NAME} == \
        {k: v for k, v in second_row.checksums.items() if k != MANIFEST_NAME}
    assert first_row.checksums[MANIFEST_NAME] == sha256(first / MANIFEST_NAME)


def test_a_change_in_the_data_changes_the_checksum(identified_cohort, tmp_path):
    from patients.models import Patient

    before = manifest(export(tmp_path, "before"))
    Patient.objects.filter(study_id="EXPT-002").update(ecog_baseline=4)
    after = manifest(export(tmp_path, "after"))
    changed = {f["file"] for f, g in zip(before["files"], after["files"], strict=True) if f["sha256"] != g["sha256"]}
    assert changed == {"patients.csv"}


def test_the_parquet_files_have_the_documented_schema(identified_cohort, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from exports.compute.tables import TABLES

    out = export(tmp_path, "out", "--format", "parquet")
    types = {"string": pa.string(), "int32": pa.int32(), "float64": pa.float64(), "bool": pa.bool_()}
    for name, table in TABLES.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        if name == "features_wide":
            assert schema.names[:4] == table.names
            assert all(schema.field(n).type == pa.float64() for n in schema.names[4:])
            continue
        assert schema.names == table.names, name
        assert [schema.field(c.name).type for c in table.columns] == [types[c.type] for c in table.columns], name
        metadata = pq.read_metadata(out / f"{name}.parquet")
        assert all(metadata.row_group(i).column(0).compression == "ZSTD" for i in range(metadata.num_row_groups))
