"""The admin's share of site scoping: every admin of patient data lists, edits and offers in its choice fields and
autocompletes only the rows of the user's sites (``accounts.access.scope``). ``tests/test_access.py`` checks that
every registered admin and inline of such a model uses this mixin."""
from django.contrib.admin.utils import unquote
from django.http import Http404

from .access import OWNER_PATHS, SITE_PATHS, scope


def _scoped(model):
    label = model._meta.label_lower
    return SITE_PATHS.get(label) is not None or label in OWNER_PATHS


class SiteScopedAdmin:
    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user)

    def _visible_or_404(self, request, object_id):
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404("No such record.")  # another site's, or gone (its history: a superuser's)

    # simple_history's views find the record themselves (its history, or the historical row): check it first
    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and _scoped(db_field.related_model):
            field.queryset = scope(field.queryset, request.user)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and _scoped(db_field.related_model):
            field.queryset = scope(field.queryset, request.user)
        return field
