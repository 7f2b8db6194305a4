"""``manage.py export_dataset``: the files, the record, clear errors, and no half export on failure."""
import io
import sys

import pytest
from django.core.management import CommandError, call_command

from exports import selectors
from exports.models import DatasetExport
from tests.exports.helpers import export, manifest, read_csv

pytestmark = pytest.mark.django_db


def test_the_command_writes_every_table_and_records_the_export(identified_cohort, project, tmp_path):
    out = export(tmp_path, "out", "--site", "EXP-A", "--tumour-type", "nsclc", "--project", project.slug)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{t}.csv" for t in selectors.RESEARCH_TABLES] + ["manifest.json"])
    m = manifest(out)
    assert m["selection"] == {"site": ["EXP-A"], "tumour_type": ["nsclc"]}
    assert m["project"] == {"slug": "lung-2026", "name": "Lung cohort 2026", "pseudonymised": True}
    assert m["row_counts"]["patients"] == len(read_csv(out / "patients.csv")) == 3
    assert set(m["library_versions"]) == {"python", "django", "numpy", "pandas", "pyarrow", "pyradiomics",
                                          "lifelines"}
    assert {(p["name"], p["version"]) for p in m["extraction_profiles"]} == {("ct-default", 1), ("ext-tool", 1)}
    assert m["columns"]["endpoints"]["columns"][4] == {
        "name": "os_days", "type": "int32", "unit": "days",
        "description": m["columns"]["endpoints"]["columns"][4]["description"]}
    row = DatasetExport.objects.get()
    assert (row.status, row.source, row.format, row.project, row.output_dir) == (
        "done", "command", "csv", project, str(out))
    assert row.row_counts == m["row_counts"] and row.manifest == m and row.operator  # who ran it
    assert set(row.checksums) == set(names)


@pytest.mark.parametrize("args, message", [
    (["--site", "NOPE"], "Unknown site NOPE; the sites are EXP-A, EXP-B."),
    (["--project", "nope"], "Unknown export project 'nope'"),
    (["--tumour-type", "lymphoma"], "invalid choice: 'lymphoma'"),
    (["--format", "xlsx"], "invalid choice: 'xlsx'"),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_recorded(identified_cohort, tmp_path, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("export_dataset", "--output", str(tmp_path / "out"), *args, stdout=io.StringIO(), verbosity=0)
    assert not (tmp_path / "out").exists() and not DatasetExport.objects.exists()


def test_an_existing_output_is_never_overwritten(identified_cohort, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="already exists and is not an empty directory"):
        call_command("export_dataset", "--output", str(out), stdout=io.StringIO(), verbosity=0)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_dataset", "--output", str(tmp_path / "missing" / "out"), stdout=io.StringIO(),
                     verbosity=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    export(tmp_path, "empty")  # an empty directory is fine
    assert (empty / "manifest.json").exists()


def test_a_failure_leaves_no_half_export_and_a_readable_reason(identified_cohort, tmp_path, monkeypatch):
    real = selectors.table_rows

    def broken(sel, name):
        if name == "responses":
            raise RuntimeError("disk on fire at /secret/path")
        return real(sel, name)

    monkeypatch.setattr(selectors, "table_rows", broken)
    with pytest.raises(CommandError) as caught:
        call_command("export_dataset", "--output", str(tmp_path / "out"), stdout=io.StringIO(), verbosity=0)
    row = DatasetExport.objects.get()
    assert row.status == "failed"
    assert row.error == ("The export failed on an unexpected error (the server log has the details); nothing was "
                         "kept.")
    assert "Traceback" not in str(caught.value) and "secret" not in row.error
    assert list(tmp_path.iterdir()) == []  # neither the output nor the temporary directory


def test_progress_goes_to_stderr(identified_cohort, tmp_path):
    stderr, stdout = io.StringIO(), io.StringIO()
    real, sys.stderr = sys.stderr, stderr
    try:
        call_command("export_dataset", "--output", str(tmp_path / "out"), stdout=stdout)
    finally:
        sys.stderr = real
    assert "features_long" in stderr.getvalue() and "rows" in stderr.getvalue()
    assert "written to" in stdout.getvalue() and "rows/s" not in stdout.getvalue()
