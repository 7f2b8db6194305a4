from django.urls import path

from .views import ExportCSVView, ExportParquetView, ExportTableListView

app_name = "exports"
urlpatterns = [
    path("", ExportTableListView.as_view(), name="table-list"),
    path("<slug:table>.csv", ExportCSVView.as_view(), name="table-csv"),
    path("<slug:table>.parquet", ExportParquetView.as_view(), name="table-parquet"),
]
