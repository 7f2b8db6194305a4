"""The user's API tokens: create (the key is shown once), list, revoke."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from radimmuno.htmx import render_page

from . import services
from .forms import ApiTokenForm
from .models import ApiToken


def _context(request, form=None, created=None):
    return {"form": form or ApiTokenForm(), "created": created,
            "tokens": ApiToken.objects.filter(user=request.user).select_related("revoked_by")}


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form, created = ApiTokenForm(request.POST or None), None
    if request.method == "POST" and form.is_valid():
        try:
            token, key = services.api_token_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            created, form = {"token": token, "key": key}, ApiTokenForm()
    return render_page(request, "accounts/api_tokens.html", "accounts/partials/api_tokens.html",
                       _context(request, form, created))  # no-store (radimmuno.middleware): the new key is here once


@login_required
@require_POST
def api_token_revoke(request, pk):
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404("No such token.")
    services.api_token_revoke(token=token, by=request.user)
    if getattr(request, "htmx", None):
        return render_page(request, "accounts/api_tokens.html", "accounts/partials/api_tokens.html",
                           _context(request))
    return redirect("accounts:api-tokens")


def locked_out(request, credentials, *args, **kwargs):
    """The answer to a login or token request after AXES_FAILURE_LIMIT wrong passwords (django-axes): 429 with a
    sentence (JSON for the API), never the page that would let the guessing go on."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (f"Too many wrong passwords for this username from this address: logging in is locked for {minutes} "
               f"minutes. Ask your site administrator if you need access sooner.")
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
