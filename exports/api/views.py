"""The research export over HTTP: each table streamed as CSV or Parquet, under the page's filters.

``GET /api/v1/exports/<table>.csv`` (or ``.parquet``) with ``?site=A&site=B&tumour_type=nsclc&project=<slug>``.
The body is produced while it is sent (memory stays flat whatever the table's size) and the download is recorded
(``DatasetExport``, source api) with its row count and SHA-256 once it is complete. Only users who may export
(``exports.add_datasetexport``) get data; the others get 403, anonymous requests 401.
"""
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from patients.choices import DrugClass, TumourType

from .. import selectors, services
from ..compute import sdtm
from ..compute.errors import ExportError
from ..compute.tables import TABLES
from ..compute.writers import MEDIA_TYPES
from ..models import ExportProject

#: URL names (kebab-case) of the tables.
TABLE_SLUGS = {name.replace("_", "-"): name for name in selectors.RESEARCH_TABLES + selectors.SDTM_TABLES}


class CanExport(permissions.BasePermission):
    message = "Exporting research data needs the permission to create exports (exports.add_datasetexport)."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(
            "exports.add_datasetexport"))


class _JSONErrors(BaseContentNegotiation):
    """Errors are JSON whatever the client accepts (the data itself is a streamed response, not rendered)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_ERROR = inline_serializer("ExportError", {"field": serializers.CharField(), "detail": serializers.CharField()})
_DENIED = inline_serializer("ExportDenied", {"detail": serializers.CharField()})
# An unknown table name says which field; a path no route matches gets the project's plain JSON 404.
_NOT_FOUND = inline_serializer("ExportNotFound", {"detail": serializers.CharField(),
                                                  "field": serializers.CharField(required=False)})
_ERRORS = {400: _ERROR, 401: _DENIED, 403: _DENIED, 404: _NOT_FOUND}
_PARAMETERS = [
    OpenApiParameter("table", str, OpenApiParameter.PATH, enum=sorted(TABLE_SLUGS),
                     description="The table (docs/export.md lists every column)."),
    OpenApiParameter("site", str, many=True, description="Site codes (patient-list filter; repeat for several)."),
    OpenApiParameter("tumour_type", str, many=True, enum=TumourType.values, description="Tumour types."),
    OpenApiParameter("drug_class", str, many=True, enum=DrugClass.values,
                     description="Patients treated with a drug of these classes."),
    OpenApiParameter("project", str, description="The export project's slug: its pseudonyms (keyed hash), "
                                                 "and its slug as SDTM STUDYID. Without it: study IDs."),
]


class _ExportTableView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanExport]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JSONErrors
    fmt = ""

    def get(self, request, table):
        name = TABLE_SLUGS.get(table)
        if name is None:
            return Response({"field": "table", "detail": f"Unknown table {table!r}; the tables are "
                                                         f"{', '.join(sorted(TABLE_SLUGS))}."}, status=404)
        project = None
        if request.query_params.get("project"):
            project = ExportProject.objects.filter(slug=request.query_params["project"]).first()
            if project is None:
                return Response({"field": "project", "detail": "Unknown export project "
                                                               f"{request.query_params['project']!r}."}, status=400)
        filters = {key: request.query_params.getlist(key) for key in selectors.FILTERS}
        try:
            row, chunks = services.dataset_export_stream(user=request.user, table=name, fmt=self.fmt,
                                                         filters=filters, project=project)
        except ExportError as exc:
            return Response({"field": exc.field, "detail": exc.message}, status=400)
        response = StreamingHttpResponse(chunks, content_type=MEDIA_TYPES[self.fmt])
        response["Content-Disposition"] = f'attachment; filename="{name}.{self.fmt}"'
        response["X-Export-Id"] = str(row.pk)
        return response


class ExportCSVView(_ExportTableView):
    fmt = "csv"

    @extend_schema(summary="One research table as CSV (streamed)", operation_id="exports_table_csv",
                   parameters=_PARAMETERS,
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description=(
                       "UTF-8 CSV, header row first, '\\n' line ends; see docs/export.md.")), **_ERRORS})
    def get(self, request, table):
        return super().get(request, table)


class ExportParquetView(_ExportTableView):
    fmt = "parquet"

    @extend_schema(summary="One research table as Parquet (streamed)", operation_id="exports_table_parquet",
                   parameters=_PARAMETERS,
                   responses={(200, "application/vnd.apache.parquet"): OpenApiResponse(
                       OpenApiTypes.BINARY, description="Parquet with the table's explicit schema; see docs/export.md."),
                       **_ERRORS})
    def get(self, request, table):
        return super().get(request, table)


class ExportTableListView(APIView):
    """The tables of the research export and their columns (the manifest's column dictionary)."""

    permission_classes = [permissions.IsAuthenticated, CanExport]

    @extend_schema(summary="The export's tables and their columns", operation_id="exports_tables",
                   responses={200: inline_serializer("ExportTables", {
        "tables": serializers.ListField(child=inline_serializer("ExportTable", {
            "name": serializers.CharField(), "csv": serializers.URLField(), "parquet": serializers.URLField(),
            "description": serializers.CharField(),
            "columns": serializers.ListField(child=inline_serializer("ExportColumn", {
                "name": serializers.CharField(), "type": serializers.CharField(), "unit": serializers.CharField(),
                "description": serializers.CharField(),
                "count": serializers.IntegerField(required=False, help_text="features_wide: how many feature "
                                                                            "columns the pattern stands for.")})),
        }))}), 401: _DENIED, 403: _DENIED})
    def get(self, request):
        definitions = {**TABLES, **{t: sdtm.table(d) for d, t in sdtm.TABLE_NAMES.items()}}
        base = request.build_absolute_uri(request.path)
        return Response({"tables": [{
            "name": name, "csv": f"{base}{slug}.csv", "parquet": f"{base}{slug}.parquet",
            **definitions[name].dictionary(),
        } for slug, name in TABLE_SLUGS.items()]})
