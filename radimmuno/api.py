"""What every app's API shares: writes through the app's services, with the model's messages as field errors."""
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view

from accounts.access import scope
from rest_framework import filters, permissions, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from .versioning import EditConflict


class DetailSerializer(serializers.Serializer):
    """An error or a refusal in one sentence (DRF's ``{"detail": ...}``)."""

    detail = serializers.CharField()


_MESSAGES = {"type": "array", "items": {"type": "string"}}


def error_schema(description="Refused, nothing written: what is wrong, per field (or `detail` for the whole "
                             "request, e.g. a body that is not JSON).", **properties):
    """The schema of a 400 answer: ``{"<field>": ["<message>", ...]}``, or ``{"detail": "<sentence>"}`` for a request
    DRF could not parse; ``properties`` names fields whose errors have another shape."""
    return OpenApiResponse(description=description, response={
        "type": "object", "properties": {"detail": {"type": "string"}, **properties},
        "additionalProperties": _MESSAGES})


def field_errors(exc):
    """A Django ValidationError as DRF's: per field when it has fields, else under non_field_errors."""
    if hasattr(exc, "error_dict"):
        return ValidationError({("non_field_errors" if field == "__all__" else field): messages
                                for field, messages in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


class RolePermissions(permissions.DjangoModelPermissions):
    """Every API view's permission (the default): a logged-in user whose role holds the model's view permission
    (GET), add (POST), change (PUT/PATCH) or delete permission, as the admin asks. A view without a model (the
    response calculator, a model's score) needs a login and checks the rest itself."""

    perms_map = {**permissions.DjangoModelPermissions.perms_map,
                 "GET": ["%(app_label)s.view_%(model_name)s"], "HEAD": ["%(app_label)s.view_%(model_name)s"]}

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            return True
        return super().has_permission(request, view)


class OwnRowsPermissions(RolePermissions):
    """Reads of one's own rows (ingest jobs: ``accounts.access.OWNER_PATHS``) need only a login; writes the model's
    permissions."""

    perms_map = {**RolePermissions.perms_map, "GET": [], "HEAD": []}


class ReadThenActionPermissions(RolePermissions):
    """The model's view permission for reads and for its POST actions, which check their own permission."""

    perms_map = {**RolePermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class SiteScopeFilter(filters.BaseFilterBackend):
    """Every API list and detail holds the rows of the user's sites only (``accounts.access.scope``): a default
    filter backend, so no viewset can forget it; an object of another site is a 404, as a missing one."""

    def filter_queryset(self, request, queryset, view):
        return scope(queryset, request.user)

    def get_schema_operation_parameters(self, view):
        return []


class ScopedRelatedFieldsMixin:
    """A writable serializer whose related fields (patient, lesion, timepoint, ...) accept only rows of the user's
    sites: another site's pk is refused as a missing one ("Invalid pk")."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        for field in fields.values():
            target = getattr(field, "child_relation", field)
            if getattr(target, "queryset", None) is not None and request is not None:
                target.queryset = scope(target.queryset, request.user)
        return fields


class ServiceCreateMixin:
    """``POST`` as the pages write: the serializer checks the types, ``perform_write(data)`` calls the app's service
    (an upsert: the row its natural key names is created, or updated), and a refusal of the model comes back as its
    field errors (400) with nothing written. Answers 201 with the row when created, 200 when updated."""

    def perform_write(self, data):  # returns (instance, created)
        raise NotImplementedError

    def create(self, request, *args, **kwargs):
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            instance, created = self.perform_write(dict(given.validated_data))
        except EditConflict as exc:
            raise Conflict(exc) from exc
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        body = self.get_serializer(instance).data
        headers = {"Location": body["url"]} if "url" in body else {}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers=headers)


class Conflict(APIException):
    """409: the row was saved by someone else since the version the client sent (``conflict_body``)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "edit_conflict"

    def __init__(self, exc):
        super().__init__()
        self.detail = conflict_body(exc)  # kept as a dict: DRF renders it as the body


class EditConflictSerializer(serializers.Serializer):
    """A 409's body (``conflict_body``), for the schema: one class, so every endpoint names the same component."""

    detail = serializers.CharField()
    version = serializers.IntegerField(help_text="The version stored now: send it to keep your values.")
    current = serializers.DictField(help_text="The conflicting fields as saved meanwhile.")
    yours = serializers.DictField(help_text="The same fields as you sent them.")


def version_field():
    """The ``version`` of a versioned record (radimmuno.versioning) in a serializer: read back, and sent by a writer
    to correct the row it read."""
    return serializers.IntegerField(
        required=False, allow_null=True, min_value=1,
        help_text="Raised by one on every save. Send the version you read when you correct the record: if someone "
                  "saved it since, the answer is 409 with their values and yours, and nothing is written.")


def conflict_body(exc):
    """A 409's body: the sentence, the version now stored, and the conflicting fields' values (theirs, yours)."""
    return {"detail": exc.messages[0], "version": exc.current_version,
            "current": {k: _plain(v) for k, v in exc.theirs.items()},
            "yours": {k: _plain(v) for k, v in exc.yours.items()}}


def _plain(value):
    return str(value) if value is not None and not isinstance(value, (str, int, float, bool)) else value


def service_create_schema(serializer):
    """The schema of a ServiceCreateMixin viewset's POST: 201 created, 200 updated, 400 with the field errors."""
    return extend_schema_view(create=extend_schema(responses={
        201: OpenApiResponse(serializer, description="Created."),
        200: OpenApiResponse(serializer, description="The row this natural key names existed: updated."),
        400: error_schema(),
        409: OpenApiResponse(EditConflictSerializer,
            description="The row was saved by someone else since the version you sent: their values and yours; "
                        "nothing was written. Send again with the new version to keep yours."),
    }))


class PageThenRowsMixin:
    """A list paginated by primary key first, then the page's rows loaded by ``page_rows_queryset()``: the
    database sorts and counts the filtered selection on narrow columns (the order's joins and the pks) and reads
    whole rows — select_related joins, wide columns — for one page only, so the time per page does not grow with
    the table."""

    def page_rows_queryset(self):
        raise NotImplementedError

    def paginate_queryset(self, queryset):
        if getattr(self, "action", None) != "list":
            return super().paginate_queryset(queryset)
        pks = super().paginate_queryset(queryset.values_list("pk", flat=True))
        if pks is None:
            return None
        rows = self.page_rows_queryset().in_bulk(pks)
        return [rows[pk] for pk in pks]
