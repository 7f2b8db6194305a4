from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import views

app_name = "accounts"
urlpatterns = [
    path("tokens/", views.api_tokens, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("password/", auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("accounts:password-change-done")),
         name="password-change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password-change-done"),
]
