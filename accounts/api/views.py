from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(max_length=100, help_text="What the token is for (unique among your tokens).")
    days = serializers.IntegerField(required=False, min_value=1, help_text="Validity in days (default 90).")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key: send it as 'Authorization: Token <key>'. Shown only now.")
    name = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenCreateView(APIView):
    """Create a named API token with a username and password. The key is returned once; list and revoke your
    tokens on the 'API tokens' page."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenSerializer, 400: OpenApiResponse(description="Wrong username or password, or an invalid name or validity (field errors).")}, auth=[], examples=[
        OpenApiExample("Create", request_only=True,
                       value={"username": "jdoe", "password": "…", "name": "R scripts", "days": 30})])
    def post(self, request):
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        # The Django request (not DRF's wrapper): django-axes marks a locked-out request on it for its middleware.
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise ValidationError({"non_field_errors": ["Wrong username or password."]})  # as DRF's own token view
        try:
            token, key = services.api_token_create(user=user, name=data["name"], days=data.get("days"))
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response({"token": key, "name": token.name, "expires_at": token.expires_at},
                        status=status.HTTP_201_CREATED)
