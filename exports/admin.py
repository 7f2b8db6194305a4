from django.contrib import admin

from accounts.admin_scope import SiteScopedAdmin

from .models import DatasetExport, ExportProject


@admin.register(ExportProject)
class ExportProjectAdmin(admin.ModelAdmin):
    """Projects and whether they pseudonymise; the pseudonym key is never shown (it is not an editable field)."""

    list_display = ("slug", "name", "pseudonymise", "created_at")
    fields = ("name", "slug", "pseudonymise", "description")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("slug", "name")

    def get_readonly_fields(self, request, obj=None):
        # Changing whether a used project pseudonymises would change what its earlier exports meant.
        return ("slug", "pseudonymise") if obj is not None and obj.exports.exists() else ()


@admin.register(DatasetExport)
class DatasetExportAdmin(SiteScopedAdmin, admin.ModelAdmin):
    """The record of every export: read only (who, when, what, checksums); one's own, or all for a user of every
    site (accounts.access OWNER_PATHS)."""

    list_display = ("pk", "created_at", "requested_by", "source", "format", "project", "status")
    list_filter = ("source", "format", "status", "project")
    date_hierarchy = "created_at"
    fields = ("source", "requested_by", "operator", "created_at", "project", "selection", "format", "sdtm", "tables", "status",
              "error", "started_at", "finished_at", "output_dir", "archive", "archive_sha256", "row_counts",
              "checksums", "manifest")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
