"""``GET /api/v1/exports/<table>.csv|.parquet``: streamed, the same bytes as the command's file, recorded; only
for users who may export."""
import io

import pyarrow.parquet as pq
import pytest

from exports.models import DatasetExport
from tests.exports.helpers import export

pytestmark = pytest.mark.django_db


def test_anonymous_gets_401_and_a_user_without_the_permission_403(client, client_logged_in, identified_cohort):
    assert client_logged_in.get("/api/v1/exports/patients.csv").status_code == 403
    client.logout()
    assert client.get("/api/v1/exports/patients.csv").status_code == 401
    assert client.get("/api/v1/exports/").status_code == 401
    assert not DatasetExport.objects.exists()


@pytest.mark.parametrize("table, fmt", [("features-long", "csv"), ("features-long", "parquet"),
                                        ("patients", "csv"), ("sdtm-tr", "parquet")])
def test_the_stream_is_the_exported_file(client, exporter, identified_cohort, project, tmp_path, table, fmt):
    client.force_login(exporter)
    response = client.get(f"/api/v1/exports/{table}.{fmt}?project={project.slug}&site=EXP-A&site=EXP-B")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv" if fmt == "csv" else "application/vnd.apache.parquet")
    body = b"".join(response.streaming_content)
    name = table.replace("-", "_")
    out = export(tmp_path, "out", "--format", fmt, "--sdtm", "--project", project.slug, "--site", "EXP-A", "EXP-B")
    assert body == (out / f"{name}.{fmt}").read_bytes()
    if fmt == "parquet":
        assert pq.read_table(io.BytesIO(body)).num_rows > 0
    row = DatasetExport.objects.get(source="api")
    assert (row.status, row.requested_by, row.tables, row.format) == ("done", exporter, [name], fmt)
    assert row.checksums == {f"{name}.{fmt}": DatasetExport.objects.get(source="command").checksums[f"{name}.{fmt}"]}
    assert row.row_counts[name] > 0 and response["X-Export-Id"] == str(row.pk)


def test_a_user_exports_the_patients_of_their_sites_only(client, identified_cohort):
    from django.contrib.auth.models import Permission

    from accounts.models import SiteMembership
    from patients.models import Site
    from tests.factories import UserFactory

    user = UserFactory(username="site-a-researcher")
    user.user_permissions.add(Permission.objects.get(codename="add_datasetexport"))
    SiteMembership.objects.filter(user=user).delete()
    SiteMembership.objects.create(user=user, site=Site.objects.get(code="EXP-A"))
    client.force_login(user)
    rows = b"".join(client.get("/api/v1/exports/patients.csv").streaming_content).decode().splitlines()
    assert len(rows) == 1 + 3 and all(",EXP-A," in row for row in rows[1:])
    response = client.get("/api/v1/exports/patients.csv?site=EXP-B")
    assert response.status_code == 400 and response.json() == {
        "field": "site", "detail": "You can export the patients of your sites only (EXP-A); not EXP-B."}
    assert DatasetExport.objects.get().selection == {"site": ["EXP-A"]}


def test_bad_requests_say_what_is_wrong(client, exporter, identified_cohort):
    client.force_login(exporter)
    response = client.get("/api/v1/exports/patients.csv?site=NOPE")
    assert response.status_code == 400 and response.json() == {
        "field": "site", "detail": "Unknown site NOPE; the sites are EXP-A, EXP-B."}
    assert client.get("/api/v1/exports/patients.csv?project=nope").json()["field"] == "project"
    response = client.get("/api/v1/exports/people.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 404 and response.json()["field"] == "table"
    assert not DatasetExport.objects.exists()


def test_an_interrupted_download_is_recorded_as_such(exporter, identified_cohort):
    from exports.services import dataset_export_stream

    row, chunks = dataset_export_stream(user=exporter, table="features_long", fmt="csv")
    assert DatasetExport.objects.get().status == "running"
    next(chunks)
    chunks.close()  # the server closes the response when the client goes away
    row.refresh_from_db()
    assert row.status == "failed" and row.error.startswith("The download was interrupted after")


def test_the_table_list_and_the_schema(client, exporter):
    client.force_login(exporter)
    tables = client.get("/api/v1/exports/").json()["tables"]
    assert [t["name"] for t in tables][:2] == ["patients", "regimens"] and tables[0]["csv"].endswith(
        "/api/v1/exports/patients.csv")
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/exports/{table}.parquet"]["get"]
    assert operation["responses"]["200"]["content"] == {
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}
    csv_operation = schema["paths"]["/api/v1/exports/{table}.csv"]["get"]
    assert "text/csv" in csv_operation["responses"]["200"]["content"]
    table = next(p for p in csv_operation["parameters"] if p["name"] == "table")
    assert "features-long" in table["schema"]["enum"]
