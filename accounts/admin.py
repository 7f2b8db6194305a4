from django.contrib import admin
from django.core.exceptions import PermissionDenied

from .admin_scope import SiteScopedAdmin
from .models import ApiToken, SiteMembership


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by their owners; here an administrator sees them and can revoke (set 'revoked at')."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_by"]
    fields = readonly_fields + ["revoked_at", "revoked_reason"]

    def has_add_permission(self, request):
        return False


@admin.register(SiteMembership)
class SiteMembershipAdmin(SiteScopedAdmin, admin.ModelAdmin):
    """Who may see which site's patients. A site admin lists and grants the memberships of their own sites; only a
    superuser grants every site (an empty site). The role (what they may do) is the user's group."""

    list_display = ["user", "site", "created_at", "created_by"]
    list_filter = ["site"]
    list_select_related = ["user", "site", "created_by"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "created_by"]

    def save_model(self, request, obj, form, change):
        if obj.site_id is None and not request.user.is_superuser:
            raise PermissionDenied("Only a superuser grants access to every site.")
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
