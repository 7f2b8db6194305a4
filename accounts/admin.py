from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from . import services
from .access import managed_users_q
from .admin_scope import SiteScopedAdmin
from .models import ApiToken, SiteMembership


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by their owners; here a site admin sees those of their sites' users (a superuser all) and
    revokes them with the action "Revoke the selected tokens" (who and when are recorded; nothing else is edited)."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at",
                       "revoked_by", "revoked_reason"]
    fields = readonly_fields
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(managed_users_q(request.user, prefix="user__"))

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(services.api_token_revoke(token=token, by=request.user, reason="revoked by a site administrator")
                      for token in queryset.filter(revoked_at__isnull=True))
        self.message_user(request, f"{revoked} token(s) revoked; scripts using them now get 401.", messages.SUCCESS)


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
